"""What the selected token attends to: the cells shaded by one layer's (one head's) weights."""

from __future__ import annotations

from ...engine import AttentionResult
from .base import Shown, View


class AttentionView(View):
    """Asks ``attention`` (eager PyTorch; on ONNX Runtime the weights load the first time) in its own
    worker; ``<``/``>`` step the layer, ``,``/``.`` the head, ``0`` the mean over heads."""

    name = "attention"
    keys = frozenset({"layer", "head", "mean_heads"})
    shades = True

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.layer: int | None = None
        """The layer shown; ``None``: the last."""
        self.head: int | None = None
        """The head shown; ``None``: the mean over heads."""

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        selected = pane.tokens.selected
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        label = pane.cell_label(selected)
        attention = pane.ask(
            self.name,
            (encoding.text, tuple(masked), selected),
            lambda: engine.attention(encoding, selected, masked),
        )
        if not isinstance(attention, AttentionResult):
            waiting = "Reading the attention weights…"
            if engine.info.backend == "onnx":
                waiting += " (the first time on ONNX Runtime loads the PyTorch weights: a few seconds)"
            return pane.waiting(f"Attention from {label!r}", self.name, waiting)
        layers, heads = attention.layers, attention.heads
        layer = layers - 1 if self.layer is None else max(0, min(self.layer, layers - 1))
        head = None if self.head is None else max(0, min(self.head, heads - 1))
        self.layer, self.head = layer, head
        which = f"mean of {heads} heads" if head is None else f"head {head} (0–{heads - 1})"
        pane.panel.heading = (
            f"Attention from {label!r} (token {selected}) · layer {layer} (0–{layers - 1}) · {which}"
        )
        pane.panel.elapsed_ms = None
        weights = attention.row(layer, head)
        top = max((w for w in weights if w == w), default=0.0) or 1.0
        pane.tokens.shade = {i: w / top for i, w in enumerate(weights) if w == w}
        labels = [pane.cell_label(i) for i in range(len(encoding.tokens))]
        pane.table.show_attention(attention, layer, head, labels)
        return Shown("attention")

    def act(self, action: str, step: int = 0) -> None:
        """``<``/``>`` (``layer``), ``,``/``.`` (``head``), ``0`` (``mean_heads``): only once the weights are here."""
        result = self.pane.last(self.name)
        if not isinstance(result, AttentionResult):
            return
        layers, heads = result.layers, result.heads
        if action == "layer":
            layer = (layers - 1 if self.layer is None else self.layer) + step
            self.layer = max(0, min(layers - 1, layer))
        elif action == "head":
            if self.head is None:
                self.head = 0 if step > 0 else heads - 1
            else:
                self.head = max(0, min(heads - 1, self.head + step))
        elif action == "mean_heads":
            self.head = None
