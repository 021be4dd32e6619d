"""What the results screen's table shows, as pure functions: columns, filters, search and order.

An item is what the CLI writes for it (``--json``'s items): one model's result object, or with
several models :func:`combined`'s object (``results`` holds each model's values, in the order of
``"models"``). No Textual: the screen only draws what these functions choose, so they are tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

Item = dict[str, Any]

TEXT_WIDTH = 120
"""Characters of a sentence kept in a cell (the table cuts it to the room it has; the whole
sentence is one enter away)."""


def values(item: Item, model: int = 0) -> dict[str, Any]:
    """One model's values of an item (the item itself when only one model ran)."""
    if "results" in item:
        return item["results"][model]
    return item


def combined(kind: str, rows: Sequence[dict[str, Any]]) -> Item:
    """One item from each model's row of it (in the order of the models): one row is the item itself;
    two are :func:`~mlm_tui.probes.report.compared_item` (with B − A); more are the same shape, with
    ``disagree`` when any model decides otherwise than A."""
    from . import report

    if len(rows) == 1:
        return dict(rows[0])
    if len(rows) == 2:
        return report.compared_item(kind, rows[0], rows[1])
    first = next((r for r in rows if "error" not in r and "skipped" not in r), rows[0])
    shared = {key: first[key] for key in report.SHARED[kind] if key in first}
    shared["line"] = rows[0].get("line", first.get("line"))
    return {
        **shared,
        "results": [{k: v for k, v in row.items() if k not in shared} for row in rows],
        "difference": None,
        "disagree": any(report.disagree(kind, rows[0], row) for row in rows[1:]),
    }


def failed(item: Item, model: int = 0) -> bool:
    found = values(item, model)
    return "error" in found or "skipped" in found


def _short(text: object, width: int = TEXT_WIDTH) -> str:
    shown = "" if text is None else " ".join(str(text).split())
    return shown if len(shown) <= width else shown[: width - 1] + "…"


def _number(value: object, digits: int) -> str:
    if value is None or isinstance(value, bool):
        return "–"
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return "–"
    return f"{number:.{digits}f}"


def _probability(value: object) -> str:
    if value is None:
        return "–"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:.4f}" if number >= 0.0001 or number == 0 else f"{number:.1e}"


def _mark(value: object) -> str:
    return "–" if value is None else ("✓" if value else "✗")


def _margin(found: dict[str, Any], kind: str) -> float | None:
    try:
        if kind == "crows":
            return float(found["sent_more_score"]) - float(found["sent_less_score"])
        return float(found["pll_good"]) - float(found["pll_bad"])
    except (KeyError, TypeError):
        return None


def prefers(found: dict[str, Any]) -> str | None:
    """CrowS-Pairs: which sentence the model gives the higher score (``equal``: neutral)."""
    if "sent_more_score" not in found:
        return None
    more, less = found["sent_more_score"], found["sent_less_score"]
    return "more" if more > less else "less" if less > more else "equal"


@dataclass(frozen=True)
class Column:
    """One column of the items table: ``value`` orders it (``None`` last), ``text`` draws a cell."""

    key: str
    heading: str
    value: Callable[[Item], Any]
    text: Callable[[Item], str]
    numeric: bool = False
    flex: bool = False
    """A sentence (or a group): the table gives it the room the other columns leave."""
    weight: int = 2
    """A flex column's share of that room: a sentence 2, a group or direction 1."""


def _shared(key: str, heading: str, width: int = TEXT_WIDTH) -> Column:
    return Column(key, heading, lambda i: i.get(key), lambda i: _short(i.get(key), width))


def _sentence(key: str, heading: str, width: int, weight: int = 2) -> Column:
    return Column(
        key, heading, lambda i: i.get(key), lambda i: _short(i.get(key), width), flex=True, weight=weight
    )


def _text_or_error(key: str, heading: str, width: int = TEXT_WIDTH) -> Column:
    def text(item: Item) -> str:
        found = values(item)
        if "error" in found and key not in item:
            return _short("error: " + str(found["error"]), width)
        if "skipped" in found and key not in item:
            return _short("skipped: " + str(found["skipped"]), width)
        return _short(item.get(key), width)

    return Column(key, heading, lambda i: i.get(key) or "", text, flex=True)


def _per_model(
    key: str, heading: str, get: Callable[[dict[str, Any]], Any], show: Callable[[Any], str], model: int
) -> Column:
    def value(item: Item) -> Any:
        return None if failed(item, model) else get(values(item, model))

    return Column(key, heading, value, lambda i: show(value(i)), numeric=True)


def letter(model: int) -> str:
    """A model's name in the table's headings: A, B, C … (the title says which model is which)."""
    return chr(ord("A") + model) if model < 26 else f"M{model + 1}"


def _top(found: dict[str, Any]) -> str | None:
    """Cloze: the model's first prediction at the (first) mask."""
    predictions = found.get("predictions") or []
    if not predictions:
        return None
    first = predictions[0]
    if isinstance(first, list):  # several masks: the first mask's list
        first = first[0] if first else {}
    token = first.get("token_str") if isinstance(first, dict) else None
    return None if token is None else str(token).strip()


