"""``mlm-tui index --ray``: the chunks of an index built on Ray Data actors, the index the same as without Ray.

The shards are the chunk folders. The driver reads the corpus after the manifest's ``lines_read`` and
cuts it into chunks exactly as the build without Ray does (it tokenizes each line with the same
code, :meth:`.build.Builder._add`, to count its tokens), names each chunk (``00000``, ``00001``, …)
and knows its first global row. Each chunk is one task of :func:`mlm_tui.distributed.run_parts`
(the machinery of ``score --file --ray``: a spool, one engine per actor, results in input order,
line numbers checked). The actor runs :func:`index_chunk`: the same ``_add``, the same forward
batches (:class:`.encoder.StatesReader` on the chunk's rows) and the same writer
(:meth:`.build.Builder.write_chunk`) as without Ray, into ``DIR/chunks/<name>`` itself, through a
temporary folder named after the chunk (a task run again replaces it, never a second copy). It
returns the chunk's manifest entry; the driver checks it against its plan and the files on disk,
lists it in the manifest (saved atomically after each chunk, in input order), so ``Index(DIR)``
reads the chunks where the actors wrote them: no merge step. After the last chunk the driver
builds the HNSW graphs as the build without Ray does.

A killed actor: Ray replaces it and runs its chunk again, which rewrites the same folder; a chunk
delivered twice is dropped by :func:`mlm_tui.distributed.in_order`. A build stopped at any moment
lists the chunks that came back in order; a rerun (with or without ``--ray``) removes the folders
not listed and continues after ``lines_read``. ``DIR`` must be a folder every node can write (on one
machine, any folder).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..engine.errors import EngineError
from .build import Builder, _Pending
from .corpus import Record, read_corpus
from .store import CHUNKS, MANIFEST, Chunk, IndexError_, Manifest, remove_unlisted, save_manifest

TMP_SUFFIX = "ray"
"""A chunk's temporary folder on Ray: ``chunks/.<name>.tmp-ray``, the same for every try of its task."""

_BUILDERS: dict[tuple[Any, ...], Builder] = {}


def _builder(engine: Any, folder: str, layers: list[int], dtype: str, batch_size: int) -> Builder:
    """The actor's builder for this index (one engine per actor: made on its first chunk, then kept)."""
    key = (id(engine), folder, tuple(layers), dtype, batch_size)
    if key not in _BUILDERS:
        _BUILDERS.clear()
        _BUILDERS[key] = Builder(engine, "", folder, layers, dtype=dtype, batch_size=batch_size)
    return _BUILDERS[key]


def index_chunk(
    engine: Any, records: list[list[Any]], *, folder: str, layers: list[int], dtype: str, batch_size: int
) -> list[dict[str, Any]]:
    """On an actor: write the chunk ``records`` make (see :func:`build_on_ray`); one value per record.

    Each value holds the tokens its line added; the last one also the chunk's manifest entry
    (``chunk``) and the lines it skipped, by reason (``skipped``).
    """
    if not (Path(folder) / MANIFEST).is_file():
        raise EngineError(
            f"{folder} cannot be seen from the Ray worker on {socket.gethostname()}: "
            "--out must be a folder every node of the cluster shares"
        )
    builder = _builder(engine, folder, layers, dtype, batch_size)
    head = records[0][1]
    pending = _Pending()
    values = []
    for line, item in records:
        before = pending.count
        builder._add(pending, Record(int(line), item.get("text"), item.get("problem", "")))
        values.append({"tokens": pending.count - before})
    try:
        chunk = builder.write_chunk(head["chunk"], int(head["row"]), pending, tmp_suffix=TMP_SUFFIX)
    except OSError as exc:
        what = "the disk is full" if exc.errno == errno.ENOSPC else f"cannot write ({exc.strerror or exc})"
        raise EngineError(f"{what} in {folder}/{CHUNKS}/{head['chunk']} on {socket.gethostname()}") from None
    values[-1].update(chunk=dataclasses.asdict(chunk), skipped=pending.skipped)
    return values


