"""Random keys and palette commands with a probe set's results screen open (issue 24, item 16).

The explorer stays under the results screen: whatever is pressed or chosen from the palette while
another screen is on top, the explorer (its text, masks, history, sentence box and session journal)
changes only when ``enter`` opens an item. After every step the results screen's invariants
(``test_app_results``) and the explorer's (``invariants.py``) must hold; at the end ``q`` quits with 0.
"""

from __future__ import annotations

import random

import pytest
from fakes import FakeEngine, instant_loader, settle
from invariants import observe, step_violations, violations
from test_app_results import RESULT_KEYS, _results_violations, cloze_set, filled
from test_app_results import TYPED as SEARCH_TYPED
from test_random_keys import PALETTE as EXPLORER_PALETTE
from test_random_keys import SIZE, TEXT, Step, fake_factory, quiet, take

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.journal import Journal

PALETTE = [
    *EXPLORER_PALETTE,
    "Mask the selected token",
    "Edit the sentence",
    "Substitute the prediction",
    "Redo",
    "Sort the items",
    "Reverse the order",
    "Next group",
    "Hits or misses",
    "Search the items",
    "Export the results",
    "Back to the explorer",
]


def key_stream(seed: int, count: int) -> list[Step]:
    """The results screen's keys, what is typed into its search box, and palette commands (often)."""
    rng = random.Random(seed)
    steps: list[Step] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.35:
            steps.append(("palette", rng.choice(PALETTE)))
        elif roll < 0.45:
            steps.append(rng.choice(SEARCH_TYPED))
        else:
            steps.append(rng.choice(RESULT_KEYS))
    return steps


def _explorer_state(app, journal: Journal) -> tuple:
    screen = app.explorer
    written = journal.path.read_bytes() if journal.path is not None else b""
    return (screen.snapshot, screen.history.past, screen.history.future, screen.sentence.value, written)


async def run_steps(tmp_path, steps: list[Step]) -> tuple[int, list[str]] | None:
    """Take ``steps``; (index, violations) of the first step after which something disagrees."""
    journal = Journal.start(["fake-bert"], top_k=10, directory=tmp_path / "sessions")
    app = make_app(
        TEXT,
        options=EngineOptions(model="fake-bert"),
        loader=instant_loader(FakeEngine()),
        loader_factory=fake_factory(),
        journal=journal,
        export_dir=tmp_path / "exports",
        results=cloze_set(40),
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            await filled(pilot)
            for index, step in enumerate(steps):
                results = app.get_screen("results")
                hidden = app.screen is not app.explorer  # the explorer is under another screen
                before = _explorer_state(app, journal)
                observed = observe(app)
                searching = app.focused is not None and app.focused.id == "results-find"
                highlighted = results.highlighted_index
                opening = (
                    step == "enter"
                    and app.screen is results
                    and not searching
                    and highlighted is not None
                    and "text" in results.items[highlighted]
                )
                await take(pilot, step)
                await quiet(pilot)
                found = step_violations(app, observed, step)
                found += violations(app)
                found += _results_violations(app, results.items[highlighted] if opening else None)
                if hidden and step != "enter" and _explorer_state(app, journal) != before:
                    found.append("the explorer changed under another screen")
                if hidden and step != "enter" and app.explorer.editing and app.screen is not app.explorer:
                    found.append("the explorer is being edited under another screen")
                if found:
                    return index, found
            for _ in range(4):  # close prompts, the palette, the search box; then quit
                if app.screen is app.get_screen("results") or app.screen is app.explorer:
                    break
                await pilot.press("escape")
                await settle(pilot)
            await pilot.press("q")
            await pilot.pause()
            if app.return_code != 0:
                return len(steps), [f"q quit with status {app.return_code}, not 0 (the run was done)"]
    finally:
        journal.close()
    return None


@pytest.mark.parametrize("seed", [11, 12])
async def test_random_keys_and_palette_commands_on_the_results_screen(seed, random_keys, tmp_path):
    steps = key_stream(seed, random_keys or 30)
    failure = await run_steps(tmp_path, steps)
    if failure is not None:
        index, found = failure
        pytest.fail(f"seed {seed}: after {steps[: index + 1]} (step {index}): {found}")
