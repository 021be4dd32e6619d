"""Random keys, as a curious user would press them: the invariants must hold after every one.

A bounded run is part of the suite; a long one runs with ``--random-keys N`` (see the README).
On failure the test prints the seed and the shortest key sequence it found that still fails.
"""

from __future__ import annotations

import contextlib
import random
import time

import pytest
from fakes import FakeEngine, instant_loader, settle
from invariants import violations
from textual.worker import WorkerCancelled, WorkerState

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions

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
    "G",
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
]
TYPED = list("abcdefghijklmnoprstuvwxyz .,") + ["[", "M", "A", "S", "K", "]"]  # no q: it quits
# state-changing actions whose key must do something when enabled and nothing when greyed
CHANGES = {"u": "undo", "U": "redo", "ctrl+r": "redo", "c": "clear_masks"}


# the keys that change state come up more often, so short runs reach deep states
WEIGHTS = {"m": 4, "e": 4, "tab": 3, "enter": 3, "u": 3, "U": 2, "s": 2, "M": 2, "escape": 3, "f": 2, "a": 2}


def key_stream(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    weights = [WEIGHTS.get(k, 1) for k in APP_KEYS]
    return [
        rng.choices(APP_KEYS, weights)[0] if rng.random() < 0.7 else rng.choice(TYPED) for _ in range(count)
    ]


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


async def quiet(pilot) -> None:
    """Like ``settle``, but one pause when nothing is left running (thousands of keys add up)."""
    app = pilot.app
    for _ in range(5):
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers):
            return


async def run_keys(make, keys: list[str]) -> tuple[int, list[str]] | None:
    """Press ``keys``; returns (index, violations) of the first key after which the invariants broke."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for index, key in enumerate(keys):
            greyed = _greyed(app, key)
            before = _state(app)
            await pilot.press(key)
            await quiet(pilot)
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


async def check_seed(make, seed: int, count: int) -> None:
    keys = key_stream(seed, count)
    failure = await run_keys(make, keys)
    if failure is None:
        return
    index, found = failure
    keys = await shortest_failing(make, keys[: index + 1])
    pytest.fail(f"seed {seed}: after {keys} the screen disagrees (first seen as: {found})")


def fake_app():
    return make_app(TEXT, loader=instant_loader(FakeEngine()))


def compare_app():
    return make_app(
        TEXT,
        compare=EngineOptions(model="other"),
        loader=instant_loader(FakeEngine()),
        compare_loader=instant_loader(FakeEngine(name="other", split=4, salt="o", mask_token="<mask>")),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_keys_with_a_fake_engine(seed, random_keys):
    await check_seed(fake_app, seed, random_keys or 200)


@pytest.mark.parametrize("seed", [4, 5])
async def test_random_keys_with_two_panes(seed, random_keys):
    await check_seed(compare_app, seed, random_keys or 150)


async def test_random_keys_with_a_tiny_real_model(bert_dir, random_keys):
    def real_app():
        return make_app(TEXT, options=EngineOptions(model=str(bert_dir)))

    await check_seed(real_app, 6, random_keys or 100)
