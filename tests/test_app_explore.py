"""Pilot tests of the exploration views (issue 10), key by key as a user drives them.

The unmasked view, joint fills (``f``) and their replay (``[``, ``]``, ``p``), the attention
view (``a``, ``<``, ``>``, ``,``, ``.``, ``0``) and the watched words (``t``). Every expected
value is computed in the test from the engine the app was given; the invariants of
``tests/invariants.py`` are checked after every step.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fakes import FakeEngine, instant_loader, settle
from invariants import table_rows, violations
from textual.pilot import Pilot

from mlm_tui.app import MlmApp, make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.screens.explorer import ExplorerScreen
from mlm_tui.screens.watch import WatchWords
from mlm_tui.widgets.model_pane import ModelPane, Shown

SIZE = (100, 30)
TEXT = "The keys to the cabinet are on the table."
# the fake's tokens of TEXT: [CLS] the keys to the cabinet are on the table . [SEP]
KEYS, ON, TABLE = 2, 7, 9


# ---------------------------------------------------------------------- helpers


def fake_app(engine: FakeEngine, text: str = TEXT, **kwargs) -> MlmApp:
    return make_app(text, loader=instant_loader(engine), **kwargs)


def column(pane: ModelPane, index: int) -> list[str]:
    table = pane.table
    return [str(table.get_row_at(r)[index]) for r in range(table.row_count)]


@asynccontextmanager
async def opened(app: MlmApp) -> AsyncIterator[tuple[Pilot, ExplorerScreen, ModelPane]]:
    """The app running at SIZE with its model loaded: the pilot, the explorer and its active pane."""
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        yield pilot, app.explorer, app.explorer.active


async def step(pilot, *keys: str) -> None:
    """Press ``keys``, wait for every worker, and check that the screen agrees with itself."""
    await pilot.press(*keys)
    await settle(pilot)
    assert violations(pilot.app) == []


def cell_labels(pane: ModelPane, revealed: dict[int, str] | None = None) -> list[str]:
    """What each cell should say: a revealed token, else the mask token at a mask, else the token."""
    revealed = revealed or {}
    mask_token = pane.engine.info.mask_token
    out = []
    for token in pane.encoding.tokens:
        if token.index in revealed:
            out.append(revealed[token.index])
        elif pane.tokens.is_masked(token.index):
            out.append(mask_token)
        else:
            out.append(token.text if token.special else token.display)
    return out


def state(app: MlmApp) -> tuple:
    """What a key that does nothing must leave as it was."""
    screen = app.explorer
    pane = screen.active
    return (
        screen.snapshot,
        screen.sentence.value,
        screen.show_attention,
        screen.watched,
        pane.shown,
        pane.fills.on,
        pane.fills.step,
        pane.attention.layer,
        pane.attention.head,
        pane.tokens.selected,
        pane.tokens.masked,
        table_rows(pane),
    )


async def mask_keys_and_table(pilot) -> None:
    """Mask "keys" and "table" (tokens 2 and 9); the selection ends on "table"."""
    await step(pilot, "home", "right", "m", "end", "left", "m")
    assert pilot.app.explorer.active.tokens.all_masks == (KEYS, TABLE)


# ---------------------------------------------------------------------- 1. the unmasked view


async def test_unmasked_view_follows_the_selection_and_yields_to_a_mask():
    engine = FakeEngine()
    app = fake_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert violations(app) == []
        screen = app.explorer
        pane = screen.active
        encoding = pane.encoding
        seen_rows = []
        for expected_index in (1, 2, 3):
            selected = pane.tokens.selected
            assert selected == expected_index
            assert pane.shown.kind == "unmasked" and pane.shown.mask == selected
            view = engine.unmasked(encoding, top_k=screen.top_k).at(selected)
            assert table_rows(pane) == [p.token_str for p in view.predictions]
            assert column(pane, 2) == [f"{p.score:.2%}" for p in view.predictions]
            seen_rows.append(table_rows(pane))
            heading = pane.panel.heading
            token = encoding.tokens[selected].display
            assert heading.startswith(f"{token!r} unmasked (token {selected})")
            assert f"p {view.score:.1%}" in heading
            assert f"rank {view.rank}" in heading
            assert f"entropy {view.entropy:.2f}" in heading
            await step(pilot, "l")
        assert len({tuple(r) for r in seen_rows}) == 3  # the rows really changed with the token
        # masking the selected token switches to the mask's predictions
        await step(pilot, "h")
        selected = pane.tokens.selected
        await step(pilot, "m")
        assert pane.shown.kind == "predictions" and pane.shown.mask == selected
        predicted = engine.predict(pane.encoding, [selected], top_k=screen.top_k).masks[0]
        assert table_rows(pane) == [p.token_str for p in predicted.predictions]
        assert "unmasked" not in pane.panel.heading
        # moving off the mask gives the unmasked view of the new token; unmasking gives it back here
        await step(pilot, "l")
        assert pane.shown == Shown("unmasked", selected + 1)
        await step(pilot, "h", "m")
        assert pane.shown.kind == "unmasked" and pane.shown.mask == selected


async def test_unmasked_view_top_k_enter_and_undo():
    engine = FakeEngine()
    app = fake_app(engine, top_k=5)
    async with opened(app) as (pilot, screen, pane):
        # + and - change the number of rows
        assert pane.shown.kind == "unmasked" and pane.table.row_count == 5
        await step(pilot, "plus")
        assert screen.top_k == 6 and pane.table.row_count == 6
        view = engine.unmasked(pane.encoding, top_k=6).at(pane.tokens.selected)
        assert table_rows(pane) == [p.token_str for p in view.predictions]
        await step(pilot, "minus", "minus")
        assert screen.top_k == 4 and pane.table.row_count == 4
        assert pane.shown.kind == "unmasked"
        # enter puts the highlighted prediction in place of the selected token
        await step(pilot, "l", "l", "l", "l")  # "cabinet"
        selected = pane.tokens.selected
        assert pane.encoding.tokens[selected].display == "cabinet"
        assert pane.shown == Shown("unmasked", selected)
        await step(pilot, "down", "down")
        assert pane.table.cursor_row == 2
        assert screen.check_action("substitute", ()) is True
        chosen = engine.unmasked(pane.encoding, top_k=screen.top_k).at(selected).predictions[2]
        expected, _start, _end = engine.substitute(pane.encoding, selected, chosen.token)
        assert expected != TEXT
        await step(pilot, "enter")
        assert screen.snapshot.text == expected
        assert screen.sentence.value == expected
        assert pane.encoding.tokens[selected].display == chosen.token_str
        assert pane.tokens.masked == frozenset()
        await step(pilot, "u")
        assert screen.snapshot.text == TEXT and screen.sentence.value == TEXT
        assert pane.tokens.masked == frozenset()


# ---------------------------------------------------------------------- 2. joint fills


async def test_joint_fills_table_enter_and_one_undo():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await mask_keys_and_table(pilot)
        masked_snapshot = screen.snapshot
        assert screen.check_action("fills", ()) is True
        await step(pilot, "f")
        assert pane.fills.on and pane.shown.kind == "fills"
        joint = engine.joint_fill(pane.encoding, [KEYS, TABLE], beam=pane.beam)
        assert pane.table.row_count == len(joint.fills) > 1
        assert column(pane, 3) == [f.sequence for f in joint.fills]
        assert column(pane, 1) == [f"{f.log_prob:.2f}" for f in joint.fills]
        log_probs = [f.log_prob for f in joint.fills]
        assert log_probs == sorted(log_probs, reverse=True)  # best first
        pieces = column(pane, 2)
        for fill, shown in zip(joint.fills, pieces, strict=True):
            words = " · ".join(fill.token_strs)
            if fill.tokens == joint.independent.tokens:
                assert shown == words + " (ind.)"
            else:
                assert shown == words
        assert sum("(ind.)" in p for p in pieces) == 1
        assert joint.fills[0].tokens != joint.independent.tokens  # the fake's best is not the independent
        assert "Joint fills of 2 masks" in pane.panel.heading
        # enter on the second row puts both of its tokens in the sentence in one step
        await step(pilot, "down")
        assert pane.table.cursor_row == 1
        await step(pilot, "enter")
        assert screen.snapshot.text == joint.fills[1].sequence
        assert screen.sentence.value == joint.fills[1].sequence
        words = [pane.encoding.tokens[p].display for p in joint.positions]
        assert words == list(joint.fills[1].token_strs)
        assert pane.tokens.all_masks == ()
        assert not pane.fills.on and pane.shown.kind != "fills"  # the view closed
        # one undo brings back the masked sentence
        await step(pilot, "u")
        assert screen.snapshot == masked_snapshot
        assert pane.tokens.all_masks == (KEYS, TABLE)
        assert pane.shown.kind == "predictions"


async def test_f_again_closes_and_f_is_greyed_without_masks():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        # no masks: greyed, does nothing
        assert pane.tokens.all_masks == ()
        assert screen.check_action("fills", ()) is None
        before = state(app)
        await step(pilot, "f")
        assert state(app) == before
        assert not pane.fills.on and pane.shown.kind == "unmasked"
        # with masks: f opens, f closes
        await mask_keys_and_table(pilot)
        await step(pilot, "f")
        assert pane.shown.kind == "fills"
        await step(pilot, "f")
        assert not pane.fills.on
        assert pane.shown == Shown("predictions", TABLE)
        assert screen.snapshot.text == TEXT


async def test_masking_while_the_fills_are_on_recomputes_them():
    engine = FakeEngine()
    app = fake_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await mask_keys_and_table(pilot)
        await step(pilot, "f")
        two = engine.joint_fill(pane.encoding, [KEYS, TABLE], beam=pane.beam)
        assert column(pane, 3) == [f.sequence for f in two.fills]
        await step(pilot, "h", "h", "m")  # "on"
        assert pane.tokens.all_masks == (KEYS, ON, TABLE)
        assert pane.shown.kind == "fills"
        three = engine.joint_fill(pane.encoding, [KEYS, ON, TABLE], beam=pane.beam)
        assert column(pane, 3) == [f.sequence for f in three.fills]
        assert column(pane, 3) != [f.sequence for f in two.fills]
        assert all(len(p.replace(" (ind.)", "").split(" · ")) == 3 for p in column(pane, 2))
        assert "Joint fills of 3 masks" in pane.panel.heading
        # unmasking "on" gives back the fills of two masks; with no mask left, a message, not stale fills
        await step(pilot, "m")
        assert column(pane, 3) == [f.sequence for f in two.fills]
        await step(pilot, "c")
        assert pane.tokens.all_masks == ()
        assert pane.shown.kind == "message"


# ---------------------------------------------------------------------- 3. the replay


async def test_replay_steps_forward_and_back():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "l", "l", "m")  # "to"
        await step(pilot, "end", "h", "m")  # "table"
        await step(pilot, "h", "h", "h", "m")  # "are"
        masks = pane.tokens.all_masks
        assert len(masks) == 3
        await step(pilot, "f")
        joint = engine.joint_fill(pane.encoding, sorted(masks), beam=pane.beam)
        steps = joint.steps
        assert [s.position for s in steps] != sorted(masks)  # the order is the engine's, not left to right
        assert screen.check_action("replay", (1,)) is True

        def expect_step(n: int) -> None:
            revealed = {s.position: s.token_str for s in steps[:n]}
            assert pane.shown.kind == "replay" and pane.fills.step == n
            assert (pane.tokens.revealed or {}) == revealed
            assert pane.tokens.plain.split() == cell_labels(pane, revealed)
            assert column(pane, 2) == [s.token_str if i < n else "…" for i, s in enumerate(steps)]
            assert column(pane, 3) == [f"{s.score:.2%}" if i < n else "" for i, s in enumerate(steps)]
            assert column(pane, 1) == [str(s.position) for s in steps]
            assert f"step {n} of {len(steps)}" in pane.panel.heading

        for n in range(1, len(steps) + 1):
            await step(pilot, "right_square_bracket")
            expect_step(n)
        # past the end stays at the end
        await step(pilot, "right_square_bracket")
        expect_step(len(steps))
        # back, one at a time
        for n in range(len(steps) - 1, -1, -1):
            await step(pilot, "left_square_bracket")
            expect_step(n)
        assert pane.tokens.plain.split() == cell_labels(pane)
        # [ at step 0 leaves the replay for the fills table
        await step(pilot, "left_square_bracket")
        assert pane.shown.kind == "fills" and pane.fills.step is None
        assert not pane.tokens.revealed
        assert column(pane, 3) == [f.sequence for f in joint.fills]
        assert screen.snapshot.text == TEXT  # stepping never touched the sentence
        # enter during the replay puts the best fill (not the highlighted step's row) in the sentence
        masked_snapshot = screen.snapshot
        await step(pilot, "right_square_bracket", "right_square_bracket")
        assert pane.fills.step == 2 and pane.table.cursor_row == 1
        assert screen.check_action("substitute", ()) is True
        await step(pilot, "enter")
        assert screen.snapshot.text == joint.fills[0].sequence != joint.fills[1].sequence
        assert pane.shown.kind != "replay" and pane.fills.step is None and not pane.fills.on
        assert not pane.tokens.revealed
        assert pane.tokens.all_masks == ()
        await step(pilot, "u")
        assert screen.snapshot == masked_snapshot and pane.tokens.all_masks == masks


async def test_enter_late_in_a_long_replay_puts_the_best_fill():
    """Seven masks: the replay has seven steps, more than the fills table has rows."""
    engine = FakeEngine()
    app = fake_app(engine, " ".join(["[MASK]"] * 7) + ".")
    async with opened(app) as (pilot, screen, pane):
        masks = pane.tokens.all_masks
        assert len(masks) == 7
        await step(pilot, "f")
        joint = engine.joint_fill(pane.encoding, [], beam=pane.beam)
        assert len(joint.steps) > len(joint.fills)
        await step(pilot, *["right_square_bracket"] * len(joint.steps))
        assert pane.shown.kind == "replay" and pane.fills.step == len(joint.steps)
        assert screen.check_action("substitute", ()) is True  # the footer offers enter...
        await step(pilot, "enter")
        assert screen.snapshot.text == joint.fills[0].sequence  # ...and enter puts the best fill


class ManualTimer:
    """Stands in for the player's interval timer: the test ticks it, no clock does (a busy machine
    delays a real timer's ticks, or runs two between looks)."""

    def __init__(self, interval: float, callback) -> None:
        self.interval, self.callback, self.stopped = interval, callback, False

    def stop(self) -> None:
        self.stopped = True

    def tick(self) -> None:
        assert not self.stopped, "a stopped timer ticked"
        self.callback()


