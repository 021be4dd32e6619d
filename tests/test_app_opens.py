"""Issue 25, item 4: the explorer opens where the question is.

A sentence with a mask opens on its first mask with the predictions showing (as
``pipeline("fill-mask")`` users expect), and so does a mask typed with ``e``; a lowercase
``[mask]`` gets a one-line hint; the palette changes the main model; the sentence box wraps;
notifications never cover the status bar or the comparison line. Keys are sent in bursts,
some while the model loads; nothing waits on the clock.
"""

from __future__ import annotations

import threading

from fakes import FakeEngine, blocked_loader, instant_loader, send_raw, settle, until
from textual.geometry import Region
from textual.widgets._toast import Toast

from mlm_tui.app import MlmApp, make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.screens.explorer import first_new_mask
from mlm_tui.widgets.sentence_view import SentenceView

SIZE = (100, 30)


def selected_chars(app: MlmApp) -> str:
    pane = app.explorer.left
    start, end = pane.session_span(pane.tokens.selected)
    return pane.snapshot.text[start:end]


def predictions_at_selection(app: MlmApp, engine: FakeEngine) -> None:
    """The table lists the predictions at the selected mask: the engine's own, asked here."""
    pane = app.explorer.left
    assert pane.tokens.is_masked(pane.tokens.selected)
    assert pane.shown.kind == "predictions" and pane.shown.mask == pane.tokens.selected
    expected = engine.predict(pane.encoding, sorted(pane.tokens.masked), top_k=app.explorer.top_k)
    tokens = [p.token_str for p in expected.for_position(pane.tokens.selected).predictions]
    table = pane.table
    shown = [str(table.get_row_at(r)[1]).strip() for r in range(table.row_count)]
    assert shown == tokens


async def test_a_sentence_with_a_mask_opens_on_it_with_its_predictions_even_with_keys_sent_while_loading():
    release = threading.Event()
    text = "The old man [MASK] the [MASK] slowly."
    app = make_app(text, options=EngineOptions(model="fake-bert"), loader=blocked_loader(release))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            send_raw(app, ["l", "l", "m", "j"])  # a burst while the model loads: no model, nothing to move
            await pilot.pause()
            await pilot.pause()
            assert app.explorer.left.engine is None  # the keys came while it loaded
            release.set()
            await settle(pilot)
            assert selected_chars(app) == "[MASK]"
            pane = app.explorer.left
            assert pane.session_span(pane.tokens.selected)[0] == text.index("[MASK]")  # the first one
            predictions_at_selection(app, FakeEngine())
    finally:
        release.set()


