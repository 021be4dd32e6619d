"""The items of a probe set as a table drawn line by line: 10,000 rows cost what 40 cost.

Textual's DataTable measures every new cell through Rich and renders every visible cell again
whenever a row is added (its cache is keyed by an update counter), which held the event loop for
170 ms and more while a large set arrived (benchmarks/results_screen.py). Here, as in the token
cells, each row's text is made once, when its item arrives; a repaint draws only the lines on
screen, and ordering or filtering is a new list of row numbers.

The widget owns the row order it is given, the cursor and the column widths; what the rows are,
and in which order, is decided by the screen (pure functions of :mod:`mlm_tui.probes.view`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GAP = 2
"""Cells between two columns (1 when the table would not fit otherwise)."""
MIN_FLEX = 6
"""The narrowest a sentence column gets on a narrow screen (the whole sentence is one enter away)."""


def fit(
    widths: Sequence[int], flex: Sequence[int], room: int, weights: Sequence[int] | None = None
) -> tuple[list[int], int]:
    """Each column's width on a screen ``room`` cells wide, and the gap between columns.

    The columns not in ``flex`` (what decides an item: scores, ranks, marks) keep their widest cell;
    the ``flex`` ones (sentences, groups) share what they leave in proportion to their ``weights``
    (column ``n``'s weight is ``weights[n]``, 1 when not given): one narrower than its share keeps
    its width and the others split the rest, none under :data:`MIN_FLEX` (or its own width). When
    even that does not fit at two cells a gap, the gap is one; what still does not fit scrolls.
    """
    count = len(widths)

    def weight(n: int) -> int:
        return max(1, weights[n]) if weights is not None else 1

    fixed = sum(w for n, w in enumerate(widths) if n not in flex)
    least = {n: min(widths[n], MIN_FLEX) for n in flex}
    gap = GAP if fixed + sum(least.values()) + GAP * max(0, count - 1) + 2 <= room else 1
    left = room - fixed - gap * max(0, count - 1) - 2
    out = list(widths)
    pending = sorted(flex, key=lambda n: (widths[n] / weight(n), n))
    while pending:
        unit = left / sum(weight(n) for n in pending)
        if widths[pending[0]] <= unit * weight(pending[0]):  # narrower than its share: its own width
            n = pending.pop(0)
            left -= widths[n]
            continue
        under = [n for n in pending if unit * weight(n) < least[n]]
        if under:  # a share under the least width: the least, and the others share the rest
            for n in under:
                out[n] = least[n]
                left -= least[n]
                pending.remove(n)
            continue
        shares = {n: int(unit * weight(n)) for n in pending}
        extra = left - sum(shares.values())
        for order, n in enumerate(sorted(pending)):
            out[n] = shares[n] + (1 if order < extra else 0)
        break
    return out, gap


@dataclass(frozen=True)
class TableColumn:
    heading: str
    right: bool = False
    """Numbers are aligned to the right."""
    flex: bool = False
    """A sentence: it takes the width the other columns leave (cut with … when longer)."""
    weight: int = 1
    """A flex column's share of the room, against the other flex columns' (a sentence 2, a group 1)."""


class ResultsTable(ScrollView, can_focus=True):
    """Rows of text under a fixed heading; ``enter`` selects the highlighted row, a heading click sorts."""

    BINDINGS = [
        Binding("enter", "select", "Open", id="results-open", tooltip="Open the item in the explorer"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
    ]

    COMPONENT_CLASSES = {
        "results-table--header",
        "results-table--cursor",
        "results-table--even",
    }

    DEFAULT_CSS = """
    ResultsTable {
        height: 1fr;
    }
    ResultsTable > .results-table--header {
        text-style: bold;
        background: $panel;
    }
    ResultsTable > .results-table--even {
        background: $surface-lighten-1 40%;
    }
    ResultsTable > .results-table--cursor {
        background: $block-cursor-blurred-background;
    }
    ResultsTable:focus > .results-table--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    """

    cursor_row: reactive[int] = reactive(0, repaint=False)

    @dataclass
    class Selected(Message):
        """``enter`` (or a click on the highlighted row): open the item shown in ``row``."""

        table: ResultsTable
        row: int
        item: int

        @property
        def control(self) -> ResultsTable:
            return self.table

    @dataclass
    class HeadingClicked(Message):
        """A click on a column's heading."""

        table: ResultsTable
        column: int

        @property
        def control(self) -> ResultsTable:
            return self.table

    def __init__(self, *, cursor: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_cursor = cursor
        """False: a table to read (the summary), with no cursor and no focus."""
        self.can_focus = cursor
        self.columns: list[TableColumn] = []
        self._texts: dict[int, tuple[str, ...]] = {}
        self._rows: list[int] = []
        self._widths: list[int] = []
        self._cell_text: Callable[[int], tuple[str, ...]] | None = None

    # -------------------------------------------------------------- content

    def set_columns(
        self, columns: Sequence[TableColumn], cell_text: Callable[[int], tuple[str, ...]]
    ) -> None:
        """The headings, and how to make an item's cells (called once per item, when it is first shown)."""
        self.columns = list(columns)
        self._cell_text = cell_text
        self._texts.clear()
        self._widths = [cell_len(c.heading) for c in self.columns]
        self._resize()

    def _cells(self, item: int) -> tuple[str, ...]:
        found = self._texts.get(item)
        if found is None:
            assert self._cell_text is not None
            found = self._texts[item] = self._cell_text(item)
            for n, text in enumerate(found):
                size = cell_len(text)
                if size > self._widths[n]:
                    self._widths[n] = size
        return found

    @property
    def rows(self) -> list[int]:
        """The items shown, in order (indices into the screen's items)."""
        return self._rows

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def show_rows(self, rows: list[int], keep: int | None = None) -> None:
        """Show these items in this order; the cursor goes to item ``keep`` when shown, else stays in range."""
        self._rows = rows
        for item in rows:
            self._cells(item)
        if keep is not None and keep in rows:
            self.cursor_row = rows.index(keep)
        else:
            self.cursor_row = min(self.cursor_row, max(0, len(rows) - 1))
        self._resize()
        self._scroll_to_cursor()
        self.refresh()

    def append_rows(self, rows: Sequence[int]) -> None:
        """Add items at the end (as they arrive): only their own cells are made."""
        if not rows:
            return
        before = len(self._rows)
        widths = list(self._widths)
        self._rows.extend(rows)
        for item in rows:
            self._cells(item)
        self._resize()
        if widths != self._widths:
            self.refresh()
        else:  # only the new lines, if they are on screen
            top = self.scroll_offset.y
            first = before + 1 - top
            if first < self.size.height:
                self.refresh(Region(0, max(1, first), self.size.width, self.size.height))

    @property
    def highlighted(self) -> int | None:
        """The item under the cursor, or ``None`` when the table is empty."""
        if not self._rows:
            return None
        return self._rows[min(self.cursor_row, len(self._rows) - 1)]

    def row_text(self, row: int) -> list[str]:
        """The cells of a shown row, as drawn (for tests and screen readers)."""
        return list(self._cells(self._rows[row]))

    # -------------------------------------------------------------- cursor

    def validate_cursor_row(self, row: int) -> int:
        return max(0, min(row, len(self._rows) - 1)) if self._rows else 0

    def watch_cursor_row(self, old: int, new: int) -> None:
        for row in (old, new):
            self._refresh_row(row)
        self._scroll_to_cursor()

    def _refresh_row(self, row: int) -> None:
        y = row + 1 - self.scroll_offset.y
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _scroll_to_cursor(self) -> None:
        if not self.is_mounted or not self._rows:
            return
        body = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + body:
            self.scroll_to(y=self.cursor_row - body + 1, animate=False, immediate=True)

    def action_move(self, step: int) -> None:
        self.cursor_row += step

    def action_page(self, step: int) -> None:
        self.cursor_row += step * max(1, self.scrollable_content_region.height - 2)

    def action_edge(self, last: int) -> None:
        self.cursor_row = len(self._rows) - 1 if last else 0

    def action_select(self) -> None:
        item = self.highlighted
        if item is not None:
            self.post_message(self.Selected(self, self.cursor_row, item))

    def action_click_row(self, row: int) -> None:
        if row == self.cursor_row:
            self.action_select()
        self.cursor_row = row
        self.focus()

    def action_click_heading(self, column: int) -> None:
        self.post_message(self.HeadingClicked(self, column))

    # -------------------------------------------------------------- drawing

    def _resize(self) -> None:
        widths, gap = self.drawn_widths()
        width = sum(widths) + gap * max(0, len(widths) - 1) + 2
        self.virtual_size = Size(width, len(self._rows) + 1)

    def drawn_widths(self) -> tuple[list[int], int]:
        """Each column's width on screen and the gap between columns (see :func:`fit`)."""
        flex = [n for n, c in enumerate(self.columns) if c.flex]
        room = self.scrollable_content_region.width or self.size.width or 80
        return fit(self._widths, flex, room, [c.weight for c in self.columns])

    def needed_width(self, room: int) -> int:
        """The cells a line takes in ``room`` cells (more than ``room``: the table scrolls sideways)."""
        flex = [n for n, c in enumerate(self.columns) if c.flex]
        widths, gap = fit(self._widths, flex, room, [c.weight for c in self.columns])
        return sum(widths) + gap * max(0, len(widths) - 1) + 2

    def visible_columns(self) -> list[str]:
        """The headings of the columns wholly on screen, as drawn (cut with … when they are)."""
        widths, gap = self.drawn_widths()
        room = self.scrollable_content_region.width or self.size.width
        left, x, shown = self.scroll_offset.x, 1, []
        for column, width in zip(self.columns, widths, strict=False):
            if x >= left and x + width <= left + room:
                heading = column.heading
                shown.append(
                    heading if cell_len(heading) <= width else set_cell_size(heading, width - 1) + "…"
                )
            x += width + gap
        return shown

    def on_resize(self) -> None:
        self._resize()

    def _line(self, cells: Sequence[str], widths: Sequence[int], gap: int) -> list[tuple[str, int]]:
        """The line's text pieces and the column each belongs to (-1: a gap)."""
        out: list[tuple[str, int]] = [(" ", -1)]
        for n, (column, text, width) in enumerate(zip(self.columns, cells, widths, strict=False)):
            if cell_len(text) > width:
                text = set_cell_size(text, width - 1) + "…"
            pad = " " * (width - cell_len(text))
            out.append((pad + text if column.right else text + pad, n))
            out.append((" " * gap if n < len(self.columns) - 1 else " ", -1))
        return out

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._rows) + 1

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        scroll_x = self.scroll_offset.x
        widths, gap = self.drawn_widths()
        if y == 0:
            header = base + self.get_component_rich_style("results-table--header", partial=True)
            segments = [
                Segment(
                    text, header + Style.from_meta({"@click": f"click_heading({n})"}) if n >= 0 else header
                )
                for text, n in self._line([c.heading for c in self.columns], widths, gap)
            ]
            return Strip(segments).crop_extend(scroll_x, scroll_x + width, header)
        row = y - 1 + self.scroll_offset.y
        if row >= len(self._rows):
            return Strip.blank(width, base)
        style = base
        if row % 2 == 1:
            style += self.get_component_rich_style("results-table--even", partial=True)
        if row == self.cursor_row and self.show_cursor:
            style += self.get_component_rich_style("results-table--cursor", partial=True)
        if self.show_cursor:
            style += Style.from_meta({"@click": f"click_row({row})"})
        text = "".join(piece for piece, _ in self._line(self._cells(self._rows[row]), widths, gap))
        return Strip([Segment(text, style)]).crop_extend(scroll_x, scroll_x + width, style)
