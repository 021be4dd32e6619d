"""How contextual each layer is (Ethayarajh 2019, *How Contextual are Contextualized Word Representations?*).

Per layer ``l`` (0 = the embeddings' output … L), with ``f_l(s, i)`` the layer-l vector of token i of
sentence s and cos the cosine:

- **self-similarity** of a word w with occurrences o_1…o_n: the mean of cos(f_l(o_j), f_l(o_k)) over
  the ordered pairs j ≠ k — all of them up to :data:`PAIRS_PER_WORD` pairs, else a seeded sample of
  that many distinct pairs (as the author's ``analyze.py``); the layer's figure is the mean over the
  words with at least ``min_occurrences`` occurrences;
- **intra-sentence similarity**: the mean over sentences of the mean over the sentence's tokens of
  cos(f_l(s, i), mean_i f_l(s, i)), over every sentence (``analyze.py`` samples 1,000);
- **maximum explainable variance (MEV)** of w: the first principal component's share of the variance of
  its centred occurrence matrix (scikit-learn's ``PCA(1).explained_variance_ratio_``), mean over the
  same words; 1.0 for a word whose occurrences are all the same vector (no variance to explain: RoBERTa's
  sentence-initial ``The`` on layer 0), as ``analyze.py``'s ``min(1.0, nan)`` gives;
- **anisotropy baseline**: the mean cosine of :data:`BASELINE_PAIRS` seeded random pairs of tokens from
  different sentences: as ``analyze.py``, up to :data:`BASELINE_SENTENCES` sentences drawn uniformly,
  one token drawn uniformly in each, pairs drawn among them (``analyze.py`` may pair a token with
  itself; here the two always come from different sentences); **adjusted** = raw − baseline.

A *word* is a vocabulary token that starts a word (:func:`word_starts`); special tokens are never
counted, in any figure; every other token (continuation pieces too) counts in intra-sentence
similarity and the baseline, as in ``analyze.py``.

Memory stays flat whatever the size of the corpus. The corpus is read twice: the first pass only
tokenizes, counting each word's occurrences; the second runs the model once per sentence and keeps,
of the vectors, only those of the occurrences chosen for the words that reach ``min_occurrences``:
at most :data:`OCCURRENCE_CAP` per word (a seeded uniform sample of a word's occurrences beyond
that), fewer when the kept vectors would pass ``budget`` bytes (and, when even ``min_occurrences``
each would, a seeded sample of the words). Intra-sentence similarity is summed as the sentences go;
the baseline keeps one token of each of its sentences. What was capped or sampled is reported.
No Textual, no torch.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import EngineError
from ..engine.types import Encoding
from .reader import NOT_TEXT, Line

PAIRS_PER_WORD = 1000
"""Ordered pairs of a word's occurrences compared: all of them up to this many, else a seeded sample."""
BASELINE_SENTENCES = 1000
"""Sentences the baseline's tokens are drawn from (one token each), as ``analyze.py``'s ``num_samples``."""
BASELINE_PAIRS = 1000
"""Pairs of those tokens whose cosines the baseline averages, as ``analyze.py``."""
OCCURRENCE_CAP = 500
"""The most occurrences of one word whose vectors are kept (a seeded uniform sample beyond that)."""
STORE_BUDGET = 1 << 30
"""Bytes of word vectors kept at most (float32, every layer)."""
TOO_LONG = "too long"

_WORD_MARKERS = ("Ġ", "▁")
"""Byte-level BPE's and SentencePiece's mark of a piece that starts a word."""


# ---------------------------------------------------------------- words


def word_starts(encoding: Encoding) -> list[int]:
    """Positions of the tokens that start a word: the first piece of each word the tokenizer splits off.

    Words are the engine's (``Token.word``: the tokenizer's pre-tokenized words, the same cells the
    explorer groups), so one rule serves WordPiece, byte-level BPE and SentencePiece: ``play ##ing``
    starts at ``play``; ``Ġplay ing`` and ``▁play ing`` at their first piece; punctuation split off
    by the tokenizer (BERT's and RoBERTa's ``,``) is a word of its own. The markers settle what the
    word indices cannot: a ``##`` piece never starts a word, a ``Ġ``/``▁`` piece always does. Special
    tokens and masks are never words.
    """
    starts = []
    previous: int | None = None
    for token in encoding.tokens:
        if token.special:
            previous = None
            continue
        if token.text.startswith("##"):
            start = False
        elif token.text.startswith(_WORD_MARKERS) or previous is None or token.word is None:
            start = True
        else:
            start = token.word != previous
        previous = token.word if token.word is not None else -1 - token.index
        if start and not token.is_mask:
            starts.append(token.index)
    return starts


