"""Regressions from a new user's first hour (issue 17): each test failed on the code before its fix."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios

import pytest
from fakes import FakeEngine, failing_loader, instant_loader, send_raw, settle

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.journal import last_session, list_sessions, read_session
from mlm_tui.widgets.model_pane import ModelPane

TEXT = "The keys to the cabinet are on the table."
WIDE = (130, 40)


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


def two_models(second_fails: bool = False):
    engines = {
        "first": FakeEngine(name="first"),
        "second": FakeEngine(name="second", salt="2"),
        "third": FakeEngine(name="third", salt="3"),
    }

    def factory(options: EngineOptions):
        if options.model == "broken":
            return failing_loader("no such model folder: broken")
        return instant_loader(engines[options.model])

    app = make_app(
        TEXT,
        options=EngineOptions(model="first"),
        compare=EngineOptions(model="broken" if second_fails else "second"),
        loader_factory=factory,
    )
    return app, engines


# ---------------------------------------------------------------- 1. replacing the second model


async def _replace_second(pilot, model: str) -> None:
    app = pilot.app
    app.explorer.action_compare()
    await pilot.pause()
    await pilot.press(*model, "enter")
    await settle(pilot)


async def test_replacing_the_second_model_does_not_crash():
    app, engines = two_models()
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        await _replace_second(pilot, "third")
        assert app.return_code is None  # still running, not crashed
        right = app.explorer.right
        assert right is not None and right.engine is engines["third"]
        assert len(app.explorer.query(ModelPane)) == 2
        assert right.tokens.all_masks  # the new pane starts on the session's masks
        await _replace_second(pilot, "second")  # and again
        assert app.return_code is None and app.explorer.right.engine is engines["second"]


async def test_replacing_a_second_model_that_failed_to_load():
    app, engines = two_models(second_fails=True)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        assert app.explorer.right.error
        await _replace_second(pilot, "third")
        assert app.return_code is None
        assert app.explorer.right.engine is engines["third"] and not app.explorer.right.error


CRASH_AFTER_LOAD = """
import sys
from mlm_tui.screens.explorer import ExplorerScreen

def crash(self):
    raise RuntimeError("a bug in the app")

ExplorerScreen._sync_full = crash  # runs once the model has loaded (and the session is written)
from mlm_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_crash_exits_non_zero_and_the_session_is_kept(home, bert_dir):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", CRASH_AFTER_LOAD, "Paris is nice.", "--model", str(bert_dir)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    output = b""
    try:
        while process.poll() is None:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                with contextlib.suppress(OSError):
                    output += os.read(master, 65536)
        status = process.wait(120)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    assert b"a bug in the app" in output
    assert status != 0
    (session,) = list_sessions()  # the session is kept (only opened: --resume goes to an earlier one)
    assert read_session(session.path).current.text == "Paris is nice."


# ---------------------------------------------------------------- 2. enter applies the highlighted, best row


