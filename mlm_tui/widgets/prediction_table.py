"""The table under the tokens: top-k predictions for a mask, or per-token surprisal."""

from __future__ import annotations

import math

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from ..bars import bar
from ..engine import MaskResult, ScoreResult
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

    _message: str | None = None
    """The message on show, when the table shows one."""
    _scores_shown: tuple[ScoreResult, int, int] | None = None
    """The scores on show and the slice of their tokens the rows hold."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show_predictions(self, mask: MaskResult) -> None:
        self._scores_shown = None
        self._message = None
        cursor = self.cursor_row
        self.clear(columns=True)
        self.add_column("#", key="rank", width=3)
        self.add_column("token", key="token", width=18)
        self.add_column(Text("prob", justify="right"), key="prob", width=7)
        # the bar takes what is left (each column has a cell of padding each side; 2 for a scrollbar)
        width = max(6, min(BAR_WIDTH, self.scrollable_content_region.width - (3 + 18 + 7) - 4 * 2 - 2))
        self.add_column("", key="bar", width=width)
        best = mask.predictions[0].score if mask.predictions else 1.0
        for rank, prediction in enumerate(mask.predictions, start=1):
            shown = prediction.token_str.strip() or repr(prediction.token_str)
            self.add_row(
                Text(str(rank), justify="right"),
                shown,
                Text(f"{prediction.score:.2%}", justify="right"),
                bar(prediction.score / best if best else 0, width),
                key=str(prediction.token),
            )
        self.move_cursor(row=min(cursor, max(0, self.row_count - 1)), animate=False)

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
        self._message = None
        self.move_cursor(row=max(0, here - first), animate=False)

    def show_message(self, message: str) -> None:
        if self._message == message:
            return  # already on show: a cursor move must not rebuild (and re-lay out) the table
        self._scores_shown = None
        self._message = message
        self.clear(columns=True)
        self.add_column(message, key="message")
