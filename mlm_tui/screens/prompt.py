"""A small modal that asks for one line: the model to compare with, the words to watch."""

from __future__ import annotations

from typing import Generic, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ..widgets.ordered_input import OrderedInput

T = TypeVar("T")


class LinePrompt(ModalScreen[T | None], Generic[T]):
    """A title, a line of help and an Input; enter answers :meth:`answer` of what was typed, escape ``None``."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    LinePrompt {
        align: center middle;
    }
    LinePrompt > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(
        self, title: str, explanation: str, *, value: str = "", placeholder: str = "", input_id: str = "line"
    ) -> None:
        super().__init__()
        self._input_id = input_id
        self._title = title
        self._explanation = explanation
        self._value = value
        self._placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Static(self._explanation)
            yield OrderedInput(self._value, placeholder=self._placeholder, id=self._input_id)

    def answer(self, value: str) -> T | None:
        raise NotImplementedError

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self.answer(event.value))
