"""What the screen names must be visible, the same everywhere, and true (issue 24, item 18).

A token that renders as nothing (``[unused922]`` of an untrained BERT: DataTable read it as a markup
tag) showed a blank row while the comparison line named it; offline, the first frames named
bert-base-uncased while the bundled model was loading.
"""

from __future__ import annotations

import dataclasses
import threading

from fakes import FakeEngine, blocked_loader, instant_loader, settle
from textual.widgets import Input

from mlm_tui.app import make_app
from mlm_tui.engine import BUNDLED_MODEL, DEFAULT_MODEL, EngineOptions

TEXT = "[MASK] keys are on the table."  # the cursor starts on the mask
# what the model predicts, and what a reader must see for it (written out here, not computed)
ODD = {"[unused922]": "[unused922]", " ": "' '", "\u200b": "'\\u200b'", "[b]table[/b]": "[b]table[/b]"}


class OddEngine(FakeEngine):
    """Predicts, best first, tokens that are markup-like, whitespace or invisible."""

    def predict(self, encoding, masked=(), **kwargs):
        result = super().predict(encoding, masked, **kwargs)
        masks = []
        for mask in result.masks:
            odd = tuple(
                dataclasses.replace(p, token_str=s) for p, s in zip(mask.predictions, ODD, strict=False)
            )
            masks.append(dataclasses.replace(mask, predictions=odd + mask.predictions[len(odd) :]))
        return dataclasses.replace(result, masks=tuple(masks))


def drawn_rows(table) -> list[str]:
    """The table's rows as drawn on the screen (not the data behind them)."""
    return [table.render_line(y).text for y in range(1, 1 + table.row_count)]


async def test_every_prediction_row_and_the_comparison_line_name_the_token_visibly():
    app = make_app(
        TEXT,
        options=EngineOptions(model="a"),
        compare=EngineOptions(model="b"),
        loader=instant_loader(OddEngine(name="a")),
        compare_loader=instant_loader(OddEngine(name="b", salt="b")),
    )
    async with app.run_test(size=(130, 40)) as pilot:
        await settle(pilot)
        screen = app.explorer
        for pane in screen.panes:
            rows = drawn_rows(pane.table)
            for n, shown in enumerate(ODD.values()):
                assert rows[n].split()[1] == shown.split()[0], rows  # rank, then the token as written here
        line = screen.comparison.line
        assert "A '[unused922]'" in line and "B '[unused922]'" in line


async def test_the_replay_cells_and_rows_show_the_same_visible_form():
    class OddFill(OddEngine):
        def joint_fill(self, encoding, masked=(), *, beam=5):
            joint = super().joint_fill(encoding, masked, beam=beam)
            steps = tuple(dataclasses.replace(s, token_str="[unused922]") for s in joint.steps)
            return dataclasses.replace(joint, steps=steps)

    app = make_app(TEXT, loader=instant_loader(OddFill()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f", "right_square_bracket")
        await settle(pilot)
        pane = app.explorer.active
        assert "[unused922]" in drawn_rows(pane.table)[0]
        assert list(pane.tokens.revealed.values()) == ["[unused922]"]


async def test_offline_the_first_frame_names_the_model_that_will_load(monkeypatch):
    from mlm_tui.engine import loading

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(loading, "_cached_snapshot", lambda repo_id: None)  # the default is not cached
    will_load = loading.resolve_model(None).name  # what the load itself resolves (offline: no network)
    assert will_load == BUNDLED_MODEL != DEFAULT_MODEL
    release = threading.Event()
    app = make_app(TEXT, loader=blocked_loader(release))  # no --model, and still loading
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            screen = app.explorer
            pane = screen.active
            assert pane.engine is None  # the first frames, before the model is there
            for shown in (
                str(screen.status.render()),
                str(pane.tokens.border_title),
                pane.tokens.placeholder,
            ):
                assert will_load in shown and DEFAULT_MODEL not in shown, shown
            screen.action_compare()  # the compare prompt suggests a model that loads here
            await pilot.pause()
            assert app.screen.query_one("#model-name", Input).placeholder == will_load
    finally:
        release.set()