async def test_play_advances_by_the_timer_and_stops_at_the_end(monkeypatch):
    engine = FakeEngine()
    app = fake_app(engine, "The [MASK] to the [MASK] are on the [MASK].")  # masks typed in the text
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        timers: list[ManualTimer] = []

        def set_interval(interval, callback, **_options) -> ManualTimer:
            timers.append(ManualTimer(interval, callback))
            return timers[-1]

        monkeypatch.setattr(screen, "set_interval", set_interval)
        await step(pilot, "f")
        joint = engine.joint_fill(pane.encoding, sorted(pane.tokens.all_masks), beam=pane.beam)
        assert len(joint.steps) == 3
        assert screen.check_action("play", ()) is True
        await step(pilot, "p")
        assert pane.shown.kind == "replay" and pane.fills.step == 1  # the first step at once
        assert len(timers) == 1 and timers[0].interval == pytest.approx(0.7)  # and a step every 0.7 s
        player = timers[0]
        for expected in (2, 3):  # each tick reveals one more mask; the one that reveals the last stops it
            player.tick()
            await settle(pilot)
            assert pane.fills.step == expected and player.stopped == (expected == len(joint.steps))
            assert violations(app) == []
            assert pane.tokens.revealed == {s.position: s.token_str for s in joint.steps[:expected]}
        assert pane.shown.kind == "replay"  # it stays on the end
        # p at the end plays again from the start
        await step(pilot, "p")
        assert pane.fills.step == 1 and len(timers) == 2 and not timers[1].stopped
        # a step key stops the player
        await step(pilot, "left_square_bracket")
        assert pane.fills.step == 0 and timers[1].stopped


