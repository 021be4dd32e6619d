"""What ``probe`` and ``pairs`` share: output options, the run over one or two models, the outputs."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..probes import report
from ..probes.formats import BadItem, FormatError
from ..probes.metrics import BOOTSTRAP
from ..probes.run import Tally
from .common import PROG, _load, _top_k

Results = Callable[[Any, Callable[[], None]], Iterator[dict[str, object]]]
"""(engine, advance) → one result object per item, in order (reading the file anew for each call)."""


def add_output_options(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    exclusive = out.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--json", action="store_true", help="one JSON document: models, format, summary, items"
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
        help=f"bootstrap resamples for the 95%% intervals (default {BOOTSTRAP}, seeded; 0: none)",
    )
    out.add_argument(
        "--compare", default=None, metavar="B", help="also run model B on every item, side by side"
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


def count_items(path: str) -> int | None:
    """The progress bar's total (non-blank lines; a CSV's header counted out), only when a bar is shown."""
    if not sys.stderr.isatty():
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None


@contextlib.contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr (items, items/s, ETA), or nothing when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def wants_app(args: argparse.Namespace) -> bool:
    """No output option and a terminal on both ends: the results screen of the explorer."""
    chosen = args.json or args.jsonl or args.markdown or args.table
    return not chosen and sys.stdout.isatty() and sys.stdin.isatty()


def run_probeset(args: argparse.Namespace, *, kind: str, fmt: str, results: Results) -> int:
    """Run one or two models over the items and write what the output options ask for."""
    if args.bootstrap < 0:
        raise FormatError("--bootstrap must be 0 or more")
    engines = [_load(args)] + ([_load(args, args.compare)] if args.compare else [])
    models = [e.info.name for e in engines]
    total = count_items(args.file)
    k = getattr(args, "top_k", None) if kind == "cloze" else None
    tallies = [Tally(kind, k=k or 10) for _ in engines]
    out = sys.stdout
    items: list[dict[str, Any]] = []
    with progress(total, "probing" if kind == "cloze" else "scoring pairs") as advance:
        streams = [results(engine, lambda: None) for engine in engines]
        for rows in zip(*streams, strict=True):
            for tally, row in zip(tallies, rows, strict=True):
                tally.add(row)
            item = rows[0] if len(rows) == 1 else report.compared_item(kind, rows[0], rows[1])
            if args.jsonl:
                out.write(json.dumps(item, ensure_ascii=False) + "\n")
            elif args.json or item.get("disagree"):  # a table keeps only the disagreements, not every item
                items.append(item)
            advance()
    failed = tallies[0].failed + (tallies[1].failed if len(tallies) > 1 else 0)
    if args.jsonl:
        out.flush()
        return 1 if failed else 0
    summaries = [t.summary(args.bootstrap) for t in tallies]
    if args.json:
        out.write(
            json.dumps(report.document(models, fmt, summaries, items), ensure_ascii=False, indent=2) + "\n"
        )
    elif args.markdown:
        out.write(report.full_markdown(kind, summaries, models, k, items))
    else:
        out.write(report.text_table(kind, summaries, models, k))
        if len(summaries) > 1:
            out.write(report.disagreements_text(kind, items, models))
    out.flush()
    return 1 if failed else 0


def bad_file(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


__all__ = ["BadItem", "add_output_options", "run_probeset", "wants_app"]
