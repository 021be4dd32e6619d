"""Salience of one prediction: which input tokens make the model predict a token at a mask.

Two methods, both of ``log p(target)`` at the mask with respect to the *word*
embeddings (``model.get_input_embeddings()``'s output, before position
embeddings and layer norm: the layer captum's ``LayerIntegratedGradients``
would be given), summed over the hidden dimension to one number per token:

- ``grad-input``: gradient × input (the word embedding), one forward and backward pass;
- ``ig``: integrated gradients (Sundararajan et al. 2017) from a baseline in which
  the word embedding of every non-special token is the mask token's (``mask``) or
  zero (``zero``); special tokens keep theirs.

The path integral is taken with the **midpoint Riemann sum** (captum's
``riemann_middle``): ``steps`` points at ``(i + ½) / steps`` with weights
``1 / steps``. captum's default, Gauss-Legendre, and the trapezoid rule were
measured beside it (benchmarks/salience.py, BENCHMARKS.md). On a bert-base-shaped
random model all three keep completeness — the attributions add up to
``log p(target | x) − log p(target | baseline)`` — within 0.1 % at the default 20
steps (Gauss-Legendre closest). On the trained bundled model (a top-2 target at
one random mask in each of benchmarks/fidelity_sentences.txt, both baselines,
120 cases per rule) the midpoint rule missed 1 % in 2 cases, Gauss-Legendre in
4, the trapezoid rule in 9, and the midpoint rule had the smallest median error
with the [MASK] baseline (about equal to Gauss-Legendre's with zeros).
So with the default steps the result is refined: where the sum misses by more
than 1 %, the steps double (40, 80, … up to 320) until it does not; the result
says the steps used. Steps given explicitly are taken as given, and a result
carries both sides of completeness to check. The steps run in batched forward passes of at most
:data:`STEP_TOKENS` tokens (all steps at once for short texts), so memory stays
bounded whatever the steps and the text. Everything is float32.

This module holds the request, the quadrature and the result; the gradients
are computed in :mod:`.backends.torch_salience` (the backends are the only
modules that import torch).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .errors import EngineError
from .text import TextCodec
from .types import Encoding, ModelInfo
from .window import cut_window, window_positions

__all__ = ["BASELINES", "DEFAULT_STEPS", "MAX_STEPS", "METHODS", "SalienceResult", "quadrature"]

METHODS = ("ig", "grad-input")
BASELINES = ("mask", "zero")
DEFAULT_STEPS = 20
MAX_STEPS = 1000
"""More steps than this are refused: past a few hundred the sum no longer moves, only the time does."""
COMPLETENESS = 0.01
"""Integrated gradients with the default steps are refined until the attributions add up to
log p(x) − log p(baseline) within this share of it."""
REFINED_STEPS = 320
"""The most steps the refinement doubles up to (20, 40, 80, 160, 320); given steps are never refined."""
STEP_TOKENS = 1024
"""Tokens per batched forward-and-backward pass (rows × window length): bounds the activations kept for
the backward pass (about 0.5 GB for bert-base); a 20-token text runs all 20 steps in one pass."""


@dataclass(frozen=True)
class SalienceResult:
    """How much each input token adds to ``log p(target)`` at a mask (natural logs)."""

    tokens: tuple[str, ...]
    """Every token of the text, as the tokenizer spells it."""
    ids: tuple[int, ...]
    """Their ids, with the masks as the mask id."""
    position: int
    """The mask explained; positions count the special tokens (``[CLS]`` is 0)."""
    target: int
    target_str: str
    log_prob: float
    """log p(target | input) at ``position``."""
    method: str
    """``"ig"`` or ``"grad-input"``."""
    steps: int
    """Quadrature nodes of integrated gradients; 0 for grad-input."""
    baseline: str
    """``"mask"`` or ``"zero"``; ``""`` for grad-input."""
    attributions: tuple[float, ...]
    """One per token; NaN outside the window the model read."""
    completeness: tuple[float, float]
    """(sum of attributions, log p(target | x) − log p(target | baseline)); (nan, nan) for grad-input."""
    elapsed_ms: float = 0.0

    @property
    def completeness_error(self) -> float:
        """|sum − expected| / |expected|: how far integrated gradients are from completeness (NaN for grad-input)."""
        total, expected = self.completeness
        return abs(total - expected) / abs(expected) if expected else abs(total - expected)


@dataclass(frozen=True)
class AttributionRequest:
    """What the backend computes: one window of ids, the mask in it, and where along the path to take gradients."""

    ids: tuple[int, ...]
    position: int
    target: int
    special: tuple[bool, ...]
    """Tokens whose word embedding the baseline keeps."""
    mask_id: int
    takes_token_types: bool
    token_type_width: int
    model_type: str
    alphas: tuple[float, ...]
    """Points on the path from the baseline (0) to the input (1)."""
    weights: tuple[float, ...]
    baseline: str
    """``mask`` or ``zero``: the baseline's word embedding of non-special tokens."""
    endpoints: bool
    """Also read log p(target) at the input and at the baseline (integrated gradients)."""
    step_tokens: int = STEP_TOKENS


