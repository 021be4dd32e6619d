"""Pseudo-log-likelihood (Salazar et al. 2020): every token masked in turn, read at its own position.

Masked copies of many sentences share batches, and results stream out in input
order, so scoring a corpus holds one batch and one sentence in memory at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import EngineError
from .predict import LogitsAt, log_softmax
from .types import Encoding, ModelInfo, ScoreResult, TokenScore
from .window import cut_window


@dataclass
class _Job:
    """One sentence's masked copies, and the log-probabilities read so far."""

    encoding: Encoding
    positions: list[int]
    rows: list[list[int]]
    where: list[int]
    truncated: bool
    log_probs: list[float]


def _job(encoding: Encoding, mask_id: int, info: ModelInfo) -> _Job:
    ids = list(encoding.ids)
    positions = [t.index for t in encoding.tokens if not t.special and not t.is_mask]
    if not positions:
        raise EngineError("nothing to score: the text has only masks and special tokens")
    rows, where, shifted = [], [], False
    for position in positions:
        row = list(ids)
        row[position] = mask_id
        window, shift = cut_window(encoding, row, [position], info.max_length, info.name)
        rows.append(window)
        where.append(position - shift)
        shifted = shifted or shift != 0
    truncated = shifted or len(ids) > info.max_length
    return _Job(encoding, positions, rows, where, truncated, [0.0] * len(rows))


def _result(job: _Job, info: ModelInfo, elapsed_ms: float) -> ScoreResult:
    tokens = tuple(
        TokenScore(index=p, token=job.encoding.tokens[p].text, log_prob=lp)
        for p, lp in zip(job.positions, job.log_probs, strict=True)
    )
    return ScoreResult(
        text=job.encoding.text, model=info.name, tokens=tokens, elapsed_ms=elapsed_ms, truncated=job.truncated
    )


def score_many(
    logits_at: LogitsAt,
    info: ModelInfo,
    mask_id: int,
    encodings: Iterable[Encoding | EngineError],
    *,
    batch_size: int,
) -> Iterator[ScoreResult | EngineError]:
    """PLL of each encoding, in order; an :class:`EngineError` in the input comes out in its place.

    Rows from consecutive sentences fill batches of ``batch_size`` forward rows,
    sorted by length so that little padding is needed; results are yielded, in
    order, once the sentences queued for those batches are all scored.
    """
    pending: list[_Job | EngineError] = []
    queued = 0
    started = time.perf_counter()

    def run_pending() -> Iterator[ScoreResult | EngineError]:
        nonlocal started
        work = [(job, i) for job in pending if isinstance(job, _Job) for i in range(len(job.rows))]
        work.sort(
            key=lambda item: len(item[0].rows[item[1]])
        )  # rows of one length share a pass: less padding
        for begin in range(0, len(work), batch_size):
            chunk = work[begin : begin + batch_size]
            logits = logits_at([job.rows[i] for job, i in chunk], [[job.where[i]] for job, i in chunk])
            log_probs = log_softmax(logits)
            for offset, (job, i) in enumerate(chunk):
                token_id = job.encoding.tokens[job.positions[i]].id
                job.log_probs[i] = float(log_probs[offset, token_id])
        elapsed = (time.perf_counter() - started) * 1000
        for done in pending:
            yield done if isinstance(done, EngineError) else _result(done, info, elapsed)
        pending.clear()
        started = time.perf_counter()

    for item in encodings:
        if isinstance(item, EngineError):
            pending.append(item)
            continue
        try:
            job = _job(item, mask_id, info)
        except EngineError as exc:
            pending.append(exc)
            continue
        pending.append(job)
        queued += len(job.rows)
        if queued >= 4 * batch_size:  # a few batches at once: rows sorted by length pad less
            yield from run_pending()
            queued = 0
    yield from run_pending()