async def test_replay_keys_are_greyed_outside_the_fills_view():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        for setup in ((), ("right", "m", "end", "left", "m")):  # without masks, then with masks
            if setup:
                await step(pilot, *setup)
            for action, params in (("replay", (1,)), ("replay", (-1,)), ("play", ())):
                assert screen.check_action(action, params) is None
            for key in ("right_square_bracket", "left_square_bracket", "p"):
                before = state(app)
                await step(pilot, key)
                assert state(app) == before, key
                assert pane.fills.step is None and not pane.tokens.revealed


# ---------------------------------------------------------------------- 4. attention


def attention_rows(engine, pane: ModelPane, layer: int, head: int | None) -> list[str]:
    result = engine.attention(pane.encoding, pane.tokens.selected, sorted(pane.tokens.masked))
    weights = result.row(layer, head)
    order = sorted((i for i, w in enumerate(weights) if not math.isnan(w)), key=lambda i: (-weights[i], i))
    return [str(i) for i in order]


def expect_attention(engine, pane: ModelPane, layer: int, head: int | None) -> None:
    selected = pane.tokens.selected
    result = engine.attention(pane.encoding, selected, sorted(pane.tokens.masked))
    assert pane.shown.kind == "attention"
    assert (pane.attention.layer, pane.attention.head) == (layer, head)
    weights = result.row(layer, head)
    assert column(pane, 0) == attention_rows(engine, pane, layer, head)
    assert column(pane, 2) == [f"{weights[int(i)]:.3f}" for i in column(pane, 0)]
    token = pane.encoding.tokens[selected]
    label = pane.engine.info.mask_token if pane.tokens.is_masked(selected) else token.display
    heading = pane.panel.heading
    assert heading.startswith(f"Attention from {label!r} (token {selected})")
    assert f"layer {layer} (0–{result.layers - 1})" in heading
    which = f"mean of {result.heads} heads" if head is None else f"head {head} (0–{result.heads - 1})"
    assert which in heading
    top = max(weights)
    assert pane.tokens.shade is not None
    assert pane.tokens.shade.keys() == set(range(len(weights)))
    for i, w in enumerate(weights):
        assert pane.tokens.shade[i] == pytest.approx(w / top)


