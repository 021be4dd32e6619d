"""Reading probe sets: LAMA, plain cloze TSV/JSONL, BLiMP, plain pairs, CrowS-Pairs CSV.

The format is recognised from the content (the first non-blank line); files
are read as streams, one item at a time, so a file of any size holds one item
in memory. An item that cannot be read becomes a :class:`BadItem` with its
line number and the reading goes on; a LAMA item that LAMA's own evaluation
would leave out (a duplicate template fact, Google-RE's negative evidence) is a
``BadItem`` with ``skipped=True``. No Textual, no torch.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..inputs import InputError, TextInput, Warn, open_text

MASK = "[MASK]"
PROBE_FORMATS = ("lama", "plain")
PAIR_FORMATS = ("blimp", "plain", "crows")
GROUP_BY = ("UID", "field", "linguistics_term")
"""What a BLiMP summary can be grouped by: its 67 paradigms (UID, the default), 4 fields or 12 phenomena."""
CROWS_COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")


FormatError = InputError
"""The file as a whole cannot be read (unknown format, missing file, not text): one line for the user."""


@dataclass(frozen=True)
class ClozeItem:
    line: int
    text: str
    answers: tuple[str, ...]
    group: str | None = None


@dataclass(frozen=True)
class PairItem:
    line: int
    good: str
    bad: str
    group: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CrowsItem:
    line: int
    sent_more: str
    sent_less: str
    direction: str
    group: str | None = None


@dataclass(frozen=True)
class BadItem:
    line: int
    error: str
    skipped: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "skipped" if self.skipped else "error": self.error}


Item = ClozeItem | PairItem | CrowsItem | BadItem

_ITEM_KINDS: dict[str, type[Item]] = {
    "cloze": ClozeItem,
    "pair": PairItem,
    "crows": CrowsItem,
    "bad": BadItem,
}


def item_to_dict(item: Item) -> dict[str, Any]:
    """``item`` as plain JSON values, with its kind: what a Ray actor receives (see :func:`item_from_dict`)."""
    kind = next(name for name, cls in _ITEM_KINDS.items() if type(item) is cls)
    return {"kind": kind, **dataclasses.asdict(item)}


def item_from_dict(data: dict[str, Any]) -> Item:
    """The item :func:`item_to_dict` gave (after a JSON round trip too): equal to the original."""
    fields = {k: v for k, v in data.items() if k != "kind"}
    if "answers" in fields:
        fields["answers"] = tuple(fields["answers"])
    return _ITEM_KINDS[data["kind"]](**fields)


Source = TextInput | str | Path
"""A probe set: an input opened once (:func:`mlm_tui.inputs.open_text` with ``replay``), or a path to open."""


def as_input(source: Source, warn: Warn | None = None) -> TextInput:
    """``source`` itself, or the path opened to be read more than once (format first, then the items)."""
    return source if isinstance(source, TextInput) else open_text(source, replay=True, warn=warn)


def first_line(source: TextInput) -> tuple[int, str]:
    """The first non-blank line and its number: (0, "") for an input with none."""
    lines = source.lines()
    try:
        return next(((n, line) for n, line in enumerate(lines, start=1) if line.strip()), (0, ""))
    finally:
        lines.close()  # type: ignore[attr-defined]


def _open_set(
    source: TextInput, format: str | None, detect: Callable[[str], str], formats: tuple[str, ...], what: str
) -> tuple[int, str, str]:
    """The first non-blank line (its number, its text) and the format (given or recognised)."""
    number, first = first_line(source)
    if not first:
        raise FormatError(f"{source.name} is empty")
    kind = format or detect(first)
    if kind not in formats:
        raise FormatError(f"unknown {what} format {kind!r}: choose {', '.join(formats)}")
    return number, first, kind


def _json_object(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"bad JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise ValueError("the line is not a JSON object")
    return record


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"no {key!r} string")
    return value.strip()


def _group(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


# ---------------------------------------------------------------------------------------------- cloze probes


def load_relations(path: str | Path, warn: Warn | None = None) -> dict[str, dict[str, Any]]:
    """LAMA's relations file: one JSON object a line with ``relation`` and ``template`` ([X], [Y])."""
    relations: dict[str, dict[str, Any]] = {}
    with open_text(path, warn=warn) as source:
        for number, line in enumerate(source.lines(), start=1):
            if not line.strip():
                continue
            try:
                record = _json_object(line)
                name, template = _text(record, "relation"), _text(record, "template")
            except ValueError as exc:
                raise FormatError(f"{path}, line {number}: {exc}") from None
            if "[X]" not in template or "[Y]" not in template:
                raise FormatError(f"{path}, line {number}: the template of {name} needs [X] and [Y]")
            relations[name] = record
    if not relations:
        raise FormatError(f"{path}: no relations in the file")
    return relations


