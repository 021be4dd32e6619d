"""Surprisal: every token's pseudo-log-likelihood score (the cells are coloured by it meanwhile)."""

from __future__ import annotations

from ...engine import ScoreResult
from .base import Shown, View


def heading(scores: ScoreResult, counted: str | None = None, marked: list[int] | tuple[int, ...] = ()) -> str:
    """The title: the PLL (the sum of the rows' log p) beside the pseudo-perplexity, and, where the
    underlined tokens are what a metric counts (a CrowS-Pairs pair), ``counted`` and their sum, to 3
    decimals as the results row shows it."""
    title = f"Surprisal · PLL {scores.pll:.2f} · pseudo-perplexity {scores.pseudo_perplexity:.2f}"
    if counted:
        positions = set(marked)
        values = [t.log_prob for t in scores.tokens if t.index in positions]  # in token order, as metric.py
        total = 0.0
        for value in values:  # added one by one as metric.py does (sum() compensates since Python 3.12)
            total += value
        title += f" · {counted} {round(total, 3):.3f} ({len(values)} underlined)"
    return title


class SurprisalView(View):
    """The pane keeps the scores (``score`` worker, asked while ``s`` is on: the cells, the comparison
    line and the export read them); this view lists them at a token that is not masked."""

    name = "scores"

    def wanted(self) -> bool:
        """The scores at an unmasked token, or the wait for them while the text has no mask."""
        pane = self.pane
        if not pane.show_surprisal:
            return False
        if pane.scores is not None:
            return not pane.tokens.is_masked(pane.tokens.selected)
        return pane.encoding is not None and pane.shown_mask() is None

    def show(self) -> Shown:
        pane, panel = self.pane, self.pane.panel
        if pane.scores is None:
            panel.heading = "Surprisal"
            panel.elapsed_ms = None
            pane.table.show_message(
                f"Cannot score: {pane.score_error}" if pane.score_error else "Scoring every token…"
            )
            return Shown("message")
        panel.heading = heading(pane.scores, pane.tokens.marks_counted, pane.tokens.marked_positions())
        panel.elapsed_ms = pane.scores.elapsed_ms
        pane.table.show_scores(pane.scores, pane.tokens.selected)
        return Shown("scores")
