"""Word senses in an index: every occurrence of a word at a layer, projected (PCA) and clustered (k-means).

The question of Reif et al. 2019 (Context Atlas) and Wiedemann et al. 2019: does a layer put the
occurrences of an ambiguous word ("bank") in separate regions, one a sense? Here:

- **Occurrences.** The tokens of an index whose ``word`` is the word, compared case-insensitively. A word
  the tokenizer writes in several pieces is represented by its *first* piece's vector, as Context
  Atlas does (PAIR-code/interpretability, ``context-atlas/preprocess.py``: "If the word is made up of
  multiple tokens, just use the first one"). The chunks are read one at a time and only the matches
  kept; above :data:`SAMPLE` occurrences a seeded uniform sample of :data:`SAMPLE` is taken (each
  occurrence gets a random key, the smallest keys are kept), so memory is bounded whatever the corpus.
- **Vectors.** The index's stored unit vectors (float16 or int8, decoded and normalised again).
- **Projection.** scikit-learn's ``PCA(2)`` of those vectors (for the picture only).
- **Clusters.** scikit-learn's ``KMeans(k, n_init=10, random_state=seed)`` on the full vectors; ``k``
  given, or the one of ``2 .. min(8, n - 1)`` with the highest silhouette (euclidean, which on unit
  vectors orders pairs as the cosine does; a seeded sample of :data:`SILHOUETTE_SAMPLE` points above
  that many). At least :data:`MIN_OCCURRENCES` occurrences are needed.
- **Typical sentences.** Each cluster's occurrences nearest its centroid, and the model's top fill
  there: the word replaced by one mask in its sentence (``fill(text)`` gives the top token and its
  probability, as ``pipeline("fill-mask")`` would).

No torch, no Textual: the fill is a function handed in (:func:`engine_fill` builds one from an engine).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import EngineError
from .store import Index, decode_vectors

SAMPLE = 5_000
"""The most occurrences analysed; above it a seeded uniform sample of this many."""
SILHOUETTE_SAMPLE = 2_000
"""The silhouette is O(n²): above this many points it is computed on a seeded sample of them."""
MIN_OCCURRENCES = 4
"""Fewer occurrences cannot be clustered: silhouette needs 2 ≤ k ≤ n - 1 and k ≥ 2 needs n ≥ 3."""
MAX_K = 8
N_INIT = 10
SEED = 0
MASK = "[MASK]"
"""The engine's alias of the model's mask token."""

Fill = Callable[[str], tuple[str, float]]
"""A text with one ``[MASK]`` → the model's top token there and its probability."""


class SensesError(EngineError):
    """A word that cannot be analysed (no occurrence, too few, a bad k): one line."""


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of the word: its corpus line, the token (its first piece) and the word's span."""

    line: int
    position: int
    """Index of the word's first piece in the line's encoding (special tokens counted)."""
    start: int
    end: int
    """Character span of the whole word in ``text``."""
    text: str


@dataclass(frozen=True)
class Occurrences:
    word: str
    layer: int
    total: int
    """Occurrences in the index (``len(items)`` unless sampled)."""
    items: tuple[Occurrence, ...]
    vectors: np.ndarray = field(repr=False)
    """(n, d) float32 unit vectors, one a row of ``items``."""

    @property
    def sampled(self) -> bool:
        return self.total > len(self.items)


@dataclass(frozen=True)
class Typical:
    occurrence: Occurrence
    distance: float
    """Euclidean distance to the cluster's centroid (unit vectors)."""
    fill: str | None = None
    fill_probability: float | None = None


@dataclass(frozen=True)
class Cluster:
    cluster: int
    size: int
    typical: tuple[Typical, ...]


