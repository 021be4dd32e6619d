"""Contextuality from an index folder (``mlm-tui contextuality DIR``): the stored vectors, no forward pass.

An index (``mlm-tui index``) holds its corpus's sentences and, at the layers it was built with, every
token's vector, L2-normalised and rounded to float16 (or int8). :class:`StoredLayers` stands in for the
engine in :func:`~.contextuality.contextuality`: it tokenizes with the index's model (words and their
starts are the same as from the corpus) and answers ``hidden_states`` with the stored vectors of that
sentence, so the same code computes every figure. What differs from reading the corpus with the model:

- only the index's layers, labelled with their numbers (layer 0 = the embeddings);
- self-similarity and the baseline are cosines, so unit vectors give the same values, up to the
  rounding of the stored vectors (~1e-3 in float16);
- intra-sentence similarity and MEV are computed on the unit vectors: the sentence's mean, and a
  word's principal component, are those of the normalised vectors, not of the raw ones, so they differ
  from Ethayarajh's figures (which use the raw vectors): use the corpus file for those;
- lines longer than the model reads (which the index keeps in windows) are skipped, as from the corpus.

No Textual, no torch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..engine import EngineError
from ..engine.types import Encoding
from ..index.store import Chunk, Index, decode_vectors
from .contextuality import Contextuality, body
from .reader import Line

CAVEAT = (
    "from the index's stored vectors (unit length, {dtype}): self-similarity and the baseline are as from "
    "the corpus up to rounding; intra-sentence similarity and MEV are of the unit vectors, not the raw ones "
    "(give the corpus file for Ethayarajh's exact definitions)"
)


@dataclasses.dataclass
class _States:
    states: np.ndarray


@dataclasses.dataclass
class _Sentence:
    line: int
    text: str
    rows: slice
    """The sentence's tokens among its chunk's rows."""


class StoredLayers:
    """An engine for :func:`~.contextuality.contextuality` whose hidden states are an index's vectors.

    ``engine`` (the index's model, same vocabulary) only tokenizes. ``hidden_states`` is asked for the
    sentences in corpus order (the second pass), so a cursor walks the chunks once, holding one chunk.
    """

    def __init__(self, engine: Any, index: Index) -> None:
        self.engine = engine
        self.index = index
        self.info = dataclasses.replace(engine.info, name=index.manifest.model)
        self._chunk = -1
        self._sentences: list[_Sentence] = []
        self._vectors = np.zeros((0, 0, 0), dtype=np.float32)
        self._positions = np.zeros(0, dtype=np.int64)
        self._at = 0

    def __getattr__(self, name: str) -> Any:  # encode, text, token_str: the engine's
        return getattr(self.engine, name)

    def _as_encoded(self, text: str) -> str:
        """``text`` as the model's encoding spells it (``[MASK]`` becomes the model's own mask token)."""
        from ..engine.text import MASK_ALIAS

        mask = self.engine.info.mask_token
        return text.replace(MASK_ALIAS, mask) if mask != MASK_ALIAS else text

    def lines(self) -> Iterator[Line]:
        """The index's sentences, in corpus order (one chunk's table at a time)."""
        import pyarrow.parquet as pq

        for chunk in self.index.manifest.chunks:
            path = self.index.chunk_dir(chunk) / "sentences.parquet"
            if not path.exists():  # a chunk of skipped lines only
                continue
            table = pq.read_table(path).to_pydict()
            for line, text in zip(table["line"], table["text"], strict=True):
                yield Line(int(line), text)

    def _load(self, number: int) -> None:
        import pyarrow.parquet as pq

        chunk: Chunk = self.index.manifest.chunks[number]
        where = self.index.chunk_dir(chunk)
        self._chunk, self._at, self._sentences = number, 0, []
        if not (where / "sentences.parquet").exists():
            self._vectors = np.zeros((0, 0, 0), dtype=np.float32)
            return
        texts = pq.read_table(where / "sentences.parquet").to_pydict()
        tokens = pq.read_table(where / "tokens.parquet", columns=["line", "position"]).to_pydict()
        lines = np.asarray(tokens["line"], dtype=np.int64)
        self._positions = np.asarray(tokens["position"], dtype=np.int64)
        for line, text in zip(texts["line"], texts["text"], strict=True):
            rows = np.flatnonzero(lines == line)
            self._sentences.append(
                _Sentence(int(line), self._as_encoded(text), slice(int(rows[0]), int(rows[-1]) + 1))
            )
        self._vectors = np.stack(
            [
                decode_vectors(np.asarray(self.index.vectors(chunk, layer)))
                for layer in self.index.manifest.layers
            ]
        )

    def _find(self, text: str) -> _Sentence:
        """The next sentence whose text is ``text``: in the chunk held (from the cursor, then from its
        start), else in the chunks after it, going round once."""
        chunks = len(self.index.manifest.chunks)
        if self._chunk >= 0:
            for at in [*range(self._at, len(self._sentences)), *range(self._at)]:
                if self._sentences[at].text == text:
                    self._at = at + 1
                    return self._sentences[at]
        for step in range(1, chunks + 1):
            self._load((max(self._chunk, 0) + step - (self._chunk < 0)) % chunks)
            for at, sentence in enumerate(self._sentences):
                if sentence.text == text:
                    self._at = at + 1
                    return sentence
        raise EngineError(
            f"{self.index.folder}: a sentence read from the index is not in it (is it being rebuilt?)"
        )

    def hidden_states(self, encoding: Encoding) -> _States:
        sentence = self._find(encoding.text)
        positions = self._positions[sentence.rows]
        wanted = body(encoding)
        if positions.tolist() != wanted:
            raise EngineError(
                f"{self.index.folder}: line {sentence.line} has other tokens in the index than the model gives "
                "(another tokenizer?)"
            )
        states = np.zeros((self._vectors.shape[0], len(encoding.tokens), self._vectors.shape[2]), np.float32)
        states[:, positions, :] = self._vectors[:, sentence.rows, :]
        return _States(states)


def relabel(result: Contextuality, layers: list[int]) -> Contextuality:
    """``result``'s layers 0, 1, ... named by the index's layer numbers."""
    return dataclasses.replace(
        result,
        layers=tuple(
            dataclasses.replace(layer, layer=number)
            for layer, number in zip(result.layers, layers, strict=True)
        ),
    )
