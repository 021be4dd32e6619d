"""Issue 25, item 5: scores a person can reconcile.

The surprisal title shows the PLL (the sum of the rows' log p) beside the pseudo-perplexity; a
CrowS-Pairs pair opened from the results screen underlines the tokens its metric counts (the
shared ones) and its title shows their sum: the number the results row shows.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from fakes import FakeEngine, instant_loader, settle, until

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.probes import view
from mlm_tui.probes.sets import open_probe_set

CROWS = Path(__file__).resolve().parent.parent / "examples" / "crows.csv"


async def test_the_surprisal_title_shows_the_pll_sum_of_the_rows():
    engine = FakeEngine()
    app = make_app("The keys to the cabinet are on the table.", loader=instant_loader(engine))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        pane = app.explorer.left
        assert pane.shown.kind == "scores"
        title = pane.panel.heading
        scores = engine.score(pane.encoding)  # asked here, not read from the pane
        pll = sum(t.log_prob for t in scores.tokens)
        ppl = 2.718281828459045 ** (-pll / len(scores.tokens))
        assert f"PLL {pll:.2f}" in title and f"pseudo-perplexity {ppl:.2f}" in title
        # and the table's rows add up to it
        table = pane.table
        rows = [table.get_row_at(r) for r in range(table.row_count)]
        log_ps = [
            float(str(cell)) for row in rows for cell in row if re.fullmatch(r"-\d+\.\d+", str(cell).strip())
        ]
        assert log_ps and abs(sum(log_ps) - pll) < 0.01 * len(log_ps)


def shared_reference(ids_a: list[int], ids_b: list[int]) -> list[int]:
    """Positions of ``ids_a`` in the blocks difflib finds equal in both, but the first and last
    (metric.py's template minus [CLS] and [SEP]); written from the CrowS-Pairs paper's description."""
    blocks = difflib.SequenceMatcher(
        None, [str(i) for i in ids_a], [str(i) for i in ids_b]
    ).get_matching_blocks()
    positions = [a + k for a, _b, size in blocks for k in range(size)]
    return positions[1:-1]


async def test_a_crows_pair_underlines_the_counted_tokens_and_its_sum_is_the_rows():
    options = EngineOptions(model="minilm-mlm-en")
    app = make_app(None, options=options, results=open_probe_set(str(CROWS)))
    async with app.run_test(size=(130, 40)) as pilot:
        for _ in range(2000):
            await settle(pilot)
            screen = app.get_screen("results")
            if screen.state.stage in ("done", "failed") and screen.final:
                break
            await pilot.pause(0.01)
        assert screen.state.stage == "done"
        checked = 0
        for row in range(screen.table.row_count):
            if app.screen is not screen:
                await pilot.press("escape")
                await settle(pilot)
            screen.table.cursor_row = row
            await pilot.pause()
            item = screen.items[screen.highlighted_index]
            values = view.values(item)
            if "sent_more_score" not in values:
                continue
            await pilot.press("enter")
            await settle(pilot)
            explorer = app.explorer
            pane = explorer.left
            engine = pane.engine
            for which in ("more", "less"):
                text = item[f"sent_{which}"]
                await until(
                    pilot, lambda t=text, p=pane: p.scores is not None and p.scores.text == t, "scores"
                )
                await until(pilot, lambda p=pane: p.shown.kind == "scores", "the scores view")
                other = item["sent_less" if which == "more" else "sent_more"]
                ids, other_ids = list(engine.encode(text).ids), list(engine.encode(other).ids)
                # metric.py takes the stereotyping-direction sentence first; difflib's blocks follow that order
                first_is_this = (which == "more") == (item["direction"] == "stereo")
                if first_is_this:
                    expected = shared_reference(ids, other_ids)
                else:
                    blocks = difflib.SequenceMatcher(
                        None, [str(i) for i in other_ids], [str(i) for i in ids]
                    ).get_matching_blocks()
                    expected = [b + k for _a, b, size in blocks for k in range(size)][1:-1]
                assert pane.tokens.marked_positions() == expected, (text, which)
                shown = re.search(r"metric\.py score (-?\d+\.\d{3}) \((\d+) underlined\)", pane.panel.heading)
                assert shown is not None, pane.panel.heading
                assert shown.group(1) == f"{values[f'sent_{which}_score']:.3f}"  # the row's number
                assert int(shown.group(2)) == len(expected)
                if which == "more":
                    await pilot.press("o")
                    await settle(pilot)
            checked += 1
        assert checked >= 5


# ---------------------------------------------------------------- issue 25, item 7: the explorer's export header


async def test_the_explorer_export_starts_with_the_provenance(tmp_path):
    from importlib.metadata import version

    engine = FakeEngine()
    app = make_app("The [MASK] barked.", loader=instant_loader(engine), export_dir=tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await until(pilot, lambda: any(tmp_path.glob("*.md")), "the export")
    markdown = next(tmp_path.glob("*.md")).read_text().splitlines()
    assert markdown[0] == "# mlm-tui export"
    assert markdown[2] == "- **File:** none (a sentence typed in the explorer)"
    assert markdown[3].startswith(f"- **Model:** `{engine.info.name}`") and engine.info.dtype in markdown[3]
    assert markdown[4].startswith("- **Created:** ") and markdown[5] == f"- **mlm-tui:** {version('mlm-tui')}"


async def test_a_crows_pair_exported_from_the_explorer_names_its_file_and_the_caveat(tmp_path):
    options = EngineOptions(model="minilm-mlm-en")
    app = make_app(None, options=options, results=open_probe_set(str(CROWS)), export_dir=tmp_path)
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: app.get_screen("results").state.stage == "done", "the run")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.explorer
        await until(pilot, lambda: app.explorer.left.scores is not None, "the scores")
        await pilot.press("x")
        await until(pilot, lambda: any(tmp_path.glob("mlm-tui-*.md")), "the export")
    text = next(tmp_path.glob("mlm-tui-*.md")).read_text()
    assert f"- **File:** `{CROWS}`" in text
    assert "Blodgett et al. 2021" in text
