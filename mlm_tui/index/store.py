"""An index folder on disk: the manifest, the chunks, the approximate search graphs, and search itself.

Layout of ``DIR``::

    manifest.json            model, vocabulary digest, revision, layers, dtype, the chunks done
    chunks/00000/            one chunk of consecutive corpus lines, written to a temporary folder and renamed
        sentences.parquet    line (1-based), text
        tokens.parquet       row (the vector's key), line, position, start, end, token_str, word
        layer-8.npy          (tokens, d) L2-normalised vectors: float16, or int8 (round(127 x))
    ann/layer-8-0.usearch    with more than EXACT_LIMIT vectors: usearch HNSW shards of a layer

A chunk is in the index once the manifest lists it; the manifest is replaced atomically after the
chunk's folder is renamed into place, so a crash at any moment leaves the chunks listed intact and at
most one unlisted folder, which the next build removes. No torch, no Textual.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import EngineError

FORMAT = 1
MANIFEST = "manifest.json"
CHUNKS = "chunks"
ANN = "ann"
I8_SCALE = 127.0

EXACT_LIMIT = 100_000
"""Vectors per layer up to which search is exact (usearch's exact scan of every stored vector).
Above it the build adds usearch HNSW graphs and search is approximate (BENCHMARKS.md: the measurements)."""
ANN_SHARD = 262_144
"""Vectors per HNSW shard: memory while building one is bounded by it (~0.5 GB at 768-d)."""
ANN_EXPANSION = 256
"""HNSW ``ef`` at search (usearch's ``expansion_search``): recall@50 ≥ 0.99 in the measurements."""


class IndexError_(EngineError):
    """The index folder cannot be used (missing, half written, corrupted, another model): one line."""


@dataclass
class Chunk:
    """One chunk of the index: lines ``first``..``last`` of the corpus, ``vectors`` tokens."""

    name: str
    first: int
    last: int
    vectors: int
    sizes: dict[str, int] = field(default_factory=dict)
    """Bytes of each file, checked when the index is opened (a truncated file is corruption)."""


@dataclass
class Manifest:
    model: str
    model_path: str
    vocab_digest: str
    revision: str | None
    layers: list[int]
    model_layers: int
    hidden_size: int
    dtype: str
    corpus: str
    text_column: str
    chunks: list[Chunk] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    """Lines skipped, by reason (empty, not text, too long)."""
    lines_read: int = 0
    """The corpus lines the listed chunks cover (a resumed build starts after it)."""
    complete: bool = False
    """The corpus was read to its end (and the approximate search graphs, if any, written)."""
    ann_shards: int = 0
    format: int = FORMAT

    @property
    def vectors(self) -> int:
        return sum(c.vectors for c in self.chunks)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        data["chunks"] = [Chunk(**c) for c in data.get("chunks", ())]
        return cls(**data)


def write_atomic(path: Path, data: bytes) -> None:
    """``data`` to ``path`` through a temporary file in the same folder, flushed and renamed."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def save_manifest(folder: Path, manifest: Manifest) -> None:
    write_atomic(folder / MANIFEST, manifest.to_json().encode())


def read_manifest(folder: Path) -> Manifest:
    """The manifest of ``folder``; :class:`IndexError_` in one line when there is none or it is damaged."""
    path = folder / MANIFEST
    if not folder.exists():
        raise IndexError_(f"{folder}: no such index folder")
    if not path.is_file():
        raise IndexError_(f"{folder}: not an index (no {MANIFEST}); build one with mlm-tui index")
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexError_(f"{folder}: the index is corrupted ({MANIFEST} cannot be read: {exc})") from None
    if manifest.format != FORMAT:
        raise IndexError_(
            f"{folder}: an index of format {manifest.format}; this mlm-tui reads format {FORMAT}"
        )
    return manifest


def layer_file(layer: int) -> str:
    return f"layer-{layer}.npy"


def ann_file(layer: int, shard: int) -> str:
    return f"layer-{layer}-{shard}.usearch"


def decode_vectors(block: np.ndarray) -> np.ndarray:
    """Stored vectors as float32 (int8 ones scaled back)."""
    if block.dtype == np.int8:
        return block.astype(np.float32) / I8_SCALE
    return block.astype(np.float32)


def encode_vectors(unit: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "i8":
        return np.clip(np.rint(unit * I8_SCALE), -127, 127).astype(np.int8)
    return unit.astype(np.float16)


@dataclass(frozen=True)
class Hit:
    row: int
    score: float


class Index:
    """An opened index folder: checked against its manifest, searched layer by layer."""

    def __init__(self, folder: str | Path, *, check: bool = True) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self._graphs: dict[tuple[int, int], Any] = {}
        if check:
            self._check()

    def _check(self) -> None:
        for chunk in self.manifest.chunks:
            where = self.folder / CHUNKS / chunk.name
            for name, size in chunk.sizes.items():
                path = where / name
                try:
                    actual = path.stat().st_size
                except OSError:
                    raise IndexError_(
                        f"{self.folder}: the index is corrupted ({CHUNKS}/{chunk.name}/{name} is missing); "
                        "delete the folder and build it again"
                    ) from None
                if actual != size:
                    raise IndexError_(
                        f"{self.folder}: the index is corrupted ({CHUNKS}/{chunk.name}/{name} has {actual:,} "
                        f"bytes, {size:,} were written); delete the folder and build it again"
                    )

    # ------------------------------------------------------------------ reading

    def chunk_dir(self, chunk: Chunk) -> Path:
        return self.folder / CHUNKS / chunk.name

    def vectors(self, chunk: Chunk, layer: int) -> np.ndarray:
        """The chunk's stored vectors at ``layer``, memory-mapped (none for a chunk of skipped lines only)."""
        if not chunk.vectors:
            return np.zeros(
                (0, self.manifest.hidden_size), dtype=np.int8 if self.manifest.dtype == "i8" else np.float16
            )
        try:
            return np.load(self.chunk_dir(chunk) / layer_file(layer), mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise IndexError_(
                f"{self.folder}: the index is corrupted ({chunk.name}/{layer_file(layer)}: {exc})"
            ) from None

    def check_layer(self, layer: int) -> None:
        if layer not in self.manifest.layers:
            have = ", ".join(str(x) for x in self.manifest.layers)
            raise IndexError_(f"layer {layer} is not in the index: it has layers {have}")

    def _locate(self, rows: list[int]) -> dict[int, dict[str, Any]]:
        """The token and sentence of each global row."""
        import pyarrow.parquet as pq

        found: dict[int, dict[str, Any]] = {}
        offset = 0
        wanted = sorted(set(rows))
        for chunk in self.manifest.chunks:
            inside = [r for r in wanted if offset <= r < offset + chunk.vectors]
            if inside:
                tokens = pq.read_table(self.chunk_dir(chunk) / "tokens.parquet").to_pydict()
                sentences = pq.read_table(self.chunk_dir(chunk) / "sentences.parquet").to_pydict()
                text_of = dict(zip(sentences["line"], sentences["text"], strict=True))
                for r in inside:
                    i = r - offset
                    found[r] = {
                        "line": tokens["line"][i],
                        "text": text_of[tokens["line"][i]],
                        "position": tokens["position"][i],
                        "start": tokens["start"][i],
                        "end": tokens["end"][i],
                        "token_str": tokens["token_str"][i],
                        "word": tokens["word"][i],
                    }
            offset += chunk.vectors
        return found

    def _words(self, chunk: Chunk) -> np.ndarray:
        import pyarrow.parquet as pq

        column = pq.read_table(self.chunk_dir(chunk) / "tokens.parquet", columns=["word"]).column("word")
        return np.array([w.lower() for w in column.to_pylist()], dtype=object)

    # ------------------------------------------------------------------ search

    def exact(self, layer: int, query: np.ndarray, k: int, keep: Any = None) -> list[Hit]:
        """Top-``k`` rows by cosine, scanning every vector (``keep(words) -> mask`` filters by word).

        The scan is usearch's exact kernel on the stored 16-bit (or 8-bit) rows as they are, with the
        query rounded to the same type: no float32 copy of a chunk is made (BENCHMARKS.md: ~30x faster
        than converting each chunk, and the cosines agree to ~1e-3, the rounding of the stored vectors).
        """
        from usearch.index import MetricKind
        from usearch.index import search as usearch_exact

        best_rows = np.empty(0, dtype=np.int64)
        best_scores = np.empty(0, dtype=np.float32)
        offset = 0
        q = np.asarray(query, dtype=np.float32)
        for chunk in self.manifest.chunks:
            if not chunk.vectors:  # a chunk of skipped lines only: no files
                continue
            block = self.vectors(chunk, layer)
            rows = np.arange(len(block))
            if keep is not None:
                rows = np.flatnonzero(keep(self._words(chunk)))
                block = np.asarray(block)[rows]
            take = min(k, len(block))
            if take:
                typed = encode_vectors(q, "i8" if block.dtype == np.int8 else "f16")
                found = usearch_exact(
                    np.ascontiguousarray(block), typed, take, MetricKind.Cos, exact=True, threads=1
                )
                keys = np.asarray(found.keys, dtype=np.int64)
                scores = 1.0 - np.asarray(found.distances, dtype=np.float32)
                best_rows = np.concatenate([best_rows, rows[keys] + offset])
                best_scores = np.concatenate([best_scores, scores])
                order = np.lexsort((best_rows, -best_scores))[:k]
                best_rows, best_scores = best_rows[order], best_scores[order]
            offset += chunk.vectors
        return [Hit(int(r), float(s)) for r, s in zip(best_rows, best_scores, strict=True)]

    def approximate(self, layer: int, query: np.ndarray, k: int) -> list[Hit]:
        """Top-``k`` from the HNSW shards of ``layer`` (searched one after another, merged by score)."""

        hits: list[Hit] = []
        for shard in range(self.manifest.ann_shards):
            graph = self._graph(layer, shard)
            graph.expansion_search = max(ANN_EXPANSION, k)
            found = graph.search(np.asarray(query, dtype=np.float32), k)
            hits += [
                Hit(int(key), 1.0 - float(d)) for key, d in zip(found.keys, found.distances, strict=True)
            ]
        hits.sort(key=lambda h: (-h.score, h.row))
        return hits[:k]

    def _graph(self, layer: int, shard: int) -> Any:
        """The HNSW shard, memory-mapped once per opened index (opening one costs more than a search)."""
        from usearch.index import Index as UIndex

        key = (layer, shard)
        graph = self._graphs.get(key)
        if graph is None:
            path = self.folder / ANN / ann_file(layer, shard)
            try:
                graph = UIndex.restore(str(path), view=True)
            except Exception as exc:
                raise IndexError_(
                    f"{self.folder}: the index is corrupted ({ANN}/{path.name}: {exc})"
                ) from None
            if graph is None:
                raise IndexError_(f"{self.folder}: the index is corrupted ({ANN}/{path.name} is missing)")
            self._graphs[key] = graph
        return graph

    @property
    def approximate_search(self) -> bool:
        return self.manifest.ann_shards > 0

    def search(
        self, layer: int, query: np.ndarray, k: int, *, word: str | None = None, same_word: bool | None = None
    ) -> list[dict[str, Any]]:
        """The ``k`` nearest tokens to ``query`` at ``layer``, best first, each with its sentence and word.

        ``same_word``: True keeps only tokens of ``word``, False only tokens of other words (case-insensitive).
        """
        self.check_layer(layer)
        unit = np.asarray(query, dtype=np.float32)
        unit = unit / max(float(np.linalg.norm(unit)), 1e-12)
        wanted = (word or "").lower()
        keep = None
        if same_word is not None:
            keep = (lambda words: words == wanted) if same_word else (lambda words: words != wanted)
        if not self.approximate_search:
            hits = self.exact(layer, unit, k, keep)
            located = self._locate([h.row for h in hits])
        else:
            fetch = k if keep is None else 4 * k
            while True:
                hits = self.approximate(layer, unit, fetch)
                located = self._locate([h.row for h in hits])
                if keep is not None:
                    words = np.array([located[h.row]["word"].lower() for h in hits], dtype=object)
                    mask = keep(words) if len(words) else np.zeros(0, dtype=bool)
                    kept = [h for h, m in zip(hits, mask, strict=True) if m]
                    if len(kept) < k and fetch < self.manifest.vectors and len(hits) == fetch:
                        fetch *= 4
                        continue
                    hits = kept
                break
            hits = hits[:k]
        return [{**located[h.row], "score": h.score} for h in hits]


def remove_unlisted(folder: Path, manifest: Manifest) -> None:
    """Chunk folders the manifest does not list (a chunk being written when the build stopped), and temp files."""
    listed = {c.name for c in manifest.chunks}
    chunks = folder / CHUNKS
    if chunks.is_dir():
        for entry in chunks.iterdir():
            if entry.name not in listed:
                shutil.rmtree(entry, ignore_errors=True)
    for entry in folder.glob(".*.tmp-*"):
        with contextlib.suppress(OSError):
            entry.unlink()


def iter_chunk_vectors(index: Index, layer: int) -> Iterator[tuple[int, np.ndarray]]:
    offset = 0
    for chunk in index.manifest.chunks:
        yield offset, index.vectors(chunk, layer)
        offset += chunk.vectors
