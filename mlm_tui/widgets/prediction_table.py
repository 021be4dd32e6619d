"""The table under the tokens: predictions at a mask or an unmasked token, surprisal, joint fills, attention."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..bars import bar
from ..engine import (
    AttentionResult,
    JointResult,
    MaskResult,
    Prediction,
    ScoreResult,
    TargetScore,
    shown_token,
)
from .token_view import surprisal_colour

BAR_WIDTH = 24
SCORE_WINDOW = 60
"""Rows of token scores built at once; a long text shows a window around the selected token."""
SCORE_MARGIN = 8


class PredictionTable(DataTable):
    """Rows are predictions (rank, token, probability, bar) or token scores (surprisal view)."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Substitute", tooltip="Put this token in the sentence"),
    ]

    DEFAULT_CSS = """
    PredictionTable {
        height: 1fr;
    }
    """

    ids = False
    """Show each prediction's token id (the ``i`` toggle)."""
    _message: str | None = None
    """The message on show, when the table shows one."""
    _scores_shown: tuple[ScoreResult, int, int] | None = None
    """The scores on show and the slice of their tokens the rows hold."""
    _on_show: tuple[object, ...] | None = None
    """What the rows were built from (fills, a replay step, attention): the same again is not rebuilt."""

    def add_column(self, label, *, width=None, key=None, default=None):  # type: ignore[no-untyped-def]
        """As DataTable's, but a ``str`` label is plain text (DataTable reads it as markup)."""
        label = Text(label) if isinstance(label, str) else label
        return super().add_column(label, width=width, key=key, default=default)

    def add_row(self, *cells, height=1, key=None, label=None):  # type: ignore[no-untyped-def]
        """As DataTable's, but a ``str`` cell is plain text: DataTable reads it as markup, where
        ``[unused922]`` (a BERT token) or ``[b]`` in a sentence is a tag and the cell comes out blank."""
        cells = tuple(Text(c) if isinstance(c, str) else c for c in cells)
        return super().add_row(*cells, height=height, key=key, label=label)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    _redo: Callable[[], None] | None = None
    """The last ``show_*`` call whose bars depend on the width: run again when the table is resized."""

    def row_on_screen(self, row: int) -> bool:
        """Whether ``row`` is drawn in full (not scrolled away, not cut off by a small terminal)."""
        if not 0 <= row < self.row_count:
            return False
        header = self.header_height if self.show_header else 0
        top = header + row - round(self.scroll_y)  # rows are one line high
        return header <= top and top + 1 <= self.scrollable_content_region.height

    def on_resize(self) -> None:
        if self._redo is not None:
            self._redo()  # rebuilt only if the bar width changed (it is part of what was shown)

    def _same(self, *key: object) -> bool:
        """True when the rows already show ``key``; else remember it (the caller builds the rows)."""
        if (
            self._on_show is not None
            and len(self._on_show) == len(key)
            and all(
                a is b or (type(a) is type(b) and a == b) for a, b in zip(self._on_show, key, strict=True)
            )
        ):
            return True
        self._on_show = key
        return False

    _subject: object = None
    """What the rows are about (a mask of a text): the cursor stays only while it is the same."""

    def _begin(self, subject: object = None) -> int:
        """Clear the table for new rows; returns the cursor row to keep.

        A view that opens (another subject, or none given) starts on its first row, so
        ``enter`` applies the best one; the same subject rebuilt (top-k, a resize) keeps the row.
        """
        keep = subject is not None and subject == self._subject
        self._subject = subject
        self._scores_shown = None
        self._message = None
        cursor = self.cursor_row
        self.clear(columns=True)
        return cursor if keep else 0

    def _bar_width(self, used: int, columns: int) -> int:
        # the bar takes what is left (each column has a cell of padding each side; 2 for a scrollbar)
        # content_region, not scrollable_content_region: the width must not depend on whether a
        # scrollbar is on show yet (room for one is always kept), or the bars change with timing
        return max(6, min(BAR_WIDTH, self.content_region.width - used - (columns + 1) * 2 - 2))

    def show_predictions(
        self,
        mask: MaskResult | tuple[Prediction, ...],
        watched: tuple[TargetScore, ...] = (),
        *,
        subject: object = None,
    ) -> None:
        """Top-k rows, then a row per watched word (◆, its probability and rank at this mask).

        ``subject`` names what they are about: the highlight stays on its row only while it is the same.
        """
        predictions = mask.predictions if isinstance(mask, MaskResult) else mask
        self._redo = partial(self.show_predictions, mask, watched, subject=subject)
        ids = self.ids
        width = self._bar_width(3 + 18 + 7 + (7 if ids else 0), 4 if ids else 3)
        if self._same("predictions", predictions, watched, width, subject, ids):
            return
        cursor = self._begin(subject)
        self.add_column("#", key="rank", width=3)
        self.add_column("token", key="token", width=18)
        if ids:
            self.add_column(Text("id", justify="right"), key="id", width=7)
        self.add_column(Text("prob", justify="right"), key="prob", width=7)
        self.add_column("", key="bar", width=width)
        best = predictions[0].score if predictions else 1.0
        for rank, prediction in enumerate(predictions, start=1):
            shown = shown_token(prediction.token_str)
            self.add_row(
                Text(str(rank), justify="right"),
                shown,
                *([Text(str(prediction.token), justify="right")] if ids else []),
                Text(f"{prediction.score:.2%}", justify="right"),
                bar(prediction.score / best if best else 0, width),
                key=str(prediction.token),
            )
        for target in watched:
            self.add_row(
                Text("◆", justify="right", style="bold"),
                f"{target.target} (#{target.rank})",
                *([Text(" ".join(map(str, target.pieces)), justify="right")] if ids else []),
                Text(f"{target.score:.2%}", justify="right"),
                bar(target.score / best if best else 0, width),
                key="watch:" + target.target,
            )
        self.move_cursor(row=min(cursor, max(0, self.row_count - 1)), animate=False)

    def show_fills(self, joint: JointResult) -> None:
        """Joint fills best first: the fill's words at the masks, its joint log p, the sentence."""
        self._redo = None
        if self._same("fills", joint):
            return
        cursor = self._begin()
        self.add_column("#", key="rank", width=3)
        self.add_column(Text("log p", justify="right"), key="log_prob", width=7)
        self.add_column("at the masks", key="pieces", width=22)
        self.add_column("sentence", key="sequence")
        for rank, fill in enumerate(joint.fills, start=1):
            pieces = " · ".join(shown_token(t) for t in fill.token_strs)
            independent = fill.tokens == joint.independent.tokens
            self.add_row(
                Text(str(rank), justify="right"),
                Text(f"{fill.log_prob:.2f}", justify="right"),
                Text(pieces + (" (ind.)" if independent else ""), style="italic" if independent else ""),
                fill.sequence,
                key=f"fill:{rank}",
            )
        self.move_cursor(row=min(cursor, max(0, self.row_count - 1)), animate=False)

    def show_replay(self, joint: JointResult, step: int) -> None:
        """The best fill's steps, the first ``step`` revealed: which mask, which token, its probability then."""
        self._redo = partial(self.show_replay, joint, step)
        width = self._bar_width(4 + 6 + 18 + 9, 5)
        if self._same("replay", joint, step, width):
            return
        self._begin()
        self.add_column("step", key="step", width=4)
        self.add_column("token", key="position", width=6)
        self.add_column("chosen", key="token", width=18)
        self.add_column(Text("prob then", justify="right"), key="prob", width=9)
        self.add_column("", key="bar", width=width)
        for number, fill_step in enumerate(joint.steps, start=1):
            shown = number <= step
            token = shown_token(fill_step.token_str)
            self.add_row(
                Text(str(number), justify="right"),
                Text(str(fill_step.position), justify="right"),
                token if shown else "…",
                Text(f"{fill_step.score:.2%}" if shown else "", justify="right"),
                bar(fill_step.score, width) if shown else "",
                key=f"step:{number}",
            )
        self.move_cursor(row=max(0, step - 1), animate=False)

    def show_attention(
        self, result: AttentionResult, layer: int, head: int | None, labels: list[str]
    ) -> None:
        """Every token the selected one attends to, most attended first, with the weight and a bar."""
        self._redo = partial(self.show_attention, result, layer, head, labels)
        width = self._bar_width(4 + 18 + 7, 4)
        if self._same("attention", result, layer, head, width):
            return
        self._begin()
        weights = result.row(layer, head)
        order = sorted(
            (i for i, w in enumerate(weights) if not math.isnan(w)), key=lambda i: (-weights[i], i)
        )
        self.add_column("#", key="index", width=4)
        self.add_column("token", key="token", width=18)
        self.add_column(Text("weight", justify="right"), key="weight", width=7)
        self.add_column("", key="bar", width=width)
        for index in order:
            self.add_row(
                Text(str(index), justify="right"),
                labels[index],
                Text(f"{weights[index]:.3f}", justify="right"),
                bar(weights[index], width),
                key=f"attention:{index}",
            )
        self.move_cursor(row=0, animate=False)

    def show_rows(
        self,
        key: tuple[object, ...],
        columns: list[tuple[str, int, bool]],
        rows: list[tuple[object, ...]],
        *,
        subject: object = None,
        cursor: int = 0,
        bar_column: int | None = None,
    ) -> None:
        """Rows a view formatted itself: ``columns`` are ``(label, width, right-aligned)``; ``key`` says
        what the rows were built from (the same again is not rebuilt). ``bar_column``: that column's
        width is what the table has left, and its cells are fractions drawn as bars."""
        widths = [w for _, w, _ in columns]
        if bar_column is not None:
            widths[bar_column] = self._bar_width(sum(widths) - widths[bar_column], len(columns) - 1)
            self._redo = partial(
                self.show_rows, key, columns, rows, subject=subject, cursor=cursor, bar_column=bar_column
            )
        else:
            self._redo = None
        if self._same("rows", *key, tuple(widths)):
            return
        keep = self._begin(subject)
        for (label, _, right), width in zip(columns, widths, strict=True):
            self.add_column(Text(label, justify="right") if right else label, width=width)
        for number, row in enumerate(rows):
            cells = []
            for index, cell in enumerate(row):
                if index == bar_column and isinstance(cell, float):
                    cells.append(bar(cell, widths[index]) if cell == cell else "")
                elif columns[index][2] and isinstance(cell, str):
                    cells.append(Text(cell, justify="right"))
                else:
                    cells.append(cell)
            self.add_row(*cells, key=f"row:{number}")
        self.move_cursor(row=min(keep or cursor, max(0, len(rows) - 1)), animate=False)

    def show_scores(self, scores: ScoreResult, selected: int) -> None:
        """Token scores around the ``selected`` token, with the cursor on it.

        A long text gets a window of rows around the selection, rebuilt only when the
        selection nears its edge, so a cursor move never rebuilds thousands of rows.
        """
        here = next((n for n, t in enumerate(scores.tokens) if t.index >= selected), len(scores.tokens) - 1)
        shown = self._scores_shown
        if shown is not None and shown[0] is scores:
            _, first, last = shown
            low = first + (SCORE_MARGIN if first > 0 else 0)  # no margin at the text's own ends
            high = last - (SCORE_MARGIN if last < len(scores.tokens) else 0)
            if low <= here < high:
                self.move_cursor(row=here - first, animate=False)
                return
        first = max(0, here - SCORE_WINDOW // 2)
        last = min(len(scores.tokens), first + SCORE_WINDOW)
        first = max(0, last - SCORE_WINDOW)
        self.clear(columns=True)
        self.add_column("#", key="index", width=3)
        self.add_column("token", key="token", width=18)
        self.add_column(Text("log p", justify="right"), key="log_prob", width=7)
        self.add_column(Text("surprisal", justify="right"), key="surprisal", width=9)
        self.add_column("", key="bar", width=16)
        finite = [t.surprisal for t in scores.tokens if math.isfinite(t.surprisal)]
        worst = max(finite, default=1.0) or 1.0
        for token in scores.tokens[first:last]:
            self.add_row(
                Text(str(token.index), justify="right"),
                token.token,
                Text(f"{token.log_prob:.2f}", justify="right"),
                Text(f"{token.surprisal:.2f}", justify="right"),
                Text(bar(token.surprisal / worst, 16), style=surprisal_colour(token.surprisal)),
                key=str(token.index),
            )
        self._scores_shown = (scores, first, last)
        self._subject = None
        self._message = None
        self._on_show = None
        self._redo = None
        self.move_cursor(row=max(0, here - first), animate=False)

    def show_message(self, message: str) -> None:
        if self._message == message:
            return  # already on show: a cursor move must not rebuild (and re-lay out) the table
        self._scores_shown = None
        self._on_show = None
        self._subject = None
        self._redo = None
        self._message = message
        self.clear(columns=True)
        self.add_column(message, key="message")
