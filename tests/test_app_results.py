"""The results screen of a probe set (issue 16): rows arriving, sort, filters, search, enter → explorer →
escape, export, compare, the palette, and a seeded random-key run with its invariants.

Most tests hand the screen a fake probe set (rows made here, the instant fake engine) so they are
instant; what the table shows is checked against plain code written in the test. One test runs the
bundled model end to end and compares the export with what the CLI prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import threading
from pathlib import Path

import pytest
from fakes import FakeEngine, instant_loader, settle, until

from mlm_tui.app import make_app
from mlm_tui.engine import Encoding, Token
from mlm_tui.probes.sets import ProbeSet, differing_spans, open_probe_set, recognise
from mlm_tui.screens.explorer import ExplorerScreen
from mlm_tui.screens.results import ResultsScreen

GROUPS = ("alpha", "beta", "gamma")
WORDS = ("capital", "city", "heart", "center", "pride", "home", "jewel")


def body_of(markdown: str, name: str | None = None) -> str:
    """What follows the export's header (the probe set, each model, the date, the version: the CLI has no
    header), after checking the header says what the export is."""
    title, _, rest = markdown.partition("\n\n")
    assert title.startswith(f"# {name} (" if name else "# ")
    head, _, body = rest.partition("- **mlm-tui:** ")
    assert "- **File:** `" in head and "- **Model" in head and "- **Created:** " in head
    return body.split("\n", 1)[1].removeprefix("\n")


def cloze_row(n: int, salt: int = 0) -> dict:
    rank = (n * 37 + salt * 11) % 23 + 1
    return {
        "line": n + 1,
        "text": f"Item {n} says the [MASK] is {WORDS[n % len(WORDS)]}.",
        "answer": WORDS[(n + 3) % len(WORDS)],
        "group": GROUPS[n % 3],
        "rank": rank,
        "score": 1.0 / (rank + 1),
        "log_prob": None,
        "pieces": 1 + n % 2,
        "hit@1": rank <= 1,
        "hit@k": rank <= 10,
        "predictions": [],
    }


def pair_row(n: int) -> dict:
    good, bad = f"The keys {n} are here.", f"The keys {n} is here."
    pll_good, pll_bad = -10.0 - n % 5, -11.0 - (n * 7) % 4
    return {
        "line": n + 1,
        "good": good,
        "bad": bad,
        "group": GROUPS[n % 2],
        "pll_good": pll_good,
        "pll_bad": pll_bad,
        "correct": pll_good > pll_bad,
    }


def fake_set(rows, kind: str = "cloze", gate: threading.Event | None = None, after: int = 0) -> ProbeSet:
    """A probe set whose run yields ``rows(engine)``; with ``gate``, it waits after ``after`` rows."""

    def results(engine):
        for n, row in enumerate(rows(engine)):
            if gate is not None and n == after:
                gate.wait(10)
            yield row

    fmt = "plain-cloze" if kind == "cloze" else "plain"
    made = list(rows(FakeEngine()))
    return ProbeSet("fake.tsv", kind, fmt, results, k=10, n_boot=50, total=len(made))


def cloze_set(n: int = 30, **kw) -> ProbeSet:
    def rows(_engine):
        made = [cloze_row(i) for i in range(n)]
        made.append({"line": n + 1, "error": "no [MASK] in the text"})
        return made

    return fake_set(rows, **kw)


def app_with(probe_set: ProbeSet, tmp_path: Path | None = None, compare: bool = False):
    extra = {}
    if compare:
        extra = {"compare": _options("fake-b"), "compare_loader": instant_loader(FakeEngine(name="fake-b"))}
    return make_app(
        "Paris is the capital of France.",
        options=_options("fake-bert"),
        loader=instant_loader(FakeEngine()),
        results=probe_set,
        export_dir=tmp_path,
        **extra,
    )


def _options(model: str):
    from mlm_tui.engine import EngineOptions

    return EngineOptions(model=model)


async def filled(pilot) -> ResultsScreen:
    """Wait until the run is over and every row is in the table."""
    app = pilot.app
    for _ in range(500):
        await settle(pilot)
        screen = app.get_screen("results")
        if screen.state.stage in ("done", "failed") and screen.final == (screen.state.stage == "done"):
            await pilot.pause()
            return screen
        await pilot.pause(0.01)
    raise AssertionError("the results never finished")


def table_lines(screen: ResultsScreen) -> list[int | None]:
    """The line numbers the table draws, top to bottom."""
    table = screen.table
    return [int(table.row_text(r)[0]) for r in range(table.row_count)]


def status(screen: ResultsScreen) -> str:
    return str(screen.query_one("#results-status").render())


def summary_cells(screen: ResultsScreen) -> list[list[str]]:
    table = screen.summary_table
    return [[cell.strip() for cell in table.row_text(r)] for r in range(table.row_count)]


# ------------------------------------------------------------------------------------------ rows


async def test_rows_arrive_while_the_run_goes_on():
    gate = threading.Event()
    app = app_with(cloze_set(30, gate=gate, after=12))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.get_screen("results").table.row_count == 12, "12 rows")
            screen = app.get_screen("results")
            assert screen.state.stage == "running"
            assert status(screen).startswith("12 of 12 shown · 12 items")
            assert screen.bar.progress == 12 and screen.bar.total == 31
            gate.set()
            screen = await filled(pilot)
            assert screen.table.row_count == 31
            assert table_lines(screen) == list(range(1, 32))  # input order
            assert status(screen).startswith("31 of 31 shown · 31 items")
            assert "1 failed" in status(screen)
    finally:
        gate.set()


async def test_summary_numbers_are_computed_from_the_rows():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        ranks = [cloze_row(i)["rank"] for i in range(30)]
        cells = summary_cells(screen)
        overall = cells[0]
        assert overall[0] == "overall"
        assert overall[1] == "30"
        assert overall[2] == f"{100 * sum(r == 1 for r in ranks) / 30:.1f}"
        assert overall[4] == f"{100 * sum(r <= 10 for r in ranks) / 30:.1f}"
        assert overall[5] == f"{sum(1 / r for r in ranks) / 30:.3f}"
        assert overall[3].startswith("[")  # the final summary has its interval
        by_group = {row[0]: row for row in cells[2:]}
        for g, name in enumerate(GROUPS):
            mine = [r for i, r in enumerate(ranks) if i % 3 == g]
            assert by_group[name][1] == str(len(mine))
            assert by_group[name][4] == f"{100 * sum(r <= 10 for r in mine) / len(mine):.1f}"


# ------------------------------------------------------------------------------------------ sort and filters


async def test_sort_by_any_column_and_reverse():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        headings = [c.heading for c in screen.columns]
        rank_at = headings.index("rank")
        await pilot.press(*["s"] * (rank_at + 1))
        await pilot.pause()
        assert screen.sort_column == rank_at
        rows = [cloze_row(i) for i in range(30)]
        expected = [r["line"] for r in sorted(rows, key=lambda r: (r["rank"], r["line"]))] + [31]
        assert table_lines(screen) == expected  # the error row (no rank) last
        assert "sorted by rank ↑" in status(screen)
        await pilot.press("S")
        await pilot.pause()
        expected_reversed = [r["line"] for r in sorted(rows, key=lambda r: (r["rank"], r["line"]))][::-1] + [
            31
        ]
        assert table_lines(screen) == expected_reversed
        assert "sorted by rank ↓" in status(screen)


async def test_click_on_a_heading_sorts_by_it():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        answer_at = [c.key for c in screen.columns].index("answer")
        x = 1 + sum(screen.table._widths[:answer_at]) + 2 * answer_at  # where the heading is drawn
        await pilot.click("#results-items", offset=(x + 1 + 1, 1))  # the border, then the heading line
        await pilot.pause()
        rows = [cloze_row(i) for i in range(30)]
        expected = [r["line"] for r in sorted(rows, key=lambda r: (r["answer"], r["line"]))]
        assert table_lines(screen)[:30] == expected


async def test_sorting_keeps_the_highlighted_item():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        await pilot.press("down", "down", "down")
        before = screen.highlighted_index
        assert screen.items[before]["line"] == 4
        await pilot.press("s", "s", "s", "s", "s")
        await pilot.pause()
        assert screen.highlighted_index == before


async def test_filter_by_group_and_by_hit_or_miss():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        rows = [cloze_row(i) for i in range(30)]
        await pilot.press("g")
        screen = await filled(pilot)
        assert screen.group == "alpha"
        assert table_lines(screen) == [r["line"] for r in rows if r["group"] == "alpha"]
        assert "group: alpha" in status(screen)
        await pilot.press("h")  # hit@1
        screen = await filled(pilot)
        assert table_lines(screen) == [r["line"] for r in rows if r["group"] == "alpha" and r["rank"] == 1]
        await pilot.press("h")  # miss@1
        screen = await filled(pilot)
        assert table_lines(screen) == [r["line"] for r in rows if r["group"] == "alpha" and r["rank"] > 1]
        assert "showing: miss@1" in status(screen)
        await pilot.press("g", "g", "g")  # beta, gamma, all
        await pilot.press("h", "h", "h")  # hit@10, miss@10, errors
        screen = await filled(pilot)
        assert screen.group is None
        assert table_lines(screen) == [31]
        assert status(screen).startswith("1 of 1 shown · 31 items")


async def test_search_with_slash():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        await pilot.press("slash")
        await pilot.press(*"JEWEL")
        await pilot.press("enter")
        screen = await filled(pilot)
        rows = [cloze_row(i) for i in range(30)]
        wanted = [r["line"] for r in rows if "jewel" in (r["text"] + "\n" + r["answer"]).lower()]
        assert wanted and table_lines(screen) == wanted
        assert "search: 'JEWEL'" in status(screen)
        assert app.focused is screen.table
        await pilot.press("slash", "escape")  # escape in the box clears the search
        screen = await filled(pilot)
        assert screen.table.row_count == 31


# ------------------------------------------------------------------------------------------ the explorer


async def test_enter_opens_a_probe_in_the_explorer_and_escape_comes_back_to_the_row():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        await pilot.press("s", "s", "s", "s", "s")  # sorted by rank
        await pilot.press("down", "down", "down", "down")
        index = screen.highlighted_index
        row = screen.table.cursor_row
        item = screen.items[index]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ExplorerScreen)
        explorer = app.explorer
        assert explorer.snapshot is not None and explorer.snapshot.text == item["text"]
        assert explorer.watched == (item["answer"],)
        pane = explorer.left
        selected = pane.encoding.tokens[pane.tokens.selected]
        assert selected.is_mask  # the probe's mask is the selected cell
        assert not explorer.show_surprisal
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        assert screen.table.cursor_row == row and screen.highlighted_index == index


async def test_a_pair_opens_in_the_surprisal_view_and_o_swaps_the_sentences():
    def rows(_engine):
        return [pair_row(i) for i in range(6)]

    app = app_with(fake_set(rows, kind="pairs"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        explorer = app.explorer
        good, bad = pair_row(1)["good"], pair_row(1)["bad"]
        assert explorer.snapshot.text == good
        assert explorer.show_surprisal
        tokens = explorer.left.tokens
        marked = [t.display for t in tokens.encoding.tokens if tokens._is_marked(t.index)]
        assert marked == ["are"]
        assert tokens.encoding.tokens[tokens.selected].display == "are"
        await pilot.press("o")
        await settle(pilot)
        assert explorer.snapshot.text == bad
        marked = [t.display for t in tokens.encoding.tokens if tokens._is_marked(t.index)]
        assert marked == ["is"]
        await pilot.press("o")
        await settle(pilot)
        assert explorer.snapshot.text == good
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.items[screen.highlighted_index]["line"] == 2


def test_differing_tokens_against_a_word_by_word_reference():
    engine = FakeEngine()
    cases = [
        ("The keys are on the table.", "The keys is on the table."),
        ("Who did you see?", "Who did you see him?"),
        ("She has eaten the apple.", "She has ate the apple."),
        ("Old people are bad with phones.", "Young people are bad with phones."),
    ]
    for first, second in cases:
        a, b = differing_spans(engine.encode(first), engine.encode(second))
        # the fake splits on words (none of these is over 7 letters): a plain word diff is the reference
        words_a, words_b = (
            first.replace("?", " ?").replace(".", " .").split(),
            second.replace("?", " ?").replace(".", " .").split(),
        )
        only_a = [w for w in words_a if w not in words_b]
        only_b = [w for w in words_b if w not in words_a]
        assert [first[s:e] for s, e in a] == only_a
        assert [second[s:e] for s, e in b] == only_b


def test_differing_tokens_of_pieces():
    def enc(text: str, pieces: list[tuple[int, str, int, int]]) -> Encoding:
        tokens = [Token(0, 1, "[CLS]", "[CLS]", 0, 0, None, True)]
        for n, (tid, piece, start, end) in enumerate(pieces):
            tokens.append(Token(n + 1, tid, piece, piece, start, end, n, False))
        tokens.append(Token(len(tokens), 2, "[SEP]", "[SEP]", 0, 0, None, True))
        return Encoding(text=text, tokens=tuple(tokens))

    a = enc("dogs bark", [(10, "dog", 0, 3), (11, "##s", 3, 4), (12, "bark", 5, 9)])
    b = enc("dog barks", [(10, "dog", 0, 3), (13, "barks", 4, 9)])
    assert differing_spans(a, b) == ([(3, 4), (5, 9)], [(4, 9)])


# ------------------------------------------------------------------------------------------ export


async def test_x_exports_the_json_and_markdown_the_cli_writes(tmp_path):
    from mlm_tui.probes import report
    from mlm_tui.probes.run import Tally

    app = app_with(cloze_set(30), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await filled(pilot)
        await pilot.press("x")
        await pilot.pause()
    written = sorted(tmp_path.iterdir())
    assert [p.suffix for p in written] == [".json", ".md"]
    document = json.loads(written[0].read_text())
    rows = [cloze_row(i) for i in range(30)] + [{"line": 31, "error": "no [MASK] in the text"}]
    assert document["items"] == rows
    assert document["models"] == ["fake-bert"] and document["format"] == "plain-cloze"
    tally = Tally("cloze", k=10)
    for row in rows:
        tally.add(row)
    assert document["summary"] == json.loads(json.dumps(tally.summary(50)))
    assert body_of(written[1].read_text(), "fake.tsv") == report.markdown(
        "cloze", [tally.summary(50)], ["fake-bert"], 10
    )


async def test_export_waits_for_the_whole_set(tmp_path):
    gate = threading.Event()
    app = app_with(cloze_set(10, gate=gate, after=3), tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.get_screen("results").table.row_count == 3, "3 rows")
            await pilot.press("x")
            await pilot.pause()
            assert list(tmp_path.iterdir()) == []
            gate.set()
            await filled(pilot)
    finally:
        gate.set()


# ------------------------------------------------------------------------------------------ compare


async def test_compare_shows_both_models_and_the_disagreements_first():
    def rows(engine):
        salt = 0 if engine.info.name == "fake-bert" else 1
        return [cloze_row(i, salt) for i in range(30)]

    app = app_with(fake_set(rows), compare=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        headings = [c.heading for c in screen.columns]
        assert {"A rank", "B rank", "Δ rank", "≠"} <= set(headings)
        a = [cloze_row(i, 0) for i in range(30)]
        b = [cloze_row(i, 1) for i in range(30)]
        disagree = [
            x["line"]
            for x, y in zip(a, b, strict=True)
            if (x["hit@k"], x["hit@1"]) != (y["hit@k"], y["hit@1"])
        ]
        agree = [x["line"] for x in a if x["line"] not in disagree]
        assert disagree and table_lines(screen) == disagree + agree
        assert "disagreements first" in status(screen)
        first = screen.items[screen.table.rows[0]]
        assert first["difference"] == b[first["line"] - 1]["rank"] - a[first["line"] - 1]["rank"]
        cells = summary_cells(screen)
        assert len(cells[0]) == 1 + 2 * 5  # group, then both models' five columns


# ------------------------------------------------------------------------------------------ palette and CLI


async def test_open_a_probe_set_from_the_palette(tmp_path):
    good = tmp_path / "probes.tsv"
    good.write_text("The capital of France is [MASK].\tcapital\tgeo\nA [MASK] city.\tcity\tgeo\n")
    app = make_app("Paris is the capital of France.", loader=instant_loader())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.action_open_probe_set()
        await pilot.pause()
        await pilot.press(*str(tmp_path / "nothing.tsv"))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)  # a bad path: one line, nothing lost
        assert app.explorer.snapshot.text == "Paris is the capital of France."
        assert any("cannot read" in n.message for n in app._notifications)
        app.action_open_probe_set()
        await pilot.pause()
        await pilot.press(*str(good))
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ResultsScreen)
        assert app.screen.probe_set.kind == "cloze" and app.screen.probe_set.fmt == "plain"


def test_probe_sets_are_recognised_from_the_content(tmp_path):
    cases = {
        "cloze.tsv": ("The [MASK] sat.\tcat\n", "probe", "cloze"),
        "pairs.tsv": ("The dogs bark.\tThe dogs barks.\n", "pairs", "pairs"),
        "blimp.jsonl": ('{"sentence_good": "A b.", "sentence_bad": "B a."}\n', "pairs", "pairs"),
        "lama.jsonl": ('{"masked_sentences": ["The [MASK] sat."], "obj_label": "cat"}\n', "probe", "cloze"),
        "crows.csv": (
            "sent_more,sent_less,stereo_antistereo,bias_type\nA b.,B a.,stereo,age\n",
            "pairs",
            "crows",
        ),
    }
    for name, (content, command, kind) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        assert recognise(path) == command, name
        assert open_probe_set(path).kind == kind, name
    (tmp_path / "empty.tsv").write_text("\n")
    from mlm_tui.probes.formats import FormatError

    for bad in (tmp_path / "empty.tsv", tmp_path / "missing.tsv", tmp_path):
        with pytest.raises(FormatError):
            open_probe_set(bad)


@pytest.mark.parametrize(
    ("command", "content", "flags", "expected"),
    [
        ("probe", "The capital of France is [MASK].\tParis\tgeo\n", ["-k", "5"], ("cloze", "plain", 5, 7)),
        ("pairs", "The dogs bark.\tThe dogs barks.\n", ["--pll", "word-l2r"], ("pairs", "plain", 10, 7)),
    ],
)
def test_probe_and_pairs_on_a_terminal_open_the_results_screen(
    monkeypatch, tmp_path, command, content, flags, expected
):
    from mlm_tui import cli
    from mlm_tui.app import MlmApp

    path = tmp_path / "set.tsv"
    path.write_text(content)
    seen = {}

    def run(self):
        seen["app"] = self

    monkeypatch.setattr(MlmApp, "run", run)
    monkeypatch.setattr(f"mlm_tui.cli.{command}.wants_app", lambda args: True)
    argv = [
        command,
        str(path),
        "-m",
        "minilm-mlm-en",
        "--bootstrap",
        "7",
        "--export-dir",
        str(tmp_path),
        *flags,
    ]
    assert cli.main(argv) == 0
    app = seen["app"]
    probe_set = app._results
    assert (probe_set.kind, probe_set.fmt, probe_set.k, probe_set.n_boot) == expected
    assert app._export_dir == tmp_path


def test_the_probe_set_modules_import_no_textual():
    import subprocess
    import sys

    code = (
        "import sys, mlm_tui.probes.sets, mlm_tui.probes.view, mlm_tui.probes.report;"
        "assert 'textual' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)


# ------------------------------------------------------------------------------------------ end to end


async def test_bundled_model_end_to_end_equals_the_cli(tmp_path):
    """The bundled model on examples/cloze.tsv: the screen's export is byte for byte the CLI's output."""
    from mlm_tui import cli
    from mlm_tui.engine import EngineOptions

    example = Path(__file__).resolve().parent.parent / "examples" / "cloze.tsv"
    options = EngineOptions(model="minilm-mlm-en")
    app = make_app(None, options=options, results=open_probe_set(example), export_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        assert screen.state.stage == "done"
        await pilot.press("x")
        await pilot.pause()
        cells = summary_cells(screen)
    outputs = {}
    for flag in ("--json", "--markdown"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["probe", str(example), "-m", "minilm-mlm-en", flag]) == 0
        outputs[flag] = out.getvalue()
    written = sorted(tmp_path.iterdir())
    # the app may run the ONNX graph and the CLI PyTorch: probabilities agree to float noise, ranks exactly
    assert _close(json.loads(written[0].read_text()), json.loads(outputs["--json"]))
    assert body_of(written[1].read_text()) == outputs["--markdown"]
    # and the summary on screen is the one the Markdown shows, row by row
    for row in cells:
        assert "| " + " | ".join(row) + " |" in outputs["--markdown"]


def _close(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-4, abs=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ------------------------------------------------------------------------------------------ random keys


RESULT_KEYS = ["s", "S", "g", "h", "down", "up", "pagedown", "home", "end", "enter", "escape", "o", "slash"]
TYPED = ["a", "1", "z", "enter", "escape", "backspace"]


def _results_violations(app, opened: dict | None) -> list[str]:
    """The table, the status line, the filters and the footer agree; enter opened the highlighted row."""
    found = []
    if not app.is_screen_installed("results"):
        return ["the results screen went away"]
    screen = app.get_screen("results")
    table = screen.table
    shown = list(table.rows)
    drawn = [table.row_text(r)[0] for r in range(table.row_count)]
    if drawn != [str(screen.items[i].get("line", "")) for i in shown]:
        found.append("the table draws other rows than it holds")
    accept = screen._filter()
    if any(not accept(screen.items[i]) for i in shown):
        found.append("a row that the filters exclude is shown")
    if sorted(shown) != sorted(i for i, it in enumerate(screen.items) if accept(it)):
        found.append("rows that pass the filters are missing")
    from mlm_tui.probes import view

    column = screen.columns[screen.sort_column] if screen.sort_column is not None else None
    if shown != view.order(screen.items, shown, column, reverse=screen.reverse, compare=screen.compare):
        found.append("the rows are not in the order the status line says")
    if screen.final:
        ok = sum(1 for item in screen.items if "error" not in item and "skipped" not in item)
        overall = summary_cells(screen)[0]
        if overall[:2] != ["overall", str(ok)]:
            found.append(f"the summary says {overall[:2]}, the table has {ok} scored items")
    line = status(screen)
    if not line.startswith(
        f"{table.row_count:,} of {len(screen.matching):,} shown · {len(screen.items):,} items"
    ):
        found.append(f"status {line!r} disagrees with the table ({table.row_count} rows)")
    if app.screen is screen and app.focused is table:
        keys = {b.binding.key: b.binding.description for b in app.active_bindings.values() if b.enabled}
        if keys.get("h") != "Hit/miss":
            found.append(f"the footer's h says {keys.get('h')!r}")
    snapshot = app.explorer.snapshot
    if (
        opened is not None
        and app.screen is app.explorer
        and (snapshot is None or snapshot.text != opened["text"])
    ):
        found.append("enter opened another item than the highlighted one")
    return found


@pytest.mark.parametrize("seed", [1, 2])
async def test_random_keys_on_the_results_screen(seed, random_keys):
    rng = random.Random(seed)
    keys = random_keys or 40
    app = app_with(cloze_set(40))
    async with app.run_test(size=(100, 30)) as pilot:
        await filled(pilot)
        pressed: list[str] = []
        for _ in range(keys):
            screen = app.get_screen("results")
            searching = app.focused is not None and app.focused.id == "results-find"
            key = rng.choice(TYPED if searching else RESULT_KEYS)
            highlighted = screen.highlighted_index
            opening = (
                key == "enter"
                and app.screen is screen
                and not searching
                and highlighted is not None
                and "text" in screen.items[highlighted]
            )
            pressed.append(key)
            await pilot.press(key)
            with contextlib.suppress(asyncio.TimeoutError):
                await filled(pilot)
            opened = screen.items[highlighted] if opening else None
            problems = _results_violations(app, opened)
            assert not problems, f"seed {seed}, keys {pressed}: {problems}"


# ------------------------------------------------------------------------------------------ snapshots


def _snapshot_app(compare: bool = False):
    if compare:

        def rows(engine):
            salt = 0 if engine.info.name == "fake-bert" else 1
            return [cloze_row(i, salt) for i in range(30)]

        return app_with(fake_set(rows), compare=True)
    return app_with(cloze_set(30))


async def _filled_and_moved(pilot):
    await filled(pilot)
    await pilot.press("down", "down")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_results(snap_compare, size):
    assert snap_compare(_snapshot_app(), terminal_size=size, run_before=_filled_and_moved)


def test_snapshot_results_compare(snap_compare):
    assert snap_compare(_snapshot_app(compare=True), terminal_size=(120, 40), run_before=_filled_and_moved)


def test_snapshot_pair_in_the_explorer(snap_compare):
    def rows(_engine):
        return [pair_row(i) for i in range(6)]

    async def run_before(pilot):
        await filled(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    app = app_with(fake_set(rows, kind="pairs"))
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


# ------------------------------------------------------------------------------------------ the pure view


def test_order_and_filters_against_plain_code():
    """Every column, both directions, every filter: the view's choice equals a plain loop's."""
    from mlm_tui.probes import view

    rng = random.Random(7)
    items = [cloze_row(i, rng.randrange(5)) for i in range(60)]
    for n in (5, 17, 40):
        items[n] = {"line": n + 1, "error": "no [MASK] in the text"}
    columns = view.columns("cloze", k=10)
    shown = list(range(len(items)))
    for column in columns:
        for reverse in (False, True):
            got = view.order(items, shown, column, reverse=reverse)
            values = {i: column.value(items[i]) for i in shown}
            present = [i for i in shown if values[i] is not None]
            missing = [i for i in shown if values[i] is None]

            def plain(i, values=values):
                v = values[i]
                return v.lower() if isinstance(v, str) else v

            by_value = sorted(present, key=lambda i, plain=plain: (plain(i), i))
            expected = (by_value[::-1] if reverse else by_value) + missing
            assert got == expected, (column.key, reverse)
    for name, accept in view.outcomes("cloze", k=10):
        for group in (None, "beta"):
            for search in ("", "HEART"):
                keep = view.Filter(group, (name, accept), search)
                expected = []
                for item in items:
                    if group is not None and item.get("group") != group:
                        continue
                    if name == "errors" and "error" not in item:
                        continue
                    if name not in ("all", "errors"):
                        if "error" in item:
                            continue
                        hit = item["hit@1"] if name.endswith("@1") else item["hit@k"]
                        if hit != name.startswith("hit"):
                            continue
                    text = (item.get("text", "") + item.get("answer", "") + item.get("error", "")).lower()
                    if search and search.lower() not in text + (item.get("group") or ""):
                        continue
                    expected.append(item["line"])
                assert [i["line"] for i in items if keep(i)] == expected, (name, group, search)


# ------------------------------------------------------------------------------------------ failures


async def test_a_model_that_cannot_load_is_one_line_and_the_app_goes_on():
    from fakes import failing_loader

    app = make_app(
        "Paris is the capital of France.",
        loader=failing_loader("no model called nope"),
        results=cloze_set(5),
    )
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await filled(pilot)
        assert screen.state.stage == "failed" and "nope" in screen.state.note
        assert screen.table.row_count == 0 and status(screen).startswith("0 of 0 shown · 0 items")
        await pilot.press("s", "g", "h", "enter", "x")  # nothing to act on: nothing happens, no crash
        await pilot.pause()
        assert app.screen is screen


async def test_a_run_that_breaks_keeps_the_items_it_had():
    from mlm_tui.engine import EngineError

    def rows(_engine):
        yield from (cloze_row(i) for i in range(7))
        raise EngineError("the model ran out of memory")

    def results(engine):
        return rows(engine)

    probe_set = ProbeSet("fake.tsv", "cloze", "plain-cloze", results, k=10, n_boot=10, total=20)
    app = app_with(probe_set)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await filled(pilot)
        assert screen.state.stage == "failed" and "out of memory" in screen.state.note
        assert table_lines(screen) == list(range(1, 8))
        assert any("out of memory" in n.message for n in app._notifications)
        await pilot.press("enter")
        await settle(pilot)
        assert app.explorer.snapshot.text == cloze_row(0)["text"]  # the items it had still open


async def test_opening_another_set_stops_the_first(tmp_path):
    gate = threading.Event()
    first = cloze_set(10, gate=gate, after=2)
    second = tmp_path / "pairs.tsv"
    second.write_text("The dogs bark.\tThe dogs barks.\tagreement\n")
    app = app_with(first)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.get_screen("results").table.row_count == 2, "2 rows")
            old = app.get_screen("results")
            await pilot.press("escape")  # to the explorer: the first set still runs
            await pilot.pause()
            app.action_open_probe_set()
            await pilot.pause()
            await pilot.press(*str(second), "enter")
            await pilot.pause()
            screen = app.get_screen("results")
            assert screen is not old and app.screen is screen and screen.probe_set.kind == "pairs"
            gate.set()
            await settle(pilot)
            assert not old.is_attached
            assert all(w.node is not old or w.is_cancelled for w in app.workers)
    finally:
        gate.set()


# ------------------------------------------------------------------------------------------ order while rows arrive


def held_set(n: int, held_at: int) -> tuple[ProbeSet, threading.Event, threading.Event]:
    """A set of ``n`` cloze rows whose run stops before row ``held_at`` until ``go`` is set;
    ``held`` is set once every row before it is in the screen's buffer (the run asks for the next
    row only after handing over the last one), so a test waits for that, not for a time."""
    held, go = threading.Event(), threading.Event()

    def results(_engine):
        for i in range(n):
            if i == held_at:
                held.set()
                go.wait(60)
            yield cloze_row(i)

    return ProbeSet("fake.tsv", "cloze", "plain-cloze", results, k=10, n_boot=10, total=n), held, go


async def rows_in(pilot, count: int) -> ResultsScreen:
    """Let the screen take what the run handed over (a few turns of the event loop, no clock)."""
    screen = pilot.app.get_screen("results")
    for _ in range(100):
        if len(screen.items) >= count:
            break
        await pilot.pause()
    assert len(screen.items) == count
    return screen


@pytest.mark.parametrize("keys", [["S"], ["s", "S"], ["s"]])
async def test_rows_that_arrive_after_a_reverse_or_sort_go_where_the_order_puts_them(keys):
    from mlm_tui.probes import view

    probe_set, held, go = held_set(200, 19)
    app = app_with(probe_set)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await asyncio.to_thread(held.wait, 60)
            screen = await rows_in(pilot, 19)
            await pilot.press(*keys)
            go.set()
            await settle(pilot)
            screen = await filled(pilot)
            assert len(screen.items) == 200
            rows = [cloze_row(i) for i in range(200)]
            if screen.sort_column is None:  # input order, reversed: 200 … 1
                expected = [r["line"] for r in rows][::-1] if screen.reverse else [r["line"] for r in rows]
            else:  # the first column is the line number: its order, reversed or not
                assert screen.columns[screen.sort_column].heading == view.columns("cloze")[0].heading
                expected = sorted(r["line"] for r in rows)[:: -1 if screen.reverse else 1]
            assert screen.reverse == (keys[-1] == "S")
            assert table_lines(screen) == expected
    finally:
        go.set()


# ------------------------------------------------------------------------------------------ the palette on top of the results


async def palette(pilot, title: str) -> None:
    """Run a command from the palette as a user does: ctrl+p, its title, enter."""
    from textual.command import CommandPalette

    await pilot.press("ctrl+p")
    await settle(pilot)
    await pilot.press(*title)
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    if isinstance(pilot.app.screen, CommandPalette):  # nothing offered by that name: close it
        await pilot.press("escape")
        await settle(pilot)


async def test_palette_commands_act_on_the_results_screen_not_the_explorer_under_it(tmp_path):
    from mlm_tui.journal import Journal

    journal = Journal.start(["fake-bert"], top_k=10, directory=tmp_path)
    app = make_app(
        "Paris is the capital of France.",
        loader=instant_loader(FakeEngine()),
        results=cloze_set(30),
        journal=journal,
        export_dir=tmp_path,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        explorer = app.explorer
        before = (explorer.snapshot, explorer.history.past, explorer.sentence.value)
        journaled = journal.path.read_bytes() if journal.path else b""
        for title in ("Mask the selected token", "Edit the sentence", "Clear all masks", "Undo"):
            await palette(pilot, title)
            assert app.screen is screen, title
            assert (explorer.snapshot, explorer.history.past, explorer.sentence.value) == before, title
            assert not explorer.editing, title
            assert (journal.path.read_bytes() if journal.path else b"") == journaled, title
        await palette(pilot, "Reverse the order")  # the results screen's own commands are offered
        assert screen.reverse and table_lines(screen) == list(range(31, 0, -1))
        await palette(pilot, "Back to the explorer")
        assert app.screen is explorer
        await palette(pilot, "Mask the selected token")  # on the explorer, its commands act again
        assert explorer.snapshot != before[0]
    journal.close()


# ------------------------------------------------------------------------------------------ quitting keeps the results


def tally_of(rows, n_boot: int) -> dict:
    from mlm_tui.probes.run import Tally

    tally = Tally("cloze", k=10)
    for row in rows:
        tally.add(row)
    return json.loads(json.dumps(tally.summary(n_boot)))


@pytest.mark.parametrize("keys", [["ctrl+c"], ["q"], ["enter", "q"]])
async def test_quitting_a_run_keeps_what_was_computed_and_exits_130(tmp_path, keys):
    from mlm_tui.probes import report

    probe_set, held, go = held_set(200, 19)
    app = app_with(probe_set, tmp_path)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            assert await asyncio.to_thread(held.wait, 60)
            await rows_in(pilot, 19)
            await pilot.press(*keys)  # enter: from the explorer, the run still going under it
            await pilot.pause()
            assert app.return_code == 130  # as the CLI stopped by ctrl+c
    finally:
        go.set()
    written = sorted(tmp_path.iterdir())
    assert [p.suffix for p in written] == [".json", ".md"] and all("-partial-" in p.name for p in written)
    rows = [cloze_row(i) for i in range(19)]
    document = json.loads(written[0].read_text())
    assert document["items"] == rows and document["models"] == ["fake-bert"]
    assert document["summary"] == tally_of(rows, 0)  # the 19 items, as the screen summed them up
    assert body_of(written[1].read_text(), "fake.tsv") == report.markdown(
        "cloze", [tally_of(rows, 0)], ["fake-bert"], 10
    )
    (line,) = app.kept
    assert "19 of 200 items" in line and str(written[0]) in line and str(written[1]) in line


async def test_quitting_a_finished_set_keeps_it_once_and_exits_0(tmp_path):
    app = app_with(cloze_set(30), tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await filled(pilot)
        await pilot.press("x")
        await pilot.pause()
        exported = sorted(tmp_path.iterdir())
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0
    assert sorted(tmp_path.iterdir()) == exported  # x wrote it: not written twice
    (line,) = app.kept
    assert "stopped" not in line and str(exported[0]) in line
    rows = [cloze_row(i) for i in range(30)] + [{"line": 31, "error": "no [MASK] in the text"}]
    assert json.loads(exported[0].read_text())["summary"] == tally_of(rows, 50)  # with the intervals


def test_the_cli_says_where_the_results_were_kept_and_exits_as_the_app_did(monkeypatch, tmp_path, capsys):
    from mlm_tui import cli
    from mlm_tui.app import MlmApp

    path = tmp_path / "set.tsv"
    path.write_text("The capital of France is [MASK].\tParis\tgeo\n")

    def run(self):  # as if ctrl+c had cut the run short
        self.kept.append("the run stopped after 1 of 2 items; results kept in a.json and a.md")
        self._return_code = 130

    monkeypatch.setattr(MlmApp, "run", run)
    monkeypatch.setattr("mlm_tui.cli.probe.wants_app", lambda args: True)
    assert cli.main(["probe", str(path), "-m", "minilm-mlm-en"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "mlm-tui: the run stopped after 1 of 2 items; results kept in a.json and a.md"


# ------------------------------------------------------------------------------------------ issue 25: 80 columns, N models, grouping

BIAS_TYPES = (
    "race-color",
    "socioeconomic",
    "gender",
    "disability",
    "nationality",
    "sexual-orientation",
    "physical-appearance",
    "religion",
    "age",
)
FIELDS = {"agreement": ("morphology", "subject_verb_agreement"), "island": ("syntax", "island_effects")}


def crows_row(n: int) -> dict:
    more = -20.0 - (n * 7) % 11 + 0.125
    less = -20.0 - (n * 5) % 13 + 0.5
    return {
        "line": n + 2,
        "sent_more": f"People of kind {n} are said to be bad with new phones, as everyone knows.",
        "sent_less": f"People of other kind {n} are said to be bad with new phones, as everyone knows.",
        "direction": "stereo" if n % 3 else "antistereo",
        "group": BIAS_TYPES[n % len(BIAS_TYPES)],
        "sent_more_score": more,
        "sent_less_score": less,
        "score": int(more > less),
    }


def blimp_row(n: int, salt: int = 0) -> dict:
    """A BLiMP item: the paradigm (UID) is the group; field and linguistics_term as BLiMP has them."""
    uid = ("distractor_agreement", "island_wh", "regular_plural_agreement", "adjunct_island")[n % 4]
    field, term = FIELDS["island" if "island" in uid else "agreement"]
    good, bad = -10.0 - (n * 3 + salt) % 7, -10.0 - (n * 5 + 2 * salt) % 6
    return {
        "line": n + 1,
        "good": f"The keys {n} to the long and winding cabinet are on the table.",
        "bad": f"The keys {n} to the long and winding cabinet is on the table.",
        "group": uid,
        "field": field,
        "linguistics_term": term,
        "pll_good": good,
        "pll_bad": bad,
        "correct": good > bad,
    }


def blimp_set(n: int = 24, salts: dict[str, int] | None = None) -> ProbeSet:
    """BLiMP-like rows; with ``salts``, each engine (by name) gets its own scores."""

    def rows(engine):
        salt = (salts or {}).get(engine.info.name, 0)
        return [blimp_row(i, salt) for i in range(n)]

    made = rows(FakeEngine())
    return ProbeSet(
        "blimp.jsonl", "pairs", "blimp", lambda e: iter(rows(e)), k=10, n_boot=50, total=len(made)
    )


def crows_set(n: int = 27) -> ProbeSet:
    rows = [crows_row(i) for i in range(n)]
    return ProbeSet("crows.csv", "crows", "crows", lambda _e: iter(rows), k=10, n_boot=50, total=n)


def three_models(probe_set: ProbeSet, names=("fake-bert", "fake-b", "fake-c")):
    """The app, and a function that opens ``probe_set`` run by three fake models (as --compare B C)."""
    app = make_app(
        "Paris is the capital of France.", options=_options(names[0]), loader=instant_loader(FakeEngine())
    )
    loaders = [(instant_loader(FakeEngine(name=name)), name) for name in names]
    return app, lambda: app.show_results(probe_set, loaders)


DECISIONS = {
    "cloze": ["answer", "top", "rank", "prob", "pieces", "@1", "@10"],
    "pairs": ["PLL good", "PLL bad", "margin", "correct"],
    "crows": ["score more", "score less", "margin", "prefers"],
}


def test_fit_keeps_the_decision_columns_and_shares_the_rest_by_weight():
    """The pure layout against hand-worked widths."""
    from mlm_tui.widgets.results_table import GAP, MIN_FLEX, fit

    # room enough: every column its widest cell
    assert fit([4, 20, 30, 8], [1, 2], 100) == ([4, 20, 30, 8], GAP)
    # 60 cells: 4 + 8 fixed, 3 gaps of 2, 2 edges: 40 for the two sentences (weights 1 and 1)
    assert fit([4, 50, 50, 8], [1, 2], 60) == ([4, 20, 20, 8], GAP)
    # a short one keeps its width, the other takes the rest
    assert fit([4, 10, 50, 8], [1, 2], 60) == ([4, 10, 30, 8], GAP)
    # weights 1 and 2: 39 cells split 13 / 26
    assert fit([4, 50, 50, 8], [1, 2], 59, [1, 1, 2, 1]) == ([4, 13, 26, 8], GAP)
    # too narrow even at the least width: gaps of one, the sentences at MIN_FLEX, the rest as it was
    widths, gap = fit([4, 50, 50, 30], [1, 2], 40)
    assert (widths, gap) == ([4, MIN_FLEX, MIN_FLEX, 30], 1)


@pytest.mark.parametrize("kind", ["cloze", "pairs", "crows"])
@pytest.mark.parametrize("size", [(80, 24), (130, 40)], ids=["80x24", "130x40"])
async def test_the_decision_columns_are_on_screen_at_80x24(kind, size):
    """Every decision column is whole on screen without scrolling; the sentences give way."""
    probe_set = {"cloze": cloze_set(30), "pairs": blimp_set(), "crows": crows_set()}[kind]
    app = app_with(probe_set)
    async with app.run_test(size=size) as pilot:
        screen = await filled(pilot)
        table = screen.table
        visible = table.visible_columns()
        assert set(DECISIONS[kind]) <= set(visible), visible
        assert visible[0] == "line"
        assert table.virtual_size.width <= table.scrollable_content_region.width  # nothing scrolls sideways
        # the sentence columns are cut with … on a narrow screen, never the numbers
        row = screen.items[table.rows[0]]
        drawn = table.render_line(1).text
        for column in screen.columns:
            if not column.flex:
                assert column.text(row).strip() in drawn, column.heading
        if size == (80, 24):
            sentence = {"cloze": "text", "pairs": "good", "crows": "sent_more"}[kind]
            assert row[sentence] not in drawn and "…" in drawn


@pytest.mark.parametrize("size", [(130, 40), (80, 24)], ids=["130x40", "80x24"])
async def test_the_crows_summary_fits_at_130x40_or_says_that_it_scrolls(size):
    app = app_with(crows_set())
    async with app.run_test(size=size) as pilot:
        screen = await filled(pilot)
        summary = screen.summary_table
        rows = summary.row_count
        assert rows == 1 + len(BIAS_TYPES)  # overall and the nine bias types (CrowS has no mean)
        inside = summary.scrollable_content_region.height - 1  # below the heading
        if size == (130, 40):
            assert inside >= rows and summary.border_subtitle == ""
        else:
            assert inside < rows
            assert summary.border_subtitle == f"{inside} of {rows} rows · scroll for more"


async def test_c_chooses_the_sort_column_from_a_list():
    """c, arrows, enter (in one burst): sorted by the chosen column; c, enter on it again: reversed."""
    app = app_with(blimp_set())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await filled(pilot)
        headings = [c.heading for c in screen.columns]
        at = headings.index("margin")
        await pilot.press("c", *["down"] * at, "enter", "down")  # the last down moves in the table
        await pilot.pause()
        rows = [blimp_row(i) for i in range(24)]
        by_margin = [r["line"] for r in sorted(rows, key=lambda r: (r["pll_good"] - r["pll_bad"], r["line"]))]
        assert screen.sort_column == at and table_lines(screen) == by_margin
        # the list closed at once: the key after enter moved the table's cursor (the item kept its row)
        assert app.focused is screen.table and screen.table.cursor_row == by_margin.index(1) + 1
        assert "sorted by margin ↑" in status(screen)
        await pilot.press("c", "enter")  # the list opens on the current column: the same again reverses
        await pilot.pause()
        assert "sorted by margin ↓" in status(screen)
        assert table_lines(screen) == [
            r["line"] for r in sorted(rows, key=lambda r: (-(r["pll_good"] - r["pll_bad"]), -r["line"]))
        ]
        await pilot.press("c", "up", "escape")  # escape: the order stays
        await pilot.pause()
        assert "sorted by margin ↓" in status(screen) and app.focused is screen.table
        await palette(pilot, "Sort by PLL bad")
        assert screen.sort_column == headings.index("PLL bad")
        assert table_lines(screen) == [
            r["line"] for r in sorted(rows, key=lambda r: (r["pll_bad"], r["line"]))
        ]


async def test_three_models_one_column_each_sorted_by_any():
    salts = {"fake-bert": 0, "fake-b": 1, "fake-c": 2}
    app, open_set = three_models(blimp_set(salts=salts))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        open_set()
        screen = await filled(pilot)
        headings = [c.heading for c in screen.columns]
        assert headings[-4:] == ["A margin", "B margin", "C margin", "≠"]
        assert set(headings[-4:]) <= set(screen.table.visible_columns())
        per_model = {name: [blimp_row(i, salt) for i in range(24)] for name, salt in salts.items()}
        # each model's cell: its decision and its margin, from the rows each model gave
        first = screen.items[screen.table.rows[0]]
        for n, name in enumerate(salts):
            row = per_model[name][first["line"] - 1]
            margin = row["pll_good"] - row["pll_bad"]
            expected = f"{'✓' if row['correct'] else '✗'} {margin:+.2f}"
            assert screen.columns[-4 + n].text(first) == expected
        # disagreements first: an item where any model decides otherwise than A
        decisions = [[per_model[name][i]["correct"] for name in salts] for i in range(24)]
        disagree = [i + 1 for i in range(24) if len(set(decisions[i])) > 1]
        agree = [i + 1 for i in range(24) if i + 1 not in disagree]
        assert disagree and agree and table_lines(screen) == disagree + agree
        # sort by C's margin from the list
        await pilot.press("c", *["down"] * headings.index("C margin"), "enter")
        await pilot.pause()
        c_rows = per_model["fake-c"]
        assert table_lines(screen) == [
            r["line"] for r in sorted(c_rows, key=lambda r: (r["pll_good"] - r["pll_bad"], r["line"]))
        ]
        assert "sorted by C margin ↑" in status(screen)
        title = str(screen.summary_table.border_title)
        assert "A fake-bert · B fake-b · C fake-c" in title
        summary = screen.summary_table  # three models' summaries scroll sideways at 80 columns
        inside = summary.scrollable_content_region.height - 1
        rows = summary.row_count
        assert inside < rows and summary.border_subtitle == f"{inside} of {rows} rows · scroll for more"
        assert summary_cells(screen)[0][0] == "overall" and len(summary_cells(screen)[0]) == 1 + 3 * 3


async def test_big_g_groups_blimp_by_field_and_linguistics_term_in_the_summary_order():
    app = app_with(blimp_set())
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await filled(pilot)
        rows = [blimp_row(i) for i in range(24)]

        def expected(key: str) -> list[list[str]]:
            """Accuracy per group of ``key``, worked out here, in the summary's (alphabetical) order,
            which is not the order the groups first appear in."""
            names = sorted({r[key] for r in rows})
            assert names != list(dict.fromkeys(r[key] for r in rows)) or key != "group"
            out = []
            for name in names:
                mine = [r for r in rows if r[key] == name]
                out.append([name, str(len(mine)), f"{100 * sum(r['correct'] for r in mine) / len(mine):.1f}"])
            return out

        heading = screen.summary_table.columns[0].heading
        assert heading == "UID"
        assert [r[:3] for r in summary_cells(screen)[2:]] == expected("group")
        for key in ("field", "linguistics_term"):
            await pilot.press("G")
            await settle(pilot)  # the intervals come from a thread
            ci = summary_cells(screen)[0][3]
            assert ci.startswith("[") and ci.endswith("]"), ci
            assert screen.summary_table.columns[0].heading == key
            cells = summary_cells(screen)
            assert cells[0][:2] == ["overall", "24"]
            assert cells[1][0] == "mean over groups"
            assert [r[:3] for r in cells[2:]] == expected(key)
            # g steps through the groups in the summary's order, then back to all
            order = [r[0] for r in cells[2:]]
            for name in order:
                await pilot.press("g")
                await pilot.pause()
                assert screen.group == name
                assert table_lines(screen) == [r["line"] for r in rows if r[key] == name]
                assert f"group: {name}" in status(screen)
                assert {screen.items[i][key] for i in screen.table.rows} == {name}
            await pilot.press("g")
            await pilot.pause()
            assert screen.group is None and len(table_lines(screen)) == 24
            assert screen.columns[1].key == key  # the group column shows the grouping
        await pilot.press("G")  # back to the paradigms, the run's own summary
        await pilot.pause()
        assert screen.summary_table.columns[0].heading == "UID"
        assert [r[:3] for r in summary_cells(screen)[2:]] == expected("group")


async def test_big_g_does_nothing_for_sets_without_phenomena():
    app = app_with(cloze_set(30))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await filled(pilot)
        before = summary_cells(screen)
        await pilot.press("G")
        await pilot.pause()
        assert screen.grouping == "group" and summary_cells(screen) == before
        keys = {b.binding.key for b in app.active_bindings.values() if b.enabled}
        assert "c" in keys and "G" not in keys


# ------------------------------------------------------------------------------------------ issue 25: snapshots


def _snap_80(app_factory, size, before=None):
    async def run_before(pilot):
        if before is not None:
            await settle(pilot)
            before(pilot.app)
        await filled(pilot)
        await pilot.press("down")
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (130, 40)], ids=["80x24", "130x40"])
@pytest.mark.parametrize("kind", ["pairs", "crows"])
def test_snapshot_results_fit(snap_compare, kind, size):
    app = app_with(blimp_set() if kind == "pairs" else crows_set())
    assert snap_compare(app, terminal_size=size, run_before=_snap_80(app, size))


def test_snapshot_results_three_models_80x24(snap_compare):
    app, open_set = three_models(blimp_set(salts={"fake-bert": 0, "fake-b": 1, "fake-c": 2}))
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=_snap_80(app, (80, 24), lambda _a: open_set())
    )
