"""The `?` screen: every key, read from the bindings themselves so it cannot go stale."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

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
    "tokens by the attention the selected one pays; t watches words at every mask. Inside the "
    "model: L applies its own head to every layer at the selected token (the MLM lens), # for every "
    "token at once; v shades the tokens by how like the selected one they are at a layer; d shows "
    "which tokens make it predict the highlighted word (gradients); i shows the token ids. "
    "Tab moves between the sentence, the tokens and the table. "
    "With two models (--compare B, or 'Compare with another model' in the palette) tab also moves "
    "between their panes, a mask in one masks the same characters in the other, and the line under "
    "the tables compares them. Every action is also in the command palette (ctrl+p)."
)


BOX_WIDTH = 76
"""The help box's width at most (its CSS)."""
KEY_COLUMN = 22
"""Where the descriptions start."""

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
    "number_sign": "#",
}


def key_names(binding: Binding, keymap: Mapping[str, str] | None = None) -> str:
    """The keys of ``binding`` as a reader types them; ``keymap`` (binding id → keys) overrides them."""
    keys = (keymap or {}).get(binding.id or "", binding.key)
    return " / ".join(_SHOWN.get(k.strip(), k.strip()) for k in keys.split(","))


def keys_content(
    sections: list[tuple[str, list[BindingType]]], keymap: Mapping[str, str] | None = None, width: int = 70
) -> Content:
    """The help text; a long description wraps under itself, not at column 0."""
    parts: list[str | tuple[str, str]] = [(INTRO, "italic"), "\n"]
    for title, bindings in sections:
        parts += ["\n", (title, "bold $accent"), "\n"]
        for binding in bindings:
            if isinstance(binding, Binding):
                keys = key_names(binding, keymap)
                lines = textwrap.wrap(binding.tooltip or binding.description, max(20, width - KEY_COLUMN))
                parts += [(f"  {keys:<{KEY_COLUMN - 2}}", "bold"), (lines or [""])[0] + "\n"]
                parts += [" " * KEY_COLUMN + line + "\n" for line in lines[1:]]
    return Content.assemble(*parts)


def keys_markdown(bindings: list[Binding]) -> str:
    """The README's table of binding ids (what ``[keys]`` in the config file can change)."""
    lines = ["| id | keys | what it does |", "|---|---|---|"]
    for binding in bindings:
        if binding.id:
            keys = key_names(binding).replace(" / ", ", ").replace("|", "\\|")
            lines.append(f"| `{binding.id}` | {keys} | {binding.tooltip or binding.description} |")
    return "\n".join(lines) + "\n"


class HelpScreen(ModalScreen[None]):
    """A modal list of every key; escape, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 76;  /* BOX_WIDTH */
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        border-title-color: $text;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(
        self, sections: list[tuple[str, list[BindingType]]], keymap: Mapping[str, str] | None = None
    ) -> None:
        super().__init__()
        self._sections = sections
        self._keymap = keymap

    def on_resize(self) -> None:
        self.query_one("#keys", Static).update(keys_content(self._sections, self._keymap, self._width()))

    def _width(self) -> int:
        # the box is 76 wide at most: borders and padding take 4, a scrollbar 2
        return min(BOX_WIDTH, self.size.width or BOX_WIDTH) - 6

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys · escape closes"
            yield Static(keys_content(self._sections, self._keymap, self._width()), id="keys")
