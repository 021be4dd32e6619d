"""A corpus index in memory for the fake engine: the same ``manifest`` and ``search`` as
:class:`mlm_tui.index.Index`, by brute force over the fake's hidden states of a few sentences.

The app's Pilot and random-key tests use it with :class:`fakes.FakeEngine` (an index on disk needs a
real model to build); tests/test_neighbours_view.py checks the view against a real index too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

CORPUS = (
    "The keys to the cabinet are on the table.",
    "She left her keys on the kitchen table.",
    "The cat sat on the mat near the door.",
    "Paris is the capital of France.",
    "A table of contents lists the chapters.",
)


@dataclass
class FakeManifest:
    model: str = "fake-bert"
    vocab_digest: str = "fake-vocab"
    layers: list[int] = field(default_factory=lambda: [1, 2])
    model_layers: int = 2
    hidden_size: int = 4
    complete: bool = True
    vectors: int = 0


class FakeIndex:
    """Every non-special token of :data:`CORPUS` (lines from 1), its unit vector at each layer."""

    approximate_search = False
    folder = "/fake-index"

    def __init__(self, engine: Any, corpus: tuple[str, ...] = CORPUS, **manifest: Any) -> None:
        self.rows: list[dict[str, Any]] = []
        vectors: dict[int, list[np.ndarray]] = {}
        self.manifest = FakeManifest(**manifest)
        for line, text in enumerate(corpus, start=1):
            encoding = engine.encode(text)
            states = engine.hidden_states(encoding).states
            for token in encoding.tokens:
                if token.special:
                    continue
                pieces = [t for t in encoding.tokens if t.word == token.word and not t.special]
                self.rows.append(
                    {
                        "line": line,
                        "text": text,
                        "position": token.index,
                        "start": token.start,
                        "end": token.end,
                        "token_str": token.text,
                        "word": text[pieces[0].start : pieces[-1].end],
                    }
                )
                for layer in self.manifest.layers:
                    vector = np.asarray(states[layer, token.index], dtype=np.float64)
                    vectors.setdefault(layer, []).append(vector / np.linalg.norm(vector))
        self.vectors = {layer: np.stack(v) for layer, v in vectors.items()}
        self.manifest.vectors = len(self.rows)

    def search(
        self, layer: int, query: Any, k: int, *, word: str | None = None, same_word: bool | None = None
    ) -> list[dict[str, Any]]:
        unit = np.asarray(query, dtype=np.float64)
        unit = unit / np.linalg.norm(unit)
        scores = self.vectors[layer] @ unit
        wanted = (word or "").lower()
        order = sorted(range(len(self.rows)), key=lambda r: (-scores[r], r))
        if same_word is not None:
            order = [r for r in order if (self.rows[r]["word"].lower() == wanted) == same_word]
        return [{**self.rows[r], "score": float(scores[r])} for r in order[:k]]
