"""Reading a corpus the forms datasets come in: a text file (one sentence or paragraph a line), JSON
lines with a ``text`` field, or Parquet / Arrow files with a text column.

Each pass (:meth:`Corpus.lines`) streams the input from its start, so a corpus is read twice
(count, then run) without holding it: text through :func:`mlm_tui.inputs.open_text` (a stream is
copied once so that it can be read again, a line longer than ``MAX_LINE`` is cut), Parquet a row
group batch at a time, Arrow memory-mapped. A line that cannot be a sentence comes out with its
problem (``"empty"`` or ``"not text"``) so that the caller counts it and goes on.
No Textual, no torch; pyarrow (a dependency) only for Parquet/Arrow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..inputs import InputError, Warn, open_text

JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
ARROW_SUFFIXES = (".arrow", ".feather", ".ipc")
TEXT_COLUMN = "text"
BATCH_ROWS = 1024
"""Rows of a Parquet/Arrow file read at a time."""

EMPTY = "empty"
NOT_TEXT = "not text"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters that no sentence holds (C0 controls but tab and line ends, and DEL): a line with one is
binary junk, not text."""


@dataclass(frozen=True)
class Line:
    """One item of a corpus: its text, or why it is not a sentence."""

    number: int
    """1-based line of a text/JSONL file, or 1-based row of a Parquet/Arrow file."""
    text: str | None
    problem: str | None = None
    """``None`` for a sentence; else ``"empty"`` or ``"not text"``."""


def _line(number: int, value: object) -> Line:
    if not isinstance(value, str):
        return Line(number, None, NOT_TEXT)
    text = value.strip()
    if not text:
        return Line(number, None, EMPTY)
    if _CONTROL.search(text):
        return Line(number, None, NOT_TEXT)
    return Line(number, text)


class Corpus:
    """A corpus file, read again from its start by each :meth:`lines`."""

    def __init__(
        self,
        path: str | Path,
        *,
        warn: Warn | None = None,
        text_column: str | None = None,
        replay: bool = True,
    ) -> None:
        """``text_column``: the JSON field or table column; ``None``: ``text``, or a table's only string
        column. ``replay=False``: a stream (stdin) is read once only (nothing is copied)."""
        self.path = str(path)
        self.field = text_column or TEXT_COLUMN
        self.name = "stdin" if self.path == "-" else self.path
        if self.path != "-" and Path(self.path).is_dir():
            raise InputError(f"{self.name} is a folder; give a text, JSONL or Parquet/Arrow file")
        suffix = Path(self.path).suffix.lower()
        self.kind = (
            "parquet"
            if suffix in PARQUET_SUFFIXES
            else "arrow"
            if suffix in ARROW_SUFFIXES
            else "jsonl"
            if suffix in JSON_SUFFIXES
            else "text"
        )
        self._text = None
        if self.kind in ("parquet", "arrow"):
            self._column = _text_column(self._arrow_schema(), text_column)
        else:
            self._text = open_text(self.path, replay=replay, warn=warn)

    def lines(self) -> Iterator[Line]:
        """Every item from the first, numbered from 1."""
        if self._text is not None:
            for number, raw in enumerate(self._text.lines(), 1):
                yield self._parse(number, raw)
            return
        number = 0
        for batch in self._batches():
            for value in batch.column(self._column).to_pylist():
                number += 1
                yield _line(number, value)

    def _parse(self, number: int, raw: str) -> Line:
        if self.kind != "jsonl":
            return _line(number, raw)
        if not raw.strip():
            return Line(number, None, EMPTY)
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            return Line(number, None, NOT_TEXT)
        return _line(number, record.get(self.field) if isinstance(record, dict) else None)

    def count(self) -> int | None:
        """How many items there are, cheaply (for a progress bar); ``None`` for a stream."""
        if self._text is not None:
            return self._text.count()
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return sum(batch.num_rows for batch in self._batches())

    def close(self) -> None:
        if self._text is not None:
            self._text.close()

    def __enter__(self) -> Corpus:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- Parquet / Arrow

    def _arrow_schema(self) -> Any:
        pa = _pyarrow()
        try:
            if self.kind == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).schema_arrow
            with self._arrow_reader() as reader:
                return reader.schema
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read {self.name} as {self.kind.capitalize()}: {exc}") from None

    def _arrow_reader(self) -> Any:
        """An Arrow IPC file reader, or a stream reader (the form the datasets library caches)."""
        import pyarrow as pa

        source = pa.memory_map(self.path)
        try:
            return _Batches(pa.ipc.open_file(source))
        except pa.ArrowInvalid:
            source.seek(0)
            return _Batches(pa.ipc.open_stream(source))

    def _batches(self) -> Iterator[Any]:
        pa = _pyarrow()
        try:
            if self.kind == "parquet":
                import pyarrow.parquet as pq

                yield from pq.ParquetFile(self.path).iter_batches(
                    batch_size=BATCH_ROWS, columns=[self._column]
                )
                return
            with self._arrow_reader() as reader:
                yield from reader
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read {self.name}: {exc}") from None


class _Batches:
    """The record batches of an Arrow IPC file or stream, as one iterable."""

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.schema = reader.schema

    def __iter__(self) -> Iterator[Any]:
        if hasattr(self.reader, "num_record_batches"):  # a file: batch by batch, memory-mapped
            for index in range(self.reader.num_record_batches):
                yield self.reader.get_batch(index)
        else:
            yield from self.reader

    def __enter__(self) -> _Batches:
        return self

    def __exit__(self, *_exc: object) -> None:
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise InputError("reading Parquet or Arrow files needs pyarrow: pip install pyarrow") from None
    return pyarrow


def _text_column(schema: Any, wanted: str | None = None) -> str:
    """``wanted`` when given (else one line naming the columns); ``text`` when the file has it, else its only
    string column; else one line naming the columns."""
    import pyarrow as pa

    if wanted is not None:
        if wanted in schema.names:
            return wanted
        raise InputError(
            f"no column {wanted!r} (it has {', '.join(schema.names) or 'no columns'}); choose one with --text-column"
        )
    strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if TEXT_COLUMN in schema.names:
        return TEXT_COLUMN
    if len(strings) == 1:
        return strings[0]
    raise InputError(
        f"no column named {TEXT_COLUMN!r}"
        + (f" and several string columns ({', '.join(strings)})" if strings else " and no string column")
        + f"; the file has: {', '.join(schema.names) or 'no columns'}"
    )
