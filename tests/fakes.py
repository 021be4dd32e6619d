"""An instant, deterministic engine behind the real engine's interface, for app tests and snapshots."""

from __future__ import annotations

import contextlib
import math
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence

from mlm_tui.engine import (
    AttentionResult,
    Encoding,
    EngineError,
    Fill,
    FillStep,
    HiddenStates,
    JointResult,
    LensGrid,
    LensLayer,
    LensResult,
    MaskResult,
    ModelInfo,
    Prediction,
    PredictResult,
    SalienceResult,
    ScoreResult,
    TargetScore,
    Token,
    TokenScore,
    UnmaskedResult,
    UnmaskedToken,
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
                    targets=tuple(self._target(position, t) for t in targets),
                    log_probs=self._distribution(predictions) if full else None,
                )
            )
        return PredictResult(ids=encoding.ids, masks=tuple(masks), elapsed_ms=12.0)

    def _target(self, position: int, word: str) -> TargetScore:
        rank = 1 + zlib.crc32(f"{self._salt}{position}{word}".encode()) % 40
        score = 0.2 / rank
        return TargetScore(
            target=word.strip(),
            token_str=word.strip(),
            pieces=(self._id(word.strip().lower()),),
            piece_strs=(word.strip().lower(),),
            score=score,
            log_prob=math.log(score),
            rank=rank,
            sequence=f"… {word.strip()} …",
        )

    def _top(self, seed: str, top_k: int) -> list[tuple[str, float]]:
        order = sorted(VOCAB, key=lambda w: zlib.crc32(f"{self._salt}{seed}{w}".encode()))[:top_k]
        raw = [1.0 / (rank + 1.5) for rank in range(len(order))]
        total = sum(raw) * 1.25
        return [(w, r / total) for w, r in zip(order, raw, strict=True)]

    def joint_fill(self, encoding: Encoding, masked: Iterable[int] = (), *, beam: int = 5) -> JointResult:
        """Fills from each mask's top two; the best joint fill is not the independent one (a second choice
        at the first mask fits the others better), as with real models on "the [MASK] barked at the [MASK]"."""
        if not 1 <= beam <= 50:
            raise EngineError(f"the beam must be between 1 and 50, got {beam}")
        positions = sorted(set(masked) | set(encoding.mask_positions))
        if not positions:
            raise EngineError("the text has no mask")
        tops = [self._top(f"joint{p}", 2) for p in positions]
        options = [()]
        for top in tops:
            options = [(*o, choice) for o in options for choice in range(len(top))]

        def fill(choices: tuple[int, ...]) -> Fill:
            words = [tops[i][c] for i, c in enumerate(choices)]
            text = encoding.text
            for position, (word, _p) in sorted(zip(positions, words, strict=True), reverse=True):
                token = encoding.tokens[position]
                text = text[: token.start] + word + text[token.end :]
            log_prob = sum(math.log(p) for _w, p in words) + (0.9 if choices[0] == 1 else 0.0)
            steps = tuple(
                FillStep(position, self._vocab[word], word, p)
                for position, (word, p) in reversed(list(zip(positions, words, strict=True)))
            )
            return Fill(
                tokens=tuple(self._vocab[w] for w, _p in words),
                token_strs=tuple(w for w, _p in words),
                sequence=text,
                log_prob=log_prob,
                steps=steps,
            )

        fills = sorted((fill(o) for o in options[: beam + 1]), key=lambda f: -f.log_prob)
        independent = next(f for f in fills if f.tokens == fill((0,) * len(positions)).tokens)
        return JointResult(
            positions=tuple(positions),
            fills=tuple(fills),
            independent=independent,
            steps=fills[0].steps,
            beam=beam,
            elapsed_ms=40.0,
        )

    def unmasked(
        self, encoding: Encoding, *, top_k: int = 5, sequences: bool = True, masked: Iterable[int] = ()
    ) -> UnmaskedResult:
        views = []
        read = ",".join(
            str(p) for p in sorted({*masked, *encoding.mask_positions})
        )  # the answer depends on it
        for token in encoding.tokens:
            if token.special:
                continue
            top = self._top(f"unmasked{token.index}|{read}", top_k)
            rank = 1 + zlib.crc32(f"{self._salt}{token.text}".encode()) % 7
            views.append(
                UnmaskedToken(
                    index=token.index,
                    token=token.text,
                    id=token.id,
                    predictions=tuple(
                        Prediction(score=p, token=self._vocab[w], token_str=w, sequence="") for w, p in top
                    ),
                    score=0.5 / rank,
                    rank=rank,
                    entropy=1.0 + rank / 4,
                )
            )
        return UnmaskedResult(text=encoding.text, tokens=tuple(views), elapsed_ms=20.0)

    def attention(self, encoding: Encoding, position: int, masked: Iterable[int] = ()) -> AttentionResult:
        """Two layers of two heads; each head favours another neighbour of the token."""
        import numpy as np

        n = len(encoding.tokens)
        weights = np.zeros((2, 2, n), dtype=np.float32)
        for layer in range(2):
            for head in range(2):
                favourite = (position + (1 if head else -1) * (layer + 1)) % n
                row = np.full(n, 1.0)
                row[favourite] += n
                row[0] += layer * n / 2
                weights[layer, head] = row / row.sum()
        return AttentionResult(
            tokens=tuple(t.text for t in encoding.tokens), position=position, weights=weights, window=(0, n)
        )

    mask_id = 4

    LAYERS = 3
    """Hidden states: the embeddings and two layers (as :meth:`attention` has two)."""

    def _final(self, encoding: Encoding, position: int, masked: Sequence[int], top_k: int):
        """The last layer's predictions at ``position``: predict's at a mask, the unmasked view's elsewhere."""
        if position in set(masked) | set(encoding.mask_positions):
            result = self.predict(encoding, masked, top_k=10)  # the app's default top-k: the same numbers
            return result.for_position(position).predictions
        return self.unmasked(encoding, top_k=10, masked=masked).at(position).predictions

    def lens(self, encoding: Encoding, position: int, masked: Iterable[int] = (), *, top_k: int = 3):
        """Layer l's top-k: the final predictions rotated by (last - l), so the answer settles late."""
        import numpy as np

        masked = tuple(masked)
        final = self._final(encoding, position, masked, top_k)
        layers = []
        log_probs = []
        for layer in range(self.LAYERS):
            shift = self.LAYERS - 1 - layer
            order = final[shift:] + final[:shift]
            raw = [p.score * (0.6 if layer < self.LAYERS - 1 else 1.0) for p in final]
            top = tuple(
                Prediction(score=raw[n], token=p.token, token_str=p.token_str, sequence="")
                for n, p in enumerate(order[:top_k])
            )
            distribution = self._distribution(
                tuple(Prediction(raw[n], p.token, p.token_str, "") for n, p in enumerate(order))
            )
            log_probs.append(distribution)
            probs = np.exp(distribution.astype(np.float64))
            layers.append((layer, top, float(-(probs * distribution).sum())))
        log_probs_array = np.stack(log_probs)
        last = log_probs_array[-1].astype(np.float64)
        best = final[0].token
        result_layers = []
        for layer, top, entropy in layers:
            row = log_probs_array[layer].astype(np.float64)
            kl = float((np.exp(last) * (last - row)).sum())
            rank = 1 + int((row > row[best]).sum())
            result_layers.append(LensLayer(layer, top, entropy, kl, rank, float(np.exp(row[best]))))
        return LensResult(
            tokens=tuple(t.text for t in encoding.tokens),
            ids=encoding.ids,
            position=position,
            layers=tuple(result_layers),
            log_probs=log_probs_array,
            elapsed_ms=15.0,
        )

    def lens_grid(self, encoding: Encoding, masked: Iterable[int] = ()):
        import numpy as np

        masked = tuple(masked)
        n = len(encoding.tokens)
        ids = np.full((self.LAYERS, n), -1)
        probs = np.full((self.LAYERS, n), np.nan, dtype=np.float32)
        strs = [[""] * n for _ in range(self.LAYERS)]
        for position in range(n):
            if encoding.tokens[position].special:
                continue
            result = self.lens(encoding, position, masked, top_k=1)
            for layer in result.layers:
                ids[layer.layer, position] = layer.top[0].token
                probs[layer.layer, position] = layer.top[0].score
                strs[layer.layer][position] = layer.top[0].token_str
        return LensGrid(
            tokens=tuple(t.text for t in encoding.tokens),
            ids=encoding.ids,
            top_ids=ids,
            top_probs=probs,
            top_strs=tuple(tuple(row) for row in strs),
            window=(0, n),
            elapsed_ms=25.0,
        )

    def hidden_states(self, encoding: Encoding, masked: Iterable[int] = ()):
        """Vectors of 4 dimensions from the token ids; later layers mix in the neighbours."""
        import numpy as np

        masked = set(masked)
        n = len(encoding.tokens)
        ids = [self.mask_id if i in masked else t.id for i, t in enumerate(encoding.tokens)]
        states = np.zeros((self.LAYERS, n, 4), dtype=np.float32)
        for i, token_id in enumerate(ids):
            states[0, i] = [((token_id * (k + 3)) % 17) - 8 + 0.5 for k in range(4)]
        for layer in range(1, self.LAYERS):
            states[layer] = states[layer - 1] + 0.5 * np.roll(states[layer - 1], 1, axis=0) + layer
        return HiddenStates(
            tokens=tuple(t.text for t in encoding.tokens), ids=tuple(ids), states=states, window=(0, n)
        )

    def salience(
        self,
        encoding: Encoding,
        position: int,
        target: int | str,
        masked: Iterable[int] = (),
        *,
        method: str = "ig",
        steps: int | None = None,
        baseline: str = "mask",
    ):
        steps = 20 if steps is None else steps  # as the engine's default (its refinement is tested on it)
        masked = tuple(masked)
        if position not in set(masked) | set(encoding.mask_positions):
            raise EngineError(f"token {position} is not a mask")
        token = target if isinstance(target, int) else self._vocab[target]
        n = len(encoding.tokens)
        attributions = tuple(
            ((zlib.crc32(f"{method}{baseline}{token}{i}".encode()) % 200) - 80) / 100.0 for i in range(n)
        )
        total = sum(attributions)
        return SalienceResult(
            tokens=tuple(t.text for t in encoding.tokens),
            ids=encoding.ids,
            position=position,
            target=token,
            target_str=next(w for w, i in self._vocab.items() if i == token),
            log_prob=-1.5,
            method=method,
            steps=steps if method == "ig" else 0,
            baseline=baseline if method == "ig" else "",
            attributions=attributions,
            completeness=(total, total * 1.001) if method == "ig" else (math.nan, math.nan),
            elapsed_ms=40.0,
        )

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


async def until(
    pilot, condition: Callable[[], object], what: str = "the condition", seconds: float = 60
) -> None:
    """Pause until ``condition()`` holds: a wait on the app, not a guess of how long it takes.

    ``seconds`` only turns a hang into a failure; it is far above what a busy machine needs.
    """
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never held")
        await pilot.pause(0.01)


def send_raw(app, keys) -> None:
    """Send keys as a terminal does, all at once (Pilot waits for the app after each key)."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
