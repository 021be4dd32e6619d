"""The results screen of a probe set: the summary per group, and a table of items that fills as they arrive.

A thread worker runs the set through the engine(s) exactly as the CLI does and puts each item
in a buffer; a message, posted when the buffer was empty (and ``can_replace``), tells the screen
to take them all.
The screen adds rows to the table a small batch at a time, so a set of 10,000 items never
holds the event loop for long. What to show (columns, filters, order) comes from the pure
functions of :mod:`mlm_tui.probes.view`; the summary from :mod:`mlm_tui.probes.report`, the
same cells the CLI prints.

``enter`` opens the highlighted item in the explorer (the screen stays installed, so
``escape`` there comes back to the same row); ``x`` writes the JSON and Markdown the CLI writes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, ProgressBar, Static
from textual.worker import get_current_worker

from ..engine import EngineError
from ..probes import report, view
from ..probes.formats import FormatError
from ..probes.run import Tally
from ..probes.sets import ProbeSet
from .prompt import LinePrompt

Loader = Callable[[Callable[[str], None]], Any]

FEED = 40
"""Rows added to the table per turn of the event loop (the table measures every new cell)."""
FEED_PAUSE = 0.01
"""Seconds between two batches of rows, so keys and repaints get their turn."""
SUMMARY_EVERY = 1.0
"""While items arrive, the summary (without intervals) is brought up to date this often (seconds)."""


class LineCell(Text):
    """The ``line`` cell: also carries the item's index, so the table can be ordered by our key."""

    __slots__ = ("index",)

    def __init__(self, line: object, index: int) -> None:
        super().__init__("" if line is None else str(line), justify="right")
        self.index = index


