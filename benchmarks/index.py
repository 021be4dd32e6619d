"""``mlm-tui index`` and its search: `python benchmarks/index.py [--sentences N] [--vectors N] [--ann N]`.

1. Build: a random bert-base-uncased-shaped model (run.py's ``build_bert_base``) over the same sentences
   (benchmarks/fidelity_sentences.txt, repeated with a number so no two are equal): a plain loop of
   transformers ``output_hidden_states=True`` forward passes, one sentence at a time, against
   :func:`mlm_tui.index.build_index` at 4 layers (PyTorch backend, batched; the ONNX backend too with
   ``--onnx``, which exports the model's layers once first, not timed). Tokens/s of each; bytes on disk
   per token at 4 layers (float16 and int8).
2. Search, on synthetic data: ``--vectors`` random unit vectors (768-d, float16, clustered round 1,000
   random centres so that near neighbours exist, as in real hidden states; *not* real model vectors):
   written as an index folder (chunks of 4,096 float16 rows), searched by the real
   :meth:`mlm_tui.index.Index.exact` at several sizes, and by :meth:`mlm_tui.index.Index.approximate`
   over usearch HNSW shards of ``--ann`` vectors (one shard built and timed; ``--shards`` hard links of
   it searched one after another, as an index of that many shards is): build time, bytes a vector,
   k=50 latency, recall@50 against exact. Prints Markdown.

The build rows alternate (plain loop, index, plain loop, index, ... ``--rounds`` times) so a change in
the machine's load falls on both sides.
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
from run import build_bert_base, cpu_flags, cpu_name, prepare_run

HERE = Path(__file__).resolve().parent


def sentences(count: int) -> list[str]:
    base = [
        line.strip()
        for line in (HERE / "fidelity_sentences.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [f"{base[i % len(base)]} ({i})" for i in range(count)]


def plain_loop(model_dir: Path, lines: list[str]) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForMaskedLM.from_pretrained(model_dir).eval()
    tokens = 0
    started = time.perf_counter()
    with torch.inference_mode():
        for line in lines:
            inputs = tokenizer(line, return_tensors="pt")
            out = model(**inputs, output_hidden_states=True)
            _ = [h[0].numpy() for h in out.hidden_states]
            tokens += int(inputs["input_ids"].shape[1]) - 2
    return time.perf_counter() - started, tokens


def index_build(model_dir: Path, corpus: Path, out: Path, backend: str, dtype: str) -> tuple[float, int, int]:
    from mlm_tui.engine import MaskedLM
    from mlm_tui.index import build_index

    engine = MaskedLM.load(str(model_dir), backend=backend)
    engine.prepare_layers()  # the ONNX layer graphs exported once (not timed)
    started = time.perf_counter()
    manifest = build_index(engine, str(corpus), out, [3, 6, 9, 12], dtype=dtype, show_progress=False)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return elapsed, manifest.vectors, size


def synthetic(count: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    out = np.empty((count, dim), dtype=np.float16)
    for start in range(0, count, 65536):
        n = min(65536, count - start)
        block = centres[rng.integers(0, 1000, n)] + rng.standard_normal((n, dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + n] = block
    return out


def synthetic_index(folder: Path, data: np.ndarray, chunk: int = 4096) -> None:
    """An index folder holding ``data`` as layer 0 in chunks of ``chunk`` rows, as the build writes them
    (the vectors only: the search paths timed here read no token table)."""
    import io

    from mlm_tui.index.store import Chunk, Manifest, save_manifest

    manifest = Manifest(
        model="synthetic", model_path="-", vocab_digest="-", revision=None, layers=[0], model_layers=0,
        hidden_size=data.shape[1], dtype="f16", corpus="-", text_column="text", complete=True,
    )  # fmt: skip
    for number, start in enumerate(range(0, len(data), chunk)):
        name = f"{number:05d}"
        where = folder / "chunks" / name
        where.mkdir(parents=True)
        buffer = io.BytesIO()
        np.save(buffer, data[start : start + chunk])
        (where / "layer-0.npy").write_bytes(buffer.getvalue())
        rows = min(chunk, len(data) - start)
        manifest.chunks.append(
            Chunk(name, start + 1, start + rows, rows, {"layer-0.npy": len(buffer.getvalue())})
        )
    save_manifest(folder, manifest)


def prefix(index, vectors: int):
    """The same index opened as if it held only its first ``vectors`` rows (whole chunks)."""
    from mlm_tui.index import Index

    view = Index(index.folder, check=False)
    kept, total = [], 0
    for c in index.manifest.chunks:
        if total >= vectors:
            break
        kept.append(c)
        total += c.vectors
    view.manifest.chunks = kept
    return view, total


def timed(call, queries) -> tuple[float, list[set[int]]]:
    call(queries[0])  # warm: the chunk files in the page cache, as for a second query in a session
    started = time.perf_counter()
    found = [{h.row for h in call(q)} for q in queries]
    return (time.perf_counter() - started) / len(queries) * 1000, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--vectors", type=int, default=1_000_000, help="for the exact scan")
    parser.add_argument(
        "--ann", type=int, default=262_144, help="vectors in one HNSW shard (the build's ANN_SHARD)"
    )
    parser.add_argument("--shards", type=int, default=4, help="HNSW shards searched one after another")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="build rounds, alternated")
    parser.add_argument(
        "--workdir", default=None, help="keep the synthetic index and HNSW shard here for a rerun"
    )
    parser.add_argument("--onnx", action="store_true", help="the ONNX backend's build too")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args()
    cache = prepare_run()
    print(f"CPU: {cpu_name()} · {os.cpu_count()} cores · {cpu_flags()}\n")
    if not args.skip_build:
        from mlm_tui.engine import BUNDLED_MODEL, bundled_models

        with tempfile.TemporaryDirectory() as tmp:
            model_dir = build_bert_base(Path(tmp) / "bert-base-shaped", bundled_models()[BUNDLED_MODEL])
            corpus = Path(tmp) / "corpus.txt"
            lines = sentences(args.sentences)
            corpus.write_text("\n".join(lines) + "\n")
            plain_loop(model_dir, lines[:5])  # warm-up
            runs = [("torch", "f16"), ("torch", "i8")] + ([("onnx", "f16")] if args.onnx else [])
            print(f"## Build: {len(lines)} sentences, bert-base shape, 4 layers (3,6,9,12), alternated\n")
            print("| round | run | seconds | tokens/s | × plain loop (same round) | bytes on disk / token |")
            print("|---|---|---|---|---|---|")
            for round_ in range(1, args.rounds + 1):
                seconds, tokens = plain_loop(model_dir, lines)
                plain = tokens / seconds
                print(
                    f"| {round_} | plain loop, output_hidden_states=True | {seconds:.1f} | {plain:,.0f} | 1.00 | – |"
                )
                for backend, dtype in runs:
                    elapsed, vectors, size = index_build(
                        model_dir, corpus, Path(tmp) / f"index-{backend}-{dtype}-{round_}", backend, dtype
                    )
                    rate = vectors / elapsed
                    print(
                        f"| {round_} | mlm-tui index, {backend}, {dtype} | {elapsed:.1f} | {rate:,.0f} | "
                        f"{rate / plain:.2f} | {size / vectors:,.0f} |"
                    )
            status = Path("/proc/self/status").read_text().splitlines()
            peak = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))  # kB
            print(
                f"\nPeak resident memory of this process (the plain loop and every build): {peak / 2**20:.2f} GiB\n"
            )
    if args.skip_search:
        return
    dim, k = 768, 50
    from usearch.index import Index as UIndex

    from mlm_tui.index import Index

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.workdir or tmp) / "index"
        data = synthetic(args.vectors, dim)
        if not (folder / "manifest.json").exists():
            synthetic_index(folder, data)
        rng = np.random.default_rng(1)
        picks = rng.choice(args.ann, args.queries, replace=False)
        noise = 0.3 * rng.standard_normal((args.queries, dim)).astype(np.float32) / np.sqrt(dim)
        queries = data[picks].astype(np.float32) + noise
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        del data
        index = Index(folder)
        print(f"## Search: synthetic clustered unit vectors, {dim}-d float16, k={k}, one query at a time\n")
        print(
            "| path | vectors | build s | bytes / vector | ms / query | recall@50 |\n|---|---|---|---|---|---|"
        )
        sizes = sorted({n for n in (50_000, 100_000, 200_000, args.ann, args.vectors) if n <= args.vectors})
        truth: list[set[int]] = []
        for size in sizes:
            view, held = prefix(index, size)
            ms, found = timed(lambda q, v=view: v.exact(0, q, k), queries)
            if held >= args.ann and not truth:
                ann_view, _ = prefix(index, args.ann)
                truth = [{h.row for h in ann_view.exact(0, q, k) if h.row < args.ann} for q in queries]
            print(
                f"| exact (Index.exact: usearch's exact kernel on the float16 chunks) | {held:,} | – | {dim * 2} | {ms:.1f} | 1.000 |"
            )
        # One HNSW shard of --ann vectors, built as the index build does (float16, cos), then the
        # approximate path over `shards` copies of it, as Index.approximate reads an index of that many shards.
        shard0 = folder / "ann" / "layer-0-0.usearch"
        build_s = float("nan")
        if not shard0.exists() or (folder / "ann" / "built").read_text() != str(args.ann):
            graph = UIndex(ndim=dim, metric="cos", dtype="f16")
            started = time.perf_counter()
            offset = 0
            for c in index.manifest.chunks:
                if offset >= args.ann:
                    break
                block = np.asarray(index.vectors(c, 0))[: args.ann - offset].astype(np.float32)
                graph.add(np.arange(offset, offset + len(block)), block)
                offset += len(block)
            build_s = time.perf_counter() - started
            (folder / "ann").mkdir(exist_ok=True)
            for old in (folder / "ann").glob("*.usearch"):
                old.unlink()
            graph.save(str(shard0))
            (folder / "ann" / "built").write_text(str(args.ann))
            (folder / "ann" / "build-seconds").write_text(f"{build_s:.0f}")
            del graph
        else:
            build_s = float((folder / "ann" / "build-seconds").read_text())
        size = os.path.getsize(shard0)
        for shards in sorted({1, args.shards}):
            for s_ in range(1, shards):
                target = folder / "ann" / f"layer-0-{s_}.usearch"
                if not target.exists():
                    os.link(folder / "ann" / "layer-0-0.usearch", target)
            index = Index(folder)  # opened afresh: the first query maps the shards (timed apart)
            index.manifest.ann_shards = shards
            started = time.perf_counter()
            index.approximate(0, queries[0], k)
            first_ms = (time.perf_counter() - started) * 1000
            ms, found = timed(lambda q, i=index: i.approximate(0, q, k), queries)
            print(
                f"| usearch HNSW, {shards} shard(s): opening the shards + the first query | | | | {first_ms:.1f} | |"
            )
            recall = np.mean([len(a & b) / k for a, b in zip(found, truth, strict=True)])
            print(
                f"| usearch HNSW f16, ef=256, memory-mapped, {shards} shard(s) of {args.ann:,} | "
                f"{shards * args.ann:,} | {build_s:.0f} (one shard) | {size / args.ann:,.0f} | {ms:.2f} | "
                + (f"{recall:.3f} |" if shards == 1 else "(copies of one shard) |")
            )
    del cache


if __name__ == "__main__":
    main()
