"""``score --file --ray`` against one process, side by side in one run: `python benchmarks/ray_scale.py`.

On this machine (2 cores): 2 single-thread Ray workers against one process with 2 threads
(and with 1), on the same file, with the bundled model on ONNX Runtime; where a Ray run's time
goes (cluster start-up, actors loading the model, per-chunk overhead and serialisation,
scoring); and the whole-command start-up cost of ``--ray`` on a small file. Prints Markdown
for BENCHMARKS.md. Needs ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import corpus_sentences

from mlm_tui import distributed
from mlm_tui.corpus import chunk_lines, score_chunk, score_file
from mlm_tui.engine import BUNDLED_MODEL, EngineOptions

ROOT = Path(__file__).resolve().parent.parent


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}
    return ", ".join(sorted(flags & {"avx2", "avx512_bf16"})) or "neither avx2 nor avx512_bf16"


def nothing(engine: object, records: list, **params: object) -> list[None]:
    """A batch function that scores nothing: a Ray run of it is start-up and overhead only."""
    return [None] * len(records)


def timed_single(path: Path, threads: int, batch_size: int) -> tuple[float, float]:
    """Load seconds and scoring seconds of one process with ``threads`` threads."""
    started = time.perf_counter()
    engine = EngineOptions(model=BUNDLED_MODEL, threads=threads).load()
    engine.warm_up()
    loaded = time.perf_counter()
    score_file(engine, str(path), batch_size=batch_size, out=io.StringIO())
    return loaded - started, time.perf_counter() - loaded


def timed_ray(path: Path, function, workers: int, batch_size: int) -> tuple[float, float, int]:
    """Seconds to the first result, seconds in all, and results, of a local Ray run of ``function``."""
    options = EngineOptions(model=BUNDLED_MODEL)
    cluster = distributed.Cluster(workers=workers)
    work = distributed.prepare(options, cluster, function, batch_size=batch_size)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    started = time.perf_counter()
    first = None
    count = 0
    for _ in distributed.run(work, enumerate(lines, 1), cluster=cluster, chunk=chunk_lines(batch_size)):
        if first is None:
            first = time.perf_counter() - started
        count += 1
    return first or 0.0, time.perf_counter() - started, count


def ray_start_seconds(workers: int) -> float:
    import ray

    started = time.perf_counter()
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
    elapsed = time.perf_counter() - started
    ray.shutdown()
    return elapsed


def serialisation_ms_per_chunk(path: Path, batch_size: int) -> tuple[float, float]:
    """Driver and actor JSON work per chunk: spooling the input, and the results there and back."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    size = chunk_lines(batch_size)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        _, spans = distributed._spool(enumerate(lines, 1), Path(folder) / "spool", size)
        spool_ms = (time.perf_counter() - started) * 1000 / len(spans)
    engine = EngineOptions(model=BUNDLED_MODEL).load()
    records = list(enumerate(lines[:size], 1))
    rows = list(score_chunk(engine, records, batch_size=batch_size))
    pairs = [[n, row] for (n, _), row in zip(records, rows, strict=True)]
    reps = 20
    started = time.perf_counter()
    for _ in range(reps):
        json.loads(json.dumps(pairs, ensure_ascii=False))
    return spool_ms, (time.perf_counter() - started) * 1000 / reps


