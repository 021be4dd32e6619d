"""Salience of a prediction (issue 22, item 4), against plain reference code written here.

The reference: the model loaded again with transformers, its word embeddings taken by hand, and
``model(inputs_embeds=...)`` run once per integrated-gradients step with ``torch.autograd.grad`` (the
midpoint rule, (k + ½) / steps, written out); gradient × input from one autograd call; the baseline built
by hand (every token but the first and last replaced by the mask token's embedding, or by zeros);
``log p(target | x) − log p(target | baseline)`` from the same forward passes. Where captum is
importable, its ``LayerIntegratedGradients`` on ``get_input_embeddings()`` with ``riemann_middle``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_cli import assert_one_line_error, run
from tiny_models import save_bert

from mlm_tui import cli
from mlm_tui.engine import BUNDLED_MODEL, EngineError, MaskedLM, SalienceResult, bundled_models
from mlm_tui.engine.salience import STEP_TOKENS

TEXT = "The cat sat on the [MASK] near the door of the house."
PLAIN = "The cat sat on the mat near the door of the house."
PARIS = "Paris is the [MASK] of France."
KINDS = [("bert", "bert_dir"), ("roberta", "roberta_dir"), ("distilbert", "distilbert_dir")]


@pytest.fixture(scope="session")
def distilbert_dir(tmp_path_factory):
    return save_bert(tmp_path_factory.mktemp("tiny-distilbert"), model_type="distilbert")


_engines: dict[tuple[str, str], MaskedLM] = {}
_references: dict[str, Reference] = {}


def engine(folder, backend: str = "torch") -> MaskedLM:
    key = (str(folder), backend)
    if key not in _engines:
        _engines[key] = MaskedLM.load(str(folder), backend=backend)
    return _engines[key]


class Reference:
    """The model as transformers loads it, and the attributions computed the plain way."""

    def __init__(self, folder) -> None:
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForMaskedLM.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.mask_id = self.tokenizer.mask_token_id

    def ids(self, text: str) -> list[int]:
        text = text.replace("[MASK]", self.tokenizer.mask_token)
        return list(self.tokenizer(text)["input_ids"])

    def embeddings(self, ids: list[int]):
        with self.torch.no_grad():
            return self.model.get_input_embeddings()(self.torch.tensor([ids]))[0]

    def baseline(self, ids: list[int], kind: str):
        """Every token but [CLS] and [SEP] (<s>, </s>) gets the mask token's word embedding, or zeros."""
        x = self.embeddings(ids)
        fill = self.embeddings([self.mask_id])[0] if kind == "mask" else self.torch.zeros(x.shape[1])
        keep = self.torch.tensor(
            [i in (self.tokenizer.cls_token_id, self.tokenizer.sep_token_id) for i in ids]
        )
        return self.torch.where(keep[:, None], x, fill)

    def log_prob(self, embeds, position: int, target: int):
        ones = self.torch.ones(embeds.shape[:2], dtype=self.torch.long)
        logits = self.model(inputs_embeds=embeds, attention_mask=ones).logits
        return self.torch.log_softmax(logits[:, position], dim=-1)[:, target]

    def integrated_gradients(self, ids: list[int], position: int, target: int, kind: str, steps: int):
        """(attributions, log p(x) − log p(baseline)): one forward and backward pass per step."""
        x, b = self.embeddings(ids), self.baseline(ids, kind)
        total = self.torch.zeros(len(ids))
        for k in range(steps):
            point = (b + (k + 0.5) / steps * (x - b)).requires_grad_(True)
            (grad,) = self.torch.autograd.grad(self.log_prob(point[None], position, target).sum(), point)
            total += (grad * (x - b)).sum(-1) / steps
        with self.torch.no_grad():
            expected = self.log_prob(x[None], position, target) - self.log_prob(b[None], position, target)
        return total.numpy(), float(expected[0])

    def grad_input(self, ids: list[int], position: int, target: int):
        x = self.embeddings(ids).requires_grad_(True)
        log_prob = self.log_prob(x[None], position, target)
        (grad,) = self.torch.autograd.grad(log_prob.sum(), x)
        return (grad * x).sum(-1).detach().numpy(), float(log_prob[0].detach())

    def top1(self, ids: list[int], position: int) -> int:
        with self.torch.no_grad():
            return int(self.model(input_ids=self.torch.tensor([ids])).logits[0, position].argmax())


