"""A small modal that asks which model to compare with."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class ModelPicker(ModalScreen[str | None]):
    """Type a Hugging Face id, a folder or a bundled name; enter opens it, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    ModelPicker {
        align: center middle;
    }
    ModelPicker > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, prompt: str = "Compare with which model?") -> None:
        super().__init__()
        self._prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._prompt
            yield Static(
                "A Hugging Face id, a local folder, or minilm-mlm-en. Enter opens it, escape cancels."
            )
            yield Input(placeholder="bert-base-uncased", id="model-name")

    @on(Input.Submitted, "#model-name")
    def _chosen(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        self.dismiss(name or None)
