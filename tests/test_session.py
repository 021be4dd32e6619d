"""The Textual-free session: undo history, masks as character spans, offsets across mask spellings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fakes import FakeEngine

from mlm_tui.engine.compare import js_divergence, kl_divergence, rank_of
from mlm_tui.session import History, Snapshot, TextMap, pair_spans, positions_covering, shift_spans, spans_of


def test_history_undo_redo_and_a_new_branch():
    h = History()
    a, b, c = Snapshot("a"), Snapshot("b"), Snapshot("c")
    assert h.record(a) and h.record(b) and not h.record(b)
    assert h.undo() == a and not h.can_undo and h.can_redo
    assert h.redo() == b and h.redo() is None
    h.undo()
    h.record(c)  # a new change drops what could be redone
    assert h.past == (a, c) and not h.can_redo


def test_snapshot_round_trips_through_a_dict():
    s = Snapshot("Paris is nice.", frozenset({(0, 5), (9, 13)}))
    assert Snapshot.from_dict(s.as_dict()) == s


def test_spans_map_back_to_the_same_tokens_and_cover_other_tokenizations():
    fine, coarse = FakeEngine(split=4), FakeEngine(split=20)
    text = "A continental breakfast."
    enc_fine, enc_coarse = fine.encode(text), coarse.encode(text)
    masked = frozenset(t.index for t in enc_fine.tokens if t.display == "tinental")  # con ##tinental
    spans = spans_of(enc_fine, masked)
    assert positions_covering(enc_fine, spans) == masked
    (covering,) = positions_covering(enc_coarse, spans)
    assert enc_coarse.tokens[covering].display == "continental"


@pytest.mark.parametrize("token", ["<mask>", "<m>", "[a-much-longer-mask]"])
def test_text_map_follows_each_mask_spelling(token):
    text = "x [MASK] yy [MASK] z"
    model_text = text.replace("[MASK]", token)
    m = TextMap(text, token)
    for word in ("x", "yy", "z"):
        at = text.index(word)
        assert model_text[m.to_model(at) : m.to_model(at + len(word))] == word
        assert m.to_session(m.to_model(at)) == at
    second = text.rindex("[MASK]")
    start, end = m.span_to_model((second, second + 6))
    assert model_text[start:end] == token


def test_shift_spans_drops_the_edited_and_moves_the_later():
    spans = {(0, 3), (4, 8), (9, 12)}
    assert shift_spans(spans, 4, 8, +2) == {(0, 3), (11, 14)}


def test_pair_spans_pairs_by_overlap_in_text_order():
    assert pair_spans([(0, 5), (10, 12)], [(0, 3), (3, 5), (10, 12)]) == [(0, 0), (None, 1), (1, 2)]


def test_divergences_against_hand_computed_values():
    p = np.log(np.array([0.5, 0.5, 0.0]) + 1e-300)
    q = np.log(np.array([0.25, 0.25, 0.5]))
    assert kl_divergence(p, q) == pytest.approx(math.log(2))
    assert kl_divergence(q, q) == pytest.approx(0.0)
    m = np.array([0.375, 0.375, 0.25])
    expected = 0.5 * (2 * 0.5 * math.log(0.5 / 0.375)) + 0.5 * (
        2 * 0.25 * math.log(0.25 / 0.375) + 0.5 * math.log(0.5 / 0.25)
    )
    assert js_divergence(p, q) == pytest.approx(expected) and 0 <= expected <= math.log(2)
    assert np.log(m).shape == (3,)
    assert rank_of(q, 2) == 1 and rank_of(q, 0) == 2
