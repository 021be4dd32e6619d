"""The Textual app: app-wide things only (CSS, quit, help, the command palette, the default screen).

Everything about the sentence lives in :class:`~mlm_tui.screens.explorer.ExplorerScreen`,
and everything about one model in a :class:`~mlm_tui.widgets.model_pane.ModelPane`.
The app talks to models only through the small :class:`mlm_tui.engine.Engine`
interface, so tests can hand it an instant fake. Every model call runs in a
thread worker that posts a message back; a result whose request number is not
the latest is dropped, so a stale table is never shown.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .config import Config
from .engine import MASK_ALIAS, EngineError, EngineOptions
from .journal import Journal, SessionState, damage_note
from .key_order import InOrderKeysApp
from .keymap import check_keymap
from .probes.sets import ProbeSet
from .screens.explorer import ExplorerScreen
from .screens.help import HelpScreen
from .screens.results import ResultsScreen, ResultsTable
from .session import Span
from .widgets.model_pane import Loader, Upgrade
from .widgets.prediction_table import PredictionTable
from .widgets.token_view import TokenView

EXAMPLE_TEXT = "Paris is the capital of France."

__all__ = ["EXAMPLE_TEXT", "Loader", "MlmApp", "make_app"]


class NoWaitExecutor(ThreadPoolExecutor):
    """Thread workers that do not hold up quitting.

    A model load or a forward pass cannot be interrupted, and asyncio waits for
    its default executor on the way out. With this executor, ``q`` returns at
    once; the CLI then ends the process without joining the busy thread.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


def engine_loader(options: EngineOptions) -> Loader:
    """The real loader: builds the engine from ``options`` in a worker thread.

    With ``backend="auto"`` it does not wait for an ONNX export: a model whose graph is
    not cached yet answers from PyTorch at once, and :func:`engine_upgrade` switches it.
    """

    def load(progress: Callable[[str], None]):
        return options.load(progress, warm_up=True, export=False)

    return load


def engine_upgrade(options: EngineOptions) -> Upgrade:
    """Export the model to ONNX in the background (once; cached) and hand over the ONNX engine."""

    def upgrade(engine, progress: Callable[[str], None]):
        if not options.wants_export(engine):
            return None
        return options.load_fast_backend(engine, progress)

    return upgrade


def shared_loader(loader: Loader) -> Loader:
    """The same engine for every caller: the explorer's pane and a probe set's run load the model once.

    A second caller waits for the first load; a load that fails is tried again by the next caller.
    """
    lock = threading.Lock()
    loaded: list[Any] = []

    def load(progress: Callable[[str], None]):
        with lock:
            if not loaded:
                loaded.append(loader(progress))
            return loaded[0]

    return load


@dataclass(frozen=True)
class OpenPair:
    """The minimal pair shown in the explorer: its two sentences, each one's differing tokens."""

    sentences: tuple[str, str]
    marked: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]
    names: tuple[str, str]
    counted: str | None = None
    """What the sum of the marked tokens' log-probabilities is, when a metric counts them (CrowS-Pairs)."""
    source: tuple[str, str] | None = None
    """The probe set's file and kind (the export's header names them)."""


CROWS_COUNTED = "metric.py score"
"""The surprisal title's name for the sum of a CrowS-Pairs sentence's underlined (shared) tokens."""


def crows_counted(
    engine: Any, sentences: tuple[str, str], direction: object
) -> tuple[list[Span], list[Span]]:
    """The character spans of the tokens CrowS-Pairs' ``metric.py`` scores in each sentence (more, less).

    The tokens both sentences share (difflib over token ids, the sentences in the order the
    metric takes them: the more stereotyping first for ``stereo`` pairs), but the first and
    the last shared ones (``[CLS]``, ``[SEP]``): the same positions the results row summed.
    """
    from .engine.probing import shared_tokens

    more, less = engine.encode(sentences[0]), engine.encode(sentences[1])
    first, second = (more, less) if direction == "stereo" else (less, more)
    templates = shared_tokens(list(first.ids), list(second.ids))
    spans = [
        [(encoding.tokens[i].start, encoding.tokens[i].end) for i in template[1:-1]]
        for encoding, template in zip((first, second), templates, strict=True)
    ]
    return (spans[0], spans[1]) if direction == "stereo" else (spans[1], spans[0])


