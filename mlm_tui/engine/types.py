"""Plain, frozen result types shared by the engine, the CLI and the app.

Nothing here imports torch, transformers or Textual, so the app can build and
test its screens against these types with a fake engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
        token: int | list[int] = self.pieces[0] if len(self.pieces) == 1 else list(self.pieces)
        return {
            "score": self.score,
            "token": token,
            "token_str": self.token_str,
            "sequence": self.sequence,
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
