"""Plain, frozen result types shared by the engine, the CLI and the app.

Nothing here imports torch, transformers or Textual, so the app can build and
test its screens against these types with a fake engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol


@dataclass(frozen=True)
class Token:
    """One token of an encoded text: one selectable cell in the app."""

    index: int
    """Position in the model's input sequence (0 is usually ``[CLS]``/``<s>``)."""
    id: int
    """Vocabulary id."""
    text: str
    """The token as the tokenizer spells it (``##ing``, ``Ġthe``, ``▁de``)."""
    display: str
    """The token without subword markers, as a reader would write it (``ing``, ``the``)."""
    start: int
    """Start of the token's character span in the encoded text (``start == end`` for specials)."""
    end: int
    """End (exclusive) of the character span."""
    word: int | None
    """Index of the word the token belongs to; ``None`` for special tokens."""
    special: bool
    """True for tokens the tokenizer added (``[CLS]``, ``[SEP]``, ``<s>``...)."""
    is_mask: bool = False
    """True when the token is the model's mask token."""


@dataclass(frozen=True)
class Encoding:
    """A text cut into tokens by one model's tokenizer."""

    text: str
    """The text that was tokenized (``[MASK]`` already replaced by the model's own mask token)."""
    tokens: tuple[Token, ...]

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(t.id for t in self.tokens)

    @property
    def mask_positions(self) -> tuple[int, ...]:
        return tuple(t.index for t in self.tokens if t.is_mask)

    def word_positions(self, index: int) -> tuple[int, ...]:
        """Positions of every token in the same word as the token at ``index``."""
        word = self.tokens[index].word
        if word is None:
            return (index,)
        return tuple(t.index for t in self.tokens if t.word == word)


def shown_token(token_str: str) -> str:
    """A predicted token as every view shows it (table, comparison line, cells, CLI, export).

    Stripped of the spaces decoding puts around it; quoted (``repr``) when that leaves nothing
    to see: an empty or whitespace token, a zero-width or control character (``'\\u200b'``).
    """
    stripped = token_str.strip()
    return stripped if stripped and stripped.isprintable() else repr(token_str)


@dataclass(frozen=True)
class Prediction:
    """One candidate for one mask, in the fill-mask pipeline's terms."""

    score: float
    """Probability (softmax over the vocabulary at this mask)."""
    token: int
    """Vocabulary id of the candidate."""
    token_str: str
    """The candidate decoded as the pipeline decodes it."""
    sequence: str
    """The input with this candidate in place of the mask, decoded as the pipeline does."""

    def as_pipeline_dict(self) -> dict[str, object]:
        return {
            "score": self.score,
            "token": self.token,
            "token_str": self.token_str,
            "sequence": self.sequence,
        }


@dataclass(frozen=True)
class TargetScore:
    """How likely a chosen word is at one mask.

    ``pieces`` holds the word's subword ids. A one-piece word is scored directly
    from the mask's distribution; a several-piece word is scored as a word (see
    :meth:`mlm_tui.engine.MaskedLM.predict`), never cut to its first piece.
    """

    target: str
    """The word as the user wrote it."""
    token_str: str
    """The pieces decoded as the pipeline decodes a token (``" mat"`` for RoBERTa)."""
    pieces: tuple[int, ...]
    piece_strs: tuple[str, ...]
    score: float
    """The word's probability at the mask."""
    log_prob: float
    """Natural log of ``score`` (kept separately: a several-piece word's probability can underflow)."""
    rank: int
    """1 + the number of vocabulary tokens more probable at this mask than the word."""
    sequence: str
    """The input with the word in place of the mask."""

    def as_pipeline_dict(self) -> dict[str, object]:
        """The pipeline's dict for a target, and its ``rank`` (1-based, among the whole vocabulary; for a
        word of several pieces: 1 + the single tokens more probable than the whole word)."""
        token: int | list[int] = self.pieces[0] if len(self.pieces) == 1 else list(self.pieces)
        return {
            "score": self.score,
            "token": token,
            "token_str": self.token_str,
            "sequence": self.sequence,
            "rank": self.rank,
        }


@dataclass(frozen=True)
class MaskResult:
    """Predictions for one masked position."""

    position: int
    """Index of the mask in the model's input sequence."""
    predictions: tuple[Prediction, ...]
    targets: tuple[TargetScore, ...] = ()
    log_probs: Any = field(default=None, compare=False, repr=False)
    """The full distribution at this mask as natural-log probabilities over the vocabulary
    (a float32 numpy array), when asked for with ``predict(..., full=True)``; else ``None``."""


