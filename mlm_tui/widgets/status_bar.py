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

    models: reactive[tuple[str, ...]] = reactive(())
    """One summary per model pane (name, device, dtype, backend, state)."""
    masks: reactive[int] = reactive(0)
    top_k: reactive[int] = reactive(10)
    latency_ms: reactive[float | None] = reactive(None)
    pseudo_perplexity: reactive[tuple[float | None, ...]] = reactive(())
    note: reactive[str] = reactive("")
    """A short state of the sentence (e.g. "editing: enter applies, escape restores")."""

    def render(self) -> Content:
        parts = [" | ".join(self.models)] if self.models else []
        parts += [f"masks {self.masks}", f"top-k {self.top_k}"]
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:.0f} ms")
        shown = [f"{p:.2f}" if p is not None else "…" for p in self.pseudo_perplexity]
        if shown:
            parts.append("PPPL " + " / ".join(shown))
        if self.note:
            parts.append(self.note)
        return Content(" " + " · ".join(parts))  # plain text: names may hold brackets
