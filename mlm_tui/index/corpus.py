"""Reading a corpus one record at a time: a text file (one sentence or paragraph a line), JSON lines with a
``text`` field, or Parquet / Arrow files with a text column (the forms datasets come in).

Every reader yields ``(line, text)`` with ``line`` 1-based (the file's line, or the table's row), or
``(line, None)`` with the reason the record is skipped in :attr:`Record.problem`. Nothing is held beyond
one record (text, JSON) or one record batch (Parquet, Arrow). No torch, no Textual.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..inputs import InputError, Warn, open_text

TABLE_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather", ".ipc")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class Record:
    """One line of the corpus: its text, or why it is skipped (empty, not text, no ``text`` field)."""

    line: int
    text: str | None
    problem: str = ""


def corpus_format(path: str | Path, text_column: str = "text") -> str:
    """``"table"``, ``"jsonl"`` or ``"text"``, from the file name (``-``, stdin, is text or JSON lines)."""
    suffix = Path(str(path)).suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix in JSON_SUFFIXES:
        return "jsonl"
    return "text"


def read_corpus(path: str | Path, *, text_column: str = "text", warn: Warn | None = None) -> Iterator[Record]:
    """Every record of the corpus at ``path``, in order; :class:`InputError` (one line) when it cannot be read."""
    kind = corpus_format(path)
    if kind == "table":
        yield from _table_records(Path(path), text_column)
        return
    source = open_text(str(path), warn=warn)
    with source:
        for number, line in enumerate(source.lines(), start=1):
            yield _line_record(number, line, json_lines=kind == "jsonl", field=text_column)


def count_records(path: str | Path) -> int | None:
    """How many records the corpus holds, cheaply, for a progress bar (``None`` for a stream)."""
    if str(path) == "-":
        return None
    if corpus_format(path) == "table":
        try:
            return sum(batch_rows for batch_rows in _table_sizes(Path(path)))
        except Exception:
            return None
    try:
        return open_text(str(path)).count()
    except InputError:
        return None


def _line_record(number: int, line: str, *, json_lines: bool, field: str) -> Record:
    stripped = line.strip()
    if json_lines:
        try:
            value = json.loads(stripped) if stripped else None
        except json.JSONDecodeError as exc:
            return Record(number, None, f"bad JSON ({exc.msg})")
        text = value.get(field) if isinstance(value, dict) else None
        if value is None:
            return Record(number, None, "empty")
        if not isinstance(text, str):
            return Record(number, None, f"no {field!r} string")
        stripped = text.strip()
    if not stripped:
        return Record(number, None, "empty")
    return Record(number, stripped)


def _open_table(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return "parquet", pq.ParquetFile(path)
        try:
            return "ipc", pa.ipc.open_file(path)
        except pa.ArrowInvalid:
            return "stream", pa.ipc.open_stream(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: cannot be read as a table ({str(exc).splitlines()[0]})") from None


def _table_sizes(path: Path) -> Iterator[int]:
    kind, table = _open_table(path)
    if kind == "parquet":
        yield table.metadata.num_rows
    elif kind == "ipc":
        for i in range(table.num_record_batches):
            yield table.get_batch(i).num_rows
    else:
        for batch in table:
            yield batch.num_rows


def _table_records(path: Path, column: str) -> Iterator[Record]:
    kind, table = _open_table(path)
    names = table.schema_arrow.names if kind == "parquet" else table.schema.names
    if column not in names:
        raise InputError(
            f"{path}: no column {column!r} (it has {', '.join(names)}); choose one with --text-column"
        )
    if kind == "parquet":
        batches = table.iter_batches(batch_size=1024, columns=[column])
    elif kind == "ipc":
        batches = (table.get_batch(i) for i in range(table.num_record_batches))
    else:
        batches = iter(table)
    number = 0
    for batch in batches:
        for value in batch.column(column).to_pylist():
            number += 1
            if not isinstance(value, str):
                yield Record(number, None, "not text" if value is not None else "empty")
            elif not value.strip():
                yield Record(number, None, "empty")
            else:
                yield Record(number, value.strip())
