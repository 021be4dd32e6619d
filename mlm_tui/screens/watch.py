"""A small modal to choose the watched words: their probability and rank show at every mask."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

MAX_WORDS = 12


def parse_words(value: str) -> tuple[str, ...]:
    """Comma-separated words, stripped, without blanks or repeats, in the order given."""
    words = [w.strip() for w in value.split(",")]
    return tuple(dict.fromkeys(w for w in words if w))[:MAX_WORDS]


class WatchWords(ModalScreen[tuple[str, ...] | None]):
    """Type words separated by commas; enter keeps them (an empty line clears them), escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    DEFAULT_CSS = """
    WatchWords {
        align: center middle;
    }
    WatchWords > Vertical {
        width: 70;
        max-width: 100%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, words: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._words = words

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Watch which words?"
            yield Static(
                "Words separated by commas (he, she); each shows its probability and rank at every mask, "
                "scored as a whole word. Enter keeps them, an empty line clears them, escape cancels."
            )
            yield Input(", ".join(self._words), placeholder="he, she", id="watch-words")

    @on(Input.Submitted, "#watch-words")
    def _chosen(self, event: Input.Submitted) -> None:
        self.dismiss(parse_words(event.value))
