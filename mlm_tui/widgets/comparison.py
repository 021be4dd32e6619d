"""The line under two panes that says how the two models differ at the selected mask or token."""

from __future__ import annotations

import math

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ..engine import MaskResult, shown_token
from ..engine.compare import compare_masks


def _rank(rank: int | None, full: bool, other: str) -> str:
    if rank is None:
        return f"{other}: not in top-k"
    return f"{other}: #{rank}" if full else f"{other}: #{rank} of top-k"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def _quoted(token_str: str) -> str:
    """A top-1 as the table shows it (:func:`shown_token`), in quotes unless it is quoted already."""
    shown = shown_token(token_str)
    return f"'{shown}'" if shown == token_str.strip() else shown


def mask_line(word: str, a: MaskResult | None, b: MaskResult | None, *, shared_vocab: bool) -> str:
    """Top-1 of each model at one mask, each top-1's rank in the other, and KL/JS or top-k overlap."""
    if a is None or b is None:
        waiting = "A" if a is None else "B"
        return f"{word}: waiting for model {waiting}'s predictions…"
    c = compare_masks(a, b, shared_vocab=shared_vocab)
    parts = [
        f"{word}: A {_quoted(c.top1[0])} ({_rank(c.top1_rank_in_other[0], c.shared_vocab, 'B')})",
        f"B {_quoted(c.top1[1])} ({_rank(c.top1_rank_in_other[1], c.shared_vocab, 'A')})",
    ]
    if c.shared_vocab:
        parts.append(f"KL(A‖B) {_number(c.kl)} · JS {_number(c.js)} nats")
    else:
        parts.append(f"top-{c.overlap[1]} overlap {c.overlap[0]}/{c.overlap[1]} (other vocabularies)")
    return " · ".join(parts)


def surprisal_line(
    word: str, a: float | None, b: float | None, pppl: tuple[float | None, float | None]
) -> str:
    """Both models' surprisal of one token (its characters) and the difference B − A."""
    if a is None or b is None:
        return f"{word}: scoring…"
    return (
        f"{word}: surprisal A {_number(a, 2)} · B {_number(b, 2)} · B−A {b - a:+.2f} nats"
        f" · PPPL A {_number(pppl[0], 2)} · B {_number(pppl[1], 2)}"
    )


class ComparisonBar(Widget):
    """One line; the screen sets ``line`` from the two panes."""

    DEFAULT_CSS = """
    ComparisonBar {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $text;
        background: $boost;
    }
    """

    line: reactive[str] = reactive("", layout=True)

    def render(self) -> Content:
        return Content(self.line)  # plain text: "[MASK]" is a word here, not markup