@dataclass(frozen=True)
class Senses:
    """The answer for one word at one layer."""

    word: str
    layer: int
    layers: tuple[int, ...]
    """The layers of the index (for stepping through them)."""
    total: int
    items: tuple[Occurrence, ...]
    xy: np.ndarray = field(repr=False)
    """(n, 2) PCA coordinates of ``items``."""
    labels: np.ndarray = field(repr=False)
    """(n,) cluster of each item, 0-based, clusters numbered by size (largest first)."""
    k: int
    k_chosen: str
    """"silhouette" (the best of 2..min(8, n-1)) or "given"."""
    silhouette: float
    silhouettes: dict[int, float]
    """The silhouette of each k tried."""
    explained_variance: tuple[float, float]
    clusters: tuple[Cluster, ...]
    sample: int = SAMPLE

    @property
    def sampled(self) -> bool:
        return self.total > len(self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "word": self.word,
            "occurrences": self.total,
            "sampled": len(self.items) if self.sampled else None,
            "k": self.k,
            "k_chosen": self.k_chosen,
            "silhouette": _finite(self.silhouette),
            "silhouettes": {str(k): _finite(s) for k, s in self.silhouettes.items()},
            "explained_variance": [_finite(v) for v in self.explained_variance],
            "points": [
                {
                    "line": o.line,
                    "text": o.text,
                    "position": o.position,
                    "start": o.start,
                    "end": o.end,
                    "x": float(x),
                    "y": float(y),
                    "cluster": int(c),
                }
                for o, (x, y), c in zip(self.items, self.xy, self.labels, strict=True)
            ],
            "clusters": [
                {
                    "cluster": c.cluster,
                    "size": c.size,
                    "typical": [
                        {
                            "line": t.occurrence.line,
                            "text": t.occurrence.text,
                            "position": t.occurrence.position,
                            "start": t.occurrence.start,
                            "end": t.occurrence.end,
                            "distance": t.distance,
                            "fill": t.fill,
                            "fill_probability": t.fill_probability,
                        }
                        for t in c.typical
                    ],
                }
                for c in self.clusters
            ],
        }


# ---------------------------------------------------------------------- occurrences


def _first_pieces(words: np.ndarray, lines: np.ndarray, positions: np.ndarray, starts, ends) -> np.ndarray:
    """For each row whose word matches: True where it is the word's first piece (the row before it is
    not a piece of the same word: another line, another word, or not adjacent in the text)."""
    matches = np.asarray(words, dtype=bool)
    previous = np.zeros_like(matches)
    if len(matches) > 1:
        previous[1:] = (
            matches[:-1]
            & (lines[1:] == lines[:-1])
            & (positions[1:] == positions[:-1] + 1)
            & (starts[1:] == ends[:-1])
        )
    return matches & ~previous