def read_words(path: str | Path, warn: Warn | None = None) -> list[str]:
    """A word list, one word a line (LAMA's common vocabulary)."""
    with open_text(path, warn=warn) as source:
        return [line.strip() for line in source.lines() if line.strip()]


def parse_template(template: str, subject: str, obj: str) -> str:
    """LAMA's ``parse_template``: [X] ← the subject, [Y] ← the object (here the mask)."""
    return template.replace("[X]", subject).replace("[Y]", obj)


def _peek_record(first: str) -> dict[str, Any] | None:
    """The first line as a JSON object (empty when it is broken JSON); ``None`` when it is no JSON."""
    if not first.strip().startswith("{"):
        return None
    try:
        return _json_object(first.strip())
    except ValueError:
        return {}


def detect_probe_format(first: str) -> str:
    record = _peek_record(first)
    if record is not None:
        if "masked_sentences" in record or "sub_label" in record or "obj_label" in record:
            return "lama"
        if "text" in record:
            return "plain"
    elif "\t" in first:
        return "plain"
    raise FormatError(
        "cannot tell the format of the probe file: expected LAMA JSONL (masked_sentences or sub_label and "
        "obj_label), JSONL with 'text' and 'answer', or TSV text<TAB>answer[<TAB>group]"
    )


def _lama_item(
    number: int,
    record: dict[str, Any],
    relations: dict[str, dict[str, Any]] | None,
    seen: set[tuple[str, str, str]],
) -> ClozeItem | BadItem:
    obj = record.get("obj_label")
    if not isinstance(obj, str) or not obj.strip():
        return BadItem(number, "no 'obj_label' (the answer)")
    group = _group(record.get("predicate_id") or record.get("pred") or record.get("relation"))
    judgments = record.get("judgments")
    if isinstance(judgments, list):  # Google-RE: LAMA skips facts whose raters mostly said no
        yes = sum(1 for j in judgments if isinstance(j, dict) and j.get("judgment") == "yes")
        if len(judgments) - yes > yes:
            return BadItem(number, "negative evidence (most judgments are 'no'), as LAMA skips it", True)
    if relations is not None:
        name = group or ""
        relation = relations.get(name) or relations.get(name.rsplit("/", 1)[-1])  # Google-RE's pred is a path
        if relation is None:
            return BadItem(number, f"the relation {name or '(none)'!r} is not in the relations file")
        subject = record.get("sub_label")
        if not isinstance(subject, str) or not subject.strip():
            return BadItem(number, "no 'sub_label' to fill [X] with")
        key = (str(relation["relation"]), subject.strip(), obj.strip())
        if key in seen:  # LAMA's template mode keeps one probe per distinct (subject, object)
            return BadItem(number, "the same fact again (LAMA's template mode keeps one)", True)
        seen.add(key)
        text = parse_template(str(relation["template"]).strip(), subject.strip(), MASK)
        return ClozeItem(number, text, (obj.strip(),), group or str(relation["relation"]))
    sentences = record.get("masked_sentences")
    if not isinstance(sentences, list) or not sentences or not all(isinstance(s, str) for s in sentences):
        if "sub_label" in record:
            return BadItem(number, "a LAMA fact without masked_sentences needs --relations relations.jsonl")
        return BadItem(number, "no 'masked_sentences' list")
    text = " ".join(s.strip() for s in sentences[:2])  # LAMA reads at most two sentences as one input
    return ClozeItem(number, text, (obj.strip(),), group)


