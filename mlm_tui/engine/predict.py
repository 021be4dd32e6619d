"""Fill-mask: validate a request, one forward pass over the window, softmax and top-k at each mask.

The postprocessing of ``transformers.FillMaskPipeline``, in numpy so that both
backends share it: softmax over the vocabulary at each mask (natural logs for
log-probabilities), top-k, the pipeline's ``token_str`` and ``sequence``, and
targets scored as whole words.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from .errors import EngineError
from .text import MASK_ALIAS, TextCodec
from .types import Encoding, MaskResult, ModelInfo, Prediction, PredictResult, TargetScore
from .window import cut_window

LogitsAt = Callable[[Sequence[Sequence[int]], Sequence[Sequence[int]]], np.ndarray]
"""Rows of ids and positions per row → float32 logits at those positions (a backend's forward pass)."""


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def torch_log_softmax(logits: np.ndarray) -> np.ndarray:
    """torch's float32 ``log_softmax`` over the last axis: the kernel a plain torch loop runs, bit for bit
    (each row equals ``torch.nn.LogSoftmax(dim=0)`` of that row alone, as CrowS-Pairs' metric.py calls it)."""
    import torch

    with torch.inference_mode():
        return torch.log_softmax(torch.from_numpy(np.ascontiguousarray(logits, np.float32)), dim=-1).numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _largest(probs: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values, largest first (ties: lower id first)."""
    k = min(k, probs.shape[-1])
    candidates = np.argpartition(-probs, k - 1)[:k] if k < probs.shape[-1] else np.arange(probs.shape[-1])
    return candidates[np.lexsort((candidates, -probs[candidates]))]


def masked_ids(encoding: Encoding, masked: Iterable[int], top_k: int, mask_id: int) -> list[int]:
    """Check a prediction request (the one place that does) and return the ids with the masks in."""
    if top_k < 1:
        raise EngineError(f"top-k must be at least 1, got {top_k}")
    ids = list(encoding.ids)
    for position in masked:
        if not 0 <= position < len(ids) or encoding.tokens[position].special:
            raise EngineError(f"position {position} cannot be masked")
        ids[position] = mask_id
    if mask_id not in ids:
        raise EngineError(f"the text has no mask: write {MASK_ALIAS} where a word should be predicted")
    return ids


def predict(
    text: TextCodec,
    logits_at: LogitsAt,
    info: ModelInfo,
    encoding: Encoding,
    ids: list[int],
    *,
    top_k: int,
    targets: Sequence[str],
    full: bool,
) -> PredictResult:
    """Predictions at every mask in ``ids`` (checked by :func:`masked_ids`)."""
    started = time.perf_counter()
    positions = [i for i, t in enumerate(ids) if t == text.mask_id]
    window, shift = cut_window(encoding, ids, positions, info.max_length, info.name)
    logits = logits_at([window], [[p - shift for p in positions]])
    probs = softmax(logits)
    log_probs = log_softmax(logits) if full else None
    single = len(positions) == 1
    masks = []
    for row, position in enumerate(positions):
        predictions = top_predictions(text, ids, position, probs[row], top_k, skip_special=single)
        scored = _score_targets(text, logits_at, info, encoding, ids, position, targets, probs[row], single)
        masks.append(
            MaskResult(
                position=position,
                predictions=tuple(predictions),
                targets=scored,
                log_probs=None if log_probs is None else log_probs[row],
            )
        )
    return PredictResult(
        ids=tuple(ids),
        masks=tuple(masks),
        elapsed_ms=(time.perf_counter() - started) * 1000,
        truncated=shift != 0 or len(window) != len(ids),
    )


def top_k_ids(probs: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in _largest(probs, k)]


def top_predictions(
    text: TextCodec,
    ids: list[int],
    position: int,
    probs: np.ndarray,
    top_k: int,
    *,
    skip_special: bool,
    sequences: bool = True,
) -> list[Prediction]:
    """The ``top_k`` candidates at ``position``, as the pipeline lists them (``sequence``: ids with the
    candidate in; left empty when ``sequences`` is false)."""
    predictions = []
    for token_id in top_k_ids(probs, top_k):
        filled = list(ids)
        filled[position] = token_id
        predictions.append(
            Prediction(
                score=float(probs[token_id]),
                token=token_id,
                token_str=text.token_str(token_id),
                sequence=text.sequence(filled, skip_special=skip_special) if sequences else "",
            )
        )
    return predictions


def _score_targets(
    text: TextCodec,
    logits_at: LogitsAt,
    info: ModelInfo,
    encoding: Encoding,
    ids: list[int],
    position: int,
    targets: Sequence[str],
    probs: np.ndarray,
    single: bool,
) -> tuple[TargetScore, ...]:
    seen: dict[tuple[int, ...], TargetScore] = {}
    for target in targets:
        pieces = text.target_pieces(encoding, position, target)
        if len(pieces) > info.max_length - 2:  # before building one row per piece (quadratic)
            shown = target.strip()[:30] + ("…" if len(target.strip()) > 30 else "")
            raise EngineError(
                f"the target {shown!r} is {len(pieces)} tokens long; {info.name} reads at most {info.max_length}"
            )
        if pieces in seen:
            continue
        filled = ids[:position] + list(pieces) + ids[position + 1 :]
        if len(pieces) == 1:
            score = float(probs[pieces[0]])
            log_prob = math.log(score) if score > 0 else -math.inf
            rank = 1 + int((probs > probs[pieces[0]]).sum())
        else:
            log_prob = _chained_log_prob(text.mask_id, logits_at, info, encoding, ids, position, pieces)
            score = math.exp(log_prob)
            rank = 1 + int((probs > score).sum())
        seen[pieces] = TargetScore(
            target=target.strip(),
            token_str=text.decode(list(pieces)),
            pieces=pieces,
            piece_strs=tuple(text.id_to_piece(p) for p in pieces),
            score=score,
            log_prob=log_prob,
            rank=rank,
            sequence=text.sequence(filled, skip_special=single),
        )
    return tuple(sorted(seen.values(), key=lambda t: -t.log_prob))


def chained_rows(
    mask_id: int, info: ModelInfo, encoding: Encoding, ids: list[int], position: int, pieces: tuple[int, ...]
) -> tuple[list[list[int]], list[int]]:
    """The rows that score a word of several pieces at ``position``, left to right: row ``i`` has the
    pieces before ``i`` filled in and masks from ``i`` on, read at piece ``i`` (windows, and where)."""
    n = len(pieces)
    rows, where = [], []
    for i in range(n):
        rows.append(ids[:position] + list(pieces[:i]) + [mask_id] * (n - i) + ids[position + 1 :])
        where.append(position + i)
    # The window is cut from the widened sequence; every row has the same length.
    widened = Encoding(
        text=encoding.text,
        tokens=encoding.tokens[:position]
        + (encoding.tokens[position],) * n
        + encoding.tokens[position + 1 :],
    )
    cut = [cut_window(widened, row, [position, position + n - 1], info.max_length, info.name) for row in rows]
    shift = cut[0][1]
    return [c[0] for c in cut], [w - shift for w in where]


def _chained_log_prob(
    mask_id: int,
    logits_at: LogitsAt,
    info: ModelInfo,
    encoding: Encoding,
    ids: list[int],
    position: int,
    pieces: tuple[int, ...],
) -> float:
    """``Σ_i log P(w_i | w_<i, context)``: the word's pieces as masks, filled left to right."""
    rows, where = chained_rows(mask_id, info, encoding, ids, position, pieces)
    log_probs = log_softmax(logits_at(rows, [[w] for w in where]))
    return float(sum(log_probs[i, pieces[i]] for i in range(len(pieces))))