@dataclass(frozen=True)
class PredictResult:
    """The answer to one prediction request: one :class:`MaskResult` per mask, in order."""

    ids: tuple[int, ...]
    masks: tuple[MaskResult, ...]
    elapsed_ms: float
    truncated: bool = False
    """True when the input was longer than the model reads and a window around the masks was used."""
    cached: bool = False
    """True when the engine answered from its cache of recent results."""

    def for_position(self, position: int) -> MaskResult | None:
        for mask in self.masks:
            if mask.position == position:
                return mask
        return None

    def as_pipeline_output(self) -> list[dict[str, object]] | list[list[dict[str, object]]]:
        """The fill-mask pipeline's output format: a list for one mask, a list of lists for several."""
        rows = []
        for mask in self.masks:
            if mask.targets:
                rows.append([t.as_pipeline_dict() for t in mask.targets])
            else:
                rows.append([p.as_pipeline_dict() for p in mask.predictions])
        return rows[0] if len(rows) == 1 else rows


@dataclass(frozen=True)
class TokenScore:
    """Pseudo-log-likelihood of one token: the token masked, the rest of the sentence visible."""

    index: int
    token: str
    log_prob: float
    """Natural log of the probability of the token at its own position when masked."""

    @property
    def surprisal(self) -> float:
        """``-log_prob`` in nats."""
        return -self.log_prob


@dataclass(frozen=True)
class ScoreResult:
    """Pseudo-log-likelihood of a whole sentence (Salazar et al. 2020)."""

    text: str
    model: str
    tokens: tuple[TokenScore, ...]
    elapsed_ms: float = field(default=0.0, compare=False)
    truncated: bool = False

    @property
    def pll(self) -> float:
        return sum(t.log_prob for t in self.tokens)

    @property
    def pseudo_perplexity(self) -> float:
        if not self.tokens:
            return float("nan")
        return math.exp(-self.pll / len(self.tokens))

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "model": self.model,
            "tokens": [
                {
                    "index": t.index,
                    "token": t.token,
                    "log_prob": t.log_prob,
                    "surprisal": t.surprisal,
                }
                for t in self.tokens
            ],
            "pll": self.pll,
            "pseudo_perplexity": self.pseudo_perplexity,
        }


@dataclass(frozen=True)
class FillStep:
    """One step of a joint fill: the mask revealed, the token put there, its probability at that moment."""

    position: int
    token: int
    token_str: str
    score: float
    """The token's probability at ``position`` given the masks filled before this step."""

    def as_dict(self) -> dict[str, object]:
        return {
            "position": self.position,
            "token": self.token,
            "token_str": self.token_str,
            "score": self.score,
        }


@dataclass(frozen=True)
class Fill:
    """Every mask filled at once: one token per mask, in the order of ``JointResult.positions``."""

    tokens: tuple[int, ...]
    token_strs: tuple[str, ...]
    sequence: str
    """The text with every mask filled, decoded as the pipeline decodes a sequence."""
    log_prob: float
    """``Σ_i log p(token_i | every other mask filled as here)``, natural log: the PLL of the masked positions."""
    steps: tuple[FillStep, ...] = field(default=(), compare=False)
    """How the search reached this fill, one mask per step (empty for a fill it did not reach)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "tokens": list(self.tokens),
            "token_strs": list(self.token_strs),
            "sequence": self.sequence,
            "log_prob": self.log_prob,
        }


@dataclass(frozen=True)
class JointResult:
    """Joint fills of every mask, best first; ``independent`` is each mask's own top-1 (the pipeline's pick)."""

    positions: tuple[int, ...]
    fills: tuple[Fill, ...]
    independent: Fill
    steps: tuple[FillStep, ...]
    """The best fill's steps, most confident mask first."""
    beam: int
    elapsed_ms: float = field(default=0.0, compare=False)
    forward_passes: int = field(default=0, compare=False)
    truncated: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "positions": list(self.positions),
            "beam": self.beam,
            "fills": [f.as_dict() for f in self.fills],
            "independent": self.independent.as_dict(),
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class UnmaskedToken:
    """What the model predicts at one token it can see (the text not masked)."""

    index: int
    token: str
    id: int
    predictions: tuple[Prediction, ...]
    score: float
    """The probability of the token that is there."""
    rank: int
    """1 + the number of vocabulary tokens more probable there than the token itself."""
    entropy: float
    """Entropy of the distribution at this position, in nats."""

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "token": self.token,
            "score": self.score,
            "rank": self.rank,
            "entropy": self.entropy,
            "predictions": [p.as_pipeline_dict() for p in self.predictions],
        }


