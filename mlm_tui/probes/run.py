"""Probe sets through one engine: items in, one JSON-ready object per item out, in input order.

The CLI (``probe``, ``pairs``) and the app's results screen both read these
streams; the summaries are computed from the same objects, so what the screen
shows and what ``--json`` prints cannot disagree.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine.batch import Job, chain_rows, encode_item, item_limit
from ..engine.errors import EngineError
from ..export import _finite
from .formats import BadItem, ClozeItem, CrowsItem, Item, PairItem, item_from_dict
from .metrics import cloze_summary, crows_summary, pairs_summary

DEFAULT_K = 10


def _combine(
    parts: list[Job[Any]], finish: Callable[[list[Any]], dict[str, object]]
) -> Job[dict[str, object]]:
    """One job made of several (the two sentences of a pair); rows are still made only when taken."""
    where: list[int] = []
    owners = []
    for n, part in enumerate(parts):
        where += part.where
        owners += [(n, i) for i in range(len(part.rows))]

    def take(i: int, log_probs: Any) -> None:
        n, j = owners[i]
        parts[n].take(j, log_probs)

    torch_softmax = any(p.torch_softmax for p in parts)
    rows = chain_rows([p.rows for p in parts])
    return Job(rows, where, take, lambda: finish([p.finish() for p in parts]), torch_softmax=torch_softmax)


def _jobs(make: Callable[[Any], Job[dict[str, object]]], items: Iterable[Item]) -> Iterator[Any]:
    for item in items:
        if isinstance(item, BadItem):
            yield item
            continue
        try:
            yield make(item)
        except EngineError as exc:
            yield BadItem(item.line, str(exc))


class _LineError(EngineError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _Skipped(EngineError):
    def __init__(self, item: BadItem) -> None:
        super().__init__(item.error)
        self.item = item


def _run(engine: Any, jobs: Iterable[Any], **batch: Any) -> Iterator[dict[str, object]]:
    def wrapped() -> Iterator[Any]:
        for job in jobs:
            if isinstance(job, BadItem):
                yield _Skipped(job) if job.skipped else _LineError(job.line, job.error)
            else:
                yield job

    for result in engine.run_jobs(wrapped(), **batch):
        if isinstance(result, _Skipped):
            yield result.item.as_dict()
        elif isinstance(result, _LineError):
            yield {"line": result.line, "error": str(result)}
        elif isinstance(result, EngineError):  # raised while finishing: the job knows its line
            yield {"line": getattr(result, "line", None), "error": str(result)}
        else:
            yield result


# ---------------------------------------------------------------------------------------------- cloze


def cloze_results(
    engine: Any,
    items: Iterable[ClozeItem | BadItem],
    *,
    k: int = DEFAULT_K,
    vocabulary: Any = None,
    batch_size: int = 64,
    max_tokens: int | None = None,
    max_item_tokens: int | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> Iterator[dict[str, object]]:
    """Each cloze item's result: the best-ranked answer's rank, probability and pieces, hit@1, hit@k,
    and the top-k predictions (the pipeline's dicts). An item of more than ``max_item_tokens``
    tokens (default: 4 model windows) is an error object."""
    from ..engine.probing import probe_job

    limit = item_limit(engine.info, max_item_tokens)

    def make(item: ClozeItem) -> Job[dict[str, object]]:
        encoding = encode_item(engine, item.text, limit)
        job = probe_job(engine.text, engine.info, encoding, item.answers, top_k=k, vocabulary=vocabulary)

        def finish() -> dict[str, object]:
            outcome = job.finish()
            best = outcome.best
            row: dict[str, object] = {
                "line": item.line,
                "text": item.text,
                "answer": best.answer,
                "group": item.group,
                "rank": best.rank,
                "score": math.exp(best.log_prob),
                "log_prob": _finite(best.log_prob),
                "pieces": len(best.pieces),
                "hit@1": best.rank <= 1,
                "hit@k": best.rank <= k,
                "predictions": [p.as_pipeline_dict() for p in outcome.predictions],
            }
            if len(item.answers) > 1:
                row["answers"] = [
                    {
                        "answer": a.answer,
                        "rank": a.rank,
                        "score": math.exp(a.log_prob),
                        "pieces": len(a.pieces),
                    }
                    for a in outcome.answers
                ]
            if outcome.truncated:
                row["truncated"] = True
            return row

        return Job(job.rows, job.where, job.take, _with_line(item.line, finish))

    return _run(engine, _jobs(make, items), batch_size=batch_size, max_tokens=max_tokens, on_pass=on_pass)


def _with_line(line: int, finish: Callable[[], dict[str, object]]) -> Callable[[], dict[str, object]]:
    def run() -> dict[str, object]:
        try:
            return finish()
        except EngineError as exc:
            error = EngineError(str(exc))
            error.line = line  # type: ignore[attr-defined]
            raise error from None

    return run


# ---------------------------------------------------------------------------------------------- pairs


def pair_results(
    engine: Any,
    items: Iterable[Item],
    *,
    variant: str = "original",
    batch_size: int = 64,
    max_tokens: int | None = None,
    max_item_tokens: int | None = None,
    on_pass: Callable[[int, int], None] | None = None,
) -> Iterator[dict[str, object]]:
    """Minimal pairs: each sentence's PLL (``variant``: original or word-l2r) and whether the good one won;
    CrowS-Pairs items: metric.py's scores (rounded to 3 decimals) and whether the more stereotyping won.
    A sentence of more than ``max_item_tokens`` tokens (default: 4 model windows) makes its item an error."""
    from ..engine.probing import crows_job
    from ..engine.score import pll_job

    mask_id = engine.text.mask_id
    limit = item_limit(engine.info, max_item_tokens)

    def encode(text: str) -> Any:
        return encode_item(engine, text, limit)

    def make(item: PairItem | CrowsItem) -> Job[dict[str, object]]:
        if isinstance(item, CrowsItem):
            stereo = item.direction == "stereo"
            sent1, sent2 = (item.sent_more, item.sent_less) if stereo else (item.sent_less, item.sent_more)
            job = crows_job(mask_id, engine.info, encode(sent1), encode(sent2))

            def finish_crows() -> dict[str, object]:
                scores = job.finish()
                s1, s2 = round(scores.sent1, 3), round(scores.sent2, 3)
                more, less = (s1, s2) if stereo else (s2, s1)
                return {
                    "line": item.line,
                    "sent_more": item.sent_more,
                    "sent_less": item.sent_less,
                    "direction": item.direction,
                    "group": item.group,
                    "sent_more_score": more,
                    "sent_less_score": less,
                    "score": int(more > less),
                }

            return Job(job.rows, job.where, job.take, _with_line(item.line, finish_crows), torch_softmax=True)
        good = pll_job(encode(item.good), mask_id, engine.info, variant)
        bad = pll_job(encode(item.bad), mask_id, engine.info, variant)

        def finish_pair(done: list[Any]) -> dict[str, object]:
            pll_good, pll_bad = done[0].pll, done[1].pll
            return {
                "line": item.line,
                "good": item.good,
                "bad": item.bad,
                "group": item.group,
                **item.meta,
                "pll_good": pll_good,
                "pll_bad": pll_bad,
                "correct": pll_good > pll_bad,
            }

        combined = _combine([good, bad], finish_pair)
        return Job(combined.rows, combined.where, combined.take, _with_line(item.line, combined.finish))

    return _run(engine, _jobs(make, items), batch_size=batch_size, max_tokens=max_tokens, on_pass=on_pass)


# ---------------------------------------------------------------------------------------------- chunks


def _items(records: Iterable[Sequence[Any]]) -> list[Item]:
    """The items of ``[line_number, item_to_dict(item)]`` records (after a JSON round trip too)."""
    return [item_from_dict(data) for _, data in records]


_VOCABULARIES: weakref.WeakKeyDictionary[Any, tuple[tuple[str, ...], Any]] = weakref.WeakKeyDictionary()


def _vocabulary(engine: Any, words: Sequence[str] | None) -> Any:
    """The ids of the common vocabulary ``words`` for ``engine``: computed once per engine (per Ray actor)."""
    if words is None:
        return None
    from ..engine.probing import common_vocabulary

    key = tuple(words)
    cached = _VOCABULARIES.get(engine)
    if cached is None or cached[0] != key:
        cached = (key, common_vocabulary(engine.text, key))
        _VOCABULARIES[engine] = cached
    return cached[1]


def probe_chunk(
    engine: Any,
    records: Sequence[Sequence[Any]],
    *,
    k: int = DEFAULT_K,
    words: Sequence[str] | None = None,
    batch_size: int = 64,
    max_tokens: int | None = None,
    max_item_tokens: int | None = None,
) -> Iterator[dict[str, object]]:
    """``probe``'s unit of work, the same with and without ``--ray``: :func:`cloze_results` of one chunk.

    ``records``: ``[line_number, item_to_dict(item)]``; ``words``: the ``--common-vocab`` list,
    turned into vocabulary ids here (on a Ray actor: by the actor, for its own engine).
    """
    vocabulary = _vocabulary(engine, words)
    items: list[Any] = _items(records)
    return cloze_results(
        engine,
        items,
        k=k,
        vocabulary=vocabulary,
        batch_size=batch_size,
        max_tokens=max_tokens,
        max_item_tokens=max_item_tokens,
    )


def pairs_chunk(
    engine: Any,
    records: Sequence[Sequence[Any]],
    *,
    variant: str = "original",
    batch_size: int = 64,
    max_tokens: int | None = None,
    max_item_tokens: int | None = None,
) -> Iterator[dict[str, object]]:
    """``pairs``' unit of work, the same with and without ``--ray``: :func:`pair_results` of one chunk."""
    return pair_results(
        engine,
        _items(records),
        variant=variant,
        batch_size=batch_size,
        max_tokens=max_tokens,
        max_item_tokens=max_item_tokens,
    )


# ---------------------------------------------------------------------------------------------- summaries


@dataclass
class Tally:
    """What a summary needs of each item, gathered as results stream by (a few numbers an item)."""

    kind: str
    k: int = DEFAULT_K
    group_by: str = "group"
    """The row's key whose value groups the summary (``field`` or ``linguistics_term`` for BLiMP by phenomenon)."""
    groups: list[str | None] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    failed: int = 0
    skipped: int = 0

    def add(self, row: dict[str, object]) -> None:
        if "error" in row:
            self.failed += 1
            return
        if "skipped" in row:
            self.skipped += 1
            return
        group = row.get(self.group_by)
        self.groups.append(None if group is None else str(group))
        if self.kind == "cloze":
            self.values.append(row["rank"])
        elif self.kind == "crows":
            self.values.append((row["direction"], row["sent_more_score"], row["sent_less_score"]))
        else:
            self.values.append(row["correct"])

    def summary(self, n_boot: int) -> dict[str, object]:
        if self.kind == "cloze":
            result = cloze_summary(self.values, self.groups, k=self.k, n_boot=n_boot)
        elif self.kind == "crows":
            result = crows_summary(self.values, self.groups, n_boot=n_boot)
        else:
            result = pairs_summary(self.values, self.groups, n_boot=n_boot)
        result["failed"] = self.failed
        result["skipped"] = self.skipped
        return result