class MlmApp(InOrderKeysApp[None]):
    """Explore masked language models from the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "mlm-tui"

    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit"),
        Binding("question_mark", "help", "Help", key_display="?", id="help", tooltip="Show every key"),
        Binding(
            "escape",
            "back_to_results",
            "Results",
            priority=True,
            id="back-to-results",
            tooltip="Back to the probe set's results, on the same row",
        ),
        Binding(
            "o",
            "other_sentence",
            "Other sentence",
            id="other-sentence",
            tooltip="A minimal pair: show its other sentence (o again: back)",
        ),
    ]

    def __init__(
        self,
        panes: list[tuple[Loader, str, Upgrade | None]],
        *,
        text: str | None = None,
        top_k: int = 10,
        options: EngineOptions | None = None,
        loader_factory: Callable[[EngineOptions], Loader] | None = engine_loader,
        config: Config | None = None,
        notices: Sequence[str] = (),
        resume: SessionState | None = None,
        journal: Journal | None = None,
        export_dir: Path | None = None,
        results: ProbeSet | None = None,
        results_loaders: Sequence[tuple[Loader, str]] = (),
        index: Any = None,
    ) -> None:
        super().__init__()
        self._index = index
        self._results = results
        self._results_loaders = list(results_loaders)
        """Models that run the probe set beside the explorer's (a third model and on), not shown in panes."""
        self._pair: OpenPair | None = None
        self._panes = panes
        self._text = text or EXAMPLE_TEXT
        self._top_k = top_k
        self._options = options
        self._loader_factory = loader_factory
        self._config = config or Config()
        self._notices = list(notices)
        self._resume = resume
        self._journal = journal
        self._export_dir = export_dir
        self.kept: list[str] = []
        """Lines for the terminal once the app has exited (where quitting kept a probe set's results)."""

    def get_default_screen(self) -> Screen:
        return ExplorerScreen(
            self._panes,
            text=self._text,
            top_k=self._top_k,
            loader_factory=self._loader_factory,
            upgrade_factory=engine_upgrade if self._loader_factory is engine_loader else None,
            options=self._options,
            resume=self._resume,
            journal=self._journal,
            export_dir=self._export_dir,
            index=self._index,
        )

    def on_mount(self) -> None:
        if self._results is not None:
            panes = [(loader, label) for loader, label, _ in self._panes]
            self.show_results(self._results, panes + self._results_loaders)
        for notice in self._notices:
            self.notify(notice, title="Config file", severity="warning", timeout=15, markup=False)
        if self._resume is not None and self._resume.skipped:
            copy = self._journal.damaged_copy if self._journal is not None else None
            note = damage_note(self._resume, copy)
            self.notify(note, title="Damaged session", severity="warning", timeout=20, markup=False)
        theme = self._config.theme
        if theme is not None:
            if theme in self.available_themes:
                self.theme = theme
            else:
                self.notify(f"config: unknown theme {theme!r}; using {self.theme}", severity="warning")
        if self._config.keys:
            checked = check_keymap(self._config.keys, self.binding_contexts())
            if checked.problems:  # one notification, a line a problem; the actions involved keep their keys
                self.notify(
                    "\n".join(checked.problems),
                    severity="warning",
                    timeout=15,
                    markup=False,  # "[keys]" is text, not markup
                )
            self.set_keymap(checked.keymap)

    @staticmethod
    def all_bindings() -> list[Binding]:
        """Every key of the app, its screen, the token cells and the table (for help and key overrides)."""
        found = [
            *TokenView.BINDINGS,
            *ExplorerScreen.BINDINGS,
            *MlmApp.BINDINGS,
            *PredictionTable.BINDINGS,
            *ResultsScreen.BINDINGS,
            *ResultsTable.BINDINGS,
        ]
        return [b for b in found if isinstance(b, Binding)]

    @staticmethod
    def binding_contexts() -> dict[str, list[Binding]]:
        """The bindings in force together, by where the focus is: two actions there need two keys.

        With the ones each class inherits from Textual (``ctrl+q`` quits, a table's ``pageup``).
        """

        def merged(cls: Any) -> list[Binding]:
            return [b for bindings in cls._merge_bindings().key_to_bindings.values() for b in bindings]

        palette = Binding(MlmApp.COMMAND_PALETTE_BINDING, "command_palette", "palette")
        app, explorer = [*merged(MlmApp), palette], merged(ExplorerScreen)
        outcomes = {b.id for b in MlmApp._results_keys("cloze") + MlmApp._results_keys("pairs")}

        def results(kind: str) -> list[Binding]:
            keys = {b.id for b in MlmApp._results_keys(kind)}
            screen = [b for b in merged(ResultsScreen) if b.id not in outcomes or b.id in keys]
            return [*merged(ResultsTable), *screen, *app]

        return {
            "the token cells": [*merged(TokenView), *explorer, *app],
            "the prediction table": [*merged(PredictionTable), *explorer, *app],
            **{f"the {kind} results": results(kind) for kind in ("cloze", "pairs", "crows")},
        }

    def pop_screen(self) -> AwaitComplete:
        """Close the top screen; with only the explorer left, do nothing.

        Textual's command palette, while it closes, can still take an enter typed fast (or pasted)
        after the one that ran a command, and dismiss itself a second time: with nothing left to
        pop, that must not take the app down.
        """
        if len(self.screen_stack) <= 1:
            return AwaitComplete()
        return super().pop_screen()

    async def action_quit(self) -> None:
        """Quit (``q``, ``ctrl+c``); a probe set's results are kept first, and a run cut short exits
        with status 130, as the CLI interrupted by ``ctrl+c`` does."""
        self.exit(return_code=self._keep_results())

    def _keep_results(self) -> int:
        if not self.is_screen_installed("results"):
            return 0
        screen = self.get_screen("results")
        assert isinstance(screen, ResultsScreen)
        status = 130 if screen.state.stage in ("loading", "running") else 0
        try:
            kept = screen.keep()
        except OSError as exc:
            self.kept.append(f"error: the results could not be kept: {exc}")
            return status or 1
        if kept is not None:
            total = f" of {kept.total:,}" if kept.total is not None else ""
            how_far = "" if kept.complete else f"the run stopped after {kept.items:,}{total} items; "
            self.kept.append(f"{how_far}results kept in {kept.json} and {kept.markdown}")
        return status

    def on_load(self) -> None:
        asyncio.get_running_loop().set_default_executor(NoWaitExecutor(thread_name_prefix="mlm-tui"))

    @property
    def explorer(self) -> ExplorerScreen:
        """The explorer screen (the default screen, under any modal)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, ExplorerScreen)
        return screen

    def action_help(self) -> None:
        from .screens.explorer import VIEW_KEYS

        results = []
        if isinstance(self.screen, ResultsScreen):
            kind = self.screen.probe_set.kind
            results = [
                ("Probe set results", [*ResultsTable.BINDINGS, *self._results_keys(kind)]),
            ]
        self.push_screen(
            HelpScreen(
                [
                    *results,
                    ("Tokens", TokenView.BINDINGS),
                    ("Sentence and predictions", [b for b in ExplorerScreen.BINDINGS if b not in VIEW_KEYS]),
                    ("Joint fills, attention, watched words", VIEW_KEYS),
                    ("App", self.BINDINGS),
                    ("Prediction table (when focused)", PredictionTable.BINDINGS),
                ],
                keymap=self._keymap,  # the keys in force: a [keys] override replaces a binding's keys
            )
        )

    @staticmethod
    def _results_keys(kind: str) -> list[Binding]:
        """The results screen's keys, with the one outcome key that fits ``kind``."""
        other = {"cloze": "results-hits", "pairs": "results-correct", "crows": "results-prefers"}
        return [
            b
            for b in ResultsScreen.BINDINGS
            if isinstance(b, Binding) and (b.id not in other.values() or b.id == other[kind])
        ]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        # Only the screen the palette was opened on: never the explorer hidden under the results
        on_top: Iterable[tuple[str, str, Callable[[], object]]] = ()
        if screen is self.explorer:
            on_top = self.explorer.commands()
        elif isinstance(screen, ResultsScreen):
            on_top = screen.commands()
        for title, help_text, callback in on_top:
            yield SystemCommand(title, help_text, callback)
        yield SystemCommand(
            "Open a probe set…",
            "Cloze probes, minimal pairs or CrowS-Pairs: the summary and every item, each one enter away",
            self.action_open_probe_set,
        )
        yield SystemCommand("Keys", "Show every key", self.action_help)

    # ------------------------------------------------------------------ probe sets (issue 16)

    def show_results(self, probe_set: ProbeSet, loaders: list[tuple[Loader, str]] | None = None) -> None:
        """Open ``probe_set``'s results screen (in place of one already open), run by the explorer's model."""
        if self.is_screen_installed("results"):
            old = self.get_screen("results")
            assert isinstance(old, ResultsScreen)
            old.stop()
            while old in self.screen_stack:
                self.pop_screen()
            self.uninstall_screen("results")
            if old.is_attached and old not in self.screen_stack:
                old.remove()
        if loaders is None:
            loader, label, _upgrade = self._panes[0]
            loaders = [(loader, label)]
        self._pair = None
        self.install_screen(ResultsScreen(probe_set, loaders, export_dir=self._export_dir), "results")
        self.push_screen("results")

    def action_open_probe_set(self) -> None:
        from .probes.formats import FormatError
        from .probes.sets import open_probe_set
        from .screens.results import ProbeSetPrompt

        def chosen(path: str | None) -> None:
            if not path:
                return
            try:
                probe_set = open_probe_set(os.path.expanduser(path))
            except FormatError as exc:
                self.notify(str(exc), title="Not a probe set", severity="error", timeout=10)
                return
            self.show_results(probe_set)

        self.push_screen(ProbeSetPrompt(), chosen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("back_to_results", "other_sentence"):
            explorer = self.screen_stack[0] if self.screen_stack else None
            if self.screen is not explorer or not isinstance(explorer, ExplorerScreen) or explorer.editing:
                return False  # escape then belongs to the screen on top, or to the sentence box
            if action == "back_to_results":
                return self.is_screen_installed("results")
            return (
                self._pair is not None
                and explorer.snapshot is not None
                and (explorer.snapshot.text in self._pair.sentences)
            )
        return True

    def action_back_to_results(self) -> None:
        self.push_screen("results")

    def on_results_screen_opened(self, message: ResultsScreen.Opened) -> None:
        """Show an item in the explorer: a probe with its mask and its answers watched; a pair's first
        sentence in the surprisal view, the tokens that differ from the other one underlined."""
        from .probes import view
        from .probes.sets import answers, differing_spans, pair_sentences

        kind = message.screen.probe_set.kind
        item = {**message.item, **view.values(message.item)}
        explorer = self.explorer
        if kind == "cloze":
            if "text" not in item:
                self.notify(f"line {item.get('line')}: nothing to open", severity="warning", timeout=5)
                return
            self._pair = None
            text = str(item["text"])
            at = text.find(MASK_ALIAS)
            opened = explorer.open_text(
                text,
                watched=answers(item),
                surprisal=False,
                select_at=at if at >= 0 else None,
                source=(str(message.screen.probe_set.path), kind),
            )
        else:
            sentences = pair_sentences(kind, item)
            if sentences is None:
                self.notify(f"line {item.get('line')}: nothing to open", severity="warning", timeout=5)
                return
            marked: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] = ((), ())
            engine = explorer.left.engine
            counted = None
            if engine is not None:
                try:
                    if kind == "crows":  # the tokens its metric counts: the shared ones
                        a, b = crows_counted(engine, sentences, item.get("direction"))
                        counted = CROWS_COUNTED
                    else:  # the tokens that make the pair minimal
                        a, b = differing_spans(engine.encode(sentences[0]), engine.encode(sentences[1]))
                    marked = (tuple(a), tuple(b))
                except EngineError:  # the marks are a help; the sentence still opens (and says why not)
                    pass
            names = ("more stereotyping", "less stereotyping") if kind == "crows" else ("good", "bad")
            source = (str(message.screen.probe_set.path), kind)
            self._pair = OpenPair(sentences, marked, names, counted, source)
            select = _first(differing_spans_of(marked[0], sentences[0])) if counted else _first(marked[0])
            opened = explorer.open_text(
                sentences[0],
                surprisal=True,
                marked=marked[0],
                select_at=select,
                counted=counted,
                source=(str(message.screen.probe_set.path), kind),
            )
        if opened:
            self.pop_screen()
            if self._pair is not None:
                counts = (
                    "; underlined: the tokens its metric counts (the shared ones)"
                    if self._pair.counted
                    else ""
                )
                self.notify(
                    f"The {self._pair.names[0]} sentence{counts}; o shows the {self._pair.names[1]} one, "
                    "escape the results",
                    timeout=5,
                )

    def action_other_sentence(self) -> None:
        pair, explorer = self._pair, self.explorer
        if pair is None or explorer.snapshot is None:
            return
        which = 1 if explorer.snapshot.text == pair.sentences[0] else 0
        marked = pair.marked[which]
        text = pair.sentences[which]
        select = _first(differing_spans_of(marked, text)) if pair.counted else _first(marked)
        if explorer.open_text(
            text, surprisal=True, marked=marked, select_at=select, counted=pair.counted, source=pair.source
        ):
            self.notify(f"The {pair.names[which]} sentence", timeout=3)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}",
                title="Unexpected error",
                severity="error",
                timeout=10,
                markup=False,
            )


