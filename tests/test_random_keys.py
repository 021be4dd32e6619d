"""Random keys, as a curious user would press them: the invariants must hold after every one.

A bounded run is part of the suite; a long one runs with ``--random-keys N`` (see the README).
On failure the test prints the seed and the shortest key sequence it found that still fails.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time

import pytest
from fake_index import FakeIndex
from fakes import FakeEngine, failing_loader, instant_loader, send_raw, settle
from invariants import observe, step_violations, violations
from textual.worker import WorkerCancelled, WorkerState

from mlm_tui.app import make_app
from mlm_tui.engine import BUNDLED_MODEL, EngineOptions

SIZE = (100, 30)
TEXT = "The keys to the cabinet are on the table."
# the app's own keys (quit and the palette aside), and what a person types into the sentence box
APP_KEYS = [
    "left",
    "right",
    "h",
    "l",
    "ctrl+left",
    "ctrl+right",
    "b",
    "w",
    "home",
    "end",
    "g",
    "number_sign",
    "m",
    "space",
    "M",
    "c",
    "e",
    "escape",
    "enter",
    "up",
    "down",
    "k",
    "j",
    "s",
    "plus",
    "minus",
    "u",
    "U",
    "ctrl+r",
    "tab",
    "shift+tab",
    "question_mark",
    "backspace",
    "f",
    "right_square_bracket",
    "left_square_bracket",
    "p",
    "a",
    "greater_than_sign",
    "less_than_sign",
    "full_stop",
    "comma",
    "0",
    "t",
    "L",
    "number_sign",
    "v",
    "d",
    "z",
    "i",
    "n",
]
TYPED = list("abcdefghijklmnoprstuvwxyz .,") + ["[", "M", "A", "S", "K", "]"]  # no q: it quits
# state-changing actions whose key must do something when enabled and nothing when greyed
CHANGES = {"u": "undo", "U": "redo", "ctrl+r": "redo", "c": "clear_masks"}


# the keys that change state come up more often, so short runs reach deep states
WEIGHTS = {
    "m": 4,
    "e": 4,
    "tab": 3,
    "enter": 3,
    "u": 3,
    "U": 2,
    "s": 2,
    "M": 2,
    "escape": 3,
    "f": 2,
    "a": 2,
    "L": 2,
    "v": 2,
    "d": 2,
    "n": 2,
}


# the palette's commands, typed into it as a user would (one that is not offered now runs whatever
# the palette highlights, or nothing), and what a user types into the modal prompts they open
PALETTE = [
    "Compare with another model",
    "Replace the second model",
    "Close the second model",
    "Watch words",
    "Joint fill",
    "Toggle the attention view",
    "Mask the whole word",
    "Clear all masks",
    "Edit the sentence",
    "Nearest contexts",
    "Undo",
    "Fewer predictions",
]
SIZES = [(80, 24), (100, 30), (130, 40), (60, 20)]
Step = str | tuple
"""A key, or ("burst", keys), ("edit", (characters, last key)), ("palette", title), ("type", text),
("resize", (width, height))."""
EDIT_ENDS = ("enter", "escape", "")
"""How an edit burst ends: applied, cancelled, or left in the box."""


def key_stream(
    seed: int, count: int, *, typed: tuple[str, ...] = (), extra: bool = False, edits: bool = True
) -> list[Step]:
    """Random keys; with ``extra`` also bursts, palette commands, typed model names or words, resizes.

    ``edits``: also bursts that start with ``e`` and type a few characters as fast as a paste (then
    enter, escape, or nothing): every character must land in the sentence box, in order.
    """
    rng = random.Random(seed)
    weights = [WEIGHTS.get(k, 1) for k in APP_KEYS]

    def key() -> str:
        return rng.choices(APP_KEYS, weights)[0] if rng.random() < 0.7 else rng.choice(TYPED)

    steps: list[Step] = []
    for _ in range(count):
        roll = rng.random() if extra else 1.0
        if edits and rng.random() < 0.05:
            characters = "".join(rng.choice(TYPED[:-6]) for _ in range(rng.randint(1, 8)))
            steps.append(("edit", (characters, rng.choice(EDIT_ENDS))))
        elif roll < 0.06:
            steps.append(("burst", tuple(key() for _ in range(rng.randint(2, 6)))))
        elif roll < 0.12:
            steps.append(("palette", rng.choice(PALETTE)))
        elif roll < 0.16 and typed:
            steps.append(("type", rng.choice(typed)))
        elif roll < 0.19:
            steps.append(("resize", rng.choice(SIZES)))
        else:
            steps.append(key())
    return steps


async def take(pilot, step: Step) -> None:
    """Do one step as a user would."""
    if isinstance(step, str):
        await pilot.press(step)
        return
    what, value = step
    if what == "burst":
        send_raw(
            pilot.app, value
        )  # as a terminal sends them, no waiting: the app and its workers fall behind
        await pilot.pause()
    elif what == "edit":
        characters, end = value
        send_raw(pilot.app, ["e", *characters, *([end] if end else [])])
        await pilot.pause()
    elif what == "palette":
        await pilot.press("ctrl+p")
        await quiet(pilot)
        await pilot.press(*value)
        await quiet(pilot)
        await pilot.press("enter")
    elif what == "type":
        await pilot.press(*value, "enter")
    elif what == "resize":
        await pilot.resize_terminal(*value)


def _state(app):
    screen = app.explorer
    return (screen.snapshot, screen.sentence.value)


def _greyed(app, key: str) -> bool | None:
    """Whether the key's action is greyed now; None when the key does not map to a checked action."""
    screen = app.explorer
    if screen.editing or app.screen is not screen or key not in CHANGES:
        return None
    action = CHANGES[key]
    if action == "clear_masks":  # a key of the token cells: it reaches them only when they have focus
        tokens = screen.active.tokens
        return None if app.focused is not tokens else tokens.check_action(action, ()) is not True
    return screen.check_action(action, ()) is not True