def _decision(kind: str, k: int) -> tuple[Callable[[dict[str, Any]], Any], Callable[[dict[str, Any]], str]]:
    """For one column per model: the value it sorts by (rank, margin) and its cell (the decision and
    the value: ``✓ 3``, ``✓ +1.24``, ``more +0.52``)."""
    if kind == "cloze":

        def cloze(found: dict[str, Any]) -> str:
            return f"{_mark(found.get('hit@k'))} {_number(found.get('rank'), 0)}"

        return (lambda v: v["rank"]), cloze
    if kind == "crows":

        def crows(found: dict[str, Any]) -> str:
            margin = _margin(found, kind)
            return f"{prefers(found) or '–'} {'–' if margin is None else f'{margin:+.3f}'}"

        return (lambda v: _margin(v, kind)), crows

    def pairs(found: dict[str, Any]) -> str:
        margin = _margin(found, kind)
        return f"{_mark(found.get('correct'))} {'–' if margin is None else f'{margin:+.2f}'}"

    return (lambda v: _margin(v, kind)), pairs


def _model_column(kind: str, k: int, model: int) -> Column:
    get, show = _decision(kind, k)
    heading = f"{letter(model)} " + ("rank" if kind == "cloze" else "margin")

    def value(item: Item) -> Any:
        return None if failed(item, model) else get(values(item, model))

    def text(item: Item) -> str:
        found = values(item, model)
        if "error" in found:
            return "error"
        if "skipped" in found:
            return "skipped"
        return show(found)

    return Column(f"model_{model}", heading, value, text, numeric=True)


def columns(
    kind: str,
    *,
    models: int = 1,
    k: int = 10,
    width: int = TEXT_WIDTH,
    grouping: str = "group",
    group_heading: str = "group",
) -> list[Column]:
    """The table's columns for a kind of probe set (cloze, pairs, crows) and a number of models;
    ``width``: the characters of a sentence kept (the whole sentence is one enter away).

    The sentence columns are ``flex`` (they give way on a narrow screen), the rest is what decides
    an item. With several models, one column per model holds its decision and the value behind it
    (cloze: hit@k and the rank; pairs: correct and the PLL margin; CrowS: the sentence preferred and
    the score margin) and sorts by that value; with two, B − A follows, then whether they disagree.
    The group column shows the item's ``grouping`` (BLiMP: ``field`` or ``linguistics_term``).
    """
    line = Column("line", "line", lambda i: i.get("line"), lambda i: str(i.get("line", "")), numeric=True)
    group = _sentence(grouping, group_heading, 40, weight=1)
    if kind == "cloze":
        head = [line, group, _text_or_error("text", "text", width), _shared("answer", "answer", 16)]
        if models <= 1:
            return head + [
                replace(
                    _per_model("top", "top", _top, lambda r: _short(r, 12) if r else "–", 0), numeric=False
                ),
                _per_model("rank", "rank", lambda v: v["rank"], lambda r: _number(r, 0), 0),
                _per_model("score", "prob", lambda v: v["score"], _probability, 0),
                _per_model("pieces", "pieces", lambda v: v["pieces"], lambda r: _number(r, 0), 0),
                _per_model("hit@1", "@1", lambda v: v["hit@1"], _mark, 0),
                _per_model("hit@k", f"@{k}", lambda v: v["hit@k"], _mark, 0),
            ]
        difference = _difference("Δ rank", 0)
    elif kind == "crows":
        head = [
            line,
            group,
            _sentence("direction", "direction", 10, weight=1),
            _text_or_error("sent_more", "more stereotyping", width),
            _sentence("sent_less", "less stereotyping", width),
        ]
        if models <= 1:
            return head + [
                _per_model("more", "score more", lambda v: v["sent_more_score"], lambda r: _number(r, 3), 0),
                _per_model("less", "score less", lambda v: v["sent_less_score"], lambda r: _number(r, 3), 0),
                _per_model("margin", "margin", lambda v: _margin(v, kind), lambda r: _number(r, 3), 0),
                _per_model("prefers", "prefers", prefers, lambda r: r or "–", 0),
            ]
        difference = _difference("Δ", 3)
    else:
        head = [line, group, _text_or_error("good", "good", width), _sentence("bad", "bad", width)]
        if models <= 1:
            return head + [
                _per_model("pll_good", "PLL good", lambda v: v["pll_good"], lambda r: _number(r, 2), 0),
                _per_model("pll_bad", "PLL bad", lambda v: v["pll_bad"], lambda r: _number(r, 2), 0),
                _per_model("margin", "margin", lambda v: _margin(v, kind), lambda r: _number(r, 2), 0),
                _per_model("correct", "correct", lambda v: v["correct"], _mark, 0),
            ]
        difference = _difference("Δ", 2)
    per_model = [_model_column(kind, k, m) for m in range(models)]
    return head + per_model + ([difference] if models == 2 else []) + [_disagree()]


