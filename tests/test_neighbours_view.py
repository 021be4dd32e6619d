"""Pilot tests of the nearest-contexts view (issue 23 item 3): ``n`` on a token, with an index open.

The real tests build an index with :func:`mlm_tui.index.build_index` on the tiny BERT and compare the
view's rows with a brute-force cosine over transformers' ``output_hidden_states`` written here (the
query of a masked token: the states of the text with that token's id replaced by the mask's). The
fake tests drive every key with :class:`fake_index.FakeIndex`. Keys go in bursts, as a terminal sends
them (``send_raw``), and the tests wait for the workers, never for time.
"""

from __future__ import annotations

import numpy as np
import pytest
from fake_index import FakeIndex
from fakes import FakeEngine, instant_loader, send_raw, settle
from invariants import violations

from mlm_tui.app import make_app
from mlm_tui.index import Index, build_index
from mlm_tui.widgets.views.neighbours import FILTER_NAMES, NO_INDEX

SIZE = (100, 30)
TEXT = "The keys to the cabinet are on the table."
KEYS = 2  # the fake's tokens: [CLS] the keys to the cabinet are on the table . [SEP]
TOL = 2e-3  # float16 vectors: a cosine moves by at most ~1e-3


def column(pane, index: int) -> list[str]:
    return [str(pane.table.get_row_at(r)[index]) for r in range(pane.table.row_count)]


async def burst(pilot, *keys: str) -> None:
    """Keys all at once, as a terminal sends them; then wait for the workers; the screen agrees."""
    send_raw(pilot.app, keys)
    await settle(pilot)
    assert violations(pilot.app) == []


def fake_app(engine: FakeEngine, index=None, text: str = TEXT):
    return make_app(text, loader=instant_loader(engine), index=index)


# ---------------------------------------------------------------------- the fake engine and index


async def test_opens_on_the_first_row_filters_layers_and_title_with_the_fake():
    engine = FakeEngine()
    index = FakeIndex(engine)
    app = fake_app(engine, index)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        await burst(pilot, "home", "right", "n")
        assert screen.view == "neighbours" and pane.shown.kind == "neighbours"
        assert pane.table.cursor_row == 0
        view = pane.views["neighbours"]
        states = engine.hidden_states(pane.encoding, [])
        for layer, same in ((2, None), (2, True), (2, False), (1, False), (1, None)):
            if view.filter != same:
                await burst(
                    pilot,
                    *["z"] * ((list(FILTER_NAMES).index(same) - list(FILTER_NAMES).index(view.filter)) % 3),
                )
            if view.layer != layer:
                await burst(pilot, "less_than_sign" if layer < view.layer else "greater_than_sign")
            assert (view.layer, view.filter) == (layer, same)
            # the reference: brute-force cosine over the fake's vectors of the corpus, written here
            query = states.states[layer, KEYS] / np.linalg.norm(states.states[layer, KEYS])
            scored = []
            for hit in index.rows:
                vector = engine.hidden_states(engine.encode(hit["text"])).states[layer, hit["position"]]
                if same is None or (hit["word"].lower() == "keys") == same:
                    scored.append(
                        (-float(vector @ query / np.linalg.norm(vector)), hit["line"], hit["position"])
                    )
            scored.sort()
            want = scored[: pane.top_k]
            assert column(pane, 1) == [f"{-s:.3f}" for s, _, _ in want]
            assert column(pane, 3) == [str(line) for _, line, _ in want]
            if same:
                assert {w.lower() for w in column(pane, 2)} == {"keys"}
            elif same is False:
                assert "keys" not in {w.lower() for w in column(pane, 2)}
            heading = pane.panel.heading
            assert f"(token {KEYS})" in heading and f"layer {layer} (1,2)" in heading
            assert FILTER_NAMES[same] in heading and f"k {pane.top_k} · exact" in heading
        await burst(pilot, "minus", "minus")
        assert pane.table.row_count == pane.top_k == 8 and "k 8 " in pane.panel.heading
        await burst(pilot, "n")
        assert screen.view is None


