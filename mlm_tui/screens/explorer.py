"""The explorer: the sentence, one or two model panes, the comparison line and the status bar.

The screen owns what the panes share — the session (text, masks as character
spans, undo history), top-k, the surprisal switch — and passes it down; panes
post what the user did in them up. With two panes, masking a token in one masks
the same characters in the other, and the comparison line says how the two
models differ at the selected mask.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.events import DescendantBlur, DescendantFocus, Resize
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from ..engine import MASK_ALIAS, EngineError, EngineOptions
from ..journal import Journal, SessionState
from ..session import History, Snapshot, edit_masks
from ..widgets.comparison import ComparisonBar, mask_line, surprisal_line
from ..widgets.model_pane import Loader, ModelPane, Upgrade
from ..widgets.ordered_input import OrderedInput
from ..widgets.sentence_view import SentenceView
from ..widgets.status_bar import StatusBar

VIEW_ACTIONS = ("layer", "head", "mean_heads", "variant")
"""Keys that belong to the view on show (:meth:`ModelPane.owns`)."""

MODEL_ACTIONS = (
    "substitute",
    "surprisal",
    "prediction",
    "top_k",
    "export",
    "fills",
    "replay",
    "play",
    "attention",
    "layer",
    "head",
    "mean_heads",
    "view",
    "variant",
    "ids",
    "watch",
)
"""Actions that need a loaded model, and that the sentence box's keys must not reach while it is edited."""
MIN_SIZE = (40, 14)
"""Columns and rows under which the explorer says it is too small (the table would show no row)."""
STACK_BELOW = 120
"""Terminal width under which two panes are stacked instead of side by side."""

Command = tuple[str, str, Callable[[], object]]

MISSPELT_MASK = re.compile(re.escape(MASK_ALIAS), re.IGNORECASE)
"""``[mask]``, ``[Mask]``…: no tokenizer reads these as its mask (an uncased BERT lowercases the
text but matches its special tokens as written), so the user gets a hint instead."""


@dataclasses.dataclass(frozen=True)
class Return:
    """What ``escape`` restores after ``enter`` opened a nearest context: the sentence and its masks,
    the selected token (a character of the session's text), the view's layer, filter and row."""

    snapshot: Snapshot
    select_at: int
    layer: int | None
    filter: bool | None
    row: int


def first_mask(snapshot: Snapshot) -> int | None:
    """Where the first mask of ``snapshot`` starts (typed ``[MASK]`` or a masked span), if it has one."""
    starts = [span[0] for span in snapshot.masked_spans]
    typed = snapshot.text.find(MASK_ALIAS)
    if typed >= 0:
        starts.append(typed)
    return min(starts, default=None)


def first_new_mask(before: str, after: str) -> int | None:
    """Where the first ``[MASK]`` that an edit of ``before`` into ``after`` wrote starts in ``after``.

    The edit is what lies between the longest common start and end of the two texts (as
    :func:`~mlm_tui.session.edit_masks` sees it); a ``[MASK]`` that overlaps it is new.
    """
    limit = min(len(before), len(after))
    start = 0
    while start < limit and before[start] == after[start]:
        start += 1
    tail = 0
    while tail < limit - start and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    end = len(after) - tail
    size = len(MASK_ALIAS)
    at = after.find(MASK_ALIAS, max(0, start - size + 1))
    while 0 <= at < max(end, start + 1):
        if at + size > start:
            return at
        at = after.find(MASK_ALIAS, at + 1)
    return None


def misspelt_masks(text: str) -> list[str]:
    """The spellings of ``[MASK]`` in ``text`` that are not ``[MASK]`` (``[mask]``…): read as plain text."""
    return [m.group() for m in MISSPELT_MASK.finditer(text) if m.group() != MASK_ALIAS]


VIEW_IDS = (
    "fills",
    "replay-next",
    "replay-back",
    "play",
    "attention",
    "layer-next",
    "layer-back",
    "head-next",
    "head-back",
    "heads-mean",
    "lens",
    "grid",
    "similarity",
    "salience",
    "neighbours",
    "variant",
    "ids",
    "watch",
)


