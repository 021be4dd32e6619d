"""Joint fills, the unmasked view and attention weights against references written here.

The references run transformers directly (``AutoModelForMaskedLM`` + ``AutoTokenizer`` on the
tiny model folders, eager attention, full forward passes) or the real ``pipeline("fill-mask")``;
nothing here is copied from the engine's output.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from mlm_tui.engine import EngineError, MaskedLM

MODELS = ["bert", "roberta"]
BACKENDS = ["", "_onnx"]

JOINT_TEXTS = [
    "The keys to the [MASK] are on the [MASK].",
    "[MASK] is the [MASK] of [MASK].",
    "I drink a [MASK] of coffee every [MASK] with my [MASK].",
]


class Reference:
    """The model and its tokenizer loaded straight from the folder, with eager attention."""

    def __init__(self, path: str) -> None:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForMaskedLM.from_pretrained(path, attn_implementation="eager").eval()
        self.mask_id = self.tokenizer.mask_token_id
        self.mask_token = self.tokenizer.mask_token

    def ids(self, text: str) -> list[int]:
        """``text`` tokenized with special tokens; ``[MASK]`` written as the model's own mask token."""
        return self.tokenizer(text.replace("[MASK]", self.mask_token))["input_ids"]

    def special(self, ids: list[int]) -> list[bool]:
        mask = self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        return [bool(m) and i != self.mask_id for m, i in zip(mask, ids, strict=True)]

    @functools.cache  # noqa: B019 (one instance per folder, kept for the session)
    def _run(self, ids: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([list(ids)]), output_attentions=True)
        log_probs = out.logits[0].double().log_softmax(-1).numpy()
        attentions = torch.stack([a[0] for a in out.attentions]).double().numpy()
        return log_probs, attentions

    def log_probs(self, ids: list[int]) -> np.ndarray:
        """Natural-log probabilities at every position (positions × vocabulary), one full forward pass."""
        return self._run(tuple(ids))[0]

    def attentions(self, ids: list[int]) -> np.ndarray:
        """``output_attentions`` stacked: (layers, heads, query, key)."""
        return self._run(tuple(ids))[1]

    def pll(self, ids: list[int], positions: list[int], tokens: list[int]) -> float:
        """Σ_i log p(token_i | every other mask filled with its token), each term its own forward pass."""
        total = 0.0
        for i, position in enumerate(positions):
            row = list(ids)
            for j, (other, token) in enumerate(zip(positions, tokens, strict=True)):
                row[other] = self.mask_id if j == i else token
            total += self.log_probs(row)[position, tokens[i]]
        return total

    def token_str(self, token: int) -> str:
        return self.tokenizer.decode([token])

    def sequence(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


@functools.cache
def reference(path: str) -> Reference:
    return Reference(path)


@functools.cache
def fill_mask(path: str):
    from transformers import pipeline

    return pipeline("fill-mask", model=path, device="cpu")


def folder(request, kind: str) -> str:
    return str(request.getfixturevalue(kind.removesuffix("_onnx") + "_dir"))


def encode(engine: MaskedLM, ref: Reference, text: str):
    """The engine's encoding, checked to hold the ids the reference tokenizer gives."""
    encoding = engine.encode(text)
    assert list(encoding.ids) == ref.ids(text)
    return encoding


def pipeline_top1(path: str, text: str, mask_token: str) -> list[dict]:
    rows = fill_mask(path)(text.replace("[MASK]", mask_token), top_k=1)
    return [rows[0]] if isinstance(rows[0], dict) else [r[0] for r in rows]


def greedy_reference(ref: Reference, ids: list[int], positions: list[int]) -> list[tuple[int, int, float]]:
    """Confidence-first greedy filling: each step reveals the most probable (position, token) left."""
    row, left, steps = list(ids), list(positions), []
    while left:
        probs = np.exp(ref.log_probs(row))
        position = max(left, key=lambda p: probs[p].max())
        token = int(probs[position].argmax())
        steps.append((position, token, float(probs[position, token])))
        row[position] = token
        left.remove(position)
    return steps


# ---------------------------------------------------------------------------------------- joint fill


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
@pytest.mark.parametrize("beam", [1, 3, 5])
def test_joint_log_probs_are_the_pll_of_the_masks(request, model, text, beam):
    engine: MaskedLM = request.getfixturevalue(model)
    ref = reference(folder(request, model))
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    positions = [i for i, t in enumerate(ids) if t == ref.mask_id]
    result = engine.joint_fill(encoding, beam=beam)
    assert list(result.positions) == positions and result.beam == beam and not result.truncated
    for fill in (*result.fills, result.independent):
        assert len(fill.tokens) == len(positions)
        assert fill.log_prob == pytest.approx(ref.pll(ids, positions, list(fill.tokens)), abs=1e-4)
        assert list(fill.token_strs) == [ref.token_str(t) for t in fill.tokens]
        filled = list(ids)
        for position, token in zip(positions, fill.tokens, strict=True):
            filled[position] = token
        assert fill.sequence == ref.sequence(filled)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
@pytest.mark.parametrize("beam", [1, 3, 5])
def test_joint_fills_are_sorted_distinct_and_never_worse_than_independent(request, model, text, beam):
    engine: MaskedLM = request.getfixturevalue(model)
    result = engine.joint_fill(engine.encode(text), beam=beam)
    scores = [f.log_prob for f in result.fills]
    assert scores == sorted(scores, reverse=True)
    assert all(math.isfinite(s) and s <= 0 for s in scores)
    tokens = [f.tokens for f in result.fills]
    assert len(set(tokens)) == len(tokens)
    # the beam's states, plus the independent fill when the search did not reach it
    assert 1 <= len(result.fills) <= beam + 1
    assert result.independent.tokens in tokens
    listed = result.fills[tokens.index(result.independent.tokens)]
    assert listed.log_prob == result.independent.log_prob
    assert result.fills[0].log_prob >= result.independent.log_prob


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
def test_independent_fill_is_the_pipeline_top1(request, model, text):
    engine: MaskedLM = request.getfixturevalue(model)
    path = folder(request, model)
    top1 = pipeline_top1(path, text, engine.info.mask_token)
    result = engine.joint_fill(engine.encode(text), beam=3)
    assert list(result.independent.tokens) == [r["token"] for r in top1]
    assert list(result.independent.token_strs) == [r["token_str"] for r in top1]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
@pytest.mark.parametrize("beam", [1, 2, 5])
def test_steps_reveal_each_mask_once_with_its_probability_then(request, model, text, beam):
    engine: MaskedLM = request.getfixturevalue(model)
    ref = reference(folder(request, model))
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    positions = [i for i, t in enumerate(ids) if t == ref.mask_id]
    result = engine.joint_fill(encoding, beam=beam)
    assert sorted(s.position for s in result.steps) == positions
    best = dict(zip(positions, result.fills[0].tokens, strict=True))
    assert {s.position: s.token for s in result.steps} == best  # the steps are the best fill's
    row = list(ids)  # every mask still masked
    for step in result.steps:
        expected = math.exp(ref.log_probs(row)[step.position, step.token])
        assert step.score == pytest.approx(expected, abs=1e-5)
        assert step.token_str == ref.token_str(step.token)
        row[step.position] = step.token
    data = result.as_dict()
    assert [s["position"] for s in data["steps"]] == [s.position for s in result.steps]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
def test_beam_one_is_greedy_confidence_first(request, model, text):
    """With one state kept, the search reveals the most probable (mask, token) pair at each step."""
    engine: MaskedLM = request.getfixturevalue(model)
    ref = reference(folder(request, model))
    encoding = encode(engine, ref, text)
    positions = list(encoding.mask_positions)
    greedy = greedy_reference(ref, list(encoding.ids), positions)
    greedy_tokens = tuple(dict((p, t) for p, t, _ in greedy)[p] for p in positions)
    result = engine.joint_fill(encoding, beam=1)
    listed = [f.tokens for f in result.fills]
    assert greedy_tokens in listed
    assert set(listed) <= {greedy_tokens, result.independent.tokens}
    if result.fills[0].tokens == greedy_tokens:
        assert [(s.position, s.token) for s in result.steps] == [(p, t) for p, t, _ in greedy]
        assert [s.score for s in result.steps] == pytest.approx([s for _, _, s in greedy], abs=1e-5)


@pytest.mark.parametrize("model", MODELS)
def test_one_mask_gives_the_pipeline_top_beam(request, model):
    """One mask: the joint fills are the top-beam tokens, log p = log of the pipeline's score."""
    engine: MaskedLM = request.getfixturevalue(model)
    text = "Paris is the [MASK] of France."
    rows = fill_mask(folder(request, model))(text.replace("[MASK]", engine.info.mask_token), top_k=4)
    result = engine.joint_fill(engine.encode(text), beam=4)
    assert [f.tokens for f in result.fills] == [(r["token"],) for r in rows]
    assert [f.log_prob for f in result.fills] == pytest.approx([math.log(r["score"]) for r in rows], abs=1e-5)
    assert [f.sequence for f in result.fills] == [r["sequence"] for r in rows]
    assert result.independent.tokens == (rows[0]["token"],)
    (step,) = result.steps
    assert (step.token, step.score) == (rows[0]["token"], pytest.approx(rows[0]["score"], abs=1e-5))


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_bad_joint_requests(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    encoding = engine.encode("The keys to the [MASK] are on the [MASK].")
    for beam in (0, -1, 51, 1000):
        with pytest.raises(EngineError, match="beam"):
            engine.joint_fill(encoding, beam=beam)
    assert len(engine.joint_fill(encoding, beam=50).fills) >= 1
    with pytest.raises(EngineError, match="no mask"):
        engine.joint_fill(engine.encode("The keys to the cabinet are on the table."))
    with pytest.raises(EngineError):
        engine.joint_fill(encoding, [0])  # [CLS] cannot be masked


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", JOINT_TEXTS)
def test_joint_on_onnx_equals_torch(request, model, text):
    torch_engine, onnx_engine = request.getfixturevalue(model), request.getfixturevalue(model + "_onnx")
    ours = onnx_engine.joint_fill(onnx_engine.encode(text), beam=4)
    expected = torch_engine.joint_fill(torch_engine.encode(text), beam=4)
    assert [f.tokens for f in ours.fills] == [f.tokens for f in expected.fills]
    assert [f.sequence for f in ours.fills] == [f.sequence for f in expected.fills]
    assert [f.log_prob for f in ours.fills] == pytest.approx([f.log_prob for f in expected.fills], abs=1e-4)
    assert ours.independent.tokens == expected.independent.tokens
    assert [(s.position, s.token) for s in ours.steps] == [(s.position, s.token) for s in expected.steps]
    assert [s.score for s in ours.steps] == pytest.approx([s.score for s in expected.steps], abs=1e-5)


def _typed(encoding, positions: list[int], mask: str) -> str:
    """The encoding's text with the tokens at ``positions`` replaced by a typed mask."""
    text = encoding.text
    for position in sorted(positions, reverse=True):
        token = encoding.tokens[position]
        text = text[: token.start] + mask + text[token.end :]
    return text


@pytest.mark.parametrize("kind", ["bert", "roberta", "roberta_onnx"])
def test_masked_positions_work_like_typed_masks(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    plain = engine.encode("The keys to the cabinet are on the table.")
    positions = [t.index for t in plain.tokens if t.display in ("cabinet", "table")]
    assert len(positions) == 2
    typed = engine.encode(_typed(plain, positions, engine.info.mask_token))
    assert list(typed.mask_positions) == positions
    expected = engine.joint_fill(typed, beam=3)
    for masked, encoding in (
        (positions, plain),
        (positions[:1], engine.encode(_typed(plain, positions[1:], "[MASK]"))),
    ):
        ours = engine.joint_fill(encoding, masked, beam=3)
        assert ours.positions == expected.positions
        assert [f.tokens for f in ours.fills] == [f.tokens for f in expected.fills]
        assert [f.sequence for f in ours.fills] == [f.sequence for f in expected.fills]
        assert [f.log_prob for f in ours.fills] == pytest.approx(
            [f.log_prob for f in expected.fills], abs=1e-6
        )
        assert ours.independent.tokens == expected.independent.tokens
        assert [(s.position, s.token) for s in ours.steps] == [(s.position, s.token) for s in expected.steps]


@pytest.mark.parametrize("kind", ["bert", "roberta_onnx"])
def test_joint_on_a_long_text_is_scored_on_the_window(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    ref = reference(folder(request, kind))
    text = "the cat sat on the mat. " * 30 + "The keys to the [MASK] are on the [MASK]."
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    limit = engine.info.max_length
    assert len(ids) > limit
    # the masks sit at the end: the window is the start token and the last limit - 1 tokens
    window = ids[:1] + ids[len(ids) - limit + 1 :]
    shift = len(ids) - limit
    result = engine.joint_fill(encoding, beam=3)
    assert result.truncated
    positions = list(encoding.mask_positions)
    assert list(result.positions) == positions
    for fill in (*result.fills, result.independent):
        expected = ref.pll(window, [p - shift for p in positions], list(fill.tokens))
        assert fill.log_prob == pytest.approx(expected, abs=1e-4)


@pytest.fixture(scope="module")
def mask_loving_dir(tmp_path_factory, bert_dir):
    """The tiny BERT with its head biased towards [MASK]: the mask token is each mask's top-1."""
    import shutil

    from transformers import BertForMaskedLM

    path = tmp_path_factory.mktemp("mask-loving")
    shutil.copytree(bert_dir, path, dirs_exist_ok=True)
    model = BertForMaskedLM.from_pretrained(bert_dir)
    mask_id = reference(str(bert_dir)).mask_id
    with torch.no_grad():
        model.cls.predictions.bias[mask_id] += 8.0
    model.save_pretrained(path)
    return path


def test_joint_fill_when_the_model_predicts_the_mask_token(mask_loving_dir):
    """A fill may put the mask token itself at a mask (an untrained head): that position counts as filled."""
    engine = MaskedLM.load(str(mask_loving_dir))
    ref = reference(str(mask_loving_dir))
    encoding = encode(engine, ref, "The keys to the [MASK] are on the [MASK].")
    ids, positions = list(encoding.ids), list(encoding.mask_positions)
    assert all(int(ref.log_probs(ids)[p].argmax()) == ref.mask_id for p in positions)
    result = engine.joint_fill(encoding, beam=3)
    for fill in (*result.fills, result.independent):
        assert fill.log_prob == pytest.approx(ref.pll(ids, positions, list(fill.tokens)), abs=1e-4)
    row = list(ids)
    for step in result.steps:
        assert step.score == pytest.approx(math.exp(ref.log_probs(row)[step.position, step.token]), abs=1e-5)
        row[step.position] = step.token


# ------------------------------------------------------------------------------------- unmasked view

UNMASKED_TEXTS = ["Paris is the capital of France.", "The keys to the cabinet are on the table."]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("text", UNMASKED_TEXTS)
@pytest.mark.parametrize("top_k", [1, 5])
def test_unmasked_equals_a_full_forward_pass(request, model, text, top_k):
    engine: MaskedLM = request.getfixturevalue(model)
    ref = reference(folder(request, model))
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    log_probs = ref.log_probs(ids)
    probs = np.exp(log_probs)
    result = engine.unmasked(encoding, top_k=top_k)
    assert not result.truncated and result.text == encoding.text
    special = ref.special(ids)
    assert [v.index for v in result.tokens] == [i for i in range(len(ids)) if not special[i]]
    pieces = ref.tokenizer.convert_ids_to_tokens(ids)
    for view in result.tokens:
        i = view.index
        assert (view.token, view.id) == (pieces[i], ids[i])
        top = np.argsort(-probs[i], kind="stable")[:top_k]
        assert [p.token for p in view.predictions] == top.tolist()
        assert [p.score for p in view.predictions] == pytest.approx(probs[i, top].tolist(), abs=1e-5)
        for p in view.predictions:
            assert p.token_str == ref.token_str(p.token)
            assert p.sequence == ref.sequence(ids[:i] + [p.token] + ids[i + 1 :])
        assert view.score == pytest.approx(probs[i, ids[i]], abs=1e-5)
        assert view.rank == 1 + int((probs[i] > probs[i, ids[i]]).sum())
        assert view.entropy == pytest.approx(-(probs[i] * log_probs[i]).sum(), abs=1e-4)
    assert result.at(result.tokens[0].index) == result.tokens[0] and result.at(0) is None


@pytest.mark.parametrize("model", MODELS)
def test_unmasked_on_onnx_equals_torch(request, model):
    torch_engine, onnx_engine = request.getfixturevalue(model), request.getfixturevalue(model + "_onnx")
    for text in UNMASKED_TEXTS:
        ours = onnx_engine.unmasked(onnx_engine.encode(text), top_k=4).tokens
        expected = torch_engine.unmasked(torch_engine.encode(text), top_k=4).tokens
        assert [(v.index, v.token, v.id, v.rank) for v in ours] == [
            (v.index, v.token, v.id, v.rank) for v in expected
        ]
        for a, b in zip(ours, expected, strict=True):
            assert [p.token for p in a.predictions] == [p.token for p in b.predictions]
            assert [p.sequence for p in a.predictions] == [p.sequence for p in b.predictions]
            assert [p.score for p in a.predictions] == pytest.approx(
                [p.score for p in b.predictions], abs=1e-5
            )
            assert a.score == pytest.approx(b.score, abs=1e-5)
            assert a.entropy == pytest.approx(b.entropy, abs=1e-4)


@pytest.mark.parametrize("kind", ["bert", "roberta", "bert_onnx"])
def test_unmasked_long_text_views_every_token(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    ref = reference(folder(request, kind))
    text = "The keys to the cabinet are on the table. " * 12
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    assert len(ids) > engine.info.max_length
    result = engine.unmasked(encoding, top_k=3, sequences=False)
    assert result.truncated
    special = ref.special(ids)
    assert [v.index for v in result.tokens] == [i for i in range(len(ids)) if not special[i]]
    bound = math.log(engine.info.vocab_size) + 1e-4
    for view in result.tokens:
        assert view.id == ids[view.index]
        assert math.isfinite(view.score) and 0 < view.score <= 1
        assert math.isfinite(view.entropy) and 0 <= view.entropy <= bound
        assert view.rank >= 1
        scores = [p.score for p in view.predictions]
        assert len(scores) == 3 and all(math.isfinite(s) and 0 < s <= 1 for s in scores)
        assert scores == sorted(scores, reverse=True)
        assert (view.rank == 1) == (view.predictions[0].token == view.id)
        assert all(p.sequence == "" for p in view.predictions)
    # the first tokens are read in a window that starts at the text's start
    window = ids[: engine.info.max_length - 1] + ids[-1:]
    probs = np.exp(ref.log_probs(window))
    first = result.tokens[0]
    assert first.score == pytest.approx(probs[first.index, first.id], abs=1e-5)


def test_unmasked_bad_top_k(bert):
    with pytest.raises(EngineError, match="top-k"):
        bert.unmasked(bert.encode("Paris is the capital of France."), top_k=0)


# ----------------------------------------------------------------------------------------- attention

ATTENTION_TEXT = "The keys to the cabinet are on the table."


def assert_attention_equals(result, expected: np.ndarray, query: int, columns: list[int]) -> None:
    """``result.weights[:, :, columns]`` equals the reference's row ``query`` (layers, heads, keys)."""
    want = expected[:, :, query, :]
    assert result.weights.shape[:2] == want.shape[:2]
    np.testing.assert_allclose(result.weights[:, :, columns], want, atol=1e-5, rtol=0)
    for layer in range(want.shape[0]):
        for head in range(want.shape[1]):
            got = np.asarray(result.row(layer, head))[columns]
            np.testing.assert_allclose(got, want[layer, head], atol=1e-5, rtol=0)
        mean = np.asarray(result.row(layer, None))[columns]
        np.testing.assert_allclose(mean, want[layer].mean(axis=0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["bert", "roberta", "bert_onnx", "roberta_onnx"])
def test_attention_equals_eager_output_attentions(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    ref = reference(folder(request, kind))
    encoding = encode(engine, ref, ATTENTION_TEXT)
    ids = list(encoding.ids)
    expected = ref.attentions(ids)
    config = ref.model.config
    assert expected.shape == (config.num_hidden_layers, config.num_attention_heads, len(ids), len(ids))
    for position in (0, 1, len(ids) // 2, len(ids) - 2, len(ids) - 1):
        result = engine.attention(encoding, position)
        assert result.position == position and result.window == (0, len(ids))
        assert result.tokens == tuple(ref.tokenizer.convert_ids_to_tokens(ids))
        assert (result.layers, result.heads) == (config.num_hidden_layers, config.num_attention_heads)
        assert result.weights.shape == (result.layers, result.heads, len(ids))
        assert_attention_equals(result, expected, position, list(range(len(ids))))
        assert np.allclose(result.weights.sum(axis=-1), 1, atol=1e-5)


@pytest.mark.parametrize("kind", ["bert", "roberta", "roberta_onnx"])
def test_attention_with_masked_positions(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    ref = reference(folder(request, kind))
    encoding = encode(engine, ref, ATTENTION_TEXT)
    masked = [2, 5]
    ids = list(encoding.ids)
    for index in masked:
        ids[index] = ref.mask_id
    expected = ref.attentions(ids)
    for position in (0, 2, 3, len(ids) - 1):
        result = engine.attention(encoding, position, masked)
        assert_attention_equals(result, expected, position, list(range(len(ids))))
    # a typed mask counts as well: the same as masking that position
    typed = engine.encode(ATTENTION_TEXT.replace("cabinet", "[MASK]"))
    cabinet = typed.mask_positions[0]
    ids = list(typed.ids)
    ids[2] = ref.mask_id
    result = engine.attention(typed, cabinet, [2])
    assert_attention_equals(result, ref.attentions(ids), cabinet, list(range(len(ids))))


@pytest.mark.parametrize("model", MODELS)
def test_attention_leaves_the_model_as_it_was(request, model):
    path = folder(request, model)
    engine = MaskedLM.load(path)  # its own engine: a broken one must not spoil the shared fixtures
    implementation = engine.model.config._attn_implementation
    encoding = engine.encode(ATTENTION_TEXT)
    before = [t.log_prob for t in engine.score(encoding).tokens]
    engine.attention(encoding, 3)
    engine.attention(encoding, 1, [4])
    assert engine.model.config._attn_implementation == implementation
    after = [t.log_prob for t in engine.score(encoding).tokens]
    assert after == pytest.approx(before, abs=1e-6)
    text = "The keys to the [MASK] are on the [MASK]."  # never predicted by this engine before
    from test_engine import assert_same_as_pipeline

    reference_rows = fill_mask(path)(text.replace("[MASK]", engine.info.mask_token), top_k=5)
    assert_same_as_pipeline(engine.predict(engine.encode(text)).as_pipeline_output(), reference_rows)


@pytest.mark.parametrize("kind", ["bert", "roberta", "bert_onnx"])
def test_attention_on_a_long_text_is_over_the_window(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    ref = reference(folder(request, kind))
    text = "The keys to the cabinet are on the table. " * 12
    encoding = encode(engine, ref, text)
    ids = list(encoding.ids)
    limit = engine.info.max_length
    assert len(ids) > limit
    special = ref.special(ids)
    for position in (0, 1, 30, len(ids) // 2, len(ids) - 2, len(ids) - 1):
        result = engine.attention(encoding, position)
        start, end = result.window
        assert 0 < start < end < len(ids) and end - start == limit - 2
        if not special[position]:
            assert start <= position < end
        outside = [j for j in range(len(ids)) if not special[j] and not start <= j < end]
        assert outside and np.isnan(result.weights[:, :, outside]).all()
        read = [0, *range(start, end), len(ids) - 1]
        assert not np.isnan(result.weights[:, :, read]).any()
        window = [ids[j] for j in read]
        assert_attention_equals(result, ref.attentions(window), read.index(position), read)


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_attention_position_out_of_range(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    encoding = engine.encode(ATTENTION_TEXT)
    for position in (-1, len(encoding.tokens)):
        with pytest.raises(EngineError, match="position"):
            engine.attention(encoding, position)
    with pytest.raises(EngineError, match="cannot be masked"):
        engine.attention(encoding, 1, [0])