async def test_attention_view_layers_heads_and_selection():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "l", "l")  # "to"
        assert screen.check_action("attention", ()) is True
        await step(pilot, "a")
        assert screen.show_attention and pane.view == "attention"
        layers = engine.attention(pane.encoding, 3, []).layers
        heads = engine.attention(pane.encoding, 3, []).heads
        assert layers >= 2 and heads >= 2
        last = layers - 1
        expect_attention(engine, pane, last, None)  # the last layer, the mean of the heads
        # layers: > is clamped at the last, < goes down to 0 and stays
        await step(pilot, "greater_than_sign")
        expect_attention(engine, pane, last, None)
        await step(pilot, "less_than_sign")
        expect_attention(engine, pane, last - 1, None)
        for _ in range(layers):
            await step(pilot, "less_than_sign")
        expect_attention(engine, pane, 0, None)
        assert attention_rows(engine, pane, 0, None) != attention_rows(engine, pane, last, None)
        for n in range(1, layers):
            await step(pilot, "greater_than_sign")
            expect_attention(engine, pane, n, None)
        # heads: from the mean . goes to head 0, then up to the last and stays; 0 back to the mean
        await step(pilot, "full_stop")
        expect_attention(engine, pane, last, 0)
        mean_rows = attention_rows(engine, pane, last, None)
        assert attention_rows(engine, pane, last, 0) != mean_rows  # the head is not the mean
        for _ in range(heads):
            await step(pilot, "full_stop")
        expect_attention(engine, pane, last, heads - 1)
        await step(pilot, "comma")
        expect_attention(engine, pane, last, heads - 2)
        await step(pilot, "0")
        expect_attention(engine, pane, last, None)
        # from the mean , goes to the last head
        await step(pilot, "comma")
        expect_attention(engine, pane, last, heads - 1)
        # moving the selection recomputes for the new token, in the same layer and head
        before = column(pane, 0)
        await step(pilot, "l")
        assert pane.tokens.selected == 4
        expect_attention(engine, pane, last, heads - 1)
        assert column(pane, 0) != before
        # masking a token recomputes with the mask
        await step(pilot, "m")
        assert pane.tokens.masked == {4}
        expect_attention(engine, pane, last, heads - 1)
        assert "[MASK]" in pane.panel.heading
        # a again: off, and the shade is gone
        await step(pilot, "a")
        assert not screen.show_attention and pane.view != "attention"
        assert pane.tokens.shade is None
        assert pane.shown.kind == "predictions"