def body(encoding: Encoding) -> list[int]:
    """Positions of the tokens that are not special (the ones every figure counts)."""
    return [t.index for t in encoding.tokens if not t.special]


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class LayerContextuality:
    """One layer's figures."""

    layer: int
    words: int
    """Words averaged over (those with at least ``min_occurrences`` occurrences, sampled when memory bound)."""
    self_similarity: float
    intra_sentence_similarity: float
    mev: float
    baseline: float

    @property
    def self_similarity_adjusted(self) -> float:
        return self.self_similarity - self.baseline

    @property
    def intra_sentence_similarity_adjusted(self) -> float:
        return self.intra_sentence_similarity - self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "words": self.words,
            "self_similarity": self.self_similarity,
            "intra_sentence_similarity": self.intra_sentence_similarity,
            "mev": self.mev,
            "baseline": self.baseline,
            "self_similarity_adjusted": self.self_similarity_adjusted,
            "intra_sentence_similarity_adjusted": self.intra_sentence_similarity_adjusted,
        }


@dataclass(frozen=True)
class Contextuality:
    """Every layer's figures for one model over one corpus, and what was read, skipped and sampled."""

    model: str
    layers: tuple[LayerContextuality, ...]
    sentences: int
    """Sentences read (after skipping)."""
    tokens: int
    """Their tokens, special tokens left out."""
    skipped: dict[str, int]
    """Lines skipped by reason: ``"empty"``, ``"not text"``, ``"too long"``."""
    word_types: int
    """Distinct words seen."""
    words_excluded: int
    """Distinct words with fewer than ``min_occurrences`` occurrences (left out)."""
    words_unsampled: int
    """Words that reach ``min_occurrences`` but were left out to keep memory within the budget (usually 0)."""
    occurrence_cap: int
    """The most occurrences kept for one word."""
    words_capped: int
    """Words with more occurrences than the cap (a sample of them was kept)."""
    min_occurrences: int
    seed: int
    baseline_pairs: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = field(repr=False, default=())
    """The baseline's pairs as ((sentence, token position), (sentence, token position)): sentence counts
    the sentences read from 0, the position counts special tokens (as ``layers`` prints them)."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` object of one model: ``{"model", "layers": [...]}``."""
        return {"model": self.model, "layers": [layer.to_dict() for layer in self.layers]}


# ---------------------------------------------------------------- the passes


def sentences(
    engine: Any,
    lines: Iterable[Line],
    *,
    max_sentences: int | None = None,
    skipped: Counter[str] | None = None,
) -> Iterator[Encoding]:
    """The corpus's sentences encoded, in order; each line that is empty, not text or longer than the
    model reads (special tokens included) skipped and counted in ``skipped``."""
    limit = engine.info.max_length
    codec = getattr(engine, "text", None)
    kept = 0
    for line in lines:
        if max_sentences is not None and kept >= max_sentences:
            return
        problem = line.problem
        encoding = None
        if problem is None and line.text is not None:
            try:
                # a long line is counted a stretch at a time first: a huge one is refused early
                if (
                    codec is not None
                    and len(line.text) > 8 * limit
                    and codec.count_pieces(line.text, limit)[0] > limit
                ):
                    problem = TOO_LONG
                else:
                    encoding = engine.encode(line.text)
                    if len(encoding.tokens) > limit:
                        problem, encoding = TOO_LONG, None
            except EngineError:  # a broken character, or nothing the tokenizer keeps
                problem = NOT_TEXT
        if encoding is None:
            if skipped is not None:
                skipped[problem or NOT_TEXT] += 1
            continue
        kept += 1
        yield encoding


@dataclass
class _Plan:
    """What the second pass keeps, decided from the first pass's counts."""

    counts: dict[int, int]
    keep: dict[int, np.ndarray | None]
    """Per kept word: the sorted occurrence numbers to keep, or ``None`` for all of them."""
    cap: int
    unsampled: int
    capped: int
    baseline: dict[int, tuple[int, float]]
    """Sentence number → (slot, a uniform draw in [0, 1) choosing its token)."""


