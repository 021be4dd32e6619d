"""Beyond one mask at a time: joint fills of several masks, and the model's view of every token.

Both run on a backend's :data:`~.predict.LogitsAt`, so PyTorch and ONNX Runtime give
the same answers.

Joint fill: confidence-first iterative filling with a beam (Mask-Predict,
Ghazvininejad et al. 2019; the "most confident mask first" order of LLaDA-style
samplers). At each step every beam state predicts its remaining masks in one
batched forward pass; each (position, token) pair extends a state by
``log p(token)`` at that moment, and the best ``beam`` distinct partial fills are
kept. A complete fill is then scored by a measure that does not depend on the
search: the pseudo-log-likelihood of the masked positions,
``Σ_i log p(token_i | every other mask filled as in this fill)``. The independent
fill (each mask's top-1 with every mask still masked, the pipeline's pick) is
always scored and listed, so the best fill is never worse than it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .predict import LogitsAt, log_softmax, top_k_ids, top_predictions
from .text import TextCodec
from .types import Encoding, Fill, FillStep, JointResult, ModelInfo, UnmaskedResult, UnmaskedToken
from .window import cut_window

MAX_BEAM = 50
MAX_JOINT_MASKS = 32
"""More masks than this make a joint search of little meaning and of many passes; refused."""


@dataclass(frozen=True)
class _State:
    fill: tuple[tuple[int, int], ...]
    """(position, token) pairs chosen so far, sorted by position."""
    score: float
    steps: tuple[FillStep, ...]


class _Rows:
    """Forward passes over rows of ids, each row's log-probabilities at its open masks kept for reuse.

    A row is the ids and the positions still to fill (a position filled with the mask
    token itself counts as filled). A row seen before (the same partial fill reached
    twice, or a scoring row that a search step already ran) costs nothing.
    """

    def __init__(self, logits_at: LogitsAt) -> None:
        self._logits_at = logits_at
        self._seen: dict[tuple[tuple[int, ...], tuple[int, ...]], np.ndarray] = {}
        self.passes = 0

    def run(self, rows: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]) -> list[np.ndarray]:
        """Log-probabilities (open positions × vocabulary) for each row, new rows in one pass."""
        new = list(dict.fromkeys(r for r in rows if r not in self._seen))
        if new:
            out = log_softmax(self._logits_at([ids for ids, _ in new], [list(open_) for _, open_ in new]))
            self.passes += 1
            begin = 0
            for row in new:
                self._seen[row] = out[begin : begin + len(row[1])]
                begin += len(row[1])
        return [self._seen[r] for r in rows]


def joint_fill(
    text: TextCodec,
    logits_at: LogitsAt,
    info: ModelInfo,
    encoding: Encoding,
    ids: list[int],
    *,
    beam: int,
) -> JointResult:
    """Joint fills of the masks in ``ids`` (checked by :func:`.predict.masked_ids`), best first."""
    if not 1 <= beam <= MAX_BEAM:
        raise EngineError(f"the beam must be between 1 and {MAX_BEAM}, got {beam}")
    started = time.perf_counter()
    positions = [i for i, t in enumerate(ids) if t == text.mask_id]
    if len(positions) > MAX_JOINT_MASKS:
        raise EngineError(f"{len(positions)} masks: a joint fill takes at most {MAX_JOINT_MASKS}")
    window, shift = cut_window(encoding, ids, positions, info.max_length, info.name)
    rows = _Rows(logits_at)

    def row_of(fill: dict[int, int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The window with ``fill`` put in, and the window positions still open (in mask order)."""
        row = list(window)
        for position, token in fill.items():
            row[position - shift] = token
        return tuple(row), tuple(p - shift for p in positions if p not in fill)

    def remaining(fill: dict[int, int]) -> list[int]:
        return [p for p in positions if p not in fill]

    states = [_State((), 0.0, ())]
    independent_tokens: tuple[int, ...] = ()
    for _ in positions:
        outs = rows.run([row_of(dict(s.fill)) for s in states])
        if not independent_tokens:
            independent_tokens = tuple(int(np.argmax(out)) for out in outs[0])
        candidates: list[tuple[float, int, _State, int, int, float]] = []
        for rank, (state, out) in enumerate(zip(states, outs, strict=True)):
            for r, position in enumerate(remaining(dict(state.fill))):
                for token in top_k_ids(out[r], beam):
                    log_p = float(out[r, token])
                    candidates.append((state.score + log_p, rank, state, position, token, log_p))
        candidates.sort(key=lambda c: (-c[0], c[1], c[3], c[4]))
        kept: dict[tuple[tuple[int, int], ...], _State] = {}
        for total, _order, state, position, token, log_p in candidates:
            fill = tuple(sorted((*state.fill, (position, token))))
            if fill in kept:
                continue
            step = FillStep(position, token, text.token_str(token), math.exp(log_p))
            kept[fill] = _State(fill, total, (*state.steps, step))
            if len(kept) == beam:
                break
        states = list(kept.values())

    searched = {tuple(t for _, t in s.fill): s for s in states}
    candidates_tokens = list(searched)
    if independent_tokens not in searched:
        candidates_tokens.append(independent_tokens)
    scores = _pll(rows, row_of, positions, candidates_tokens)

    def make(tokens: tuple[int, ...], log_prob: float) -> Fill:
        state = searched.get(tokens)
        filled = list(ids)
        for position, token in zip(positions, tokens, strict=True):
            filled[position] = token
        return Fill(
            tokens=tokens,
            token_strs=tuple(text.token_str(t) for t in tokens),
            sequence=text.sequence(filled, skip_special=True),
            log_prob=log_prob,
            steps=state.steps if state is not None else (),
        )

    # best first; ties keep the search's order; a NaN score (a broken checkpoint) sorts last
    best_first = sorted(range(len(candidates_tokens)), key=lambda i: (-_finite(scores[i]), i))
    fills = tuple(make(candidates_tokens[i], scores[i]) for i in best_first)
    independent = next(f for f in fills if f.tokens == independent_tokens)
    best = fills[0]
    steps = best.steps or _replay(rows, row_of, positions, best.tokens, text)
    return JointResult(
        positions=tuple(positions),
        fills=fills,
        independent=independent,
        steps=steps,
        beam=beam,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        forward_passes=rows.passes,
        truncated=shift != 0 or len(window) != len(ids),
    )


