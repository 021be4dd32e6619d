"""Inside the model, layer by layer: the MLM lens, the layer × token grid, and the hidden states themselves.

The lens applies the model's own MLM head (:mod:`.backends.lens_head`: the type's full head after
its final normalisation) to every layer's hidden state at one position (Din et al. 2024, *Jump to
Conclusions*); its last layer is the model's own prediction. The grid does that at every position
of every layer and keeps the top-1 (the "logit lens" picture). :class:`HiddenStates` holds the
vectors for token similarity (cosine, optionally standardised per dimension as Timkey & van
Schijndel 2021 advise against BERT's rogue dimensions) and a token's path over the layers.

Backends give two primitives: ``hidden_states(ids) -> (layers, n, d)`` for one row and
``head_logits(hidden) -> (m, vocab)`` for rows of hidden vectors; everything here is numpy, so both
backends give the same answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import EngineError
from .predict import _largest, log_softmax
from .text import TextCodec
from .types import Encoding, Prediction
from .window import cut_window, window_positions

GRID_CHUNK_BYTES = 64 * 1024 * 1024
"""The most vocabulary logits the grid holds at once (rows of hidden vectors go through the head in chunks)."""

HeadLogits = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LensLayer:
    """What the model's MLM head reads from one layer's hidden state at one position."""

    layer: int
    """0 = the embeddings' output (``hidden_states[0]``) … L = the last layer."""
    top: tuple[Prediction, ...]
    """The head's top-k tokens on this layer (``sequence`` left empty)."""
    entropy: float
    """Of the head's distribution on this layer, in nats."""
    kl_to_final: float
    """KL(final ‖ this layer), in nats (0 on the last layer)."""
    final_rank: int
    """Rank (1-based) on this layer of the last layer's top-1."""
    final_prob: float
    """Probability on this layer of the last layer's top-1."""


@dataclass(frozen=True)
class LensResult:
    """The MLM lens at one position: one row per layer."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    """The text's ids as the model read them (special tokens included, masks as the mask id)."""
    position: int
    layers: tuple[LensLayer, ...]
    log_probs: Any = field(compare=False, repr=False)
    """float32 (layers, vocab): the head's natural-log probabilities on each layer."""
    elapsed_ms: float = 0.0
    window: tuple[int, int] = (0, 0)
    """The tokens the model read, ``[start, end)``: the whole text unless it is longer than the model reads."""

    def rank_prob(self, layer: int, token_id: int) -> tuple[int, float]:
        """Rank (1 + the number of tokens more probable) and probability of ``token_id`` on ``layer``."""
        row = self.log_probs[layer]
        value = row[token_id]
        return 1 + int((row > value).sum()), float(math.exp(float(value)))