def edit_violations(app, before: tuple, step: Step, editing: bool, draft: str | None) -> list[str]:
    """After an ("edit", …) burst from the cells: every character typed after ``e`` is in the box, in
    order; enter applied them (or, for text no model can read, left them in the box), escape put the
    session's text back. (From inside the box or a prompt, the burst's ``e`` is only a character.)"""
    if not isinstance(step, tuple) or step[0] != "edit" or editing or app.screen is not app.explorer:
        return []
    characters, end = step[1]
    snapshot, screen = before[0], app.explorer
    if snapshot is None:
        return []
    typed = (snapshot.text if draft is None else draft) + characters
    now = screen.snapshot
    if end == "enter":
        if now.text != typed and now.text != snapshot.text:  # not applied (bad text) leaves it as it was
            return [f"e, {characters!r}, enter gave {now.text!r}, not {typed!r}"]
        if now.text == snapshot.text and typed != snapshot.text and screen.sentence.value != typed:
            return [f"e, {characters!r}, enter: the box holds {screen.sentence.value!r}, not {typed!r}"]
    elif end == "escape":
        if now != snapshot or screen.sentence.value != snapshot.text:
            return [f"e, {characters!r}, escape changed the text to {now.text!r} / {screen.sentence.value!r}"]
    elif screen.sentence.value != typed or not screen.editing:
        return [f"e, {characters!r}: the box holds {screen.sentence.value!r}, not {typed!r}"]
    return []


async def quiet(pilot) -> None:
    """Like ``settle``, but one pause when nothing is left running (thousands of keys add up)."""
    app = pilot.app
    for _ in range(5):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            return


async def run_keys(make, keys: list[Step]) -> tuple[int, list[str]] | None:
    """Take ``keys``; returns (index, violations) of the first step after which the invariants broke.

    At the end ``q`` must quit with status 0 (after escape has closed any prompt).
    """
    app = make()
    done = [0]
    try:
        return await _run_keys(app, keys, done)
    except Exception as exc:  # a crash inside the app surfaces here, or when the test leaves it
        return done[0], [f"the app crashed: {type(exc).__name__}: {exc}"]


async def _run_keys(app, keys: list[Step], done: list[int]) -> tuple[int, list[str]] | None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for index, key in enumerate(keys):
            done[0] = index
            greyed = _greyed(app, key) if isinstance(key, str) else None
            before = _state(app)
            editing = app.screen is not app.explorer or app.explorer.editing
            draft = app.explorer._draft  # text that could not be applied: `e` brings it back
            observed = observe(app)
            await take(pilot, key)
            await quiet(pilot)
            found = step_violations(app, observed, key) + edit_violations(app, before, key, editing, draft)
            if found:
                return index, found
            found = violations(app)
            if greyed is not None:
                changed = _state(app) != before
                if greyed and changed:
                    found.append(f"{key!r} was greyed in the footer but changed the state")
                if not greyed and not changed:
                    found.append(f"{key!r} was enabled in the footer but did nothing")
            if found:
                return index, found
            if index % 1000 == 999 and len(keys) > 1000:  # a long run says how far it got (pytest -s)
                print(f"{index + 1} keys, invariants hold", flush=True)
        for _ in range(3):
            if app.screen is app.explorer and not app.explorer.editing:
                break
            await pilot.press("escape")
            await quiet(pilot)
        await pilot.press("q")
        await pilot.pause()
        if app.return_code != 0:
            return len(keys), [f"q quit with status {app.return_code}, not 0"]
    return None


