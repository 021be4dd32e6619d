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

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.worker import get_current_worker

from ..engine import Encoding, Engine, EngineError, MaskResult, PredictResult, ScoreResult
from ..messages import (
    ModelFailed,
    ModelProgress,
    ModelReady,
    ModelUpgraded,
    PredictionsReady,
    ScoresReady,
    UpgradeFailed,
    UpgradeProgress,
    WorkFailed,
)
from ..session import Snapshot, Span, TextMap, positions_covering, shift_spans, spans_of
from .prediction_table import PredictionTable
from .token_view import TokenView

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
        self.border_title = self._title()

    def watch_elapsed_ms(self) -> None:
        self.border_title = self._title()


@dataclass(frozen=True)
class Shown:
    """What a pane's table shows right now: ``enter`` acts only on this."""

    kind: str
    """``"predictions"``, ``"scores"`` or ``"message"``."""
    mask: int | None = None
    """The mask position whose predictions are listed (``kind == "predictions"``)."""


class ModelPane(Vertical):
    """Token cells and a prediction table for one engine."""

    label: reactive[str] = reactive("")
    """The model's name as the user asked for it; the tokens box shows it."""
    top_k: reactive[int] = reactive(10)
    show_surprisal: reactive[bool] = reactive(False)
    want_full: reactive[bool] = reactive(False)
    """Ask the engine for whole distributions (for KL/JS against another model)."""

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

    def compose(self) -> ComposeResult:
        yield TokenView(id="tokens")
        with PredictionsPanel(id="predictions"):
            yield PredictionTable(id="table")

    def on_mount(self) -> None:
        self.tokens.placeholder = f"Loading {self.label}…"
        self.tokens.border_title = f"Tokens · {self.label}"
        self.table.show_message("The model is loading; the keys in grey wait for it.")
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
            tokens.border_title = f"Tokens · {label}"

    @property
    def summary(self) -> str:
        """One line for the status bar: the model and what it is doing."""
        if self.engine is None:
            state = f"error: {self.error}" if self.error else f"loading: {self.stage}"
            return f"{self.label} · {state}"
        info = self.engine.info
        name = f"{info.name} (bundled stand-in)" if info.notes else info.name
        backend = getattr(info, "backend", "")
        if self.upgrading:
            backend += f" ({self.upgrading})"
        return " · ".join(part for part in (name, info.device, info.dtype, backend) if part)

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_model(self) -> None:
        started = time.perf_counter()
        try:
            engine = self._loader(lambda stage: self.post_message(ModelProgress(stage)))
        except EngineError as exc:
            self.post_message(ModelFailed(str(exc)))
            return
        except Exception as exc:  # anything else still reaches the user as one line
            self.post_message(ModelFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(ModelReady(engine, time.perf_counter() - started))

    def on_model_progress(self, message: ModelProgress) -> None:
        self.stage = message.stage
        self.tokens.placeholder = f"Loading {self.label}: {message.stage}…"
        self.post_message(self.Progress(self, message.stage))

    def on_model_ready(self, message: ModelReady) -> None:
        self.engine = message.engine
        self.load_seconds = message.seconds
        self.label = message.engine.info.name
        self.tokens.mask_token = message.engine.info.mask_token
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
        try:
            faster = self._upgrade(engine, lambda stage: self.post_message(UpgradeProgress(stage)))
        except EngineError as exc:
            self.post_message(UpgradeFailed(str(exc)))
            return
        except Exception as exc:  # the engine we have keeps working; say why in one line
            self.post_message(UpgradeFailed(f"{type(exc).__name__}: {exc}"))
            return
        if faster is not None and not get_current_worker().is_cancelled:
            self.post_message(ModelUpgraded(faster))

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
        self.table.show_message("No model: quit with q and start again with --model.")
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
            self._show_table()

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
        self._show_table()
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
        """True when the table lists predictions, so ``enter`` has something visible to put in."""
        return self.shown.kind == "predictions" and self.table.row_count > 0

    def substitute(self, row: int | None = None) -> None:
        """Ask the screen to put the prediction at ``row`` (default: the highlighted one) in the text."""
        if not self.can_substitute or self.shown.mask is None:
            return
        assert self.engine is not None and self.encoding is not None and self.predictions is not None
        assert self.snapshot is not None and self.text_map is not None
        mask = self.shown.mask
        result = self.predictions.for_position(mask)
        row = self.table.cursor_row if row is None else row
        if result is None or not 0 <= row < len(result.predictions):
            return
        chosen = result.predictions[row]
        if "\ufffd" in chosen.token_str:
            self.notify(
                f"{chosen.token_str!r} is a piece of a character (a byte of its UTF-8); "
                "it cannot go in the text on its own",
                severity="warning",
                timeout=6,
            )
            return
        try:
            new_text, start, end = self.engine.substitute(self.encoding, mask, chosen.token)
        except EngineError as exc:
            self.notify(str(exc), severity="warning", timeout=6)
            return
        word = new_text[start:end]
        edit_start = self.text_map.to_session(start)
        edit_end = self.text_map.to_session(self.encoding.tokens[mask].end)
        text = self.snapshot.text
        delta = len(word) - (edit_end - edit_start)
        spans = shift_spans(self.snapshot.masked_spans, edit_start, edit_end, delta)
        snapshot = Snapshot(text[:edit_start] + word + text[edit_end:], spans)
        self.post_message(self.SubstituteRequested(self, snapshot, edit_start))

    # ------------------------------------------------------------------ predictions

    def watch_top_k(self) -> None:
        if self.is_mounted:
            self._request_predictions()

    def watch_want_full(self, full: bool) -> None:
        if self.is_mounted and full:
            self._request_predictions()

    def _request_predictions(self) -> None:
        self._predict_request += 1
        if self.engine is None or self.encoding is None or not self.tokens.all_masks:
            self.predictions = None
            self.workers.cancel_group(self, "predict")
            self._show_table()
            return
        self.run_prediction(
            self._predict_request, self.engine, self.encoding, self.tokens.masked, self.top_k, self.want_full
        )
        self._show_table()

    @work(thread=True, exclusive=True, group="predict", exit_on_error=False)
    def run_prediction(
        self,
        request: int,
        engine: Engine,
        encoding: Encoding,
        masked: frozenset[int],
        top_k: int,
        full: bool,
    ) -> None:
        try:
            result = engine.predict(encoding, sorted(masked), top_k=top_k, full=full)
        except EngineError as exc:
            self.post_message(WorkFailed(request, str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(PredictionsReady(request, result))

    def on_predictions_ready(self, message: PredictionsReady) -> None:
        if message.request != self._predict_request:
            return  # stale: the masks changed since this was asked
        self.predictions = message.result
        self._show_table()

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.request == self._predict_request:
            self.predictions = None
            self.error = message.error
            self._show_table()
        if message.request == self._score_request:
            self.score_error = message.error
            self._show_table()
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

    def _show_table(self) -> None:
        self.shown = self._decide()
        self.post_message(self.ResultsChanged(self))

    def _decide(self) -> Shown:
        panel = self.panel
        mask = self.shown_mask()
        selected = self.tokens.selected
        if self.show_surprisal and self.scores is not None and not self.tokens.is_masked(selected):
            panel.heading = f"Surprisal · pseudo-perplexity {self.scores.pseudo_perplexity:.2f}"
            panel.elapsed_ms = self.scores.elapsed_ms
            self.table.show_scores(self.scores, selected)
            return Shown("scores")
        panel.elapsed_ms = None
        if self.show_surprisal and self.scores is None and self.encoding is not None and mask is None:
            panel.heading = "Surprisal"
            self.table.show_message(
                f"Cannot score: {self.score_error}" if self.score_error else "Scoring every token…"
            )
            return Shown("message")
        if mask is None:
            panel.heading = "Predictions"
            if self.encoding is not None:
                self.table.show_message("Press m to mask the selected token, M for its whole word.")
            return Shown("message")
        number = self.tokens.all_masks.index(mask) + 1
        panel.heading = f"Predictions · mask {number} of {len(self.tokens.all_masks)} (token {mask})"
        result = self.mask_result(mask)
        if result is None:
            self.table.show_message(f"Could not predict: {self.error}" if self.error else "Predicting…")
            return Shown("message")
        assert self.predictions is not None
        panel.elapsed_ms = self.predictions.elapsed_ms
        self.table.show_predictions(result)
        return Shown("predictions", mask)

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
        self._show_table()

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
        self._show_table()

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
