"""The one-line status bar: what each model is doing and the state of the sentence, as reactives."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    """Parents set the reactives; the bar renders them. Nobody writes its text directly."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text-muted;
    }
    """

    models: reactive[tuple[tuple[str, str], ...]] = reactive(())
    """Per model pane: a short summary (name, and its state while not ready) and the full one
    (name, device, dtype, backend, state)."""
    masks: reactive[int] = reactive(0)
    top_k: reactive[int] = reactive(10)
    latency_ms: reactive[float | None] = reactive(None)
    pseudo_perplexity: reactive[tuple[float | None, ...]] = reactive(())
    note: reactive[str] = reactive("")
    """A short state of the sentence (e.g. "editing: enter applies, escape restores")."""

    def lines(self) -> list[str]:
        """The bar's text, from the fullest to the shortest: the first that fits the width is shown.

        Fields give way by priority, the least useful first: the models' device, dtype and
        backend, then the latency, then long model names; the masks, top-k, pseudo-perplexity
        and the note stay longest.
        """
        pppl = [f"{p:.2f}" if p is not None else "…" for p in self.pseudo_perplexity]

        def line(models: list[str], latency: bool, top_k: str) -> str:
            parts = [" | ".join(models)] if models else []
            parts += [f"masks {self.masks}", top_k]
            if latency and self.latency_ms is not None:
                parts.append(f"{self.latency_ms:.0f} ms")
            if pppl:
                parts.append("PPPL " + " / ".join(pppl))
            if self.note:
                parts.append(self.note)
            return " " + " · ".join(parts)

        full = [m[1] for m in self.models]
        short = [m[0] for m in self.models]
        cut = [name if len(name) <= 18 else name[:17] + "…" for name in short]
        top_k = f"top-k {self.top_k}"
        return [
            line(full, True, top_k),
            line(short, True, top_k),
            line(short, False, top_k),
            line(cut, False, top_k),
            line(cut, False, f"k {self.top_k}"),
            line([], False, f"k {self.top_k}"),
        ]

    def render(self) -> Content:
        width = self.size.width
        lines = self.lines()
        shown = next((line for line in lines if len(line) <= width), None)
        if shown is None:
            shown = lines[-1][: max(0, width - 1)] + "…"
        return Content(shown)  # plain text: names may hold brackets
