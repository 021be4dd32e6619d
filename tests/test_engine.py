"""The engine against independent references: the real fill-mask pipeline, and plain loops written here."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from mlm_tui.engine import EngineError, MaskedLM


def assert_same_as_pipeline(ours, reference):
    """Same tokens in the same order, scores within 1e-5, same token_str and sequence."""
    if reference and isinstance(reference[0], dict):
        ours, reference = [ours], [reference]
    assert len(ours) == len(reference)
    for mask_ours, mask_ref in zip(ours, reference, strict=True):
        assert [p["token"] for p in mask_ours] == [p["token"] for p in mask_ref]
        assert [p["token_str"] for p in mask_ours] == [p["token_str"] for p in mask_ref]
        assert [p["sequence"] for p in mask_ours] == [p["sequence"] for p in mask_ref]
        for a, b in zip(mask_ours, mask_ref, strict=True):
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)


KINDS = ["bert", "roberta", "bert_onnx", "roberta_onnx"]
"""Each tiny model on both backends: PyTorch and ONNX Runtime must give the pipeline's answers."""


def torch_twin(request, kind: str) -> MaskedLM:
    """The PyTorch engine of the same model, for references built from its transformers model."""
    return request.getfixturevalue(kind.removesuffix("_onnx"))


@pytest.fixture(scope="module")
def pipelines(bert_dir, roberta_dir):
    from transformers import pipeline

    bert = pipeline("fill-mask", model=str(bert_dir), device="cpu")
    roberta = pipeline("fill-mask", model=str(roberta_dir), device="cpu")
    return {"bert": bert, "roberta": roberta, "bert_onnx": bert, "roberta_onnx": roberta}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "text",
    [
        "Paris is the [MASK] of France.",
        "The keys to the [MASK] are on the [MASK].",
        "[MASK] comes after Sunday.",
    ],
)
@pytest.mark.parametrize("top_k", [1, 5, 12])
def test_predict_equals_pipeline(request, pipelines, kind, text, top_k):
    engine: MaskedLM = request.getfixturevalue(kind)
    encoding = engine.encode(text)  # "[MASK]" is an alias for the model's own mask token
    reference = pipelines[kind](text.replace("[MASK]", engine.info.mask_token), top_k=top_k)
    assert_same_as_pipeline(engine.predict(encoding, top_k=top_k).as_pipeline_output(), reference)