def reference(folder) -> Reference:
    if str(folder) not in _references:
        _references[str(folder)] = Reference(folder)
    return _references[str(folder)]


def some_target(ref: Reference, ids: list[int], position: int) -> int:
    """The reference's top-1 at the mask: a token the random model leans to (log p far from the baseline's)."""
    return ref.top1(ids, position)


# ---------------------------------------------------------------- against the plain loop


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
@pytest.mark.parametrize("baseline", ["mask", "zero"])
def test_integrated_gradients_equal_a_plain_loop_over_the_steps(request, model_type, fixture, baseline):
    folder = request.getfixturevalue(fixture)
    lm, ref = engine(folder), reference(folder)
    encoding = lm.encode(TEXT)
    ids = ref.ids(TEXT)
    assert list(encoding.ids) == ids
    position = encoding.mask_positions[0]
    target = some_target(ref, ids, position)
    for steps in (1, 7, 20):
        result = lm.salience(encoding, position, target, steps=steps, baseline=baseline)
        attributions, expected = ref.integrated_gradients(ids, position, target, baseline, steps)
        np.testing.assert_allclose(result.attributions, attributions, atol=1e-5, rtol=1e-5)
        assert result.completeness[1] == pytest.approx(expected, abs=1e-5)
        assert result.completeness[0] == pytest.approx(float(attributions.sum()), abs=1e-4)
        assert (result.method, result.steps, result.baseline, result.target) == (
            "ig",
            steps,
            baseline,
            target,
        )
    with ref.torch.no_grad():
        log_prob = ref.log_prob(ref.embeddings(ids)[None], position, target)
    assert result.log_prob == pytest.approx(float(log_prob[0]), abs=1e-5)
    assert result.tokens == tuple(t.text for t in encoding.tokens) and result.ids == tuple(ids)


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
def test_grad_times_input_equals_plain_autograd(request, model_type, fixture):
    folder = request.getfixturevalue(fixture)
    lm, ref = engine(folder), reference(folder)
    encoding = lm.encode(TEXT)
    ids, position = ref.ids(TEXT), encoding.mask_positions[0]
    target = some_target(ref, ids, position)
    result = lm.salience(encoding, position, target, method="grad-input")
    attributions, log_prob = ref.grad_input(ids, position, target)
    np.testing.assert_allclose(result.attributions, attributions, atol=1e-5, rtol=1e-5)
    assert result.log_prob == pytest.approx(log_prob, abs=1e-5)
    assert (result.steps, result.baseline) == (0, "")
    assert all(math.isnan(v) for v in result.completeness)


def test_masked_positions_are_masks_for_the_reference_too(bert_dir):
    """``masked=``: a token masked on top of the text's own masks is a mask in the input explained."""
    lm, ref = engine(bert_dir), reference(bert_dir)
    encoding = lm.encode(PLAIN)
    position = [t.text for t in encoding.tokens].index("mat")
    ids = list(encoding.ids)
    ids[position] = ref.mask_id
    target = some_target(ref, ids, position)
    result = lm.salience(encoding, position, target, [position], steps=5)
    attributions, _ = ref.integrated_gradients(ids, position, target, "mask", 5)
    np.testing.assert_allclose(result.attributions, attributions, atol=1e-5, rtol=1e-5)
    assert result.ids == tuple(ids)


# ---------------------------------------------------------------- completeness at the default steps


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
@pytest.mark.parametrize("baseline", ["mask", "zero"])
def test_completeness_within_one_percent_at_the_default_steps(request, model_type, fixture, baseline):
    folder = request.getfixturevalue(fixture)
    lm, ref = engine(folder), reference(folder)
    encoding = lm.encode(TEXT)
    position = encoding.mask_positions[0]
    result = lm.salience(encoding, position, some_target(ref, ref.ids(TEXT), position), baseline=baseline)
    assert result.steps == 20
    total, expected = result.completeness
    assert total == pytest.approx(sum(result.attributions), abs=1e-5)
    assert abs(total - expected) <= 0.01 * abs(expected), result.completeness


