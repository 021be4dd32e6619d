"""The contextuality curves per layer: an SVG/PNG with matplotlib, else a terminal plot with plotille.

Neither is a dependency of mlm-tui: ``pip install 'mlm-tui[plot]'`` brings matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .contextuality import Contextuality

CURVES = (
    ("self_similarity_adjusted", "self-similarity (adjusted)"),
    ("intra_sentence_similarity_adjusted", "intra-sentence similarity (adjusted)"),
    ("mev", "maximum explainable variance"),
    ("baseline", "anisotropy baseline"),
)
FORMATS = (".svg", ".png")
INSTALL = "pip install 'mlm-tui[plot]'"


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def has_plotille() -> bool:
    try:
        import plotille  # noqa: F401
    except ImportError:
        return False
    return True


def _series(result: Contextuality, key: str) -> list[float]:
    return [float(layer.to_dict()[key]) for layer in result.layers]


def write_plot(results: Sequence[Contextuality], path: str | Path) -> None:
    """The four curves of each model (one line style per model) in one figure, as SVG or PNG."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:grey")
    styles = ("-", "--", ":", "-.")
    for index, result in enumerate(results):
        x = [layer.layer for layer in result.layers]
        for (key, label), colour in zip(CURVES, colours, strict=True):
            name = label if len(results) == 1 else f"{label} · {result.model}"
            axes.plot(
                x, _series(result, key), styles[index % len(styles)], color=colour, marker="o", label=name
            )
    axes.set_xlabel("layer (0 = embeddings)")
    axes.set_ylabel("cosine / share of variance")
    axes.set_title("How contextual each layer is (Ethayarajh 2019)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    suffix = Path(path).suffix.lower()
    metadata = {"Date": None} if suffix == ".svg" else {}  # an SVG without a date: the same bytes each run
    figure.savefig(path, metadata=metadata)


def terminal_plot(results: Sequence[Contextuality], width: int = 60, height: int = 15) -> str:
    """The same curves drawn with plotille (braille), for a terminal without matplotlib."""
    import plotille

    figure = plotille.Figure()
    figure.width, figure.height = width, height
    figure.x_label, figure.y_label = "layer", "value"
    figure.color_mode = "names"
    colours = ("blue", "yellow", "green", "white")
    values = [v for result in results for key, _ in CURVES for v in _series(result, key)]
    figure.set_x_limits(min_=0, max_=max(len(result.layers) - 1 for result in results) or 1)
    figure.set_y_limits(min_=min(0.0, *values), max_=max(1.0, *values))
    for result in results:
        x = [layer.layer for layer in result.layers]
        for (key, label), colour in zip(CURVES, colours, strict=True):
            name = label if len(results) == 1 else f"{label} · {result.model}"
            figure.plot(x, _series(result, key), lc=colour, label=name)
    return str(figure.show(legend=True))