async def test_enter_and_the_layer_keys_are_greyed_where_they_do_nothing():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "l", "m")  # a mask: enter would substitute in the predictions view
        assert screen.check_action("substitute", ()) is True
        # outside the attention view the layer and head keys are greyed and do nothing
        for action, params in (("layer", (1,)), ("layer", (-1,)), ("head", (1,)), ("mean_heads", ())):
            assert screen.check_action(action, params) is None
        for key in ("greater_than_sign", "less_than_sign", "full_stop", "comma", "0"):
            before = state(app)
            await step(pilot, key)
            assert state(app) == before, key
        await step(pilot, "a")
        expect_attention(engine, pane, pane.attention.layer, None)
        assert pane.attention.layer == engine.attention(pane.encoding, 2, [2]).layers - 1
        # in the attention view enter is greyed and changes nothing, even at a mask
        assert pane.tokens.selected in pane.tokens.all_masks
        assert screen.check_action("substitute", ()) is None
        before = state(app)
        await step(pilot, "enter")
        assert state(app) == before
        assert screen.snapshot.text == TEXT


# ---------------------------------------------------------------------- 5. watched words


def watched_rows(engine, pane: ModelPane, words: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """The rows the watched words should add at the mask on show: (◆, word (#rank), probability)."""
    mask = pane.shown.mask
    result = engine.predict(pane.encoding, sorted(pane.tokens.masked), top_k=10, targets=words)
    targets = result.for_position(mask).targets
    assert [t.target for t in targets] == list(words)
    return [("◆", f"{t.target} (#{t.rank})", f"{t.score:.2%}") for t in targets]


def last_rows(pane: ModelPane, n: int) -> list[tuple[str, str, str]]:
    table = pane.table
    return [
        tuple(str(c) for c in table.get_row_at(r)[:3]) for r in range(table.row_count - n, table.row_count)
    ]


async def test_watched_words_are_shown_kept_and_substituted():
    engine = FakeEngine()
    app = fake_app(engine, top_k=5)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "t")
        assert isinstance(app.screen, WatchWords)
        await pilot.press(*"he, she")
        await step(pilot, "enter")
        assert app.screen is screen
        assert screen.watched == ("he", "she")
        assert all(p.watched == ("he", "she") for p in screen.panes)
        # at a mask, the table ends with one row per watched word
        await step(pilot, "l", "m")  # "keys"
        assert pane.shown == Shown("predictions", KEYS)
        assert pane.table.row_count == screen.top_k + 2
        assert last_rows(pane, 2) == watched_rows(engine, pane, ("he", "she"))
        # kept across a mask change
        await step(pilot, "end", "h", "m")  # "table"
        assert pane.shown.mask == TABLE
        assert last_rows(pane, 2) == watched_rows(engine, pane, ("he", "she"))
        assert last_rows(pane, 2) != watched_rows_at(engine, pane, KEYS)  # the rows are per mask
        # kept across a text edit
        await pilot.press("e", "ctrl+u", *"[MASK] here.")
        await step(pilot, "enter")
        assert screen.snapshot.text == "[MASK] here."
        assert screen.watched == ("he", "she")
        await step(pilot, "home")
        assert pane.shown.kind == "predictions"
        mask = pane.shown.mask
        assert last_rows(pane, 2) == watched_rows(engine, pane, ("he", "she"))
        # enter on a watched row puts the word in place of the mask
        await step(pilot, *["down"] * screen.top_k)
        assert pane.table.cursor_row == screen.top_k
        target = engine.predict(pane.encoding, [], top_k=10, targets=("he",)).for_position(mask).targets[0]
        expected, _s, _e = engine.substitute(pane.encoding, mask, target.pieces[0])
        assert expected == "he here."
        await step(pilot, "enter")
        assert screen.snapshot.text == expected
        assert pane.tokens.all_masks == ()