@pytest.mark.parametrize("baseline", ["mask", "zero"])
def test_completeness_on_the_trained_model(bundled_engine, baseline):
    """Paris … capital on the bundled model: the sum is log p(x) − log p(baseline) (by hand) within 1 %."""
    ref = reference(bundled_models()[BUNDLED_MODEL])
    encoding = bundled_engine.encode(PARIS)
    position = encoding.mask_positions[0]
    result = bundled_engine.salience(encoding, position, "capital", baseline=baseline)
    ids = ref.ids(PARIS)
    target = ref.tokenizer.convert_tokens_to_ids("capital")
    assert result.target == target and result.target_str == "capital"
    with ref.torch.no_grad():
        log_x = float(ref.log_prob(ref.embeddings(ids)[None], position, target)[0])
        log_b = float(ref.log_prob(ref.baseline(ids, baseline)[None], position, target)[0])
    assert result.log_prob == pytest.approx(log_x, abs=1e-5)
    assert result.completeness[1] == pytest.approx(log_x - log_b, abs=1e-5)
    assert abs(result.completeness[0] - (log_x - log_b)) <= 0.01 * abs(log_x - log_b), result.completeness
    # the special tokens and (mask baseline) the mask itself are where the baseline is the input
    assert result.attributions[0] == result.attributions[-1] == 0.0
    if baseline == "mask":
        assert result.attributions[position] == 0.0


def test_the_log_prob_is_the_one_predict_gives(bundled_engine):
    encoding = bundled_engine.encode(PARIS)
    result = bundled_engine.salience(encoding, encoding.mask_positions[0], "capital", method="grad-input")
    (mask,) = bundled_engine.predict(encoding, targets=["capital"]).masks
    assert result.log_prob == pytest.approx(mask.targets[0].log_prob, abs=1e-5)


captum_parameters = [("bert_dir", "The cat sat on the [MASK] near the door of the house."), (None, PARIS)]


@pytest.mark.parametrize(("fixture", "text"), captum_parameters, ids=["tiny-bert", "bundled"])
def test_integrated_gradients_equal_captums_layer_integrated_gradients(request, fixture, text):
    """captum's LayerIntegratedGradients on the word embeddings, riemann_middle, the mask baseline as ids."""
    pytest.importorskip("captum.attr", reason="captum is not installed (optional: pip install captum)")
    from captum.attr import LayerIntegratedGradients

    folder = request.getfixturevalue(fixture) if fixture else bundled_models()[BUNDLED_MODEL]
    lm, ref = engine(folder), reference(folder)
    torch = ref.torch
    ids = ref.ids(text)
    position = ids.index(ref.mask_id)
    target = some_target(ref, ids, position)
    special = (ref.tokenizer.cls_token_id, ref.tokenizer.sep_token_id)
    baseline_ids = [i if i in special else ref.mask_id for i in ids]

    def forward(input_ids):
        logits = ref.model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).logits
        return torch.log_softmax(logits[:, position], dim=-1)[:, target]

    lig = LayerIntegratedGradients(forward, ref.model.get_input_embeddings())
    attributions, delta = lig.attribute(
        torch.tensor([ids]),
        baselines=torch.tensor([baseline_ids]),
        n_steps=20,
        method="riemann_middle",
        return_convergence_delta=True,
    )
    result = lm.salience(lm.encode(text), position, target)
    np.testing.assert_allclose(result.attributions, attributions[0].sum(-1).detach().numpy(), atol=1e-5)
    total, expected = result.completeness
    assert total - expected == pytest.approx(float(delta[0]), abs=1e-4)


# ---------------------------------------------------------------- requests the engine refuses


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"method": "lime"}, "unknown salience method"),
        ({"baseline": "blur"}, "unknown baseline"),
        ({"steps": 0}, "steps"),
        ({"steps": 100_000}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"steps": True}, "steps"),
    ],
)
def test_bad_options_are_one_line_engine_errors(bert, kwargs, needle):
    encoding = bert.encode(TEXT)
    with pytest.raises(EngineError, match=needle) as caught:
        bert.salience(encoding, encoding.mask_positions[0], "cat", **kwargs)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("where", "target", "needle"),
    [
        ("mask", "nurse", "2 pieces"),  # n ##urse in the tiny vocabulary
        ("mask", "☃", "not in this model's vocabulary"),  # [UNK]
        ("mask", 10_000, "outside the vocabulary"),
        ("mask", -1, "outside the vocabulary"),
        ("mask", 2.0, "token id or a word"),
        ("word", "cat", "not a mask"),
        ("far", "cat", "outside the text"),
    ],
)
def test_bad_targets_and_positions(bert, where, target, needle):
    encoding = bert.encode(TEXT)
    position = {"mask": encoding.mask_positions[0], "word": 1, "far": 99}[where]
    with pytest.raises(EngineError, match=needle):
        bert.salience(encoding, position, target)