def _first(spans: Sequence[tuple[int, int]]) -> int | None:
    return spans[0][0] if spans else None


def differing_spans_of(shared: Sequence[Span], text: str) -> list[Span]:
    """The stretches of ``text`` between the ``shared`` spans that hold more than blanks: where a
    CrowS-Pairs sentence differs from its pair (the selection goes there, as for minimal pairs)."""
    gaps, at = [], 0
    for start, end in sorted(shared):
        if text[at:start].strip():
            gaps.append((at, start))
        at = max(at, end)
    if text[at:].strip():
        gaps.append((at, len(text)))
    return [(start + len(text[start:end]) - len(text[start:end].lstrip()), end) for start, end in gaps]


def make_app(
    text: str | None = None,
    *,
    options: EngineOptions | None = None,
    compare: EngineOptions | None = None,
    top_k: int = 10,
    loader: Loader | None = None,
    compare_loader: Loader | None = None,
    loader_factory: Callable[[EngineOptions], Loader] | None = None,
    config: Config | None = None,
    notices: Sequence[str] = (),
    resume: SessionState | None = None,
    journal: Journal | None = None,
    export_dir: Path | None = None,
    results: ProbeSet | None = None,
    results_models: Sequence[EngineOptions] = (),
    index: Any = None,
    senses: Any = None,
) -> MlmApp:
    """Build the app; the CLI, the tests and the screenshot script all come through here.

    ``options`` describes the first model and ``compare`` a second one shown beside it.
    ``loader``/``compare_loader`` replace how those two are built, and
    ``loader_factory`` how any model is built (the palette's "Compare with another
    model" uses it); tests pass fakes through these.

    ``config`` gives the theme and key overrides, ``notices`` lines to show at start (a
    broken config file), ``resume`` a session to reopen (text, masks, undo history),
    ``journal`` where every applied change is written before it is shown, and
    ``export_dir`` where ``x`` writes (default: the user data dir); ``results`` a probe set
    whose results screen opens at once, run by the same model(s) as the explorer (loaded once),
    and by ``results_models`` after them (a third model and on: the results screen shows N models);
    ``index`` an opened corpus index (:class:`mlm_tui.index.Index`) for the nearest-contexts view (``n``);
    ``senses`` a :class:`~mlm_tui.screens.senses.SensesRequest` whose screen opens at start, over the
    explorer, with the explorer's model (loaded once).
    """
    options = options or EngineOptions()
    factory = loader_factory or engine_loader
    real = loader_factory is None  # only real engines switch to ONNX Runtime in the background

    def upgrade(custom: Loader | None, pane: EngineOptions) -> Upgrade | None:
        return engine_upgrade(pane) if real and custom is None else None

    panes = [(shared_loader(loader or factory(options)), options.label, upgrade(loader, options))]
    if compare is not None:
        panes.append(
            (
                shared_loader(compare_loader or factory(compare)),
                compare.label,
                upgrade(compare_loader, compare),
            )
        )
    app = MlmApp(
        panes,
        text=text,
        top_k=top_k,
        options=options,
        loader_factory=factory,
        config=config,
        notices=notices,
        resume=resume,
        journal=journal,
        export_dir=export_dir,
        results=results,
        results_loaders=[(shared_loader(factory(more)), more.label) for more in results_models],
        index=index,
    )
    if senses is not None:
        from .screens.senses import SensesScreen

        # Queued before the app runs, so handled once it is mounted (after the explorer underneath).
        app.call_later(app.push_screen, SensesScreen(senses, panes[0][0], export_dir=export_dir))
    return app
