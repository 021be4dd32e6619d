"""One model's view of the sentence: its token cells, its prediction table, its workers.

A pane owns everything that belongs to one engine (the encoding, the masks as
token positions, prediction and score results, request numbers, workers) and
never looks outside itself. The screen passes the shared state down
(:meth:`ModelPane.apply`, ``top_k``, ``show_surprisal``, ``want_full``); the pane
posts what the user did in it up as messages whose ``control`` is the pane, so
a parent can route them with ``@on(ModelPane.MasksEdited, "#right")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.worker import get_current_worker

from ..engine import (
    Encoding,
    Engine,
    EngineError,
    MaskResult,
    PredictResult,
    ScoreResult,
)
from ..messages import (
    ModelFailed,
    ModelProgress,
    ModelReady,
    ModelUpgraded,
    PredictionsReady,
    ScoresReady,
    UpgradeFailed,
    UpgradeProgress,
    ViewFailed,
    ViewReady,
    WorkFailed,
)
from ..session import Snapshot, Span, TextMap, positions_covering, shift_spans, spans_of
from .prediction_table import PredictionTable
from .token_view import TokenView
from .views import (
    AttentionView,
    Context,
    FillsView,
    GridView,
    LensView,
    NeighboursView,
    PredictionsView,
    SalienceView,
    Shown,
    SimilarityView,
    SurprisalView,
    UnmaskedView,
    View,
)

Loader = Callable[[Callable[[str], None]], Engine]
"""Builds the engine in a worker thread; gets a callback to report its progress."""
Upgrade = Callable[[Engine, Callable[[str], None]], Engine | None]
"""Given the engine that answers now, builds a faster exact one in a worker thread (the ONNX
Runtime backend, exported once), or returns ``None`` when there is nothing to switch to."""


@dataclass
class PaneMessage(Message):
    """A message from a model pane; its ``control`` is the pane."""

    pane: ModelPane

    @property
    def control(self) -> ModelPane:
        return self.pane


class PredictionsPanel(Vertical):
    """The box around a pane's table; its title is derived from reactives, never written by others."""

    heading: reactive[str] = reactive("Predictions")
    elapsed_ms: reactive[float | None] = reactive(None)

    def _title(self) -> str:
        if self.elapsed_ms is None:
            return self.heading
        return f"{self.heading} · {self.elapsed_ms:.0f} ms"

    def watch_heading(self) -> None:
        self.border_title = Content(self._title())  # plain text: "[MASK]" and "[CLS]" are tokens, not markup

    def watch_elapsed_ms(self) -> None:
        self.border_title = Content(self._title())


