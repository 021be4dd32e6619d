"""``mlm-tui score --file``: pseudo-log-likelihood of every line of a corpus, streamed as JSON lines.

Output line n belongs to input line n: a scored sentence is the object ``score --json``
prints, a line that cannot be scored is ``{"line": n, "error": "..."}``. Masked copies
of consecutive sentences share forward passes (:meth:`MaskedLM.score_many`), and
nothing but one batch is held in memory, whatever the size of the file.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from .engine import EngineError


def _text_of(line: str) -> str:
    """The sentence on one input line: the line itself, or the ``text`` field of a JSON object."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise EngineError(f"bad JSON: {exc.msg} at column {exc.colno}") from None
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise EngineError("the JSON object has no 'text' string")
        stripped = text.strip()
    if not stripped:
        raise EngineError("blank line")
    return stripped


def _encodings(engine: Any, lines: IO[str]) -> Iterator[Any]:
    for line in lines:
        try:
            yield engine.encode(_text_of(line))
        except EngineError as exc:
            yield exc


def _count_lines(path: str) -> int | None:
    """The progress bar's total: one quick pass over a file, skipped for stdin and when no bar is shown."""
    if path == "-" or not sys.stderr.isatty():
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        return sum(1 for _ in handle)


@contextlib.contextmanager
def _progress(total: int | None) -> Iterator[Any]:
    """A rich progress bar on stderr, or nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda: bar.advance(task)


def score_file(
    engine: Any, path: str, *, batch_size: int, out: IO[str] | None = None, variant: str = "original"
) -> int:
    """Score every line of ``path`` (``-``: stdin) to ``out``; 0 when every line scored, else 1."""
    out = out or sys.stdout
    try:
        total = _count_lines(path)
        source = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        raise EngineError(f"cannot read {path}: {exc.strerror or exc}") from None
    failed = 0
    with source, _progress(total) as advance:
        results = engine.score_many(_encodings(engine, source), batch_size=batch_size, variant=variant)
        for number, result in enumerate(results, start=1):
            if isinstance(result, EngineError):
                failed += 1
                row: dict[str, object] = {"line": number, "error": str(result)}
            else:
                row = result.as_dict()
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            advance()
    out.flush()
    return 1 if failed else 0
