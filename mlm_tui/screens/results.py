"""The results screen of a probe set: the summary per group, and a table of items that fills as they arrive.

A thread worker runs the set through the engine(s) exactly as the CLI does and puts each item
in a buffer; a message, posted when the buffer was empty (and ``can_replace``), tells the screen
to take them all.
The table (:class:`~mlm_tui.widgets.results_table.ResultsTable`) draws only the lines on
screen, so a set of 10,000 items never holds the event loop for long. What to show (columns, filters, order) comes from the pure
functions of :mod:`mlm_tui.probes.view`; the summary from :mod:`mlm_tui.probes.report`, the
same cells the CLI prints.

``enter`` opens the highlighted item in the explorer (the screen stays installed, so
``escape`` there comes back to the same row); ``x`` writes the JSON and Markdown the CLI writes.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, ProgressBar, Static
from textual.worker import get_current_worker

from ..engine import EngineError, ModelInfo
from ..export import provenance
from ..probes import report, significance, view
from ..probes.formats import FormatError
from ..probes.run import Tally
from ..probes.sets import ProbeSet
from ..probes.significance import PAIRED_BOOTSTRAP, Outcome, comparisons, outcome
from ..widgets.results_table import ResultsTable, TableColumn
from .prompt import LinePrompt

Loader = Callable[[Callable[[str], None]], Any]

TAKE = 500
"""Items taken into the table per turn of the event loop (a run faster than the screen waits)."""
SUMMARY_EVERY = 1.0
"""While items arrive, the summary (without intervals) is brought up to date this often (seconds)."""
SUMMARY_SHARE = 0.4
"""The most of the screen's height the summary takes (the rest scrolls; its border says so)."""
GROUPING_NAMES = {"field": "field", "linguistics_term": "linguistics_term"}


