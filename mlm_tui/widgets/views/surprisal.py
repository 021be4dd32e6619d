"""Surprisal: every token's pseudo-log-likelihood score (the cells are coloured by it meanwhile)."""

from __future__ import annotations

from .base import Shown, View


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
        panel.heading = f"Surprisal · pseudo-perplexity {pane.scores.pseudo_perplexity:.2f}"
        panel.elapsed_ms = pane.scores.elapsed_ms
        pane.table.show_scores(pane.scores, pane.tokens.selected)
        return Shown("scores")
