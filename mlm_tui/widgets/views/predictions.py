"""The predictions at a mask (the fill-mask pipeline's top-k, and the watched words); ``enter`` puts one in."""

from __future__ import annotations

from .base import Shown, View


class PredictionsView(View):
    """Asks for nothing itself: the pane keeps the predictions at every mask up to date (``predict``
    worker), as the comparison line and the export read them too."""

    name = "predictions"
    substitutes = frozenset({"predictions"})

    def show(self) -> Shown:
        pane, panel, table = self.pane, self.pane.panel, self.pane.table
        panel.elapsed_ms = None
        mask = pane.shown_mask()
        if mask is None:
            panel.heading = "Predictions"
            if pane.encoding is not None:
                table.show_message("Press m to mask the selected token, M for its whole word.")
            return Shown("message")
        masks = pane.tokens.all_masks
        panel.heading = f"Predictions · mask {masks.index(mask) + 1} of {len(masks)} (token {mask})"
        result = pane.mask_result(mask)
        if result is None:
            table.show_message(f"Could not predict: {pane.error}" if pane.error else "Predicting…")
            return Shown("message")
        assert pane.predictions is not None
        panel.elapsed_ms = pane.predictions.elapsed_ms
        subject = ("predictions", pane.encoding.text if pane.encoding else "", mask)
        table.show_predictions(result, pane.watched_rows(result), subject=subject)
        return Shown("predictions", mask)

    def substitute(self, row: int) -> None:
        pane = self.pane
        position = pane.shown.mask
        if position is None:
            return
        result = pane.predictions.for_position(position) if pane.predictions is not None else None
        predictions = result.predictions if result is not None else ()
        targets = pane.watched_rows(result)
        if 0 <= row < len(predictions):
            chosen = predictions[row]
            pane.put([(position, chosen.token, chosen.token_str, None)])
        elif 0 <= row - len(predictions) < len(targets):
            target = targets[row - len(predictions)]
            pane.put([(position, target.pieces[0], target.token_str, target.target)])