class ColumnChooser(OptionList):
    """The columns to sort by, one a line: enter (or a click) sorts by the highlighted one at once
    (the keys typed after it in a burst go to the table), escape closes the list."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def __init__(self, on_choose: Callable[[int | None], object], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._on_choose = on_choose

    def action_select(self) -> None:
        self._on_choose(self.highlighted)

    def action_close(self) -> None:
        self._on_choose(None)


@dataclass(frozen=True)
class Kept:
    """Where the results were kept on quitting, and how far the run had got."""

    json: Path
    markdown: Path
    items: int
    total: int | None
    """The items in the set, when known."""
    complete: bool


@dataclass(frozen=True)
class RunState:
    """Where the run is: loading, running, done or failed (with a line to show)."""

    stage: str
    note: str = ""


class ResultsScreen(Screen[None]):
    """A probe set's summary and items, for one model or several."""

    DEFAULT_CSS = """
    ResultsScreen #results-body {
        height: 1fr;
    }
    ResultsScreen #results-body > #results-items {
        width: 1fr;
    }
    ResultsScreen #results-sort-by {
        width: 22;
        height: 1fr;
        border: round $accent;
        border-title-color: $text;
    }
    """

    BINDINGS = [
        Binding(
            "s", "sort", "Sort", id="results-sort", tooltip="Sort by the next column (s again: the next)"
        ),
        Binding("S", "reverse", "Reverse", show=False, id="results-reverse", tooltip="Reverse the order"),
        Binding(
            "c",
            "sort_by",
            "Sort by…",
            id="results-sort-by",
            tooltip="Choose the column to sort by from a list (the same again: reverse)",
            priority=True,  # the list takes the keys typed right after c
        ),
        Binding("g", "group", "Group", id="results-group", tooltip="Show one group at a time (g cycles)"),
        Binding(
            "G",
            "grouping",
            "Group by",
            show=False,
            id="results-group-by",
            tooltip="Group BLiMP by UID, field or linguistics_term (G cycles; the summary follows)",
        ),
        Binding(
            "h",
            "outcome('cloze')",
            "Hit/miss",
            id="results-hits",
            tooltip="Show hits or misses only, or the errors (h cycles)",
        ),
        Binding(
            "h",
            "outcome('pairs')",
            "Correct/wrong",
            id="results-correct",
            tooltip="Show the pairs decided correctly or wrongly (h cycles)",
        ),
        Binding(
            "h",
            "outcome('crows')",
            "More/less",
            id="results-prefers",
            tooltip="Show the pairs where the more or the less stereotyping sentence won (h cycles)",
        ),
        Binding(
            "slash",
            "search",
            "Search",
            key_display="/",
            id="results-search",
            tooltip="Search the items",
            priority=True,  # handled before the next keys are sent on: what follows / goes to the box
        ),
        Binding(
            "x", "export", "Export", id="results-export", tooltip="Write the results as JSON and Markdown"
        ),
        Binding("escape", "leave", "Explorer", id="results-leave", tooltip="Back to the explorer"),
    ]

    sort_column: reactive[int | None] = reactive(None, bindings=True)
    reverse: reactive[bool] = reactive(False)
    group: reactive[str | None] = reactive(None)
    grouping: reactive[str] = reactive("group")
    outcome: reactive[int] = reactive(0)
    search: reactive[str] = reactive("")
    state: reactive[RunState] = reactive(RunState("loading", "loading the model…"))

    @dataclass
    class Arrived(Message):
        """New items are in the buffer (a burst of these becomes one)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsScreen.Arrived)

    @dataclass
    class Stage(Message):
        """The run moved on: loading (with the loader's stage), running, done or failed."""

        state: RunState
        models: tuple[str, ...] = ()

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsScreen.Stage) and message.state.stage == self.state.stage

    @dataclass
    class SummaryReady(Message):
        """The summaries so far (``final``: over every item, with the bootstrap intervals)."""

        summaries: list[dict[str, Any]]
        final: bool
        comparisons: list[dict[str, Any]] = field(default_factory=list)
        """With several models and ``final``: every pair's McNemar test and paired bootstrap."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ResultsScreen.SummaryReady) and not message.final

    @dataclass
    class Opened(Message):
        """The user opened an item (``enter``); the app shows it in the explorer."""

        screen: ResultsScreen
        item: dict[str, Any]

    def __init__(
        self,
        probe_set: ProbeSet,
        loaders: list[tuple[Loader, str]],
        *,
        export_dir: Path | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.probe_set = probe_set
        self._loaders = loaders
        self._export_dir = export_dir
        self.compare = len(loaders) > 1
        self.models: tuple[str, ...] = tuple(label for _, label in loaders)
        self.columns = self._columns("group")
        self.outcomes = view.outcomes(probe_set.kind, models=len(loaders), k=probe_set.k)
        self.items: list[dict[str, Any]] = []
        """Every item received, in input order."""
        self.matching: list[int] = []
        """The items that pass the filters, in input order."""
        self.summaries: list[dict[str, Any]] = []
        """The summaries shown (by :attr:`grouping`)."""
        self._run_summaries: list[dict[str, Any]] = []
        """The run's own summaries, by ``group`` (what the CLI prints by default)."""
        self._regrouped: dict[str, list[dict[str, Any]]] = {}
        """The final summaries by another grouping, each worked out once."""
        self.final = False
        self._infos: list[ModelInfo] = []
        """Each model's details once loaded, for the export's header."""
        self.comparisons: list[dict[str, Any]] = []
        """Every pair of models' tests, once the run is done (several models)."""
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._failed = 0
        self._tallies: list[Tally] = []
        """The run's summaries so far (guarded by the lock, with the buffer: they count the same items)."""
        self._exported: tuple[Path, Path] | None = None
        """What ``x`` wrote (a complete set: quitting does not write it again)."""
        self._searched: dict[int, str] = {}
        self._values: dict[int, list[Any]] = {}
        self._started = time.monotonic()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        summary = ResultsTable(id="results-summary", cursor=False)
        summary.border_title = self._title()
        yield summary
        yield Static("", id="results-comparisons", markup=False)
        with Horizontal(id="results-progress"):
            yield ProgressBar(total=self.probe_set.total, show_eta=True, id="results-bar")
            yield Static("", id="results-stage")
        with Horizontal(id="results-body"):
            yield ResultsTable(id="results-items")
            chooser = ColumnChooser(self._sort_chosen, id="results-sort-by")
            chooser.border_title = "Sort by"
            chooser.border_subtitle = "⏎ sort · esc"
            yield chooser
        yield Input(placeholder="search the items (enter applies, escape clears)", id="results-find")
        yield Static("", id="results-status")
        yield Footer()

    def _title(self) -> str:
        if len(self.models) > 1:  # the letters of the headings
            models = " · ".join(f"{view.letter(n)} {name}" for n, name in enumerate(self.models))
        else:
            models = "".join(self.models)
        return f"{self.probe_set.name} ({self.probe_set.fmt}) · {models}"

    def on_mount(self) -> None:
        self._set_table_columns()
        self.query_one("#results-find", Input).display = False
        self.query_one("#results-sort-by", ColumnChooser).display = False
        self.query_one("#results-comparisons", Static).display = False
        self._show_summary()
        self._sync_status()
        self.table.focus()
        self._run()

    def _set_table_columns(self) -> None:
        self.table.set_columns(
            [TableColumn(c.heading, c.numeric, c.flex, c.weight) for c in self.columns], self._cells
        )

    @property
    def table(self) -> ResultsTable:
        return self.query_one("#results-items", ResultsTable)

    @property
    def summary_table(self) -> ResultsTable:
        return self.query_one("#results-summary", ResultsTable)

    @property
    def bar(self) -> ProgressBar:
        return self.query_one("#results-bar", ProgressBar)

    # ------------------------------------------------------------------ the run (a thread)

    @work(thread=True, exclusive=True, group="results", exit_on_error=False)
    def _run(self) -> None:
        worker = get_current_worker()
        kind = self.probe_set.kind
        try:
            engines = []
            for loader, label in self._loaders:
                self.post_message(self.Stage(RunState("loading", f"loading {label}…")))
                engines.append(
                    loader(
                        lambda stage, label=label: self.post_message(self.Stage(RunState("loading", stage)))
                    )
                )
            # A set of 10,000 items adds tens of thousands of objects; each full pass of Python's
            # collector would walk the libraries' and the model's too (90-380 ms pauses measured).
            # What exists now lives as long as the app: keep it out of the collector's way.
            gc.freeze()
            models = tuple(e.info.name for e in engines)
            self._infos = [e.info for e in engines]
            self.post_message(self.Stage(RunState("running"), models))
            tallies = [Tally(kind, k=self.probe_set.k) for _ in engines]
            self._tallies = tallies
            outcomes: list[list[Outcome | None]] = [[] for _ in engines]
            streams = [self.probe_set.results(engine) for engine in engines]
            summarised = time.monotonic()
            for rows in zip(*streams, strict=True):
                if worker.is_cancelled:
                    return
                item = view.combined(kind, rows)
                with self._lock:  # an item is in the tallies exactly when it is in the buffer
                    for tally, row, decided in zip(tallies, rows, outcomes, strict=True):
                        tally.add(row)
                        decided.append(outcome(kind, row))
                    first = not self._buffer  # the screen takes the whole buffer: one message is enough
                    self._buffer.append(item)
                if first:
                    self.post_message(self.Arrived())
                now = time.monotonic()
                if now - summarised >= SUMMARY_EVERY:
                    summarised = now
                    self.post_message(self.SummaryReady([t.summary(0) for t in tallies], final=False))
            if worker.is_cancelled:
                return
            self.post_message(self.Arrived())
            summaries = [t.summary(self.probe_set.n_boot) for t in tallies]
            n_boot = PAIRED_BOOTSTRAP if self.probe_set.n_boot else 0
            paired = comparisons(kind, outcomes, n_boot) if len(engines) > 1 else []
            self.post_message(self.SummaryReady(summaries, final=True, comparisons=paired))
            failed = sum(t.failed for t in tallies)
            note = f"{failed} item{'s' if failed != 1 else ''} failed" if failed else ""
            self.post_message(self.Stage(RunState("done", note)))
        except Exception as exc:  # shown on the screen; the app keeps running
            if not worker.is_cancelled:
                known = isinstance(exc, (EngineError, FormatError, OSError))
                self.post_message(self.Arrived())
                self.post_message(
                    self.Stage(RunState("failed", str(exc) if known else f"{type(exc).__name__}: {exc}"))
                )

    def stop(self) -> None:
        """Stop the run (another set takes this one's place): the thread stops at its next item."""
        self.workers.cancel_group(self, "results")

    @on(Stage)
    def _stage(self, message: Stage) -> None:
        if message.models:
            self.models = message.models
            self.summary_table.border_title = self._title()
        if message.state.stage == "running":
            self._started = time.monotonic()
        if message.state.stage == "done" and self.bar.total != len(self.items):
            self.bar.update(total=len(self.items), progress=len(self.items))
        if message.state.stage == "failed":
            self.notify(message.state.note, title="The probe set could not run", severity="error", timeout=10)
        self.state = message.state

    @on(Arrived)
    def _arrived(self) -> None:
        with self._lock:
            new, self._buffer = self._buffer[:TAKE], self._buffer[TAKE:]
            more = bool(self._buffer)
        if more:  # the rest on the next turn, after keys and repaints
            self.post_message(self.Arrived())
        if not new:
            return
        start = len(self.items)
        self.items.extend(new)
        self._failed += sum(1 for item in new if view.failed(item))
        accept = self._filter()
        fresh = [i for i in range(start, len(self.items)) if accept(self.items[i])]
        self.matching.extend(fresh)
        if self._ordered:
            self._show(self.table.rows + fresh)
        else:
            self.table.append_rows(fresh)
        total = self.bar.total
        if total is not None and len(self.items) > total:
            self.bar.update(total=len(self.items))
        self.bar.update(progress=len(self.items))
        self._sync_status()

    @on(SummaryReady)
    def _summary_ready(self, message: SummaryReady) -> None:
        self._run_summaries = message.summaries
        self.final = message.final
        self.comparisons = message.comparisons
        shown = self.query_one("#results-comparisons", Static)
        letters = [view.letter(n) for n in range(len(self.models))]
        shown.update("\n".join(significance.line(c, letters) for c in self.comparisons))
        shown.display = bool(self.comparisons)
        if self.grouping == "group":
            self.summaries = message.summaries
            self._show_summary()
        elif message.final:
            self._regroup()
        self._sync_status()

    # ------------------------------------------------------------------ the table

    def _cells(self, index: int) -> tuple[str, ...]:
        item = self.items[index]
        return tuple(column.text(item) for column in self.columns)

    @property
    def _ordered(self) -> bool:
        """Whether new rows have a place of their own in the order (else they go at the end)."""
        return self.sort_column is not None or self.compare or self.reverse

    def _show(self, rows: list[int]) -> None:
        """Show ``rows`` in the chosen order, the highlighted item staying highlighted."""
        column = self.columns[self.sort_column] if self.sort_column is not None else None
        value = self._sort_values(self.sort_column) if self.sort_column is not None else None
        ordered = view.order(
            self.items, rows, column, reverse=self.reverse, compare=self.compare, value=value
        )
        self.table.show_rows(ordered, keep=self.table.highlighted)

    def _sort_values(self, column: int) -> Callable[[int], Any]:
        """Item ``i``'s value in a column, each worked out once (a sort of 10,000 rows is then a sort)."""
        cache = self._values.setdefault(column, [])
        get = self.columns[column].value
        items = self.items

        def value(i: int) -> Any:
            while len(cache) <= i:
                cache.append(get(items[len(cache)]))
            return cache[i]

        return value

    @property
    def highlighted_index(self) -> int | None:
        """The index (into :attr:`items`) of the highlighted row, or ``None`` when the table is empty."""
        return self.table.highlighted

    def _filter(self) -> Callable[[dict[str, Any]], bool]:
        outcome = self.outcomes[self.outcome] if self.outcome else None
        return view.Filter(self.group, outcome, self.search, self._search_text, self.grouping)

    def _search_text(self, item: dict[str, Any]) -> str:
        key = id(item)  # items live as long as the screen: their ids are stable
        found = self._searched.get(key)
        if found is None:
            found = self._searched[key] = view.search_text(item)
        return found

    def _refilter(self) -> None:
        """The filters changed: the rows that pass, in order, the highlighted item kept when it passes."""
        accept = self._filter()
        self.matching = [i for i, item in enumerate(self.items) if accept(item)]
        self._show(list(self.matching))
        self._sync_status()

    # ------------------------------------------------------------------ summary and status

    def _show_summary(self) -> None:
        """The summary per group, each cell as the CLI's table prints it (report.cell)."""
        kind = self.probe_set.kind
        cols = [c for c in report.columns(kind) if self.final or not c[1].startswith("ci:")]  # CIs come last
        k = self.probe_set.k if kind == "cloze" else None
        heads = [h.replace("@k", f"@{k}") if k else h for h, _ in cols]
        prefixes = [f"{view.letter(n)} " for n in range(len(self.models))] if self.compare else [""]
        headings = [TableColumn(self._grouping_name(self.grouping))]
        headings += [TableColumn(prefix + head, right=True) for prefix in prefixes for head in heads]
        labelled = [report.summary_rows(kind, s) for s in self.summaries]
        lines: list[tuple[str, ...]] = []
        for n, (label, _block) in enumerate(labelled[0] if labelled else []):
            line = [label]
            for rows in labelled:
                block = rows[n][1] if n < len(rows) else {}
                line += [report.cell(kind, block, key) for _, key in cols]
            lines.append(tuple(line))
        table = self.summary_table
        table.set_columns(headings, lines.__getitem__)
        table.show_rows(list(range(len(lines))))
        self._fit_summary()

    def _fit_summary(self) -> None:
        """The summary takes up to :data:`SUMMARY_SHARE` of the screen; when its rows need more,
        its border says how many show and that it scrolls."""
        table = self.summary_table
        rows = table.row_count
        most = max(4, int(self.size.height * SUMMARY_SHARE)) if self.size.height else 10
        room = (self.size.width or 80) - 2 - (2 if rows + 3 > most else 0)  # the borders, a scrollbar
        sideways = 1 if table.needed_width(room) > room else 0  # a horizontal scrollbar takes a line
        table.styles.max_height = min(rows + 3 + sideways, most)  # the heading, the borders
        shown = min(rows, most - 3 - sideways)
        table.border_subtitle = f"{shown} of {rows} rows · scroll for more" if shown < rows else ""

    def on_resize(self) -> None:
        self._fit_summary()

    def _columns(self, grouping: str) -> list[view.Column]:
        return view.columns(
            self.probe_set.kind,
            models=len(self._loaders),
            k=self.probe_set.k,
            grouping=grouping,
            group_heading="group" if grouping == "group" else self._grouping_name(grouping),
        )

    def _grouping_name(self, grouping: str) -> str:
        if grouping == "group":
            return "UID" if self.probe_set.fmt == "blimp" else "group"
        return GROUPING_NAMES.get(grouping, grouping)

    def watch_state(self) -> None:
        stage = self.query_one("#results-stage", Static)
        state = self.state
        if state.stage == "loading":
            stage.update(state.note or "loading…")
        elif state.stage == "running":
            stage.update("running")
        elif state.stage == "done":
            stage.update("done" + (f" · {state.note}" if state.note else ""))
        else:
            stage.update("failed")
        self.refresh_bindings()
        self._sync_status()

    def _sync_status(self) -> None:
        if not self.is_mounted:
            return
        parts = [f"{self.table.row_count:,} of {len(self.matching):,} shown · {len(self.items):,} items"]
        if self.sort_column is not None:
            arrow = "↓" if self.reverse else "↑"
            parts.append(f"sorted by {self.columns[self.sort_column].heading} {arrow}")
        elif self.compare:
            parts.append("disagreements first")
        parts.append(f"group: {self.group if self.group is not None else 'all'}")
        parts.append(f"showing: {self.outcomes[self.outcome][0]}")
        if self.search:
            parts.append(f"search: {self.search!r}")
        if self._failed:
            parts.append(f"{self._failed} failed")
        self.query_one("#results-status", Static).update(" · ".join(parts))

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "search" and self.focused is not None and self.focused.id == "results-find":
            return False  # a / typed in the search box is a /
        if action == "outcome":  # one key, named for the kind of set
            return parameters == (self.probe_set.kind,)
        if action == "export" and self.state.stage != "done":
            return None  # only a complete set is written
        if action == "grouping":
            if len(self.groupings()) < 2:
                return False
            return True if self.state.stage == "done" else None  # the summary is regrouped when complete
        # a c typed in the search box is a c
        return not (action == "sort_by" and self.focused is not None and self.focused.id == "results-find")

    def commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        """Entries for the command palette while this screen is on top: its keys that can act now."""
        outcome = {
            "cloze": "Hits or misses",
            "pairs": "Correct or wrong",
            "crows": "More or less stereotyping",
        }
        found = [
            ("Sort the items", "Sort by the next column (s again: the next)", "sort", self.action_sort),
            ("Reverse the order", "Reverse the order of the items", "reverse", self.action_reverse),
            ("Next group", "Show one group at a time (again: the next)", "group", self.action_group),
            (
                outcome[self.probe_set.kind],
                "Show only one outcome, or the errors (again: the next)",
                "outcome",
                self.action_outcome,
            ),
            ("Search the items", "Show the items that contain some text", "search", self.action_search),
            ("Export the results", "Write the results as JSON and Markdown", "export", self.action_export),
        ]
        for title, help_text, action, callback in found:
            parameters = (self.probe_set.kind,) if action == "outcome" else ()
            if self.check_action(action, parameters) is True:
                yield title, help_text, callback
        for n, column in enumerate(self.columns):
            yield (
                f"Sort by {column.heading}",
                "Sort the items by this column (again: reverse)",
                lambda n=n: self.sort_by(n),
            )
        if self.check_action("grouping", ()) is True:
            for key in self.groupings():
                name = self._grouping_name(key)
                yield (
                    f"Group by {name}",
                    f"The summary and g's groups by {name}",
                    lambda k=key: self.group_by(k),
                )
        if len(self.app.screen_stack) > 1:
            yield "Back to the explorer", "Leave the results (escape comes back to them)", self.action_leave

    def action_sort(self) -> None:
        current = self.sort_column
        self.sort_column = (
            0 if current is None else (None if current + 1 >= len(self.columns) else current + 1)
        )
        self.reverse = False
        self._reorder()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._reorder()

    @on(ResultsTable.HeadingClicked)
    def _heading_clicked(self, event: ResultsTable.HeadingClicked) -> None:
        self.sort_by(event.column)

    def sort_by(self, column: int) -> None:
        """Sort by a column (ascending); by the same column again: reverse the order."""
        if self.sort_column == column:
            self.reverse = not self.reverse
        else:
            self.sort_column, self.reverse = column, False
        self._reorder()

    def action_sort_by(self) -> None:
        """Show the list of columns, the current one highlighted; enter sorts, escape closes it."""
        chooser = self.query_one("#results-sort-by", ColumnChooser)
        chooser.clear_options()
        marks = {self.sort_column: " ↓" if self.reverse else " ↑"}
        chooser.add_options([f"{c.heading}{marks.get(n, '')}" for n, c in enumerate(self.columns)])
        chooser.highlighted = self.sort_column if self.sort_column is not None else 0
        chooser.display = True
        self.set_focus(chooser)  # at once: the keys typed right after c move in the list

    def _sort_chosen(self, column: int | None) -> None:
        chooser = self.query_one("#results-sort-by", ColumnChooser)
        if not chooser.display:
            return
        chooser.display = False
        self.set_focus(self.table)
        if column is not None:
            self.sort_by(column)

    def _reorder(self) -> None:
        self._show(list(self.table.rows))
        self._sync_status()

    def action_group(self) -> None:
        """The next group, in the summary's order (then any group the summary lacks), then all."""
        first = list(self.summaries[0].get("groups", {})) if self.summaries else []
        names: list[str | None] = [None, *view.groups(self.items, self.grouping, first)]
        at = names.index(self.group) if self.group in names else 0
        self.group = names[(at + 1) % len(names)]
        self._refilter()

    def groupings(self) -> list[str]:
        """What the items can be grouped by: ``group`` (BLiMP: the UID), and BLiMP's field and
        linguistics_term when the items carry them."""
        if self.probe_set.kind != "pairs":
            return ["group"]
        return view.groupings(self.items)

    def action_grouping(self) -> None:
        found = self.groupings()
        at = found.index(self.grouping) if self.grouping in found else 0
        self.group_by(found[(at + 1) % len(found)])

    def group_by(self, grouping: str) -> None:
        """Group the summary and ``g``'s groups by ``grouping`` (the filter goes back to all groups)."""
        self.grouping = grouping
        self.group = None
        self.columns = self._columns(grouping)  # the group column shows the grouping
        self._values.clear()
        self._set_table_columns()
        if grouping == "group":
            self.summaries = self._run_summaries
            self._show_summary()
        else:
            self._regroup()
        self._refilter()

    def _regroup(self) -> None:
        """The summary by :attr:`grouping`: at once without intervals, then (a thread: the bootstrap
        of a large set takes seconds) with them, when the run is complete."""
        key = self.grouping
        found = self._regrouped.get(key)
        if found is None:
            tallies = self._tallies_by(key)
            found = [t.summary(0) for t in tallies]
            if self.final:
                self._bootstrap_groups(key, tallies)
        self.summaries = found
        self._show_summary()

    def _tallies_by(self, key: str) -> list[Tally]:
        """Each model's tally with the items grouped by ``key``: the run's Tally over the same items,
        each item's group being its ``key``."""
        kind = self.probe_set.kind
        tallies = [Tally(kind, k=self.probe_set.k) for _ in self.models]
        for item in self.items:
            shared = {k: v for k, v in item.items() if k not in ("results", "difference", "disagree")}
            for model, tally in enumerate(tallies):
                tally.add({**shared, **view.values(item, model), "group": item.get(key)})
        return tallies

    @dataclass
    class Regrouped(Message):
        """The summaries by another grouping, with their intervals."""

        grouping: str
        summaries: list[dict[str, Any]]

    @work(thread=True, exclusive=True, group="regroup", exit_on_error=False)
    def _bootstrap_groups(self, key: str, tallies: list[Tally]) -> None:
        n_boot = self.probe_set.n_boot
        summaries = [t.summary(n_boot) for t in tallies]
        if not get_current_worker().is_cancelled:
            self.post_message(self.Regrouped(key, summaries))

    @on(Regrouped)
    def _regrouped_ready(self, message: Regrouped) -> None:
        self._regrouped[message.grouping] = message.summaries
        if self.grouping == message.grouping:
            self.summaries = message.summaries
            self._show_summary()

    def action_outcome(self, _kind: str = "") -> None:
        self.outcome = (self.outcome + 1) % len(self.outcomes)
        self._refilter()

    def action_search(self) -> None:
        find = self.query_one("#results-find", Input)
        find.display = True
        find.value = self.search
        self.set_focus(find)  # at once, not on the next frame: what is typed right after / is the search

    @on(Input.Submitted, "#results-find")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search(event.value.strip())

    def _close_search(self, search: str) -> None:
        find = self.query_one("#results-find", Input)
        find.display = False
        self.set_focus(self.table)
        if search != self.search:
            self.search = search
            self._refilter()

    def action_leave(self) -> None:
        chooser = self.query_one("#results-sort-by", ColumnChooser)
        if chooser.display:
            self._sort_chosen(None)
            return
        find = self.query_one("#results-find", Input)
        if find.display:
            self._close_search("")  # escape in the search box clears the search
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @on(ResultsTable.Selected)
    def _row_selected(self, event: ResultsTable.Selected) -> None:
        self.post_message(self.Opened(self, self.items[event.item]))

    def action_export(self) -> None:
        """Write ``<stem>.json`` and ``<stem>.md`` as ``--json`` and ``--markdown`` write them (the summary
        by the file's own groups, as the CLI's default, whatever ``G`` shows)."""
        try:
            self._exported = self._write(self.items, self._run_summaries, stem=Path(self.probe_set.path).stem)
        except OSError as exc:
            self.notify(f"could not export: {exc}", severity="error", timeout=8)
            return
        self.notify(f"{self._exported[0]}\n{self._exported[1]}", title="Exported", timeout=10)

    def keep(self) -> Kept | None:
        """Stop the run and write what was computed as ``x`` writes it (quitting keeps it); ``None``
        when there is nothing to keep. An unfinished run is written as far as it
        got (``<stem>-partial``), its summary without intervals, as the screen showed it while it
        ran; a complete set already written by ``x`` is not written again. Raises :class:`OSError`."""
        complete = self.state.stage == "done"
        self.stop()
        with self._lock:  # the run's thread adds nothing more once cancelled
            items = self.items + self._buffer
            summaries = self._run_summaries if complete else [t.summary(0) for t in self._tallies]
        if not items:
            return None
        if not complete or self._exported is None:
            stem = Path(self.probe_set.path).stem + ("" if complete else "-partial")
            self._exported = self._write(items, summaries, stem=stem)
        return Kept(*self._exported, items=len(items), total=self.probe_set.total, complete=complete)

    def _write(
        self, items: list[dict[str, Any]], summaries: list[dict[str, Any]], *, stem: str
    ) -> tuple[Path, Path]:
        from ..export import exports_dir

        kind, probe_set = self.probe_set.kind, self.probe_set
        k = probe_set.k if kind == "cloze" else None
        paired = significance.of_items(kind, items, len(self.models)) or None
        document = report.document(self.models, probe_set.fmt, summaries, items, paired)
        markdown = report.full_markdown(kind, summaries, self.models, k, items, paired)
        header = provenance(str(probe_set.path), self._infos or list(self.models), kind)
        markdown = "\n".join([f"# {probe_set.name} ({probe_set.fmt})", "", *header, "", ""]) + markdown
        folder = self._export_dir if self._export_dir is not None else exports_dir()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        stem = f"{stem}-{stamp}"
        folder.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            name = stem if attempt == 1 else f"{stem}-{attempt}"
            as_json, as_md = folder / f"{name}.json", folder / f"{name}.md"
            if not as_json.exists() and not as_md.exists():
                break
        as_json.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        as_md.write_text(markdown, encoding="utf-8")
        return as_json, as_md


class ProbeSetPrompt(LinePrompt[str]):
    """Ask for the path of a probe set; enter opens it, escape cancels."""

    def __init__(self, value: str = "") -> None:
        super().__init__(
            "Open a probe set",
            "The path of a probe set: cloze probes (LAMA JSONL, or TSV/JSONL with [MASK] and an answer), "
            "minimal pairs (BLiMP JSONL, TSV/JSONL good and bad) or the CrowS-Pairs CSV. The format is "
            "recognised from the content.",
            value=value,
            input_id="probe-set-path",
            placeholder="examples/cloze.tsv",
        )

    def answer(self, value: str) -> str:
        return value.strip()