class ExplorerScreen(Screen[None]):
    """One sentence, seen by one or two models."""

    AUTO_FOCUS = "TokenView"

    BINDINGS = [
        Binding("e", "edit", "Edit", id="edit", tooltip="Edit the sentence (enter applies, escape cancels)"),
        Binding(
            "escape",
            "cancel_edit",
            "Cancel",
            show=False,
            tooltip="Cancel editing the sentence; close the joint fills, replay or attention view; "
            "back from a nearest context opened with enter",
        ),
        Binding(
            "enter",
            "substitute",
            "Substitute",
            id="substitute",
            tooltip="Put the highlighted prediction (or joint fill, or watched word) in the sentence",
        ),
        Binding("up,k", "prediction(-1)", "Up", show=False, tooltip="Highlight the previous prediction"),
        Binding("down,j", "prediction(1)", "Down", show=False, tooltip="Highlight the next prediction"),
        Binding(
            "s", "surprisal", "Surprisal", id="surprisal", tooltip="Colour every token by its surprisal (PLL)"
        ),
        Binding(
            "plus,equals_sign",
            "top_k(1)",
            "More",
            key_display="+",
            show=False,
            id="more",
            tooltip="Show more predictions",
        ),
        Binding(
            "minus",
            "top_k(-1)",
            "Fewer",
            key_display="-",
            show=False,
            id="fewer",
            tooltip="Show fewer predictions",
        ),
        Binding("u", "undo", "Undo", id="undo", tooltip="Undo the last change"),
        Binding("U,ctrl+r", "redo", "Redo", show=False, id="redo", tooltip="Redo what was undone"),
        Binding(
            "f",
            "fills",
            "Fill",
            id="fills",
            tooltip="Fill every mask at once (beam search); f again closes",
        ),
        Binding(
            "right_square_bracket",
            "replay(1)",
            "Step",
            key_display="]",
            show=False,
            id="replay-next",
            tooltip="Replay the best fill: reveal the next mask",
        ),
        Binding(
            "left_square_bracket",
            "replay(-1)",
            "Step back",
            key_display="[",
            show=False,
            id="replay-back",
            tooltip="Replay the best fill: hide the last mask revealed ([ at the start leaves the replay)",
        ),
        Binding("p", "play", "Play", show=False, id="play", tooltip="Play the replay of the best fill"),
        Binding(
            "a",
            "attention",
            "Attend",
            id="attention",
            tooltip="Shade the tokens by the attention the selected one pays",
        ),
        Binding(
            "greater_than_sign",
            "layer(1)",
            "Next layer",
            key_display=">",
            show=False,
            id="layer-next",
            tooltip="Attention, similarity, neighbours: the next layer",
        ),
        Binding(
            "less_than_sign",
            "layer(-1)",
            "Previous layer",
            key_display="<",
            show=False,
            id="layer-back",
            tooltip="Attention, similarity, neighbours: the previous layer",
        ),
        Binding(
            "full_stop",
            "head(1)",
            "Next head",
            key_display=".",
            show=False,
            id="head-next",
            tooltip="Attention: the next head",
        ),
        Binding(
            "comma",
            "head(-1)",
            "Previous head",
            key_display=",",
            show=False,
            id="head-back",
            tooltip="Attention: the previous head",
        ),
        Binding(
            "0",
            "mean_heads",
            "Mean of heads",
            show=False,
            id="heads-mean",
            tooltip="Attention: the mean over heads",
        ),
        Binding(
            "L",
            "view('lens')",
            "Lens",
            show=False,
            id="lens",
            tooltip="The MLM lens: the model's head on every layer at the selected token (L again closes)",
        ),
        Binding(
            "number_sign",
            "view('grid')",
            "Lens grid",
            show=False,
            key_display="#",
            id="grid",
            tooltip="The MLM lens for the whole sentence: the top-1 of every token at every layer",
        ),
        Binding(
            "v",
            "view('similarity')",
            "Similarity",
            show=False,
            id="similarity",
            tooltip="Shade the tokens by the cosine of their vectors to the selected one's (< > layer)",
        ),
        Binding(
            "d",
            "view('salience')",
            "Salience",
            show=False,
            id="salience",
            tooltip="Which tokens make the model predict the highlighted token at the mask (gradients)",
        ),
        Binding(
            "n",
            "view('neighbours')",
            "Neighbours",
            show=False,
            id="neighbours",
            tooltip="The selected token's nearest contexts in the open index (enter opens one, escape returns)",
        ),
        Binding(
            "z",
            "variant",
            "Variant",
            show=False,
            id="variant",
            tooltip="Similarity: raw or standardised dimensions; salience: the method and baseline; "
            "neighbours: all, same word, other words",
        ),
        Binding("i", "ids", "Ids", show=False, id="ids", tooltip="Show each token's id under it"),
        Binding(
            "t", "watch", "Watch", id="watch", tooltip="Words whose probability and rank show at every mask"
        ),
        Binding(
            "x",
            "export",
            "Export",
            id="export",
            tooltip="Write the sentence, masks, predictions and scores as Markdown and JSON",
        ),
    ]

    top_k: reactive[int] = reactive(10)
    show_surprisal: reactive[bool] = reactive(False, bindings=True)
    view: reactive[str | None] = reactive(None, bindings=True)
    show_ids: reactive[bool] = reactive(False)
    """The view open on every pane (``a``: attention), or ``None``."""
    watched: reactive[tuple[str, ...]] = reactive(())

    def __init__(
        self,
        panes: list[tuple[Loader, str, Upgrade | None]],
        *,
        text: str,
        top_k: int = 10,
        loader_factory: Callable[[EngineOptions], Loader] | None = None,
        upgrade_factory: Callable[[EngineOptions], Upgrade] | None = None,
        options: EngineOptions | None = None,
        resume: SessionState | None = None,
        journal: Journal | None = None,
        export_dir: Path | None = None,
        index: Any = None,
    ) -> None:
        super().__init__()
        self.index = index
        """The corpus index the nearest-contexts view (``n``) searches, or ``None``."""
        self._returns: list[Return] = []
        """Where ``escape`` goes back to from a nearest context opened with ``enter`` (the latest last)."""
        self._resume = resume
        self._journal = journal
        self._export_dir = export_dir
        self._initial = panes
        self._initial_text = text
        self._loader_factory = loader_factory
        self._upgrade_factory = upgrade_factory
        self._options = options or EngineOptions()
        self.set_reactive(ExplorerScreen.top_k, top_k)
        self.history = resume.history if resume is not None else History()
        if resume is not None:
            self.set_reactive(ExplorerScreen.watched, resume.watched)
        self.snapshot: Snapshot | None = None
        self._substitute_state: tuple[str, bool, str] | None = None
        self._draft: str | None = None
        """Text typed into the sentence box that could not be applied; ``e`` brings it back."""
        self.active_id = "left"
        self._player: Timer | None = None
        self.source: tuple[str, str, str] | None = None
        """The probe set's file and kind, and the text of its item shown (the export names the file)."""
        self._select_after_load: int | None = None
        """Where the first pane's selection goes once a model changed from the palette has loaded."""
        self._incoming: ModelPane | None = None
        """A second pane waiting for the one it replaces to be removed."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        sentence = OrderedInput(
            self._initial_text,
            id="sentence",
            placeholder="Type a sentence; [MASK] marks a mask",
            select_on_focus=False,
            on_submit=self.apply_edit,
        )
        sentence.border_title = "Sentence"
        view = SentenceView(id="sentence-view")
        view.border_title = "Sentence"
        view.placeholder = sentence.placeholder
        with Container(id="sentence-box"):
            yield sentence
            yield view
        with Container(id="panes"):
            for (loader, label, upgrade), pane_id in zip(self._initial, ("left", "right"), strict=False):
                yield self._new_pane(loader, label, pane_id, upgrade)
        yield ComparisonBar(id="comparison")
        yield StatusBar(id="status")
        yield Footer()
        yield Static(id="too-small")

    def _new_pane(
        self, loader: Loader, label: str, pane_id: str, upgrade: Upgrade | None = None
    ) -> ModelPane:
        pane = ModelPane(loader, label, upgrade=upgrade, id=pane_id)
        pane.top_k = self.top_k
        pane.show_surprisal = self.show_surprisal
        pane.view = self.view
        pane.show_ids = self.show_ids
        pane.watched = self.watched
        pane.index = self.index
        return pane

    def on_mount(self) -> None:
        view = self.query_one("#sentence-view", SentenceView)
        self.watch(self.sentence, "value", lambda value: setattr(view, "text", value))
        # The cells have the focus from the first frame (AUTO_FOCUS), not a frame later: an `e` typed at
        # once has moved it to the sentence box by now, and must keep it there.
        self._layout_panes(self.size.width)
        self._sync_status()

    @on(SentenceView.EditRequested)
    def _edit_requested(self) -> None:
        if not self.too_small:
            self.action_edit()

    def on_resize(self, event: Resize) -> None:
        self._layout_panes(event.size.width)
        self.refresh_bindings()  # a row that was on screen may not be now: enter follows what is drawn

    @property
    def too_small(self) -> bool:
        """Below :data:`MIN_SIZE` the screen says so instead of drawing half a layout; keys do nothing."""
        return self.size.width < MIN_SIZE[0] or self.size.height < MIN_SIZE[1]

    def _layout_panes(self, width: int) -> None:
        small = self.too_small
        self.set_class(small, "too-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"The terminal is {self.size.width}×{self.size.height}; mlm-tui needs at least "
                f"{MIN_SIZE[0]}×{MIN_SIZE[1]}. Make it larger (q quits)."
            )
        elif self.focused is None and self.is_current:  # hidden, the cells lost the focus: give it back
            self.set_focus(self.active.tokens)
        two = len(self.panes) > 1
        self.query_one("#panes").set_class(two and width < STACK_BELOW, "stacked")
        self.query_one("#panes").set_class(two, "compare")
        self.set_class(two, "-compare")  # notifications go above the comparison line too
        self.comparison.display = two

    @property
    def panes(self) -> list[ModelPane]:
        return list(self.query(ModelPane).results(ModelPane))

    @property
    def left(self) -> ModelPane:
        return self.query_one("#left", ModelPane)

    @property
    def right(self) -> ModelPane | None:
        found = self.query("#right").results(ModelPane)
        return next(iter(found), None)

    @property
    def active(self) -> ModelPane:
        """The pane the user is working in (the one that has, or last had, the focus)."""
        if self.active_id == "right" and self.right is not None:
            return self.right
        return self.left

    @property
    def sentence(self) -> Input:
        return self.query_one("#sentence", Input)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def comparison(self) -> ComparisonBar:
        return self.query_one("#comparison", ComparisonBar)

    @property
    def editing(self) -> bool:
        return self.focused is self.sentence

    def on_descendant_blur(self, event: DescendantBlur) -> None:
        """Leaving the sentence box (tab, a click) applies what was typed, so the box and the cells agree.

        Text that cannot be applied is put back as it was, and kept as a draft that ``e`` brings back.
        """
        if event.widget is not self.sentence:
            return
        self.set_class(False, "-editing")  # the wrapped view of the sentence comes back
        if self.snapshot is None:
            return
        typed = self.sentence.value
        if typed == self.snapshot.text:
            return
        if not self.commit_edit(typed):
            self._draft = typed
            with self.sentence.prevent(Input.Changed):
                self.sentence.value = self.snapshot.text
            self.notify("Not applied; press e to get what you typed back", severity="warning", timeout=6)
            self._sync_status()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        # a class of the screen, not :focus-within: Textual restyles the focused widget's siblings only then
        self.set_class(event.widget is self.sentence, "-editing")
        for node in event.widget.ancestors_with_self:
            if isinstance(node, ModelPane):
                if node.id != self.active_id:
                    self.active_id = node.id or "left"
                    self.refresh_bindings()
                    self._sync_status()
                    self._sync_comparison()
                break

    # ------------------------------------------------------------------ the session

    def commit(
        self,
        snapshot: Snapshot,
        *,
        kind: str | None,
        record: bool = True,
        select_at: int | None = None,
    ) -> bool:
        """Show ``snapshot`` in every pane, once every loaded model can read its text.

        On bad text the user gets one line and nothing changes: the panes keep
        the old text and what was typed stays in the sentence box to fix. The
        change (``kind``: edit, mask, substitute, undo, redo, open) is written to
        the session journal before it is shown; ``None`` writes nothing.
        """
        for pane in self.panes:
            if pane.ready:
                try:
                    pane.encode(snapshot.text)
                except EngineError as exc:
                    self.notify(str(exc), severity="error", timeout=6)
                    return False
        if kind is not None and snapshot != self.snapshot:
            self._write_journal(kind, snapshot)
        misspelt = misspelt_masks(snapshot.text)
        if kind in ("edit", "open") and len(misspelt) > len(
            misspelt_masks(self.snapshot.text if self.snapshot else "")
        ):
            self.notify(
                f"{misspelt[0]} is read as text, not as a mask: write {MASK_ALIAS} in capitals",
                severity="warning",
                timeout=8,
                markup=False,
            )
        self.snapshot = snapshot
        if record:
            self.history.record(snapshot)
        if self.sentence.value != snapshot.text:
            with self.sentence.prevent(Input.Changed):
                self.sentence.value = snapshot.text
                self.sentence.cursor_position = len(snapshot.text)
        for pane in self.panes:
            pane.apply(snapshot, select_at)
        self._panes_in_step()
        self.refresh_bindings()
        self._sync_status()
        return True

    def _panes_in_step(self, late: ModelPane | None = None) -> None:
        """Every pane shows the active pane's token, in the same view (a pane that loads ``late``, or
        that was out of sight, catches up with the one the user was looking at)."""
        shown = [p for p in self.panes if p is not late and p.ready and p.tokens.encoding is not None]
        if not shown:
            return
        active = self.active if self.active in shown else shown[0]
        span = active.session_span(active.tokens.selected)
        for pane in self.panes:
            if pane is active or not pane.ready or pane.encoding is None:
                continue
            if pane.fills.on != active.fills.on:
                pane.fills.toggle()
            pane.select_span(span)

    def commit_edit(self, text: str) -> bool:
        """Apply typed ``text``: the masks the edit did not touch stay (moved with it); say if any went."""
        if self.snapshot is None:
            return self.commit(Snapshot(text), kind="edit", select_at=first_mask(Snapshot(text)))
        snapshot, dropped = edit_masks(self.snapshot, text)
        # a mask just typed is where the question is: select it, its predictions show
        if not self.commit(snapshot, kind="edit", select_at=first_new_mask(self.snapshot.text, text)):
            return False
        if dropped:
            self.notify(
                f"the edit changed masked characters: {dropped} mask{'s' if dropped > 1 else ''} removed "
                "(u brings them back)",
                timeout=6,
            )
        return True

    def _record_models(self, kind: str, models: list[str]) -> None:
        if self.snapshot is not None:
            self._write_journal(kind, self.snapshot, models)

    def _write_journal(
        self,
        kind: str,
        snapshot: Snapshot,
        models: list[str] | None = None,
        words: tuple[str, ...] | None = None,
    ) -> None:
        if self._journal is None:
            return
        try:
            self._journal.append(kind, snapshot, models=models, words=words)
        except (OSError, ValueError) as exc:  # the change still happens; the user learns it is not saved
            self.notify(f"the session could not be saved: {exc}", severity="error", timeout=8)

    @on(ModelPane.Loaded)
    def _pane_loaded(self, event: ModelPane.Loaded) -> None:
        if self.snapshot is None:
            # What the user typed while the model loaded wins: still being typed, it stays in the
            # box to apply with enter; typed and left, it is what the model now reads.
            typing = (self.sentence.value, self.sentence.cursor_position) if self.editing else None
            text = self._initial_text if typing else self.sentence.value
            resumed = self._resume.current if self._resume is not None else None
            # the sentence opens on its first mask, its predictions showing (as pipeline("fill-mask"))
            if resumed is not None and text == resumed.text:
                # already in its journal
                ok = self.commit(resumed, kind=None, record=False, select_at=first_mask(resumed))
            else:
                ok = self.commit(Snapshot(text), kind="open", select_at=first_mask(Snapshot(text)))
            if not ok:
                event.pane.tokens.placeholder = "Press e and type a sentence; enter applies it."
            if typing is not None:
                with self.sentence.prevent(Input.Changed):
                    self.sentence.value, self.sentence.cursor_position = typing
                self._sync_status()
        else:
            # a model changed from the palette comes back where the user was (when no other pane says)
            select_at, self._select_after_load = self._select_after_load, None
            event.pane.apply(self.snapshot, select_at if event.pane is self.left else None)
            self._panes_in_step(late=event.pane)
        models = [p.label for p in self.panes]
        if self._journal is not None and tuple(models) != self._journal.models:
            # the session names the models that answered (no --model: maybe the bundled one)
            self._record_models("loaded", models)
        self._sync_full()
        self._sync_status()

    @on(ModelPane.Failed)
    @on(ModelPane.Progress)
    def _pane_state(self) -> None:
        self._sync_status()
        self._sync_comparison()

    @on(ModelPane.MasksEdited)
    def _masks_edited(self, event: ModelPane.MasksEdited) -> None:
        if self.snapshot is not None:
            self.commit(Snapshot(self.snapshot.text, event.spans), kind="mask")

    @on(ModelPane.SubstituteRequested)
    def _substitute(self, event: ModelPane.SubstituteRequested) -> None:
        if self.commit(event.snapshot, kind="substitute", select_at=event.select_at):
            event.pane.tokens.focus()

    @on(ModelPane.SelectionMoved)
    def _selection_moved(self, event: ModelPane.SelectionMoved) -> None:
        if event.pane is self.active:
            for pane in self.panes:
                if pane is not event.pane:
                    pane.select_span(event.span)
        self._sync_comparison()

    @on(ModelPane.ResultsChanged)
    def _results_changed(self) -> None:
        self._sync_status()
        self._sync_comparison()
        state = (self.active_id, self.active.can_substitute, self.active.shown.kind)
        if state != self._substitute_state:  # the footer is rebuilt only when a key's state changes
            self._substitute_state = state
            self.refresh_bindings()

    def apply_edit(self) -> None:
        """Enter in the sentence box: apply the text and give the cells the focus, before the next key.

        While no model is loaded yet the text is kept in the box and applied when the model is ready.
        """
        typed = self.sentence.value
        if not any(p.ready for p in self.panes):
            if self.snapshot is None:
                self.set_focus(self.active.tokens)
                self.notify("The model is still loading: the sentence is applied when it is ready")
            else:
                self.notify("The model is not loaded yet", severity="warning")
            return
        if self.snapshot is not None and typed == self.snapshot.text:
            self.set_focus(self.active.tokens)
            return
        if self.commit_edit(typed):
            self.set_focus(self.active.tokens)

    @on(Input.Changed, "#sentence")
    def _sentence_changed(self) -> None:
        self._sync_status()

    # ------------------------------------------------------------------ what the status and comparison show

    def _sync_status(self) -> None:
        status = self.status
        panes = self.panes
        status.models = tuple(p.summary for p in panes)
        active = self.active
        status.masks = len(active.tokens.all_masks)
        status.top_k = self.top_k
        status.latency_ms = active.panel.elapsed_ms  # the time the table's title shows
        status.pseudo_perplexity = (
            tuple(p.scores.pseudo_perplexity if p.scores else None for p in panes)
            if self.show_surprisal
            else ()
        )
        edited = self.snapshot is not None and self.sentence.value != self.snapshot.text
        status.note = "edited: enter applies, escape restores" if edited else ""

    def _shared_vocab(self) -> bool:
        right = self.right
        if right is None or not (self.left.ready and right.ready):
            return False
        a, b = self.left.engine.info, right.engine.info  # type: ignore[union-attr]
        return bool(a.vocab_digest) and a.vocab_digest == b.vocab_digest

    def _sync_full(self) -> None:
        full = self._shared_vocab()
        for pane in self.panes:
            pane.want_full = full

    def _sync_comparison(self) -> None:
        right = self.right
        if right is None or self.snapshot is None:
            return
        active = self.active
        failed = next((p for p in (self.left, right) if p.engine is None and p.error), None)
        if failed is not None:
            which = "B" if failed is right else "A"
            self.comparison.line = f"Model {which} ({failed.label}) could not be loaded; " + (
                "ctrl+p: Replace the second model, or Close it." if failed is right else "nothing to compare."
            )
            return
        if active.encoding is None or active.text_map is None:
            self.comparison.line = "Waiting for the models…"
            return
        text = self.snapshot.text
        if active.shown.kind == "scores" or (self.show_surprisal and active.shown.kind != "predictions"):
            span = active.session_span(active.tokens.selected)
            word = repr(text[span[0] : span[1]].strip())
            pppl = (
                self.left.scores.pseudo_perplexity if self.left.scores else None,
                right.scores.pseudo_perplexity if right.scores else None,
            )
            self.comparison.line = surprisal_line(
                word, self.left.surprisal_at(span), right.surprisal_at(span), pppl
            )
            return
        mask = active.shown_mask()
        if mask is None:
            self.comparison.line = "Mask a token (m) to compare the two models' predictions there."
            return
        if active.shown.kind == "unmasked":  # the table is about this token: so is the line
            word = text[slice(*active.session_span(active.tokens.selected))].strip()
            self.comparison.line = (
                f"{word!r} is not masked: select a mask, or press m, to compare the models there."
            )
            return
        span = active.session_span(mask)
        chars = text[span[0] : span[1]].strip()
        number = active.tokens.all_masks.index(mask) + 1
        word = f"mask {number}" + ("" if chars == MASK_ALIAS else f" {chars!r}")
        self.comparison.line = mask_line(
            word, self.left.mask_at(span), right.mask_at(span), shared_vocab=self._shared_vocab()
        )

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.too_small:
            return False  # nothing is drawn to act on
        ready = any(p.ready for p in self.panes)
        if action in MODEL_ACTIONS + ("undo", "redo") and self.editing:
            return False  # the key belongs to the sentence box while it is being edited
        if action in MODEL_ACTIONS and not ready:
            return None
        active = self.active
        if action == "fills" and not (active.fills.on or active.tokens.all_masks):
            return None
        if action in ("replay", "play") and not active.fills.can_replay:
            return None
        if action in VIEW_ACTIONS and not active.owns(action):
            return None
        if action == "substitute" and not self.active.can_substitute:
            return None
        if action == "undo" and not self.history.can_undo:
            return None
        if action == "redo" and not self.history.can_redo:
            return None
        return True

    def action_edit(self) -> None:
        # set_focus at once (focus() waits a frame): keys typed right after `e` must reach the box
        if self._draft is not None:
            with self.sentence.prevent(Input.Changed):
                self.sentence.value = self._draft
            self._draft = None
        self.set_focus(self.sentence)
        self.sentence.cursor_position = len(self.sentence.value)

    def action_cancel_edit(self) -> None:
        """Escape: leave the sentence box unchanged, else close the view on show (fills, replay, attention)."""
        if self.editing:
            if self.snapshot is not None:
                with self.sentence.prevent(Input.Changed):
                    self.sentence.value = self.snapshot.text
            self.set_focus(self.active.tokens)
            self._sync_status()
        elif self.active.fills.on:
            self.action_fills()
        elif self.view == "neighbours" and self._returns:
            self.back_from_context()
        elif self.view is not None:
            self.view = None
            self.refresh_bindings()

    def action_export(self) -> None:
        """Write what is on screen (every pane) as Markdown and JSON; the notification gives the paths."""
        from ..export import export_data, provenance, write_export

        shown = [p for p in self.panes if p.engine is not None and p.encoding is not None]
        data = [
            export_data(
                p.encoding,
                model=p.engine.info,
                masked=p.tokens.masked,
                prediction=p.predictions,
                score=p.scores,
                mask_id=p.tokens.mask_id,
            )
            for p in shown
        ]
        if not data:
            return
        # where the sentence came from: a probe set's item, as long as it is shown unchanged
        source = (
            self.source if self.source and self.snapshot and self.snapshot.text == self.source[2] else None
        )
        header = provenance(
            source[0] if source else None,
            [p.engine.info for p in shown if p.engine is not None],
            source[1] if source else None,
        )
        try:
            path = write_export(data if len(data) > 1 else data[0], self._export_dir, header)
        except OSError as exc:
            self.notify(f"could not export: {exc}", severity="error", timeout=8)
            return
        self.notify(f"{path}\n{path.with_suffix('.json')}", title="Exported", timeout=10)

    def action_prediction(self, step: int) -> None:
        self.active.move_prediction(step)

    def action_top_k(self, step: int) -> None:
        """Steps of 1 up to 10 and of 5 above it (multiples of 5), so + and - undo each other."""
        k = self.top_k
        up = k + 1 if k < 10 else (k // 5 + 1) * 5
        down = k - 1 if k <= 10 else (k - 1) // 5 * 5
        self.top_k = max(1, min(100, up if step > 0 else down))

    def watch_top_k(self, top_k: int) -> None:
        for pane in self.panes:
            pane.top_k = top_k
        if self.is_mounted:
            self._sync_status()

    def action_surprisal(self) -> None:
        self.show_surprisal = not self.show_surprisal
        if self.show_surprisal and self.active.shown.kind == "predictions":
            # the cells change colour but the table stays on this mask: say where the scores are
            self.notify(
                "Surprisal on: the cells are coloured; select an unmasked token for its scores.", timeout=5
            )

    def watch_show_surprisal(self, show: bool) -> None:
        for pane in self.panes:
            pane.show_surprisal = show
        if self.is_mounted:
            self._sync_status()

    def action_substitute(self) -> None:
        self.active.substitute()

    # ------------------------------------------------------------------ exploration views

    def action_fills(self) -> None:
        self._stop_player()
        self.active.fills.toggle()
        self._panes_in_step()
        if self.active.fills.on:
            self.view = None  # one view at a time: nothing changes out of sight
        self.refresh_bindings()

    def action_replay(self, step: int) -> None:
        self._stop_player()
        self._step_replays(step)
        self.refresh_bindings()

    def _step_replays(self, step: int) -> bool:
        """Step the replay of every pane that shows the joint fills (the panes keep the same view);
        True when one of them moved."""
        moved = False
        for pane in [self.active, *(p for p in self.panes if p is not self.active)]:
            if pane.fills.can_replay:
                moved = pane.fills.step_replay(step) or moved
        return moved

    def action_play(self) -> None:
        """Reveal the best fill's masks one by one, a step every 0.7 s (from the start when at the end)."""
        self._stop_player()
        for pane in self.panes:
            if pane.fills.can_replay and (pane.fills.step is None or pane.fills.at_end):
                pane.fills.step = 0
        self._player = self.set_interval(0.7, self._play_step)
        self._play_step()

    def _play_step(self) -> None:
        if not self._step_replays(1):
            self._stop_player()
        self.refresh_bindings()

    def _stop_player(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None

    def action_attention(self) -> None:
        self.toggle_view("attention")

    def action_view(self, name: str) -> None:
        self.toggle_view(name)

    def action_variant(self) -> None:
        self.active.act("variant")

    def action_ids(self) -> None:
        self.show_ids = not self.show_ids

    def watch_show_ids(self, show: bool) -> None:
        for pane in self.panes:
            pane.show_ids = show

    def toggle_view(self, name: str) -> None:
        """Open the view ``name`` on every pane (closing the one open), or close it when it is open."""
        self.view = None if self.view == name else name
        if self.view is not None:
            self._stop_player()
            for pane in self.panes:
                if pane.fills.on:  # the fills view would hide this one: close it
                    pane.fills.toggle()
        self.refresh_bindings()

    @property
    def show_attention(self) -> bool:
        return self.view == "attention"

    def watch_view(self, view: str | None) -> None:
        if view != "neighbours":
            self._returns.clear()  # escape closes the next view, it does not go back through old sentences
        for pane in self.panes:
            pane.view = view

    # ------------------------------------------------------------------ nearest contexts (an index)

    def open_index(self, folder: str) -> bool:
        """Open the index at ``folder`` for the nearest-contexts view; one line, and nothing lost, when it
        cannot be opened (the index open before stays)."""
        from ..index import Index, IndexError_

        try:
            index = Index(os.path.expanduser(folder.strip()))
        except IndexError_ as exc:
            self.notify(str(exc), title="Not an index", severity="error", timeout=10, markup=False)
            return False
        self.set_index(index)
        manifest = index.manifest
        layers = ", ".join(map(str, manifest.layers))
        unfinished = "" if manifest.complete else " (not finished: mlm-tui index continues it)"
        self.notify(
            f"{index.folder}: {manifest.vectors:,} tokens of {manifest.model}, layers {layers}{unfinished}; "
            "n lists the selected token's nearest contexts",
            title="Index open",
            timeout=8,
            markup=False,
        )
        return True

    def set_index(self, index: Any) -> None:
        self.index = index
        self._returns.clear()
        for pane in self.panes:
            pane.index = index
            if pane.ready and pane.encoding is not None:
                pane.redraw()
        self.refresh_bindings()

    def action_open_index(self) -> None:
        from .index_prompt import IndexPrompt

        def chosen(folder: str | None) -> None:
            if folder:
                self.open_index(folder)

        folder = str(getattr(self.index, "folder", "") or "")
        self.app.push_screen(IndexPrompt(folder), chosen)

    @on(ModelPane.ContextChosen)
    def _context_chosen(self, event: ModelPane.ContextChosen) -> None:
        """``enter`` on a nearest context: its sentence replaces the text (as typing it would, one undo
        step), the matched token selected; ``escape`` comes back (:meth:`back_from_context`)."""
        pane, context = event.pane, event.context
        if self.snapshot is None or pane.encoding is None:
            return
        view = pane.views["neighbours"]
        back = Return(
            self.snapshot,
            pane.session_span(pane.tokens.selected)[0],
            getattr(view, "layer", None),
            getattr(view, "filter", None),
            pane.table.cursor_row,
        )
        if self.commit(Snapshot(context.text), kind="edit", select_at=context.start):
            self._returns.append(back)
            for each in self.panes:
                each.tokens.mark(context.text, ())
            self.source = None
            pane.tokens.focus()

    def back_from_context(self) -> None:
        """``escape`` after ``enter`` opened a nearest context: the sentence, masks, selected token,
        layer, filter and row from before."""
        back = self._returns.pop()
        view = self.active.views["neighbours"]
        old = (view.layer, view.filter, view.restore_row)  # type: ignore[attr-defined]
        view.layer, view.filter, view.restore_row = back.layer, back.filter, back.row  # type: ignore[attr-defined]
        if not self.commit(back.snapshot, kind="edit", select_at=back.select_at):
            view.layer, view.filter, view.restore_row = old  # type: ignore[attr-defined]
            self._returns.append(back)
            return
        self.active.redraw()
        self.active.tokens.focus()

    def action_layer(self, step: int) -> None:
        self.active.act("layer", step)

    def action_head(self, step: int) -> None:
        self.active.act("head", step)

    def action_mean_heads(self) -> None:
        self.active.act("mean_heads")

    def action_watch(self) -> None:
        from .watch import WatchWords

        def chosen(words: tuple[str, ...] | None) -> None:
            if words is not None:
                self.watched = words

        self.app.push_screen(WatchWords(self.watched), chosen)

    def watch_watched(self, words: tuple[str, ...]) -> None:
        for pane in self.panes:
            pane.watched = words
        if self.snapshot is not None:
            self._write_journal("watch", self.snapshot, words=words)

    def action_undo(self) -> None:
        snapshot = self.history.undo()
        if snapshot is not None:
            self.commit(snapshot, kind="undo", record=False)

    def action_redo(self) -> None:
        snapshot = self.history.redo()
        if snapshot is not None:
            self.commit(snapshot, kind="redo", record=False)

    def open_text(
        self,
        text: str,
        *,
        watched: tuple[str, ...] | None = None,
        surprisal: bool | None = None,
        marked: list[tuple[int, int]] | tuple[tuple[int, int], ...] = (),
        select_at: int | None = None,
        counted: str | None = None,
        source: tuple[str, str] | None = None,
    ) -> bool:
        """Show ``text`` from outside the screen (an item of a probe set): its ``[MASK]`` masked, the
        ``watched`` words watched, the surprisal view on or off, the tokens in ``marked`` (character
        spans of ``text``) underlined, and the token at character ``select_at`` selected; ``counted``
        names the sum of the underlined tokens' log-probabilities when a metric counts them (the
        surprisal title shows it); ``source`` is the probe set's file and kind, for the export's header.
        False, with one line to the user, when a model cannot read it."""
        if self.editing:
            self.set_focus(self.active.tokens)
        if not self.commit(Snapshot(text), kind="open", select_at=select_at):
            return False
        if watched is not None:
            self.watched = watched
        if surprisal is not None:
            self.show_surprisal = surprisal
        for pane in self.panes:
            pane.tokens.mark(text, tuple(marked), counted=counted)
        self.source = (*source, text) if source is not None else None
        return True

    # ------------------------------------------------------------------ a second model

    def add_compare(self, model: str) -> None:
        """Open ``model`` in a second pane, with the same device and options as the first."""
        if self._loader_factory is None:
            self.notify("This app was built without a way to load models", severity="error")
            return
        options = dataclasses.replace(self._options, model=model)
        pane = self._new_pane(
            self._loader_factory(options), options.label, "right", self._upgrade_for(options)
        )
        self._record_models("model", [self.left.label, options.label])
        if self._incoming is not None:  # a replacement is already waiting for the old pane to go
            self._incoming = pane
            return
        old = self.right
        if old is None:
            self._mount_right(pane)
            return
        # the old pane must be gone before the new one takes its id (removal takes a frame)
        if self.active_id == "right":
            self.left.tokens.focus()
        self.active_id = "left"
        self._incoming = pane
        removal = old.remove()

        async def after_remove() -> None:
            await removal
            incoming, self._incoming = self._incoming, None
            if incoming is not None:
                self._mount_right(incoming)

        self.call_later(after_remove)

    def change_main(self, model: str) -> None:
        """Open ``model`` in the first pane in place of the one there (same device and options).

        The text, masks and undo history stay: they belong to the screen; the selection comes back
        to the same characters once the model has loaded. A second model opened later uses the
        same options.
        """
        if self._loader_factory is None:
            self.notify("This app was built without a way to load models", severity="error")
            return
        options = dataclasses.replace(self._options, model=model)
        self._options = options
        left = self.left
        if left.encoding is not None and left.text_map is not None:
            self._select_after_load = left.session_span(left.tokens.selected)[0]
        elif self.snapshot is not None:
            self._select_after_load = first_mask(self.snapshot)
        left.change_model(self._loader_factory(options), options.label, self._upgrade_for(options))
        labels = [options.label, *(p.label for p in self.panes if p is not left)]
        self._record_models("model", labels)
        self.refresh_bindings()
        self._sync_full()
        self._sync_status()
        self._sync_comparison()

    def action_change_main(self) -> None:
        from .model_picker import ModelPicker

        def chosen(model: str | None) -> None:
            if model:
                self.change_main(model)

        self.app.push_screen(ModelPicker("Open which model in place of the first?"), chosen)

    def _mount_right(self, pane: ModelPane) -> None:
        if self.snapshot is not None:
            pane.apply(self.snapshot)
            self._panes_in_step()
        self.query_one("#panes").mount(pane)
        self._layout_panes(self.size.width)
        self._sync_full()
        self._sync_status()
        self._sync_comparison()

    def _upgrade_for(self, options: EngineOptions) -> Upgrade | None:
        return self._upgrade_factory(options) if self._upgrade_factory is not None else None

    def remove_compare(self) -> None:
        self._incoming = None  # a replacement still waiting is not mounted after all
        pane = self.right
        if pane is None:
            return
        if self.active_id == "right":
            self.left.tokens.focus()
        self.active_id = "left"
        removal = pane.remove()
        self._record_models("model", [self.left.label])

        async def after_remove() -> None:
            await removal
            self._after_remove()

        self.call_later(after_remove)

    def _after_remove(self) -> None:
        self._layout_panes(self.size.width)
        self._sync_full()
        self._sync_status()

    def action_compare(self) -> None:
        from .model_picker import ModelPicker

        def chosen(model: str | None) -> None:
            if model:
                self.add_compare(model)

        self.app.push_screen(ModelPicker(), chosen)

    def commands(self) -> Iterable[Command]:
        """Entries for the command palette (every action of the screen and the active pane)."""
        tokens = self.active.tokens
        ready = any(p.ready for p in self.panes)
        if ready:
            yield (
                "Mask the selected token",
                "Toggle a mask on the selected token",
                tokens.action_toggle_mask,
            )
            yield ("Mask the whole word", "Mask every piece of the selected word", tokens.action_mask_word)
            yield ("Clear all masks", "Remove every mask you added", tokens.action_clear_masks)
            yield (
                "Substitute the prediction",
                "Put the highlighted prediction in the sentence",
                self.action_substitute,
            )
            yield ("Toggle the surprisal view", "Colour tokens by surprisal (PLL)", self.action_surprisal)
            yield ("Joint fill", "Fill every mask at once (beam search); again closes", self.action_fills)
            yield ("Play the replay", "Reveal the best fill's masks one by one", self.action_play)
            yield (
                "Toggle the attention view",
                "Shade tokens by the selected token's attention",
                self.action_attention,
            )
            yield (
                "MLM lens (L)",
                "The model's head on every layer at the selected token",
                partial(self.action_view, "lens"),
            )
            yield (
                "MLM lens grid (#)",
                "The top-1 of every token at every layer",
                partial(self.action_view, "grid"),
            )
            yield (
                "Token similarity (v)",
                "Shade the tokens by the cosine of their vectors to the selected one's",
                partial(self.action_view, "similarity"),
            )
            yield (
                "Salience (d)",
                "Which tokens make the model predict the highlighted token at the mask",
                partial(self.action_view, "salience"),
            )
            yield (
                "Nearest contexts (n)",
                "The selected token's nearest contexts in the open index",
                partial(self.action_view, "neighbours"),
            )
            yield ("Token ids (i)", "Show each token's id under it", self.action_ids)
            yield ("Watch words", "Words whose probability and rank show at every mask", self.action_watch)
            yield ("Edit the sentence", "Change the text", self.action_edit)
            yield ("Undo", "Undo the last change", self.action_undo)
            yield ("Redo", "Redo what was undone", self.action_redo)
            yield ("More predictions", "Increase top-k", partial(self.action_top_k, 1))
            yield ("Fewer predictions", "Decrease top-k", partial(self.action_top_k, -1))
            yield (
                "Export",
                "Write the sentence, masks and predictions as Markdown and JSON",
                self.action_export,
            )
        yield (
            "Open an index…",
            "A corpus index (mlm-tui index) for the nearest-contexts view (n)",
            self.action_open_index,
        )
        yield (
            "Change the main model",
            "Open another model in the first pane; the text, masks and undo history stay",
            self.action_change_main,
        )
        if self.right is None:
            yield ("Compare with another model", "Open a second model beside this one", self.action_compare)
        else:
            yield ("Replace the second model", "Open another model in the second pane", self.action_compare)
            yield ("Close the second model", "Back to one model", self.remove_compare)


VIEW_KEYS = [b for b in ExplorerScreen.BINDINGS if isinstance(b, Binding) and b.id in VIEW_IDS]
"""The keys of the exploration views (issue 10), a section of their own in the help."""
