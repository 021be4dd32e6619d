"""Property tests: any Unicode text, masks anywhere — the engine answers or says why in an EngineError."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlm_tui.engine import EngineError

PIECES = st.sampled_from(
    [
        "Paris",
        "is",
        "the",
        "capital",
        "[MASK]",
        "😀",
        "👩‍👩‍👧",  # emoji joined by zero-width joiners
        "東京",
        "مرحبا",  # right-to-left
        "שלום",
        "e\u0301",  # a combining mark
        "\u200b",  # zero-width space
        "\x00",
        "\t",
        "\x1b[31m",  # control characters
        "\udce9",  # a lone surrogate (a badly decoded byte)
        "supercalifragilisticexpialidocious" * 5,  # a very long word
        ".",
        ",",
        " ",
    ]
)
TEXTS = st.lists(PIECES, min_size=1, max_size=14).map(" ".join) | st.text(max_size=40)
PROFILE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(params=["bert", "roberta"])
def engine(request):
    return request.getfixturevalue(request.param)


@PROFILE
@given(text=TEXTS, picks=st.lists(st.integers(min_value=0, max_value=10_000), max_size=3))
def test_any_text_with_masks_anywhere_answers_or_raises_engine_error(engine, text, picks):
    try:
        encoding = engine.encode(text)
    except EngineError:
        return
    real = [t.index for t in encoding.tokens if not t.special and not t.is_mask]
    masked = sorted({real[p % len(real)] for p in picks}) if real else []
    try:
        result = engine.predict(encoding, masked, top_k=5)
    except EngineError:
        return
    for mask in result.masks:
        scores = [p.score for p in mask.predictions]
        assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in scores)
        assert scores == sorted(scores, reverse=True)
    # what the app would put in the text reads back as text
    mask = result.masks[0]
    try:
        new_text, start, end = engine.substitute(encoding, mask.position, mask.predictions[0].token)
    except EngineError:  # a special token ([SEP], <pad>) is a candidate but not a word to write
        assert mask.predictions[0].token_str.strip() in engine.text.tokenizer.get_vocab()
        return
    assert 0 <= start <= end <= len(new_text)
    engine.encode(new_text)


@PROFILE
@given(text=TEXTS)
def test_any_text_scores_or_raises_engine_error(engine, text):
    try:
        result = engine.score(engine.encode(text))
    except EngineError:
        return
    assert result.tokens and all(math.isfinite(t.log_prob) and t.log_prob <= 0 for t in result.tokens)
    assert math.isfinite(result.pseudo_perplexity)