class ModelPane(Vertical):
    """Token cells and a prediction table for one engine."""

    label: reactive[str] = reactive("")
    """The model's name as the user asked for it; the tokens box shows it."""
    top_k: reactive[int] = reactive(10)
    show_surprisal: reactive[bool] = reactive(False)
    want_full: reactive[bool] = reactive(False)
    """Ask the engine for whole distributions (for KL/JS against another model)."""
    view: reactive[str | None] = reactive(None)
    """The view the screen opened on every pane (``a``: attention), by its name in :attr:`views`."""
    show_ids: reactive[bool] = reactive(False)
    """Token ids under the cells and beside the predictions (``i``)."""
    watched: reactive[tuple[str, ...]] = reactive(())
    """Words whose probability and rank are shown at every mask."""
    beam: int = 5

    # ------------------------------------------------------------------ messages up
    # Each carries the pane as its ``control``, so a parent routes them with a selector.

    @dataclass
    class Progress(PaneMessage):
        """The model is loading; ``stage`` says what it is doing."""

        stage: str

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ModelPane.Progress) and message.pane is self.pane

    @dataclass
    class Loaded(PaneMessage):
        """The pane's engine is ready (or was replaced by a faster one giving the same answers)."""

    @dataclass
    class Failed(PaneMessage):
        """The pane's model could not be loaded."""

        error: str

    @dataclass
    class MasksEdited(PaneMessage):
        """The user masked or unmasked cells here; ``spans`` are every mask, in the session's text."""

        spans: frozenset[Span]

    @dataclass
    class SelectionMoved(PaneMessage):
        """The selected cell moved; ``span`` is its characters in the session's text."""

        span: Span

    @dataclass
    class ResultsChanged(PaneMessage):
        """What the pane shows changed (predictions, scores, or the table's subject)."""

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ModelPane.ResultsChanged) and message.pane is self.pane

    @dataclass
    class LoadAnswer(Message, bubble=False):
        """What the worker loading (or upgrading) the pane's model says, tagged with the model it is for.

        The model can be changed while it loads (the palette's "Change the main model"): what a
        worker of an earlier model says then is stale and dropped, even once it is in the queue.
        """

        load: int
        message: Message

        def can_replace(self, message: Message) -> bool:
            return (
                isinstance(message, ModelPane.LoadAnswer)
                and message.load == self.load
                and isinstance(self.message, (ModelProgress, UpgradeProgress))
                and type(message.message) is type(self.message)
            )

    @dataclass
    class ContextChosen(PaneMessage):
        """``enter`` on a nearest context: the screen opens its sentence on the matched token."""

        context: Context

    @dataclass
    class SubstituteRequested(PaneMessage):
        """The user chose a prediction: ``snapshot`` is the new session state, ``select_at`` where to look."""

        snapshot: Snapshot
        select_at: int

    # ------------------------------------------------------------------ state

    def __init__(
        self, loader: Loader, label: str, *, upgrade: Upgrade | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._loader = loader
        self._upgrade = upgrade
        self.upgrading: str | None = None
        """What the switch to the faster backend is doing, while it runs."""
        self.set_reactive(ModelPane.label, label)
        self.engine: Engine | None = None
        self.encoding: Encoding | None = None
        self.predictions: PredictResult | None = None
        self.scores: ScoreResult | None = None
        self.error: str | None = None
        self.stage = "starting"
        self.load_seconds: float | None = None
        self.snapshot: Snapshot | None = None
        self.text_map: TextMap | None = None
        self.shown = Shown("message")
        self.score_error: str | None = None
        self._focus_mask: int | None = None
        self._predict_request = 0
        self._score_request = 0
        self._encoded: tuple[str, Encoding] | None = None
        # the views of the table (see .views): the one on show is chosen by :meth:`current`
        self.fills = FillsView(self)
        self.attention = AttentionView(self)
        self.surprisal = SurprisalView(self)
        self.unmasked = UnmaskedView(self)
        self.mask_predictions = PredictionsView(self)
        self.lens = LensView(self)
        self.salience = SalienceView(self)
        self.views: dict[str, View] = {
            view.name: view
            for view in (
                self.attention,
                self.lens,
                GridView(self),
                SimilarityView(self),
                self.salience,
                NeighboursView(self),
            )
        }
        """The views the screen opens on every pane (``a``, ``L``, ``#``, ``v``, ``d``, ``n``), by name:
        :attr:`view` picks one."""
        self.index: Any = None
        """The corpus index the nearest-contexts view searches (:class:`mlm_tui.index.Index`), set by
        the screen; ``None`` while none is open."""
        # what the views asked for: each answer kept with the key it answers, and the latest request
        self._answers: dict[str, tuple[object, object]] = {}
        self._asked: dict[str, tuple[object, int]] = {}
        self._view_errors: dict[str, tuple[object, str]] = {}
        self._view_request = 0
        self._load = 0
        """Which model the pane shows: :meth:`change_model` counts up, so older loads are stale."""

    def compose(self) -> ComposeResult:
        yield TokenView(id="tokens")
        with PredictionsPanel(id="predictions"):
            yield PredictionTable(id="table")

    def on_mount(self) -> None:
        self.tokens.placeholder = f"Loading {self.label}…"
        self.tokens.border_title = Content(f"Tokens · {self.label}")
        self.table.show_message("The model is loading; the keys in grey wait for it.")
        self.tokens.show_ids = self.table.ids = self.show_ids
        self.load_model()

    @property
    def tokens(self) -> TokenView:
        return self.query_one("#tokens", TokenView)

    @property
    def table(self) -> PredictionTable:
        return self.query_one("#table", PredictionTable)

    @property
    def panel(self) -> PredictionsPanel:
        return self.query_one("#predictions", PredictionsPanel)

    @property
    def ready(self) -> bool:
        return self.engine is not None

    def watch_label(self, label: str) -> None:
        for tokens in self.query("#tokens").results(TokenView):
            tokens.border_title = Content(f"Tokens · {label}")

    @property
    def summary(self) -> tuple[str, str]:
        """For the status bar: a short line (the model, and its state while not ready) and a full one."""
        if self.engine is None:
            if self.error:
                line = f"{self.label} · not loaded"
                return line, f"{line}: {' '.join(self.error.split())}"
            return f"{self.label} · loading…", f"{self.label} · loading: {self.stage}"
        info = self.engine.info
        name = f"{info.name} (bundled stand-in)" if info.notes else info.name
        backend = getattr(info, "backend", "")
        if self.upgrading:
            backend += f" ({self.upgrading})"
        return info.name, " · ".join(part for part in (name, info.device, info.dtype, backend) if part)

    # ------------------------------------------------------------------ loading

    def change_model(self, loader: Loader, label: str, upgrade: Upgrade | None = None) -> None:
        """Load another model here; the screen applies the session's text and masks once it is ready.

        Everything that belonged to the old model (its engine, results, cached answers, workers)
        goes; what its workers still say is dropped (:class:`LoadAnswer`, request numbers).
        """
        self._load += 1
        for group in ("load", "upgrade", "predict", "score", *self._asked):
            self.workers.cancel_group(self, group)
        self._loader, self._upgrade = loader, upgrade
        self.engine = self.encoding = self.predictions = self.scores = None
        self.error = self.score_error = self.upgrading = None
        self.text_map = None
        self.stage = "starting"
        self.load_seconds = None
        self._encoded = None
        self._focus_mask = None
        self._predict_request += 1
        self._score_request += 1
        self._view_request += 1
        self._answers.clear()
        self._asked.clear()
        self._view_errors.clear()
        self.fills.on, self.fills.step = False, None
        self.label = label
        self.tokens.encoding = None
        self.tokens.masked = frozenset()
        self.tokens.surprisal = self.tokens.shade = self.tokens.revealed = None
        self.tokens.placeholder = f"Loading {label}…"
        self.shown = Shown("message")
        self.panel.heading, self.panel.elapsed_ms = "Predictions", None
        self.table.show_message("The model is loading; the keys in grey wait for it.")
        self.load_model()

    def on_model_pane_load_answer(self, answer: LoadAnswer) -> None:
        if answer.load != self._load:
            return  # a worker of the model this pane showed before
        handlers: dict[type, Callable[[Any], None]] = {
            ModelProgress: self.on_model_progress,
            ModelReady: self.on_model_ready,
            ModelFailed: self.on_model_failed,
            UpgradeProgress: self.on_upgrade_progress,
            UpgradeFailed: self.on_upgrade_failed,
            ModelUpgraded: self.on_model_upgraded,
        }
        handlers[type(answer.message)](answer.message)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self) -> None:
        load, loader = self._load, self._loader

        def say(message: Message) -> None:
            self.post_message(self.LoadAnswer(load, message))

        started = time.perf_counter()
        try:
            engine = loader(lambda stage: say(ModelProgress(stage)))
        except EngineError as exc:
            say(ModelFailed(str(exc)))
            return
        except Exception as exc:  # anything else still reaches the user as one line
            say(ModelFailed(f"{type(exc).__name__}: {exc}"))
            return
        say(ModelReady(engine, time.perf_counter() - started))

    def on_model_progress(self, message: ModelProgress) -> None:
        self.stage = message.stage
        self.tokens.placeholder = f"Loading {self.label}: {message.stage}…"
        self.post_message(self.Progress(self, message.stage))

    def on_model_ready(self, message: ModelReady) -> None:
        self.engine = message.engine
        self.load_seconds = message.seconds
        self.label = message.engine.info.name
        self.tokens.mask_token = message.engine.info.mask_token
        self.tokens.mask_id = getattr(message.engine, "mask_id", None)
        for note in message.engine.info.notes:
            self.notify(note, title="Bundled model", timeout=12)
        for warning in message.engine.info.warnings:
            self.notify(warning, severity="warning", timeout=10)
        self.table.show_message("Press m to mask the selected token.")
        self.post_message(self.Loaded(self))
        if self.snapshot is not None:
            self._show(self.snapshot, None)
        if self._upgrade is not None:
            self.upgrade_model(message.engine)

    @work(thread=True, exclusive=True, group="upgrade", exit_on_error=False)
    def upgrade_model(self, engine: Engine) -> None:
        """Answer from the engine we have while the faster one is built; then switch (same answers)."""
        assert self._upgrade is not None
        load, upgrade = self._load, self._upgrade

        def say(message: Message) -> None:
            self.post_message(self.LoadAnswer(load, message))

        try:
            faster = upgrade(engine, lambda stage: say(UpgradeProgress(stage)))
        except EngineError as exc:
            say(UpgradeFailed(str(exc)))
            return
        except Exception as exc:  # the engine we have keeps working; say why in one line
            say(UpgradeFailed(f"{type(exc).__name__}: {exc}"))
            return
        if faster is not None and not get_current_worker().is_cancelled:
            say(ModelUpgraded(faster))

    def on_upgrade_progress(self, message: UpgradeProgress) -> None:
        self.upgrading = "exporting to ONNX…" if message.stage.startswith("export") else "opening ONNX…"
        self.post_message(self.Progress(self, message.stage))

    def on_upgrade_failed(self, message: UpgradeFailed) -> None:
        self.upgrading = None
        self.notify(f"staying on PyTorch: {message.error}", title=self.label, timeout=8)
        self.post_message(self.Progress(self, "ready"))

    def on_model_upgraded(self, message: ModelUpgraded) -> None:
        self.upgrading = None
        self.engine = message.engine
        self._encoded = None
        if self.snapshot is not None and self.encoding is not None:
            self.encoding = None  # re-encode with the new engine, keep the selection and masks
            self._show(self.snapshot, None)
        self.post_message(self.Loaded(self))

    def on_model_failed(self, message: ModelFailed) -> None:
        self.error = message.error
        self.tokens.placeholder = f"Could not load {self.label}: {message.error}"
        if self.id == "right":
            self.table.show_message("No model: ctrl+p offers Replace the second model and Close it.")
        else:
            self.table.show_message("No model: quit with q and start again with another --model.")
        self.notify(message.error, title=f"{self.label} not loaded", severity="error", timeout=15)
        self.post_message(self.Failed(self, message.error))

    # ------------------------------------------------------------------ the shared state, passed down

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` (the session's spelling); raises :class:`EngineError` for bad text."""
        assert self.engine is not None
        if self._encoded is not None and self._encoded[0] == text:
            return self._encoded[1]
        encoding = self.engine.encode(text)
        self._encoded = (text, encoding)
        return encoding

    def apply(self, snapshot: Snapshot, select_at: int | None = None) -> None:
        """Show the session's ``snapshot`` (text and masks); ``select_at`` is where to put the selection."""
        self.snapshot = snapshot
        if self.engine is not None:
            self._show(snapshot, select_at)

    def _show(self, snapshot: Snapshot, select_at: int | None) -> None:
        assert self.engine is not None
        try:
            encoding = self.encode(snapshot.text)
        except EngineError as exc:  # the screen checks text before it commits; this is a late model
            self.error = str(exc)
            self.tokens.placeholder = f"{self.label} cannot read this text: {exc}"
            self.table.show_message(str(exc))
            return
        text_map = TextMap(snapshot.text, self.engine.info.mask_token)
        typed = set(encoding.mask_positions)
        masked = frozenset(
            positions_covering(encoding, {text_map.span_to_model(s) for s in snapshot.masked_spans}) - typed
        )
        same_text = self.encoding is not None and self.encoding.text == encoding.text
        self.text_map = text_map
        if same_text and select_at is None:
            self.encoding = encoding
            if masked != self.tokens.masked:
                self.tokens.masked = masked
                self._request_predictions()
            return
        self.encoding = encoding
        self.predictions = None
        self.scores = None
        self.error = None
        selected = None
        if select_at is not None:
            at = text_map.to_model(select_at)
            selected = next((t.index for t in encoding.tokens if t.start >= at and not t.special), None)
        elif self.tokens.encoding is not None:
            old = self.tokens.encoding.tokens[self.tokens.selected]
            selected = next((t.index for t in encoding.tokens if t.end > old.start and not t.special), None)
        self.tokens.show(encoding, masked, selected)
        self._request_predictions()
        if self.show_surprisal:
            self._request_scores()

    def select_span(self, span: Span) -> None:
        """Select the token that covers the start of ``span`` (session characters), as another pane moved."""
        if self.encoding is None or self.text_map is None:
            return
        start, end = self.text_map.span_to_model(span)
        covering = sorted(positions_covering(self.encoding, [(start, max(end, start + 1))]))
        if covering and self.tokens.selected not in covering:
            with self.prevent(TokenView.SelectionMoved):
                self.tokens.selected = covering[0]
            self.redraw()

    def session_span(self, index: int) -> Span:
        assert self.encoding is not None and self.text_map is not None
        token = self.encoding.tokens[index]
        return self.text_map.span_to_session((token.start, token.end))

    # ------------------------------------------------------------------ what the user does here

    @on(TokenView.MasksChanged)
    def _masks_changed(self, event: TokenView.MasksChanged) -> None:
        event.stop()
        if self.encoding is None or self.text_map is None:
            return
        self._focus_mask = event.last if event.last in event.masked else None
        spans = frozenset(self.text_map.span_to_session(s) for s in spans_of(self.encoding, event.masked))
        self._request_predictions()
        self.post_message(self.MasksEdited(self, spans))

    @on(TokenView.SelectionMoved)
    def _selection_moved(self, event: TokenView.SelectionMoved) -> None:
        event.stop()
        if self.tokens.is_masked(event.index):
            self._focus_mask = event.index
        self.redraw()
        if self.encoding is not None and self.text_map is not None:
            self.post_message(self.SelectionMoved(self, self.session_span(event.index)))

    @on(DataTable.RowSelected, "#table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.substitute(event.cursor_row)

    def move_prediction(self, step: int) -> None:
        if self.shown.kind != "message" and self.table.row_count:
            self.table.move_cursor(row=self.table.cursor_row + step)

    @property
    def can_substitute(self) -> bool:
        """True when the table lists something ``enter`` can put in the text, and that row is on screen."""
        view = self.current()
        if self.shown.kind not in view.substitutes or not self.table.row_count:
            return False
        return self.table.row_on_screen(view.substitute_row(self.table.cursor_row))

    def substitute(self, row: int | None = None) -> None:
        """Ask the screen to put what is on the table's ``row`` (default: the highlighted one) in the text.

        A prediction replaces its mask (or, in the unmasked view, the selected token); a
        watched word replaces its mask; a joint fill (the replay: the best fill) fills every mask.
        """
        if not self.can_substitute:
            return
        view = self.current()
        view.substitute(view.substitute_row(self.table.cursor_row if row is None else row))

    def put(self, edits: list[tuple[int, int, str, str | None]]) -> bool:
        """Put tokens (``position, token id, token_str, word``) in the text, right to left; one undo step.

        ``word``, when given, is written instead of the token (a watched word of several pieces).
        """
        assert self.engine is not None and self.encoding is not None
        assert self.snapshot is not None and self.text_map is not None
        for _position, _token, token_str, word in edits:
            if word is None and "\ufffd" in token_str:
                self.notify(
                    f"{token_str!r} is a piece of a character (a byte of its UTF-8); "
                    "it cannot go in the text on its own",
                    severity="warning",
                    timeout=6,
                )
                return False
        encoding = self.encoding
        text, spans = self.snapshot.text, self.snapshot.masked_spans
        select_at = len(text)
        for position, token, _token_str, word in sorted(edits, reverse=True):
            try:
                new_text, start, end = self.engine.substitute(encoding, position, token)
            except EngineError as exc:
                self.notify(str(exc), severity="warning", timeout=6)
                return False
            inserted = new_text[start:end]
            if word is not None:
                inserted = inserted[: len(inserted) - len(inserted.lstrip())] + word.strip()
                new_text = new_text[:start] + inserted + new_text[end:]
            edit_start = self.text_map.to_session(start)
            edit_end = self.text_map.to_session(self.encoding.tokens[position].end)
            delta = len(inserted) - (edit_end - edit_start)
            spans = shift_spans(spans, edit_start, edit_end, delta)
            text = text[:edit_start] + inserted + text[edit_end:]
            select_at = edit_start
            # the tokens to the left keep their spans: the next edit (further left) uses them as they are
            encoding = Encoding(text=new_text, tokens=encoding.tokens)
        self.post_message(self.SubstituteRequested(self, Snapshot(text, spans), select_at))
        return True

    # ------------------------------------------------------------------ predictions

    def watch_top_k(self) -> None:
        if self.is_mounted:
            self._request_predictions()

    def watch_want_full(self, full: bool) -> None:
        if self.is_mounted and full:
            self._request_predictions()

    def watch_watched(self) -> None:
        if self.is_mounted:
            self._request_predictions()

    def watch_view(self, old: str | None, new: str | None) -> None:
        if not self.is_mounted:
            return
        if new is not None and old != new:  # the prediction highlighted now is the one the view follows
            highlighted = self.highlighted()
            self.lens.tracked = self.salience.tracked = highlighted
        self.redraw()

    def watch_show_ids(self, show: bool) -> None:
        if self.is_mounted:
            self.tokens.show_ids = show
            self.table.ids = show
            self.redraw()

    def highlighted(self) -> tuple[int, int, str] | None:
        """``(position, token id, token_str)`` of the prediction highlighted in the table, if one is."""
        if self.shown.mask is None or not self.table.row_count:
            return None
        row = self.table.cursor_row
        if self.shown.kind == "unmasked":
            view = self.unmasked.at(self.shown.mask)
            predictions = view.predictions if view is not None else ()
        elif self.shown.kind == "predictions":
            result = self.mask_result(self.shown.mask)
            predictions = result.predictions if result is not None else ()
            watched = self.watched_rows(result)
            if (
                0 <= row - len(predictions) < len(watched)
                and len(watched[row - len(predictions)].pieces) == 1
            ):
                target = watched[row - len(predictions)]
                return self.shown.mask, target.pieces[0], target.target
        else:
            return None
        if 0 <= row < len(predictions):
            return self.shown.mask, predictions[row].token, predictions[row].token_str
        return None

    def _request_predictions(self) -> None:
        self._predict_request += 1
        if self.engine is None or self.encoding is None or not self.tokens.all_masks:
            self.predictions = None
            self.workers.cancel_group(self, "predict")
            self.redraw()
            return
        self.run_prediction(
            self._predict_request,
            self.engine,
            self.encoding,
            self.tokens.masked,
            self.top_k,
            self.want_full,
            self.watched,
        )
        self.redraw()

    @work(thread=True, exclusive=True, group="predict", exit_on_error=False)
    def run_prediction(
        self,
        request: int,
        engine: Engine,
        encoding: Encoding,
        masked: frozenset[int],
        top_k: int,
        full: bool,
        watched: tuple[str, ...] = (),
    ) -> None:
        try:
            result = engine.predict(encoding, sorted(masked), top_k=top_k, full=full, targets=watched)
        except EngineError as exc:
            self.post_message(WorkFailed(request, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(PredictionsReady(request, result))

    def on_predictions_ready(self, message: PredictionsReady) -> None:
        if message.request != self._predict_request:
            return  # stale: the masks changed since this was asked
        self.predictions = message.result
        self.redraw()

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.request == self._predict_request:
            self.predictions = None
            self.error = message.error
            self.redraw()
        if message.request == self._score_request:
            self.score_error = message.error
            self.redraw()
        if message.request in (self._predict_request, self._score_request):
            self.notify(message.error, severity="error", timeout=6)

    def shown_mask(self) -> int | None:
        """The mask the table is about: the selected token if masked, else the last touched, else the first."""
        masks = self.tokens.all_masks
        if not masks:
            return None
        if self.tokens.selected in masks:
            return self.tokens.selected
        if self._focus_mask in masks:
            return self._focus_mask
        return masks[0]

    def mask_result(self, mask: int | None = None) -> MaskResult | None:
        mask = self.shown_mask() if mask is None else mask
        if mask is None or self.predictions is None:
            return None
        return self.predictions.for_position(mask)

    def current(self) -> View:
        """The view the table shows now, in order: the joint fills (``f``), the view the screen opened
        (attention, ``a``), the surprisal scores (``s``, at a token that is not masked), the model's view
        of the selected token when it is not masked, else the predictions at the selected (or last
        touched) mask."""
        ready = self.engine is not None and self.encoding is not None
        if ready and self.fills.on:
            return self.fills
        if ready and self.view in self.views:
            return self.views[self.view]
        if self.surprisal.wanted():
            return self.surprisal
        selected = self.tokens.selected
        if (
            ready
            and self.encoding is not None
            and not self.tokens.is_masked(selected)
            and not self.encoding.tokens[selected].special
        ):
            return self.unmasked
        return self.mask_predictions

    def redraw(self) -> None:
        """Draw the current view and say what it shows (``enter`` acts only on that)."""
        view = self.current()
        self.shown = view.show()
        tokens = self.tokens
        if self.shown.kind != "replay":
            tokens.revealed = None
        if not (view.shades and self.shown.kind == view.name):
            tokens.shade = None
        self.post_message(self.ResultsChanged(self))

    def owns(self, action: str) -> bool:
        """True when the view on show answers the screen's ``action`` (its result is here)."""
        view = self.current()
        return action in view.keys and view.answers(action)

    def act(self, action: str, step: int = 0) -> None:
        """A key of the view on show (:meth:`owns`)."""
        if self.owns(action):
            self.current().act(action, step)
            self.redraw()

    def watched_rows(self, result: MaskResult | None) -> tuple:
        """The watched words' scores at this mask, in the order they were given."""
        if result is None or not self.watched:
            return ()
        by_word = {t.target: t for t in result.targets}
        return tuple(by_word[w] for w in self.watched if w in by_word)

    def cell_label(self, index: int) -> str:
        assert self.encoding is not None
        token = self.encoding.tokens[index]
        if self.tokens.is_masked(index):
            mask = self.engine.info.mask_token if self.engine is not None else ""
            return mask or token.text or "[MASK]"
        return (token.text if token.special else token.display) or token.text or f"token {index}"

    # ------------------------------------------------------------------ what the views ask the engine for

    def waiting(self, heading: str, kind: str, waiting: str) -> Shown:
        """A view's table while its answer is computed (``waiting``), or the one line saying why it could not be."""
        self.panel.heading = heading
        self.panel.elapsed_ms = None
        error = self._view_errors.get(kind)
        key = self._asked.get(kind)
        if error is not None and key is not None and error[0] == key[0]:
            self.table.show_message(f"Could not {waiting[0].lower()}{waiting[1:].rstrip('…')}: {error[1]}")
        else:
            self.table.show_message(waiting)
        return Shown("message")

    def result(self, kind: str) -> object | None:
        """The answer to the last thing ``kind`` asked for, when it is here."""
        have = self._answers.get(kind)
        asked = self._asked.get(kind)
        return have[1] if have is not None and asked is not None and have[0] == asked[0] else None

    def last(self, kind: str) -> object | None:
        """The last answer ``kind`` got, whatever it was for."""
        have = self._answers.get(kind)
        return have[1] if have is not None else None

    def ask(self, kind: str, key: object, call: Callable[[], object]) -> object | None:
        """The answer of ``kind`` for ``key`` when it is here; else run ``call`` (once) in a thread worker
        of the group ``kind`` (a newer request cancels an older one) and return ``None``; the table is
        redrawn when it answers."""
        have = self._answers.get(kind)
        if have is not None and have[0] == key:
            self._asked[kind] = (key, -1)  # nothing to wait for: a pending answer for another key is stale
            return have[1]
        asked = self._asked.get(kind)
        if asked is None or asked[0] != key:
            self._view_request += 1
            self._asked[kind] = (key, self._view_request)
            self.run_worker(
                partial(self._view_worker, kind, self._view_request, call),
                name=kind,
                group=kind,
                exclusive=True,
                thread=True,
                exit_on_error=False,
            )
        return None

    def _view_worker(self, kind: str, request: int, call: Callable[[], object]) -> None:
        try:
            result = call()
        except EngineError as exc:
            self.post_message(ViewFailed(kind, request, str(exc)))
            return
        except Exception as exc:  # a view must never take the app down; the user gets one line
            self.post_message(ViewFailed(kind, request, f"{type(exc).__name__}: {exc}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(ViewReady(kind, request, result))

    def on_view_ready(self, message: ViewReady) -> None:
        asked = self._asked.get(message.kind)
        if asked is None or asked[1] != message.request:
            return  # stale: the text, masks or selection changed since
        self._answers[message.kind] = (asked[0], message.result)
        self.redraw()

    def on_view_failed(self, message: ViewFailed) -> None:
        asked = self._asked.get(message.kind)
        if asked is None or asked[1] != message.request:
            return
        self._view_errors[message.kind] = (asked[0], message.error)
        self.notify(message.error, severity="error", timeout=6)
        self.redraw()

    # ------------------------------------------------------------------ surprisal

    def watch_show_surprisal(self, show: bool) -> None:
        if not self.is_mounted:
            return
        if show:
            self._request_scores()
        else:
            self._score_request += 1
            self.scores = None
            self.tokens.surprisal = None
        self.redraw()

    def _request_scores(self) -> None:
        self._score_request += 1
        self.score_error = None
        if self.engine is not None and self.encoding is not None:
            self.run_scores(self._score_request, self.engine, self.encoding)

    @work(thread=True, exclusive=True, group="score", exit_on_error=False)
    def run_scores(self, request: int, engine: Engine, encoding: Encoding) -> None:
        try:
            result = engine.score(encoding)
        except EngineError as exc:
            self.post_message(WorkFailed(request, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(ScoresReady(request, result))

    def on_scores_ready(self, message: ScoresReady) -> None:
        if message.request != self._score_request or not self.show_surprisal:
            return
        self.scores = message.result
        self.tokens.surprisal = {t.index: t.surprisal for t in message.result.tokens}
        self.redraw()

    def surprisal_at(self, span: Span) -> float | None:
        """Total surprisal (nats) of this model's tokens that cover ``span`` (session characters)."""
        if self.scores is None or self.encoding is None or self.text_map is None:
            return None
        covering = positions_covering(self.encoding, [self.text_map.span_to_model(span)])
        values = [t.surprisal for t in self.scores.tokens if t.index in covering]
        return sum(values) if values else None

    def mask_at(self, span: Span) -> MaskResult | None:
        """This model's result at the first mask that covers ``span`` (session characters)."""
        if self.encoding is None or self.text_map is None or self.predictions is None:
            return None
        covering = positions_covering(self.encoding, [self.text_map.span_to_model(span)])
        for mask in sorted(covering & set(self.tokens.all_masks)):
            return self.predictions.for_position(mask)
        return None
