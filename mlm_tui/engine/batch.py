"""Many items, few forward passes: the masked rows of consecutive items share length-bucketed batches.

Every batch job of the engine (PLL of a corpus, probe sets, minimal pairs,
CrowS-Pairs) is a list of *rows* — token ids with one position to read — and
a reduction of the log-probabilities read there. :func:`run_jobs` queues the
rows of consecutive items, sorts them by length so that a batch pads little,
cuts batches by row count *and* by a token budget (a long item can never make
one pass exhaust memory), and yields each item's result in input order as soon
as the items queued with it are done. Only those items are held in memory,
whatever the size of the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from .errors import EngineError
from .predict import LogitsAt, log_softmax

MAX_TOKENS = 16384
"""Default token budget of one forward pass (rows × padded length)."""

T = TypeVar("T")


@dataclass
class Job(Generic[T]):
    """One item's rows, and what to make of their log-probabilities.

    ``take(i, log_probs)`` receives row ``i``'s float32 natural log-probabilities
    over the vocabulary at its read position; ``finish()`` returns the item's result
    once every row was taken.
    """

    rows: list[list[int]]
    where: list[int]
    take: Callable[[int, np.ndarray], None]
    finish: Callable[[], T]
    extra: dict[str, object] = field(default_factory=dict)


def batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices of rows grouped into batches, shortest first: at most ``batch_size`` rows and
    ``max_tokens`` padded tokens a batch (a row longer than the budget goes alone)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    chunk: list[int] = []
    for index in order:
        longest = lengths[index]  # sorted: the newest row is the longest of the chunk
        if chunk and (len(chunk) >= batch_size or (len(chunk) + 1) * longest > max_tokens):
            yield chunk
            chunk = []
        chunk.append(index)
    if chunk:
        yield chunk


def run_jobs(
    logits_at: LogitsAt,
    jobs: Iterable[Job[T] | EngineError],
    *,
    batch_size: int,
    max_tokens: int = MAX_TOKENS,
    on_pass: Callable[[], None] | None = None,
) -> Iterator[T | EngineError]:
    """Each job's result in input order; an :class:`EngineError` in the input comes out in its place.

    Rows of consecutive jobs are run together once a few batches' worth are queued.
    """
    pending: list[Job[T] | EngineError] = []
    queued = 0

    def run_pending() -> Iterator[T | EngineError]:
        work = [(job, i) for job in pending if isinstance(job, Job) for i in range(len(job.rows))]
        lengths = [len(job.rows[i]) for job, i in work]
        for chunk in batches(lengths, batch_size, max_tokens):
            rows = [work[c][0].rows[work[c][1]] for c in chunk]
            where = [[work[c][0].where[work[c][1]]] for c in chunk]
            log_probs = log_softmax(logits_at(rows, where))
            for offset, c in enumerate(chunk):
                job, i = work[c]
                job.take(i, log_probs[offset])
            if on_pass is not None:
                on_pass()
        for done in pending:
            if isinstance(done, EngineError):
                yield done
                continue
            try:
                yield done.finish()
            except EngineError as exc:
                yield exc
        pending.clear()

    for job in jobs:
        pending.append(job)
        if isinstance(job, Job):
            queued += len(job.rows)
        if queued >= 4 * batch_size:  # a few batches at once: rows sorted by length pad less
            yield from run_pending()
            queued = 0
    yield from run_pending()
