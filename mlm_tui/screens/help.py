"""The `?` screen: every key, read from the bindings themselves so it cannot go stale."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "Move along the tokens, mask one (or a whole word), and the table shows what the model predicts "
    "there, computed in the background; at a token that is not masked, it shows what the model "
    "predicts there as it reads it (its probability, rank and entropy). With several masks, f fills "
    "them together (best joint fills first; ] replays the best one step by step). a shades the "
    "tokens by the attention the selected one pays; t watches words at every mask. "
    "Tab moves between the sentence, the tokens and the table. "
    "With two models (--compare B, or 'Compare with another model' in the palette) tab also moves "
    "between their panes, a mask in one masks the same characters in the other, and the line under "
    "the tables compares them. Every action is also in the command palette (ctrl+p)."
)


_SHOWN = {
    "question_mark": "?",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "less_than_sign": "<",
    "greater_than_sign": ">",
    "comma": ",",
    "full_stop": ".",
}


def key_names(binding: Binding) -> str:
    return " / ".join(_SHOWN.get(k.strip(), k.strip()) for k in binding.key.split(","))


def keys_content(sections: list[tuple[str, list[BindingType]]]) -> Content:
    parts: list[str | tuple[str, str]] = [(INTRO, "italic"), "\n"]
    for title, bindings in sections:
        parts += ["\n", (title, "bold $accent"), "\n"]
        for binding in bindings:
            if isinstance(binding, Binding):
                parts += [
                    (f"  {key_names(binding):<20}", "bold"),
                    f"{binding.tooltip or binding.description}\n",
                ]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    """A modal list of every key; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 76;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self._content = keys_content(sections)

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · escape closes"
            yield Static(self._content)