@pytest.mark.parametrize("kind", KINDS)
def test_mask_a_position_equals_typing_the_mask(request, pipelines, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    plain = engine.encode("Paris is the capital of France.")
    position = next(t.index for t in plain.tokens if t.display == "capital")
    ours = engine.predict(plain, [position], top_k=5).as_pipeline_output()
    masked_text = (
        plain.text[: plain.tokens[position].start]
        + engine.info.mask_token
        + plain.text[plain.tokens[position].end :]
    )
    assert_same_as_pipeline(ours, pipelines[kind](masked_text, top_k=5))


@pytest.mark.parametrize("kind", KINDS)
def test_single_piece_targets_equal_pipeline(request, pipelines, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    text = "The cat sat on the [MASK]."
    spaced = kind.startswith("roberta")
    targets = [
        w
        for w in ("mat", "table", "door", "cat", "the")
        if len(engine.target_pieces(engine.encode("a " + w), 2, w)) == 1
    ]
    assert len(targets) >= 3
    result = engine.predict(engine.encode(text), targets=targets)
    pipe_targets = [" " + t for t in targets] if spaced else targets
    reference = pipelines[kind](
        text.replace("[MASK]", engine.info.mask_token), targets=pipe_targets, top_k=len(targets)
    )
    assert_same_as_pipeline(result.as_pipeline_output(), reference)
    for target in result.masks[0].targets:
        probs = engine.predict(engine.encode(text), top_k=engine.info.vocab_size).masks[0].predictions
        expected_rank = 1 + sum(p.score > target.score for p in probs if p.token != target.pieces[0])
        assert target.rank == expected_rank


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_multi_piece_target_is_scored_as_a_word(request, kind):
    """'pizza' is p + ##izza: chained left-to-right, never cut to its first piece."""
    engine: MaskedLM = request.getfixturevalue(kind)
    bert = torch_twin(request, kind)
    encoding = engine.encode("I drink a cup of [MASK].")
    (target,) = engine.predict(encoding, targets=["pizza"]).masks[0].targets
    assert target.piece_strs == ("p", "##izza")
    mask = bert.tokenizer.mask_token_id
    ids = list(encoding.ids)
    position = encoding.mask_positions[0]
    p_id, izza_id = target.pieces
    with torch.inference_mode():
        first = bert.model(torch.tensor([ids[:position] + [mask, mask] + ids[position + 1 :]])).logits
        second = bert.model(torch.tensor([ids[:position] + [p_id, mask] + ids[position + 1 :]])).logits
    expected = first[0, position].log_softmax(-1)[p_id] + second[0, position + 1].log_softmax(-1)[izza_id]
    assert target.log_prob == pytest.approx(float(expected), abs=1e-5)
    first_piece_only = math.log(engine.predict(encoding, targets=["p"]).masks[0].targets[0].score)
    assert target.log_prob != pytest.approx(first_piece_only)
    assert target.sequence == "i drink a cup of pizza."


def reference_pll(engine: MaskedLM, text: str) -> list[float]:
    """Plain PLL: mask each non-special token in turn, full model forward, read its log-prob."""
    return reference_pll_many(engine, [text])[0]


def reference_pll_many(engine: MaskedLM, texts: list[str]) -> list[list[float]]:
    return [_reference_pll(engine, text) for text in texts]


def _reference_pll(engine: MaskedLM, text: str) -> list[float]:
    ids = engine.tokenizer(text)["input_ids"]
    special = engine.tokenizer(text, return_special_tokens_mask=True)["special_tokens_mask"]
    out = []
    for i, token in enumerate(ids):
        if special[i]:
            continue
        masked = list(ids)
        masked[i] = engine.tokenizer.mask_token_id
        with torch.inference_mode():
            logits = engine.model(torch.tensor([masked])).logits[0, i]
        out.append(float(logits.log_softmax(-1)[token]))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_score_equals_reference_pll(request, kind):
    engine: MaskedLM = request.getfixturevalue(kind)
    text = "The keys to the cabinet are on the table."
    expected = reference_pll(torch_twin(request, kind), text)
    for batch_size in (3, 32):  # batch boundaries must not change anything
        result = engine.score(engine.encode(text), batch_size=batch_size)
        assert [t.log_prob for t in result.tokens] == pytest.approx(expected, abs=1e-5)
    assert result.pll == pytest.approx(sum(expected), abs=1e-4)
    assert result.pseudo_perplexity == pytest.approx(math.exp(-sum(expected) / len(expected)), rel=1e-5)
    assert all(t.surprisal == -t.log_prob for t in result.tokens)


@pytest.mark.parametrize("backend", ["", "_onnx"])
def test_encode_cells(request, backend):
    bert, roberta = request.getfixturevalue("bert" + backend), request.getfixturevalue("roberta" + backend)
    enc = bert.encode("A state-of-the-art pizza.")
    shown = [t.display for t in enc.tokens]
    assert shown[0] == "[CLS]" and enc.tokens[0].special and enc.tokens[-1].special
    assert shown[1:-1] == ["a", "state", "-", "of", "-", "the", "-", "art", "p", "izza", "."]
    pizza = [t for t in enc.tokens if t.display in ("p", "izza")]
    assert pizza[0].word == pizza[1].word and pizza[1].text == "##izza"
    assert enc.word_positions(pizza[1].index) == (pizza[0].index, pizza[1].index)
    assert [enc.text[t.start : t.end] for t in enc.tokens[1:4]] == ["A", "state", "-"]
    renc = roberta.encode("Paris is the capital.")
    assert [t.display for t in renc.tokens[1:-1]] == [
        renc.text[t.start : t.end].strip() for t in renc.tokens[1:-1]
    ]
    assert "Ġ" not in "".join(t.display for t in renc.tokens)


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_whole_word_masking_masks_every_piece(request, kind):
    bert = request.getfixturevalue(kind)
    enc = bert.encode("I drink a cup of pizza.")
    piece = next(t.index for t in enc.tokens if t.text == "##izza")
    result = bert.predict(enc, enc.word_positions(piece), top_k=3)
    assert [m.position for m in result.masks] == [piece - 1, piece]
    assert all(len(m.predictions) == 3 for m in result.masks)


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_long_text_is_windowed_around_the_mask(request, kind):
    engine, bert = request.getfixturevalue(kind), request.getfixturevalue("bert")
    filler = "the cat sat on the mat. " * 30
    short = "Paris is the [MASK] of France."
    long_enc = engine.encode(filler + short)
    assert len(long_enc.tokens) > engine.info.max_length
    result = engine.predict(long_enc, top_k=5)
    assert result.truncated
    # The window keeps the mask with as much context as fits: the same as predicting on that window.
    limit = bert.info.max_length
    window = list(long_enc.ids[:1]) + list(long_enc.ids[-(limit - 1) :])
    with torch.inference_mode():
        logits = bert.model(torch.tensor([window])).logits[0]
    position = window.index(bert.tokenizer.mask_token_id)
    expected = logits[position].softmax(-1).topk(5).indices.tolist()
    assert [p.token for p in result.masks[0].predictions] == expected
    scored = engine.score(long_enc)
    assert scored.truncated and len(scored.tokens) == len(long_enc.tokens) - 3  # not [CLS], [SEP], [MASK]


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_masks_too_far_apart_is_an_error(request, kind):
    bert = request.getfixturevalue(kind)
    enc = bert.encode("[MASK] " + "the cat sat on the mat. " * 30 + "[MASK]")
    with pytest.raises(EngineError, match="apart"):
        bert.predict(enc)


@pytest.mark.parametrize("kind", ["bert", "bert_onnx"])
def test_bad_inputs(request, kind):
    bert = request.getfixturevalue(kind)
    with pytest.raises(EngineError, match="no mask"):
        bert.predict(bert.encode("Paris is nice."))
    with pytest.raises(EngineError, match="empty"):
        bert.encode("   ")
    with pytest.raises(EngineError, match="top-k"):
        bert.predict(bert.encode("a [MASK]"), top_k=0)


def test_engine_does_not_import_textual_or_torch_at_import():
    code = (
        "import sys, mlm_tui.engine, mlm_tui.cli;"
        "assert 'textual' not in sys.modules, 'textual';"
        "assert 'torch' not in sys.modules, 'torch';"
        "assert 'transformers' not in sys.modules, 'transformers'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_loading_the_engine_never_imports_textual(bert_dir):
    code = f"import sys; from mlm_tui.engine import MaskedLM; MaskedLM.load({str(bert_dir)!r}); assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_cache_returns_what_a_fresh_run_returns(bert_dir, backend):
    engine = MaskedLM.load(str(bert_dir), backend=backend)
    encoding = engine.encode("The keys to the [MASK] are on the table.")
    fresh = engine.predict(encoding, top_k=7)
    again = engine.predict(encoding, top_k=7)
    assert again.cached and not fresh.cached
    assert again.masks == fresh.masks
    engine._cache.clear()
    assert engine.predict(encoding, top_k=7).masks == fresh.masks
    other = engine.predict(encoding, [2], top_k=7)  # another mask set is another entry
    assert not other.cached and len(other.masks) == 2


def test_fast_mode_gives_valid_probabilities(bert_dir, bert):
    fast = MaskedLM.load(str(bert_dir), fast="bf16")
    assert "(fast)" in fast.info.dtype
    encoding = fast.encode("The keys to the [MASK] are on the [MASK].")
    result = fast.predict(encoding, top_k=fast.info.vocab_size)
    for mask in result.masks:
        scores = [p.score for p in mask.predictions]
        assert all(0 <= s <= 1 for s in scores) and sum(scores) == pytest.approx(1, abs=1e-3)
        assert scores == sorted(scores, reverse=True)
    exact = bert.predict(bert.encode("The keys to the [MASK] are on the [MASK]."), top_k=1)
    best = {m.position: m.predictions[0].score for m in exact.masks}
    for mask in result.masks:  # close to exact, not equal
        top = {p.token: p.score for p in mask.predictions}
        assert top[exact.for_position(mask.position).predictions[0].token] == pytest.approx(
            best[mask.position], abs=0.02
        )
    scores = fast.score(fast.encode("The keys to the cabinet are on the table."))
    assert all(t.log_prob <= 0 for t in scores.tokens)


def test_int8_is_retired_with_a_reason(bert_dir):
    with pytest.raises(EngineError, match="int8 is no longer offered"):
        MaskedLM.load(str(bert_dir), fast="int8")


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_full_distribution_is_the_same_on_both_backends(request, pipelines, kind):
    """log_probs: float32 natural logs over the whole vocabulary, equal to the pipeline's softmax."""
    text = "The keys to the [MASK] are on the [MASK]."
    engine = request.getfixturevalue(kind)
    vocab = engine.info.vocab_size
    reference = pipelines[kind](text.replace("[MASK]", engine.info.mask_token), top_k=vocab)
    for backend in (engine, request.getfixturevalue(kind + "_onnx")):
        result = backend.predict(backend.encode(text), top_k=3, full=True)
        for mask, ref in zip(result.masks, reference, strict=True):
            assert mask.log_probs.dtype.name == "float32" and mask.log_probs.shape == (vocab,)
            by_token = {r["token"]: r["score"] for r in ref}
            probs = [math.exp(float(mask.log_probs[t])) for t in sorted(by_token)]
            assert probs == pytest.approx([by_token[t] for t in sorted(by_token)], abs=1e-5)


def test_score_many_batches_across_sentences_and_keeps_order(request, bert_onnx):
    texts = ["The keys to the cabinet are on the table.", "Hello world!", "Paris is the capital of France."]
    expected = reference_pll_many(request.getfixturevalue("bert"), texts)
    items = [bert_onnx.encode(texts[0]), EngineError("bad line"), bert_onnx.encode(texts[1])]
    items.append(bert_onnx.encode(texts[2]))
    for batch_size in (4, 64):  # batches that cut sentences, and one batch for all (rows padded)
        results = list(bert_onnx.score_many(items, batch_size=batch_size))
        assert isinstance(results[1], EngineError)
        scored = [r for r in results if not isinstance(r, EngineError)]
        for result, reference in zip(scored, expected, strict=True):
            assert [t.log_prob for t in result.tokens] == pytest.approx(reference, abs=1e-5)
