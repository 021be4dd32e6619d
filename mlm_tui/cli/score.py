"""``mlm-tui score``: pseudo-log-likelihood of a text, or of every line of a file."""

from __future__ import annotations

import argparse
import json
import sys

from ..export import export_data, render_markdown
from .common import (
    PROG,
    UsageError,
    _describe,
    _load,
    _Parser,
    _read_text,
    _report,
    _text_help,
    _top_k,
    _warn,
    add_ray_options,
    engine_options,
    ray_cluster,
)


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    score = _Parser(
        prog=f"{PROG} score",
        description="Pseudo-log-likelihood of TEXT (Salazar et al. 2020): each token masked in turn.",
        parents=[common],
    )
    score.add_argument("text", nargs="?", metavar="TEXT", help=_text_help("the sentence to score"))
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument(
        "--file",
        "-f",
        metavar="PATH",
        help="score every line of PATH (plain text, or JSONL with a 'text' field; - reads stdin) and write "
        "one JSON object per line, in order; a line that cannot be scored gets {'line': n, 'error': ...}",
    )
    score.add_argument(
        "--batch-size",
        type=_top_k,
        default=64,
        metavar="N",
        help="masked copies per forward pass (default 64)",
    )
    from .pairs import add_pll_option
    from .probesets import add_item_limit_option

    add_pll_option(score)
    add_item_limit_option(score)
    add_ray_options(score)
    return score


def run_score(args: argparse.Namespace) -> int:
    if args.file is not None:
        if args.text is not None:
            raise UsageError("give TEXT or --file, not both")
        from ..corpus import score_chunk, score_file
        from ..inputs import open_text

        cluster = ray_cluster(args)
        source = open_text(args.file, warn=_warn)  # a file that is not text is refused before the model loads
        if cluster is None:
            return score_file(
                _load(args),
                source,
                batch_size=args.batch_size,
                variant=args.pll,
                max_item_tokens=args.max_item_tokens,
            )
        from ..distributed import prepare

        work = prepare(
            engine_options(args),
            cluster,
            score_chunk,
            batch_size=args.batch_size,
            variant=args.pll,
            max_item_tokens=args.max_item_tokens,
        )
        _report(work.notes, work.warnings)
        return score_file(None, source, batch_size=args.batch_size, ray=(work, cluster), variant=args.pll)
    if args.ray is not None or ray_cluster(args) is not None:
        raise UsageError("--ray scores a --file, not one TEXT")
    if args.text is None:
        raise UsageError("give the TEXT to score, or --file PATH")
    text = _read_text(args.text) or ""
    if not text.strip():
        raise UsageError("the text is empty: give the TEXT to score")
    engine = _load(args)
    from ..engine.batch import encode_item, item_limit

    encoding = encode_item(engine, text, item_limit(engine.info, args.max_item_tokens))
    result = engine.score(encoding, variant=args.pll)
    if result.truncated:
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; each token was scored in a window around it"
        )
    if args.markdown:
        print(render_markdown(export_data(encoding, model=engine.info, score=result)), end="")
        return 0
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"{'index':>5}  {'token':<16} {'log p':>9} {'surprisal':>10}")
    for t in result.tokens:
        print(f"{t.index:>5}  {t.token:<16} {t.log_prob:>9.3f} {t.surprisal:>10.3f}")
    print(
        f"\nPLL {result.pll:.3f} · pseudo-perplexity {result.pseudo_perplexity:.3f} · {len(result.tokens)} tokens"
    )
    print(f"{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0
