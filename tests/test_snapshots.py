"""Snapshots of the main screens at a fixed size, with the instant fake engine (never real probabilities)."""

from __future__ import annotations

import threading

import pytest
from fakes import blocked_loader, instant_loader, settle

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions

SIZE = (100, 30)
TEXT = "The keys to the cabinet are on the table."


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()


def test_loading(snap_compare, release):
    app = make_app(TEXT, options=EngineOptions(model="bert-base-uncased"), loader=blocked_loader(release))
    assert snap_compare(app, terminal_size=SIZE)


def test_one_mask(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "right", "right", "right", "m")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_several_masks(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "m", "end", "left", "m")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_surprisal(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("s", "right", "right")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_small_terminal(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)

    assert snap_compare(
        make_app(TEXT, loader=instant_loader()), terminal_size=(80, 24), run_before=run_before
    )


def _compare_app():
    from fakes import FakeEngine

    return make_app(
        TEXT,
        options=EngineOptions(model="fake-bert"),
        compare=EngineOptions(model="fake-wordpiece-4"),
        loader=instant_loader(FakeEngine()),
        compare_loader=instant_loader(FakeEngine(name="fake-wordpiece-4", split=4, salt="b")),
    )


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_compare(snap_compare, size):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("w", "w", "w", "w", "m")  # "cabinet": one token left, two right
        await settle(pilot)

    assert snap_compare(_compare_app(), terminal_size=size, run_before=run_before)


def test_unmasked_view(snap_compare):
    """No mask at the selection: what the model predicts at that token as it stands."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "right")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_joint_fills(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "m", "end", "left", "m", "f")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_replay(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("right", "m", "end", "left", "m", "f")
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_attention(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("a", "right", "right", "full_stop")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


def test_watched_words(snap_compare):
    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("t", *"he, she", "enter", "right", "m")
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=SIZE, run_before=run_before)


LAYER_VIEWS = {
    "lens": ("right", "m", "down", "L"),
    "grid": ("right", "m", "number_sign"),
    "similarity": ("right", "right", "v", "less_than_sign"),
    "salience": ("right", "m", "d"),
    "ids": ("right", "m", "i"),
}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", list(LAYER_VIEWS))
def test_layer_views(snap_compare, view, size):
    """The views of the layers (issue 22) at the smallest usual terminal and a roomy one."""

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press(*LAYER_VIEWS[view])
        await settle(pilot)

    assert snap_compare(make_app(TEXT, loader=instant_loader()), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_neighbours_view(snap_compare, size):
    """The nearest contexts of "keys" in a small index of the fake's (issue 23): the sentences, the match
    highlighted, the word, the cosine; the title says the layer, filter, k and exact search."""
    from fake_index import FakeIndex
    from fakes import FakeEngine

    engine = FakeEngine()

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("home", "right", "n")
        await settle(pilot)

    app = make_app(TEXT, loader=instant_loader(engine), index=FakeIndex(engine))
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.fixture(scope="module")
def senses_index(tmp_path_factory, bundled_engine):
    """examples/senses.txt indexed by the bundled model at layers 1 and 6 (the senses screen's snapshots)."""
    from pathlib import Path

    from mlm_tui.index import build_index

    corpus = Path(__file__).resolve().parent.parent / "examples" / "senses.txt"
    out = tmp_path_factory.mktemp("senses-snap") / "index"
    build_index(bundled_engine, str(corpus), out, [1, 6], show_progress=False)
    return out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_senses_screen(snap_compare, senses_index, size):
    """The senses screen (issue 23): 'bank' at layer 6 of the bundled model, fills from the fake engine."""
    from mlm_tui.screens.senses import SensesRequest

    async def run_before(pilot):
        await settle(pilot)
        await pilot.app.workers.wait_for_complete()
        await settle(pilot)

    app = make_app(TEXT, loader=instant_loader(), senses=SensesRequest(str(senses_index), "bank", 6))
    assert snap_compare(app, terminal_size=size, run_before=run_before)