@dataclass(frozen=True)
class LensGrid:
    """The lens's top-1 at every layer and position."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    top_ids: Any
    """int (layers, n): the top-1 id on each layer at each position; -1 outside the window."""
    top_probs: Any
    """float32 (layers, n): its probability; NaN outside the window."""
    top_strs: tuple[tuple[str, ...], ...]
    """(layers) × (n): the top-1 decoded as the pipeline decodes it ("" outside the window)."""
    window: tuple[int, int] = (0, 0)
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class HiddenStates:
    """Every layer's vector for every token of a text."""

    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    states: Any
    """float32 (layers, n, d); NaN rows outside the window."""
    window: tuple[int, int] = (0, 0)
    elapsed_ms: float = 0.0

    @property
    def layers(self) -> int:
        return int(self.states.shape[0])

    def _vectors(self, layer: int) -> np.ndarray:
        if not 0 <= layer < self.layers:
            raise EngineError(f"layer {layer} does not exist: the model has layers 0 to {self.layers - 1}")
        return np.asarray(self.states[layer], dtype=np.float64)

    def cosine(self, layer: int, standardise: bool = False) -> np.ndarray:
        """(n, n) cosine similarity of the tokens' vectors on ``layer``; NaN outside the window.

        ``standardise``: each dimension z-scored over the window's tokens on that layer first
        (Timkey & van Schijndel 2021), so that a few rogue dimensions do not dominate.
        """
        vectors = self._vectors(layer)
        inside = ~np.isnan(vectors).any(axis=1)
        if standardise and inside.any():
            body = vectors[inside]
            spread = body.std(axis=0)
            vectors = (vectors - body.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
        norms = np.linalg.norm(vectors, axis=1)
        unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
        return (unit @ unit.T).astype(np.float32)

    def strip(self, position: int) -> list[tuple[float, float, float]]:
        """Per layer: (the vector's norm, cosine to the previous layer (NaN on layer 0), cosine to layer 0)."""
        if not 0 <= position < self.states.shape[1]:
            raise EngineError(f"position {position} is outside the text (0 to {self.states.shape[1] - 1})")
        path = np.asarray(self.states[:, position, :], dtype=np.float64)
        rows = []
        for layer, vector in enumerate(path):
            previous = _cos(path[layer - 1], vector) if layer else math.nan
            rows.append((float(np.linalg.norm(vector)), previous, _cos(path[0], vector)))
        return rows


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator > 0 else math.nan


# ---------------------------------------------------------------- requests


def lens_ids(text: TextCodec, encoding: Encoding, masked: Sequence[int]) -> list[int]:
    """The text's ids with ``masked`` positions masked on top of the typed masks (checked)."""
    ids = list(encoding.ids)
    for index in masked:
        if not 0 <= index < len(ids) or encoding.tokens[index].special:
            raise EngineError(f"position {index} cannot be masked")
        ids[index] = text.mask_id
    return ids


def window_around(
    encoding: Encoding, ids: list[int], position: int | None, mask_id: int, limit: int, name: str
) -> tuple[list[int], list[int]]:
    """The window the model reads for a lens at ``position`` (or for the whole text when ``None``), as
    predictions and attention cut it: around the position and the masks when they fit, else the
    position alone; around the masks (else the text's start) when there is no position. Returns the
    window's ids and, for each of them, its position in the text."""
    body = [t.index for t in encoding.tokens if not t.special] or [0]
    masks = [i for i, t in enumerate(ids) if t == mask_id]
    if position is None:
        keep = masks or [body[0]]
    elif position < body[0] or position > body[-1]:  # a special token at either end: always in the window
        keep = [body[0] if position < body[0] else body[-1]]
    else:
        keep = [position, *masks]
    try:
        window, shift = cut_window(encoding, ids, keep, limit, name)
    except EngineError:  # the masks are too far apart (or from the position) to share one window
        window, shift = cut_window(encoding, ids, keep[:1], limit, name)
    return window, window_positions(encoding, len(window), shift)


def window_span(encoding: Encoding, where: list[int]) -> tuple[int, int]:
    """``[start, end)`` of the tokens a window holds, as :class:`AttentionResult` says it."""
    if len(where) == len(encoding.tokens):
        return (0, len(where))
    inside = [i for i in where if not encoding.tokens[i].special] or where
    return (min(inside), max(inside) + 1)


# ---------------------------------------------------------------- results


def lens_result(
    text: TextCodec,
    encoding: Encoding,
    ids: list[int],
    position: int,
    hidden: np.ndarray,
    head_logits: HeadLogits,
    top_k: int,
    window: tuple[int, int],
) -> LensResult:
    """The lens at ``position`` from its hidden vector on every layer (``hidden``: (layers, d))."""
    if top_k < 1:
        raise EngineError(f"top-k must be at least 1, got {top_k}")
    log_probs = log_softmax(head_logits(hidden)).astype(np.float32)
    final = log_probs[-1].astype(np.float64)
    final_probs = np.exp(final)
    final_top = int(_largest(final_probs, 1)[0])
    layers = []
    for layer, row in enumerate(log_probs):
        logs = row.astype(np.float64)
        probs = np.exp(logs)
        top = tuple(
            Prediction(score=float(probs[i]), token=int(i), token_str=text.token_str(int(i)), sequence="")
            for i in _largest(probs, top_k)
        )
        layers.append(
            LensLayer(
                layer=layer,
                top=top,
                entropy=float(-(probs * logs).sum()),
                kl_to_final=max(0.0, float((final_probs * (final - logs)).sum())),
                final_rank=1 + int((row > row[final_top]).sum()),
                final_prob=float(probs[final_top]),
            )
        )
    return LensResult(
        tokens=tuple(t.text for t in encoding.tokens),
        ids=tuple(ids),
        position=position,
        layers=tuple(layers),
        log_probs=log_probs,
        window=window,
    )


def lens_grid(
    text: TextCodec,
    encoding: Encoding,
    ids: list[int],
    states: np.ndarray,
    where: list[int],
    head_logits: HeadLogits,
    vocab_size: int,
    window: tuple[int, int],
) -> LensGrid:
    """The lens's top-1 at every layer and position of the window (``states``: (layers, window, d))."""
    layers, length, width = states.shape
    rows = states.reshape(layers * length, width)
    chunk = max(1, GRID_CHUNK_BYTES // (4 * max(vocab_size, 1)))
    best = np.empty(len(rows), dtype=np.int64)
    prob = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        logits = head_logits(rows[start : start + chunk])
        if not logits.flags.writeable:
            logits = logits.copy()
        top = logits.argmax(axis=-1)
        best[start : start + chunk] = top
        # p(top) = 1 / Σ exp(logit - top logit), in place: no second array of logits
        logits -= np.take_along_axis(logits, top[:, None], axis=-1)
        np.exp(logits, out=logits)
        prob[start : start + chunk] = 1.0 / logits.sum(axis=-1)
        del logits
    n = len(encoding.tokens)
    top_ids = np.full((layers, n), -1, dtype=np.int64)
    top_probs = np.full((layers, n), np.nan, dtype=np.float32)
    top_ids[:, where] = best.reshape(layers, length)
    top_probs[:, where] = prob.reshape(layers, length)
    names: dict[int, str] = {-1: ""}
    for token_id in np.unique(best):
        names[int(token_id)] = text.token_str(int(token_id))
    return LensGrid(
        tokens=tuple(t.text for t in encoding.tokens),
        ids=tuple(ids),
        top_ids=top_ids,
        top_probs=top_probs,
        top_strs=tuple(tuple(names[int(i)] for i in row) for row in top_ids),
        window=window,
    )


def hidden_states(
    encoding: Encoding, ids: list[int], states: np.ndarray, where: list[int], window: tuple[int, int]
) -> HiddenStates:
    """:class:`HiddenStates` of the whole text from the window's (``states``: (layers, window, d))."""
    layers, _length, width = states.shape
    if len(where) == len(encoding.tokens):
        full = states
    else:
        full = np.full((layers, len(encoding.tokens), width), np.nan, dtype=np.float32)
        full[:, where, :] = states
    return HiddenStates(
        tokens=tuple(t.text for t in encoding.tokens), ids=tuple(ids), states=full, window=window
    )