async def test_a_mask_typed_with_e_is_selected_with_its_predictions():
    engine = FakeEngine()
    app = make_app("The cat sat on the [MASK].", loader=instant_loader(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert selected_chars(app) == "[MASK]"
        # a burst: e, a new sentence start typed before the old mask, enter
        send_raw(app, ["e", "home", *"A [MASK] said: ", "enter"])
        await until(pilot, lambda: app.explorer.snapshot.text.startswith("A [MASK] said"), "the edit")
        await settle(pilot)
        pane = app.explorer.left
        assert pane.session_span(pane.tokens.selected)[0] == 2  # the NEW mask, not the first of the text
        predictions_at_selection(app, engine)
        # an edit that types no mask leaves the selection where it was
        await pilot.press("right", "right")
        await settle(pilot)
        before = pane.session_span(pane.tokens.selected)
        send_raw(app, ["e", *" Yes.", "enter"])
        await until(pilot, lambda: app.explorer.snapshot.text.endswith("Yes."), "the second edit")
        await settle(pilot)
        assert pane.session_span(pane.tokens.selected) == before


def test_first_new_mask_against_a_plain_scan():
    """Where an edit wrote its first [MASK]: checked against a scan of every occurrence."""

    def reference(before: str, after: str) -> int | None:
        # the edit replaced before[start:old_end] by after[start:new_end] (longest common start and end);
        # an old [MASK] outside it is carried over (shifted when after it); any other [MASK] is new
        start = 0
        while start < min(len(before), len(after)) and before[start] == after[start]:
            start += 1
        tail = 0
        while tail < min(len(before), len(after)) - start and before[-1 - tail] == after[-1 - tail]:
            tail += 1
        old_end, delta = len(before) - tail, len(after) - len(before)
        old = [i for i in range(len(before)) if before.startswith("[MASK]", i)]
        carried = {i for i in old if i + 6 <= start} | {i + delta for i in old if i >= old_end}
        fresh = [i for i in range(len(after)) if after.startswith("[MASK]", i) and i not in carried]
        return fresh[0] if fresh else None

    cases = [
        ("The cat.", "The [MASK] cat."),
        ("A [MASK] b.", "A [MASK] b [MASK]."),
        ("A [MASK] b.", "X [MASK] A [MASK] b."),
        ("A [MASK] b.", "A b."),
        ("A b.", "A b."),
        ("[MA", "[MASK]"),
        ("A [MASK] b.", "A [MASK][MASK] b."),
    ]
    for before, after in cases:
        assert first_new_mask(before, after) == reference(before, after), (before, after)


async def test_a_lowercase_mask_gets_a_one_line_hint():
    app = make_app("Paris is nice.", loader=instant_loader())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        send_raw(app, ["e", *" The [mask] here.", "enter"])
        await until(pilot, lambda: "[mask]" in app.explorer.snapshot.text, "the edit")
        await settle(pilot)
        hints = [n.message for n in app._notifications if "[mask]" in n.message]
        assert hints and all("\n" not in h for h in hints)
        assert "[MASK]" in hints[0]
        assert app.explorer.left.tokens.all_masks == ()  # it is text: no mask was made of it


async def test_the_palette_changes_the_main_model_keeping_text_masks_and_history():
    engines = {"first": FakeEngine(name="first"), "second": FakeEngine(name="second", salt="2")}
    release = threading.Event()

    def factory(options: EngineOptions):
        if options.model == "second":
            return blocked_loader_of(engines["second"], release)
        return instant_loader(engines[options.model])

    app = make_app(
        "The keys to the cabinet are on the table.",
        options=EngineOptions(model="first"),
        loader_factory=factory,
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("right", "m", "e", "end", *" Yes.", "enter")
            await settle(pilot)
            screen = app.explorer
            before = (screen.snapshot, screen.history.past, screen.history.future)
            selected = screen.left.session_span(screen.left.tokens.selected)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            assert "Change the main model" in titles
            await pilot.press("ctrl+p", *"Change the main model")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen.query("#model-name"), "the model prompt")
            send_raw(app, [*"second", "enter", "l", "m"])  # and keys while it loads: nothing to act on
            await until(pilot, lambda: screen.left.label == "second", "the new model's name")
            await pilot.pause()
            await pilot.pause()
            assert screen.left.engine is None  # the keys came while it loaded
            release.set()
            await until(pilot, lambda: screen.left.engine is engines["second"], "the new model")
            await settle(pilot)
            assert (screen.snapshot, screen.history.past, screen.history.future) == before
            left = screen.left
            assert left.encoding is not None and [
                left.snapshot.text[slice(*s)] for s in left.snapshot.masked_spans
            ] == ["keys"]
            assert left.session_span(left.tokens.selected) == selected
            assert "second" in screen.status.models[0][0]
            # and undo still steps back through the history made with the first model
            await pilot.press("u")
            await settle(pilot)
            assert screen.snapshot.text == "The keys to the cabinet are on the table."
    finally:
        release.set()


def blocked_loader_of(engine: FakeEngine, release: threading.Event):
    def load(progress):
        progress("loading the weights")
        release.wait(10)
        return engine

    return load


async def test_a_long_sentence_wraps_and_shows_its_start():
    text = " ".join(f"word{i}" for i in range(40)) + " [MASK]."
    app = make_app(text, loader=instant_loader())
    async with app.run_test(size=(60, 30)) as pilot:
        await settle(pilot)
        view = app.explorer.query_one("#sentence-view", SentenceView)
        assert view.display and not app.explorer.sentence.display
        lines = [view.render_line(y).text for y in range(view.region.height)]
        inner = [line.strip() for line in lines if line.strip()]
        assert len(inner) >= 3 and all(len(line) <= 60 for line in lines)  # it wraps over several lines
        assert inner[0].startswith("word0 word1 word2")  # from its start
        shown = " ".join(inner).split()
        assert shown == text.split()[: len(shown)]  # every word, in order, none cut
        # editing gives the one-line box back, with the text; leaving it, the wrapped view returns
        await pilot.press("e")
        await pilot.pause()
        assert app.explorer.sentence.display and not view.display
        await pilot.press("escape")
        await pilot.pause()
        assert view.display and view.text == text


async def test_notifications_never_cover_the_status_bar_or_the_comparison_line():
    for size in ((80, 24), (130, 40)):
        app = make_app(
            "The keys to the cabinet are on the table.",
            options=EngineOptions(model="a"),
            compare=EngineOptions(model="b"),
            loader=instant_loader(FakeEngine(name="a")),
            compare_loader=instant_loader(FakeEngine(name="b", salt="b")),
        )
        async with app.run_test(size=size, notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("right", "m")
            await settle(pilot)
            for n in range(4):
                app.notify(f"note {n}: " + "a long line " * 12, timeout=60)
            await pilot.pause()
            await until(pilot, lambda app=app: len(app.screen.query(Toast)) >= 4, "the toasts")
            await pilot.pause()
            screen = app.explorer
            guarded = [screen.status.region, screen.comparison.region]
            assert screen.comparison.display and all(r.height for r in guarded)
            toasts = [t.region for t in app.screen.query(Toast)]
            assert toasts and all(t.height for t in toasts)
            for toast in toasts:
                for region in guarded:
                    assert not toast.overlaps(region), (toast, region)


async def test_notifications_never_cover_the_status_bar_with_one_model():
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader())
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.notify("one", timeout=60)
        app.notify("two\nlines", timeout=60)
        await until(pilot, lambda: len(app.screen.query(Toast)) >= 2, "the toasts")
        await pilot.pause()
        status: Region = app.explorer.status.region
        for toast in app.screen.query(Toast):
            assert toast.region.height and not toast.region.overlaps(status)
