"""The senses screen: the occurrences of a word at one layer of an index, as a scatter coloured by cluster.

The picture is a braille scatter drawn by plotille into a ``Static`` (redrawn to the widget's size), the
legend beside it, and a table of each cluster's most typical sentences with the model's top fill there.
``<``/``>`` step the index's layers, ``k``/``K`` add or remove a cluster (``a``: back to the silhouette's
choice), ``x``/``X`` export the picture as SVG/PNG, ``escape`` closes. The analysis
(:func:`mlm_tui.index.senses.senses`) runs in a thread worker; a result for an older request is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from ..engine import EngineError


@dataclass(frozen=True)
class SensesRequest:
    """What to show: a word of an index at a layer (``k`` None: by silhouette)."""

    index: str
    word: str
    layer: int
    k: int | None = None
    top: int = 3
    limit: int = 5_000
    seed: int = 0


def scatter(result: Any, width: int, height: int) -> Text:
    """The scatter as braille (plotille), one colour a cluster; ``width``×``height`` cells in all."""
    import plotille

    from ..index.senses import colour

    figure = plotille.Figure()
    figure.width = max(10, width - 24)  # plotille adds the y labels (12) left and the x label (10) right
    figure.height = max(3, height - 4)  # and the x axis (3 lines) below
    figure.color_mode = "rgb"
    figure.with_colors = True
    figure.origin = False
    x, y = result.xy[:, 0], result.xy[:, 1]
    pad_x = (float(x.max() - x.min()) or 1.0) * 0.05
    pad_y = (float(y.max() - y.min()) or 1.0) * 0.05
    figure.set_x_limits(float(x.min()) - pad_x, float(x.max()) + pad_x)
    figure.set_y_limits(float(y.min()) - pad_y, float(y.max()) + pad_y)
    figure.x_label, figure.y_label = "PC 1", "PC 2"
    for c in result.clusters:
        members = result.labels == c.cluster
        figure.scatter(x[members].tolist(), y[members].tolist(), lc=colour(c.cluster))
    figure.y_ticks_fkt = lambda low, _high: f"{low:.2f}"
    figure.x_ticks_fkt = lambda low, _high: f"{low:.2f}"
    text = Text.from_ansi(figure.show(legend=False))
    text.no_wrap, text.overflow = True, "crop"
    return text


def _rgb(cluster: int) -> str:
    from ..index.senses import colour

    r, g, b = colour(cluster)
    return f"rgb({r},{g},{b})"


class SensesScreen(Screen[None]):
    """A word's occurrences at one layer: scatter, legend and typical sentences."""

    DEFAULT_CSS = """
    SensesScreen #senses-title {
        height: auto;
        padding: 0 1;
        background: $boost;
        text-style: bold;
    }
    SensesScreen #senses-top {
        height: 2fr;
    }
    SensesScreen #senses-plot {
        width: 1fr;
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    SensesScreen #senses-legend {
        width: 30;
        height: 1fr;
        border: round $accent;
        border-title-color: $text;
        padding: 0 1;
    }
    SensesScreen #senses-table {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("less_than_sign", "layer(-1)", "< Layer", id="senses-layer-down", tooltip="The layer before"),
        Binding("greater_than_sign", "layer(1)", "Layer >", id="senses-layer-up", tooltip="The next layer"),
        Binding("k", "clusters(1)", "k+1", id="senses-more", tooltip="One more cluster"),
        Binding("K", "clusters(-1)", "k-1", id="senses-fewer", tooltip="One cluster fewer"),
        Binding("a", "auto_k", "Auto k", id="senses-auto", tooltip="k by the best silhouette"),
        Binding("x", "export('svg')", "SVG", id="senses-svg", tooltip="Export the picture as SVG"),
        Binding("X", "export('png')", "PNG", show=False, id="senses-png", tooltip="Export it as PNG"),
        Binding("escape", "close", "Close", id="senses-close", tooltip="Close the senses screen"),
    ]

    class Ready(Message):
        """A result (or a one-line error) for request ``number``."""

        def __init__(self, number: int, result: Any = None, error: str | None = None) -> None:
            super().__init__()
            self.number = number
            self.result = result
            self.error = error

    def __init__(self, request: SensesRequest, loader: Any, *, export_dir: Path | None = None) -> None:
        super().__init__()
        self.request = request
        self._loader = loader
        self._export_dir = export_dir
        self._layer = request.layer
        self._k = request.k
        self._number = 0
        self._index: Any = None
        self._engine: Any = None
        self.result: Any = None
        """The result shown (None until the first arrives)."""
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"{self.request.word!r} at layer {self._layer}: computing…", id="senses-title")
        with Horizontal(id="senses-top"):
            yield Static("", id="senses-plot")
            yield Static("", id="senses-legend")
        table: DataTable[Any] = DataTable(id="senses-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("cluster", "line", "fill", "p", "sentence")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#senses-legend", Static).border_title = "clusters"
        self._compute()

    # ------------------------------------------------------------------ work

    def _compute(self) -> None:
        self._number += 1
        self.query_one("#senses-title", Static).update(
            f"{self.request.word!r} at layer {self._layer}: computing…"
        )
        self._run(self._number, self._layer, self._k)

    @work(thread=True, exclusive=True, exit_on_error=False, group="senses")
    def _run(self, number: int, layer: int, k: int | None) -> None:
        from ..index import Index
        from ..index import senses as core

        worker = get_current_worker()
        try:
            if self._index is None:
                self._index = Index(self.request.index)
            if self._engine is None:
                self._engine = self._loader(lambda _stage: None)
            result = core.senses(
                self._index,
                self.request.word,
                layer,
                k=k,
                top=self.request.top,
                limit=self.request.limit,
                seed=self.request.seed,
                fill=core.engine_fill(self._engine),
            )
        except EngineError as exc:
            if not worker.is_cancelled:
                self.post_message(self.Ready(number, error=str(exc)))
            return
        except Exception as exc:  # never a silent "computing…": the error, in one line
            if not worker.is_cancelled:
                self.post_message(self.Ready(number, error=f"{type(exc).__name__}: {exc}".splitlines()[0]))
            return
        if not worker.is_cancelled:
            self.post_message(self.Ready(number, result=result))

    @on(Ready)
    def _ready(self, message: Ready) -> None:
        if message.number != self._number:
            return  # an older request
        if message.error is not None:
            self.error = message.error
            self.query_one("#senses-title", Static).update(Text(message.error, style="bold red"))
            self.notify(message.error, severity="error", markup=False)
            return
        self.error = None
        self.result = message.result
        self._show()

    # ------------------------------------------------------------------ drawing

    def _show(self) -> None:
        from ..index.senses import title

        result = self.result
        if result is None:
            return
        keys = "  (< > layers, k/K clusters)"
        self.query_one("#senses-title", Static).update(Text(title(result) + keys))
        self._draw_plot()
        legend = Text()
        for c in result.clusters:
            fill = c.typical[0].fill if c.typical else None
            legend.append("● ", style=_rgb(c.cluster))
            legend.append(f"{c.cluster}: {c.size}")
            if fill:
                legend.append(f" · {fill}")
            legend.append("\n")
        ev = result.explained_variance
        legend.append(f"\nPC 1 {ev[0]:.0%}, PC 2 {ev[1]:.0%}\n", style="dim")
        legend.append(
            "silhouette\n" + "\n".join(f" k={k}: {s:.3f}" for k, s in result.silhouettes.items()),
            style="dim",
        )
        self.query_one("#senses-legend", Static).update(legend)
        table = self.query_one("#senses-table", DataTable)
        table.clear()
        for c in result.clusters:
            for t in c.typical:
                o = t.occurrence
                sentence = Text(o.text[: o.start])
                sentence.append(o.text[o.start : o.end], style=f"bold {_rgb(c.cluster)}")
                sentence.append(o.text[o.end :])
                p = "" if t.fill_probability is None else f"{t.fill_probability:.2f}"
                table.add_row(
                    Text(f"● {c.cluster}", style=_rgb(c.cluster)), str(o.line), t.fill or "", p, sentence
                )
        if table.row_count:
            table.move_cursor(row=0)

    def _draw_plot(self) -> None:
        plot = self.query_one("#senses-plot", Static)
        if self.result is None:
            return
        size = plot.content_size
        plot.update(scatter(self.result, max(size.width, 20), max(size.height, 6)))

    def on_resize(self) -> None:
        self.call_after_refresh(self._draw_plot)

    # ------------------------------------------------------------------ actions

    def action_layer(self, step: int) -> None:
        layers = self._index.manifest.layers if self._index is not None else [self._layer]
        at = layers.index(self._layer) if self._layer in layers else 0
        new = layers[max(0, min(len(layers) - 1, at + step))]
        if new != self._layer:
            self._layer = new
            self._compute()

    def action_clusters(self, step: int) -> None:
        current = self._k if self._k is not None else (self.result.k if self.result is not None else 2)
        n = len(self.result.items) if self.result is not None else 0
        new = max(2, min(current + step, max(2, n - 1)))
        if new != self._k:
            self._k = new
            self._compute()

    def action_auto_k(self) -> None:
        if self._k is not None:
            self._k = None
            self._compute()

    def action_export(self, kind: str) -> None:
        from ..export import exports_dir
        from ..index.senses import INSTALL, write_plot

        if self.result is None:
            self.notify("nothing to export yet", severity="warning")
            return
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.notify(f"exporting the picture needs matplotlib: {INSTALL}", severity="error", markup=False)
            return
        folder = self._export_dir or exports_dir()
        word = re.sub(r"[^\w-]+", "_", self.result.word) or "word"
        path = folder / f"senses-{word}-layer{self.result.layer}-k{self.result.k}.{kind}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_plot(self.result, path)
        except OSError as exc:
            self.notify(f"could not write {path}: {exc}", severity="error", markup=False)
            return
        self.notify(f"wrote {path}", markup=False)

    def action_close(self) -> None:
        self.dismiss()
