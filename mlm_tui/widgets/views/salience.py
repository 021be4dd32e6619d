"""Salience: which input tokens make the model predict a token at a mask.

Integrated gradients (20 steps, a ``[MASK]`` or zero baseline) or gradient × input of the target's
log-probability with respect to the word embeddings, one number per token (the engine's
``salience``, in its own worker; on ONNX Runtime the PyTorch weights load the first time). The
target is the prediction highlighted when the view opened, else the top one at the mask; ``z``
steps the method and baseline.
"""

from __future__ import annotations

import math

from ...engine import shown_token
from .base import Shown, View

METHODS = (("ig", "mask"), ("ig", "zero"), ("grad-input", ""))
STEPS = 20


class SalienceView(View):
    name = "salience"
    keys = frozenset({"variant"})
    shades = True

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.method = 0
        """Index into :data:`METHODS`."""
        self.tracked: tuple[int, int, str] | None = None
        """``(mask position, token id, token_str)`` highlighted when the view opened."""

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        mask = pane.shown_mask()
        if mask is None:
            pane.panel.heading = "Salience"
            pane.panel.elapsed_ms = None
            pane.table.show_message("Salience explains a prediction at a mask: mask a token (m).")
            return Shown("message")
        if self.tracked is not None and self.tracked[0] == mask:
            target, target_str = self.tracked[1], self.tracked[2]
        else:
            predicted = pane.mask_result(mask)
            if predicted is None or not predicted.predictions:
                return pane.waiting("Salience", "salience", "Predicting…")
            target, target_str = predicted.predictions[0].token, predicted.predictions[0].token_str
        method, baseline = METHODS[self.method]
        where = pane.cell_label(mask)
        result = pane.ask(
            self.name,
            (encoding.text, tuple(masked), mask, target, method, baseline),
            lambda: engine.salience(
                encoding, mask, target, masked, method=method, steps=None, baseline=baseline or "mask"
            ),
        )
        heading = f"Salience of {shown_token(target_str)!r} at {where!r} (token {mask})"
        if result is None:
            waiting = f"Integrating gradients ({STEPS}+ steps)…" if method == "ig" else "Taking the gradient…"
            if engine.info.backend == "onnx":
                waiting += " (the first time on ONNX Runtime loads the PyTorch weights: a few seconds)"
            return pane.waiting(heading, self.name, waiting)
        if method == "ig":
            total, expected = result.completeness
            how = (
                f"integrated gradients, {result.steps} steps, {'[MASK]' if baseline == 'mask' else 'zero'} "
                f"baseline · Σ {total:.3f} of Δ {expected:.3f}"
            )
        else:
            how = "gradient × input"
        pane.panel.heading = f"{heading} · log p {result.log_prob:.2f} · {how}"
        pane.panel.elapsed_ms = result.elapsed_ms
        values = {i: float(a) for i, a in enumerate(result.attributions) if not math.isnan(float(a))}
        top = max((abs(a) for a in values.values()), default=0.0) or 1.0
        pane.tokens.shade = {i: abs(a) / top for i, a in values.items()}
        order = sorted(values, key=lambda i: (-values[i], i))
        columns = [("#", 4, True), ("token", 16, False), ("attribution", 11, True), ("", 8, False)]
        rows = [(str(i), pane.cell_label(i), f"{values[i]:+.4f}", abs(values[i]) / top) for i in order]
        key = (encoding.text, tuple(masked), mask, target, method, baseline, result.elapsed_ms)
        pane.table.show_rows(key, columns, rows, subject=("salience", encoding.text, mask), bar_column=3)
        return Shown(self.name)

    def act(self, action: str, step: int = 0) -> None:
        if action == "variant":
            self.method = (self.method + 1) % len(METHODS)
