"""Two models side by side: Pilot tests with fake engines, and the headless compare against two pipelines."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from fakes import FakeEngine, failing_loader, instant_loader, settle

from mlm_tui.app import MlmApp, make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.widgets.model_pane import ModelPane

WIDE = (130, 40)
TEXT = "The keys to the cabinet are on the table."


def pane(app: MlmApp, which: str) -> ModelPane:
    return app.explorer.query_one(f"#{which}", ModelPane)


def masked_chars(p: ModelPane) -> list[str]:
    """The characters each masked token of a pane covers, in the session's text."""
    text = p.snapshot.text
    return [text[slice(*p.session_span(i))] for i in p.tokens.all_masks]


def compare_app(left: FakeEngine, right: FakeEngine | None, text: str = TEXT, **kwargs) -> MlmApp:
    return make_app(
        text,
        options=EngineOptions(model=left.info.name),
        compare=EngineOptions(model=right.info.name if right else "broken"),
        loader=instant_loader(left),
        compare_loader=instant_loader(right) if right else failing_loader("no such model folder: broken"),
        **kwargs,
    )


def reference_kl(p_log: np.ndarray, q_log: np.ndarray) -> float:
    p = np.exp(p_log.astype(np.float64))
    return float(sum(pi * (a - b) for pi, a, b in zip(p, p_log, q_log, strict=True) if pi > 0))


async def test_masking_in_one_pane_masks_the_same_characters_in_the_other():
    # the right model cuts words after 4 letters: "cabinet" is one token left, two right
    left, right = FakeEngine(name="left-model"), FakeEngine(name="right-model", split=4, salt="b")
    app = compare_app(left, right)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        assert [t.display for t in b.encoding.tokens if not t.special][4:6] == ["cab", "inet"]
        await pilot.press("w", "w", "w", "w", "m")  # "cabinet" in the left pane
        await settle(pilot)
        assert masked_chars(a) == ["cabinet"]
        assert masked_chars(b) == ["cab", "inet"]  # every token that covers those characters
        # both predicted, each with its own engine
        assert a.predictions is not None and b.predictions is not None
        assert [m.position for m in b.predictions.masks] == sorted(b.tokens.all_masks)
        top_a = a.mask_result().predictions[0]
        top_b = b.mask_at(a.session_span(a.shown_mask())).predictions[0]
        line = app.explorer.comparison.line
        assert repr(top_a.token_str) in line and repr(top_b.token_str) in line
        # the two share a vocabulary: KL(A‖B) over the whole vocabulary, checked against a plain sum
        dist_a = left.predict(a.encoding, a.tokens.masked, top_k=10, full=True).masks[0].log_probs
        right_masks = right.predict(b.encoding, b.tokens.masked, top_k=10, full=True).masks
        expected = reference_kl(dist_a, right_masks[0].log_probs)
        assert f"KL(A‖B) {expected:.3f}" in line
        # each pane names its model and the time its prediction took
        assert "left-model" in a.tokens.border_title and "right-model" in b.tokens.border_title
        assert "12 ms" in a.panel.border_title and "12 ms" in b.panel.border_title


async def test_tab_reaches_the_second_pane_and_it_drives_both():
    left, right = FakeEngine(name="a"), FakeEngine(name="b", salt="b")
    app = compare_app(left, right)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        assert app.focused is a.tokens
        await pilot.press("tab", "tab")  # left table, then the right pane's tokens
        assert app.focused is b.tokens and app.explorer.active is b
        await pilot.press("right", "m")  # "keys" in the right pane
        await settle(pilot)
        assert masked_chars(a) == masked_chars(b) == ["keys"]
        # enter puts the right model's highlighted prediction in the sentence, seen by both panes
        chosen = b.mask_result().predictions[1].token_str
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.explorer.sentence.value == f"The {chosen} to the cabinet are on the table."
        assert a.encoding.text == b.encoding.text == app.explorer.sentence.value
        assert a.tokens.all_masks == b.tokens.all_masks == ()
        await pilot.press("u")
        await settle(pilot)
        assert masked_chars(a) == masked_chars(b) == ["keys"]


