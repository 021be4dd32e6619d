"""Pilot tests of the app: a fake engine for behaviour, a tiny real model for the real path."""

from __future__ import annotations

import subprocess
import sys
import threading

from fakes import FakeEngine, blocked_loader, failing_loader, instant_loader, settle

from mlm_tui.app import EXAMPLE_TEXT, MlmApp, make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.screens.explorer import ExplorerScreen
from mlm_tui.screens.help import HelpScreen
from mlm_tui.widgets.model_pane import ModelPane

SIZE = (100, 30)


def pane(app: MlmApp, which: str = "left") -> ModelPane:
    return app.explorer.query_one(f"#{which}", ModelPane)


def cells(app: MlmApp) -> list[str]:
    return [t.display for t in pane(app).encoding.tokens]


def table_tokens(app: MlmApp) -> list[str]:
    table = pane(app).table
    return [str(table.get_row_at(r)[1]) for r in range(table.row_count)]


async def test_opens_before_the_model_and_greys_out_model_keys():
    release = threading.Event()
    app = make_app(
        "Paris is the capital of France.",
        options=EngineOptions(model="fake-bert"),
        loader=blocked_loader(release),
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert pane(app).engine is None
            assert "importing torch" in pane(app).tokens.plain.replace("\n", " ")
            assert pane(app).tokens.check_action("toggle_mask", ()) is None  # shown, greyed out
            assert app.explorer.check_action("surprisal", ()) is None
            assert app.explorer.sentence.value == "Paris is the capital of France."
            await pilot.press("m")  # does nothing yet, and nothing breaks
            release.set()
            await settle(pilot)
            assert pane(app).engine is not None
            assert pane(app).tokens.check_action("toggle_mask", ()) is True
    finally:
        release.set()


async def test_default_text():
    async with make_app(loader=instant_loader()).run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pilot.app.explorer.sentence.value == EXAMPLE_TEXT
        assert cells(pilot.app)[1] == "paris"


def test_the_app_module_needs_no_torch():
    """The first frame can be drawn before torch is imported: the app imports it only in the loader."""
    code = "import sys, mlm_tui.app, mlm_tui.cli; assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_keyboard_walkthrough():
    engine = FakeEngine()
    app = make_app(loader=instant_loader(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # type a sentence
        await pilot.press("e", "ctrl+u")
        await pilot.press(*"Berlin is the capital of Germany.")
        await pilot.press("enter")
        await settle(pilot)
        assert cells(app)[1:-1] == ["berlin", "is", "the", "capital", "of", "germany", "."]
        assert app.focused is pane(app).tokens
        # move and mask
        await pilot.press("right", "right", "right")
        assert pane(app).tokens.selected == 4
        await pilot.press("m")
        await settle(pilot)
        assert pane(app).tokens.masked == {4}
        expected = [
            p.token_str for p in engine.predict(pane(app).encoding, [4], top_k=10).masks[0].predictions
        ]
        assert table_tokens(app) == expected
        assert "[MASK]" in pane(app).tokens.plain.replace("\n", " ")
        # substitute the second prediction with the keyboard
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.explorer.sentence.value == f"Berlin is the {expected[1]} of Germany."
        assert pane(app).tokens.masked == frozenset()
        # undo brings back the text and the mask, redo the substitution
        await pilot.press("u")
        await settle(pilot)
        assert app.explorer.sentence.value == "Berlin is the capital of Germany."
        assert pane(app).tokens.masked == {4}
        await pilot.press("U")
        await settle(pilot)
        assert app.explorer.sentence.value == f"Berlin is the {expected[1]} of Germany."


async def test_substitute_from_the_table_keeps_other_masks():
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")  # "keys"
        await pilot.press("end", "left", "m")  # "table"
        await settle(pilot)
        assert pane(app).tokens.masked == {2, 9}
        await pilot.press("tab")  # into the table
        assert app.focused is pane(app).table
        first = table_tokens(app)[0]
        await pilot.press("enter")
        await settle(pilot)
        assert app.explorer.sentence.value == f"The keys to the cabinet are on the {first}."
        assert [pane(app).encoding.tokens[i].display for i in pane(app).tokens.masked] == ["keys"]


async def test_whole_word_masking_and_clear():
    app = make_app("A continental breakfast.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cells(app)[1:-1] == ["a", "contin", "ental", "breakfast"[:6], "ast", "."]
        await pilot.press("right", "right", "M")  # select "ental", mask the whole word
        await settle(pilot)
        assert pane(app).tokens.masked == {2, 3}
        assert len(pane(app).predictions.masks) == 2
        await pilot.press("c")
        await settle(pilot)
        assert pane(app).tokens.masked == frozenset() and pane(app).predictions is None


async def test_word_jumps_and_edges():
    app = make_app("A continental breakfast is served.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("w")
        assert pane(app).tokens.selected == 2  # "contin"
        await pilot.press("w")
        assert pane(app).tokens.selected == 4  # "breakf", skipping "##ental"
        await pilot.press("b")
        assert pane(app).tokens.selected == 2
        await pilot.press("end")
        assert cells(app)[pane(app).tokens.selected] == "."
        await pilot.press("home")
        assert pane(app).tokens.selected == 1


async def test_stale_results_are_never_shown():
    """Two masks toggled quickly: the first request finishes last and must be dropped."""
    second_done = threading.Event()

    def gate(n_masks: int) -> None:
        if n_masks == 1:
            second_done.wait(5)  # the older request is slow...
        else:
            second_done.set()  # ...the newer one is fast

    engine = FakeEngine(predict_gate=gate)
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("right", "m", "right", "m")
        await settle(pilot)
        assert engine.calls == [(2,), (2, 3)]  # both requests ran
        assert [m.position for m in pane(app).predictions.masks] == [2, 3]


async def test_top_k_keys():
    app = make_app("Paris is the [MASK] of France.", loader=instant_loader(), top_k=5)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(app).table.row_count == 5
        await pilot.press("plus")
        await settle(pilot)
        assert pane(app).table.row_count == 6
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert pane(app).table.row_count == 4


async def test_typed_mask_predicts_at_once():
    app = make_app("Paris is the [MASK] of France.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert pane(app).tokens.all_masks == (4,)
        assert pane(app).table.row_count == 10
        assert "masks 1" in str(app.explorer.status.render())


async def test_surprisal_view():
    engine = FakeEngine()
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        expected = engine.score(pane(app).encoding)
        assert pane(app).tokens.surprisal == {t.index: t.surprisal for t in expected.tokens}
        assert f"{expected.pseudo_perplexity:.2f}" in pane(app).panel.border_title
        assert f"PPPL {expected.pseudo_perplexity:.2f}" in str(app.explorer.status.render())
        await pilot.press("s")
        await settle(pilot)
        assert pane(app).tokens.surprisal is None


async def test_bad_text_keeps_everything():
    app = make_app("Paris is the capital of France.", loader=instant_loader())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("e", "ctrl+u", "space", "space", "enter")
        await settle(pilot)
        assert any("empty" in n.message for n in app._notifications)
        assert (
            app.explorer.snapshot.text == "Paris is the capital of France."
        )  # the tokens still stand for it
        assert cells(app)[1] == "paris"
        assert app.explorer.sentence.value == "  "  # and what the user typed is still there to fix
        await pilot.press("escape")
        assert app.explorer.sentence.value == "Paris is the capital of France."


async def test_model_failure_is_shown_and_the_app_keeps_running():
    app = make_app(
        "My text stays.",
        options=EngineOptions(model="nope"),
        loader=failing_loader("no such model folder: nope"),
    )
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert app.is_running
        assert "no such model folder" in pane(app).tokens.plain.replace("\n", " ")
        assert "no such model folder" in str(app.explorer.status.render())
        assert app.explorer.sentence.value == "My text stays."
        await pilot.press("m", "s", "enter")  # nothing to do, nothing breaks
        assert app.is_running


async def test_help_lists_every_key():
    app = make_app(loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(str(app.screen.query_one("Static").render()).split())  # long lines wrap
        from mlm_tui.widgets.token_view import TokenView

        for binding in [*TokenView.BINDINGS, *ExplorerScreen.BINDINGS, *MlmApp.BINDINGS]:
            assert binding.tooltip in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_quit_while_loading():
    release = threading.Event()
    app = make_app(loader=blocked_loader(release))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("q")
            await pilot.pause()
            assert not app.is_running
    finally:
        release.set()


async def test_no_color_and_small_terminal(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        assert pane(app).table.row_count == 10
        assert app.explorer.status.region.y < 24 and pane(app).table.region.height >= 3


async def test_real_tiny_model(bert_dir, bert):
    app = make_app("Paris is the capital of France.", options=EngineOptions(model=str(bert_dir)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert cells(app) == [t.display for t in bert.encode("Paris is the capital of France.").tokens]
        await pilot.press("right", "right", "right", "m")
        await settle(pilot)
        expected = bert.predict(pane(app).encoding, [4], top_k=10).masks[0].predictions
        assert table_tokens(app) == [p.token_str for p in expected]
        await pilot.press("enter")
        await settle(pilot)
        # the pipeline's own "sequence" for this candidate is the reference for the new text
        assert app.explorer.sentence.value.lower() == expected[0].sequence


async def test_a_click_selects_a_cell():
    app = make_app("The keys to the cabinet.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # border (1) + padding (1) + "[CLS] the " (10): the first letter of "keys"
        await pilot.click("#tokens", offset=(12, 1))
        await pilot.pause()
        assert pane(app).encoding.tokens[pane(app).tokens.selected].display == "keys"


async def test_the_bundled_stand_in_is_announced():
    from dataclasses import replace

    engine = FakeEngine()
    engine.info = replace(
        engine.info, name="minilm-mlm-en", notes=("using the small bundled model minilm-mlm-en",)
    )
    app = make_app(loader=instant_loader(engine))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        assert "minilm-mlm-en (bundled stand-in)" in str(app.explorer.status.render())
        assert any("bundled model" in n.message for n in app._notifications)


async def test_command_palette_offers_the_main_actions():
    app = make_app("The keys to the cabinet.", loader=instant_loader())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Mask the selected token",
            "Toggle the surprisal view",
            "Undo",
            "Substitute the prediction",
        ):
            assert wanted in titles
        mask = next(c for c in app.get_system_commands(app.screen) if c.title == "Mask the selected token")
        mask.callback()
        await settle(pilot)
        assert pane(app).tokens.masked == {pane(app).tokens.selected}
