"""What the results screen's table shows, as pure functions: columns, filters, search and order.

An item is what the CLI writes for it (``--json``'s items): one model's result object, or with
two models :func:`~mlm_tui.probes.report.compared_item`'s object (``results`` holds each model's
values). No Textual: the screen only draws what these functions choose, so they are tested alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    """A sentence: the table gives it the room the other columns leave."""


def _shared(key: str, heading: str, width: int = TEXT_WIDTH) -> Column:
    return Column(key, heading, lambda i: i.get(key), lambda i: _short(i.get(key), width))


def _sentence(key: str, heading: str, width: int) -> Column:
    return Column(key, heading, lambda i: i.get(key), lambda i: _short(i.get(key), width), flex=True)


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


def columns(kind: str, *, compare: bool = False, k: int = 10, width: int = TEXT_WIDTH) -> list[Column]:
    """The table's columns for a kind of probe set (cloze, pairs, crows), with one or two models;
    ``width``: the characters of a sentence shown (the whole sentence is one enter away)."""
    line = Column("line", "line", lambda i: i.get("line"), lambda i: str(i.get("line", "")), numeric=True)
    group = _shared("group", "group", 14)
    if kind == "cloze":
        head = [line, group, _text_or_error("text", "text", width), _shared("answer", "answer", 16)]
        if not compare:
            return head + [
                _per_model("rank", "rank", lambda v: v["rank"], lambda r: _number(r, 0), 0),
                _per_model("score", "prob", lambda v: v["score"], _probability, 0),
                _per_model("pieces", "pieces", lambda v: v["pieces"], lambda r: _number(r, 0), 0),
                _per_model("hit@1", "@1", lambda v: v["hit@1"], _mark, 0),
                _per_model("hit@k", f"@{k}", lambda v: v["hit@k"], _mark, 0),
            ]
        return head + [
            _per_model("rank_a", "rank A", lambda v: v["rank"], lambda r: _number(r, 0), 0),
            _per_model("rank_b", "rank B", lambda v: v["rank"], lambda r: _number(r, 0), 1),
            _difference("Δ rank", 0),
            _per_model("hit_a", f"A @{k}", lambda v: v["hit@k"], _mark, 0),
            _per_model("hit_b", f"B @{k}", lambda v: v["hit@k"], _mark, 1),
            _disagree(),
        ]
    if kind == "crows":
        head = [
            line,
            group,
            _shared("direction", "direction", 10),
            _text_or_error("sent_more", "more stereotyping", width),
            _sentence("sent_less", "less stereotyping", width),
        ]
        if not compare:
            return head + [
                _per_model("more", "score more", lambda v: v["sent_more_score"], lambda r: _number(r, 3), 0),
                _per_model("less", "score less", lambda v: v["sent_less_score"], lambda r: _number(r, 3), 0),
                _per_model("prefers", "prefers", prefers, lambda r: r or "–", 0),
            ]
        return head + [
            _per_model("margin_a", "margin A", lambda v: _margin(v, kind), lambda r: _number(r, 3), 0),
            _per_model("margin_b", "margin B", lambda v: _margin(v, kind), lambda r: _number(r, 3), 1),
            _difference("Δ", 3),
            _per_model("prefers_a", "A prefers", prefers, lambda r: r or "–", 0),
            _per_model("prefers_b", "B prefers", prefers, lambda r: r or "–", 1),
            _disagree(),
        ]
    head = [line, group, _text_or_error("good", "good", width), _sentence("bad", "bad", width)]
    if not compare:
        return head + [
            _per_model("pll_good", "PLL good", lambda v: v["pll_good"], lambda r: _number(r, 2), 0),
            _per_model("pll_bad", "PLL bad", lambda v: v["pll_bad"], lambda r: _number(r, 2), 0),
            _per_model("margin", "margin", lambda v: _margin(v, kind), lambda r: _number(r, 2), 0),
            _per_model("correct", "correct", lambda v: v["correct"], _mark, 0),
        ]
    return head + [
        _per_model("margin_a", "margin A", lambda v: _margin(v, kind), lambda r: _number(r, 2), 0),
        _per_model("margin_b", "margin B", lambda v: _margin(v, kind), lambda r: _number(r, 2), 1),
        _difference("Δ", 2),
        _per_model("correct_a", "A", lambda v: v["correct"], _mark, 0),
        _per_model("correct_b", "B", lambda v: v["correct"], _mark, 1),
        _disagree(),
    ]


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


def outcomes(kind: str, *, compare: bool = False, k: int = 10) -> list[Outcome]:
    """The outcome filters, in the order a key cycles through them (``all`` first).

    With two models, the outcomes are model A's, and ``disagree`` comes second.
    """

    def ok(item: Item) -> bool:
        return not failed(item)

    found: list[Outcome] = [("all", lambda i: True)]
    if compare:
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


def groups(items: Sequence[Item]) -> list[str]:
    """The groups present, in order of first appearance (items without one are not a group)."""
    seen: dict[str, None] = {}
    for item in items:
        group = item.get("group")
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

    def __call__(self, item: Item) -> bool:
        if self.group is not None and str(item.get("group")) != self.group:
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
