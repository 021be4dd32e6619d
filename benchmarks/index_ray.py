"""``mlm-tui index --ray``: two Ray workers against one, side by side in one run: `python benchmarks/index_ray.py`.

The bundled model (MiniLM, 6 layers, 384-d) on ONNX Runtime indexes ``--sentences`` sentences (the
fidelity sentences, their words rotated: run.py's ``corpus_sentences``) at layers 2,4,6 in
``--chunk-tokens`` chunks: once on a local Ray with 1 single-thread worker, once with 2, and once in
one process (1 thread, then 2 threads) for reference. Nothing is timed before the ONNX graphs are
exported (the driver loads the model and exports its layer graphs first).

Start-up excluded: each build's progress callback (the one the progress bar hears) stamps the time at
which each chunk is listed in the manifest; the rate is the tokens of chunks 2..n over the time from
the first chunk listed to the last. So Ray's start, the actors loading the model, the driver's
tokenizing pass that plans the chunks, and the first chunk are out of it; the whole time is printed
too. The hits (k = 10 at every layer, for 20 stored tokens spread over the corpus as the queries) of the four indexes
must be identical. Prints Markdown; needs ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from run import corpus_sentences, cpu_flags, cpu_name, prepare_run

from mlm_tui import distributed
from mlm_tui.engine import BUNDLED_MODEL, EngineOptions
from mlm_tui.index.build import Builder
from mlm_tui.index.ray import build_on_ray, index_chunk
from mlm_tui.index.store import Index, decode_vectors

LAYERS = [2, 4, 6]


def timed_build(engine, corpus: Path, out: Path, chunk_tokens: int, batch_size: int, ray=None):
    """(seconds in all, tokens/s after the first chunk, chunks) of one build."""
    builder = Builder(engine, str(corpus), out, LAYERS, chunk_tokens=chunk_tokens, batch_size=batch_size)
    stamps: list[tuple[float, int]] = []

    def advance(_lines: int, tokens: int) -> None:
        stamps.append((time.perf_counter(), tokens))

    started = time.perf_counter()
    manifest = build_on_ray(builder, *ray, advance) if ray else builder.run(advance)
    total = time.perf_counter() - started
    after = sum(t for _s, t in stamps[1:]) / (stamps[-1][0] - stamps[0][0])
    return total, after, len(manifest.chunks)


def hits(folder: Path) -> list:
    index = Index(folder)
    found = []
    for layer in LAYERS:
        stored = np.concatenate(
            [decode_vectors(np.asarray(index.vectors(c, layer))) for c in index.manifest.chunks]
        )
        found += [index.search(layer, stored[row], 10) for row in range(0, len(stored), len(stored) // 20)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=4000)
    parser.add_argument("--chunk-tokens", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    cache = prepare_run()  # noqa: F841 (kept: the exported graphs live there for the run)
    folder = Path(tempfile.mkdtemp(prefix="index-ray-"))
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(corpus_sentences(args.sentences)) + "\n", encoding="utf-8")
    load = os.getloadavg()
    rows = {}
    for threads in (1, 2):
        engine = EngineOptions(model=BUNDLED_MODEL, threads=threads).load()
        engine.forward.prepare_layers()  # the layer graphs exported once, not timed
        out = folder / f"local-{threads}"
        rows[f"one process, {threads} thread{'s' * (threads > 1)}"] = (
            out,
            timed_build(engine, corpus, out, args.chunk_tokens, args.batch_size),
        )
    options = EngineOptions(model=BUNDLED_MODEL)
    for workers in (1, 2):
        cluster = distributed.Cluster(workers=workers)
        work = distributed.prepare(options, cluster, index_chunk, engine=engine)
        out = folder / f"ray-{workers}"
        rows[f"Ray, {workers} worker{'s' * (workers > 1)} (1 thread each)"] = (
            out,
            timed_build(engine, corpus, out, args.chunk_tokens, args.batch_size, ray=(work, cluster)),
        )
    reference = hits(next(iter(rows.values()))[0])
    same = all(hits(out) == reference for out, _ in rows.values())
    tokens = Index(next(iter(rows.values()))[0]).manifest.vectors
    print(
        f"`python benchmarks/index_ray.py --sentences {args.sentences} --chunk-tokens {args.chunk_tokens}`\n"
    )
    print(
        f"{cpu_name()}, {os.cpu_count()} cores ({cpu_flags()}); load average before: {load[0]:.2f}, after: "
        f"{os.getloadavg()[0]:.2f}\n"
    )
    print(
        f"{args.sentences:,} sentences, {tokens:,} tokens, layers {LAYERS}, {BUNDLED_MODEL} on ONNX Runtime\n"
    )
    print("| build | chunks | whole run, s | tokens/s after the first chunk |")
    print("|---|---:|---:|---:|")
    for name, (_out, (total, after, chunks)) in rows.items():
        print(f"| {name} | {chunks} | {total:.1f} | {after:,.0f} |")
    one = rows["Ray, 1 worker (1 thread each)"][1][1]
    two = rows["Ray, 2 workers (1 thread each)"][1][1]
    print(
        f"\nRay, 2 workers / 1 worker after start-up: **{two / one:.2f}×**; hits identical in all four: {same}"
    )


if __name__ == "__main__":
    main()