@dataclass(frozen=True)
class UnmaskedResult:
    """The model's view of every non-special token, from forward passes of the text as it is."""

    text: str
    tokens: tuple[UnmaskedToken, ...]
    elapsed_ms: float = field(default=0.0, compare=False)
    truncated: bool = False

    def at(self, index: int) -> UnmaskedToken | None:
        """The view of the token at ``index`` (a dict lookup: the app asks on every cursor move)."""
        return self._by_index.get(index)

    @cached_property
    def _by_index(self) -> dict[int, UnmaskedToken]:
        return {view.index: view for view in self.tokens}


@dataclass(frozen=True)
class AttentionResult:
    """What one token attends to, in every layer and head (eager attention, as ``output_attentions``)."""

    tokens: tuple[str, ...]
    """Every token of the text, as the tokenizer spells it."""
    position: int
    """The attending token; positions count the special tokens (``[CLS]`` is 0)."""
    weights: Any = field(compare=False, repr=False)
    """float32 numpy array (layers, heads, tokens); NaN for tokens outside the window the model read."""
    window: tuple[int, int] = (0, 0)
    """The positions ``[start, end)`` of the text the model read (all of it for short texts)."""

    @property
    def layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def heads(self) -> int:
        return int(self.weights.shape[1])

    def row(self, layer: int, head: int | None) -> list[float]:
        """What the token pays to every token in ``layer``: one ``head``, or the mean over heads (``None``)."""
        weights = self.weights[layer]
        values = weights[head] if head is not None else weights.mean(axis=0)
        return [float(v) for v in values]


class Engine(Protocol):
    """What the app needs from an engine; :class:`mlm_tui.engine.MaskedLM` is the real one."""

    info: ModelInfo

    def encode(self, text: str) -> Encoding: ...

    def predict(
        self,
        encoding: Encoding,
        masked: Iterable[int] = (),
        *,
        top_k: int = 5,
        targets: Sequence[str] = (),
        full: bool = False,
    ) -> PredictResult: ...

    def score(self, encoding: Encoding) -> ScoreResult: ...

    def substitute(self, encoding: Encoding, position: int, token_id: int) -> tuple[str, int, int]: ...

    def joint_fill(self, encoding: Encoding, masked: Iterable[int] = (), *, beam: int = 5) -> JointResult: ...

    def unmasked(
        self, encoding: Encoding, *, top_k: int = 5, sequences: bool = True, masked: Iterable[int] = ()
    ) -> UnmaskedResult: ...

    def attention(self, encoding: Encoding, position: int, masked: Iterable[int] = ()) -> AttentionResult: ...

    # the views of the model's layers (issue 22): results from :mod:`.layers` and :mod:`.salience`
    mask_id: int

    def lens(
        self, encoding: Encoding, position: int, masked: Iterable[int] = (), *, top_k: int = 3
    ) -> Any: ...

    def lens_grid(self, encoding: Encoding, masked: Iterable[int] = ()) -> Any: ...

    def hidden_states(self, encoding: Encoding, masked: Iterable[int] = ()) -> Any: ...

    def salience(
        self,
        encoding: Encoding,
        position: int,
        target: int | str,
        masked: Iterable[int] = (),
        *,
        method: str = "ig",
        steps: int = 20,
        baseline: str = "mask",
    ) -> Any: ...


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for status bars and JSON output."""

    name: str
    """What the user asked for (hub id, path or short name)."""
    path: str
    """Where the files were found."""
    model_type: str
    device: str
    dtype: str
    mask_token: str
    max_length: int
    vocab_size: int
    warnings: tuple[str, ...] = ()
    """Problems with the model itself (e.g. an untrained masked-LM head)."""
    notes: tuple[str, ...] = ()
    """Things to tell the user about the choice of model (e.g. the bundled model stands in)."""
    vocab_digest: str = ""
    """A hash of the vocabulary (token → id): two models share a vocabulary when their digests are equal."""
    backend: str = "torch"
    """What runs the forward pass: ``"torch"`` (PyTorch) or ``"onnx"`` (ONNX Runtime), for status bars."""
