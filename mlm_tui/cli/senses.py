"""``mlm-tui senses``: the occurrences of a word in an index at a layer, projected (PCA) and clustered (k-means).

On a terminal it opens the senses screen (``<``/``>`` step the layers); ``--json``, ``--table``, a pipe,
``--svg`` or ``--png`` answer headless.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..inputs import InputError
from .common import PROG, UsageError, _Parser, _top_k, engine_options
from .neighbours import _context, index_engine, open_index


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    senses = _Parser(
        prog=f"{PROG} senses",
        description="Every occurrence of WORD in an index (mlm-tui index) at a layer: a 2-D PCA projection, "
        "k-means clusters (k by silhouette unless --k), each cluster's most typical sentences and the model's "
        "top fill there. On a terminal it opens a screen where < and > step the layers. The model is the "
        "index's own; --model names another copy of it (it must have the same vocabulary).",
        parents=[common],
    )
    senses.add_argument("index", metavar="DIR", help="the index folder")
    senses.add_argument("word", metavar="WORD", help="the word (compared case-insensitively)")
    senses.add_argument(
        "--layer", "-l", type=int, default=None, metavar="L", help="a layer of the index (default: its last)"
    )
    senses.add_argument(
        "--k", type=int, default=None, metavar="K", help="clusters (default: 2..8 by the best silhouette)"
    )
    senses.add_argument(
        "--top", type=_top_k, default=3, metavar="N", help="typical sentences per cluster (default 3)"
    )
    senses.add_argument(
        "--sample",
        type=_top_k,
        default=None,
        metavar="N",
        help="the most occurrences analysed; above it a seeded sample (default 5000)",
    )
    senses.add_argument("--seed", type=int, default=0, help="seed of the sample and of k-means (default 0)")
    senses.add_argument("--json", action="store_true", help="print one JSON object")
    senses.add_argument("--table", action="store_true", help="print a table even on a terminal")
    senses.add_argument("--svg", metavar="FILE", default=None, help="write the scatter as SVG (matplotlib)")
    senses.add_argument("--png", metavar="FILE", default=None, help="write the scatter as PNG (matplotlib)")
    senses.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the screen's x/X write the picture (default: the user data dir's exports)",
    )
    return senses


def run_senses(args: argparse.Namespace) -> int:
    from ..index import senses as core

    if not args.word.strip():
        raise UsageError("the word is empty")
    for flag, value in (("--svg", args.svg), ("--png", args.png)):
        if value is not None and Path(value).suffix.lower() != f".{flag[2:]}":
            raise UsageError(f"{flag} {value}: give a file ending in .{flag[2:]}")
    if (args.svg or args.png) and not _has_matplotlib():
        raise UsageError(f"--svg/--png need matplotlib: {core.INSTALL}")
    if args.k is not None and args.k < 2:
        raise UsageError(f"--k {args.k}: at least 2 clusters")
    index, layer = open_index(args.index, args.layer)
    manifest = index.manifest
    limit = args.sample or core.SAMPLE
    if limit < core.MIN_OCCURRENCES:
        raise UsageError(
            f"--sample {limit}: at least {core.MIN_OCCURRENCES} occurrences are needed to cluster"
        )
    # Count first (no model needed): a word that is not there is one line at once.
    try:
        found = core.find_occurrences(index, args.word, layer, limit=limit, seed=args.seed)
        core.check_count(found)
    except core.SensesError as exc:
        raise InputError(str(exc)) from None
    if args.k is not None and args.k > len(found.items) - 1:
        raise UsageError(
            f"--k {args.k}: with {len(found.items)} occurrences k must be at most {len(found.items) - 1}"
        )
    interactive = not (args.json or args.table or args.svg or args.png) and sys.stdout.isatty()
    if interactive:
        return _open_screen(args, index, layer, limit)
    engine = index_engine(args, index)
    result = core.analyse(
        found, manifest.layers, k=args.k, top=args.top, seed=args.seed, fill=core.engine_fill(engine)
    )
    for path in (args.svg, args.png):
        if path is not None:
            core.write_plot(result, path)
            print(f"{PROG}: wrote {path}", file=sys.stderr)
    if args.json:
        data = result.to_json()
        data["sample"] = limit
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_table(result)
    return 0


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _print_table(result: Any) -> None:
    from ..index.senses import title

    print(title(result))
    ev = result.explained_variance
    print(f"PCA: the two axes explain {ev[0]:.0%} and {ev[1]:.0%} of the variance")
    tried = ", ".join(f"k={k}: {s:.3f}" for k, s in result.silhouettes.items())
    print(f"silhouette: {tried}")
    for c in result.clusters:
        print(f"\ncluster {c.cluster} · {c.size} occurrences")
        print(f"  {'line':>6}  {'fill':<12} {'p':>5}  sentence")
        for t in c.typical:
            o = t.occurrence
            fill = "" if t.fill is None else t.fill
            p = "" if t.fill_probability is None else f"{t.fill_probability:.2f}"
            print(f"  {o.line:>6}  {fill[:12]:<12} {p:>5}  {_context(o.text, o.start, o.end, 72)}")


def _open_screen(args: argparse.Namespace, index: Any, layer: int, limit: int) -> int:
    from ..app import make_app
    from ..screens.senses import SensesRequest

    engine = index_engine(args, index)
    request = SensesRequest(
        index=str(index.folder),
        word=args.word,
        layer=layer,
        k=args.k,
        top=args.top,
        limit=limit,
        seed=args.seed,
    )
    app = make_app(
        options=engine_options(args),
        loader=lambda _progress: engine,
        senses=request,
        config=args.config,
        export_dir=args.export_dir,
    )
    app.run()
    return 0