def plan(
    counts: dict[int, int],
    sentence_count: int,
    per_vector: int,
    *,
    min_occurrences: int,
    seed: int,
    cap: int = OCCURRENCE_CAP,
    budget: int = STORE_BUDGET,
) -> _Plan:
    """Which occurrences of which words to keep, and the baseline's sentences (seeded, deterministic)."""
    rng = np.random.default_rng([seed, 0])
    frequent = sorted(w for w, n in counts.items() if n >= min_occurrences)
    cap = max(cap, min_occurrences)

    def cost(limit: int, words: Iterable[int]) -> int:
        return sum(min(counts[w], limit) for w in words) * per_vector

    low, high = min_occurrences, cap
    if cost(high, frequent) > budget:  # the largest cap that fits, by bisection (cost grows with it)
        while low < high:
            middle = (low + high + 1) // 2
            low, high = (middle, high) if cost(middle, frequent) <= budget else (low, middle - 1)
        cap = low
    chosen = frequent
    if cost(cap, frequent) > budget:  # even min_occurrences each is too much: a seeded sample of words
        order = [frequent[i] for i in rng.permutation(len(frequent))]
        room = budget // (cap * per_vector)
        chosen = sorted(order[: max(1, room)])
    keep: dict[int, np.ndarray | None] = {}
    for word in chosen:
        n = counts[word]
        keep[word] = None if n <= cap else np.sort(rng.choice(n, size=cap, replace=False))
    picked = np.sort(rng.choice(sentence_count, size=min(BASELINE_SENTENCES, sentence_count), replace=False))
    draws = rng.random(len(picked))
    return _Plan(
        counts=counts,
        keep=keep,
        cap=cap,
        unsampled=len(frequent) - len(chosen),
        capped=sum(1 for w in chosen if counts[w] > cap),
        baseline={int(s): (slot, float(u)) for slot, (s, u) in enumerate(zip(picked, draws, strict=True))},
    )


class _Store:
    """The second pass: kept word vectors, the baseline's tokens, the running intra-sentence sum."""

    def __init__(self, plan: _Plan, layers: int, width: int) -> None:
        self.plan = plan
        self.layers, self.width = layers, width
        self.vectors: dict[int, np.ndarray] = {}
        self.filled: dict[int, int] = {}
        self.seen: dict[int, int] = {}
        self.baseline = np.zeros((len(plan.baseline), layers, width), dtype=np.float32)
        self.baseline_where: list[tuple[int, int]] = [(-1, -1)] * len(plan.baseline)
        self.intra = np.zeros(layers, dtype=np.float64)
        self.sentences = 0

    def add(self, number: int, encoding: Encoding, states: np.ndarray) -> None:
        """One sentence (``number`` from 0) and its hidden states ``(layers, tokens, d)``."""
        positions = body(encoding)
        vectors = np.asarray(states[:, positions, :], dtype=np.float64)
        centre = vectors.mean(axis=1, keepdims=True)
        self.intra += _cosine(vectors, centre).mean(axis=1)
        self.sentences += 1
        if number in self.plan.baseline:
            slot, draw = self.plan.baseline[number]
            at = positions[min(int(draw * len(positions)), len(positions) - 1)]
            self.baseline[slot] = states[:, at, :]
            self.baseline_where[slot] = (number, at)
        for at in word_starts(encoding):
            word = encoding.tokens[at].id
            if word not in self.plan.keep:
                continue
            occurrence = self.seen.get(word, 0)
            self.seen[word] = occurrence + 1
            chosen = self.plan.keep[word]
            filled = self.filled.get(word, 0)
            if chosen is not None and (filled >= len(chosen) or chosen[filled] != occurrence):
                continue
            store = self.vectors.get(word)
            if store is None:
                size = self.plan.counts[word] if chosen is None else len(chosen)
                store = self.vectors[word] = np.empty((size, self.layers, self.width), dtype=np.float32)
            store[filled] = states[:, at, :]
            self.filled[word] = filled + 1


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine along the last axis (broadcast); 0 where a vector is zero."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    dots = (a * b).sum(axis=-1)
    return np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), 0.0)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def ordered_pairs(count: int, rng: np.random.Generator, limit: int = PAIRS_PER_WORD) -> np.ndarray:
    """``(pairs, 2)`` ordered pairs (j, k), j ≠ k, of ``count`` items: all of them up to ``limit``, else
    ``limit`` distinct ones drawn uniformly (``random.sample`` of the pairs, as ``analyze.py``)."""
    total = count * (count - 1)
    chosen = np.arange(total) if total <= limit else rng.choice(total, size=limit, replace=False)
    first, rest = np.divmod(chosen, count - 1)
    second = rest + (rest >= first)
    return np.stack([first, second], axis=1)


