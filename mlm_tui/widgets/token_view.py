"""The tokenized sentence as selectable cells: move along them, mask them, colour them by surprisal.

Drawn line by line (Textual's line API): the cells are laid out into lines once per
text, width or set of masks, and a cursor move repaints only the two lines it
touches, so a move costs the same on a 3,000-token text as on a short one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

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
NOT_A_NUMBER = "#5a5a5a"
"""The colour of a surprisal that is not a number (a model that gives NaN): shown, never a crash."""


ATTENTION_SCALE: tuple[tuple[float, str], ...] = (
    (0.05, ""),
    (0.2, "#1d3557"),
    (0.4, "#2f5d8a"),
    (0.7, "#3f7fbf"),
    (float("inf"), "#5fa8e8"),
)
"""Attention (as a fraction of the largest weight on show) and the background each bucket gets."""


def attention_colour(fraction: float) -> str:
    if math.isnan(fraction):
        return ""
    return next(colour for limit, colour in ATTENTION_SCALE if fraction < limit)


def surprisal_colour(surprisal: float) -> str:
    if math.isnan(surprisal):
        return NOT_A_NUMBER
    return next(colour for limit, colour in SURPRISAL_SCALE if surprisal < limit)


def _visible(label: str) -> str:
    """Control and other invisible characters would break the line layout: show a stand-in instead."""
    shown = "".join(c if c.isprintable() else "\ufffd" for c in label)
    return shown or "\ufffd"


@dataclass(frozen=True)
class Cell:
    index: int
    x: int
    label: str


class TokenView(ScrollView, can_focus=True):
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
            "M",
            "mask_word",
            "Mask word",
            id="mask-word",
            show=False,
            tooltip="Mask every piece of the selected word",
        ),
        Binding("c", "clear_masks", "Clear", id="clear", show=False, tooltip="Remove every mask you added"),
    ]

    COMPONENT_CLASSES = {
        "token-view--special",
        "token-view--mask",
        "token-view--selected",
        "token-view--revealed",
        "token-view--marked",
    }

    DEFAULT_CSS = """
    TokenView {
        height: auto;
        min-height: 3;
        padding: 0 1;
    }
    TokenView > .token-view--special {
        text-style: dim;
    }
    TokenView > .token-view--mask {
        text-style: bold;
        background: $warning 60%;
    }
    TokenView > .token-view--revealed {
        text-style: bold italic;
        background: $success 50%;
    }
    TokenView > .token-view--marked {
        text-style: bold underline;
    }
    TokenView > .token-view--selected {
        text-style: reverse bold underline;
    }
    """

    encoding: reactive[Encoding | None] = reactive(None, bindings=True, repaint=False)
    selected: reactive[int] = reactive(0, repaint=False)
    masked: reactive[frozenset[int]] = reactive(frozenset(), bindings=True, repaint=False)
    surprisal: reactive[dict[int, float] | None] = reactive(None)
    shade: reactive[dict[int, float] | None] = reactive(None)
    """Attention per cell as a fraction of the largest on show (the attention view); wins over surprisal."""
    revealed: reactive[dict[int, str] | None] = reactive(None, repaint=False)
    show_ids: reactive[bool] = reactive(False, repaint=False)
    """Each cell's token id on the line under it (the mask's id on a mask)."""
    mask_id: int | None = None
    """Masks shown filled, with these labels (a joint fill's replay)."""
    placeholder: reactive[str] = reactive("", repaint=False)
    mask_token: reactive[str] = reactive("[MASK]", repaint=False)

    @dataclass
    class SelectionMoved(Message):
        """The selected cell changed."""

        view: TokenView
        index: int

        @property
        def control(self) -> TokenView:
            return self.view

    @dataclass
    class MasksChanged(Message):
        """The user masked or unmasked cells; ``last`` is the position touched last."""

        view: TokenView
        masked: frozenset[int]
        last: int | None

        @property
        def control(self) -> TokenView:
            return self.view

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._layouts: dict[int, tuple[list[list[Cell]], dict[int, int]]] = {}
        self._marked: tuple[str, tuple[tuple[int, int], ...]] = ("", ())
        self._marks_counted: str | None = None

    def mark(
        self,
        text: str,
        spans: tuple[tuple[int, int], ...] | list[tuple[int, int]],
        *,
        counted: str | None = None,
    ) -> None:
        """Underline the tokens inside ``spans`` (characters of ``text``) while ``text`` is shown.

        A minimal pair's differing tokens (or, for CrowS-Pairs, the tokens its metric counts)
        stay marked through surprisal and masks, and go when the text changes. ``counted``, when
        given, names the sum of the marked tokens' log-probabilities (the surprisal view shows it).
        """
        self._marked = (text, tuple(spans))
        self._marks_counted = counted
        self.refresh()

    @property
    def marks_counted(self) -> str | None:
        """What the sum of the marked tokens' log-probabilities is (e.g. the CrowS-Pairs score), if it counts."""
        return self._marks_counted if self.marked_positions() else None

    def marked_positions(self) -> list[int]:
        """The positions underlined now (none once the text has changed)."""
        if self.encoding is None:
            return []
        return [t.index for t in self.encoding.tokens if self._is_marked(t.index)]

    def _is_marked(self, index: int) -> bool:
        text, spans = self._marked
        if not spans or self.encoding is None or self.encoding.text != text:
            return False
        token = self.encoding.tokens[index]
        return not token.special and any(token.start < end and start < token.end for start, end in spans)

    # -------------------------------------------------------------- state

    def show(
        self, encoding: Encoding, masked: frozenset[int] = frozenset(), selected: int | None = None
    ) -> None:
        """Show a new encoding; the selection lands on ``selected`` or the first real token."""
        self.surprisal = None
        self.shade = None
        self.revealed = None
        self.encoding = encoding
        self.masked = masked
        first = next((t.index for t in encoding.tokens if not t.special), 0)
        self.selected = selected if selected is not None and selected < len(encoding.tokens) else first

    def validate_selected(self, value: int) -> int:
        if self.encoding is None:
            return 0
        return max(0, min(value, len(self.encoding.tokens) - 1))

    def watch_selected(self, old: int, new: int) -> None:
        for index in (old, new):
            line = self._line_of.get(index)
            if line is not None:
                self.refresh_lines(line)
        line = self._line_of.get(new)
        if line is not None and self.is_mounted:
            self.scroll_to_region(Region(0, line, 1, 1), animate=False, immediate=True)
        self.post_message(self.SelectionMoved(self, new))

    def watch_masked(self) -> None:
        self._relayout()

    def watch_show_ids(self) -> None:
        self._relayout()

    def cell_id(self, index: int) -> int:
        """The id the model reads at ``index``: the mask's on a mask."""
        assert self.encoding is not None
        token = self.encoding.tokens[index]
        if self.is_masked(index) and not token.is_mask and self.mask_id is not None:
            return self.mask_id
        return token.id

    def watch_revealed(self) -> None:
        self._relayout()

    def watch_mask_token(self) -> None:
        self._relayout()

    def watch_placeholder(self) -> None:
        if self.encoding is None:
            self._relayout()

    def watch_encoding(self) -> None:
        self._relayout()

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

    def _same_characters(self, index: int) -> set[int]:
        """The tokens that share this token's characters: the byte pieces of one emoji go together."""
        assert self.encoding is not None
        token = self.encoding.tokens[index]
        if token.start == token.end:
            return {index}
        return {
            t.index
            for t in self.encoding.tokens
            if (t.start, t.end) == (token.start, token.end) and not t.special and not t.is_mask
        }

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
        pieces = self._same_characters(self.selected)
        masked = self.masked - pieces if self.selected in self.masked else self.masked | pieces
        self._set_masks(frozenset(masked), self.selected)

    def action_mask_word(self) -> None:
        if self.encoding is None or self.encoding.tokens[self.selected].special:
            return
        word = set(self.encoding.word_positions(self.selected)) - set(self.encoding.mask_positions)
        masked = self.masked - word if word <= self.masked else self.masked | word
        self._set_masks(frozenset(masked), self.selected)

    def action_clear_masks(self) -> None:
        self._set_masks(frozenset(), None)

    # -------------------------------------------------------------- layout

    def _label(self, index: int, joined: bool) -> str:
        assert self.encoding is not None
        token = self.encoding.tokens[index]
        if self.revealed and index in self.revealed:
            label = self.revealed[index]
        else:
            label = (
                self.mask_token if self.is_masked(index) else token.text if token.special else token.display
            )
        label = _visible(label)
        return "·" + label if joined else label

    def _layout(self, width: int) -> tuple[list[list[Cell]], dict[int, int]]:
        """The cells cut into lines of at most ``width`` cells, and the line of each token (cached)."""
        width = max(1, width)
        cached = self._layouts.get(width)
        if cached is not None:
            return cached
        lines: list[list[Cell]] = [[]]
        line_of: dict[int, int] = {}
        x = 0
        if self.encoding is None:
            for word in self.placeholder.split():
                size = cell_len(word)
                if x and x + 1 + size > width:
                    lines.append([])
                    x = 0
                lines[-1].append(Cell(-1, x + (1 if x else 0), _visible(word)))
                x += size + (1 if x else 0)
        else:
            previous_word: int | None = None
            for token in self.encoding.tokens:
                joined = token.word is not None and token.word == previous_word
                previous_word = token.word
                label = self._label(token.index, joined)
                if self.show_ids:
                    label = label.ljust(len(str(self.cell_id(token.index))) + (1 if joined else 0))
                size = cell_len(label)
                gap = 0 if joined or not lines[-1] else 1
                if lines[-1] and x + gap + size > width:
                    lines.append([])
                    x, gap = 0, 0
                lines[-1].append(Cell(token.index, x + gap, label))
                line_of[token.index] = len(lines) - 1
                x += gap + size
        if self.show_ids and self.encoding is not None:  # a line of ids under each line of cells
            with_ids: list[list[Cell]] = []
            for line in lines:
                with_ids.append(line)
                with_ids.append([Cell(c.index, c.x, self._id_label(c)) for c in line])
            lines = with_ids
            line_of = {index: 2 * number for index, number in line_of.items()}
        self._layouts[width] = (lines, line_of)
        return lines, line_of

    def _id_label(self, cell: Cell) -> str:
        joined = cell.label.startswith("·")
        text = str(self.cell_id(cell.index))
        return ((" " if joined else "") + text).ljust(cell_len(cell.label))

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width or self.size.width or 80

    @property
    def _line_of(self) -> dict[int, int]:
        return self._layout(self._width)[1]

    def _relayout(self) -> None:
        """The labels changed (text, masks, mask token): lay out again, on the next paint."""
        self._layouts.clear()
        if self.is_mounted:
            lines, _ = self._layout(self._width)
            self.refresh(layout=len(lines) != self.virtual_size.height)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._layout(width)[0])

    def render_line(self, y: int) -> Strip:
        width = self._width
        lines, _ = self._layout(width)
        if self.virtual_size != Size(width, len(lines)):
            self.virtual_size = Size(width, len(lines))
        base = self.rich_style
        number = y + self.scroll_offset.y
        if number >= len(lines):
            return Strip.blank(width, base)
        segments: list[Segment] = []
        x = 0
        for cell in lines[number]:
            if cell.x > x:
                segments.append(Segment(" " * (cell.x - x), base))
            segments.append(Segment(cell.label, base + self._style(cell.index)))
            x = cell.x + cell_len(cell.label)
        return Strip(segments, x).adjust_cell_length(width, base)

    def _style(self, index: int) -> Style:
        if index < 0 or self.encoding is None:  # the placeholder
            return self.get_component_rich_style("token-view--special", partial=True)
        token = self.encoding.tokens[index]
        style = Style.from_meta({"@click": f"select({index})"})
        if token.special:
            style += self.get_component_rich_style("token-view--special", partial=True)
        if self.revealed and index in self.revealed:
            style += self.get_component_rich_style("token-view--revealed", partial=True)
        elif self.is_masked(index):
            style += self.get_component_rich_style("token-view--mask", partial=True)
        if self.shade is not None:
            colour = attention_colour(self.shade.get(index, math.nan))
            if colour:
                style += Style(bgcolor=colour)
        elif self.surprisal is not None and index in self.surprisal and not self.is_masked(index):
            style += Style(bgcolor=surprisal_colour(self.surprisal[index]))
        if self._is_marked(index):
            style += self.get_component_rich_style("token-view--marked", partial=True)
        if index == self.selected:
            style += self.get_component_rich_style("token-view--selected", partial=True)
        return style

    @property
    def plain(self) -> str:
        """What the cells say, line by line, as plain text (for tests and screen readers)."""
        out = []
        for line in self._layout(self._width)[0]:
            text = ""
            for cell in line:
                text += " " * (cell.x - cell_len(text)) + cell.label
            out.append(text)
        return "\n".join(out)
