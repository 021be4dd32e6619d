"""Issue 24, items 8, 14 and 17: one screen, one answer.

8. The unmasked view reads a mask made with ``m`` exactly as a ``[MASK]`` typed in the text (the two
   cell rows look the same), checked against plain transformers; the title says masks were read.
14. A second pane opens on the token and the view the first one shows.
17. ``enter`` acts only on a row on screen; below a usable size the screen says so.
"""

from __future__ import annotations

import torch
from fakes import FakeEngine, instant_loader, settle
from transformers import AutoModelForMaskedLM, AutoTokenizer

from mlm_tui.app import make_app
from mlm_tui.engine import BUNDLED_MODEL, EngineOptions

SIZE = (100, 30)
TEXT = "Paris is the capital of France."


def _reference_probability(text: str, position: int, word: str) -> float:
    """p(word) at ``position`` with plain transformers, float32 softmax (what the pipeline computes)."""
    from mlm_tui.engine.loading import BUNDLED_DIR

    folder = BUNDLED_DIR / BUNDLED_MODEL
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float32).eval()
    inputs = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0, position]
    return float(logits.softmax(-1)[tokenizer.convert_tokens_to_ids(word)])


async def test_a_mask_made_with_m_is_read_as_a_mask_typed_in_the_text(bundled_engine):
    def app_with(text: str):
        return make_app(
            text, options=EngineOptions(model=BUNDLED_MODEL), loader=instant_loader(bundled_engine)
        )

    shown = {}
    for how, text in (("key", TEXT), ("typed", "Paris is the [MASK] of France.")):
        app = app_with(text)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            pane = app.explorer.active
            if how == "key":
                await pilot.press("right", "right", "right", "m", "home")  # mask "capital", back to "paris"
            else:
                await pilot.press("home")
            await settle(pilot)
            assert pane.tokens.selected == 1 and pane.shown.kind == "unmasked"
            shown[how] = pane.panel.heading
    reference = _reference_probability("paris is the [MASK] of france.", 1, "paris")
    for heading in shown.values():
        assert f"p {reference:.1%}" in heading
        assert "reads 1 mask" in heading  # the title says which context the numbers come from
    assert shown["key"] == shown["typed"]


def test_the_engine_reads_key_masks_as_typed_masks(bundled_engine):
    plain = bundled_engine.encode(TEXT)
    typed = bundled_engine.encode("Paris is the [MASK] of France.")
    by_key = bundled_engine.unmasked(plain, top_k=5, masked=[4]).at(1)
    by_text = bundled_engine.unmasked(typed, top_k=5).at(1)
    assert by_key.predictions == by_text.predictions
    assert abs(by_key.score - _reference_probability("paris is the [MASK] of france.", 1, "paris")) < 1e-5
    nothing = bundled_engine.unmasked(plain, top_k=5).at(1)
    assert abs(nothing.score - _reference_probability("paris is the capital of france.", 1, "paris")) < 1e-5


def _factory(options: EngineOptions):
    engines = {
        "fake-bert": FakeEngine(),
        "other": FakeEngine(name="other", split=4, salt="o", mask_token="<mask>"),
    }
    return instant_loader(engines[options.model])


def _same_token_and_view(screen) -> None:
    left, right = screen.left, screen.right
    assert right is not None
    span = left.session_span(left.tokens.selected)
    assert (
        right.session_span(right.tokens.selected)[0] <= span[0] < right.session_span(right.tokens.selected)[1]
    )
    assert left.shown.kind == right.shown.kind
    assert left.shown.kind != "predictions" or left.tokens.is_masked(left.tokens.selected)


async def test_a_second_model_opens_on_the_token_and_view_of_the_first():
    app = make_app(TEXT, options=EngineOptions(model="fake-bert"), loader_factory=_factory)
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        await pilot.press("right", "right", "right", "right", "m")  # a mask on token 5, its predictions
        await settle(pilot)
        screen = app.explorer
        assert screen.left.shown.kind == "predictions" and screen.left.tokens.selected == 5
        screen.add_compare("other")
        await settle(pilot)
        _same_token_and_view(screen)
        assert screen.right.shown.kind == "predictions"
        await pilot.press("f")  # the joint fills, in both panes
        await settle(pilot)
        assert screen.right.shown.kind == screen.left.shown.kind == "fills"
        await pilot.press("s")
        await settle(pilot)
        _same_token_and_view(screen)
        await pilot.press("f")  # closed in both
        await settle(pilot)
        _same_token_and_view(screen)
        assert screen.left.shown.kind != "fills"


async def test_below_a_usable_size_the_screen_says_so_and_enter_does_nothing():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.explorer
        before = screen.snapshot
        for size in ((40, 12), (30, 8)):
            await pilot.resize_terminal(*size)
            await settle(pilot)
            assert screen.has_class("too-small")
            assert "needs at least" in str(screen.query_one("#too-small").render())
            await pilot.press("enter", "m", "e", "f")
            await settle(pilot)
            assert screen.snapshot == before and not screen.editing
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        assert not screen.has_class("too-small")
        await pilot.press("enter")  # on screen again: it substitutes
        await settle(pilot)
        assert screen.snapshot != before and app.focused is screen.active.tokens


async def test_enter_acts_only_on_a_row_that_is_on_screen():
    app = make_app(TEXT, loader=instant_loader(FakeEngine()))
    async with app.run_test(size=(100, 16)) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.explorer
        table = screen.active.table
        assert table.row_count > 3 and table.row_on_screen(table.cursor_row)
        table.scroll_to(y=table.row_count, animate=False, immediate=True)  # the mouse wheel took it away
        await pilot.pause()
        assert not table.row_on_screen(table.cursor_row)
        before = screen.snapshot
        await pilot.press("enter")
        await settle(pilot)
        assert screen.snapshot == before
