"""``mlm-tui probe FILE``: cloze probes (LAMA facts, plain TSV/JSONL): P@1, P@k, MRR per group."""

from __future__ import annotations

import argparse

from ..engine import MASK_ALIAS
from ..inputs import open_text
from ..probes.formats import PROBE_FORMATS, load_relations, read_probes, read_words
from ..probes.run import probe_chunk
from .common import PROG, _Parser, _top_k, _warn, add_ray_options
from .probesets import add_file_argument, add_output_options, records_of, run_probeset, take_file, wants_app


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    probe = _Parser(
        prog=f"{PROG} probe",
        description=f"Cloze probes: where the model ranks the answer at the {MASK_ALIAS} of each item "
        "(P@1, P@k and MRR overall, per group, and the mean over groups, as LAMA reports).",
        epilog="formats (recognised from the content; --format forces one):\n"
        "  lama   LAMA JSONL: masked_sentences + obj_label (at most two sentences\n"
        "         make one input; the first mask is the probe), or T-REx/Google-RE\n"
        "         facts (sub_label, obj_label, predicate_id or pred) with\n"
        "         --relations relations.jsonl (templates with [X] and [Y])\n"
        "  plain  TSV text<TAB>answer[<TAB>group], or JSONL\n"
        '         {"text", "answer": "x" or ["x", "y"], "group"}\n\n'
        "Without --json, --jsonl, --markdown or --table, on a terminal, the\n"
        "results open in the explorer (with --ray: the table).\n\n"
        "--compare B C ... runs every model on every item: a leaderboard (one\n"
        "column per model) and, for each pair of models, McNemar's exact test\n"
        "on hit@1 and a paired bootstrap of the difference in P@1.\n\n"
        "--ray runs the items on Ray workers, in chunks of 4 x --batch-size,\n"
        "with the same output byte for byte; --compare then runs the models\n"
        "one after the other.\n\n"
        f"examples:\n  {PROG} probe examples/facts.jsonl --relations examples/relations.jsonl\n  {PROG} probe facts.jsonl --relations relations.jsonl --ray --json",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_file_argument(probe, "the probe set (- reads stdin; a pipe or <(...) works too)")
    probe.add_argument("--format", choices=PROBE_FORMATS, default=None, help="force the format")
    probe.add_argument(
        "--relations",
        default=None,
        metavar="FILE",
        help="LAMA's relations.jsonl, for facts without sentences",
    )
    probe.add_argument(
        "--common-vocab",
        default=None,
        metavar="FILE",
        help="rank among these words only (one a line), as LAMA's common-vocabulary protocol",
    )
    probe.add_argument(
        "--top-k",
        "-k",
        type=_top_k,
        default=10,
        metavar="K",
        help="P@K and predictions per item (default 10)",
    )
    add_output_options(probe)
    add_ray_options(probe)
    return probe


def run_probe(args: argparse.Namespace) -> int:
    take_file(args)
    if wants_app(args):  # it opens each file itself, once
        from .tui import run_results_app

        return run_results_app(args, "probe")
    relations = load_relations(args.relations, _warn) if args.relations else None
    source = open_text(args.file, replay=True, warn=_warn)  # opened once: a pipe or - works too
    fmt, _items = read_probes(source, format=args.format, relations=relations)  # fails early on a bad file
    words = read_words(args.common_vocab, _warn) if args.common_vocab else None
    return run_probeset(
        args,
        kind="cloze",
        fmt=fmt,
        source=source,
        records=records_of(lambda: read_probes(source, format=args.format, relations=relations)[1]),
        function=probe_chunk,
        k=args.top_k,
        words=words,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        max_item_tokens=args.max_item_tokens,
    )
