"""What ``probe`` and ``pairs`` share: output options, the run over one or several models, the outputs."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

from ..corpus import chunk_lines, progress
from ..distributed import BatchFunction, prepare, stream
from ..inputs import TextInput
from ..probes import report
from ..probes.formats import BadItem, FormatError, Item, item_to_dict
from ..probes.metrics import BOOTSTRAP
from ..probes.run import Tally
from ..probes.sets import count_items
from ..probes.significance import PAIRED_BOOTSTRAP, Outcome, comparisons, outcome
from .common import PROG, _load, _report, _top_k, engine_options, ray_cluster


def add_output_options(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    exclusive = out.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--json",
        action="store_true",
        help="one JSON document: models, format, summary, items (with --compare: comparisons, disagreements)",
    )
    exclusive.add_argument(
        "--jsonl",
        action="store_true",
        help="one JSON object per item, in input order, streamed (a bad item is {'line', 'error'}); no summary",
    )
    exclusive.add_argument("--markdown", action="store_true", help="the summary tables in Markdown")
    exclusive.add_argument(
        "--table", action="store_true", help="the readable summary table (the default when not on a terminal)"
    )
    out.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP,
        metavar="N",
        help=f"bootstrap resamples for the summaries' 95%% intervals (default {BOOTSTRAP}, seeded; 0: none, "
        f"and no interval for the --compare differences either, which draw {PAIRED_BOOTSTRAP:,})",
    )
    out.add_argument(
        "--compare",
        nargs="+",
        action="extend",
        default=None,
        metavar="B",
        help="also run model B (and C …: several, or the flag again) on every item: a leaderboard, one "
        "column per model, and for each pair McNemar's exact test and a paired bootstrap of the difference",
    )
    out.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where x writes the results screen's JSON and Markdown (default: user data dir)",
    )
    out.add_argument(
        "--batch-size", type=_top_k, default=64, metavar="N", help="rows per forward pass (default 64)"
    )
    out.add_argument(
        "--max-tokens",
        type=_top_k,
        default=16384,
        metavar="N",
        help="tokens per forward pass (rows × length; default 16384), so long items never exhaust memory",
    )
    add_item_limit_option(out)


def add_item_limit_option(parser: Any) -> None:
    parser.add_argument(
        "--max-item-tokens",
        type=_top_k,
        default=None,
        metavar="N",
        help="an item (a line, a sentence) of more than N tokens is an error object, not scored (default: "
        "4 times what the model reads at once, e.g. 2048 for 512)",
    )


def add_file_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """FILE, optional to argparse only so that ``--ray FILE`` works (see :func:`take_file`)."""
    parser.add_argument("file", nargs="?", metavar="FILE", help=help)


def take_file(args: argparse.Namespace) -> str:
    """FILE; in ``probe --ray FILE`` argparse hands FILE to ``--ray`` (its ADDRESS is optional): take it back."""
    if args.file is None and args.ray and os.path.isfile(args.ray):
        args.file, args.ray = args.ray, ""
    if args.file is None:
        raise FormatError("give the FILE to read")
    return str(args.file)


def wants_app(args: argparse.Namespace) -> bool:
    """No output option and a terminal on both ends: the results screen of the explorer (not with ``--ray``,
    nor for ``-``: the terminal is then the set, typed)."""
    chosen = args.json or args.jsonl or args.markdown or args.table or args.ray is not None
    return not chosen and args.file != "-" and sys.stdout.isatty() and sys.stdin.isatty()


Records = Callable[[], Iterator[tuple[int, dict[str, Any]]]]
"""() → ``(line_number, item_to_dict(item))`` for every item of the file, read anew at each call."""


def records_of(items: Callable[[], Iterator[Item]]) -> Records:
    """The records a chunk function takes (:func:`mlm_tui.probes.run.probe_chunk`), with or without Ray."""
    return lambda: ((item.line, item_to_dict(item)) for item in items())


def _sources(
    args: argparse.Namespace, function: BatchFunction, params: dict[str, Any]
) -> list[tuple[str, Callable[[Iterator[Any]], Generator[dict[str, Any], None, None]]]]:
    """Each model's name and what turns records into its result rows: here, or on Ray with ``--ray``.

    Every model is loaded (or, on Ray, resolved and checked) before any output is written.
    """
    cluster = ray_cluster(args)
    size = chunk_lines(args.batch_size)
    sources = []
    for model in [args.model, *(args.compare or [])]:
        if cluster is None:
            engine = _load(args, model)
            run = functools.partial(stream, chunk=size, engine=engine, function=function, **params)
            sources.append((engine.info.name, run))
        else:
            work = prepare(engine_options(args, model), cluster, function, **params)
            _report(work.notes, work.warnings)
            sources.append((work.model_name, functools.partial(stream, chunk=size, ray=(work, cluster))))
    return sources


@contextlib.contextmanager
def _spooled(
    rows: Iterator[dict[str, Any]], advance: Callable[[], None]
) -> Iterator[Iterator[dict[str, Any]]]:
    """``rows`` run to the end into a temporary file, then read back: one Ray run at a time for ``--compare``.

    Entered one after the other, the models before the last run to the end in turn; the last streams."""
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool, contextlib.closing(rows):
        for row in rows:
            spool.write(json.dumps(row, ensure_ascii=False) + "\n")
            advance()
        spool.seek(0)
        yield (json.loads(line) for line in spool)


def run_probeset(
    args: argparse.Namespace,
    *,
    kind: str,
    fmt: str,
    source: TextInput,
    records: Records,
    function: BatchFunction,
    group_by: str = "group",
    **params: Any,
) -> int:
    """Run one or several models over the items and write what the output options ask for.

    ``function(engine, records, **params)`` scores one chunk (:func:`mlm_tui.probes.run.probe_chunk`,
    :func:`~mlm_tui.probes.run.pairs_chunk`), here or on Ray actors: the same chunks either way,
    so the output is the same, byte for byte. With ``--ray --compare`` the models run one
    after the other (the rows of all but the last wait in temporary files). ``group_by``: the key of
    a result row that groups the summaries (``--group-by``).
    """
    if args.bootstrap < 0:
        raise FormatError("--bootstrap must be 0 or more")
    sources = _sources(args, function, params)
    models = [name for name, _ in sources]
    total = count_items(source, fmt) if sys.stderr.isatty() else None  # only a bar needs it
    one_by_one = args.ray is not None and len(sources) > 1
    k = getattr(args, "top_k", None) if kind == "cloze" else None
    tallies = [Tally(kind, k=k or 10, group_by=group_by) for _ in sources]
    outcomes: list[list[Outcome | None]] = [[] for _ in sources] if len(sources) > 1 else []
    out = sys.stdout
    items: list[dict[str, Any]] = []
    label = "probing" if kind == "cloze" else "scoring pairs"
    with (
        progress(total and total * len(sources) if one_by_one else total, label) as advance,
        contextlib.ExitStack() as stack,
    ):
        spooled = sources[:-1] if one_by_one else []
        streams = [stack.enter_context(_spooled(rows(records()), advance)) for _, rows in spooled]
        streams += [
            stack.enter_context(contextlib.closing(rows(records()))) for _, rows in sources[len(spooled) :]
        ]
        for rows in zip(*streams, strict=True):
            for tally, row in zip(tallies, rows, strict=True):
                tally.add(row)
            for seen, row in zip(outcomes, rows, strict=False):
                seen.append(outcome(kind, row))
            item = rows[0] if len(rows) == 1 else report.compared_item(kind, *rows)
            if args.jsonl:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
                out.flush()  # every finished item on disk, whatever ends the process
            elif args.json or item.get("disagree"):  # a table keeps only the disagreements, not every item
                items.append(item)
            advance()
    failed = sum(t.failed for t in tallies)
    if args.jsonl:
        out.flush()
        return 1 if failed else 0
    summaries = [t.summary(args.bootstrap) for t in tallies]
    paired = comparisons(kind, outcomes, PAIRED_BOOTSTRAP if args.bootstrap else 0) if outcomes else None
    if args.json:
        document = report.document(models, fmt, summaries, items, paired)
        out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif args.markdown:
        out.write(report.full_markdown(kind, summaries, models, k, items, paired))
    else:
        out.write(report.full_text(kind, summaries, models, k, items, paired))
    out.flush()
    return 1 if failed else 0


def bad_file(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


__all__ = ["BadItem", "add_file_argument", "add_output_options", "run_probeset", "take_file", "wants_app"]
