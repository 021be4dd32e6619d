"""Token similarity: the cells shaded by how like the selected token each token is at one layer.

The cosine of every token's layer-ℓ vector to the selected one's (raw, or each dimension
standardised over the sentence first: Timkey & van Schijndel 2021 find 1–3 "rogue dimensions"
dominate raw cosine in BERT). Beside the list, the selected token's strip over the layers: its
vector's norm, its cosine to the previous layer and to the input embedding (layer 0). The hidden
states come from the engine's cache when the lens read the same text (no second forward pass).
"""

from __future__ import annotations

import math

from .base import Shown, View


class SimilarityView(View):
    name = "similarity"
    keys = frozenset({"layer", "variant"})
    shades = True

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.layer: int | None = None
        """The layer shown; ``None``: the last."""
        self.standardise = False

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        selected = pane.tokens.selected
        label = pane.cell_label(selected)
        states = pane.ask(
            "hidden", (encoding.text, tuple(masked)), lambda: engine.hidden_states(encoding, masked)
        )
        if states is None:
            return pane.waiting(f"Similarity to {label!r}", "hidden", "Reading every layer's vectors…")
        layers = states.layers
        layer = self.layer = layers - 1 if self.layer is None else max(0, min(self.layer, layers - 1))
        cosine = states.cosine(layer, self.standardise)[selected]
        if math.isnan(float(cosine[selected])):
            pane.panel.heading = f"Similarity to {label!r}"
            pane.panel.elapsed_ms = None
            pane.table.show_message("This token is outside the window the model read; select one inside it.")
            return Shown("message")
        how = "standardised dimensions" if self.standardise else "raw"
        pane.panel.heading = (
            f"Similarity to {label!r} (token {selected}) · layer {layer} (0–{layers - 1}) · cosine, {how}"
        )
        pane.panel.elapsed_ms = states.elapsed_ms
        values = {i: float(c) for i, c in enumerate(cosine) if not math.isnan(float(c))}
        pane.tokens.shade = {i: max(0.0, c) for i, c in values.items()}
        order = sorted((i for i in values if i != selected), key=lambda i: (-values[i], i))
        strip = states.strip(selected)
        columns = [
            ("#", 4, True),
            ("token", 14, False),
            ("cosine", 7, True),
            ("", 8, False),
            ("layer", 5, True),
            ("norm", 7, True),
            ("cos prev", 8, True),
            ("cos emb", 8, True),
        ]
        rows = []
        for n in range(max(len(order), len(strip))):
            cells: list[object] = ["", "", "", 0.0]
            if n < len(order):
                i = order[n]
                cells = [str(i), pane.cell_label(i), f"{values[i]:.3f}", max(0.0, values[i])]
            if n < len(strip):
                norm, previous, first = strip[n]
                mark = "▸" if n == layer else ""
                cells += [f"{mark}{n}", f"{norm:.1f}", _fmt(previous), _fmt(first)]
            else:
                cells += ["", "", "", ""]
            rows.append(tuple(cells))
        key = (encoding.text, tuple(masked), selected, layer, self.standardise, states.elapsed_ms)
        pane.table.show_rows(
            key, columns, rows, subject=("similarity", encoding.text, selected), bar_column=3
        )
        return Shown(self.name)

    def act(self, action: str, step: int = 0) -> None:
        states = self.pane.last("hidden")
        if action == "layer" and states is not None:
            layers = states.layers
            layer = (layers - 1 if self.layer is None else self.layer) + step
            self.layer = max(0, min(layers - 1, layer))
        elif action == "variant":
            self.standardise = not self.standardise


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.3f}"
