"""The senses screen (Pilot): opens with the picture and the first row, layer and k keys redraw,
export writes a file, escape closes. The index is built from examples/senses.txt with the bundled model;
the fills come from the fake engine (tests/fakes.py), so nothing shown depends on its probabilities."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import instant_loader, settle
from textual.widgets import DataTable, Static

from mlm_tui.app import make_app
from mlm_tui.index import build_index
from mlm_tui.screens.senses import SensesRequest, SensesScreen

CORPUS = Path(__file__).resolve().parent.parent / "examples" / "senses.txt"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, bundled_engine):
    out = tmp_path_factory.mktemp("senses-screen") / "index"
    build_index(bundled_engine, str(CORPUS), out, [1, 6], show_progress=False)
    return out


async def ready(pilot) -> SensesScreen:
    await settle(pilot)
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, SensesScreen)
    return screen


def title(screen: SensesScreen) -> str:
    return str(screen.query_one("#senses-title", Static).render())


async def test_opens_with_the_picture_and_the_first_row(index_dir):
    app = make_app("a [MASK] b", loader=instant_loader(), senses=SensesRequest(str(index_dir), "bank", 6))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        assert "'bank' at layer 6: 30 occurrences, k = 2" in title(screen)
        plot = str(screen.query_one("#senses-plot", Static).render())
        assert any("\u2800" < ch <= "\u28ff" for ch in plot)  # braille dots
        table = screen.query_one("#senses-table", DataTable)
        assert table.row_count == 6 and table.cursor_row == 0
        assert "bank" in str(table.get_row_at(0)[4])
        assert len(screen.result.items) == 30


async def test_layer_keys_redraw_and_k_changes_the_clusters(index_dir, tmp_path):
    app = make_app(
        "a [MASK] b",
        loader=instant_loader(),
        senses=SensesRequest(str(index_dir), "bank", 6),
        export_dir=tmp_path,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        before = screen.result.xy.copy()
        await pilot.press("less_than_sign")
        screen = await ready(pilot)
        assert "layer 1" in title(screen) and screen.result.layer == 1
        assert before.shape == screen.result.xy.shape and (before != screen.result.xy).any()
        await pilot.press("less_than_sign")  # no layer before the first: nothing changes
        screen = await ready(pilot)
        assert screen.result.layer == 1
        await pilot.press("greater_than_sign")
        screen = await ready(pilot)
        assert screen.result.layer == 6 and screen.result.k == 2
        await pilot.press("k")
        screen = await ready(pilot)
        assert screen.result.k == 3 and len(screen.result.clusters) == 3 and "(given" in title(screen)
        assert screen.query_one("#senses-table", DataTable).row_count == 9
        await pilot.press("K", "K")  # never below 2
        screen = await ready(pilot)
        assert screen.result.k == 2
        await pilot.press("x")
        await ready(pilot)
        (svg,) = tmp_path.glob("senses-bank-layer6-k2.svg")
        assert svg.read_text().lstrip().startswith("<?xml")
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, SensesScreen)


async def test_a_word_that_is_not_there_is_one_line(index_dir):
    app = make_app("a [MASK] b", loader=instant_loader(), senses=SensesRequest(str(index_dir), "zebra", 6))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        assert screen.error == "'zebra' does not occur in the index"
        assert screen.error in title(screen)


def assert_agrees(screen: SensesScreen, layers: list[int]) -> None:
    """What the title, legend and table show is the one result, and it is the layer and k asked for."""
    result = screen.result
    assert result.layer == screen._layer and result.layer in layers
    assert screen._k is None or result.k == screen._k
    assert title(screen).startswith(f"'bank' at layer {result.layer}: ")
    assert f"k = {result.k} " in title(screen)
    assert ("(given" in title(screen)) == (screen._k is not None)
    assert len(result.clusters) == result.k and 2 <= result.k <= len(result.items) - 1
    legend = str(screen.query_one("#senses-legend", Static).render())
    assert legend.count("●") == result.k
    table = screen.query_one("#senses-table", DataTable)
    rows = [table.get_row_at(i) for i in range(table.row_count)]
    assert len(rows) == sum(len(c.typical) for c in result.clusters)
    assert sorted({int(str(r[0]).split()[-1]) for r in rows}) == list(range(result.k))


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_random_keys_keep_the_screen_in_agreement(index_dir, tmp_path, seed):
    """Bursts of the screen's keys, sent with no pause between them: once the work is done, every part of
    the screen shows the same result, for the layer and k the keys asked for."""
    import random

    rng = random.Random(seed)
    keys = ["less_than_sign", "greater_than_sign", "k", "K", "a", "down", "up", "x"]
    app = make_app(
        "a [MASK] b",
        loader=instant_loader(),
        senses=SensesRequest(str(index_dir), "bank", 6),
        export_dir=tmp_path,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        for _ in range(10):
            await pilot.press(*rng.choices(keys, k=rng.randint(1, 5)))
            screen = await ready(pilot)
            assert screen.error is None
            assert_agrees(screen, [1, 6])


async def test_an_unexpected_error_in_the_work_is_one_line_not_a_screen_computing_forever(
    index_dir, monkeypatch
):
    from mlm_tui.index import senses as core

    def broken(*_args, **_options):
        raise FileNotFoundError("chunks/00002/tokens.parquet")

    monkeypatch.setattr(core, "senses", broken)
    app = make_app("a [MASK] b", loader=instant_loader(), senses=SensesRequest(str(index_dir), "bank", 6))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await ready(pilot)
        assert screen.error == "FileNotFoundError: chunks/00002/tokens.parquet"
        assert screen.error in title(screen) and "computing" not in title(screen)