def find_occurrences(
    index: Index, word: str, layer: int, *, limit: int = SAMPLE, seed: int = SEED
) -> Occurrences:
    """The occurrences of ``word`` (case-insensitive) at ``layer``: a seeded sample of ``limit`` above it."""
    import pyarrow.parquet as pq

    index.check_layer(layer)
    wanted = word.strip().lower()
    if not wanted:
        raise SensesError("the word is empty")
    rng = np.random.default_rng(seed)
    keys = np.empty(0, dtype=np.float64)
    meta = np.empty((0, 4), dtype=np.int64)  # line, position, start, end of word
    vectors: np.ndarray | None = None
    total = 0
    for chunk in index.manifest.chunks:
        if not chunk.vectors:  # a chunk of skipped lines only: no files
            continue
        table = pq.read_table(
            index.chunk_dir(chunk) / "tokens.parquet", columns=["line", "position", "start", "end", "word"]
        )
        words = table.column("word").to_pylist()
        match = np.fromiter((w.lower() == wanted for w in words), dtype=bool, count=len(words))
        if not match.any():
            continue
        lines = table.column("line").to_numpy()
        positions = table.column("position").to_numpy()
        starts = table.column("start").to_numpy()
        ends = table.column("end").to_numpy()
        first = np.flatnonzero(_first_pieces(match, lines, positions, starts, ends))
        continued = match.copy()
        continued[first] = False  # rows that continue a word begun on an earlier row
        word_ends = []
        for row in first:
            j = row
            while j + 1 < len(match) and continued[j + 1] and starts[j + 1] == ends[j]:
                j += 1
            word_ends.append(ends[j])
        found = np.stack([lines[first], positions[first], starts[first], np.array(word_ends)], axis=1)
        block = decode_vectors(np.asarray(index.vectors(chunk, layer)[first]))
        total += len(first)
        keys = np.concatenate([keys, rng.random(len(first))])
        meta = np.concatenate([meta, found.astype(np.int64)])
        vectors = block if vectors is None else np.concatenate([vectors, block])
        if len(keys) > limit:
            keep = np.sort(np.argpartition(keys, limit - 1)[:limit])
            keys, meta, vectors = keys[keep], meta[keep], vectors[keep]
    if vectors is None:
        vectors = np.zeros((0, index.manifest.hidden_size), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    texts = _sentences(index, {int(x) for x in meta[:, 0]})
    items = tuple(
        Occurrence(line=int(a), position=int(b), start=int(c), end=int(d), text=texts[int(a)])
        for a, b, c, d in meta
    )
    return Occurrences(word=word.strip(), layer=layer, total=total, items=items, vectors=vectors)


def _sentences(index: Index, lines: set[int]) -> dict[int, str]:
    import pyarrow.parquet as pq

    found: dict[int, str] = {}
    for chunk in index.manifest.chunks:
        if not chunk.vectors or not lines or chunk.last < min(lines) or chunk.first > max(lines):
            continue
        table = pq.read_table(index.chunk_dir(chunk) / "sentences.parquet").to_pydict()
        for line, text in zip(table["line"], table["text"], strict=True):
            if line in lines:
                found[line] = text
    return found


# ---------------------------------------------------------------------- analysis


def _finite(value: float) -> float | None:
    """``value``, or ``None`` (JSON null) where it is not a number (a silhouette of one cluster)."""
    return float(value) if np.isfinite(value) else None


def check_count(found: Occurrences) -> None:
    """One line when ``found`` is empty or too small to cluster (what is kept counts, not what occurs)."""
    if found.total == 0:
        raise SensesError(f"{found.word!r} does not occur in the index")
    if len(found.items) < MIN_OCCURRENCES:
        times = "once" if found.total == 1 else f"{found.total} times"
        raise SensesError(
            f"{found.word!r} occurs {times} in the index: at least {MIN_OCCURRENCES} occurrences are "
            "needed to cluster them"
        )


def k_range(n: int) -> range:
    """The k tried by silhouette: 2 .. min(MAX_K, n - 1)."""
    return range(2, min(MAX_K, n - 1) + 1)


def cluster(
    vectors: np.ndarray, k: int | None = None, *, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray, int, float, dict[int, float]]:
    """k-means of ``vectors``: (labels, centroids, k, silhouette, silhouette of each k tried).

    Clusters are renumbered by size, largest first (ties by the first member), so that colours and
    numbers do not depend on k-means' arbitrary order.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    distinct = len(np.unique(vectors, axis=0))
    if distinct < 2:
        raise SensesError(f"all {n} occurrences have the same vector at this layer: nothing to cluster")
    if k is not None and k > distinct:
        raise SensesError(
            f"k = {k}: the {n} occurrences have only {distinct} different vectors at this layer"
        )
    tried = [k] if k is not None else [c for c in k_range(n) if c <= distinct] or [2]
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    scores: dict[int, float] = {}
    sample = min(n, SILHOUETTE_SAMPLE)
    for c in tried:
        model = KMeans(n_clusters=c, n_init=N_INIT, random_state=seed).fit(vectors)
        labels = model.labels_
        if len(set(labels.tolist())) < 2:
            score = float("nan")
        else:
            score = float(
                silhouette_score(
                    vectors, labels, sample_size=sample if sample < n else None, random_state=seed
                )
            )
        scores[c] = score
        if best is None or (score > best[0]) or (np.isnan(best[0]) and not np.isnan(score)):
            best = (score, c, labels, model.cluster_centers_)
    assert best is not None
    score, chosen, labels, centres = best
    order = sorted(range(chosen), key=lambda c: (-int((labels == c).sum()), int(np.argmax(labels == c))))
    rename = np.empty(chosen, dtype=np.int64)
    rename[order] = np.arange(chosen)
    return rename[labels], centres[order], chosen, score, scores


def project(vectors: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """PCA to 2-D (scikit-learn), and the share of the variance each axis explains."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=SEED)
    xy = pca.fit_transform(vectors)
    ratio = pca.explained_variance_ratio_
    return xy.astype(np.float64), (float(ratio[0]), float(ratio[1]))


def masked_text(item: Occurrence) -> str:
    """The occurrence's sentence with the whole word replaced by one mask."""
    return item.text[: item.start] + MASK + item.text[item.end :]


def analyse(
    found: Occurrences,
    layers: Sequence[int] = (),
    *,
    k: int | None = None,
    top: int = 3,
    seed: int = SEED,
    fill: Fill | None = None,
) -> Senses:
    """Project, cluster and describe ``found`` (see the module's docstring)."""
    check_count(found)
    n = len(found.items)
    if k is not None and not 2 <= k <= n - 1:
        raise SensesError(f"k = {k}: with {n} occurrences k must be between 2 and {n - 1}")
    labels, centres, chosen, score, scores = cluster(found.vectors, k, seed=seed)
    xy, ratio = project(found.vectors)
    clusters = []
    for c in range(chosen):
        members = np.flatnonzero(labels == c)
        distance = np.linalg.norm(found.vectors[members] - centres[c], axis=1)
        nearest = members[np.lexsort((members, distance))][:top]
        typical = []
        for i in nearest:
            item = found.items[int(i)]
            token, probability = fill(masked_text(item)) if fill is not None else (None, None)
            typical.append(
                Typical(
                    item,
                    float(np.linalg.norm(found.vectors[i] - centres[c])),
                    token,
                    None if probability is None else float(probability),
                )
            )
        clusters.append(Cluster(cluster=c, size=len(members), typical=tuple(typical)))
    return Senses(
        word=found.word,
        layer=found.layer,
        layers=tuple(layers),
        total=found.total,
        items=found.items,
        xy=xy,
        labels=labels,
        k=chosen,
        k_chosen="given" if k is not None else "silhouette",
        silhouette=score,
        silhouettes=scores,
        explained_variance=ratio,
        clusters=tuple(clusters),
    )


def senses(
    index: Index,
    word: str,
    layer: int,
    *,
    k: int | None = None,
    top: int = 3,
    limit: int = SAMPLE,
    seed: int = SEED,
    fill: Fill | None = None,
) -> Senses:
    """All of it: :func:`find_occurrences` then :func:`analyse`."""
    found = find_occurrences(index, word, layer, limit=limit, seed=seed)
    result = analyse(found, index.manifest.layers, k=k, top=top, seed=seed, fill=fill)
    return result if limit == SAMPLE else _with_sample(result, limit)


def _with_sample(result: Senses, limit: int) -> Senses:
    from dataclasses import replace

    return replace(result, sample=limit)


def engine_fill(engine: Any) -> Fill:
    """A :data:`Fill` answered by a :class:`~mlm_tui.engine.MaskedLM` (its top prediction at the mask)."""

    def fill(text: str) -> tuple[str, float]:
        encoding = engine.encode(text)
        result = engine.predict(encoding, top_k=1)
        best = result.masks[0].predictions[0]
        return best.token_str, float(best.score)

    return fill


# ---------------------------------------------------------------------- pictures

PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (188, 189, 34),
)
"""One colour a cluster (matplotlib's tab10), the same in the terminal and in the exported picture."""
FORMATS = (".svg", ".png")
INSTALL = "pip install 'mlm-tui[plot]'"


