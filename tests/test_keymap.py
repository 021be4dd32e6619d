"""``[keys]`` overrides that clash or name no action (issue 24, item 19): said, and no action is lost."""

from __future__ import annotations

import os
import subprocess
import sys

from fakes import FakeEngine, instant_loader, settle
from textual.binding import Binding

from mlm_tui.app import make_app
from mlm_tui.config import Config
from mlm_tui.keymap import check_keymap

# the issue's file: two actions on m, Textual's own quit on ctrl+q, and a typo
ISSUE = {"mask": "m,ctrl+q", "edit": "m", "maskk": "z"}

# a small app of our own: cells (a widget) inside a screen, and a table beside the cells
CELLS = [Binding("m,space", "toggle", "Mask", id="mask"), Binding("h", "move(-1)", "Prev")]
SCREEN = [Binding("e", "edit", "Edit", id="edit"), Binding("x", "export", "Export", id="export")]
TABLE = [Binding("enter", "select", "Select")]
CONTEXTS = {"the cells": [*CELLS, *SCREEN], "the table": [*TABLE, *SCREEN]}


def test_overrides_on_free_keys_are_applied():
    checked = check_keymap({"mask": "z,m", "export": "ctrl+e"}, CONTEXTS)
    assert checked.keymap == {"mask": "z,m", "export": "ctrl+e"} and checked.problems == ()


def test_two_actions_on_one_key_both_keep_their_defaults():
    checked = check_keymap({"mask": "m,ctrl+q", "edit": "m", "export": "ctrl+e"}, CONTEXTS)
    assert checked.keymap == {"export": "ctrl+e"}  # the rest still applies
    (problem,) = checked.problems
    assert (
        "edit and mask are both on m" in problem
        and "edit keeps e" in problem
        and "mask keeps m,space" in problem
    )


def test_a_key_another_action_has_by_default_clashes_too():
    checked = check_keymap({"mask": "x"}, CONTEXTS)  # export keeps x: mask would hide it on the cells
    assert checked.keymap == {} and checked.problems == (
        "config [keys]: mask is on x, which export already has (in the cells): mask keeps m,space",
    )
    checked = check_keymap({"edit": "h"}, CONTEXTS)  # a key of a binding without an id
    assert checked.keymap == {} and "'Prev' already has" in checked.problems[0]
    # the same key in two places never in force together is no clash
    assert check_keymap({"edit": "enter"}, {"the cells": [*CELLS, *SCREEN]}).problems == ()


def test_a_default_brought_back_can_clash_in_turn():
    # mask on x clashes with export; mask back on m then clashes with edit on m: edit keeps e too
    checked = check_keymap({"mask": "x", "edit": "m"}, CONTEXTS)
    assert checked.keymap == {} and len(checked.problems) == 2
    assert "edit is on m, which mask already has" in checked.problems[1]


def test_an_unknown_id_is_named_with_the_close_one():
    checked = check_keymap({"maskk": "z", "export": "ctrl+e"}, CONTEXTS)
    assert checked.keymap == {"export": "ctrl+e"}
    assert checked.problems == ("config [keys]: no action called maskk (did you mean mask?)",)


async def test_the_app_says_so_once_and_keeps_every_action():
    app = make_app(
        "The keys are on the table.", loader=instant_loader(FakeEngine()), config=Config(keys=ISSUE)
    )
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        notes = [n.message for n in app._notifications]
        assert len(notes) == 1  # one notification, a line a problem
        lines = notes[0].splitlines()
        assert len(lines) == 3 and "maskk" in lines[0] and "both on m" in lines[1] and "'Quit'" in lines[2]
        in_force = {key: b.binding.id for key, b in app.active_bindings.items() if b.enabled}
        assert in_force["e"] == "edit" and in_force["m"] == "mask" and in_force["space"] == "mask"
        assert app.active_bindings["ctrl+q"].binding.action == "quit"  # Textual's own, still
        await pilot.press("right", "m")  # m still masks ...
        await settle(pilot)
        assert app.explorer.snapshot.masked_spans == {(4, 8)}
        await pilot.press("e")  # ... and e still edits
        await settle(pilot)
        assert app.explorer.editing


def test_config_show_prints_each_problem_in_one_line_and_exits_1(tmp_path):
    path = tmp_path / "mlm-tui" / "config.toml"
    path.parent.mkdir()
    path.write_text('[keys]\nmask = "m,ctrl+q"\nedit = "m"\nmaskk = "z"\nundo = "ctrl+z,u"\n')
    done = subprocess.run(
        [sys.executable, "-m", "mlm_tui", "config", "show"],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
        timeout=120,
    )
    assert done.returncode == 1
    errors = done.stderr.splitlines()
    assert len(errors) == 3 and all(
        line.startswith(f"mlm-tui: error: config file {path}: [keys]") for line in errors
    )
    assert "maskk" in errors[0] and "edit and mask are both on m" in errors[1] and "ctrl+q" in errors[2]
    assert '[keys]\nundo = "ctrl+z,u"\n' in done.stdout  # what is in force: the override that applies