Attribute = Callable[[AttributionRequest], tuple[np.ndarray, float, float]]
"""request → (attributions over the window, log p(target | x), log p(target | baseline) or NaN)."""


RULES = ("riemann_middle", "gausslegendre", "riemann_trapezoid")
"""Quadrature rules, named as captum names them; salience uses the first (the others are for comparison)."""


def quadrature(steps: int, rule: str = "riemann_middle") -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1], as captum's ``approximation_parameters(rule)``: the midpoint Riemann
    sum (what salience uses), Gauss-Legendre (captum's default) or the trapezoid rule."""
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if rule == "riemann_trapezoid":
        if steps < 2:
            raise EngineError("the trapezoid rule needs at least 2 steps")
        weights = np.full(steps, 1 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, steps), weights
    if rule == "riemann_middle":
        return (np.arange(steps) + 0.5) / steps, np.full(steps, 1 / steps)
    raise EngineError(f"unknown quadrature rule {rule!r}: choose one of {', '.join(RULES)}")


def check_request(method: str, steps: int, baseline: str) -> None:
    """The one place that checks a salience request's options."""
    if method not in METHODS:
        raise EngineError(f"unknown salience method {method!r}: choose one of {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise EngineError(f"unknown baseline {baseline!r}: choose one of {', '.join(BASELINES)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise EngineError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")


def target_id(text: TextCodec, info: ModelInfo, encoding: Encoding, position: int, target: int | str) -> int:
    """``target`` as one token id: an id as given, or a word that is one piece at ``position``."""
    if isinstance(target, str):
        pieces = text.target_pieces(encoding, position, target)
        if len(pieces) > 1:
            spelled = " ".join(text.token_str(p) for p in pieces)
            raise EngineError(
                f"the target {target.strip()!r} is {len(pieces)} pieces here ({spelled}); salience explains "
                "one token at a mask: choose a word of one piece, or one of its pieces"
            )
        piece = text.id_to_piece(pieces[0])
        if piece in _unknown_pieces(text) and target.strip() != piece:
            raise EngineError(
                f"the target {target.strip()!r} is not in this model's vocabulary (the tokenizer reads it as "
                f"{piece}): choose a word the model knows"
            )
        return pieces[0]
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise EngineError(f"the target must be a token id or a word, got {target!r}")
    if not 0 <= int(target) < info.vocab_size:
        raise EngineError(f"token id {target} is outside the vocabulary (0 to {info.vocab_size - 1})")
    return int(target)


def _unknown_pieces(text: TextCodec) -> set[str]:
    """How this tokenizer spells a word its vocabulary lacks (``[UNK]``, ``<unk>``)."""
    model = getattr(text.tokenizer, "model", None)  # the Rust tokenizer's model, or a Python tokenizer's
    named = getattr(model, "unk_token", None) or getattr(text.tokenizer, "unk_token", None)
    return {"[UNK]", "<unk>", *([named] if isinstance(named, str) else [])}


def salience(
    text: TextCodec,
    info: ModelInfo,
    encoding: Encoding,
    position: int,
    target: int | str,
    masked: Iterable[int],
    *,
    method: str,
    steps: int | None,
    baseline: str,
    attribute: Attribute,
    rule: str = RULES[0],
) -> SalienceResult:
    """Check the request, cut the window predictions use, and let ``attribute`` (the backend) compute.

    ``steps=None``: :data:`DEFAULT_STEPS`, doubled (up to :data:`REFINED_STEPS`) while the
    attributions miss completeness by more than :data:`COMPLETENESS`; the result says the steps used.
    ``rule``: the quadrature of integrated gradients (:data:`RULES`; other rules only to compare them)."""
    started = time.perf_counter()
    refine = steps is None and method == "ig"
    steps = DEFAULT_STEPS if steps is None else steps
    check_request(method, steps, baseline)
    ids = list(encoding.ids)
    if not 0 <= position < len(ids):
        raise EngineError(f"position {position} is outside the text (0 to {len(ids) - 1})")
    for index in masked:
        if not 0 <= index < len(ids) or encoding.tokens[index].special:
            raise EngineError(f"position {index} cannot be masked")
        ids[index] = text.mask_id
    if ids[position] != text.mask_id:
        raise EngineError(
            f"token {position} ({encoding.tokens[position].text}) is not a mask: salience explains the "
            "prediction at a mask"
        )
    token = target_id(text, info, encoding, position, target)
    masks = [i for i, t in enumerate(ids) if t == text.mask_id]
    try:  # as attention: the window around the mask and the other masks, else around the mask alone
        window, shift = cut_window(encoding, ids, [position, *masks], info.max_length, info.name)
    except EngineError:
        window, shift = cut_window(encoding, ids, [position], info.max_length, info.name)
    where = window_positions(encoding, len(window), shift)
    if method == "ig":
        alphas, weights = quadrature(steps, rule)
    else:
        alphas, weights = np.ones(1), np.ones(1)
    request = AttributionRequest(
        ids=tuple(window),
        position=where.index(position),
        target=token,
        # grad × input has no baseline: the path's one point is x, and every token's x - 0 is its input
        special=tuple(encoding.tokens[i].special and method == "ig" for i in where),
        mask_id=text.mask_id,
        takes_token_types=text.settings.takes_token_types,
        token_type_width=text.settings.token_type_width,
        model_type=info.model_type,
        alphas=tuple(float(a) for a in alphas),
        weights=tuple(float(w) for w in weights),
        baseline=baseline if method == "ig" else "zero",
        endpoints=method == "ig",
    )
    found, log_prob, log_prob_baseline = attribute(request)
    while refine and steps * 2 <= REFINED_STEPS:
        gap = float(found.sum(dtype=np.float32)) - (log_prob - log_prob_baseline)
        if abs(gap) <= COMPLETENESS * abs(log_prob - log_prob_baseline):
            break
        steps *= 2
        alphas, weights = quadrature(steps, rule)
        request = dataclasses.replace(
            request, alphas=tuple(float(a) for a in alphas), weights=tuple(float(w) for w in weights)
        )
        found, log_prob, log_prob_baseline = attribute(request)
    attributions = np.full(len(ids), np.nan, dtype=np.float32)
    attributions[where] = found
    total = float(np.float32(found.sum(dtype=np.float32)))
    completeness = (total, log_prob - log_prob_baseline) if method == "ig" else (math.nan, math.nan)
    return SalienceResult(
        tokens=tuple(t.text for t in encoding.tokens),
        ids=tuple(ids),
        position=position,
        target=token,
        target_str=text.token_str(token),
        log_prob=log_prob,
        method=method,
        steps=steps if method == "ig" else 0,
        baseline=baseline if method == "ig" else "",
        attributions=tuple(float(a) for a in attributions),
        completeness=completeness,
        elapsed_ms=(time.perf_counter() - started) * 1000,
    )