# ---------------------------------------------------------------- long texts, bounded passes


def test_a_long_text_uses_the_window_and_bounded_passes(bert_dir):
    """Past the 64 tokens the tiny model reads: the window around the mask, NaN elsewhere, equal to the
    reference on the window's ids; no forward pass holds more than STEP_TOKENS tokens."""
    lm, ref = engine(bert_dir), reference(bert_dir)
    text = " ".join([PLAIN] * 6) + " " + TEXT + " " + " ".join([PLAIN] * 6)
    encoding = lm.encode(text)
    position = encoding.mask_positions[0]
    assert len(encoding.ids) > 150
    shapes: list[tuple[int, ...]] = []
    hook = lm.model.get_input_embeddings().register_forward_hook(
        lambda _m, _i, out: shapes.append(tuple(out.shape))
    )
    try:
        result = lm.salience(encoding, position, 5, steps=20)
    finally:
        hook.remove()
    read = [i for i, a in enumerate(result.attributions) if not math.isnan(a)]
    assert len(read) == 64 and read[0] == 0 and read[-1] == len(encoding.ids) - 1 and position in read
    assert read[1:-1] == list(range(read[1], read[1] + 62))  # one stretch between [CLS] and [SEP]
    window = [encoding.ids[i] for i in read]
    attributions, expected = ref.integrated_gradients(window, read.index(position), 5, "mask", 20)
    np.testing.assert_allclose([result.attributions[i] for i in read], attributions, atol=1e-5, rtol=1e-5)
    assert result.completeness[1] == pytest.approx(expected, abs=1e-5)
    passes = [s for s in shapes if s[1] == 64]
    # the look-up of the input's embeddings, then the steps, the input and the baseline
    assert sum(s[0] for s in passes) == 1 + 20 + 2
    assert all(rows * tokens <= STEP_TOKENS for rows, tokens, _ in passes)


def test_a_thousand_steps_run_in_bounded_passes(bert):
    encoding = bert.encode(TEXT)
    shapes: list[tuple[int, ...]] = []
    hook = bert.model.get_input_embeddings().register_forward_hook(
        lambda _m, _i, out: shapes.append(tuple(out.shape))
    )
    try:
        result = bert.salience(encoding, encoding.mask_positions[0], 5, steps=1000)
    finally:
        hook.remove()
    tokens = len(encoding.ids)
    assert sum(s[0] for s in shapes if s[1] == tokens) == 1 + 1000 + 2
    assert max(s[0] * s[1] for s in shapes) <= STEP_TOKENS
    assert result.completeness_error < 0.01


def _integrand(power: int, calls: list[int]):
    """A backend whose path integral is known: d/dα α^power, so the attributions should add up to 1."""

    def attribute(request):
        alphas, weights = np.asarray(request.alphas), np.asarray(request.weights)
        calls.append(len(alphas))
        found = np.zeros(len(request.ids), dtype=np.float32)
        found[1] = float((weights * power * alphas ** (power - 1)).sum())
        return found, 0.0, -1.0  # log p(x) − log p(baseline) = 1

    return attribute


@pytest.mark.parametrize(
    ("power", "steps", "used"),
    [
        (2, None, [20]),  # the midpoint rule is exact for a linear integrand: no refinement
        (30, None, [20, 40, 80]),  # 9 % off at 20 steps, 2.3 % at 40, 0.6 % at 80
        (400, None, [20, 40, 80, 160, 320]),  # never within 1 %: stops at 320 and says so
        (30, 20, [20]),  # steps given: taken as given
    ],
)
def test_default_steps_double_until_completeness_holds(bert, monkeypatch, power, steps, used):
    calls: list[int] = []
    monkeypatch.setattr(bert, "_attribute", _integrand(power, calls))
    encoding = bert.encode(TEXT)
    result = bert.salience(encoding, encoding.mask_positions[0], 5, steps=steps)
    assert calls == used and result.steps == used[-1]
    midpoints = (np.arange(used[-1]) + 0.5) / used[-1]
    assert result.completeness[0] == pytest.approx(float((power * midpoints ** (power - 1)).mean()), rel=1e-5)
    assert result.completeness[1] == 1.0
    if power == 30 and steps is None:
        assert result.completeness_error <= 0.01


