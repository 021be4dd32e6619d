"""Building an index: a corpus read once, in chunks, each chunk written whole or not at all.

A chunk holds consecutive lines up to about :data:`CHUNK_TOKENS` tokens; only one chunk's vectors are
in memory, so memory stays flat whatever the corpus size. Each chunk is written to a temporary folder,
renamed into ``chunks/`` and then listed in the manifest (replaced atomically), so Ctrl+C, SIGTERM, a
full disk or a crash leave an index of the chunks listed, which search can use, and which a second run
of the same command continues from the line after the last chunk. No Textual.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.errors import EngineError
from ..inputs import Warn
from .corpus import Record, count_records, read_corpus
from .encoder import StatesReader
from .store import (
    ANN,
    ANN_SHARD,
    CHUNKS,
    EXACT_LIMIT,
    Chunk,
    Index,
    IndexError_,
    Manifest,
    ann_file,
    decode_vectors,
    encode_vectors,
    layer_file,
    read_manifest,
    remove_unlisted,
    save_manifest,
)

CHUNK_TOKENS = 4096
"""Tokens a chunk holds (about): at 4 layers of 768 float16 values, 25 MB of vectors in memory."""
DTYPES = ("f16", "i8")


def write_file(path: Path, data: bytes) -> None:
    """Every file of a chunk is written here (a test makes it fail as a full disk would)."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def model_revision(path: str) -> str | None:
    """The Hub revision (commit) of a model read from the Hugging Face cache (``…/snapshots/<hash>``)."""
    parts = Path(path).parts
    if "snapshots" in parts[:-1]:
        return parts[parts.index("snapshots") + 1]
    return None