async def test_fills_view_opens_on_the_best_fill_and_enter_applies_it():
    engine = FakeEngine()
    app = make_app("The [MASK] barked at the [MASK].", loader=instant_loader(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f", "right_square_bracket", "right_square_bracket", "f", "f")
        await settle(pilot)
        left = app.explorer.left
        assert left.shown.kind == "fills" and left.table.cursor_row == 0
        best = engine.joint_fill(left.encoding, []).fills[0]
        await pilot.press("enter")
        await settle(pilot)
        assert app.explorer.snapshot.text == best.sequence


async def test_predictions_of_another_mask_open_on_the_first_row():
    engine = FakeEngine()
    app = make_app("The [MASK] barked at the [MASK].", loader=instant_loader(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        left = app.explorer.left
        first, second = left.tokens.all_masks
        left.tokens.selected = first
        await settle(pilot)
        await pilot.press("down", "down")
        assert left.shown.mask == first
        assert left.table.cursor_row == 2
        await pilot.press("plus")  # more rows of the same mask: the highlight stays
        await settle(pilot)
        assert left.table.cursor_row == 2
        left.tokens.selected = second
        await settle(pilot)
        assert left.shown.mask == second and left.table.cursor_row == 0
        best = left.predictions.for_position(second).predictions[0].token_str
        await pilot.press("enter")
        await settle(pilot)
        assert app.explorer.snapshot.text == f"The [MASK] barked at the {best}."


# ---------------------------------------------------------------- 3. an edit keeps the masks it did not touch


def masked_words(app) -> list[str]:
    snapshot = app.explorer.snapshot
    return sorted(snapshot.text[a:b] for a, b in snapshot.masked_spans)


async def test_an_edit_keeps_the_masks_it_did_not_touch_and_says_when_it_drops_one():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "m", "end", "m")  # "keys" and the full stop
        await settle(pilot)
        assert masked_words(app) == [".", "keys"]
        await pilot.press("e", *" Really.", "enter")
        await settle(pilot)
        assert app.explorer.snapshot.text == TEXT + " Really."
        assert masked_words(app) == [".", "keys"]
        assert app.explorer.status.masks == 2 and len(app.explorer.left.tokens.masked) == 2
        assert not any("removed" in n.message for n in app._notifications)
        # an edit before a mask moves it; one inside a mask drops only that one, and says so
        await pilot.press("e", "home", *"Oh, ", "enter")
        await settle(pilot)
        assert masked_words(app) == [".", "keys"]
        await pilot.press("e", "home", *["right"] * 12, "backspace", "enter")  # "keys" -> "key"
        await settle(pilot)
        assert app.explorer.snapshot.text.startswith("Oh, The key to")
        assert masked_words(app) == ["."]
        assert any("1 mask removed" in n.message for n in app._notifications)
        await pilot.press("u")
        await settle(pilot)
        assert masked_words(app) == [".", "keys"]


# ---------------------------------------------------------------- 4. a joint fill over a split word


async def test_a_joint_fill_over_a_split_word_puts_in_the_text_the_table_shows(bundled_engine):
    text = "The soup was unbelievably good."
    encoding = bundled_engine.encode(text)
    pieces = [t.text for t in encoding.tokens if t.word == encoding.tokens[4].word]
    assert len(pieces) >= 3 and pieces[0] == "un"  # the word is split into pieces
    app = make_app(text, loader=instant_loader(bundled_engine))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press(*["right"] * 3, "M", "f")
        await settle(pilot)
        left = app.explorer.left
        assert left.shown.kind == "fills"
        fills = bundled_engine.joint_fill(left.encoding, sorted(left.tokens.masked), beam=left.beam).fills
        for row in range(3):
            # the sentence column shows the tokenizer's decoding; the text must read the same (uncased model)
            assert str(left.table.get_row_at(row)[3]) == fills[row].sequence
            await pilot.press(*["down"] * row, "enter")
            await settle(pilot)
            assert app.explorer.snapshot.text.lower() == fills[row].sequence
            await pilot.press("u", "f")
            await settle(pilot)
        # the replay's enter applies the best fill
        await pilot.press("right_square_bracket", "right_square_bracket", "enter")
        await settle(pilot)
        assert app.explorer.snapshot.text.lower() == fills[0].sequence


# ---------------------------------------------------------------- 5 and 12. numbers a reader can use


def test_predict_targets_say_what_a_rank_of_several_pieces_means(capsys, bundled_engine):
    from mlm_tui.cli import main

    args = ["predict", "He works as a [MASK].", "--targets", "nurse,unbelievably"]
    assert main([*args, "--model", "minilm-mlm-en", "--backend", "torch"]) == 0
    out = capsys.readouterr().out
    targets = bundled_engine.predict(
        bundled_engine.encode("He works as a [MASK]."), targets=["nurse", "unbelievably"]
    )
    nurse, long = targets.masks[0].targets
    assert len(long.pieces) > 1 and long.rank > bundled_engine.info.vocab_size  # below every single token
    lines = out.splitlines()
    assert any(line.split()[:2] == [str(nurse.rank), "nurse"] for line in lines)
    assert any(line.split()[:2] == [f"{long.rank}*", "unbelievably"] for line in lines)
    assert "* a word of several pieces: its rank is 1 + the single tokens more probable" in out
    assert "0.0000%" not in out
    markdown_args = [*args, "--markdown", "--model", "minilm-mlm-en", "--backend", "torch"]
    assert main(markdown_args) == 0
    markdown = capsys.readouterr().out
    assert f"{long.log_prob:.3f}" in markdown and repr(long.log_prob) not in markdown


# ---------------------------------------------------------------- 6 and 9. text that fits and is true


async def test_a_second_model_that_failed_says_so_everywhere():
    app, _engines = two_models(second_fails=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        screen = app.explorer
        line = screen.comparison.line
        assert "could not be loaded" in line and "waiting" not in line.lower()
        message = next(str(c.label) for c in screen.right.table.columns.values())
        assert "quit" not in message and "Replace the second model" in message
        status = str(screen.status.render())
        assert "k 10" in status and "masks 1" in status and not status.endswith("…")
        assert "broken · not loaded" in status and len(status) <= 80


def status_fields(app) -> str:
    return str(app.explorer.status.render())


async def test_the_status_bar_fits_and_drops_the_least_useful_fields_first():
    long_name = FakeEngine(name="a-model-with-a-rather-long-name-for-the-status-bar")
    app = make_app(TEXT, loader=instant_loader(long_name), options=EngineOptions(model="x"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("right", "m", "s")
        await settle(pilot)
        status = status_fields(app)
        assert len(status) <= 80 and "masks 1" in status and "PPPL" in status
    app, _ = two_models()
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("right", "m", "s")
        await settle(pilot)
        status = status_fields(app)
        assert len(status) <= 130 and "masks 1" in status and "PPPL" in status and "top-k 10" in status


async def test_comparison_line_is_about_the_selected_token_and_the_latency_agrees():
    app, _ = two_models()
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        screen = app.explorer
        assert screen.comparison.line.startswith("mask 1")
        await pilot.press("right")  # an unmasked token: its own view, not mask 1's comparison
        await settle(pilot)
        assert screen.left.shown.kind == "unmasked"
        assert "mask 1" not in screen.comparison.line
        # the status bar's latency is the one the table's title shows
        assert f"{screen.left.panel.elapsed_ms:.0f} ms" in screen.left.panel.border_title
        assert f"{screen.left.panel.elapsed_ms:.0f} ms" in status_fields(app)


async def test_surprisal_on_a_mask_says_where_the_scores_are():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "m", "s")
        await settle(pilot)
        assert app.explorer.left.shown.kind == "predictions" and app.explorer.left.tokens.surprisal
        assert any("select an unmasked token" in n.message for n in app._notifications)


# ---------------------------------------------------------------- 7. key overrides, help and the manual


def test_the_manual_lists_every_binding_id():
    """The config page's table of binding ids (the README links to it) is the app's bindings, id for id."""
    from pathlib import Path

    from mlm_tui.app import MlmApp
    from mlm_tui.screens.help import keys_markdown

    root = Path(__file__).parent.parent
    page = (root / "docs" / "sessions.md").read_text()
    assert "docs/sessions.md#config-file" in (root / "README.md").read_text()
    start = page.index("<!-- binding ids:")
    table = page[page.index("\n", start) + 1 : page.index("<!-- end of binding ids -->")]
    assert table == keys_markdown(MlmApp.all_bindings())
    ids = {b.id for b in MlmApp.all_bindings() if b.id}
    assert {line.split("`")[1] for line in table.splitlines()[2:]} == ids


async def test_a_key_override_is_applied_everywhere():
    from mlm_tui.config import Config

    config = Config(keys={"mask": "x", "export": "ctrl+e", "nonsense": "y"})  # x is export's by default
    app = make_app(TEXT, loader=instant_loader(FakeEngine()), config=config)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "x")
        await settle(pilot)
        assert masked_words(app) == ["keys"]
        await pilot.press("right", "space")  # replaced by x: space no longer masks
        await settle(pilot)
        assert masked_words(app) == ["keys"]
        unknown = next(n.message for n in app._notifications if "nonsense" in n.message)
        assert unknown.startswith("config [keys]: no action called nonsense")
        await pilot.press("question_mark")
        await pilot.pause()
        shown = str(app.screen.query_one("#keys").render())
        line = next(row for row in shown.splitlines() if "Mask or unmask the selected token" in row)
        assert line.split()[0] == "x" and "space" not in line


# ---------------------------------------------------------------- 8. escape closes the views; a and f switch


async def test_escape_closes_the_fills_replay_and_attention_views():
    app = make_app("The [MASK] barked at the [MASK].", loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)  # it opens on the first mask (issue 25, item 4)
        await settle(pilot)
        left = app.explorer.left
        for keys in (["f"], ["f", "right_square_bracket"], ["a"]):
            await pilot.press(*keys)
            await settle(pilot)
            assert left.shown.kind != "predictions"
            await pilot.press("escape")
            await settle(pilot)
            assert left.shown.kind == "predictions", keys
            assert not left.fills.on and not app.explorer.show_attention
        # a in the fills view shows the attention (nothing changes out of sight), f in it the fills
        await pilot.press("f", "a")
        await settle(pilot)
        assert left.shown.kind == "attention" and not left.fills.on
        await pilot.press("f")
        await settle(pilot)
        assert left.shown.kind == "fills" and not app.explorer.show_attention


# ---------------------------------------------------------------- 10. the session names the model that ran


async def test_the_session_names_the_model_that_answered(home, monkeypatch):
    from mlm_tui.engine import loading
    from mlm_tui.journal import Journal, read_session

    # online with the default not cached, only the load can tell (the Hub does not answer) that the
    # bundled model stands in; offline the name is right from the start (test_shown_names.py)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "_cached_snapshot", lambda repo_id: None)
    journal = Journal.start([EngineOptions().label], top_k=10)  # no --model: the default is asked for
    app = make_app(TEXT, loader=instant_loader(FakeEngine(name="minilm-mlm-en")), journal=journal)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
    journal.close()
    state = read_session(journal.path)
    assert EngineOptions().label != "minilm-mlm-en" and state.models == ("minilm-mlm-en",)
    assert state.done == 0 and last_session() is None  # nothing done: not a session to resume


# ---------------------------------------------------------------- 11. the first run says why it is slow


def test_the_first_predict_says_it_exports_to_onnx(bert_dir, tmp_path, monkeypatch, capsys):
    from mlm_tui.cli import main

    monkeypatch.setenv("MLM_TUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # as in a terminal
    args = ["predict", "Paris is the [MASK] of France.", "--model", str(bert_dir)]
    assert main(args) == 0
    first = capsys.readouterr().err
    assert "exporting" in first and "ONNX" in first
    assert main(args) == 0
    assert "exporting" not in capsys.readouterr().err  # cached: nothing to say


# ---------------------------------------------------------------- 12. command-line details


def test_usage_errors_exit_2_and_a_typo_of_the_bundled_name_is_caught(capsys):
    from mlm_tui.cli import main

    assert main(["score", "--model", "minilm-mlm-en"]) == 2  # no text
    assert "give the TEXT" in capsys.readouterr().err
    assert main(["predict", "a [MASK]", "--model", "minlm-mlm-en"]) == 1
    err = capsys.readouterr().err
    assert "did you mean the bundled minilm-mlm-en" in err and "hf download" not in err


async def test_more_and_fewer_undo_each_other():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.explorer
        seen = [screen.top_k]
        for key in ("minus", "plus", "plus", "minus", "minus", "minus", "plus", "plus"):
            await pilot.press(key)
            seen.append(screen.top_k)
        assert seen == [10, 9, 10, 15, 10, 9, 8, 9, 10]
        for k in range(1, 100):  # from any k on the steps' grid, one + then one - comes back
            if k < 10 or k % 5 == 0:
                screen.top_k = k
                screen.action_top_k(1)
                screen.action_top_k(-1)
                assert screen.top_k == k


def test_config_show_without_a_file_prints_the_defaults_in_effect(home, capsys):
    from mlm_tui.cli import main

    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    for line in ("# top_k = 10", '# device = "cpu"', '# backend = "auto"', "# fast = false"):
        assert line in out


def test_the_manuals_example_of_a_word_in_pieces_is_true_for_the_bundled_model(bundled_engine):
    from pathlib import Path

    cli_page = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    assert "(`giraffe` → `gi ##raf ##fe` in the bundled model)" in cli_page
    pieces = [bundled_engine.text.id_to_piece(i) for i in bundled_engine.text.pieces("giraffe")]
    assert pieces == ["gi", "##raf", "##fe"]


# ---------------------------------------------------------------- 13. the bundled model loads as float32 anywhere


def test_the_bundled_model_loads_as_float32_with_plain_transformers(bundled_engine):
    import torch
    from transformers import pipeline

    from mlm_tui.engine import bundled_models

    folder = bundled_models()["minilm-mlm-en"]
    fill = pipeline("fill-mask", model=str(folder), device="cpu")
    assert fill.model.dtype == torch.float32
    text = "Paris is the [MASK] of France."
    theirs = fill(text, top_k=5)
    ours = bundled_engine.predict(bundled_engine.encode(text), top_k=5).masks[0].predictions
    assert [p["token"] for p in theirs] == [p.token for p in ours]
    assert max(abs(p["score"] - q.score) for p, q in zip(theirs, ours, strict=True)) < 1e-5


# ---------------------------------------------------------------- found while trying it: a fast enter in the palette


async def test_keys_typed_fast_through_the_palette_do_not_crash():
    app, _engines = two_models()
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        # as a terminal sends them, with no waiting: the second enter reaches the palette while it closes
        send_raw(app, [*"Replace the second", "enter", *"third", "enter"])
        await settle(pilot)
        assert app.return_code is None and app.is_running
        # and every key reached the screen that was on top when it was typed (issue 24): the
        # palette's command opened the picker before "third" was handed out
        assert app.explorer.right is not None and app.explorer.right.label == "third"


async def test_the_attention_title_of_a_mask_names_it():
    app = make_app("The [MASK] barked.", loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("a")  # it opens on the mask (issue 25, item 4)
        await settle(pilot)
        left = app.explorer.left
        assert left.shown.kind == "attention"
        shown = left.panel._border_title.plain  # what the box draws: "[MASK]" is text, not markup
        assert shown.startswith("Attention from '[MASK]' (token 2)")


def test_the_served_page_focuses_the_terminal_on_load(tmp_path):
    from mlm_tui.serve import FOCUS_ON_LOAD, page_templates

    page = (page_templates(tmp_path) / "app_index.html").read_text()
    assert page.count(FOCUS_ON_LOAD) == 1 and page.index(FOCUS_ON_LOAD) < page.index("</body>")
    assert 'id="terminal"' in page  # still textual-serve's page


async def test_help_lines_fit_the_box_at_80_columns():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        keys = app.screen.query_one("#keys")
        lines = keys.render().plain.splitlines()
        lines = lines[lines.index("") :]  # the keys, after the introduction (a paragraph that wraps)
        assert max(len(line) for line in lines) <= keys.content_region.width  # nothing wraps to column 0
        assert any(line.startswith(" " * 22) for line in lines)  # a long description wraps under itself