def watched_rows_at(engine, pane: ModelPane, mask: int) -> list[tuple[str, str, str]]:
    result = engine.predict(pane.encoding, sorted(pane.tokens.masked), top_k=10, targets=("he", "she"))
    return [("◆", f"{t.target} (#{t.rank})", f"{t.score:.2%}") for t in result.for_position(mask).targets]


async def test_watched_words_cleared_by_an_empty_line_and_kept_on_escape():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "l", "m")
        plain_rows = table_rows(pane)
        await step(pilot, "t", *"he, she", "enter")
        assert screen.watched == ("he", "she")
        assert table_rows(pane)[: len(plain_rows)] == plain_rows
        assert len(table_rows(pane)) == len(plain_rows) + 2
        # escape cancels: the modal shows the words, what is typed there is dropped
        await step(pilot, "t")
        assert isinstance(app.screen, WatchWords)
        assert app.screen.query_one("#watch-words").value == "he, she"
        await step(pilot, *", it", "escape")
        assert app.screen is screen
        assert screen.watched == ("he", "she")
        assert len(table_rows(pane)) == len(plain_rows) + 2
        # an empty line clears them
        await step(pilot, "t", "ctrl+u", "enter")
        assert app.screen is screen
        assert screen.watched == ()
        assert table_rows(pane) == plain_rows