async def test_other_vocabularies_compare_by_top_k_overlap():
    left, right = FakeEngine(name="a"), FakeEngine(name="b", salt="b", vocab="other")
    app = compare_app(left, right, text="Paris is the [MASK] of France.")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)  # it opens on the typed mask (issue 25, item 4)
        a, b = pane(app, "left"), pane(app, "right")
        assert a.shown.kind == "predictions"
        assert a.predictions.masks[0].log_probs is None  # no whole distributions asked for
        words_a = {p.token_str for p in a.mask_result().predictions}
        words_b = {p.token_str for p in b.mask_result().predictions}
        line = app.explorer.comparison.line
        assert "KL" not in line
        assert f"overlap {len(words_a & words_b)}/10" in line


async def test_a_typed_mask_works_when_the_mask_tokens_differ():
    left, right = FakeEngine(name="bert-like"), FakeEngine(name="roberta-like", mask_token="<mask>", salt="r")
    app = compare_app(left, right, text="Paris is the [MASK] of France.")
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        assert a.tokens.all_masks and b.tokens.all_masks
        assert "<mask>" in b.tokens.plain.replace("\n", " ") and "[MASK]" in a.tokens.plain.replace("\n", " ")
        assert b.table.row_count == 10 and a.table.row_count == 10
        # the sentence keeps what the user typed; masking after the typed mask lines up in both
        assert app.explorer.sentence.value == "Paris is the [MASK] of France."
        await pilot.press("end", "left", "m")  # "France"
        await settle(pilot)
        assert masked_chars(a)[-1] == masked_chars(b)[-1] == "France"


async def test_a_second_model_that_cannot_load_leaves_the_first_working():
    app = compare_app(FakeEngine(name="good"), None)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        assert b.error and "no such model folder" in b.tokens.plain.replace("\n", " ")
        assert "broken · not loaded" in str(app.explorer.status.render())
        await pilot.press("right", "m")
        await settle(pilot)
        assert a.table.row_count == 10


async def test_surprisal_of_both_models_and_the_difference():
    left, right = FakeEngine(name="a"), FakeEngine(name="b", salt="bb")
    app = compare_app(left, right)
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        await pilot.press("s", "right")  # "keys"
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        sa = next(t.surprisal for t in left.score(a.encoding).tokens if t.token == "keys")
        sb = next(t.surprisal for t in right.score(b.encoding).tokens if t.token == "keys")
        line = app.explorer.comparison.line
        assert f"A {sa:.2f}" in line and f"B {sb:.2f}" in line and f"B−A {sb - sa:+.2f}" in line
        assert a.tokens.surprisal and b.tokens.surprisal


async def test_the_palette_adds_and_removes_the_second_model():
    engines = {"first": FakeEngine(name="first"), "second": FakeEngine(name="second", salt="2")}
    app = make_app(
        TEXT,
        options=EngineOptions(model="first"),
        loader_factory=lambda options: instant_loader(engines[options.model]),
    )
    async with app.run_test(size=WIDE) as pilot:
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Compare with another model" in titles
        await pilot.press("right", "m")
        await settle(pilot)
        app.explorer.action_compare()
        await pilot.pause()
        await pilot.press(*"second", "enter")
        await settle(pilot)
        right = pane(app, "right")
        assert right.engine is engines["second"]
        assert masked_chars(right) == ["keys"]  # the second model starts on the same masks
        assert "Close the second model" in [c.title for c in app.get_system_commands(app.screen)]
        app.explorer.remove_compare()
        await settle(pilot)
        assert app.explorer.right is None and not app.explorer.comparison.display


@pytest.mark.parametrize(("size", "stacked"), [((80, 24), True), ((130, 40), False)])
async def test_panes_stack_on_narrow_terminals(size, stacked, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = compare_app(FakeEngine(name="a"), FakeEngine(name="b", salt="b"))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.press("right", "m")
        await settle(pilot)
        a, b = pane(app, "left"), pane(app, "right")
        assert app.explorer.query_one("#panes").has_class("stacked") is stacked
        if stacked:
            assert b.region.y > a.region.y
        else:
            assert b.region.x > a.region.x
        for p in (a, b):
            assert p.table.region.height >= 3 and p.table.row_count == 10
        assert app.explorer.status.region.y < size[1]


# ---------------------------------------------------------------- headless, against the real pipeline


def _pipeline(path, text):
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(path), tokenizer=str(path), device="cpu")
    return fill(text, top_k=5)


