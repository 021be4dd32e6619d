"""Pseudo-log-likelihood (Salazar et al. 2020): every token masked in turn, read at its own position.

Masked copies of many sentences share batches, and results stream out in input
order, so scoring a corpus holds one batch and one sentence in memory at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from .batch import MAX_TOKENS, Job, Rows, run_jobs
from .errors import EngineError
from .predict import LogitsAt
from .types import Encoding, ModelInfo, ScoreResult, TokenScore
from .window import Windows

PLL_VARIANTS = ("original", "word-l2r")
"""``original``: each token masked alone (Salazar et al. 2020). ``word-l2r``: each token masked together
with the pieces to its right in the same word (Kauf & Ivanova 2023; minicons' ``within_word_l2r``)."""


def pll_positions(encoding: Encoding, variant: str = "original") -> tuple[list[int], list[list[int]]]:
    """The positions a PLL scores and, for each, the positions masked in its row (itself first)."""
    if variant not in PLL_VARIANTS:
        raise EngineError(f"unknown PLL variant {variant!r}: choose {' or '.join(PLL_VARIANTS)}")
    positions = [t.index for t in encoding.tokens if not t.special and not t.is_mask]
    if not positions:
        raise EngineError("nothing to score: the text has only masks and special tokens")
    if variant == "word-l2r":
        return positions, [[p, *(q for q in encoding.word_positions(p) if q > p)] for p in positions]
    return positions, [[p] for p in positions]


def pll_job(encoding: Encoding, mask_id: int, info: ModelInfo, variant: str = "original") -> Job[ScoreResult]:
    """One sentence's PLL as a batch job (see :mod:`.batch`).

    Its rows are made when a batch takes them: an N-token sentence has N rows of up to a window
    each, which held at once would take N × window ids.
    """
    started = time.perf_counter()
    positions, masked = pll_positions(encoding, variant)
    ids = list(encoding.ids)
    windows = Windows(encoding, info.max_length, info.name)
    where = []
    for group in masked:
        _, shift = windows.cut(ids, group)  # where the window falls; the row itself is made later
        where.append(group[0] - shift)
    width = min(len(ids), info.max_length)
    truncated = len(ids) > info.max_length

    def make(i: int) -> list[int]:
        window, shift = windows.cut(ids, masked[i])
        row = list(window)
        for p in masked[i]:
            row[p - shift] = mask_id
        return row

    log_probs = [0.0] * len(positions)

    def take(i: int, row_log_probs) -> None:
        log_probs[i] = float(row_log_probs[encoding.tokens[positions[i]].id])

    def finish() -> ScoreResult:
        tokens = tuple(
            TokenScore(index=p, token=encoding.tokens[p].text, log_prob=lp)
            for p, lp in zip(positions, log_probs, strict=True)
        )
        elapsed = (time.perf_counter() - started) * 1000
        return ScoreResult(
            text=encoding.text, model=info.name, tokens=tokens, elapsed_ms=elapsed, truncated=truncated
        )

    return Job(Rows([width] * len(positions), make), where, take, finish)


def score_many(
    logits_at: LogitsAt,
    info: ModelInfo,
    mask_id: int,
    encodings: Iterable[Encoding | EngineError],
    *,
    batch_size: int,
    variant: str = "original",
    max_tokens: int = MAX_TOKENS,
) -> Iterator[ScoreResult | EngineError]:
    """PLL of each encoding, in order; an :class:`EngineError` in the input comes out in its place.

    Rows from consecutive sentences share length-sorted batches of at most
    ``batch_size`` rows and ``max_tokens`` tokens (:func:`.batch.run_jobs`).
    """
    if variant not in PLL_VARIANTS:
        raise EngineError(f"unknown PLL variant {variant!r}: choose {' or '.join(PLL_VARIANTS)}")

    def jobs() -> Iterator[Job[ScoreResult] | EngineError]:
        for item in encodings:
            if isinstance(item, EngineError):
                yield item
                continue
            try:
                yield pll_job(item, mask_id, info, variant)
            except EngineError as exc:
                yield exc

    return run_jobs(logits_at, jobs(), batch_size=batch_size, max_tokens=max_tokens)
