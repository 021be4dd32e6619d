"""``mlm-tui index`` and its search: `python benchmarks/index.py [--sentences N] [--vectors N] [--ann N]`.

1. Build: a random bert-base-uncased-shaped model (run.py's ``build_bert_base``) over the same sentences
   (benchmarks/fidelity_sentences.txt, repeated with a number so no two are equal): a plain loop of
   transformers ``output_hidden_states=True`` forward passes, one sentence at a time, against
   :func:`mlm_tui.index.build_index` at 4 layers (PyTorch backend, batched; the ONNX backend too with
   ``--onnx``, which exports the model's layers once first, not timed). Tokens/s of each; bytes on disk
   per token at 4 layers (float16 and int8).
2. Search, on synthetic data: ``--vectors`` random unit vectors (768-d, float16, clustered round 1,000
   random centres so that near neighbours exist, as in real hidden states; *not* real model vectors):
   the exact scan :meth:`mlm_tui.index.Index.exact` does (one query, chunks of 4,096 float16 rows read
   as float32), and usearch HNSW (the index's approximate path) over ``--ann`` of them: build time,
   bytes a vector, k=50 latency, recall@50 against exact. Prints Markdown.
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


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, chunk: int = 4096) -> np.ndarray:
    """What Index.exact does: a scan, chunk by chunk, float16 read as float32, top-k kept."""
    best_rows = np.empty(0, dtype=np.int64)
    best_scores = np.empty(0, dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        scores = vectors[start : start + chunk].astype(np.float32) @ query
        top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k]
        best_rows = np.concatenate([best_rows, top + start])
        best_scores = np.concatenate([best_scores, scores[top]])
        order = np.argsort(-best_scores)[:k]
        best_rows, best_scores = best_rows[order], best_scores[order]
    return best_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--vectors", type=int, default=1_000_000, help="for the exact scan")
    parser.add_argument("--ann", type=int, default=200_000, help="vectors in the HNSW graph")
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--onnx", action="store_true", help="the ONNX backend's build too")
    parser.add_argument("--skip-build", action="store_true")
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
            seconds, tokens = plain_loop(model_dir, lines)
            print(
                f"## Build: {len(lines)} sentences, {tokens:,} tokens, bert-base shape, 4 layers (3,6,9,12)\n"
            )
            print(
                "| run | seconds | tokens/s | × plain loop | bytes on disk / token |\n|---|---|---|---|---|"
            )
            print(
                f"| plain loop, output_hidden_states=True | {seconds:.1f} | {tokens / seconds:,.0f} | 1.00 | – |"
            )
            runs = [("torch", "f16"), ("torch", "i8")] + ([("onnx", "f16")] if args.onnx else [])
            for backend, dtype in runs:
                elapsed, vectors, size = index_build(
                    model_dir, corpus, Path(tmp) / f"index-{backend}-{dtype}", backend, dtype
                )
                rate = vectors / elapsed
                print(
                    f"| mlm-tui index, {backend}, {dtype} | {elapsed:.1f} | {rate:,.0f} | "
                    f"{rate / (tokens / seconds):.2f} | {size / vectors:,.0f} |"
                )
            print()
    dim, k = 768, 50
    data = synthetic(args.vectors, dim)
    rng = np.random.default_rng(1)
    picks = rng.choice(args.ann, args.queries, replace=False)
    queries = data[picks].astype(np.float32) + 0.3 * rng.standard_normal((args.queries, dim)).astype(
        np.float32
    ) / np.sqrt(dim)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    started = time.perf_counter()
    for q in queries:
        exact_top(data, q, k)
    exact_ms = (time.perf_counter() - started) / args.queries * 1000
    print(f"## Search: synthetic clustered unit vectors, {dim}-d float16, k={k}, one query at a time\n")
    print("| path | vectors | build s | bytes / vector | ms / query | recall@50 |\n|---|---|---|---|---|---|")
    print(f"| exact scan (Index.exact) | {args.vectors:,} | – | {dim * 2} | {exact_ms:.1f} | 1.000 |")
    from usearch.index import Index as UIndex

    subset = data[: args.ann]
    truth = [set(exact_top(subset, q, k).tolist()) for q in queries]
    started = time.perf_counter()
    for q in queries[:5]:
        exact_top(subset, q, k)
    exact_sub = (time.perf_counter() - started) / 5 * 1000
    print(f"| exact scan (Index.exact) | {args.ann:,} | – | {dim * 2} | {exact_sub:.1f} | 1.000 |")
    for dtype in ("f16", "i8"):
        graph = UIndex(ndim=dim, metric="cos", dtype=dtype)
        started = time.perf_counter()
        for start in range(0, args.ann, 65536):
            block = subset[start : start + 65536].astype(np.float32)
            graph.add(np.arange(start, start + len(block)), block)
        build_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            graph.save(f"{tmp}/g")
            size = os.path.getsize(f"{tmp}/g")
            del graph
            view = UIndex.restore(f"{tmp}/g", view=True)
            view.expansion_search = 256
            started = time.perf_counter()
            found = [set(view.search(q, k).keys.tolist()) for q in queries]
            ms = (time.perf_counter() - started) / args.queries * 1000
            recall = np.mean([len(a & b) / k for a, b in zip(found, truth, strict=True)])
            del view
        print(
            f"| usearch HNSW {dtype}, ef=256, memory-mapped | {args.ann:,} | {build_s:.0f} | {size / args.ann:,.0f} | {ms:.2f} | {recall:.3f} |"
        )
    del cache


if __name__ == "__main__":
    main()