def _plain_cloze(number: int, line: str) -> ClozeItem | BadItem:
    if line.lstrip().startswith("{"):
        record = _json_object(line)
        text = _text(record, "text")
        answer = record.get("answer")
        answers = [answer] if isinstance(answer, str) else answer
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            return BadItem(number, "'answer' must be a string or a list of strings")
        answers = [a.strip() for a in answers if a.strip()]
        if not answers:
            return BadItem(number, "the answer is empty")
        return ClozeItem(number, text, tuple(answers), _group(record.get("group")))
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 2:
        return BadItem(number, "expected text<TAB>answer[<TAB>group]")
    text, answer = fields[0].strip(), fields[1].strip()
    if not text:
        return BadItem(number, "the text is empty")
    if not answer:
        return BadItem(number, "the answer is empty")
    return ClozeItem(number, text, (answer,), _group(fields[2].strip()) if len(fields) > 2 else None)


def read_probes(
    source: Source, *, format: str | None = None, relations: dict[str, dict[str, Any]] | None = None
) -> tuple[str, Iterator[ClozeItem | BadItem]]:
    """The format of a cloze probe set and its items, streamed in order (a new pass over ``source``)."""
    source = as_input(source)
    _number, _first, kind = _open_set(source, format, detect_probe_format, PROBE_FORMATS, "probe")

    def items() -> Iterator[ClozeItem | BadItem]:
        seen: set[tuple[str, str, str]] = set()
        lines = source.lines()
        with contextlib.closing(lines):  # type: ignore[type-var]
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    if kind == "lama":
                        yield _lama_item(number, _json_object(line), relations, seen)
                    else:
                        item = _plain_cloze(number, line)
                        if isinstance(item, ClozeItem) and MASK not in item.text:
                            item = BadItem(number, f"no {MASK} in the text")
                        yield item
                except ValueError as exc:
                    yield BadItem(number, str(exc))

    return kind, items()


# ---------------------------------------------------------------------------------------------- pairs


def detect_pair_format(first: str) -> str:
    record = _peek_record(first)
    if record is not None:
        if "sentence_good" in record:
            return "blimp"
        if "good" in record:
            return "plain"
    elif "sent_more" in first and "sent_less" in first:
        return "crows"
    elif "\t" in first:
        return "plain"
    raise FormatError(
        "cannot tell the format of the pairs file: expected BLiMP JSONL (sentence_good, sentence_bad), "
        "JSONL with 'good' and 'bad', TSV good<TAB>bad[<TAB>group], or the CrowS-Pairs CSV "
        f"({', '.join(CROWS_COLUMNS)})"
    )


def _pair(number: int, good: str, bad: str, group: str | None, meta: dict[str, str]) -> PairItem | BadItem:
    if good == bad:
        return BadItem(number, "the two sentences are the same")
    return PairItem(number, good, bad, group, meta)


def _json_pair(number: int, line: str, kind: str) -> PairItem | BadItem:
    record = _json_object(line)
    if kind == "blimp":
        good, bad = _text(record, "sentence_good"), _text(record, "sentence_bad")
        meta: dict[str, str] = {
            k: str(record[k]) for k in ("field", "linguistics_term", "phenomenon") if k in record
        }
        return _pair(number, good, bad, _group(record.get("UID")), meta)
    return _pair(number, _text(record, "good"), _text(record, "bad"), _group(record.get("group")), {})


def _tsv_pair(number: int, line: str) -> PairItem | BadItem:
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
        return BadItem(number, "expected good<TAB>bad[<TAB>group]")
    group = _group(fields[2].strip()) if len(fields) > 2 else None
    return _pair(number, fields[0].strip(), fields[1].strip(), group, {})


