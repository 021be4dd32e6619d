"""The model's view of a token it can see: what it predicts there, and how it rates the token itself."""

from __future__ import annotations

from ...engine import UnmaskedResult, UnmaskedToken
from .base import Shown, View


class UnmaskedView(View):
    """One ``unmasked`` pass (in its own worker) serves every token of the text; asked once per text."""

    name = "unmasked"
    substitutes = frozenset({"unmasked"})

    def at(self, index: int) -> UnmaskedToken | None:
        """The model's view of token ``index``, or ``None`` while it is computed."""
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, top_k = pane.engine, pane.encoding, pane.top_k
        masked = sorted(pane.tokens.masked)  # the masks typed in the text are in the encoding already
        result = pane.ask(
            self.name,
            (encoding.text, top_k, tuple(masked)),
            lambda: engine.unmasked(encoding, top_k=top_k, sequences=False, masked=masked),
        )
        return result.at(index) if isinstance(result, UnmaskedResult) else None

    def show(self) -> Shown:
        pane, panel = self.pane, self.pane.panel
        selected = pane.tokens.selected
        label = pane.cell_label(selected)
        view = self.at(selected)
        if view is None:
            return pane.waiting(f"{label!r} as the model sees it", self.name, "Reading every token…")
        masks = len(pane.tokens.all_masks)
        read = (
            f" · reads {masks} mask{'s' if masks > 1 else ''}" if masks else ""
        )  # the context of the numbers
        panel.heading = (
            f"{label!r} unmasked (token {selected}){read} · p {view.score:.1%} · rank {view.rank} · "
            f"entropy {view.entropy:.2f}"
        )
        result = pane.result(self.name)
        panel.elapsed_ms = result.elapsed_ms if isinstance(result, UnmaskedResult) else None
        subject = ("unmasked", pane.encoding.text if pane.encoding else "", selected)
        pane.table.show_predictions(view.predictions, subject=subject)
        return Shown("unmasked", selected)

    def substitute(self, row: int) -> None:
        pane = self.pane
        position = pane.shown.mask
        view = self.at(position) if position is not None else None
        if view is not None and 0 <= row < len(view.predictions):
            chosen = view.predictions[row]
            pane.put([(position, chosen.token, chosen.token_str, None)])
