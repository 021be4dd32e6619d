"""Joint fill, unmasked view and attention against one prediction: `python benchmarks/explore.py`.

Side by side in one process, round by round (``alternate`` from run.py), on the
randomly initialised bert-base-uncased-shaped model, both backends:

1. joint fill of 3 masks (beam 1, 5, 10) against one ``predict`` of the same text
   (all 3 masks, top-5); forward passes, rows per pass, where one call's time goes,
   and what a pass of 1, 5 and 16 rows costs;
2. plain ``predict`` (one mask, top-5) on a fresh engine against an engine that
   serves ``unmasked`` and ``attention`` between its predictions; the cost of one
   ``unmasked`` and one ``attention`` call; a prediction issued while a view runs in
   another thread (as the app's workers can); the one-off first attention call on
   ONNX Runtime (it loads the PyTorch weights), in this process and in a new one.

Prints markdown for BENCHMARKS.md. Graphs are exported into a temporary cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
import transformers
from run import alternate, build_bert_base, cpu_flags, cpu_name, median_ms, prepare_run

from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models

JOINT_SENTENCE = "The [MASK] barked at the [MASK] in the [MASK] park this morning."
PLAIN_SENTENCE = "The dog barked at the mailman in the quiet park this morning."
PLAIN_MASKED_WORD = "park"
BEAMS = (1, 5, 10)
BACKENDS = ("torch", "onnx")
LABEL = {"torch": "PyTorch", "onnx": "ONNX Runtime"}


def fmt_ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×"


# --------------------------------------------------------------------------- 1: joint fill


def passes_of(
    engine: MaskedLM, call: Callable[[], object]
) -> tuple[object, list[tuple[int, int, int, float]]]:
    """Run ``call`` with the engine's forward pass wrapped: (rows, positions, row length, seconds) per pass."""
    original = engine._logits_at
    passes: list[tuple[int, int, int, float]] = []

    def counting(rows, positions):
        started = time.perf_counter()
        out = original(rows, positions)
        passes.append(
            (
                len(rows),
                sum(len(p) for p in positions),
                max(len(r) for r in rows),
                time.perf_counter() - started,
            )
        )
        return out

    engine._logits_at = counting  # type: ignore[method-assign]
    try:
        result = call()
    finally:
        del engine._logits_at  # the bound method again
    return result, passes


def paired(samples: dict[str, list[float]], name: str, base: str) -> float:
    """Median over rounds of ``name``'s time / ``base``'s time in the same round.

    On this shared machine whole stretches of seconds run slow (PyTorch's two OpenMP
    threads wait for each other when another process takes a core); a ratio taken
    within a round cancels that, a ratio of medians does not always.
    """
    runs, bases = samples[name], samples[base]
    step = len(bases) // len(runs)  # rows sampled every other round are paired with those rounds
    return statistics.median(r / b for r, b in zip(runs, bases[::step], strict=True))


def rotating(reps: int, blocks: dict[str, dict[str, Callable[[], object]]]) -> dict[str, list[float]]:
    """Seconds of every run, round by round, each backend's runs in a block.

    The blocks take turns going first, and the runs inside a block start one later each
    round; before a block, its first run is called once untimed, so every timed call
    follows a call on the same runtime (the order must not favour one run).
    """
    samples: dict[str, list[float]] = {name: [] for block in blocks.values() for name in block}
    order = list(blocks)
    for round_ in range(reps):
        for backend in order[round_ % 2 :] + order[: round_ % 2]:
            runs = list(blocks[backend].items())
            runs = runs[round_ % len(runs) :] + runs[: round_ % len(runs)]
            runs[0][1]()  # untimed
            for name, ms in alternate(1, **dict(runs)).items():
                samples[name].append(ms / 1000)
    return samples