@dataclass
class _Pending:
    """The chunk being filled: its lines, their encodings and token rows."""

    lines: list[tuple[int, str]] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)
    """The ids of each window read (a line longer than the model reads is several windows)."""
    places: list[list[tuple[int, int]]] = field(default_factory=list)
    """For each window: (index in ``rows``' window, position in the line's encoding) of each token kept."""
    tokens: dict[str, list[Any]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    last: int = 0
    count: int = 0


def _word_spans(encoding: Any) -> dict[int, tuple[int, int]]:
    spans: dict[int, tuple[int, int]] = {}
    for t in encoding.tokens:
        if t.special or t.word is None:
            continue
        lo, hi = spans.get(t.word, (t.start, t.end))
        spans[t.word] = (min(lo, t.start), max(hi, t.end))
    return spans


def _windows(encoding: Any, limit: int) -> list[tuple[list[int], list[int]]]:
    """The windows the model reads a line in: (ids, the line position of each id). One window when it fits;
    else consecutive stretches of the body, each with the special tokens of both ends."""
    ids = list(encoding.ids)
    if len(ids) <= limit:
        return [(ids, list(range(len(ids))))]
    specials = [t.special for t in encoding.tokens]
    head = next(i for i, s in enumerate(specials) if not s)
    tail = len(ids) - next(i for i, s in enumerate(reversed(specials)) if not s)
    width = limit - head - (len(ids) - tail)
    out = []
    for start in range(head, tail, width):
        stop = min(start + width, tail)
        where = list(range(head)) + list(range(start, stop)) + list(range(tail, len(ids)))
        out.append(([ids[i] for i in where], where))
    return out


class Builder:
    """Builds (or continues) the index at ``out`` from ``corpus`` with ``engine``."""

    def __init__(
        self,
        engine: Any,
        corpus: str,
        out: str | Path,
        layers: list[int],
        *,
        dtype: str = "f16",
        batch_size: int = 16,
        chunk_tokens: int = CHUNK_TOKENS,
        text_column: str | None = None,
        exact_limit: int = EXACT_LIMIT,
        warn: Warn | None = None,
    ) -> None:
        if dtype not in DTYPES:
            raise EngineError(f"--dtype {dtype}: choose f16 or i8")
        self.engine = engine
        self.corpus = corpus
        self.folder = Path(out)
        self.layers = sorted(set(layers))
        self.dtype = dtype
        self.reader = StatesReader(engine, batch_size=batch_size)
        self.chunk_tokens = chunk_tokens
        self.text_column = text_column
        self.exact_limit = exact_limit
        self.warn = warn or (lambda _m: None)
        from ..engine.batch import item_limit

        self.item_limit = item_limit(engine.info)

    # ------------------------------------------------------------------ the manifest

    def _shape(self) -> tuple[int, int]:
        """(layers the model has, not counting the embeddings; hidden size), from one short row."""
        text = self.engine.text
        ids = list(self.engine.encode("a").ids)
        states = self.reader.read([ids])[0]
        del text
        return states.shape[0] - 1, states.shape[2]

    def open(self) -> Manifest:
        """The manifest to continue, or a new one; :class:`IndexError_` when ``out`` holds something else."""
        info = self.engine.info
        if (self.folder / "manifest.json").exists():
            manifest = read_manifest(self.folder)
            if manifest.vocab_digest != info.vocab_digest or manifest.model != info.name:
                raise IndexError_(
                    f"{self.folder} holds an index of {manifest.model}, not {info.name}: "
                    "continue it with --model " + manifest.model + " or choose another --out"
                )
            if manifest.layers != self.layers or manifest.dtype != self.dtype:
                raise IndexError_(
                    f"{self.folder} holds an index of layers {','.join(map(str, manifest.layers))} in "
                    f"{manifest.dtype}; continue it with the same --layers and --dtype, or choose another --out"
                )
            if os.path.abspath(manifest.corpus) != os.path.abspath(self.corpus):
                raise IndexError_(
                    f"{self.folder} holds an index of {manifest.corpus}, not {self.corpus}; choose another --out"
                )
            remove_unlisted(self.folder, manifest)
            return manifest
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise IndexError_(f"{self.folder} exists and is not an index; choose another --out")
        if self.corpus != "-":  # a file that cannot be read (no such column...) fails before anything is made
            next(read_corpus(self.corpus, text_column=self.text_column), None)
        depth, width = self._shape()
        for layer in self.layers:
            if not 0 <= layer <= depth:
                raise EngineError(f"--layers {layer}: {info.name} has layers 0 to {depth} (0 = embeddings)")
        self.folder.mkdir(parents=True, exist_ok=True)
        manifest = Manifest(
            model=info.name,
            model_path=info.path,
            vocab_digest=info.vocab_digest,
            revision=model_revision(info.path),
            layers=self.layers,
            model_layers=depth,
            hidden_size=width,
            dtype=self.dtype,
            corpus=os.path.abspath(self.corpus) if self.corpus != "-" else "-",
            text_column=self.text_column or "",
        )
        save_manifest(self.folder, manifest)
        return manifest

    # ------------------------------------------------------------------ building

    def run(self, on_tokens: Callable[[int, int], None] | None = None) -> Manifest:
        """Read the corpus from where the manifest stops; ``on_tokens(lines, tokens)`` after each chunk."""
        manifest = self.open()
        advance = on_tokens or (lambda _l, _t: None)
        if not manifest.complete:
            start = manifest.lines_read
            if start:
                advance(start, 0)
            pending = _Pending()
            for record in read_corpus(self.corpus, text_column=self.text_column, warn=self.warn):
                if record.line <= start:
                    continue
                self._add(pending, record)
                if pending.count >= self.chunk_tokens:
                    self._commit(manifest, pending)
                    advance(len(pending.lines) + sum(pending.skipped.values()), pending.count)
                    pending = _Pending()
            if pending.lines or pending.skipped:
                self._commit(manifest, pending)
                advance(len(pending.lines) + sum(pending.skipped.values()), pending.count)
            self._build_ann(manifest)
            manifest.complete = True
            save_manifest(self.folder, manifest)
        return manifest

    def _add(self, pending: _Pending, record: Record) -> None:
        from ..engine.batch import encode_item

        pending.last = record.line
        if record.text is None:
            pending.skipped[record.problem] = pending.skipped.get(record.problem, 0) + 1
            return
        try:
            encoding = encode_item(self.engine, record.text, self.item_limit)
        except EngineError:
            pending.skipped["too long"] = pending.skipped.get("too long", 0) + 1
            return
        kept = [t for t in encoding.tokens if not t.special]
        if not kept:
            pending.skipped["no tokens"] = pending.skipped.get("no tokens", 0) + 1
            return
        pending.lines.append((record.line, record.text))
        spans = _word_spans(encoding)
        columns = pending.tokens
        for name in ("line", "position", "start", "end", "token_str", "word"):
            columns.setdefault(name, [])
        for ids, where in _windows(encoding, self.engine.info.max_length):
            places = [(i, p) for i, p in enumerate(where) if not encoding.tokens[p].special]
            pending.rows.append(ids)
            pending.places.append(places)
            for _i, p in places:
                token = encoding.tokens[p]
                lo, hi = spans.get(token.word, (token.start, token.end)) if token.word is not None else (0, 0)
                columns["line"].append(record.line)
                columns["position"].append(p)
                columns["start"].append(token.start)
                columns["end"].append(token.end)
                columns["token_str"].append(token.text)
                columns["word"].append(record.text[lo:hi])
        pending.count = len(columns["line"])

    def _vectors(self, pending: _Pending) -> dict[int, np.ndarray]:
        states = self.reader.read(pending.rows)
        out: dict[int, np.ndarray] = {}
        for layer in self.layers:
            parts = [
                s[layer, [i for i, _p in places], :] for s, places in zip(states, pending.places, strict=True)
            ]
            block = np.concatenate(parts) if parts else np.zeros((0, 1), dtype=np.float32)
            norms = np.linalg.norm(block, axis=1, keepdims=True)
            out[layer] = encode_vectors(block / np.where(norms > 0, norms, 1.0), self.dtype)
        return out

    def _commit(self, manifest: Manifest, pending: _Pending) -> None:
        name = f"{len(manifest.chunks):05d}"
        try:
            chunk = self.write_chunk(name, manifest.vectors, pending, tmp_suffix=str(os.getpid()))
        except OSError as exc:
            raise IndexError_(self._stopped(manifest, exc)) from None
        self.list_chunk(manifest, chunk, pending.skipped)

    def write_chunk(self, name: str, first_row: int, pending: _Pending, *, tmp_suffix: str) -> Chunk:
        """The chunk's files in ``chunks/<name>`` (a temporary folder renamed into place); its manifest entry.

        ``first_row``: the global row of its first token (the vectors of the chunks before it).
        A folder ``chunks/<name>`` already there (a task run again on Ray) is replaced; raises
        :class:`OSError` (nothing left behind) when the files cannot be written.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        chunks = self.folder / CHUNKS
        chunks.mkdir(exist_ok=True)
        tmp = chunks / f".{name}.tmp-{tmp_suffix}"
        vectors = self._vectors(pending) if pending.rows else {}
        files: dict[str, bytes] = {}
        if pending.lines:
            lines, texts = zip(*pending.lines, strict=True)
            files["sentences.parquet"] = _parquet(pa.table({"line": list(lines), "text": list(texts)}), pq)
            table = {"row": list(range(first_row, first_row + pending.count)), **pending.tokens}
            files["tokens.parquet"] = _parquet(pa.table(table), pq)
            for layer, block in vectors.items():
                buffer = io.BytesIO()
                np.save(buffer, block)
                files[layer_file(layer)] = buffer.getvalue()
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir()
            for file_name, data in files.items():
                write_file(tmp / file_name, data)
            if (chunks / name).exists():
                shutil.rmtree(chunks / name)
            os.replace(tmp, chunks / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Chunk(
            name=name,
            first=pending.lines[0][0] if pending.lines else pending.last,
            last=pending.last,
            vectors=pending.count,
            sizes={n: len(d) for n, d in files.items()},
        )

    def list_chunk(self, manifest: Manifest, chunk: Chunk, skipped: dict[str, int]) -> None:
        """``chunk`` (written) added to the manifest, which is saved; :class:`IndexError_` when it cannot be."""
        before = (manifest.lines_read, dict(manifest.skipped))
        manifest.chunks.append(chunk)
        manifest.lines_read = chunk.last
        for reason, n in skipped.items():
            manifest.skipped[reason] = manifest.skipped.get(reason, 0) + n
        try:
            save_manifest(self.folder, manifest)
        except OSError as exc:
            manifest.chunks.pop()
            manifest.lines_read, manifest.skipped = before
            shutil.rmtree(self.folder / CHUNKS / chunk.name, ignore_errors=True)
            raise IndexError_(self._stopped(manifest, exc)) from None

    def _stopped(self, manifest: Manifest, exc: OSError) -> str:
        what = "the disk is full" if exc.errno == errno.ENOSPC else f"cannot write ({exc.strerror or exc})"
        return (
            f"{what} while writing {self.folder}: the index holds lines 1 to {manifest.lines_read:,} "
            f"({manifest.vectors:,} tokens); free some space and run the same command again to continue"
        )

    def _build_ann(self, manifest: Manifest) -> None:
        """HNSW shards of each layer (usearch) when there are more vectors than exact search answers fast."""
        if manifest.vectors <= self.exact_limit:
            manifest.ann_shards = 0
            return
        from usearch.index import Index as UIndex

        index = Index(self.folder, check=False)
        folder = self.folder / ANN
        folder.mkdir(exist_ok=True)
        shards = 0
        for layer in self.layers:
            shard, graph, filled = 0, None, 0
            offset = 0
            for chunk in manifest.chunks:
                block = index.vectors(chunk, layer)
                start = 0
                while start < len(block):
                    if graph is None:
                        graph = UIndex(ndim=manifest.hidden_size, metric="cos", dtype=self.dtype)
                    take = min(len(block) - start, ANN_SHARD - filled)
                    keys = np.arange(offset + start, offset + start + take, dtype=np.uint64)
                    graph.add(keys, decode_vectors(np.asarray(block[start : start + take])))
                    filled += take
                    start += take
                    if filled == ANN_SHARD:
                        self._save_graph(graph, folder / ann_file(layer, shard), manifest)
                        shard, graph, filled = shard + 1, None, 0
                offset += chunk.vectors
            if graph is not None:
                self._save_graph(graph, folder / ann_file(layer, shard), manifest)
                shard += 1
            shards = shard
        manifest.ann_shards = shards

    def _save_graph(self, graph: Any, path: Path, manifest: Manifest) -> None:
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            graph.save(str(tmp))
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise IndexError_(self._stopped(manifest, exc)) from None
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def _parquet(table: Any, pq: Any) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def build_index(
    engine: Any,
    corpus: str,
    out: str | Path,
    layers: list[int],
    *,
    show_progress: bool = True,
    ray: tuple[Any, Any] | None = None,
    **options: Any,
) -> Manifest:
    """Build, or continue, the index of ``corpus`` at ``out``; the manifest when done.

    ``options``: :class:`Builder`'s (``dtype``, ``batch_size``, ``chunk_tokens``, ``text_column``,
    ``exact_limit``, ``warn``). ``show_progress``: a bar on a terminal's stderr (lines, tokens/s, time left).
    ``ray``: ``(work, cluster)`` (:func:`mlm_tui.distributed.prepare` with :func:`.ray.index_chunk`) to
    write the chunks on Ray actors (:func:`.ray.build_on_ray`).
    """
    from ..corpus import progress

    builder = Builder(engine, corpus, out, layers, **options)
    total = count_records(corpus) if show_progress and sys.stderr.isatty() else None
    bar = progress(total, "indexing", unit="lines", rate=True) if show_progress else None
    with bar or contextlib.nullcontext(lambda _l=1, _t=0: None) as advance:
        if ray is not None:
            from .ray import build_on_ray

            return build_on_ray(builder, *ray, advance)
        return builder.run(advance)
