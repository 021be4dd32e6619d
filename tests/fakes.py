"""An instant, deterministic engine behind the real engine's interface, for app tests and snapshots."""

from __future__ import annotations

import contextlib
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence

from mlm_tui.engine import (
    Encoding,
    EngineError,
    MaskResult,
    ModelInfo,
    Prediction,
    PredictResult,
    ScoreResult,
    Token,
    TokenScore,
)

VOCAB = [
    "capital",
    "city",
    "heart",
    "center",
    "pride",
    "home",
    "jewel",
    "seat",
    "largest",
    "best",
    "part",
    "name",
]
MASK = "[MASK]"


class FakeEngine:
    """Splits on words and punctuation; words over ``split`` letters become two pieces (``contin ##ent``).

    ``name``, ``mask_token``, ``split`` and ``salt`` make a second, different fake model
    for comparisons (another tokenization, other predictions, maybe another mask token);
    ``vocab`` names the vocabulary, so two fakes share one when it is the same.
    """

    VOCAB_SIZE = 10_000

    def __init__(
        self,
        *,
        predict_gate: Callable[[int], None] | None = None,
        name: str = "fake-bert",
        mask_token: str = MASK,
        split: int = 7,
        salt: str = "",
        vocab: str = "fake-vocab",
    ) -> None:
        self.info = ModelInfo(
            name=name,
            path="/fake",
            model_type="bert",
            device="cpu",
            dtype="float32",
            mask_token=mask_token,
            max_length=512,
            vocab_size=self.VOCAB_SIZE,
            vocab_digest=vocab,
            backend="",  # not a real backend: the status bar leaves it out
        )
        self._split = split
        self._salt = salt
        self.calls: list[tuple[int, ...]] = []
        self._gate = predict_gate
        self._vocab = {w: i + 100 for i, w in enumerate(VOCAB)}

    def _id(self, piece: str) -> int:
        return self._vocab.setdefault(piece, 1000 + zlib.crc32(piece.encode()) % 9000)

    def encode(self, text: str) -> Encoding:
        if not text.strip():
            raise EngineError("the text is empty")
        mask = self.info.mask_token
        text = text.replace(MASK, mask)
        tokens = [Token(0, 1, "[CLS]", "[CLS]", 0, 0, None, True)]
        for word_index, match in enumerate(re.finditer(re.escape(mask) + r"|\w+|[^\w\s]", text)):
            word, start = match.group(), match.start()
            if word == mask:
                tokens.append(Token(len(tokens), 4, mask, mask, start, match.end(), word_index, False, True))
                continue
            lower = word.lower()
            cut = self._split - 1
            pieces = [lower[:cut], lower[cut:]] if len(lower) > self._split else [lower]
            offset = start
            for n, piece in enumerate(pieces):
                text_piece = piece if n == 0 else "##" + piece
                tokens.append(
                    Token(
                        len(tokens),
                        self._id(text_piece),
                        text_piece,
                        piece,
                        offset,
                        offset + len(piece),
                        word_index,
                        False,
                    )
                )
                offset += len(piece)
        tokens.append(Token(len(tokens), 2, "[SEP]", "[SEP]", 0, 0, None, True))
        return Encoding(text=text, tokens=tuple(tokens))

    def predict(
        self,
        encoding: Encoding,
        masked: Iterable[int] = (),
        *,
        top_k: int = 5,
        targets: Sequence[str] = (),
        full: bool = False,
    ) -> PredictResult:
        masked = tuple(masked)
        positions = sorted(set(masked) | set(encoding.mask_positions))
        if not positions:
            raise EngineError("the text has no mask")
        self.calls.append(tuple(positions))
        if self._gate:
            self._gate(len(positions))
        masks = []
        for position in positions:
            seed = zlib.crc32(f"{self._salt}{position}:{len(positions)}".encode())
            order = sorted(VOCAB, key=lambda w: zlib.crc32(f"{seed}{w}".encode()))[:top_k]
            raw = [1.0 / (rank + 1.5) for rank in range(len(order))]
            total = sum(raw) * 1.25
            predictions = tuple(
                Prediction(score=r / total, token=self._vocab[w], token_str=w, sequence=f"… {w} …")
                for w, r in zip(order, raw, strict=True)
            )
            masks.append(
                MaskResult(
                    position=position,
                    predictions=predictions,
                    log_probs=self._distribution(predictions) if full else None,
                )
            )
        return PredictResult(ids=encoding.ids, masks=tuple(masks), elapsed_ms=12.0)

    def _distribution(self, predictions: Sequence[Prediction]):
        """The whole distribution behind ``predictions``: the rest of the mass spread evenly."""
        import numpy as np

        rest = 1.0 - sum(p.score for p in predictions)
        probs = np.full(self.VOCAB_SIZE, rest / (self.VOCAB_SIZE - len(predictions)))
        for p in predictions:
            probs[p.token] = p.score
        return np.log(probs).astype(np.float32)

    def score(self, encoding: Encoding) -> ScoreResult:
        tokens = tuple(
            TokenScore(
                index=t.index, token=t.text, log_prob=-((len(t.display) * 7 + len(self._salt)) % 9 + 0.25)
            )
            for t in encoding.tokens
            if not t.special and not t.is_mask
        )
        return ScoreResult(text=encoding.text, model=self.info.name, tokens=tokens, elapsed_ms=30.0)

    def substitute(self, encoding: Encoding, position: int, token_id: int) -> tuple[str, int, int]:
        word = next(w for w, i in self._vocab.items() if i == token_id)
        token = encoding.tokens[position]
        text = encoding.text[: token.start] + word + encoding.text[token.end :]
        return text, token.start, token.start + len(word)


def instant_loader(engine: FakeEngine | None = None):
    def load(progress: Callable[[str], None]) -> FakeEngine:
        progress("loading the weights of fake-bert")
        return engine or FakeEngine()

    return load


def blocked_loader(release: threading.Event, stage: str = "importing torch and transformers"):
    """A loader that reports one stage and then waits until ``release`` is set."""

    def load(progress: Callable[[str], None]) -> FakeEngine:
        progress(stage)
        release.wait(10)
        return FakeEngine()

    return load


def failing_loader(message: str):
    def load(progress: Callable[[str], None]) -> FakeEngine:
        raise EngineError(message)

    return load


async def settle(pilot) -> None:
    """Wait until every worker is done and the messages they posted have been handled."""
    from textual.worker import WorkerCancelled

    for _ in range(3):  # a worker's result can start another worker (e.g. predictions after a load)
        with contextlib.suppress(WorkerCancelled):  # an exclusive worker replaced by a newer request
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
