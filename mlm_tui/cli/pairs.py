"""``mlm-tui pairs FILE``: minimal pairs (BLiMP, plain) by PLL, and CrowS-Pairs as its ``metric.py``."""

from __future__ import annotations

import argparse

from ..engine.score import PLL_VARIANTS
from ..inputs import open_text
from ..probes.formats import GROUP_BY, PAIR_FORMATS, check_group_by, group_key, read_pairs
from ..probes.run import pairs_chunk
from .common import PROG, _Parser, _warn, add_ray_options
from .probesets import add_file_argument, add_output_options, records_of, run_probeset, take_file, wants_app


def add_pll_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pll",
        choices=PLL_VARIANTS,
        default="original",
        help="original: each token masked alone (Salazar et al. 2020, default); word-l2r: each token masked "
        "with the pieces to its right in the same word (Kauf & Ivanova 2023, minicons' within_word_l2r)",
    )


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    pairs = _Parser(
        prog=f"{PROG} pairs",
        description="Minimal pairs: does the model give the good sentence the higher pseudo-log-likelihood? "
        "CrowS-Pairs: how often does it prefer the more stereotyping sentence?",
        epilog="formats (recognised from the content; --format forces one):\n"
        "  blimp  BLiMP JSONL: sentence_good, sentence_bad, grouped by UID\n"
        "         (field and linguistics_term kept: --group-by chooses)\n"
        '  plain  TSV good<TAB>bad[<TAB>group], or JSONL {"good", "bad", "group"}\n'
        "  crows  the CrowS-Pairs CSV (sent_more, sent_less, stereo_antistereo,\n"
        "         bias_type), scored as the authors' metric.py: shared tokens\n"
        "         masked one at a time, sums rounded to 3 decimals\n\n"
        "Without --json, --jsonl, --markdown or --table, on a terminal, the\n"
        "results open in the explorer (with --ray: the table).\n\n"
        "--compare B C ... runs every model on every item: a leaderboard (one\n"
        "column per model) and, for each pair of models, McNemar's exact test\n"
        "and a paired bootstrap of the difference in accuracy (or in the\n"
        "CrowS-Pairs metric score).\n\n"
        "--ray runs the items on Ray workers, in chunks of 4 x --batch-size,\n"
        "with the same output byte for byte; --compare then runs the models\n"
        "one after the other.\n\n"
        f"examples:\n  {PROG} pairs examples/agreement.jsonl --pll word-l2r\n"
        f"  {PROG} pairs examples/agreement.jsonl --group-by linguistics_term --table\n"
        f"  {PROG} pairs blimp.jsonl --ray --workers 8 --json",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_argument(pairs, "the pairs (- reads stdin; a pipe or <(...) works too)")
    pairs.add_argument("--format", choices=PAIR_FORMATS, default=None, help="force the format")
    add_pll_option(pairs)
    pairs.add_argument(
        "--group-by",
        choices=GROUP_BY,
        default=None,
        help="BLiMP only: the summary by paradigm (UID, the default), by field (4 in BLiMP) or by "
        "phenomenon (linguistics_term, 12), with the mean over groups",
    )
    add_output_options(pairs)
    add_ray_options(pairs)
    return pairs


def run_pairs(args: argparse.Namespace) -> int:
    take_file(args)
    if wants_app(args):  # it opens the file itself, once
        from .tui import run_results_app

        return run_results_app(args, "pairs")
    source = open_text(args.file, replay=True, warn=_warn)  # opened once: a pipe or - works too
    fmt, _items = read_pairs(source, format=args.format)  # fails early on a bad file
    check_group_by(source, fmt, args.group_by)
    return run_probeset(
        args,
        kind="crows" if fmt == "crows" else "pairs",
        fmt=fmt,
        source=source,
        records=records_of(lambda: read_pairs(source, format=args.format)[1]),
        function=pairs_chunk,
        group_by=group_key(args.group_by),
        variant=args.pll,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        max_item_tokens=args.max_item_tokens,
    )
