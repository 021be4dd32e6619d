"""Probe sets as batch jobs (see :mod:`.batch`): cloze probes and CrowS-Pairs' masked scores.

A cloze probe is one row — the text with its masks, read at the first mask —
plus, for each accepted answer of several pieces, the rows that score it as a
word (left to right, as ``predict --targets``). CrowS-Pairs follows the
authors' ``metric.py``: the tokens the two sentences share (difflib over token
ids), each masked in turn except the first and last shared ones, the
log-probabilities summed. Minimal pairs use the PLL jobs of :mod:`.score`.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .batch import Job, Rows
from .errors import EngineError
from .predict import chained_rows, top_predictions
from .text import MASK_ALIAS, TextCodec
from .types import Encoding, ModelInfo, Prediction
from .window import Windows, cut_window


@dataclass(frozen=True)
class AnswerScore:
    """One accepted answer at the probe's mask."""

    answer: str
    pieces: tuple[int, ...]
    log_prob: float
    rank: int
    """1 + the number of candidates (single tokens; with a common vocabulary, only those) more probable."""


@dataclass(frozen=True)
class ProbeOutcome:
    """A cloze probe scored: the best-ranked accepted answer, every answer, and the top predictions."""

    position: int
    best: AnswerScore
    answers: tuple[AnswerScore, ...]
    predictions: tuple[Prediction, ...]
    truncated: bool


def common_vocabulary(text: TextCodec, words: Sequence[str]) -> np.ndarray:
    """The ids of ``words`` that are one token of the vocabulary (as a word after a space), sorted.

    As LAMA's ``init_indices_for_filter_logprobs``: a word that is not a single
    token is left out (LAMA's common vocabulary holds only single tokens).
    """
    probe = text.encode(f"a {MASK_ALIAS}")
    position = next(t.index for t in probe.tokens if t.is_mask)
    ids = set()
    for word in words:
        word = word.strip()
        if not word:
            continue
        try:
            pieces = text.target_pieces(probe, position, word)
        except EngineError:
            continue
        if len(pieces) == 1:
            ids.add(pieces[0])
    if not ids:
        raise EngineError("the common vocabulary has no word that is one token of this model's vocabulary")
    return np.array(sorted(ids), dtype=np.int64)


def probe_job(
    text: TextCodec,
    info: ModelInfo,
    encoding: Encoding,
    answers: Sequence[str],
    *,
    top_k: int,
    vocabulary: np.ndarray | None = None,
    sequences: bool = True,
) -> Job[ProbeOutcome]:
    """The rows of one cloze probe: its text read at the first mask, and each several-piece answer's rows."""
    mask_id = text.mask_id
    ids = list(encoding.ids)
    masks = [t.index for t in encoding.tokens if t.is_mask]
    if not masks:
        raise EngineError(f"no {MASK_ALIAS} in the text")
    if not answers or not any(a.strip() for a in answers):
        raise EngineError("the answer is empty")
    position = masks[0]
    window, shift = cut_window(encoding, ids, [position], info.max_length, info.name)
    rows, where = [window], [position - shift]
    spans: list[tuple[str, tuple[int, ...], int]] = []  # answer, pieces, first row of its chain
    for answer in answers:
        answer = answer.strip()
        if not answer:
            continue
        pieces = text.target_pieces(encoding, position, answer)
        if vocabulary is not None and (len(pieces) != 1 or not _contains(vocabulary, pieces[0])):
            raise EngineError(f"the answer {answer!r} is not in the common vocabulary")
        if len(pieces) > info.max_length - 2:
            raise EngineError(f"the answer {answer[:30]!r} is {len(pieces)} tokens long")
        first = len(rows)
        if len(pieces) > 1:
            more, at = chained_rows(mask_id, info, encoding, ids, position, pieces)
            rows.extend(more)
            where.extend(at)
        spans.append((answer, pieces, first))
    taken: dict[int, np.ndarray] = {}
    piece_log_probs: dict[int, float] = {}

    def take(i: int, log_probs: np.ndarray) -> None:
        if i == 0:
            taken[0] = log_probs
            return
        for _answer, pieces, first in spans:  # row i is piece (i - first) of a chained answer
            if first <= i < first + len(pieces) and len(pieces) > 1:
                piece_log_probs[i] = float(log_probs[pieces[i - first]])

    def finish() -> ProbeOutcome:
        main = taken[0]
        candidates = main if vocabulary is None else main[vocabulary]
        scored = []
        for answer, pieces, first in spans:
            if len(pieces) == 1:
                log_prob = float(main[pieces[0]])
            else:
                log_prob = float(sum(piece_log_probs[first + j] for j in range(len(pieces))))
            rank = 1 + int((candidates > log_prob).sum())
            scored.append(AnswerScore(answer=answer, pieces=pieces, log_prob=log_prob, rank=rank))
        best = min(scored, key=lambda a: (a.rank, -a.log_prob))
        probs = np.exp(main.astype(np.float64))
        if vocabulary is not None:
            subset = np.zeros_like(probs)
            subset[vocabulary] = probs[vocabulary]
            probs = subset
        predictions = top_predictions(
            text, ids, position, probs, top_k, skip_special=len(masks) == 1, sequences=sequences
        )
        return ProbeOutcome(
            position=position,
            best=best,
            answers=tuple(scored),
            predictions=tuple(predictions),
            truncated=shift != 0 or len(window) != len(ids),
        )

    return Job(rows, where, take, finish)


