"""Many items, few forward passes: the masked rows of consecutive items share length-bucketed batches.

Every batch job of the engine (PLL of a corpus, probe sets, minimal pairs,
CrowS-Pairs) is a list of *rows* — token ids with one position to read — and
a reduction of the log-probabilities read there. :func:`run_jobs` queues the
rows of consecutive items, sorts them by length so that a batch pads little,
cuts batches by row count *and* by a token budget (a long item can never make
one pass exhaust memory), and yields each item's result in input order as soon
as the items queued with it are done. Only those items are held in memory,
whatever the size of the input; an item's rows may be made only when a batch takes
them (:class:`Rows`: the PLL of an N-token item is N rows of up to a window each),
and an item above a number of tokens is refused before it is tokenized in full
(:func:`encode_item`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from .errors import EngineError
from .predict import LogitsAt, log_softmax, torch_log_softmax
from .types import Encoding, ModelInfo

MAX_TOKENS = 16384
"""Default token budget of one forward pass (rows × padded length)."""
ITEM_WINDOWS = 4
"""Default per-item limit, in model windows: an item of more than ``4 × max_length`` tokens is an error."""

T = TypeVar("T")

PASS_REPORTER: ContextVar[Callable[[int, int], None] | None] = ContextVar("pass_reporter", default=None)
"""Where :func:`run_jobs` reports its forward passes when it is given no ``on_pass``: the CLI's
progress bar sets it, so a long item (many passes before its line is done) shows it is moving."""


@dataclass
class Job(Generic[T]):
    """One item's rows, and what to make of their log-probabilities.

    ``take(i, log_probs)`` receives row ``i``'s float32 natural log-probabilities
    over the vocabulary at its read position; ``finish()`` returns the item's result
    once every row was taken.
    """

    rows: Sequence[list[int]]
    where: Sequence[int]
    take: Callable[[int, np.ndarray], None]
    finish: Callable[[], T]
    extra: dict[str, object] = field(default_factory=dict)
    torch_softmax: bool = False
    """Read log-probabilities from torch's float32 ``log_softmax``, bit for bit what a plain torch loop
    (CrowS-Pairs' ``metric.py``) gets; else numpy's float32 one, whose sum over the vocabulary is
    pairwise and so closer to the exact value (torch's drops the smallest terms: up to 2e-5 a token)."""


class Rows(Sequence[list[int]]):
    """Rows made only when a batch takes them: ``make(i)`` builds row ``i``, ``lengths[i]`` is its length."""

    def __init__(self, lengths: Sequence[int], make: Callable[[int], list[int]]) -> None:
        self.lengths = lengths
        self.make = make

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self.make(j) for j in range(len(self))[i]]
        return self.make(i)


def row_length(rows: Sequence[list[int]], i: int) -> int:
    return rows.lengths[i] if isinstance(rows, Rows) else len(rows[i])


def chain_rows(parts: Sequence[Sequence[list[int]]]) -> Rows:
    """The rows of several jobs one after the other, still made only when taken."""
    owners = [(n, i) for n, part in enumerate(parts) for i in range(len(part))]
    lengths = [row_length(parts[n], i) for n, i in owners]
    return Rows(lengths, lambda k: parts[owners[k][0]][owners[k][1]])


def item_limit(info: ModelInfo, requested: int | None = None) -> int:
    """The most tokens one item may have: ``requested``, else :data:`ITEM_WINDOWS` model windows."""
    return requested if requested else ITEM_WINDOWS * info.max_length


def encode_item(engine: Any, text: str, limit: int) -> Encoding:
    """``engine.encode(text)``, or an :class:`EngineError` when the text has more than ``limit`` tokens.

    A long text is counted a stretch at a time first (:meth:`~.text.TextCodec.count_pieces`), so a
    line of a million words is refused after its first few thousand, not tokenized in full.
    """
    codec = getattr(engine, "text", None)
    if codec is not None and len(text) > 8 * limit:
        counted, read = codec.count_pieces(text, limit)
        if counted > limit:
            raise EngineError(
                f"the text is over the limit of {limit:,} tokens per item (--max-item-tokens): "
                f"{counted:,} tokens in its first {read:,} of {len(text):,} characters"
            )
    encoding = engine.encode(text)
    length = sum(1 for t in encoding.tokens if not t.special)
    if length > limit:
        raise EngineError(
            f"the text is {length:,} tokens long, over the limit of {limit:,} per item (--max-item-tokens)"
        )
    return encoding


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
    on_pass: Callable[[int, int], None] | None = None,
) -> Iterator[T | EngineError]:
    """Each job's result in input order; an :class:`EngineError` in the input comes out in its place.

    Rows of consecutive jobs are run together once a few batches' worth are queued.
    ``on_pass(done, total)`` after each forward pass: rows done and queued in the current group
    (a long item is one group of many passes).
    """
    pending: list[Job[T] | EngineError] = []
    queued = 0
    on_pass = on_pass or PASS_REPORTER.get()

    def run_pending() -> Iterator[T | EngineError]:
        work = [(job, i) for job in pending if isinstance(job, Job) for i in range(len(job.rows))]
        lengths = [row_length(job.rows, i) for job, i in work]
        taken = 0
        for chunk in batches(lengths, batch_size, max_tokens):
            rows = [work[c][0].rows[work[c][1]] for c in chunk]
            where = [[work[c][0].where[work[c][1]]] for c in chunk]
            logits = logits_at(rows, where)
            exact = any(work[c][0].torch_softmax for c in chunk)
            log_probs = torch_log_softmax(logits) if exact else log_softmax(logits)
            for offset, c in enumerate(chunk):
                job, i = work[c]
                job.take(i, log_probs[offset])
            taken += len(chunk)
            if on_pass is not None:
                on_pass(taken, len(work))
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