class ResultsTable(DataTable[Any]):
    """The items; ``enter`` opens the highlighted one."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="results-open", tooltip="Open the item in the explorer"),
    ]


@dataclass(frozen=True)
class RunState:
    """Where the run is: loading, running, done or failed (with a line to show)."""

    stage: str
    note: str = ""


class ResultsScreen(Screen[None]):
    """A probe set's summary and items, for one model or two."""

    BINDINGS = [
        Binding(
            "s", "sort", "Sort", id="results-sort", tooltip="Sort by the next column (s again: the next)"
        ),
        Binding("S", "reverse", "Reverse", show=False, id="results-reverse", tooltip="Reverse the order"),
        Binding("g", "group", "Group", id="results-group", tooltip="Show one group at a time (g cycles)"),
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
            "slash", "search", "Search", key_display="/", id="results-search", tooltip="Search the items"
        ),
        Binding(
            "x", "export", "Export", id="results-export", tooltip="Write the results as JSON and Markdown"
        ),
        Binding("escape", "leave", "Explorer", id="results-leave", tooltip="Back to the explorer"),
    ]

    sort_column: reactive[int | None] = reactive(None, bindings=True)
    reverse: reactive[bool] = reactive(False)
    group: reactive[str | None] = reactive(None)
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
        self.columns = view.columns(probe_set.kind, compare=self.compare, k=probe_set.k)
        self.outcomes = view.outcomes(probe_set.kind, compare=self.compare, k=probe_set.k)
        self.items: list[dict[str, Any]] = []
        """Every item received, in input order."""
        self.matching: list[int] = []
        """The items that pass the filters, in input order."""
        self.summaries: list[dict[str, Any]] = []
        self.final = False
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._pending: deque[int] = deque()
        self._in_table: list[int] = []
        self._feeding = False
        self._feeder: Timer | None = None
        self._keep: int | None = None
        self._failed = 0
        self._started = time.monotonic()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        summary: DataTable[Any] = DataTable(id="results-summary", cursor_type="none", zebra_stripes=True)
        summary.can_focus = False
        summary.border_title = self._title()
        yield summary
        with Horizontal(id="results-progress"):
            yield ProgressBar(total=self.probe_set.total, show_eta=True, id="results-bar")
            yield Static("", id="results-stage")
        table = ResultsTable(id="results-items", cursor_type="row", zebra_stripes=True)
        yield table
        yield Input(placeholder="search the items (enter applies, escape clears)", id="results-find")
        yield Static("", id="results-status")
        yield Footer()

    def _title(self) -> str:
        models = " vs ".join(self.models)
        return f"{self.probe_set.name} ({self.probe_set.fmt}) · {models}"

    def on_mount(self) -> None:
        kind = self.probe_set.kind
        width = view.text_width(kind, self.app.size.width)
        self.columns = view.columns(kind, compare=self.compare, k=self.probe_set.k, width=width)
        table = self.table
        for column in self.columns:
            table.add_column(column.heading, key=column.key)
        self.query_one("#results-find", Input).display = False
        self._show_summary()
        self._sync_status()
        table.focus()
        self._run()

    @property
    def table(self) -> ResultsTable:
        return self.query_one("#results-items", ResultsTable)

    @property
    def summary_table(self) -> DataTable[Any]:
        return self.query_one("#results-summary", DataTable)

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
            models = tuple(e.info.name for e in engines)
            self.post_message(self.Stage(RunState("running"), models))
            tallies = [Tally(kind, k=self.probe_set.k) for _ in engines]
            streams = [self.probe_set.results(engine) for engine in engines]
            summarised = time.monotonic()
            for rows in zip(*streams, strict=True):
                if worker.is_cancelled:
                    return
                for tally, row in zip(tallies, rows, strict=True):
                    tally.add(row)
                item = rows[0] if len(rows) == 1 else report.compared_item(kind, rows[0], rows[1])
                with self._lock:
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
            self.post_message(self.SummaryReady(summaries, final=True))
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
            new, self._buffer = self._buffer, []
        if not new:
            return
        start = len(self.items)
        self.items.extend(new)
        self._failed += sum(1 for item in new if view.failed(item))
        accept = self._filter()
        fresh = [i for i in range(start, len(self.items)) if accept(self.items[i])]
        self.matching.extend(fresh)
        self._pending.extend(fresh)
        total = self.bar.total
        if total is not None and len(self.items) > total:
            self.bar.update(total=len(self.items))
        self.bar.update(progress=len(self.items))
        self._feed()

    @on(SummaryReady)
    def _summary_ready(self, message: SummaryReady) -> None:
        self.summaries = message.summaries
        self.final = message.final
        self._show_summary()
        self._sync_status()

    # ------------------------------------------------------------------ the table, a batch at a time

    def _feed(self) -> None:
        """Add the next batch of pending rows; come back after a pause while any are left."""
        if self._feeding and self._pending:
            return  # a batch is already scheduled
        batch = [self._pending.popleft() for _ in range(min(FEED, len(self._pending)))]
        if batch:
            self.table.add_rows(self._cells(i) for i in batch)
        self._in_table.extend(batch)
        if batch and self._ordered:
            self._apply_order()
        if self._keep is not None and self._keep in batch:
            self._highlight(self._keep)
            self._keep = None
        self._sync_status()
        if self._pending:
            self._feeding = True
            self._feeder = self.set_timer(FEED_PAUSE, self._feed_next)
        else:
            self._feeding = False

    def _feed_next(self) -> None:
        self._feeding = False
        self._feeder = None
        self._feed()

    def _cells(self, index: int) -> list[Any]:
        item = self.items[index]
        cells: list[Any] = [LineCell(item.get("line"), index)]
        for column in self.columns[1:]:
            cells.append(Text(column.text(item), justify="right" if column.numeric else "left", no_wrap=True))
        return cells

    @property
    def _ordered(self) -> bool:
        return self.sort_column is not None or self.compare

    def _apply_order(self) -> None:
        """Put the rows in the table in order, the highlighted item staying highlighted."""
        column = self.columns[self.sort_column] if self.sort_column is not None else None
        ranks = {
            index: rank
            for rank, index in enumerate(
                view.order(self.items, self._in_table, column, reverse=self.reverse, compare=self.compare)
            )
        }
        here = self.highlighted_index
        self.table.sort("line", key=lambda cell: ranks[cell.index])
        self._in_table.sort(key=ranks.__getitem__)
        if here is not None:
            self._highlight(here)

    @property
    def highlighted_index(self) -> int | None:
        """The index (into :attr:`items`) of the highlighted row, or ``None`` when the table is empty."""
        table = self.table
        if not table.row_count:
            return None
        row = min(table.cursor_row, table.row_count - 1)
        return self._in_table[row]

    def _highlight(self, index: int) -> None:
        row = self._in_table.index(index)
        self.table.move_cursor(row=row, animate=False, scroll=True)

    def _filter(self) -> view.Filter:
        outcome = self.outcomes[self.outcome] if self.outcome else None
        return view.Filter(self.group, outcome, self.search)

    def _refilter(self) -> None:
        """The filters changed: the table is built again (a batch at a time), the highlighted item kept."""
        here = self.highlighted_index
        accept = self._filter()
        self.matching = [i for i, item in enumerate(self.items) if accept(item)]
        column = self.columns[self.sort_column] if self.sort_column is not None else None
        ordered = view.order(self.items, self.matching, column, reverse=self.reverse, compare=self.compare)
        self.table.clear()
        self._in_table = []
        self._pending = deque(ordered)
        self._keep = here if here is not None and here in set(self.matching) else None
        if self._feeder is not None:
            self._feeder.stop()
            self._feeder = None
        self._feeding = False
        self._feed()

    # ------------------------------------------------------------------ summary and status

    def _show_summary(self) -> None:
        table = self.summary_table
        table.clear(columns=True)
        kind = self.probe_set.kind
        cols = report.columns(kind)
        k = self.probe_set.k if kind == "cloze" else None
        heads = [h.replace("@k", f"@{k}") if k else h for h, _ in cols]
        prefixes = [f"{m} " if self.compare else "" for m in ("A", "B")][: len(self.models)]
        table.add_column("group", key="group")
        for prefix in prefixes:
            for head, (_, key) in zip(heads, cols, strict=True):
                if key.startswith("ci:") and not self.final:
                    continue  # the intervals come with the final summary
                table.add_column(prefix + head, key=prefix + key)
        if not self.summaries:
            return
        labelled = [report.summary_rows(kind, s) for s in self.summaries]
        for n, (label, _block) in enumerate(labelled[0]):
            row: list[Any] = [Text(label, no_wrap=True)]
            for rows in labelled:
                block = rows[n][1] if n < len(rows) else {}
                for _, key in cols:
                    if key.startswith("ci:") and not self.final:
                        continue
                    row.append(Text(report.cell(kind, block, key), justify="right"))
            table.add_row(*row)

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
        parts = [f"{len(self._in_table):,} of {len(self.matching):,} shown · {len(self.items):,} items"]
        if self._pending:
            parts[0] += " (filling)"
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
        if action == "outcome":  # one key, named for the kind of set
            return parameters == (self.probe_set.kind,)
        if action == "export" and self.state.stage != "done":
            return None  # only a complete set is written
        return True

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

    @on(DataTable.HeaderSelected, "#results-items")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        if self.sort_column == event.column_index:
            self.reverse = not self.reverse
        else:
            self.sort_column, self.reverse = event.column_index, False
        self._reorder()

    def _reorder(self) -> None:
        if self._pending:
            self._refilter()  # rows still to come: build the table again in the new order
        else:
            self._apply_order()
        self._sync_status()

    def action_group(self) -> None:
        names: list[str | None] = [None, *view.groups(self.items)]
        at = names.index(self.group) if self.group in names else 0
        self.group = names[(at + 1) % len(names)]
        self._refilter()

    def action_outcome(self, _kind: str = "") -> None:
        self.outcome = (self.outcome + 1) % len(self.outcomes)
        self._refilter()

    def action_search(self) -> None:
        find = self.query_one("#results-find", Input)
        find.display = True
        find.value = self.search
        find.focus()

    @on(Input.Submitted, "#results-find")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._close_search(event.value.strip())

    def _close_search(self, search: str) -> None:
        find = self.query_one("#results-find", Input)
        find.display = False
        self.table.focus()
        if search != self.search:
            self.search = search
            self._refilter()

    def action_leave(self) -> None:
        find = self.query_one("#results-find", Input)
        if find.display:
            self._close_search("")  # escape in the search box clears the search
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    @on(DataTable.RowSelected, "#results-items")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        index = self.highlighted_index
        if index is not None:
            self.post_message(self.Opened(self, self.items[index]))

    def action_export(self) -> None:
        """Write ``<stem>.json`` and ``<stem>.md`` as ``--json`` and ``--markdown`` write them."""
        from ..export import exports_dir

        kind, probe_set = self.probe_set.kind, self.probe_set
        k = probe_set.k if kind == "cloze" else None
        document = report.document(self.models, probe_set.fmt, self.summaries, self.items)
        markdown = report.full_markdown(kind, self.summaries, self.models, k, self.items)
        folder = self._export_dir if self._export_dir is not None else exports_dir()
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        stem = f"{Path(probe_set.path).stem}-{stamp}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for attempt in range(1, 1000):
                name = stem if attempt == 1 else f"{stem}-{attempt}"
                as_json, as_md = folder / f"{name}.json", folder / f"{name}.md"
                if not as_json.exists() and not as_md.exists():
                    break
            as_json.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            as_md.write_text(markdown, encoding="utf-8")
        except OSError as exc:
            self.notify(f"could not export: {exc}", severity="error", timeout=8)
            return
        self.notify(f"{as_json}\n{as_md}", title="Exported", timeout=10)


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