def _contains(sorted_ids: np.ndarray, token_id: int) -> bool:
    at = int(np.searchsorted(sorted_ids, token_id))
    return at < len(sorted_ids) and int(sorted_ids[at]) == token_id


def shared_tokens(ids1: Sequence[int], ids2: Sequence[int]) -> tuple[list[int], list[int]]:
    """Positions of the tokens two sentences share, as metric.py's ``get_span`` finds them (difflib over ids)."""
    matcher = difflib.SequenceMatcher(None, [str(i) for i in ids1], [str(i) for i in ids2])
    template1: list[int] = []
    template2: list[int] = []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            template1 += list(range(a0, a1))
            template2 += list(range(b0, b1))
    return template1, template2


@dataclass(frozen=True)
class CrowsScores:
    """metric.py's two sums of log-probabilities, before rounding, and how many tokens each masked."""

    sent1: float
    sent2: float
    masked: int


def crows_job(mask_id: int, info: ModelInfo, first: Encoding, second: Encoding) -> Job[CrowsScores]:
    """Both sentences' shared tokens masked in turn (all but the first and last shared), as metric.py."""
    ids1, ids2 = list(first.ids), list(second.ids)
    if ids1 == ids2:
        raise EngineError("the two sentences are the same")
    template1, template2 = shared_tokens(ids1, ids2)
    spans: list[tuple[list[int], Windows, int]] = []  # ids, their windows, the masked position
    where, targets, lengths = [], [], []
    for encoding, ids, template in ((first, ids1, template1), (second, ids2, template2)):
        windows = Windows(encoding, info.max_length, info.name)
        for i in range(1, len(template) - 1):
            position = template[i]
            window, shift = windows.cut(ids, [position])  # where it falls; the row is made when taken
            spans.append((ids, windows, position))
            where.append(position - shift)
            targets.append(ids[position])
            lengths.append(len(window))

    def make(i: int) -> list[int]:
        ids, windows, position = spans[i]
        window, shift = windows.cut(ids, [position])
        row = list(window)
        row[position - shift] = mask_id
        return row

    rows = Rows(lengths, make)
    half = max(len(template1) - 2, 0)
    values = [0.0] * len(rows)

    def take(i: int, log_probs: np.ndarray) -> None:
        values[i] = float(log_probs[targets[i]])

    def finish() -> CrowsScores:
        # metric.py adds the log-probabilities in its loop order: sentence 1's and 2's alternately.
        sent1, sent2 = 0.0, 0.0
        for i in range(half):
            sent1 += values[i]
            sent2 += values[half + i]
        return CrowsScores(sent1=sent1, sent2=sent2, masked=half)

    # metric.py's log-softmax: torch's float32 kernel, the same bits (numpy's differs by up to 2e-5 a
    # token, enough to move a sum rounded to 3 decimals)
    return Job(rows, where, take, finish, torch_softmax=True)