def cli_seconds(*args: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "mlm_tui", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if proc.returncode not in (0, 1):
        raise SystemExit(proc.stderr)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = tempfile.TemporaryDirectory()
    os.environ["MLM_TUI_CACHE_DIR"] = cache.name
    EngineOptions(model=BUNDLED_MODEL).load()  # the ONNX graph, exported once for every run below
    folder = tempfile.TemporaryDirectory()
    corpus = Path(folder.name) / "corpus.txt"
    corpus.write_text("\n".join(corpus_sentences(args.sentences)) + "\n")
    small = Path(folder.name) / "small.txt"
    small.write_text("\n".join(corpus_sentences(8)) + "\n")
    n, bs = args.sentences, args.batch_size

    print("single process, 2 threads ...", file=sys.stderr, flush=True)
    load2, score2 = timed_single(corpus, 2, bs)
    print("single process, 1 thread ...", file=sys.stderr, flush=True)
    load1, score1 = timed_single(corpus, 1, bs)
    print("Ray start-up ...", file=sys.stderr, flush=True)
    start = statistics.median(ray_start_seconds(2) for _ in range(3))
    print("Ray, nothing to score ...", file=sys.stderr, flush=True)
    first0, total0, _ = timed_ray(corpus, nothing, 2, bs)
    print("Ray, 2 workers scoring ...", file=sys.stderr, flush=True)
    first2, total2, count = timed_ray(corpus, score_chunk, 2, bs)
    assert count == n
    spool_ms, json_ms = serialisation_ms_per_chunk(corpus, bs)
    print("whole commands on a small file ...", file=sys.stderr, flush=True)
    base = ["score", "--file", str(small), "-m", BUNDLED_MODEL]
    plain_small = statistics.median(cli_seconds(*base) for _ in range(3))
    ray_small = statistics.median(cli_seconds(*base, "--ray") for _ in range(3))

    chunks = -(-n // chunk_lines(bs))
    steady2 = (
        (n - chunk_lines(bs)) / (total2 - first2) if total2 > first2 and n > chunk_lines(bs) else n / total2
    )
    rows = [
        ("one process, 2 threads (scoring only)", n / score2, score2),
        ("one process, 1 thread (scoring only)", n / score1, score1),
        ("`--ray`, 2 workers × 1 thread, whole run", n / total2, total2),
        ("`--ray`, 2 workers × 1 thread, after the first chunk", steady2, total2 - first2),
    ]
    print(
        f"CPU flags: {cpu_flags()}; {os.cpu_count()} cores; {n} sentences, batch size {bs}, chunks of "
        f"{chunk_lines(bs)} lines ({chunks} chunks); model {BUNDLED_MODEL} on ONNX Runtime\n"
    )
    print("| run | sentences/s | seconds | ratio to one process, 2 threads |")
    print("|---|---:|---:|---:|")
    for name, rate, seconds in rows:
        print(f"| {name} | {rate:.1f} | {seconds:.1f} | {rate / (n / score2):.2f}× |")
    print("\nWhere a Ray run's time goes (2 workers):\n")
    print("| part | seconds |")
    print("|---|---:|")
    print(f"| engine load in one process (2 threads / 1 thread) | {load2:.1f} / {load1:.1f} |")
    print(f"| local Ray cluster start-up (`ray.init`, median of 3) | {start:.1f} |")
    print(f"| first result of a run that scores nothing (cluster + actors + model load) | {first0:.1f} |")
    print(f"| the same run, all {chunks} chunks | {total0:.1f} |")
    print(
        f"| per-chunk overhead beyond start-up (scheduling, reader, serialisation) | "
        f"{(total0 - first0) / max(1, chunks - 1):.3f} |"
    )
    print(
        f"| JSON per chunk: spooling the input / results there and back (ms) | {spool_ms:.1f} / {json_ms:.1f} |"
    )
    print(f"| first result of the scoring run | {first2:.1f} |")
    print(
        f"\nWhole command on {small.read_text().count(chr(10))} sentences: `score --file` {plain_small:.1f} s, "
        f"with `--ray` {ray_small:.1f} s (start-up cost {ray_small - plain_small:.1f} s)."
    )
    per_worker = steady2 / 2
    print(
        f"\nPer worker (1 thread, steady): {per_worker:.1f} sentences/s; 10^7 sentences take "
        f"{1e7 / per_worker / 3600:.0f} worker-hours."
    )
    cache.cleanup()
    folder.cleanup()


if __name__ == "__main__":
    main()