@dataclasses.dataclass(frozen=True)
class _Planned:
    name: str
    row: int
    tokens: int


def build_on_ray(
    builder: Builder, work: Any, cluster: Any, advance: Callable[[int, int], None] | None = None
) -> Manifest:
    """Build, or continue, ``builder``'s index on Ray; the manifest when done.

    ``work``: :func:`mlm_tui.distributed.prepare`'s, for :func:`index_chunk` (or a function that
    wraps it); the index's own parameters are added here. ``advance(lines, tokens)`` after each
    chunk listed, as the build without Ray calls it.
    """
    from ..distributed import run_parts

    manifest = builder.open()
    advance = advance or (lambda _l, _t: None)
    if manifest.complete:
        return manifest
    if manifest.lines_read:
        advance(manifest.lines_read, 0)
    folder = builder.folder.resolve()
    params = {"folder": str(folder), "layers": builder.layers, "dtype": builder.dtype}
    work = dataclasses.replace(
        work, params={**work.params, **params, "batch_size": builder.reader.batch_size}
    )
    planned: list[_Planned] = []
    first = len(manifest.chunks)
    try:
        results = run_parts(work, _plan(builder, manifest, planned), cluster=cluster)
        with contextlib.closing(results):
            lines = tokens = 0
            for _line, value in results:
                lines += 1
                tokens += int(value["tokens"])
                if "chunk" not in value:
                    continue
                chunk = Chunk(**value["chunk"])
                _check(folder, chunk, planned[len(manifest.chunks) - first], tokens)
                builder.list_chunk(manifest, chunk, value["skipped"])
                advance(lines, tokens)
                lines = tokens = 0
    except IndexError_:
        raise
    except EngineError as exc:
        if not manifest.lines_read:
            raise
        raise IndexError_(
            f"{exc}; {builder.folder} holds lines 1 to {manifest.lines_read:,} ({manifest.vectors:,} tokens): "
            "run the same command again to continue"
        ) from None
    builder._build_ann(manifest)
    manifest.complete = True
    save_manifest(builder.folder, manifest)
    remove_unlisted(builder.folder, manifest)  # the temporary folder of a task that died, if any
    return manifest


def _plan(builder: Builder, manifest: Manifest, planned: list[_Planned]) -> Iterator[list[Any]]:
    """The records after ``lines_read``, cut into the chunks the build without Ray makes; ``planned`` filled."""
    row = manifest.vectors
    part: list[Any] = []
    pending = _Pending()

    def cut() -> list[Any]:
        nonlocal row, part, pending
        name = f"{len(manifest.chunks) + len(planned):05d}"
        planned.append(_Planned(name, row, pending.count))
        part[0][1].update(chunk=name, row=row)
        row += pending.count
        done, part, pending = part, [], _Pending()
        return done

    start = manifest.lines_read
    for record in read_corpus(builder.corpus, text_column=builder.text_column, warn=builder.warn):
        if record.line <= start:
            continue
        builder._add(pending, record)
        item = {"text": record.text} if record.text is not None else {"problem": record.problem}
        part.append([record.line, item])
        if pending.count >= builder.chunk_tokens:
            yield cut()
    if part:
        yield cut()


def _check(folder: Path, chunk: Chunk, planned: _Planned, tokens: int) -> None:
    """The chunk an actor wrote is the one planned, and its files on disk have the sizes it reported."""
    if (chunk.name, chunk.vectors, tokens) != (planned.name, planned.tokens, planned.tokens):
        raise EngineError(
            f"a Ray worker wrote chunk {chunk.name} with {chunk.vectors:,} tokens where {planned.name} with "
            f"{planned.tokens:,} was planned: is the model at the same path the same on every node?"
        )
    for name, size in chunk.sizes.items():
        path = folder / CHUNKS / chunk.name / name
        try:
            actual = path.stat().st_size
        except OSError:
            actual = -1
        if actual != size:
            raise EngineError(
                f"{path} is not what the Ray worker wrote (it is not there, or has another size): "
                "--out must be a folder every node of the cluster shares"
            )
