"""Comparing two models' predictions at the same mask: divergences and ranks.

Only numpy (imported when a function runs), so the app and CLI share it.
Distributions are natural-log probabilities over the full vocabulary, as
``MaskResult.log_probs`` gives them; all results are in nats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .types import MaskResult, Prediction


def kl_divergence(log_p: Any, log_q: Any) -> float:
    """KL(P‖Q) = Σ p (log p − log q), in nats. Terms where p is 0 contribute 0; q = 0 where p > 0 gives inf."""
    import numpy as np

    lp = np.asarray(log_p, dtype=np.float64)
    lq = np.asarray(log_q, dtype=np.float64)
    p = np.exp(lp)
    keep = p > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.sum(p[keep] * (lp[keep] - lq[keep])))


def js_divergence(log_p: Any, log_q: Any) -> float:
    """Jensen–Shannon divergence ½ KL(P‖M) + ½ KL(Q‖M), M = (P + Q)/2, in nats (at most ln 2)."""
    import numpy as np

    lp = np.asarray(log_p, dtype=np.float64)
    lq = np.asarray(log_q, dtype=np.float64)
    log_m = np.logaddexp(lp, lq) - np.log(2.0)
    return 0.5 * kl_divergence(lp, log_m) + 0.5 * kl_divergence(lq, log_m)


def rank_of(log_probs: Any, token_id: int) -> int:
    """1 + the number of tokens more probable than ``token_id`` in a full distribution."""
    import numpy as np

    values = np.asarray(log_probs)
    return 1 + int(np.sum(values > values[token_id]))


def _word(prediction: Prediction) -> str:
    return prediction.token_str.strip().lower()


def rank_in_list(word: str, predictions: Sequence[Prediction]) -> int | None:
    """1-based rank of ``word`` (compared as written, case-folded) in a top-k list; ``None`` when absent."""
    wanted = word.strip().lower()
    return next((n for n, p in enumerate(predictions, start=1) if _word(p) == wanted), None)


@dataclass(frozen=True)
class MaskComparison:
    """How two models' predictions at one mask differ."""

    top1: tuple[str, str]
    """Each model's most probable token, as decoded."""
    top1_rank_in_other: tuple[int | None, int | None]
    """Rank of A's top-1 among B's candidates and of B's top-1 among A's. Over the full
    vocabulary when the models share one; else within the other's top-k list (``None``: not in it)."""
    kl: float | None
    """KL(A‖B) over the full shared vocabulary, in nats; ``None`` when the vocabularies differ."""
    js: float | None
    """Jensen–Shannon divergence, in nats; ``None`` when the vocabularies differ."""
    overlap: tuple[int, int]
    """How many of A's top-k words are among B's top-k words, and k (the shorter list's length)."""
    shared_vocab: bool


def compare_masks(a: MaskResult, b: MaskResult, *, shared_vocab: bool) -> MaskComparison:
    """Compare two models at one mask. With ``shared_vocab`` both results need ``log_probs`` (``full=True``)."""
    top_a = a.predictions[0] if a.predictions else None
    top_b = b.predictions[0] if b.predictions else None
    words_a = {_word(p) for p in a.predictions}
    words_b = {_word(p) for p in b.predictions}
    overlap = (len(words_a & words_b), min(len(a.predictions), len(b.predictions)))
    full = shared_vocab and a.log_probs is not None and b.log_probs is not None
    if full:
        ranks = (
            rank_of(b.log_probs, top_a.token) if top_a else None,
            rank_of(a.log_probs, top_b.token) if top_b else None,
        )
        kl: float | None = kl_divergence(a.log_probs, b.log_probs)
        js: float | None = js_divergence(a.log_probs, b.log_probs)
    else:
        ranks = (
            rank_in_list(top_a.token_str, b.predictions) if top_a else None,
            rank_in_list(top_b.token_str, a.predictions) if top_b else None,
        )
        kl = js = None
    return MaskComparison(
        top1=(top_a.token_str.strip() if top_a else "", top_b.token_str.strip() if top_b else ""),
        top1_rank_in_other=ranks,
        kl=kl,
        js=js,
        overlap=overlap,
        shared_vocab=full,
    )