# ---------------------------------------------------------------------- 6. keys while editing


async def test_view_keys_type_into_the_sentence_while_it_is_edited():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await mask_keys_and_table(pilot)
        await step(pilot, "f")  # the fills are on: [ and p would act outside the box
        assert screen.check_action("replay", (1,)) is True
        await pilot.press("e")
        assert screen.editing
        for action in ("fills", "replay", "play", "attention", "watch", "layer", "head", "mean_heads"):
            assert screen.check_action(action, ()) is False
        await pilot.press("f", "a", "t", "left_square_bracket", "p", "right_square_bracket", "0")
        await settle(pilot)
        assert screen.sentence.value == TEXT + "fat[p]0"
        assert app.screen is screen  # no watched-words modal
        assert screen.editing
        assert pane.fills.on and pane.shown.kind == "fills" and pane.fills.step is None
        assert not screen.show_attention
        assert screen.snapshot.text == TEXT
        await step(pilot, "escape")
        assert screen.sentence.value == TEXT
        assert pane.shown.kind == "fills"


# ---------------------------------------------------------------------- 7. two panes


async def test_two_panes_attention_fills_and_replay_in_both():
    left_engine = FakeEngine()
    right_engine = FakeEngine(name="other", split=4, salt="o", mask_token="<mask>")
    app = make_app(
        TEXT,
        compare=EngineOptions(model="other"),
        loader=instant_loader(left_engine),
        compare_loader=instant_loader(right_engine),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.explorer
        left, right = screen.left, screen.right
        assert right is not None and right.ready
        assert screen.active is left
        await step(pilot, "l", "l")
        await step(pilot, "a")
        assert screen.show_attention
        for pane, engine in ((left, left_engine), (right, right_engine)):
            layers = engine.attention(pane.encoding, pane.tokens.selected, []).layers
            expect_attention(engine, pane, layers - 1, None)
        await step(pilot, "a")
        assert left.shown.kind != "attention" and right.shown.kind != "attention"
        assert left.tokens.shade is None and right.tokens.shade is None
        # f opens the joint fills in both panes (the panes show the same view, issue 24), each its model's
        await mask_keys_and_table(pilot)
        assert len(right.tokens.all_masks) >= 2  # the same characters, in the other model's tokens
        await step(pilot, "f")
        assert left.fills.on and left.shown.kind == "fills"
        assert right.fills.on and right.shown.kind == "fills"
        for pane, engine in ((left, left_engine), (right, right_engine)):
            joint = engine.joint_fill(pane.encoding, sorted(pane.tokens.masked), beam=pane.beam)
            assert column(pane, 3) == [f.sequence for f in joint.fills]
        # the replay steps both
        await step(pilot, "right_square_bracket")
        assert left.shown.kind == "replay" and right.shown.kind == "replay"
        assert left.tokens.revealed and right.tokens.revealed
        # in the right pane, f closes the fills of both
        right.tokens.focus()
        await settle(pilot)
        assert screen.active is right
        await step(pilot, "f")
        assert not right.fills.on and right.shown.kind == "predictions"
        assert not left.fills.on and left.shown.kind == "predictions"


# ---------------------------------------------------------------------- 8. the tiny real BERT


async def test_fills_and_attention_with_the_tiny_real_bert(bert_dir):
    app = make_app(TEXT, options=EngineOptions(model=str(bert_dir)))
    async with opened(app) as (pilot, screen, pane):
        engine = pane.engine
        assert engine is not None and not isinstance(engine, FakeEngine)
        assert violations(app) == []
        assert pane.shown.kind == "unmasked"
        view = engine.unmasked(pane.encoding, top_k=screen.top_k, sequences=False).at(pane.tokens.selected)
        assert table_rows(pane) == [p.token_str.strip() or repr(p.token_str) for p in view.predictions]
        await step(pilot, "right", "m", "end", "left", "m")
        masks = pane.tokens.all_masks
        assert len(masks) == 2
        masked_encoding = pane.encoding
        await step(pilot, "f")
        joint = engine.joint_fill(masked_encoding, sorted(masks), beam=pane.beam)
        assert pane.shown.kind == "fills"
        assert column(pane, 3) == [f.sequence for f in joint.fills]
        best = joint.fills[0]
        assert column(pane, 2)[0].replace(" (ind.)", "") == " · ".join(
            t.strip() or repr(t) for t in best.token_strs
        )
        assert pane.table.cursor_row == 0
        await step(pilot, "enter")
        new = engine.encode(screen.snapshot.text)
        assert [new.tokens[p].id for p in joint.positions] == list(best.tokens)
        assert pane.tokens.all_masks == ()
        # attention, on the text as it is now
        await step(pilot, "u")
        assert pane.tokens.all_masks == masks
        await step(pilot, "a")
        selected = pane.tokens.selected
        result = engine.attention(pane.encoding, selected, sorted(pane.tokens.masked))
        expect_attention(engine, pane, result.layers - 1, None)
        await step(pilot, "less_than_sign", "full_stop")
        expect_attention(engine, pane, max(0, result.layers - 2), 0)


def test_exploration_keys_are_listed_in_the_screen_bindings():
    """Every key this file drives is one of the screen's own bindings (a typo would silently do nothing)."""
    keys = {k for b in ExplorerScreen.BINDINGS for k in b.key.split(",")}
    for key in (
        "f",
        "a",
        "t",
        "p",
        "0",
        "right_square_bracket",
        "left_square_bracket",
        "greater_than_sign",
        "less_than_sign",
        "full_stop",
        "comma",
    ):
        assert key in keys