# ---------------------------------------------------------------- ONNX backend


def test_on_onnx_the_pytorch_weights_load_once_and_give_the_same_numbers(bert_dir):
    onnx, torch_engine = engine(bert_dir, "onnx"), engine(bert_dir)
    assert onnx.model is None and onnx.info.backend == "onnx"
    assert onnx.salience_loads_weights and not torch_engine.salience_loads_weights
    encoding = onnx.encode(TEXT)
    position = encoding.mask_positions[0]
    for method, baseline in (("ig", "mask"), ("ig", "zero"), ("grad-input", "mask")):
        got = onnx.salience(encoding, position, "cat", method=method, baseline=baseline)
        want = torch_engine.salience(
            torch_engine.encode(TEXT), position, "cat", method=method, baseline=baseline
        )
        np.testing.assert_allclose(got.attributions, want.attributions, atol=1e-6)
        assert got.log_prob == pytest.approx(want.log_prob, abs=1e-6)
        np.testing.assert_allclose(got.completeness, want.completeness, atol=1e-6)
    assert not onnx.salience_loads_weights
    loaded = onnx._eager
    onnx.salience(encoding, position, "cat", steps=3)
    assert onnx._eager is loaded  # loaded once


# ---------------------------------------------------------------- the command line


def main(capsys, *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def salience_json(capsys, folder, *args: str) -> dict:
    code, out, err = main(capsys, "salience", *args, "-m", str(folder), "-b", "torch", "--json")
    assert code == 0, err
    return json.loads(out)


def test_json_has_the_issues_keys_and_the_reference_values(bert_dir, capsys):
    ref = reference(bert_dir)
    ids = ref.ids(TEXT)
    position = ids.index(ref.mask_id)
    data = salience_json(capsys, bert_dir, TEXT, "--target", "table", "--steps", "7", "--baseline", "zero")
    assert list(data) == [
        "model",
        "tokens",
        "position",
        "target",
        "method",
        "steps",
        "baseline",
        "attributions",
        "completeness",
    ]
    assert data["tokens"] == ref.tokenizer.convert_ids_to_tokens(ids)
    assert data["position"] == position and isinstance(data["model"], str)
    target = ref.tokenizer.convert_tokens_to_ids("table")
    assert set(data["target"]) == {"token", "token_str", "log_prob"}
    assert data["target"]["token"] == target and data["target"]["token_str"] == "table"
    assert (data["method"], data["steps"], data["baseline"]) == ("ig", 7, "zero")
    attributions, expected = ref.integrated_gradients(ids, position, target, "zero", 7)
    assert all(isinstance(a, float) for a in data["attributions"])
    np.testing.assert_allclose(data["attributions"], attributions, atol=1e-5, rtol=1e-5)
    assert set(data["completeness"]) == {"sum", "expected"}
    assert data["completeness"]["expected"] == pytest.approx(expected, abs=1e-5)
    assert data["completeness"]["sum"] == pytest.approx(sum(data["attributions"]), abs=1e-4)
    with ref.torch.no_grad():
        log_prob = ref.log_prob(ref.embeddings(ids)[None], position, target)
    assert data["target"]["log_prob"] == pytest.approx(float(log_prob[0]), abs=1e-5)


def test_json_defaults_and_grad_input(bert_dir, capsys):
    ref = reference(bert_dir)
    ids = ref.ids(TEXT)
    position = ids.index(ref.mask_id)
    target = ref.tokenizer.convert_tokens_to_ids("table")
    data = salience_json(capsys, bert_dir, TEXT, "-t", "table")
    assert (data["method"], data["steps"], data["baseline"]) == ("ig", 20, "mask")
    attributions, _ = ref.integrated_gradients(ids, position, target, "mask", 20)
    np.testing.assert_allclose(data["attributions"], attributions, atol=1e-5, rtol=1e-5)
    data = salience_json(capsys, bert_dir, TEXT, "-t", "table", "--method", "grad-input")
    assert (data["method"], data["steps"], data["baseline"]) == ("grad-input", 0, None)
    assert data["completeness"] == {"sum": None, "expected": None}
    attributions, _ = ref.grad_input(ids, position, target)
    np.testing.assert_allclose(data["attributions"], attributions, atol=1e-5, rtol=1e-5)


def test_table_and_markdown_rank_the_tokens(bert_dir, capsys):
    ref = reference(bert_dir)
    ids = ref.ids(TEXT)
    position = ids.index(ref.mask_id)
    attributions, _ = ref.integrated_gradients(
        ids, position, ref.tokenizer.convert_tokens_to_ids("table"), "mask", 20
    )
    order = [ref.tokenizer.convert_ids_to_tokens(ids[i]) for i in np.argsort(-attributions, kind="stable")]
    args = ("salience", TEXT, "-t", "table", "-m", str(bert_dir), "-b", "torch")
    code, out, err = main(capsys, *args)
    assert code == 0, err
    lines = out.splitlines()
    assert "integrated gradients, 20 steps, mask baseline" in lines[0] and "'table'" in lines[0]
    rows = [line.split() for line in lines[2 : 2 + len(ids)]]
    assert [int(r[0]) for r in rows] == list(range(1, len(ids) + 1))
    values = [float(r[3]) for r in rows]
    assert values == sorted(values, reverse=True)
    assert {r[2] for r in rows} == set(order) and lines[-1].startswith("completeness: sum")
    code, out, err = main(capsys, *args, "--markdown", "--method", "grad-input")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("**") and "gradient × input" in lines[0]
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + len(ids) and "attribution" in table[0]
    assert "completeness" not in out  # grad × input has no baseline to be complete against


BAD = [
    ([PLAIN, "-t", "cat"], 2, "no mask"),
    (["", "-t", "cat"], 2, "empty"),
    ([TEXT], 2, "--target"),
    ([TEXT, "-t", " "], 2, "--target"),
    ([TEXT, "-t", "nurse"], 1, "2 pieces"),
    ([TEXT, "-t", "☃"], 1, "vocabulary"),
    ([TEXT, "-t", "cat", "--steps", "0"], 2, "--steps"),
    ([TEXT, "-t", "cat", "--steps", "1001"], 2, "--steps"),
    ([TEXT, "-t", "cat", "--steps", "10**9"], 2, "--steps"),
    ([TEXT, "-t", "cat", "--method", "lime"], 2, "--method"),
    ([TEXT, "-t", "cat", "--baseline", "blur"], 2, "--baseline"),
    ([TEXT, "-t", "cat", "--json", "--markdown"], 2, "--markdown"),
]


@pytest.mark.parametrize(("args", "code", "needle"), BAD, ids=lambda v: str(v)[:60])
def test_bad_input_gets_one_line(bert_dir, capsys, args, code, needle):
    got, out, err = main(capsys, "salience", *args, "--model", str(bert_dir), "-b", "torch")
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0] and lines[0].startswith("mlm-tui")
    assert "Traceback" not in err and "--debug" not in err
    assert out == ""