def self_similarity(occurrences: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per layer, the mean cosine over ordered pairs of a word's occurrences ``(n, layers, d)``."""
    if len(occurrences) * (len(occurrences) - 1) <= PAIRS_PER_WORD:  # every pair: from the Gram matrix
        unit = _unit(np.asarray(occurrences, dtype=np.float64)).transpose(1, 0, 2)
        gram = unit @ unit.transpose(0, 2, 1)
        n = len(occurrences)
        return (gram.sum(axis=(1, 2)) - np.trace(gram, axis1=1, axis2=2)) / (n * (n - 1))
    pairs = ordered_pairs(len(occurrences), rng)
    unit = _unit(np.asarray(occurrences, dtype=np.float64))
    return (unit[pairs[:, 0]] * unit[pairs[:, 1]]).sum(axis=-1).mean(axis=0)


def explained_variance(occurrences: np.ndarray) -> np.ndarray:
    """Per layer, the first principal component's share of the variance of ``(n, layers, d)`` (centred)."""
    x = np.asarray(occurrences, dtype=np.float64).transpose(1, 0, 2)
    x = x - x.mean(axis=1, keepdims=True)
    n, width = x.shape[1], x.shape[2]
    # the eigenvalues of the smaller Gram matrix are the squared singular values
    gram = x @ x.transpose(0, 2, 1) if n <= width else x.transpose(0, 2, 1) @ x
    top = np.linalg.eigvalsh(gram)[:, -1]
    total = np.trace(gram, axis1=1, axis2=2)
    # no variance (beyond rounding) to explain: the occurrences are one vector, which one component
    # explains; analyze.py gets 1.0 there too (``min(1.0, nan)``)
    scale = np.square(np.asarray(occurrences, dtype=np.float64)).sum(axis=(0, 2))
    still = total <= 1e-12 * np.maximum(scale, np.finfo(np.float64).tiny)
    return np.where(still, 1.0, np.clip(top, 0.0, None) / np.where(still, 1.0, total))


def baseline(vectors: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, the mean cosine of :data:`BASELINE_PAIRS` pairs of ``(k, layers, d)`` vectors, each pair
    two different ones (so two sentences); with the pairs ``(pairs, 2)`` of slots."""
    rng = np.random.default_rng([seed, 2])
    k = len(vectors)
    first = rng.integers(k, size=BASELINE_PAIRS)
    second = rng.integers(k - 1, size=BASELINE_PAIRS)
    second = second + (second >= first)
    unit = _unit(np.asarray(vectors, dtype=np.float64))
    return (unit[first] * unit[second]).sum(axis=-1).mean(axis=0), np.stack([first, second], axis=1)


# ---------------------------------------------------------------- the whole


def contextuality(
    engine: Any,
    lines: Callable[[], Iterable[Line]],
    *,
    min_occurrences: int = 5,
    seed: int = 0,
    max_sentences: int | None = None,
    cap: int = OCCURRENCE_CAP,
    budget: int = STORE_BUDGET,
    progress: Callable[[int], AbstractContextManager[Callable[[int], None]]] | None = None,
) -> Contextuality:
    """Every layer's figures for ``engine`` over the corpus ``lines()`` gives (called twice: two passes).

    :class:`EngineError` in one line when fewer than two sentences can be read (the baseline compares
    two) or no word reaches ``min_occurrences``. ``progress(total_tokens)``: a context manager around
    the second pass, giving what to call with the tokens of each sentence run (a progress bar).
    """
    if min_occurrences < 2:
        raise EngineError(f"--min-occurrences must be at least 2 (a pair), got {min_occurrences}")
    skipped: Counter[str] = Counter()
    counts: Counter[int] = Counter()
    sentence_count = token_count = 0
    first: Encoding | None = None
    for encoding in sentences(engine, lines(), max_sentences=max_sentences, skipped=skipped):
        first = first or encoding
        sentence_count += 1
        token_count += len(body(encoding))
        counts.update(encoding.tokens[at].id for at in word_starts(encoding))
    said = _skipped_text(skipped)
    if sentence_count < 2:
        raise EngineError(
            f"the corpus has {sentence_count} sentence{'s' * (sentence_count != 1)} to read{said}: "
            "the baseline compares tokens of two different sentences"
        )
    assert first is not None
    frequent = sum(1 for n in counts.values() if n >= min_occurrences)
    if not frequent:
        word, most = counts.most_common(1)[0] if counts else (None, 0)
        top = f" (the most frequent, {engine.token_str(word).strip()!r}, {most})" if word is not None else ""
        raise EngineError(
            f"no word occurs {min_occurrences} times in {sentence_count:,} sentences{top}: give a bigger "
            "corpus or a lower --min-occurrences"
        )
    shape = engine.hidden_states(first).states.shape  # cached: the second pass reads it again for free
    layers, width = int(shape[0]), int(shape[2])
    chosen = plan(
        dict(counts),
        sentence_count,
        layers * width * 4,
        min_occurrences=min_occurrences,
        seed=seed,
        cap=cap,
        budget=budget,
    )
    store = _Store(chosen, layers, width)
    bar = progress(token_count) if progress is not None else contextlib.nullcontext(_ignore)
    with bar as advance:
        for number, encoding in enumerate(sentences(engine, lines(), max_sentences=max_sentences)):
            store.add(number, encoding, engine.hidden_states(encoding).states)
            advance(len(body(encoding)))
    if store.sentences != sentence_count:
        raise EngineError("the corpus changed between the two passes over it (a file being written?)")

    rng = np.random.default_rng([seed, 1])
    self_sums = np.zeros(layers)
    mev_sums = np.zeros(layers)
    for word in sorted(store.vectors):
        occurrences = store.vectors[word][: store.filled[word]]
        self_sums += self_similarity(occurrences, rng)
        mev_sums += explained_variance(occurrences)
    words = len(store.vectors)
    base, slots = baseline(store.baseline, seed)
    where = store.baseline_where
    return Contextuality(
        model=engine.info.name,
        layers=tuple(
            LayerContextuality(
                layer=layer,
                words=words,
                self_similarity=float(self_sums[layer] / words),
                intra_sentence_similarity=float(store.intra[layer] / store.sentences),
                mev=float(mev_sums[layer] / words),
                baseline=float(base[layer]),
            )
            for layer in range(layers)
        ),
        sentences=sentence_count,
        tokens=token_count,
        skipped=dict(skipped),
        word_types=len(counts),
        words_excluded=len(counts) - frequent,
        words_unsampled=chosen.unsampled,
        occurrence_cap=chosen.cap,
        words_capped=chosen.capped,
        min_occurrences=min_occurrences,
        seed=seed,
        baseline_pairs=tuple((where[int(a)], where[int(b)]) for a, b in slots),
    )


def _ignore(_tokens: int) -> None:
    pass


def _skipped_text(skipped: Counter[str]) -> str:
    if not skipped:
        return ""
    return " (skipped: " + ", ".join(f"{n:,} {reason}" for reason, n in sorted(skipped.items())) + ")"


def describe(result: Contextuality) -> list[str]:
    """What was read, left out and sampled, one line each (the CLI prints them on stderr)."""
    lines = [
        f"{result.model}: {result.sentences:,} sentences, {result.tokens:,} tokens, "
        f"{result.word_types:,} distinct words; {result.layers[0].words:,} with ≥ {result.min_occurrences} "
        f"occurrences counted, {result.words_excluded:,} with fewer left out"
    ]
    if result.skipped:
        lines.append(
            "skipped lines: " + ", ".join(f"{n:,} {reason}" for reason, n in sorted(result.skipped.items()))
        )
    if result.words_capped:
        lines.append(
            f"{result.words_capped:,} words have more than {result.occurrence_cap:,} occurrences: self-similarity "
            f"and MEV use a seeded sample of {result.occurrence_cap:,} of each (seed {result.seed})"
        )
    if result.words_unsampled:
        lines.append(
            f"memory bound: {result.words_unsampled:,} words that reach {result.min_occurrences} occurrences "
            "were left out (a seeded sample of the words is counted)"
        )
    return lines