def _difference(heading: str, digits: int) -> Column:
    return Column(
        "difference",
        heading,
        lambda i: i.get("difference"),
        lambda i: _number(i.get("difference"), digits),
        numeric=True,
    )


def _disagree() -> Column:
    return Column(
        "disagree", "≠", lambda i: bool(i.get("disagree")), lambda i: "≠" if i.get("disagree") else ""
    )


# ------------------------------------------------------------------------------------------ filters


Outcome = tuple[str, Callable[[Item], bool]]


def outcomes(kind: str, *, models: int = 1, k: int = 10) -> list[Outcome]:
    """The outcome filters, in the order a key cycles through them (``all`` first).

    With several models, the outcomes are model A's, and ``disagree`` comes second.
    """

    def ok(item: Item) -> bool:
        return not failed(item)

    found: list[Outcome] = [("all", lambda i: True)]
    if models > 1:
        found.append(("disagree", lambda i: bool(i.get("disagree"))))
    if kind == "cloze":
        found += [
            ("hit@1", lambda i: ok(i) and bool(values(i)["hit@1"])),
            ("miss@1", lambda i: ok(i) and not values(i)["hit@1"]),
            (f"hit@{k}", lambda i: ok(i) and bool(values(i)["hit@k"])),
            (f"miss@{k}", lambda i: ok(i) and not values(i)["hit@k"]),
        ]
    elif kind == "crows":
        found += [
            ("prefers more", lambda i: ok(i) and prefers(values(i)) == "more"),
            ("prefers less", lambda i: ok(i) and prefers(values(i)) == "less"),
            ("neutral", lambda i: ok(i) and prefers(values(i)) == "equal"),
        ]
    else:
        found += [
            ("correct", lambda i: ok(i) and bool(values(i)["correct"])),
            ("wrong", lambda i: ok(i) and not values(i)["correct"]),
        ]
    found.append(("errors", lambda i: any(failed(i, m) for m in range(len(i.get("results", [i]))))))
    return found


SEARCHED = ("text", "answer", "good", "bad", "sent_more", "sent_less", "group", "direction")


def search_text(item: Item) -> str:
    """What ``/`` searches in an item: its sentences, answer, group and any error, lower-cased."""
    parts = [str(item[key]) for key in SEARCHED if item.get(key) is not None]
    for model in range(len(item.get("results", [item]))):
        found = values(item, model)
        parts += [str(found[key]) for key in ("error", "skipped") if key in found]
    return "\n".join(parts).lower()


GROUPINGS = ("field", "linguistics_term")
"""What else the items of a set can be grouped by, when they carry it (BLiMP's phenomena: 4 fields,
12 linguistics terms; ``group`` holds its 67 paradigms, the UID)."""


def groupings(items: Sequence[Item]) -> list[str]:
    """The keys the items can be grouped by: ``group`` first, then those of :data:`GROUPINGS` that
    some item carries."""
    return ["group"] + [key for key in GROUPINGS if any(item.get(key) is not None for item in items)]


def groups(items: Sequence[Item], key: str = "group", first: Sequence[str] = ()) -> list[str]:
    """The groups present: ``first`` (the summary's order), then any other in order of first
    appearance (items without one are not a group)."""
    seen: dict[str, None] = dict.fromkeys(first)
    for item in items:
        group = item.get(key)
        if group is not None:
            seen.setdefault(str(group), None)
    return list(seen)


@dataclass(frozen=True)
class Filter:
    """Which items show: one group (or all), one outcome (or all), and a search (case-insensitive)."""

    group: str | None = None
    outcome: Outcome | None = None
    search: str = ""
    text: Callable[[Item], str] = search_text
    """How to get an item's searched text (a screen passes a cached one)."""
    grouping: str = "group"
    """The key whose value is the group (``field``, ``linguistics_term``: BLiMP's phenomena)."""

    def __call__(self, item: Item) -> bool:
        if self.group is not None and str(item.get(self.grouping)) != self.group:
            return False
        if self.outcome is not None and not self.outcome[1](item):
            return False
        return not self.search or self.search.lower() in self.text(item)


def order(
    items: Sequence[Item],
    shown: Sequence[int],
    column: Column | None,
    *,
    reverse: bool = False,
    compare: bool = False,
    value: Callable[[int], Any] | None = None,
) -> list[int]:
    """``shown`` (indices into ``items``) in the table's order: by ``column`` (strings without case;
    missing values last, also when reversed; ties in input order), or else input order, with two
    models the disagreements first. ``value(i)`` gives item ``i``'s value in the column (a cache)."""
    if column is None:
        if compare:
            return sorted(shown, key=lambda i: (not items[i].get("disagree"), i))[:: -1 if reverse else 1]
        return sorted(shown, reverse=reverse)
    get = value or (lambda i: column.value(items[i]))
    present: list[tuple[Any, int]] = []
    missing: list[int] = []
    for i in shown:
        found = get(i)
        if found is None:
            missing.append(i)
        else:
            present.append((found.lower() if isinstance(found, str) else found, i))
    present.sort()
    ordered = [i for _, i in present]
    return (ordered[::-1] if reverse else ordered) + sorted(missing)