def crows_header(line: str, number: int, name: str) -> list[str]:
    """The columns of a CrowS-Pairs header line; :class:`FormatError` when it is not CSV or lacks a column."""
    try:
        columns = next(csv.reader([line]), [])
    except csv.Error as exc:
        raise FormatError(f"{name}, line {number}: the header cannot be read as CSV: {exc}") from None
    missing = [c for c in CROWS_COLUMNS if c not in (col.strip() for col in columns)]
    if missing:
        raise FormatError(
            f"{name}, line {number}: the CrowS-Pairs CSV has no column {', '.join(repr(c) for c in missing)} "
            f"(it needs {', '.join(CROWS_COLUMNS)})"
        )
    return columns


class _Counted:
    """Lines, counted as they are taken (``csv.reader``'s ``line_num`` stops moving on a row it cannot read)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines, self.taken = iter(lines), 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken += 1
        return line


def _crows(lines: Iterable[str], header: int = 1) -> Iterator[CrowsItem | BadItem]:
    """CrowS-Pairs rows, as metric.py's ``read_data`` reads them (``csv.DictReader``); ``header`` is
    the header's line number in the file.

    A row the csv module cannot read (a field over its limit, as an unclosed quote that runs on
    gives) is one :class:`BadItem` naming the lines it took; the rows after it are read on.
    """
    counted = _Counted(lines)
    reader = csv.DictReader(counted)
    columns = reader.fieldnames  # the header, read here so that the count below starts after it
    start = header + 1
    while columns:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = header + counted.taken - 1  # the last line the row took
            number, start = start, end + 1
            span = f"line {number}" if end <= number else f"lines {number}-{end}"
            hint = " (a quote that is never closed?)" if "field limit" in str(exc) else ""
            yield BadItem(number, f"{span} cannot be read as CSV: {exc}{hint}; the rows after are read on")
            continue
        number, start = start, header + counted.taken
        missing = [c for c in CROWS_COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            yield BadItem(number, f"no value in column {missing[0]!r}")
            continue
        more, less = row["sent_more"].strip(), row["sent_less"].strip()
        direction = row["stereo_antistereo"].strip()
        if direction not in ("stereo", "antistereo"):
            yield BadItem(number, f"stereo_antistereo is {direction!r}: expected stereo or antistereo")
        elif more == less:
            yield BadItem(number, "the two sentences are the same")
        else:
            yield CrowsItem(number, more, less, direction, row["bias_type"].strip())


def read_pairs(source: Source, *, format: str | None = None) -> tuple[str, Iterator[Item]]:
    """The format of a pairs set and its items, streamed in order (a new pass over ``source``)."""
    source = as_input(source)
    header, first, kind = _open_set(source, format, detect_pair_format, PAIR_FORMATS, "pairs")
    if kind == "crows":
        crows_header(first, header, source.name)

    def items() -> Iterator[Item]:
        lines = source.lines()
        with contextlib.closing(lines):  # type: ignore[type-var]
            if kind == "crows":
                yield from _crows(itertools.islice(lines, header - 1, None), header=header)
                return
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    if line.lstrip().startswith("{"):
                        yield _json_pair(number, line, "blimp" if kind == "blimp" else "plain")
                    else:
                        yield _tsv_pair(number, line)
                except ValueError as exc:
                    yield BadItem(number, str(exc))

    return kind, items()


def group_key(group_by: str | None) -> str:
    """The key of a result row that ``--group-by`` groups by (UID is the row's ``group``)."""
    return "group" if group_by in (None, "UID") else group_by


def check_group_by(source: TextInput, fmt: str, group_by: str | None) -> None:
    """:class:`FormatError` (one line) unless ``group_by`` is unset, or the file is BLiMP and its first row
    has that field. A later row without it counts in the group ``(none)``."""
    if group_by is None:
        return
    if group_by not in GROUP_BY:
        raise FormatError(f"--group-by {group_by}: choose {', '.join(GROUP_BY)}")
    if fmt != "blimp":
        raise FormatError(
            f"--group-by needs a BLiMP file (JSONL rows with sentence_good, sentence_bad, UID, field, "
            f"linguistics_term); {source.name} is in the {fmt} format"
        )
    number, first = first_line(source)
    record = _peek_record(first) or {}
    if _group(record.get(group_by)) is None:
        raise FormatError(f"--group-by {group_by}: {source.name}, line {number} has no {group_by!r} field")
