"""Reading a corpus for an index, one record at a time: :class:`mlm_tui.corpus_layers.reader.Corpus` (a text
file, JSON lines with a ``text`` field, Parquet / Arrow with a text column), read once, as records.

Every record is ``(line, text)`` with ``line`` 1-based (the file's line, or the table's row), or
``(line, None)`` with the reason it is skipped in :attr:`Record.problem` (empty, not text). Nothing is held
beyond one record (text, JSON) or one record batch (Parquet, Arrow). No torch, no Textual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..corpus_layers.reader import ARROW_SUFFIXES, JSON_SUFFIXES, PARQUET_SUFFIXES, Corpus
from ..inputs import InputError, Warn

TABLE_SUFFIXES = PARQUET_SUFFIXES + ARROW_SUFFIXES


@dataclass(frozen=True)
class Record:
    """One line of the corpus: its text, or why it is skipped (empty, not text)."""

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


def read_corpus(
    path: str | Path, *, text_column: str | None = None, warn: Warn | None = None
) -> Iterator[Record]:
    """Every record of the corpus at ``path``, in order; :class:`InputError` (one line) when it cannot be read.

    ``text_column``: the JSON field or table column; ``None``: ``text``, or a table's only string column."""
    with Corpus(path, warn=warn, text_column=text_column, replay=False) as corpus:
        for line in corpus.lines():
            yield Record(line.number, line.text, line.problem or "")


def count_records(path: str | Path) -> int | None:
    """How many records the corpus holds, cheaply, for a progress bar (``None`` for a stream)."""
    if str(path) == "-":
        return None
    try:
        with Corpus(path, replay=False) as corpus:
            return corpus.count()
    except InputError:
        return None
