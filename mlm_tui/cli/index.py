"""``mlm-tui index``: every token of a corpus, its vector at chosen layers, in a resumable index folder."""

from __future__ import annotations

import argparse
import sys

from ..inputs import InputError
from .common import (
    PROG,
    UsageError,
    _describe,
    _load,
    _Parser,
    _report,
    _top_k,
    _warn,
    add_ray_options,
    engine_options,
    ray_cluster,
)


def _layers(value: str) -> list[int]:
    try:
        layers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"a comma-separated list of layer numbers, got {value!r}") from None
    if not layers:
        raise argparse.ArgumentTypeError("give at least one layer")
    return layers


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from ..index import CHUNK_TOKENS, EXACT_LIMIT

    index = _Parser(
        prog=f"{PROG} index",
        description="Run every token of a corpus through the model once and keep its L2-normalised vector "
        "at each chosen layer in an index folder, with the sentences, token offsets and words in Parquet "
        "beside it; `mlm-tui neighbours` searches it. Ctrl+C keeps the chunks done; running the same "
        "command again continues.",
        parents=[common],
    )
    index.add_argument(
        "corpus",
        metavar="CORPUS",
        help="a text file (one sentence or paragraph a line), JSON lines (.jsonl, a 'text' field) or "
        "Parquet/Arrow (.parquet, .arrow: a text column)",
    )
    index.add_argument(
        "--out", "-o", required=True, metavar="DIR", help="the index folder (made, or continued)"
    )
    index.add_argument(
        "--layers",
        "-l",
        type=_layers,
        default=None,
        metavar="L,L,…",
        help="layers to keep (0 = embeddings; default: the last layer)",
    )
    index.add_argument(
        "--dtype",
        choices=("f16", "i8"),
        default="f16",
        help="vectors stored as 16-bit floats (default) or 8-bit integers (half the disk, slightly less exact)",
    )
    index.add_argument(
        "--batch-size", type=_top_k, default=16, metavar="N", help="sentences per forward pass (default 16)"
    )
    index.add_argument(
        "--text-column",
        default=None,
        metavar="NAME",
        help="the text field or column (default: text, or a table's only string column)",
    )
    index.add_argument(
        "--chunk-tokens",
        type=_top_k,
        default=CHUNK_TOKENS,
        metavar="N",
        help=f"tokens written at a time; what Ctrl+C may lose (default {CHUNK_TOKENS})",
    )
    index.add_argument(
        "--exact-limit",
        type=int,
        default=EXACT_LIMIT,
        metavar="N",
        help=f"vectors a layer up to which search is exact; above, usearch HNSW graphs are built (default {EXACT_LIMIT:,})",
    )
    add_ray_options(index)
    for action in index._actions:  # the same index either way; the shards are its chunks
        if action.dest == "ray":
            action.help = (
                "write the chunks on Ray workers, the same index as without Ray: a local Ray started for "
                "this run, or join the cluster at ADDRESS (or RAY_ADDRESS); the model and --out must be at "
                "the same path on every node (--out on shared storage)"
            )
    return index


def run_index(args: argparse.Namespace) -> int:
    from ..index import IndexError_, build_index, read_manifest
    from ..index.corpus import corpus_format

    if args.corpus != "-" and corpus_format(args.corpus) != "text":
        import os

        if not os.path.isfile(args.corpus):
            raise InputError(f"{args.corpus}: no such file")
    cluster = ray_cluster(args)  # without Ray installed: one line saying how, before the model loads
    engine = _load(args)
    ray = None
    if cluster is not None:
        from ..distributed import prepare
        from ..index.ray import index_chunk

        work = prepare(engine_options(args), cluster, index_chunk, engine=engine)
        if cluster.gpus_per_worker > 0:
            _report(work.notes, work.warnings)
        ray = (work, cluster)
    layers = args.layers
    if layers is None:
        try:  # an index being continued keeps its layers
            layers = read_manifest(__import__("pathlib").Path(args.out)).layers
        except IndexError_:
            layers = [engine.forward.hidden_states(list(engine.encode("a").ids)).shape[0] - 1]
    try:
        manifest = build_index(
            engine,
            args.corpus,
            args.out,
            layers,
            dtype=args.dtype,
            batch_size=args.batch_size,
            chunk_tokens=args.chunk_tokens,
            text_column=args.text_column,
            exact_limit=args.exact_limit,
            warn=_warn,
            ray=ray,
        )
    except IndexError_ as exc:
        if "holds an index" in str(exc) or "is not an index" in str(exc) or "corrupted" in str(exc):
            raise UsageError(str(exc)) from None
        raise
    except BaseException as exc:
        if not isinstance(exc, Exception):  # Ctrl+C or SIGTERM: what is written stays
            _stopped_note(args.out)
        raise
    skipped = ", ".join(f"{n:,} {why}" for why, n in sorted(manifest.skipped.items()))
    search = "approximate (usearch HNSW)" if manifest.ann_shards else "exact"
    print(
        f"{args.out}: {manifest.vectors:,} tokens from {manifest.lines_read:,} lines at layers "
        f"{','.join(map(str, manifest.layers))} ({manifest.dtype}); search {search}"
        + (f"; skipped {skipped}" if skipped else ""),
        file=sys.stderr,
    )
    print(f"{_describe(engine)}", file=sys.stderr)
    return 0


def _stopped_note(out: str) -> None:
    from pathlib import Path

    from ..index import IndexError_, read_manifest

    try:
        manifest = read_manifest(Path(out))
    except IndexError_:
        return
    print(
        f"{PROG}: stopped: {out} holds lines 1 to {manifest.lines_read:,} ({manifest.vectors:,} tokens); "
        "run the same command again to continue",
        file=sys.stderr,
    )
