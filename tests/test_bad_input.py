"""Each finding of the random-key and bad-input probing (issue 11), kept as a regression test."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from dataclasses import replace

import pytest
from fakes import FakeEngine, blocked_loader, instant_loader, settle, until
from invariants import violations
from test_cli import ENV, assert_one_line_error, run

from mlm_tui.app import make_app
from mlm_tui.engine import EngineError, EngineOptions, MaskResult, PredictResult, ScoreResult, TokenScore
from mlm_tui.engine.model import check_vocabularies
from mlm_tui.session import Snapshot

SIZE = (100, 30)


# ---------------------------------------------------------------- models that do not fit together


def test_a_model_folder_without_tokenizer_files_is_refused(bert_dir, tmp_path):
    folder = tmp_path / "no-tokenizer"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(bert_dir / name, folder / name)
    assert_one_line_error(run("predict", "A [MASK].", "--model", str(folder)), 1, "no tokenizer files")


def test_a_tokenizer_that_does_not_fit_the_model_is_refused():
    with pytest.raises(EngineError, match="only 5 tokens for a model of 30522"):
        check_vocabularies("m", 5, 30522)  # transformers' made-up tokenizer of special tokens
    with pytest.raises(EngineError, match="30522 tokens but the model only 100"):
        check_vocabularies("m", 30522, 100)  # ids past the model's vocabulary: IndexError later
    check_vocabularies("m", 30522, 30522)


# ---------------------------------------------------------------- text and targets


def test_a_lone_surrogate_is_one_line_in_the_engine_and_the_cli(bert):
    with pytest.raises(EngineError, match="broken character at position 3"):
        bert.encode("caf\udce9 is [MASK].")
    # as a badly decoded argv gives it: bytes that are not UTF-8
    done = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"mlm_tui",
            b"predict",
            b"caf\xe9 is [MASK].",
            b"--model",
            b"bundled",
        ],
        capture_output=True,
        env=ENV,
        timeout=120,
    )
    lines = done.stderr.decode(errors="replace").strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "broken character" in lines[0]


async def test_a_lone_surrogate_in_the_app_keeps_the_text():
    app = make_app("Paris is nice.", loader=instant_loader(_SurrogateCheckingFake()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert not app.explorer.commit(Snapshot("caf\udce9 is nice."), kind="edit")
        await pilot.pause()
        assert app.explorer.snapshot.text == "Paris is nice." and not violations(app)
        assert any("broken character" in n.message for n in app._notifications)


class _SurrogateCheckingFake(FakeEngine):
    def encode(self, text):
        from mlm_tui.engine.text import check_characters

        check_characters(text)
        return super().encode(text)


def test_a_target_longer_than_the_model_reads_is_refused_before_any_work(bert_dir):
    phrase = " ".join(["word"] * 20_000)
    done = run("predict", "A [MASK].", "--model", str(bert_dir), "--targets", phrase)
    assert_one_line_error(done, 1, "tokens long", "reads at most")


@pytest.mark.parametrize(("text", "needle"), [("[MASK]", "nothing to score"), ("[CLS] [SEP]", "no tokens")])
def test_score_of_nothing_scorable_is_an_error_not_nan(bert_dir, text, needle):
    assert_one_line_error(run("score", text, "--model", str(bert_dir), "--json"), 1, needle)


def test_typed_special_tokens_are_not_words(bert):
    encoding = bert.encode("[CLS] Paris [SEP] is [MASK].")
    specials = [t.text for t in encoding.tokens if t.special]
    assert specials.count("[CLS]") == 2 and specials.count("[SEP]") == 2
    assert all(s.token not in ("[CLS]", "[SEP]") for s in bert.score(encoding).tokens)


# ---------------------------------------------------------------- screens that got stuck or crashed


class _NanEngine(FakeEngine):
    """A checkpoint whose logits are NaN: every number it gives is NaN."""

    def score(self, encoding):
        result = super().score(encoding)
        tokens = tuple(TokenScore(t.index, t.token, float("nan")) for t in result.tokens)
        return ScoreResult(text=result.text, model=result.model, tokens=tokens, elapsed_ms=1.0)

    def predict(self, encoding, masked=(), **kwargs):
        result = super().predict(encoding, masked, **kwargs)
        masks = tuple(
            MaskResult(m.position, tuple(replace(p, score=float("nan")) for p in m.predictions))
            for m in result.masks
        )
        return PredictResult(ids=result.ids, masks=masks, elapsed_ms=1.0)


async def test_nan_numbers_are_shown_never_a_crash():
    app = make_app("The keys to the cabinet.", loader=instant_loader(_NanEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", "right")
        await settle(pilot)
        pane = app.explorer.left
        assert pane.shown.kind == "scores" and "nan" in str(pane.table.get_row_at(0)[2])
        await pilot.press("m")
        await settle(pilot)
        assert pane.shown.kind == "predictions" and "nan" in str(pane.table.get_row_at(0)[2])
        assert app.is_running and not violations(app)


async def test_text_typed_while_the_model_loads_wins():
    release = threading.Event()
    app = make_app("Paris is nice.", loader=blocked_loader(release))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("e", *" Really")
            release.set()
            await settle(pilot)
            assert app.explorer.sentence.value == "Paris is nice. Really"  # still there to apply
            await pilot.press("enter")
            await settle(pilot)
            assert app.explorer.snapshot.text == "Paris is nice. Really" and not violations(app)
    finally:
        release.set()


class _FarApart(FakeEngine):
    def predict(self, encoding, masked=(), **kwargs):
        raise EngineError("the masks are 900 tokens apart but fake-bert reads at most 510 at once")


async def test_a_prediction_error_is_shown_not_predicting_forever():
    app = make_app("The keys to the cabinet.", loader=instant_loader(_FarApart()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        pane = app.explorer.left
        assert "Could not predict" in str(next(iter(pane.table.columns.values())).label)
        assert not violations(app)


@pytest.mark.parametrize("text", ["   ", "\u200b", "\x00"])
async def test_an_initial_text_without_tokens_does_not_hang_on_loading(bert_dir, text):
    app = make_app(text, options=EngineOptions(model=str(bert_dir)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        pane = app.explorer.left
        assert pane.ready and "Press e and type a sentence" in pane.tokens.plain.replace("\n", " ")
        await pilot.press("e", "ctrl+u", *"Paris is nice.", "enter")
        await settle(pilot)
        assert pane.encoding is not None and not violations(app)


async def test_emoji_byte_pieces_mask_together_and_undo_restores_exactly(roberta_dir, roberta):
    app = make_app("I like 😀 pizza", options=EngineOptions(model=str(roberta_dir), backend="torch"))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        pane = app.explorer.left
        emoji = [t.index for t in pane.encoding.tokens if (t.start, t.end) == (7, 8)]
        assert len(emoji) > 1  # the emoji is several byte pieces sharing one character
        pane.tokens.selected = emoji[0]
        await pilot.press("m")
        await settle(pilot)
        assert pane.tokens.masked == set(emoji)
        await pilot.press("right", "right", "m", "u")  # mask "pizza", then undo that
        await settle(pilot)
        assert pane.tokens.masked == set(emoji) and not violations(app)


class _BytePieces(FakeEngine):
    """Its first candidate is one byte of a character, decoded as the pipeline does: '\ufffd'."""

    def predict(self, encoding, masked=(), **kwargs):
        result = super().predict(encoding, masked, **kwargs)
        masks = tuple(
            MaskResult(m.position, (replace(m.predictions[0], token_str="\ufffd"), *m.predictions[1:]))
            for m in result.masks
        )
        return PredictResult(ids=result.ids, masks=masks, elapsed_ms=1.0)


async def test_a_partial_byte_prediction_is_not_written_into_the_text():
    app = make_app("The keys to the cabinet.", loader=instant_loader(_BytePieces()))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        before = app.explorer.snapshot
        await pilot.press("enter")  # the highlighted row is the byte piece
        await settle(pilot)
        assert app.explorer.snapshot == before
        assert any("piece of a character" in n.message for n in app._notifications)
        await pilot.press("down", "enter")  # a whole word goes in
        await settle(pilot)
        assert app.explorer.snapshot != before and not violations(app)


async def test_a_cursor_move_on_a_long_text_repaints_only_the_lines_it_touches(monkeypatch):
    from mlm_tui.widgets.token_view import TokenView

    text = " ".join(["The keys to the cabinet are on the table."] * 300)  # ~3,000 tokens
    app = make_app(text, loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        painted: list[int] = []
        original = TokenView.render_line

        def counting(self, y):
            painted.append(y)
            return original(self, y)

        monkeypatch.setattr(TokenView, "render_line", counting)
        await pilot.press("right")
        await pilot.pause()
        assert 0 < len(painted) <= 2  # the old and the new cell's lines, not the 3,000 tokens


# ---------------------------------------------------------------- the CLI's own edges


def test_a_closed_pipe_ends_quietly(bert_dir):
    command = f"{sys.executable} -m mlm_tui predict 'A [MASK].' --model {bert_dir} --json | head -c 1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, env=ENV, timeout=120)
    assert done.stdout == "[" and done.stderr == ""


@pytest.mark.parametrize("device", ["cpu:abc", "cpu:0", "mps:1x"])
def test_a_device_with_a_bad_index_is_a_usage_error(device):
    assert_one_line_error(run("predict", "A [MASK].", "--device", device), 2, "unknown device")


async def test_the_surprisal_view_of_a_long_text_builds_a_window_of_rows_once(monkeypatch):
    from mlm_tui.widgets.prediction_table import SCORE_WINDOW, PredictionTable

    text = " ".join(["The keys to the cabinet are on the table."] * 300)
    app = make_app(text, loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        pane = app.explorer.left
        assert pane.shown.kind == "scores" and pane.table.row_count <= SCORE_WINDOW
        built: list[int] = []
        original = PredictionTable.add_row
        monkeypatch.setattr(
            PredictionTable, "add_row", lambda self, *a, **k: built.append(1) or original(self, *a, **k)
        )
        await pilot.press("right", "right", "right")
        await settle(pilot)
        assert built == []  # moving inside the window only moves the cursor
        row = pane.table.get_row_at(pane.table.cursor_row)
        assert str(row[0]) == str(pane.tokens.selected) and not violations(app)


@pytest.mark.parametrize("where", ["sentence", "watched words"])
async def test_a_burst_of_keys_is_applied_in_the_order_it_was_typed(where):
    """Keys that arrive in one write (fast typing, tmux, a paste of keys): editing keys keep their place.

    Found trying it in tmux: "e", ctrl+u, then a sentence typed at once lost the sentence (ctrl+u
    deleted after the characters were inserted); "Some", two backspaces, "xy" gave "Somex".
    """
    from textual import events

    app = make_app("Paris is nice.", loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e" if where == "sentence" else "t")
        burst = ["ctrl+u", *"Some", "backspace", "backspace", "x", "y", "left", "left", "z", "end", *"!"]
        for key in burst:  # posted at once: nothing runs between them, as when a terminal sends them
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        box = app.explorer.sentence if where == "sentence" else app.screen.query_one("#watch-words")
        await until(pilot, lambda: "!" in box.value, "the last key")  # "!" is typed last
        assert box.value == "Sozxy!"