def _full_log_probs(path, text, mask_token):
    """The whole distribution at the (single) mask from a plain full forward pass."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForMaskedLM.from_pretrained(str(path), dtype=torch.float32).eval()
    inputs = tokenizer(text.replace("[MASK]", mask_token), return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[0]
    at = int((inputs["input_ids"][0] == tokenizer.mask_token_id).nonzero()[0])
    return torch.log_softmax(logits[at].double(), dim=-1).numpy()


def _run_cli(capsys, *argv):
    from mlm_tui.cli import main

    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def second_bert(tmp_path_factory):
    from tiny_models import save_bert

    return save_bert(tmp_path_factory.mktemp("tiny-bert-b"), seed=7)


def test_compare_json_equals_two_pipelines_and_kl_equals_the_reference(capsys, bert_dir, second_bert):
    text = "Paris is the [MASK] of France."
    out = _run_cli(capsys, "predict", text, "--model", str(bert_dir), "--compare", str(second_bert), "--json")
    assert out["models"] == [str(bert_dir), str(second_bert)]
    (mask,) = out["masks"]
    assert text[slice(*mask["span"])] == "[MASK]"
    for got, path in zip(mask["predictions"], (bert_dir, second_bert), strict=True):
        want = _pipeline(path, text)
        assert [r["token"] for r in got] == [r["token"] for r in want]
        assert [r["token_str"] for r in got] == [r["token_str"] for r in want]
        assert [r["sequence"] for r in got] == [r["sequence"] for r in want]
        assert all(abs(g["score"] - w["score"]) < 1e-5 for g, w in zip(got, want, strict=True))
    p = _full_log_probs(bert_dir, text, "[MASK]")
    q = _full_log_probs(second_bert, text, "[MASK]")
    kl = float(np.sum(np.exp(p) * (p - q)))
    m = np.log((np.exp(p) + np.exp(q)) / 2)
    js = 0.5 * float(np.sum(np.exp(p) * (p - m))) + 0.5 * float(np.sum(np.exp(q) * (q - m)))
    assert mask["kl"] == pytest.approx(kl, abs=1e-5)
    assert mask["js"] == pytest.approx(js, abs=1e-5)
    top_a, top_b = mask["predictions"][0][0]["token"], mask["predictions"][1][0]["token"]
    assert mask["top1_rank_in_other"] == [1 + int(np.sum(q > q[top_a])), 1 + int(np.sum(p > p[top_b]))]


def test_compare_with_another_vocabulary_has_no_kl(capsys, bert_dir, roberta_dir):
    text = "Paris is the [MASK] of France."
    out = _run_cli(capsys, "predict", text, "--model", str(bert_dir), "--compare", str(roberta_dir), "--json")
    (mask,) = out["masks"]
    assert mask["kl"] is None and mask["js"] is None
    want = _pipeline(roberta_dir, text.replace("[MASK]", "<mask>"))
    assert [r["token"] for r in mask["predictions"][1]] == [r["token"] for r in want]
    assert text[slice(*mask["span"])] == "[MASK]"


def test_compare_tables_side_by_side(capsys, bert_dir, second_bert):
    from mlm_tui.cli import main

    assert main(["predict", "A [MASK] day.", "--model", str(bert_dir), "--compare", str(second_bert)]) == 0
    out = capsys.readouterr().out
    assert f"A = {bert_dir}" in out and f"B = {second_bert}" in out
    first_row = next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert first_row.count("%") == 2  # both models' first candidates on one line: two columns
    assert "KL(A‖B)" in out
    assert math.isfinite(float(out.split("KL(A‖B) ")[1].split()[0]))


def test_compare_model_that_cannot_load_is_one_line(bert_dir):
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlm_tui",
            "predict",
            "A [MASK].",
            "--model",
            str(bert_dir),
            "--compare",
            "/nope",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "nope" in done.stderr