async def shortest_failing(make, keys: list[str], budget: float = 90.0) -> list[str]:
    """Delta debugging: drop chunks of keys while the run still fails (for at most ``budget`` seconds)."""
    deadline = time.monotonic() + budget
    chunk = max(1, len(keys) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        start = 0
        while start < len(keys) and time.monotonic() < deadline:
            trial = keys[:start] + keys[start + chunk :]
            if trial and await run_keys(make, trial) is not None:
                keys = trial
            else:
                start += chunk
        chunk //= 2
    return keys


async def check_seed(make, seed: int, count: int, **stream) -> None:
    keys = key_stream(seed, count, **stream)
    failure = await run_keys(make, keys)
    if failure is None:
        return
    index, found = failure
    keys = await shortest_failing(make, keys[: index + 1])
    pytest.fail(f"seed {seed}: after {keys} the screen disagrees (first seen as: {found})")


def fake_app():
    engine = FakeEngine()  # with an index: n lists the nearest contexts, enter opens one, escape returns
    return make_app(TEXT, loader=instant_loader(engine), index=FakeIndex(engine))


def compare_app():
    engine = FakeEngine()
    return make_app(
        TEXT,
        compare=EngineOptions(model="other"),
        loader=instant_loader(engine),
        index=FakeIndex(engine),
        compare_loader=instant_loader(FakeEngine(name="other", split=4, salt="o", mask_token="<mask>")),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_keys_with_a_fake_engine(seed, random_keys):
    await check_seed(fake_app, seed, random_keys or 200)


@pytest.mark.parametrize("seed", [4, 5])
async def test_random_keys_with_two_panes(seed, random_keys):
    await check_seed(compare_app, seed, random_keys or 150)


def fake_factory():
    """Models by name for the palette's model picker; any other name fails to load, as a typo would."""
    engines = {
        "fake-bert": FakeEngine(),
        "other": FakeEngine(name="other", split=4, salt="o", mask_token="<mask>"),
        "same": FakeEngine(name="same", salt="s"),
    }

    def factory(options: EngineOptions):
        if options.model in engines:
            return instant_loader(engines[options.model])
        return failing_loader(f"no such model folder: {options.model}")

    return factory


@pytest.mark.parametrize("seed", [7, 8])
async def test_random_keys_through_the_palette_prompts_bursts_and_resizes(seed, random_keys):
    def app():
        return make_app(
            TEXT,
            options=EngineOptions(model="fake-bert"),
            loader_factory=fake_factory(),
            index=FakeIndex(FakeEngine()),
        )

    typed = ("other", "same", "nosuchmodel", "capital, city", "home")
    await check_seed(app, seed, random_keys or 150, typed=typed, extra=True)


async def test_random_keys_on_the_bundled_model(bundled_engine, random_keys):
    def factory(options: EngineOptions):
        if options.model == BUNDLED_MODEL:
            return instant_loader(bundled_engine)
        return failing_loader(f"no such model folder: {options.model}")

    def app():
        return make_app(TEXT, options=EngineOptions(model=BUNDLED_MODEL), loader_factory=factory)

    typed = (BUNDLED_MODEL, "minlm-mlm-en", "table, desk")
    await check_seed(app, 9, random_keys or 100, typed=typed, extra=True)


async def test_random_keys_with_a_tiny_real_model(bert_dir, random_keys):
    def real_app():
        return make_app(TEXT, options=EngineOptions(model=str(bert_dir)))

    await check_seed(real_app, 6, random_keys or 100)


@pytest.mark.parametrize("seed", [10, 11])
async def test_random_keys_and_edit_bursts_while_the_model_loads(seed, random_keys):
    """Keys while the model loads (edit bursts among them): once it is ready, what was typed and left
    is what it reads, what is still being typed stays in the box, and the invariants hold."""
    release = threading.Event()

    def load(progress):
        progress("importing torch and transformers")
        release.wait(60)
        return FakeEngine()

    keys = key_stream(seed, random_keys or 60)
    cut = random.Random(seed).randint(len(keys) // 2, len(keys))
    app = make_app(TEXT, loader=load)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for step in keys[:cut]:
                await take(pilot, step)
                await pilot.pause()
            screen = app.explorer
            editing, box = screen.editing, screen.sentence.value
            release.set()
            await settle(pilot)
            found = violations(app)
            if editing:
                if not screen.editing or screen.sentence.value != box:
                    found.append(
                        f"the box held {box!r} being typed; after the load {screen.sentence.value!r}"
                    )
            elif box.strip() and (screen.snapshot is None or screen.snapshot.text != box):
                found.append(f"{box!r} was typed and left, but the model reads {screen.snapshot}")
            assert not found, f"seed {seed}, after {keys[:cut]}: {found}"
    finally:
        release.set()
