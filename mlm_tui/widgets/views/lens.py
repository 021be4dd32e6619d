"""The MLM lens: the model's own head applied to every layer's hidden state (Din et al. 2024).

Two forms: one token, a row per layer (``L``), and the whole sentence, a layer × token grid of the
top-1 shaded by its probability (``#``). The engine runs one forward pass with the hidden states (in
the ``lens``/``grid`` worker) and the head at one position per layer, or at every position for the grid.
"""

from __future__ import annotations

import math

from rich.style import Style
from rich.text import Text

from ...engine import shown_token
from ..token_view import attention_colour
from .base import Shown, View

TOP = 3
"""Tokens per layer in the one-token form."""
CELL = 11
"""Width of a top-k cell: the whole table fits 80 columns."""


def _cell(token_str: str, prob: float, width: int) -> str:
    token = shown_token(token_str)
    percent = f" {prob:.0%}"
    room = width - len(percent)
    return (token if len(token) <= room else token[: max(1, room - 1)] + "…") + percent


class LensView(View):
    """One row per layer for the selected token (masked or not): the head's top-3 there, the rank and
    probability of the tracked token (the final top-1, or the prediction highlighted when the view
    opened) and of every watched word of one piece, the entropy ``H`` and KL(final ‖ layer), in nats."""

    name = "lens"

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.tracked: tuple[int, int, str] | None = None
        """``(position, token id, token_str)`` of the prediction highlighted when the view opened."""

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        selected = pane.tokens.selected
        label = pane.cell_label(selected)
        result = pane.ask(
            self.name,
            (encoding.text, tuple(masked), selected),
            lambda: engine.lens(encoding, selected, masked, top_k=TOP),
        )
        heading = f"MLM lens · {label!r} (token {selected})"
        if result is None:
            return pane.waiting(heading, self.name, "Applying the model's head to every layer…")
        final = result.layers[-1]
        if self.tracked is not None and self.tracked[0] == selected:
            tracked_id, tracked_str = self.tracked[1], self.tracked[2]
        else:
            tracked_id, tracked_str = final.top[0].token, final.top[0].token_str
        watched = []
        mask = pane.mask_result(selected) if pane.tokens.is_masked(selected) else None
        for target in pane.watched_rows(mask):
            if len(target.pieces) == 1 and target.pieces[0] != tracked_id:
                watched.append((target.pieces[0], target.target))
        first = None  # the first layer from which the tracked token stays the top-1 to the last
        for layer in reversed(result.layers):
            if result.rank_prob(layer.layer, tracked_id)[0] != 1:
                break
            first = layer.layer
        known = f" · top-1 from layer {first}" if first is not None else ""
        pane.panel.heading = (
            f"{heading} · tracking {shown_token(tracked_str)!r}{known} · layer 0 = embeddings"
        )
        pane.panel.elapsed_ms = result.elapsed_ms
        columns: list[tuple[str, int, bool]] = [("layer", 5, True)]
        columns += [(f"top {n}", CELL, False) for n in range(1, TOP + 1)]
        for word in (tracked_str, *(w for _, w in watched)):  # rank and probability of each
            columns += [(f"#{shown_token(word)[:6]}", 7, True), ("p", 5, True)]
        columns += [("H", 4, True), ("KL", 4, True)]
        rows = []
        for layer in result.layers:
            cells: list[object] = [str(layer.layer)]
            cells += [_cell(p.token_str, p.score, CELL) for p in layer.top]
            cells += [""] * (TOP - len(layer.top))
            for token_id in (tracked_id, *(i for i, _ in watched)):
                rank, prob = result.rank_prob(layer.layer, token_id)
                cells += [str(rank), f"{prob:.0%}" if prob >= 0.01 else f"{prob:.0e}"]
            cells += [f"{layer.entropy:.1f}", f"{layer.kl_to_final:.1f}"]
            rows.append(tuple(cells))
        key = (encoding.text, tuple(masked), selected, tracked_id, tuple(watched), result.elapsed_ms)
        pane.table.show_rows(key, columns, rows, subject=("lens", encoding.text, selected))
        return Shown(self.name)


class GridView(View):
    """The whole sentence at once: a row per layer, a column per token, the head's top-1 in each cell,
    shaded by its probability; the selected token's column is highlighted and follows the selection."""

    name = "grid"
    WIDTH = 9

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.first = 0
        """The first token whose column is on show."""

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        heading = "Lens grid · top-1"
        result = pane.ask(
            self.name, (encoding.text, tuple(masked)), lambda: engine.lens_grid(encoding, masked)
        )
        if result is None:
            return pane.waiting(
                heading, self.name, "Applying the model's head to every token at every layer…"
            )
        layers, n = result.top_probs.shape
        start, end = result.window if result.window != (0, 0) else (0, n)
        width = self.WIDTH
        selected = min(max(pane.tokens.selected, start), end - 1)
        room = max(1, ((pane.table.content_region.width or 80) - 9) // (width + 2))
        first = self.first if start <= self.first and self.first + room <= end else start
        if not first <= selected < first + room:  # the columns follow the selection, a page at a time
            first = max(start, min(selected - room // 2, end - room))
        self.first = first
        last = min(end, first + room)
        shown = (
            f"tokens {first}–{last - 1} of {start}–{end - 1}" if (first, last) != (0, n) else "every token"
        )
        pane.panel.heading = (
            f"{heading} (shade: probability) · layers 0–{layers - 1} (0 = embeddings) × {shown}"
        )
        pane.panel.elapsed_ms = result.elapsed_ms
        columns = [("layer", 5, True)] + [
            (("▸" if i == pane.tokens.selected else "") + pane.cell_label(i)[:width], width, False)
            for i in range(first, last)
        ]
        rows = []
        for layer in range(layers):
            cells: list[object] = [str(layer)]
            for i in range(first, last):
                prob = float(result.top_probs[layer, i])
                if math.isnan(prob):
                    cells.append("")
                    continue
                token = shown_token(result.top_strs[layer][i])
                token = token if len(token) <= width else token[: width - 1] + "…"
                style = Style(bgcolor=attention_colour(prob) or None, bold=i == pane.tokens.selected)
                cells.append(Text(token.ljust(width), style=style))
            rows.append(tuple(cells))
        key = (encoding.text, tuple(masked), result.elapsed_ms, first, last, pane.tokens.selected)
        pane.table.show_rows(key, columns, rows, subject=("grid", encoding.text))
        return Shown(self.name)
