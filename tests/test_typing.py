"""Issue 24, item 1: every key typed after `e` lands in the sentence box, in order, whatever the timing.

Keys are sent as a terminal sends a burst or a paste: all at once, no waiting between them (Pilot's
``press`` waits for the app after every key, which hides the defect). The same bursts go through a
real pseudo-terminal too, with the real app and model, while the model loads and once it has.
"""

from __future__ import annotations

import threading

import pytest
from fakes import FakeEngine, blocked_loader, instant_loader, send_raw, settle
from test_app_persist import Terminal, entries, wait_for

from mlm_tui.app import make_app

SIZE = (100, 30)
TEXT = "Paris is the capital of France."


async def test_a_burst_right_after_e_lands_in_the_box_and_enter_applies_it():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_raw(app, ["e", *" It rains.", "enter"])
        await settle(pilot)
        screen = app.explorer
        assert screen.snapshot.text == TEXT + " It rains."
        assert screen.sentence.value == TEXT + " It rains."
        assert app.focused is screen.active.tokens  # enter left the box


async def test_keys_after_enter_in_the_same_burst_reach_the_cells():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_raw(app, ["e", *" It rains.", "enter", "m"])
        await settle(pilot)
        screen = app.explorer
        assert screen.snapshot.text == TEXT + " It rains."  # no "m" typed into the box
        tokens = screen.active.tokens
        assert tokens.masked == {tokens.selected}  # the burst's m masked the selected token


async def test_keys_after_escape_in_the_same_burst_reach_the_cells():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_raw(app, ["e", *"xyz", "escape", "m"])
        await settle(pilot)
        screen = app.explorer
        assert screen.snapshot.text == TEXT and screen.sentence.value == TEXT
        tokens = screen.active.tokens
        assert tokens.masked == {tokens.selected}


async def test_a_sentence_typed_and_entered_while_the_model_loads_is_what_it_reads():
    release = threading.Event()
    app = make_app(TEXT, loader=blocked_loader(release))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        send_raw(app, ["e", "ctrl+u", *"The dog barked.", "enter"])
        await pilot.pause()
        screen = app.explorer
        assert screen.sentence.value == "The dog barked."
        assert not screen.editing  # enter was not dropped: the box is left, its text waits for the model
        release.set()
        await settle(pilot)
        assert screen.snapshot.text == "The dog barked."
        assert screen.sentence.value == "The dog barked."


async def test_a_sentence_still_being_typed_when_the_model_loads_stays_in_the_box():
    release = threading.Event()
    app = make_app(TEXT, loader=blocked_loader(release))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        send_raw(app, ["e", "ctrl+u", *"The dog"])
        release.set()
        send_raw(app, [*" barked."])
        await settle(pilot)
        screen = app.explorer
        assert screen.editing and screen.sentence.value == "The dog barked."
        assert screen.snapshot.text == TEXT  # not applied until enter
        send_raw(app, ["enter"])
        await settle(pilot)
        assert screen.snapshot.text == "The dog barked."


async def test_e_typed_on_the_first_frame_keeps_the_focus_in_the_box():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        send_raw(app, ["e", *"abc"])  # before anything has settled
        await settle(pilot)
        assert app.explorer.editing
        assert app.explorer.sentence.value == TEXT + "abc"


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


def _journal(home):
    sessions = home / "xdg_state_home" / "mlm-tui" / "sessions"
    return wait_for(lambda: next(iter(sessions.glob("*.jsonl")), None) if sessions.exists() else None)


def test_a_burst_after_e_in_a_real_terminal_is_applied_whole(home, bert_dir):
    app = Terminal(TEXT, "--model", str(bert_dir))
    try:
        journal = _journal(home)
        wait_for(lambda: any(e.get("kind") == "open" for e in entries(journal)))
        app.type("e It rains.\r")  # one write, as a paste or tmux send-keys does
        edit = wait_for(lambda: [e for e in entries(journal) if e.get("kind") == "edit"], seconds=60)
        assert edit[0]["text"] == TEXT + " It rains."
    finally:
        app.kill()


def test_a_sentence_typed_in_a_real_terminal_while_the_model_loads_is_what_it_opens_with(home, bert_dir):
    app = Terminal(TEXT, "--model", str(bert_dir))
    try:
        wait_for(lambda: "Sentence" in app.text)  # the first frame: the model is still loading
        app.type("e\x15The dog barked.\r")  # e, ctrl+u, the sentence, enter
        journal = _journal(home)
        wait_for(lambda: any(e.get("text") == "The dog barked." for e in entries(journal)), seconds=60)
    finally:
        app.kill()


async def test_a_paste_right_after_e_lands_in_the_box():
    from textual import events

    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        send_raw(app, ["e"])
        paste = events.Paste(" It rains.")
        paste.set_sender(app)
        app._driver.send_message(paste)  # as the terminal sends it, behind the e
        send_raw(app, ["enter"])
        await settle(pilot)
        assert app.explorer.snapshot.text == TEXT + " It rains."
