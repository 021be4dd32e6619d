"""The Textual app: a sentence, its tokens as cells, and live predictions from a background worker.

The app talks to the model only through the small :class:`mlm_tui.engine.Engine`
interface, so tests can hand it an instant fake. Every model call runs in a
thread worker that posts a message back; a result whose request number is not
the latest is dropped, so a stale table is never shown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState, get_current_worker

from .engine import DEFAULT_MODEL, Encoding, Engine, EngineError, EngineOptions, PredictResult, ScoreResult
from .messages import ModelFailed, ModelProgress, ModelReady, PredictionsReady, ScoresReady, WorkFailed
from .screens.help import HelpScreen
from .widgets.prediction_table import PredictionTable
from .widgets.token_view import TokenView

EXAMPLE_TEXT = "Paris is the capital of France."
Loader = Callable[[Callable[[str], None]], Engine]
"""Builds the engine in a worker thread; gets a callback to report its progress."""


class NoWaitExecutor(ThreadPoolExecutor):
    """Thread workers that do not hold up quitting.

    A model load or a forward pass cannot be interrupted, and asyncio waits for
    its default executor on the way out. With this executor, ``q`` returns at
    once; the CLI then ends the process without joining the busy thread.
    """

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Snapshot:
    """One undo step: the text and the character spans of the masked tokens."""

    text: str
    masked_spans: frozenset[tuple[int, int]]


class MlmApp(App[None]):
    """Explore a masked language model from the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "mlm-tui"

    BINDINGS = [
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit"),
        Binding("q", "quit", "Quit", tooltip="Quit"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Show every key"),
        Binding("e", "edit", "Edit", tooltip="Edit the sentence (enter applies, escape cancels)"),
        Binding("escape", "cancel_edit", "Cancel", show=False, tooltip="Cancel editing the sentence"),
        Binding(
            "enter", "substitute", "Substitute", tooltip="Put the highlighted prediction in the sentence"
        ),
        Binding("up,k", "prediction(-1)", "Up", show=False, tooltip="Highlight the previous prediction"),
        Binding("down,j", "prediction(1)", "Down", show=False, tooltip="Highlight the next prediction"),
        Binding("s", "surprisal", "Surprisal", tooltip="Colour every token by its surprisal (PLL)"),
        Binding(
            "plus,equals_sign",
            "top_k(1)",
            "More",
            key_display="+",
            show=False,
            tooltip="Show more predictions",
        ),
        Binding("minus", "top_k(-1)", "Fewer", key_display="-", show=False, tooltip="Show fewer predictions"),
        Binding("u", "undo", "Undo", tooltip="Undo the last change"),
        Binding("U,ctrl+r", "redo", "Redo", show=False, tooltip="Redo what was undone"),
    ]

    engine: reactive[Engine | None] = reactive(None, bindings=True)
    show_surprisal: reactive[bool] = reactive(False, bindings=True)
    top_k: reactive[int] = reactive(10)

    def __init__(
        self, loader: Loader, *, text: str | None = None, model_name: str = DEFAULT_MODEL, top_k: int = 10
    ) -> None:
        super().__init__()
        self._loader = loader
        self.model_name = model_name
        self.text = text or EXAMPLE_TEXT
        self.set_reactive(MlmApp.top_k, top_k)
        self.encoding: Encoding | None = None
        self.predictions: PredictResult | None = None
        self.scores: ScoreResult | None = None
        self.error: str | None = None
        self.load_stage = "starting"
        self._focus_mask: int | None = None
        self._predict_request = 0
        self._score_request = 0
        self._history: list[Snapshot] = []
        self._future: list[Snapshot] = []

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        sentence = Input(self.text, id="sentence", placeholder="Type a sentence; [MASK] marks a mask")
        sentence.border_title = "Sentence"
        yield sentence
        tokens = TokenView(id="tokens")
        tokens.border_title = "Tokens"
        yield tokens
        with Vertical(id="predictions"):
            yield PredictionTable(id="table")
        yield Static(id="status")
        yield Footer()

    def on_load(self) -> None:
        asyncio.get_running_loop().set_default_executor(NoWaitExecutor(thread_name_prefix="mlm-tui"))

    def on_mount(self) -> None:
        self.tokens.placeholder = f"Loading {self.model_name}…"
        self.tokens.focus()
        self.table.show_message("The model is loading; the keys in grey wait for it.")
        self._update_status()
        self.load_model()

    @property
    def tokens(self) -> TokenView:
        return self.query_one("#tokens", TokenView)

    @property
    def table(self) -> PredictionTable:
        return self.query_one("#table", PredictionTable)

    @property
    def sentence(self) -> Input:
        return self.query_one("#sentence", Input)

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
        self.load_stage = message.stage
        self.tokens.placeholder = f"Loading {self.model_name}: {message.stage}…"
        self._update_status()

    def on_model_ready(self, message: ModelReady) -> None:
        self.engine = message.engine
        self.model_name = message.engine.info.name
        self.tokens.mask_token = message.engine.info.mask_token
        for note in message.engine.info.notes:
            self.notify(note, title="Bundled model", timeout=12)
        for warning in message.engine.info.warnings:
            self.notify(warning, severity="warning", timeout=10)
        if self._apply_text(self.text, frozenset(), record=True):
            self.table.show_message("Press m to mask the selected token.")
        self._update_status()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.error = message.error
        self.tokens.placeholder = f"Could not load {self.model_name}: {message.error}"
        self.table.show_message("No model: quit with q and start again with --model.")
        self.notify(message.error, title="Model not loaded", severity="error", timeout=15)
        self._update_status()

    # ------------------------------------------------------------------ text and masks

    def _apply_text(
        self,
        text: str,
        masked_spans: frozenset[tuple[int, int]],
        *,
        record: bool,
        select_at: int | None = None,
    ) -> bool:
        """Tokenize ``text`` and show it with the tokens at ``masked_spans`` masked.

        On bad text the user gets one line and everything stays as it was.
        """
        assert self.engine is not None
        try:
            encoding = self.engine.encode(text)
        except EngineError as exc:
            self.notify(str(exc), severity="error", timeout=6)
            return False
        self.text = encoding.text
        self.encoding = encoding
        self.predictions = None
        self.scores = None
        self.error = None
        masked = frozenset(
            t.index for t in encoding.tokens if (t.start, t.end) in masked_spans and not t.special
        )
        selected = None
        if select_at is not None:
            selected = next(
                (t.index for t in encoding.tokens if t.start >= select_at and not t.special), None
            )
        with self.sentence.prevent(Input.Changed):
            self.sentence.value = encoding.text
        self.tokens.show(encoding, masked, selected)
        if record:
            self._record()
        self._request_predictions()
        if self.show_surprisal:
            self._request_scores()
        self._update_status()
        return True

    def _snapshot(self) -> Snapshot:
        encoding = self.encoding
        spans = (
            frozenset((encoding.tokens[i].start, encoding.tokens[i].end) for i in self.tokens.masked)
            if encoding
            else frozenset()
        )
        return Snapshot(self.text, spans)

    def _record(self) -> None:
        snapshot = self._snapshot()
        if not self._history or self._history[-1] != snapshot:
            self._history.append(snapshot)
            self._future.clear()
        self.refresh_bindings()

    @on(TokenView.MasksChanged)
    def _masks_changed(self, event: TokenView.MasksChanged) -> None:
        self._focus_mask = event.last if event.last in event.masked else None
        self._record()
        self._request_predictions()
        self._update_status()

    @on(TokenView.SelectionMoved)
    def _selection_moved(self, event: TokenView.SelectionMoved) -> None:
        if self.tokens.is_masked(event.index):
            self._focus_mask = event.index
        self._show_table()

    # ------------------------------------------------------------------ predictions

    def _request_predictions(self) -> None:
        self._predict_request += 1
        if self.engine is None or self.encoding is None or not self.tokens.all_masks:
            self.predictions = None
            self.workers.cancel_group(self, "predict")
            self._show_table()
            return
        self.run_prediction(self._predict_request, self.engine, self.encoding, self.tokens.masked, self.top_k)

    @work(thread=True, exclusive=True, group="predict", exit_on_error=False)
    def run_prediction(
        self, request: int, engine: Engine, encoding: Encoding, masked: Iterable[int], top_k: int
    ) -> None:
        try:
            result = engine.predict(encoding, sorted(masked), top_k=top_k)
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
        self._update_status()

    def on_work_failed(self, message: WorkFailed) -> None:
        if message.request in (self._predict_request, self._score_request):
            self.notify(message.error, severity="error", timeout=6)

    def _shown_mask(self) -> int | None:
        masks = self.tokens.all_masks
        if not masks:
            return None
        if self.tokens.selected in masks:
            return self.tokens.selected
        if self._focus_mask in masks:
            return self._focus_mask
        return masks[0]

    def _show_table(self) -> None:
        container = self.query_one("#predictions")
        mask = self._shown_mask()
        selected = self.tokens.selected
        if self.show_surprisal and self.scores is not None and not self.tokens.is_masked(selected):
            container.border_title = f"Surprisal · pseudo-perplexity {self.scores.pseudo_perplexity:.2f}"
            self.table.show_scores(self.scores, selected)
            return
        if self.show_surprisal and self.scores is None and self.encoding is not None:
            container.border_title = "Surprisal"
            self.table.show_message("Scoring every token…")
            return
        if mask is None:
            container.border_title = "Predictions"
            if self.encoding is not None:
                self.table.show_message("Press m to mask the selected token, M for its whole word.")
            return
        number = self.tokens.all_masks.index(mask) + 1
        title = f"Predictions · mask {number} of {len(self.tokens.all_masks)} (token {mask})"
        result = self.predictions.for_position(mask) if self.predictions else None
        if result is None:
            container.border_title = title
            self.table.show_message("Predicting…")
            return
        container.border_title = f"{title} · {self.predictions.elapsed_ms:.0f} ms"
        self.table.show_predictions(result)

    # ------------------------------------------------------------------ surprisal

    def _request_scores(self) -> None:
        self._score_request += 1
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
        self._update_status()

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
        self._update_status()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("substitute", "surprisal", "edit", "prediction", "top_k") and self.engine is None:
            return None
        if action == "substitute" and (self.predictions is None or self._shown_mask() is None):
            return None
        if action == "undo" and len(self._history) < 2:
            return None
        if action == "redo" and not self._future:
            return None
        return True

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(
                [
                    ("Tokens", TokenView.BINDINGS),
                    ("Sentence, predictions and app", self.BINDINGS),
                    ("Prediction table (when focused)", PredictionTable.BINDINGS),
                ]
            )
        )

    def action_edit(self) -> None:
        self.sentence.focus()
        self.sentence.cursor_position = len(self.sentence.value)

    def action_cancel_edit(self) -> None:
        if self.focused is self.sentence:
            self.sentence.value = self.text
            self.tokens.focus()

    @on(Input.Submitted, "#sentence")
    def _sentence_submitted(self, event: Input.Submitted) -> None:
        if self.engine is None:
            self.notify("The model is not loaded yet", severity="warning")
            return
        if event.value == self.text:
            self.tokens.focus()
            return
        if self._apply_text(event.value, frozenset(), record=True):
            self.tokens.focus()

    def action_prediction(self, step: int) -> None:
        if self.table.row_count:
            self.table.move_cursor(row=self.table.cursor_row + step)

    def action_top_k(self, step: int) -> None:
        self.top_k = max(1, min(100, self.top_k + step * (5 if self.top_k >= 10 else 1)))

    def watch_top_k(self) -> None:
        if self.is_mounted:
            self._request_predictions()
            self._update_status()

    def action_surprisal(self) -> None:
        self.show_surprisal = not self.show_surprisal

    @on(DataTable.RowSelected, "#table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        self.action_substitute(event.cursor_row)

    def action_substitute(self, row: int | None = None) -> None:
        mask = self._shown_mask()
        if self.engine is None or self.encoding is None or self.predictions is None or mask is None:
            return
        result = self.predictions.for_position(mask)
        if result is None or not result.predictions:
            return
        row = self.table.cursor_row if row is None else row
        if not 0 <= row < len(result.predictions):
            return
        prediction = result.predictions[row]
        old = self.encoding
        new_text, start, _end = self.engine.substitute(old, mask, prediction.token)
        delta = len(new_text) - len(old.text)
        old_end = old.tokens[mask].end
        spans = frozenset(
            (t.start + delta, t.end + delta) if t.start >= old_end else (t.start, t.end)
            for t in (old.tokens[i] for i in self.tokens.masked if i != mask)
        )
        if self._apply_text(new_text, spans, record=True, select_at=start):
            self.tokens.focus()

    def action_undo(self) -> None:
        if len(self._history) < 2:
            return
        self._future.append(self._history.pop())
        self._restore(self._history[-1])

    def action_redo(self) -> None:
        if not self._future:
            return
        snapshot = self._future.pop()
        self._history.append(snapshot)
        self._restore(snapshot)

    def _restore(self, snapshot: Snapshot) -> None:
        selected = self.tokens.selected
        self._apply_text(snapshot.text, snapshot.masked_spans, record=False)
        self.tokens.selected = selected
        self.refresh_bindings()

    # ------------------------------------------------------------------ status, palette, errors

    def _update_status(self) -> None:
        status = self.query_one("#status", Static)
        if self.engine is None:
            state = f"error: {self.error}" if self.error else f"loading: {self.load_stage}"
            status.update(f" {self.model_name} · {state}")
            return
        info = self.engine.info
        parts = [
            f"{info.name} (bundled stand-in)" if info.notes else info.name,
            info.device,
            info.dtype,
            f"masks {len(self.tokens.all_masks)}",
            f"top-k {self.top_k}",
        ]
        if self.predictions is not None:
            parts.append(f"{self.predictions.elapsed_ms:.0f} ms")
        if self.scores is not None:
            parts.append(f"PPPL {self.scores.pseudo_perplexity:.2f}")
        status.update(" " + " · ".join(parts))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        commands = [
            (
                "Mask the selected token",
                "Toggle a mask on the selected token",
                self.tokens.action_toggle_mask,
            ),
            ("Mask the whole word", "Mask every piece of the selected word", self.tokens.action_mask_word),
            ("Clear all masks", "Remove every mask you added", self.tokens.action_clear_masks),
            (
                "Substitute the prediction",
                "Put the highlighted prediction in the sentence",
                self.action_substitute,
            ),
            ("Toggle the surprisal view", "Colour tokens by surprisal (PLL)", self.action_surprisal),
            ("Edit the sentence", "Change the text", self.action_edit),
            ("Undo", "Undo the last change", self.action_undo),
            ("Redo", "Redo what was undone", self.action_redo),
            ("More predictions", "Increase top-k", partial(self.action_top_k, 1)),
            ("Fewer predictions", "Decrease top-k", partial(self.action_top_k, -1)),
            ("Keys", "Show every key", self.action_help),
        ]
        if self.engine is not None:
            for title, help_text, callback in commands:
                yield SystemCommand(title, help_text, callback)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            self.notify(
                f"{type(error).__name__}: {error}", title="Unexpected error", severity="error", timeout=10
            )


def make_app(
    text: str | None = None,
    *,
    options: EngineOptions | None = None,
    top_k: int = 10,
    loader: Loader | None = None,
) -> MlmApp:
    """Build the app; the CLI, the tests and the screenshot script all come through here."""
    options = options or EngineOptions()

    def load(progress: Callable[[str], None]) -> Engine:
        return options.load(progress, warm_up=True)  # torch is imported in here, in the worker thread

    return MlmApp(loader or load, text=text, model_name=options.label, top_k=top_k)
