"""``mlm-tui score --file``: pseudo-log-likelihood of every line of a corpus, streamed as JSON lines.

Output line n belongs to input line n: a scored sentence is the object ``score --json``
prints, a line that cannot be scored is ``{"line": n, "error": "..."}``. Masked copies
of consecutive sentences share forward passes (:meth:`MaskedLM.score_many`) within a
chunk of :func:`chunk_lines` lines, and nothing but one chunk is held in memory, whatever
the size of the file. With ``--ray`` the chunks run on Ray actors (:mod:`mlm_tui.distributed`)
and the output is the same, byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from .distributed import stream
from .engine import EngineError
from .inputs import TextInput, Warn, open_text

if TYPE_CHECKING:  # pragma: no cover
    from .distributed import Cluster, Work


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


PASSES_WORTH_SHOWING = 256
"""Masked rows in one group of lines above which the bar also shows the rows done (a long item)."""


@contextlib.contextmanager
def progress(
    total: int | None, label: str = "scoring", *, unit: str = "", rate: bool = False
) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr (done / total ``unit``, time left; with ``rate`` tokens/s), or nothing
    when stderr is not a terminal. Gives ``advance(done=1, tokens=0)``.

    The console follows ``sys.stderr``, so the bar still reaches the terminal while a Ray run
    points file descriptor 2 at Ray's log (see :mod:`mlm_tui.distributed`).
    """
    if not sys.stderr.isatty():
        yield lambda _done=1, _tokens=0: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .engine.batch import PASS_REPORTER

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(unit)] if unit else []
    columns += [TextColumn("{task.fields[rate]}")] if rate else []
    columns += [TimeRemainingColumn(), TextColumn("{task.fields[within]}")]
    started = time.perf_counter()
    tokens = 0
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total, within="", rate="")

        def passes(done: int, queued: int) -> None:
            # a group of lines that needs many forward passes (a long item) says how far it got
            many = queued > PASSES_WORTH_SHOWING
            bar.update(task, within=f"· {done:,}/{queued:,} masked rows" if many and done < queued else "")

        def advance(done: int = 1, new_tokens: int = 0) -> None:
            nonlocal tokens
            tokens += new_tokens
            speed = tokens / max(time.perf_counter() - started, 1e-9)
            bar.update(task, advance=done, rate=f"{speed:,.0f} tokens/s" if rate and tokens else "")

        token = PASS_REPORTER.set(passes)
        try:
            yield advance
        finally:
            PASS_REPORTER.reset(token)


def chunk_lines(batch_size: int) -> int:
    """Lines scored together: a few forward batches' worth, with or without Ray (so the batches are the same)."""
    return 4 * batch_size


def score_chunk(
    engine: Any,
    records: Sequence[tuple[int, str]],
    *,
    batch_size: int,
    variant: str = "original",
    max_item_tokens: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The output object of each ``(line_number, line)``, in order: what ``score --json`` prints, or an error.

    One call is one unit of work, the same with and without ``--ray`` (a Ray actor calls it
    on the same chunk), so that the sentences share the same forward batches either way. A line
    of more than ``max_item_tokens`` tokens (default: 4 model windows) is an error object.
    """
    from .engine.batch import encode_item, item_limit

    limit = item_limit(engine.info, max_item_tokens)

    def encodings() -> Iterator[Any]:
        for _, line in records:
            try:
                yield encode_item(engine, _text_of(line), limit)
            except EngineError as exc:
                yield exc

    results = engine.score_many(encodings(), batch_size=batch_size, variant=variant)
    for (number, _), result in zip(records, results, strict=True):
        if isinstance(result, EngineError):
            yield {"line": number, "error": str(result)}
        else:
            yield result.as_dict()


def score_file(
    engine: Any,
    path: str | TextInput,
    *,
    batch_size: int,
    out: IO[str] | None = None,
    ray: tuple[Work, Cluster] | None = None,
    variant: str = "original",
    max_item_tokens: int | None = None,
    warn: Warn | None = None,
) -> int:
    """Score every line of ``path`` (``-``: stdin, or a pipe) to ``out``; 0 when every line scored, else 1.

    ``ray``: the work and where to run it (:func:`mlm_tui.distributed.prepare`); ``engine`` is
    then unused. The output is the same, byte for byte. A file that is not text raises
    :class:`~mlm_tui.inputs.InputError`; ``warn`` is told when bytes that do not decode were replaced.
    """
    out = out or sys.stdout
    source = path if isinstance(path, TextInput) else open_text(path, warn=warn)  # stdin and files alike
    total = source.count() if sys.stderr.isatty() else None  # a regular file only: a stream is read once
    failed = 0
    lines = source.lines()
    records = enumerate(lines, start=1)
    size = chunk_lines(batch_size)
    with contextlib.closing(lines), source, progress(total) as advance:
        rows = stream(
            records,
            chunk=size,
            ray=ray,
            engine=engine,
            function=score_chunk,
            batch_size=batch_size,
            variant=variant,
            max_item_tokens=max_item_tokens,
        )
        with contextlib.closing(rows):  # on Ctrl+C, SIGTERM or an error, Ray's work stops here
            for row in rows:
                if "error" in row:
                    failed += 1
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()  # every finished line on disk, whatever ends the process
                advance()
    out.flush()
    return 1 if failed else 0
