"""The tokenized sentence as selectable cells: move along them, mask them, colour them by surprisal."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from ..engine import Encoding

# Surprisal (nats) thresholds and the background each bucket gets. Colours are
# chosen to stay distinct when Textual reduces them to 16 colours.
SURPRISAL_SCALE: tuple[tuple[float, str], ...] = (
    (1.0, "#1e6b34"),
    (2.5, "#6b8e23"),
    (4.5, "#b8860b"),
    (7.0, "#c0461a"),
    (float("inf"), "#a01010"),
)


def surprisal_colour(surprisal: float) -> str:
    return next(colour for limit, colour in SURPRISAL_SCALE if surprisal < limit)


class TokenView(Widget, can_focus=True):
    """Every token a cell. The widget owns the selection and the set of masked positions."""

    BINDINGS = [
        Binding("left,h", "move(-1)", "Prev", show=False, tooltip="Select the previous token"),
        Binding("right,l", "move(1)", "Next", show=False, tooltip="Select the next token"),
        Binding("ctrl+left,b", "word(-1)", "Prev word", show=False, tooltip="Jump to the previous word"),
        Binding("ctrl+right,w", "word(1)", "Next word", show=False, tooltip="Jump to the next word"),
        Binding("home,g", "edge(0)", "First", show=False, tooltip="Select the first token"),
        Binding("end,G", "edge(1)", "Last", show=False, tooltip="Select the last token"),
        Binding("m,space", "toggle_mask", "Mask", id="mask", tooltip="Mask or unmask the selected token"),
        Binding(
            "M", "mask_word", "Mask word", id="mask-word", tooltip="Mask every piece of the selected word"
        ),
        Binding("c", "clear_masks", "Clear", id="clear", tooltip="Remove every mask you added"),
    ]

    DEFAULT_CSS = """
    TokenView {
        height: auto;
        min-height: 3;
        padding: 0 1;
        link-style: none;
        link-style-hover: underline;
        link-background-hover: $boost;
    }
    """

    encoding: reactive[Encoding | None] = reactive(None, bindings=True)
    selected: reactive[int] = reactive(0)
    masked: reactive[frozenset[int]] = reactive(frozenset(), bindings=True)
    surprisal: reactive[dict[int, float] | None] = reactive(None)
    placeholder: reactive[str] = reactive("")
    mask_token: reactive[str] = reactive("[MASK]")

    @dataclass
    class SelectionMoved(Message):
        """The selected cell changed."""

        view: TokenView
        index: int

    @dataclass
    class MasksChanged(Message):
        """The user masked or unmasked cells; ``last`` is the position touched last."""

        view: TokenView
        masked: frozenset[int]
        last: int | None

    # -------------------------------------------------------------- state

    def show(
        self, encoding: Encoding, masked: frozenset[int] = frozenset(), selected: int | None = None
    ) -> None:
        """Show a new encoding; the selection lands on ``selected`` or the first real token."""
        self.surprisal = None
        self.encoding = encoding
        self.masked = masked
        first = next((t.index for t in encoding.tokens if not t.special), 0)
        self.selected = selected if selected is not None and selected < len(encoding.tokens) else first

    def validate_selected(self, value: int) -> int:
        if self.encoding is None:
            return 0
        return max(0, min(value, len(self.encoding.tokens) - 1))

    def watch_selected(self, value: int) -> None:
        self.post_message(self.SelectionMoved(self, value))

    def is_masked(self, index: int) -> bool:
        if self.encoding is None:
            return False
        return index in self.masked or self.encoding.tokens[index].is_mask

    @property
    def all_masks(self) -> tuple[int, ...]:
        """Every masked position: those the user toggled and ``[MASK]`` typed in the text."""
        if self.encoding is None:
            return ()
        return tuple(sorted(set(self.masked) | set(self.encoding.mask_positions)))

    def _set_masks(self, masked: frozenset[int], last: int | None) -> None:
        if masked != self.masked:
            self.masked = masked
            self.post_message(self.MasksChanged(self, masked, last))

    # -------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_mask", "mask_word", "clear_masks", "move", "word", "edge", "select"):
            if self.encoding is None:
                return None
            if action == "clear_masks" and not self.masked:
                return None
        return True

    def action_move(self, step: int) -> None:
        self.selected += step

    def action_edge(self, last: int) -> None:
        if self.encoding is None:
            return
        real = [t.index for t in self.encoding.tokens if not t.special] or [0]
        self.selected = real[-1] if last else real[0]

    def action_word(self, step: int) -> None:
        """Jump to the first piece of the next (or previous) word."""
        if self.encoding is None:
            return
        tokens = self.encoding.tokens
        here = tokens[self.selected].word
        index = self.selected
        if step < 0 and index > 0:
            # to the start of this word first, then of the previous one
            start = self.encoding.word_positions(index)[0]
            index = start if start < index and here is not None else index
            if index == self.selected:
                index -= 1
                while index > 0 and tokens[index].special:
                    index -= 1
                index = self.encoding.word_positions(index)[0]
        elif step > 0:
            while index < len(tokens) - 1:
                index += 1
                if tokens[index].word != here and not tokens[index].special:
                    break
        self.selected = index

    def action_select(self, index: int) -> None:
        self.selected = index
        self.focus()

    def action_toggle_mask(self) -> None:
        if self.encoding is None:
            return
        token = self.encoding.tokens[self.selected]
        if token.special:
            self.notify("Special tokens cannot be masked", severity="warning", timeout=3)
            return
        if token.is_mask:
            self.notify("This mask is written in the text: press e to edit it", severity="warning", timeout=3)
            return
        self._set_masks(self.masked ^ {self.selected}, self.selected)

    def action_mask_word(self) -> None:
        if self.encoding is None or self.encoding.tokens[self.selected].special:
            return
        word = set(self.encoding.word_positions(self.selected)) - set(self.encoding.mask_positions)
        masked = self.masked - word if word <= self.masked else self.masked | word
        self._set_masks(frozenset(masked), self.selected)

    def action_clear_masks(self) -> None:
        self._set_masks(frozenset(), None)

    # -------------------------------------------------------------- rendering

    def render(self) -> Content:
        if self.encoding is None:
            return Content.from_markup("[dim]$text[/]", text=self.placeholder)
        parts: list[tuple[str, str] | str] = []
        previous_word: int | None = None
        for token in self.encoding.tokens:
            joined = token.word is not None and token.word == previous_word
            previous_word = token.word
            if parts and not joined:
                parts.append(" ")
            parts.append(self._cell(token.index, joined))
        return Content.assemble(*parts)

    def _cell(self, index: int, joined: bool) -> tuple[str, str]:
        assert self.encoding is not None
        token = self.encoding.tokens[index]
        masked = self.is_masked(index)
        label = self.mask_token if masked else token.text if token.special else token.display
        if joined:
            label = "·" + label
        style = [f"@click=select({index})"]
        if token.special:
            style.append("dim")
        if masked:
            style.append("bold $text on $warning 60%")
        elif self.surprisal is not None and index in self.surprisal:
            style.append(f"$text on {surprisal_colour(self.surprisal[index])}")
        if index == self.selected:
            style.append("reverse bold underline")
        return label, " ".join(style)
