"""A probe set opened for the app: its file, kind and format, and how to run it through an engine.

The CLI's ``probe``/``pairs`` options, or only a path (the explorer's "Open a probe set…"),
become one :class:`ProbeSet`; the results screen calls :attr:`ProbeSet.results` with each
engine, exactly as the CLI does. No Textual, no torch.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engine.types import Encoding
from ..inputs import TextInput, Warn
from .formats import (
    MASK,
    FormatError,
    Source,
    as_input,
    check_group_by,
    first_line,
    group_key,
    load_relations,
    read_pairs,
    read_probes,
    read_words,
)
from .metrics import BOOTSTRAP
from .run import DEFAULT_K, cloze_results, pair_results

Span = tuple[int, int]
Results = Callable[[Any], Iterator[dict[str, object]]]
"""engine → one JSON-ready result per item, in input order (the set read anew at each call)."""

_LAMA_KEYS = ('"masked_sentences"', '"sub_label"', '"obj_label"')


@dataclass(frozen=True)
class ProbeSet:
    """What the results screen runs: ``kind`` is cloze, pairs or crows; ``fmt`` the file's format."""

    path: str
    kind: str
    fmt: str
    results: Results
    k: int = DEFAULT_K
    n_boot: int = BOOTSTRAP
    total: int | None = None
    """The number of items expected (non-blank lines; a CSV's header counted out), for the progress bar."""
    group_by: str = "group"
    """The key of a result row that groups the summary: ``group``, or for BLiMP ``field`` or
    ``linguistics_term`` (``--group-by``; :class:`~mlm_tui.probes.run.Tally` takes it as is)."""

    @property
    def name(self) -> str:
        return Path(self.path).name


def count_items(source: TextInput, fmt: str) -> int | None:
    """Non-blank lines, less a CSV's header (one item a line in every format); ``None`` unless the input
    can be read twice (a regular file): a pipe, a FIFO or stdin is read once, as it arrives."""
    lines = source.count(str.strip)
    return None if lines is None else max(0, lines - 1) if fmt == "crows" else lines


def recognise(source: Source) -> str:
    """``probe`` or ``pairs``: a set whose first item has a mask (or LAMA's fields) is a cloze set."""
    source = as_input(source)
    _number, first = first_line(source)
    if not first:
        raise FormatError(f"{source.name} is empty")
    return "probe" if MASK in first or any(key in first for key in _LAMA_KEYS) else "pairs"


def open_probe_set(
    path: Source,
    *,
    command: str | None = None,
    format: str | None = None,
    relations: str | None = None,
    common_vocab: str | None = None,
    top_k: int = DEFAULT_K,
    pll: str = "original",
    batch_size: int = 64,
    max_tokens: int | None = 16384,
    max_item_tokens: int | None = None,
    n_boot: int = BOOTSTRAP,
    group_by: str | None = None,
    warn: Warn | None = None,
) -> ProbeSet:
    """Open ``path`` once and read its head (a bad file raises :class:`FormatError` with one line); say how to run it.

    ``command`` (``probe`` or ``pairs``) is recognised from the content when not given. Each run
    reads the set again: a regular file from disk, a pipe, FIFO or stdin (``-``) from the copy
    kept as it was first read. ``warn`` is told when bytes that do not decode were replaced.
    ``group_by`` (BLiMP only: UID, field or linguistics_term) raises :class:`FormatError` on another file.
    """
    source = as_input(path, warn)
    path = source.name  # "stdin" for -
    command = command or recognise(source)
    if command == "probe":
        table = load_relations(relations, warn) if relations else None
        fmt, _items = read_probes(source, format=format, relations=table)
        words = read_words(common_vocab, warn) if common_vocab else None
        vocabularies: dict[int, Any] = {}

        def cloze(engine: Any) -> Iterator[dict[str, object]]:
            from ..engine.probing import common_vocabulary

            if words is not None and id(engine) not in vocabularies:
                vocabularies[id(engine)] = common_vocabulary(engine.text, words)
            _fmt, stream = read_probes(source, format=format, relations=table)
            return cloze_results(
                engine,
                stream,
                k=top_k,
                vocabulary=vocabularies.get(id(engine)),
                batch_size=batch_size,
                max_tokens=max_tokens,
                max_item_tokens=max_item_tokens,
            )

        return ProbeSet(path, "cloze", fmt, cloze, top_k, n_boot, count_items(source, fmt))
    fmt, _pairs = read_pairs(source, format=format)

    def pairs(engine: Any) -> Iterator[dict[str, object]]:
        _fmt, stream = read_pairs(source, format=format)
        return pair_results(
            engine,
            stream,
            variant=pll,
            batch_size=batch_size,
            max_tokens=max_tokens,
            max_item_tokens=max_item_tokens,
        )

    check_group_by(source, fmt, group_by)
    kind = "crows" if fmt == "crows" else "pairs"
    return ProbeSet(path, kind, fmt, pairs, DEFAULT_K, n_boot, count_items(source, fmt), group_key(group_by))


def differing_spans(a: Encoding, b: Encoding) -> tuple[list[Span], list[Span]]:
    """The character spans of the tokens that differ between two sentences (difflib over token ids).

    As CrowS-Pairs' ``metric.py`` finds the shared tokens; here the others are what a user
    needs to see: the pieces that make the pair minimal.
    """
    real_a = [t for t in a.tokens if not t.special]
    real_b = [t for t in b.tokens if not t.special]
    matcher = difflib.SequenceMatcher(None, [t.id for t in real_a], [t.id for t in real_b], autojunk=False)
    spans_a: list[Span] = []
    spans_b: list[Span] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            spans_a += [(t.start, t.end) for t in real_a[i1:i2]]
            spans_b += [(t.start, t.end) for t in real_b[j1:j2]]
    return spans_a, spans_b


def pair_sentences(kind: str, item: dict[str, Any]) -> tuple[str, str] | None:
    """The two sentences of a pair item, the one shown first first (good, or the more stereotyping)."""
    if kind == "crows" and "sent_more" in item:
        return str(item["sent_more"]), str(item["sent_less"])
    if kind == "pairs" and "good" in item:
        return str(item["good"]), str(item["bad"])
    return None


def answers(item: dict[str, Any]) -> tuple[str, ...]:
    """Every accepted answer of a cloze item (the best-ranked one first)."""
    found = [str(item["answer"])] if item.get("answer") else []
    found += [str(a["answer"]) for a in item.get("answers", ()) if str(a["answer"]) not in found]
    return tuple(found)


__all__: Sequence[str] = (
    "ProbeSet",
    "answers",
    "count_items",
    "differing_spans",
    "open_probe_set",
    "pair_sentences",
    "recognise",
)
