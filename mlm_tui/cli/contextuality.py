"""``mlm-tui contextuality``: how contextual each layer is over a corpus (Ethayarajh 2019), headless."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from ..export import _table
from .common import PROG, UsageError, _describe, _load, _Parser, _top_k, _warn

COLUMNS = (
    ("layer", "layer"),
    ("words", "words"),
    ("self_similarity", "self-sim"),
    ("intra_sentence_similarity", "intra-sent"),
    ("mev", "MEV"),
    ("baseline", "baseline"),
    ("self_similarity_adjusted", "self-sim adj"),
    ("intra_sentence_similarity_adjusted", "intra-sent adj"),
)


def _at_least_two(value: str) -> int:
    number = _top_k(value)
    if number < 2:
        raise argparse.ArgumentTypeError(f"must be at least 2 (a pair of occurrences), got {number}")
    return number


def _seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {number}")
    return number


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    command = _Parser(
        prog=f"{PROG} contextuality",
        description="How contextual each layer is over a corpus (Ethayarajh 2019): per layer the mean "
        "self-similarity of words, intra-sentence similarity, maximum explainable variance (MEV) and the "
        "anisotropy baseline (random token pairs from different sentences), raw and adjusted (raw - baseline).",
        parents=[common],
    )
    command.add_argument(
        "corpus",
        metavar="CORPUS|DIR",
        help="a text file (one sentence or paragraph a line), JSON lines with a 'text' field (.jsonl), or "
        "Parquet/Arrow with a text column; - reads text from standard input; or an index folder (mlm-tui "
        "index): its stored unit vectors at its layers, no forward pass (intra-sentence similarity and MEV "
        "then of the unit vectors)",
    )
    command.add_argument("--compare", metavar="B", default=None, help="also a second model B, side by side")
    command.add_argument(
        "--min-occurrences",
        type=_at_least_two,
        default=5,
        metavar="N",
        help="words with fewer occurrences are left out of self-similarity and MEV (default 5)",
    )
    command.add_argument(
        "--seed", type=_seed, default=0, metavar="S", help="seed of every sample drawn (default 0)"
    )
    command.add_argument(
        "--max-sentences", type=_top_k, default=None, metavar="N", help="read only the first N sentences"
    )
    command.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help="write the curves per layer to FILE.svg or FILE.png (matplotlib: pip install 'mlm-tui[plot]'; "
        "without it, drawn in the terminal with plotille when that is installed)",
    )
    output = command.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help='print {"model", "layers": [...]}; with --compare {"models": [one such object per model]}',
    )
    output.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return command


def run_contextuality(args: argparse.Namespace) -> int:
    from ..corpus_layers.plot import FORMATS, INSTALL, has_matplotlib, has_plotille

    terminal_plot = False
    if args.plot is not None:
        if Path(args.plot).suffix.lower() not in FORMATS:
            raise UsageError(f"--plot {args.plot}: give a file ending in .svg or .png")
        if not has_matplotlib():
            if not has_plotille():
                raise UsageError(f"--plot needs matplotlib: {INSTALL}")
            terminal_plot = True
            _warn(
                f"matplotlib is not installed ({INSTALL}): the curves are drawn here instead of {args.plot}"
            )
    results = []
    if args.corpus != "-" and Path(args.corpus).is_dir():
        results.append(_from_index(args))
    else:
        results += _from_corpus(args)
    if args.plot is not None and not terminal_plot:
        from ..corpus_layers.plot import write_plot

        try:
            write_plot(results, args.plot)
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: cannot write it: {exc.strerror or exc}") from None
        print(f"{PROG}: wrote {args.plot}", file=sys.stderr)
    if args.json:
        data: dict[str, Any] = (
            results[0].to_dict() if len(results) == 1 else {"models": [r.to_dict() for r in results]}
        )
        print(json.dumps(data, ensure_ascii=False, indent=2))
    elif args.markdown:
        print(_markdown(results), end="")
    else:
        for index, result in enumerate(results):
            print(("\n" if index else "") + _plain(result), end="")
    if terminal_plot:
        from ..corpus_layers.plot import terminal_plot as draw

        print(draw(results), file=sys.stderr)
    return 0


def _run(engine: Any, lines: Callable[[], Any], args: argparse.Namespace) -> Any:
    from ..corpus_layers.contextuality import contextuality, describe

    result = contextuality(
        engine,
        lines,
        min_occurrences=args.min_occurrences,
        seed=args.seed,
        max_sentences=args.max_sentences,
        progress=_bar,
    )
    for line in describe(result):
        print(f"{PROG}: {line}", file=sys.stderr)
    return result


def _from_corpus(args: argparse.Namespace) -> list[Any]:
    from ..corpus_layers.reader import Corpus

    results = []
    with Corpus(args.corpus, warn=_warn) as corpus:
        for name in [args.model, *([args.compare] if args.compare is not None else [])]:
            engine = _load(args, name)
            results.append(_run(engine, corpus.lines, args))
            print(f"{PROG}: {_describe(engine)}", file=sys.stderr)
    return results


def _from_index(args: argparse.Namespace) -> Any:
    """An index folder: its stored vectors at its layers, tokenized by its model (no forward pass)."""
    from ..corpus_layers.from_index import CAVEAT, StoredLayers, relabel
    from .neighbours import index_engine, open_index

    if args.compare is not None:
        raise UsageError(
            f"--compare reads the corpus with each model: give the corpus file, not the index {args.corpus}"
        )
    index, _layer = open_index(args.corpus)
    stored = StoredLayers(index_engine(args, index), index)
    result = relabel(_run(stored, stored.lines, args), index.manifest.layers)
    _warn(CAVEAT.format(dtype="float16" if index.manifest.dtype == "f16" else "int8"))
    return result


def _rows(result) -> list[tuple[str, ...]]:
    rows = []
    for layer in result.layers:
        values = layer.to_dict()
        rows.append(
            tuple(
                str(values[key]) if key in ("layer", "words") else f"{values[key]:.3f}" for key, _ in COLUMNS
            )
        )
    return rows


def _plain(result) -> str:
    widths = [max(len(title), 6) for _, title in COLUMNS]
    lines = [result.model, "  ".join(f"{title:>{w}}" for (_, title), w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(f"{cell:>{w}}" for cell, w in zip(row, widths, strict=True)) for row in _rows(result)]
    return "\n".join(lines) + "\n"


def _markdown(results) -> str:
    lines = ["# mlm-tui contextuality"]
    for result in results:
        lines += [
            "",
            f"## {result.model}",
            "",
            f"{result.sentences:,} sentences, {result.tokens:,} tokens; words with ≥ {result.min_occurrences} "
            f"occurrences; seed {result.seed}. Adjusted = raw − baseline.",
            "",
        ]
        lines += _table([title for _, title in COLUMNS], "r" * len(COLUMNS), _rows(result))
    return "\n".join(lines) + "\n"


def _bar(total: int | None) -> AbstractContextManager[Callable[[int], None]]:
    """The progress bar of the second pass, in tokens (tokens/s, time left)."""
    from ..corpus import progress

    @contextlib.contextmanager
    def tokens() -> Iterator[Callable[[int], None]]:
        with progress(total, "reading the layers", unit="tokens", rate=True) as advance:
            yield lambda n: advance(n, n)

    return tokens()