def bench_joint(engines: dict[str, MaskedLM], reps: int) -> list[str]:
    blocks: dict[str, dict[str, Callable[[], object]]] = {}
    for backend, engine in engines.items():
        encoding = engine.encode(JOINT_SENTENCE)

        def predict(engine=engine, encoding=encoding):
            engine._cache.clear()
            return engine.predict(encoding, top_k=5)

        blocks[backend] = {f"{backend} predict": predict}
        for beam in BEAMS:
            blocks[backend][f"{backend} joint beam {beam}"] = (
                lambda engine=engine, encoding=encoding, beam=beam: engine.joint_fill(encoding, beam=beam)
            )
    for block in blocks.values():  # warm up every path
        for run in block.values():
            run()
    samples = rotating(reps, blocks)
    times = {name: median_ms(s) for name, s in samples.items()}

    # the forward passes of one call each (not timed above: the wrapper stays out of the medians)
    profiles: dict[str, list[tuple[int, int, int, float]]] = {}
    results: dict[str, object] = {}
    for backend, engine in engines.items():
        encoding = engine.encode(JOINT_SENTENCE)
        engine._cache.clear()
        results[f"{backend} predict"], profiles[f"{backend} predict"] = passes_of(
            engine, lambda engine=engine, encoding=encoding: engine.predict(encoding, top_k=5)
        )
        for beam in BEAMS:
            key = f"{backend} joint beam {beam}"
            results[key], profiles[key] = passes_of(
                engine,
                lambda engine=engine, encoding=encoding, beam=beam: engine.joint_fill(encoding, beam=beam),
            )

    n_tokens = len(engines["torch"].encode(JOINT_SENTENCE).ids)
    lines = [
        f"`{JOINT_SENTENCE}` ({n_tokens} tokens, 3 masks)",
        "",
        "| backend | measurement | median ms | ratio of medians | paired ratio | forward passes "
        "| rows per pass | rows in all |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for backend in engines:
        base = times[f"{backend} predict"]
        for name in (f"{backend} predict", *(f"{backend} joint beam {b}" for b in BEAMS)):
            passes = profiles[name]
            result = results[name]
            if "joint" in name:
                assert result.forward_passes == len(passes), (result.forward_passes, len(passes))
            lines.append(
                f"| {LABEL[backend]} | {name.removeprefix(backend + ' ')} | {times[name]:.1f} | "
                f"{fmt_ratio(times[name], base)} | {paired(samples, name, f'{backend} predict'):.2f}× | "
                f"{len(passes)} | {' + '.join(str(p[0]) for p in passes)} | "
                f"{sum(p[0] for p in passes)} |"
            )
    lines.append("")

    # where one joint fill's time goes: each pass's share, and the rest (softmax, beam bookkeeping, decoding)
    lines += [
        "One call each, passes timed inside (rows × positions with the head, ms):",
        "",
    ]
    for backend in engines:
        for beam in BEAMS:
            key = f"{backend} joint beam {beam}"
            passes = profiles[key]
            in_passes = sum(p[3] for p in passes) * 1000
            elapsed = results[key].elapsed_ms
            scoring = passes[len(results[key].positions)][3] * 1000  # after one search pass per mask
            lines.append(
                f"- {LABEL[backend]}, beam {beam}: "
                + ", ".join(f"{r}×{p} {t * 1000:.0f}" for r, p, _w, t in passes)
                + f"; the scoring pass {scoring:.0f} ms of {in_passes:.0f} ms in passes; "
                f"outside the passes {elapsed - in_passes:.0f} ms of the call's {elapsed:.0f} ms"
            )
    lines.append("")

    # agreement: both backends find the same fills; the best fill is never worse than the independent one
    checks = []
    for beam in BEAMS:
        a = results[f"torch joint beam {beam}"]
        b = results[f"onnx joint beam {beam}"]
        same = [f.tokens for f in a.fills] == [f.tokens for f in b.fills]
        worst = max(abs(x.log_prob - y.log_prob) for x, y in zip(a.fills, b.fills, strict=False))
        not_worse = all(r.fills[0].log_prob >= r.independent.log_prob for r in (a, b))
        checks.append(
            f"beam {beam}: fills {'identical' if same else 'DIFFERENT'} on both backends "
            f"(largest log-prob difference {worst:.1e}), best `{a.fills[0].sequence}` "
            f"({a.fills[0].log_prob:.2f}) {'≥' if not_worse else 'WORSE THAN'} independent "
            f"({a.independent.log_prob:.2f}), {len(a.fills)} fills"
        )
    predict = results["torch predict"]
    top1 = tuple(m.predictions[0].token for m in predict.masks)
    independent_ok = all(results[f"{b} joint beam 5"].independent.tokens == top1 for b in engines)
    checks.append(
        f"independent fill {'=' if independent_ok else '≠'} predict's top-1 at each mask on both backends"
    )
    lines += ["Checks: " + "; ".join(checks) + ".", ""]

    # cost of a pass by rows: is a batched pass cheaper per row than one row?
    scaling: dict[str, dict[str, Callable[[], object]]] = {b: {} for b in engines}
    for backend, engine in engines.items():
        ids = list(engine.encode(JOINT_SENTENCE).ids)
        where = [i for i, t in enumerate(ids) if t == engine.text.mask_id]
        for n in (1, 5, 16):
            scaling[backend][f"{backend} {n}"] = lambda engine=engine, ids=ids, where=where, n=n: (
                engine._logits_at([ids] * n, [where] * n)
            )
    for block in scaling.values():
        for run in block.values():
            run()
    scaled = rotating(reps, scaling)
    per_rows = {name: median_ms(s) for name, s in scaled.items()}
    lines += [
        f"One forward pass of n copies of the row (3 positions with the head each), medians of {reps}:",
        "",
        "| backend | 1 row ms | 5 rows ms | 16 rows ms | 5 rows / 1 row (paired) | 16 rows / 1 row (paired) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for backend in engines:
        one, five, many = (per_rows[f"{backend} {n}"] for n in (1, 5, 16))
        five_x, many_x = (paired(scaled, f"{backend} {n}", f"{backend} 1") for n in (5, 16))
        lines.append(
            f"| {LABEL[backend]} | {one:.1f} | {five:.1f} | {many:.1f} | {five_x:.2f}× | {many_x:.2f}× |"
        )
    lines.append("")
    return lines


# --------------------------------------------------------------------------- 2: views beside predictions


def first_attention_new_process(model_dir: Path) -> str:
    """The app's case: ONNX engine from the cached graph (no torch imported), then attention calls."""
    code = (
        "import sys, time; from mlm_tui.engine import MaskedLM\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20\n"
        f"e = MaskedLM.load({str(model_dir)!r}, backend='onnx'); enc = e.encode({PLAIN_SENTENCE!r})\n"
        "e.predict(enc, [3]); before = 'torch' in sys.modules; mib = rss(); times = []\n"
        "for _ in range(4):\n"
        "    t = time.perf_counter(); e.attention(enc, 3); times.append(time.perf_counter() - t)\n"
        "print(before, rss() - mib, *times)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, grew, first, *rest = out.stdout.strip().splitlines()[-1].split()
    return (
        f"in a new process (graph cached, torch imported before: {before.lower()}): first attention call "
        f"{float(first) * 1000:.0f} ms, the next three {', '.join(f'{float(t) * 1000:.0f}' for t in rest)} ms; "
        f"resident memory grew by {float(grew):.0f} MiB (the PyTorch copy of the weights)"
    )


def in_flight(view: Callable[[], object], predict: Callable[[], object]) -> float:
    """Seconds of ``predict`` issued while ``view`` runs in another thread (started 5 ms before)."""
    worker = threading.Thread(target=view)
    worker.start()
    time.sleep(0.005)  # the view is inside its forward pass by now
    started = time.perf_counter()
    predict()
    elapsed = time.perf_counter() - started
    worker.join()
    return elapsed


IDLE = 0.3
VIEW_ROWS = {
    "fresh predict": "predict, fresh engine",
    "served predict": "predict, engine serving unmasked + attention between",
    "right after attention": "predict right after the attention call (either engine)",
    "right after predict": "predict right after the other engine's predict (either engine)",
    "unmasked": "one `unmasked` call (cache cleared)",
    "attention": "one `attention` call (right after `unmasked`)",
    "attention after idle": "one `attention` call after 0.3 s idle",
    "predict during attention": "predict issued while an `attention` call runs (other thread)",
    "predict during unmasked": "predict issued while an `unmasked` call runs (other thread)",
}


def bench_views(model_dir: Path, reps: int) -> list[str]:
    fresh = {b: MaskedLM.load(str(model_dir), backend=b) for b in BACKENDS}
    served = {b: MaskedLM.load(str(model_dir), backend=b) for b in BACKENDS}
    encoding = fresh["torch"].encode(PLAIN_SENTENCE)
    position = next(t.index for t in encoding.tokens if t.text == PLAIN_MASKED_WORD)
    implementation = served["torch"].model.config._attn_implementation

    # the one-off: ONNX Runtime's first attention call loads the PyTorch weights (torch is imported already)
    started = time.perf_counter()
    served["onnx"].attention(encoding, position, [position])
    first_onnx_attention = (time.perf_counter() - started) * 1000

    def predict(engine: MaskedLM) -> Callable[[], object]:
        def run():
            engine._cache.clear()  # measure the model, not the cache
            return engine.predict(encoding, [position], top_k=5)

        return run

    def unmasked(engine: MaskedLM) -> Callable[[], object]:
        def run():
            engine._unmasked.clear()
            return engine.unmasked(encoding, top_k=5, sequences=False)

        return run

    def attention(engine: MaskedLM) -> Callable[[], object]:
        return lambda: engine.attention(encoding, position, [position])

    runs: dict[str, Callable[[], object]] = {}
    for backend in BACKENDS:
        runs[f"{backend} fresh predict"] = predict(fresh[backend])
        runs[f"{backend} served predict"] = predict(served[backend])
        runs[f"{backend} attention"] = attention(served[backend])
        runs[f"{backend} unmasked"] = unmasked(served[backend])
    for run in runs.values():  # warm up every path
        run()

    # 2 × reps rounds; each round, per backend: unmasked and attention on the served engine, then a
    # prediction on each engine, the served one first in every other round (so each engine's prediction
    # comes right after the attention call half the time); every other round, then, a prediction while a
    # view runs in another thread, and an attention call after a pause. The backends take turns first.
    samples: dict[str, list[float]] = {f"{b} {name}": [] for b in BACKENDS for name in VIEW_ROWS}
    for round_ in range(2 * reps):
        turn = round_ // 2 % 2
        for backend in BACKENDS[turn:] + BACKENDS[:turn]:
            first, second = ("served predict", "fresh predict")[:: 1 if round_ % 2 == 0 else -1]
            order = ["unmasked", "attention", first, second]
            one = alternate(1, **{f"{backend} {n}": runs[f"{backend} {n}"] for n in order})
            for name, ms in one.items():
                samples[name].append(ms / 1000)
            samples[f"{backend} right after attention"].append(one[f"{backend} {first}"] / 1000)
            samples[f"{backend} right after predict"].append(one[f"{backend} {second}"] / 1000)
            if round_ % 2:
                continue
            b = served[backend]
            samples[f"{backend} predict during attention"].append(in_flight(attention(b), predict(b)))
            samples[f"{backend} predict during unmasked"].append(in_flight(unmasked(b), predict(b)))
            time.sleep(IDLE)  # a pause, as between two keys
            started = time.perf_counter()
            attention(b)()
            samples[f"{backend} attention after idle"].append(time.perf_counter() - started)
    times = {name: median_ms(s) for name, s in samples.items()}
    restored = served["torch"].model.config._attn_implementation
    same = all(
        [p.token for p in fresh[b].predict(encoding, [position]).masks[0].predictions]
        == [p.token for p in served[b].predict(encoding, [position]).masks[0].predictions]
        for b in BACKENDS
    )

    lines = [
        f"`{PLAIN_SENTENCE}`, `{PLAIN_MASKED_WORD}` masked ({len(encoding.ids)} tokens); "
        "`unmasked` with `sequences=False`, as the app asks; attention of the masked token",
        "",
        f"Medians of {2 * reps} rounds ({reps} for the last three rows of each backend).",
        "",
        "| backend | measurement | median ms | ratio of medians to the fresh engine's predict | paired ratio |",
        "|---|---|---:|---:|---:|",
    ]
    for backend in BACKENDS:
        base = times[f"{backend} fresh predict"]
        for name, shown in VIEW_ROWS.items():
            value = times[f"{backend} {name}"]
            if name == "right after attention":  # these two share their samples with the first two rows
                after = paired(samples, f"{backend} {name}", f"{backend} right after predict")
                ratio = f"{after:.2f}× (to the next row)"
            elif name == "right after predict":
                ratio = "—"
            else:
                ratio = f"{paired(samples, f'{backend} {name}', f'{backend} fresh predict'):.2f}×"
            lines.append(f"| {LABEL[backend]} | {shown} | {value:.1f} | {fmt_ratio(value, base)} | {ratio} |")
    lines += [
        "",
        f"PyTorch attention implementation before the attention calls `{implementation}`, after "
        f"`{restored}`; top-5 of both engines {'identical' if same else 'DIFFERENT'} on both backends. "
        f"ONNX Runtime's first attention call: {first_onnx_attention:.0f} ms in this process (torch "
        f"imported already); {first_attention_new_process(model_dir)}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="rounds per measurement (default 9)")
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="folder with a bert-base-uncased tokenizer"
    )
    args = parser.parse_args()
    tokenizer_dir = args.tokenizer or bundled_models()[BUNDLED_MODEL]
    cache = prepare_run()
    started = time.perf_counter()
    lines = [
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
        f"CPU flags: {cpu_flags()}; load average before the run {os.getloadavg()[0]:.2f}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, onnxruntime {metadata.version('onnxruntime')}",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_bert_base(Path(tmp) / "bert-base-shaped", tokenizer_dir)
        print("1. joint fill ...", flush=True)
        engines = {b: MaskedLM.load(str(model_dir), backend=b) for b in BACKENDS}
        lines += ["### Joint fill of 3 masks against one prediction\n", *bench_joint(engines, args.reps)]
        del engines
        print("2. views beside predictions ...", flush=True)
        lines += [
            "### Plain prediction beside the unmasked view and attention\n",
            *bench_views(model_dir, args.reps),
        ]
    lines.append(
        f"Whole run {time.perf_counter() - started:.0f} s, {args.reps} rounds; load average after "
        f"{os.getloadavg()[0]:.2f}."
    )
    print("\n".join(lines))
    cache.cleanup()


if __name__ == "__main__":
    main()