async def test_enter_opens_the_context_on_the_match_and_escape_comes_back():
    engine = FakeEngine()
    app = fake_app(engine, FakeIndex(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        await burst(pilot, "home", "right", "right", "right", "m", "left", "left", "n", "z", "less_than_sign")
        view = pane.views["neighbours"]
        before = (screen.snapshot, pane.tokens.selected, pane.tokens.masked, view.layer, view.filter)
        assert before[2] == {4} and before[3:] == (1, True)
        await burst(pilot, "down", "down")
        row = pane.table.cursor_row
        hit = view.hits[row]
        await burst(pilot, "enter")
        assert screen.snapshot.text == hit["text"] and not screen.snapshot.masked_spans
        assert pane.tokens.selected == hit["position"] and screen.view == "neighbours"
        assert pane.shown.kind == "neighbours" and pane.table.cursor_row == 0
        assert f"(token {hit['position']})" in pane.panel.heading
        # a second hop, then escape twice: back through both
        second = view.hits[1]
        await burst(pilot, "down", "enter")
        assert screen.snapshot.text == second["text"]
        await burst(pilot, "escape")
        assert screen.snapshot.text == hit["text"] and pane.tokens.selected == hit["position"]
        assert pane.table.cursor_row == 1
        await burst(pilot, "escape")
        assert (screen.snapshot, pane.tokens.selected, pane.tokens.masked, view.layer, view.filter) == before
        assert pane.table.cursor_row == row and screen.view == "neighbours"
        # the jumps are undo steps, as typed text is
        assert screen.history.can_undo
        await burst(pilot, "escape")
        assert screen.view is None and screen.snapshot == before[0]


async def test_enter_then_escape_in_one_burst():
    """A fast user: n, down, enter, escape in one go come back to the same state."""
    engine = FakeEngine()
    app = fake_app(engine, FakeIndex(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        await burst(pilot, "home", "right", "n")
        snapshot, selected = screen.snapshot, pane.tokens.selected
        await burst(pilot, "down", "enter", "escape")
        assert (screen.snapshot, pane.tokens.selected, screen.view) == (snapshot, selected, "neighbours")
        assert pane.table.cursor_row == 1


async def test_no_index_is_a_hint_and_another_vocabulary_one_line():
    engine = FakeEngine()
    app = fake_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await burst(pilot, "n")
        assert pane.shown.kind == "message"
        assert [str(c.label) for c in pane.table.columns.values()] == [NO_INDEX]
        assert "--index DIR" in NO_INDEX and "palette" in NO_INDEX
    other = FakeIndex(engine, vocab_digest="another-vocab", model="other-model")
    app = fake_app(engine, other)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await burst(pilot, "n")
        (message,) = [str(c.label) for c in pane.table.columns.values()]
        assert "built with other-model" in message and "another vocabulary" in message
        assert "\n" not in message and pane.shown.kind == "message"


async def test_palette_bad_folder_is_one_line_and_keeps_everything(tmp_path):
    engine = FakeEngine()
    index = FakeIndex(engine)
    app = fake_app(engine, index)
    notes: list[str] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: notes.append(m)) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        await burst(pilot, "home", "right", "m", "n")
        before = (screen.snapshot, pane.tokens.selected, [str(c) for c in column(pane, 4)])
        for folder in (tmp_path / "missing", tmp_path):
            await pilot.press("ctrl+p")
            await settle(pilot)
            await pilot.press(*"Open an index", "enter")
            await settle(pilot)
            await pilot.press(*str(folder), "enter")
            await settle(pilot)
        shown = [n for n in app._notifications]
        errors = [n.message for n in shown if n.severity == "error"]
        assert len(errors) == 2 and all("\n" not in e for e in errors)
        assert "no such index folder" in errors[0] and "not an index" in errors[1]
        assert screen.index is index and pane.index is index
        assert (screen.snapshot, pane.tokens.selected, [str(c) for c in column(pane, 4)]) == before
        assert violations(app) == []


# ---------------------------------------------------------------------- a real index, the tiny BERT

QUERY = "The cat sat on the table near the nurse."
TABLE = 6  # [CLS] the cat sat on the table …


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory, bert_dir):
    """An index of test_index's corpus at layers 1 and 2, built by the real builder (PyTorch)."""
    from test_index import CORPUS

    from mlm_tui.engine import MaskedLM

    folder = tmp_path_factory.mktemp("nbview")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    engine = MaskedLM.load(str(bert_dir), backend="torch")
    build_index(engine, str(corpus), folder / "index", [1, 2], show_progress=False)
    return folder / "index"


def reference(bert_dir, layer: int, position: int, masked: bool, k: int, keep=lambda _w: True):
    """Brute force: the query's unit vector from ``output_hidden_states`` (its id replaced by the mask's
    when ``masked``) against every corpus token's, sorted by cosine."""
    import torch
    from test_index import CORPUS, brute_force, reference_vectors
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    model = AutoModelForMaskedLM.from_pretrained(bert_dir).eval()
    ids = tokenizer(QUERY, return_tensors="pt")["input_ids"]
    if masked:
        ids[0, position] = tokenizer.mask_token_id
    with torch.no_grad():
        vector = model(input_ids=ids, output_hidden_states=True).hidden_states[layer][0, position].numpy()
    rows = reference_vectors(bert_dir, CORPUS, layer)
    return brute_force(rows, vector / np.linalg.norm(vector), k, keep)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
async def test_rows_equal_brute_force_cosine_over_output_hidden_states(backend, bert_dir, tiny_index):
    from test_index import assert_same_hits

    from mlm_tui.engine import MaskedLM

    engine = MaskedLM.load(str(bert_dir), backend=backend)
    app = make_app(QUERY, loader=instant_loader(engine), index=Index(tiny_index))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen, pane = app.explorer, app.explorer.active
        assert pane.encoding.tokens[TABLE].text == "table"
        await burst(pilot, "home", *["right"] * (TABLE - 1), "n")
        view = pane.views["neighbours"]
        k = pane.top_k
        for keys, layer, masked, same in (
            ((), 2, False, None),
            (("z",), 2, False, True),
            (("z",), 2, False, False),
            (("less_than_sign", "z"), 1, False, None),
            (("m",), 1, True, None),  # masked: the states of the masked text, as the lens reads them
            (("greater_than_sign", "z"), 2, True, True),
        ):
            await burst(pilot, *keys)
            assert (view.layer, view.filter, pane.tokens.is_masked(TABLE)) == (layer, same, masked)
            assert pane.shown.kind == "neighbours" and pane.table.cursor_row == 0
            keep = (lambda _w: True) if same is None else (lambda w, s=same: (w.lower() == "table") == s)
            expected = reference(bert_dir, layer, TABLE, masked, k, keep)
            assert_same_hits(view.hits, expected, k)
            # the table shows those hits, the title what they are
            assert column(pane, 1) == [f"{h['score']:.3f}" for h in view.hits]
            assert column(pane, 3) == [str(h["line"]) for h in view.hits]
            heading = pane.panel.heading
            assert f"(token {TABLE})" in heading and f"layer {layer} (1,2)" in heading
            assert f"{FILTER_NAMES[same]} · k {k} · exact" in heading
        # enter on the second hit: its sentence, the cursor on the matched token; escape: back
        before = (screen.snapshot, pane.tokens.selected, view.layer, view.filter)
        await burst(pilot, "down")
        hit = view.hits[1]
        await burst(pilot, "enter")
        assert screen.snapshot.text == hit["text"] and pane.tokens.selected == hit["position"]
        token = pane.encoding.tokens[hit["position"]]
        assert (token.start, token.end, token.text) == (hit["start"], hit["end"], hit["token_str"])
        await burst(pilot, "escape")
        assert (screen.snapshot, pane.tokens.selected, view.layer, view.filter) == before
        assert pane.table.cursor_row == 1 and pane.tokens.is_masked(TABLE)


async def test_palette_opens_an_index(bert_dir, tiny_index):
    from mlm_tui.engine import MaskedLM

    engine = MaskedLM.load(str(bert_dir), backend="torch")
    app = make_app(QUERY, loader=instant_loader(engine))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await burst(pilot, "n")
        assert [str(c.label) for c in pane.table.columns.values()] == [NO_INDEX]
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"Open an index", "enter")
        await settle(pilot)
        await pilot.press(*str(tiny_index), "enter")
        await settle(pilot)
        assert pane.shown.kind == "neighbours" and pane.table.row_count == pane.top_k
        assert violations(app) == []


async def test_another_model_is_one_line(roberta_dir, tiny_index):
    from mlm_tui.engine import MaskedLM

    engine = MaskedLM.load(str(roberta_dir), backend="torch")
    app = make_app(QUERY, loader=instant_loader(engine), index=Index(tiny_index))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await burst(pilot, "n")
        (message,) = [str(c.label) for c in pane.table.columns.values()]
        assert "another vocabulary" in message and "\n" not in message


def test_cli_index_flag_bad_folder_is_one_line_exit_2(tmp_path, capsys):
    from mlm_tui import cli

    status = cli.main(["hello", "--index", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "no such index folder" in err


@pytest.mark.parametrize("width", [12, 20, 30, 200])
@pytest.mark.parametrize("match", [(0, 3), (24, 28), (70, 74)])
def test_the_sentence_is_cut_around_the_match_to_its_column(width, match):
    from mlm_tui.widgets.views.neighbours import MATCH_STYLE, context_cell

    text = "The old man went to the bank to deposit a cheque before noon today in town."
    cell = context_cell(text, *match, width)
    assert len(cell.plain) <= width
    (span,) = [s for s in cell.spans if s.style == MATCH_STYLE]
    assert cell.plain[span.start : span.end] == text[match[0] : match[1]]
    assert cell.plain.strip("…") in text


async def test_an_unfinished_index_says_so_in_the_title():
    engine = FakeEngine()
    app = fake_app(engine, FakeIndex(engine, complete=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        pane = app.explorer.active
        await burst(pilot, "n")
        assert pane.shown.kind == "neighbours" and pane.panel.heading.endswith("exact · unfinished index")