def colour(cluster: int) -> tuple[int, int, int]:
    return PALETTE[cluster % len(PALETTE)]


def title(result: Senses) -> str:
    sample = f", a sample of {len(result.items):,}" if result.sampled else ""
    how = "by silhouette" if result.k_chosen == "silhouette" else "given"
    return (
        f"{result.word!r} at layer {result.layer}: {result.total:,} occurrences{sample}, "
        f"k = {result.k} ({how}, silhouette {result.silhouette:.3f})"
    )


def legend(result: Senses) -> list[str]:
    """A line a cluster: its number, size and the fill of its most typical sentence."""
    lines = []
    for c in result.clusters:
        fill = c.typical[0].fill if c.typical and c.typical[0].fill is not None else None
        lines.append(f"cluster {c.cluster}: {c.size}" + (f" · fill {fill!r}" if fill else ""))
    return lines


def write_plot(result: Senses, path: str | Path) -> None:
    """The scatter as SVG or PNG (matplotlib, without pyplot: no GUI backend, no global state)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 5.5), layout="constrained")
    axes = figure.add_subplot()
    for c, line in zip(result.clusters, legend(result), strict=True):
        members = result.labels == c.cluster
        rgb = tuple(v / 255 for v in colour(c.cluster))
        axes.scatter(result.xy[members, 0], result.xy[members, 1], s=14, color=[rgb], label=line, alpha=0.8)
    ev = result.explained_variance
    axes.set_xlabel(f"PC 1 ({ev[0]:.0%} of the variance)")
    axes.set_ylabel(f"PC 2 ({ev[1]:.0%})")
    axes.set_title(title(result), fontsize="small")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    metadata = {"Date": None} if Path(path).suffix.lower() == ".svg" else {}  # the same bytes each run
    figure.savefig(path, metadata=metadata)