def test_a_bad_target_on_onnx_is_one_line_before_any_weights_load(bert_dir):
    """The default backend (ONNX Runtime): the target is refused before the note that weights load."""
    assert_one_line_error(run("salience", TEXT, "-t", "nurse", "-m", str(bert_dir)), 1, "pieces")


def test_as_a_process_on_the_default_backend(bert_dir, capsys):
    """As a user runs it: ONNX Runtime for the model, the PyTorch weights for the gradients (said on
    stderr), the same numbers as the PyTorch backend."""
    proc = run("salience", TEXT, "-t", "table", "-m", str(bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "loading the PyTorch weights" in proc.stderr
    data = json.loads(proc.stdout)
    want = salience_json(capsys, bert_dir, TEXT, "-t", "table")
    np.testing.assert_allclose(data["attributions"], want["attributions"], atol=1e-6)
    assert data["completeness"] == pytest.approx(want["completeness"], abs=1e-6)


def test_a_long_text_on_the_command_line_warns_and_nulls_outside_the_window(bert_dir, capsys):
    text = " ".join([PLAIN] * 6) + " " + TEXT
    code, out, err = main(
        capsys, "salience", text, "-t", "table", "-m", str(bert_dir), "-b", "torch", "--json"
    )
    assert code == 0 and "window" in err
    data = json.loads(out)
    assert sum(a is not None for a in data["attributions"]) == 64
    assert data["attributions"][data["position"]] is not None


def test_result_is_frozen(bert):
    encoding = bert.encode(TEXT)
    result = bert.salience(encoding, encoding.mask_positions[0], "cat", steps=2)
    assert isinstance(result, SalienceResult)
    with pytest.raises(AttributeError):
        result.steps = 3  # type: ignore[misc]