def _finite(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _pll(rows: _Rows, row_of, positions: list[int], fills: list[tuple[int, ...]]) -> list[float]:
    """``Σ_i log p(token_i | the other masks filled)`` of each fill, every new row in one pass."""
    asked: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for tokens in fills:
        fill = dict(zip(positions, tokens, strict=True))
        for position in positions:
            asked.append(row_of({p: t for p, t in fill.items() if p != position}))
    outs = rows.run(asked)
    scores = []
    for n, tokens in enumerate(fills):
        own = outs[n * len(positions) : (n + 1) * len(positions)]
        scores.append(float(sum(out[0, token] for out, token in zip(own, tokens, strict=True))))
    return scores


def _replay(rows: _Rows, row_of, positions: list[int], tokens: tuple[int, ...], text: TextCodec):
    """Steps for a fill the search did not reach: its masks revealed most confident first."""
    wanted = dict(zip(positions, tokens, strict=True))
    fill: dict[int, int] = {}
    steps = []
    while len(fill) < len(positions):
        (out,) = rows.run([row_of(fill)])
        left = [p for p in positions if p not in fill]
        r = max(range(len(left)), key=lambda i: (out[i, wanted[left[i]]], -i))
        position = left[r]
        fill[position] = wanted[position]
        token = wanted[position]
        steps.append(FillStep(position, token, text.token_str(token), math.exp(float(out[r, token]))))
    return tuple(steps)


UNMASKED_GROUP = 256
"""Positions read per forward pass in the unmasked view (bounds the logits held at once)."""


def unmasked(
    text: TextCodec,
    logits_at: LogitsAt,
    info: ModelInfo,
    encoding: Encoding,
    *,
    top_k: int,
    sequences: bool = True,
    masked: Sequence[int] = (),
) -> UnmaskedResult:
    """Top-k, own probability and rank, and entropy at every non-special token, as the model reads it.

    The model reads the text as the cells show it: a mask typed in the text and a token masked with
    ``m`` (``masked``, positions) are both the mask token, so the two look and answer alike.

    One forward pass for a text the model reads whole (positions in groups of
    :data:`UNMASKED_GROUP`); a longer text is read in windows, each centred on a
    group of half its width, so every position has at least a quarter of a window
    of context on each side where the text has it.
    """
    if top_k < 1:
        raise EngineError(f"top-k must be at least 1, got {top_k}")
    started = time.perf_counter()
    ids = list(encoding.ids)
    for position in masked:
        ids[position] = text.mask_id
    positions = [t.index for t in encoding.tokens if not t.special]
    head = positions[0]
    tail = len(ids) - positions[-1] - 1
    width = max(1, min(UNMASKED_GROUP, info.max_length - head - tail))
    if len(ids) > info.max_length:  # read in windows: half of each is context around its group
        width = max(1, (info.max_length - head - tail) // 2)
    views: list[UnmaskedToken] = []
    single = text.mask_id not in ids  # the pipeline drops special tokens from a sequence with no mask left
    truncated = len(ids) > info.max_length
    for begin in range(0, len(positions), width):
        group = positions[begin : begin + width]
        window, shift = cut_window(encoding, ids, [group[0], group[-1]], info.max_length, info.name)
        logits = logits_at([window], [[p - shift for p in group]])
        log_probs = log_softmax(logits)
        probs = np.exp(log_probs)
        for row, position in enumerate(group):
            token_id = encoding.ids[position]
            own = float(probs[row, token_id])
            predictions = top_predictions(
                text, ids, position, probs[row], top_k, skip_special=single, sequences=sequences
            )
            finite = np.where(probs[row] > 0, probs[row] * log_probs[row], 0.0)
            views.append(
                UnmaskedToken(
                    index=position,
                    token=encoding.tokens[position].text,
                    id=token_id,
                    predictions=tuple(predictions),
                    score=own,
                    rank=1 + int((probs[row] > own).sum()),
                    entropy=float(-finite.sum()),
                )
            )
    return UnmaskedResult(
        text=encoding.text,
        tokens=tuple(views),
        elapsed_ms=(time.perf_counter() - started) * 1000,
        truncated=truncated,
    )
