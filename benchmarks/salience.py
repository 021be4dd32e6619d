"""Salience against one prediction: `python benchmarks/salience.py`.

Side by side in one process, round by round (``alternate`` from run.py), on the
randomly initialised bert-base-uncased-shaped model (run.py's ``build_bert_base``)
and a 20-token text with one mask:

1. one ``predict`` (top-5; PyTorch, and ONNX Runtime for reference), gradient ×
   input, and integrated gradients at 20 steps (the default) — target ≤ 10× one
   prediction on the same backend;
2. integrated gradients at 5 to 100 steps: time, forward-and-backward passes, and
   the completeness error |Σ attributions − (log p(x) − log p(baseline))| /
   |log p(x) − log p(baseline)| for both baselines, with the midpoint Riemann sum
   (what salience uses) beside Gauss-Legendre (captum's default) and the trapezoid rule;
3. the same error at 20 steps on the trained bundled model: one random mask in
   each sentence of fidelity_sentences.txt (seed 0), its top-2 predictions as
   targets, both baselines, each rule.

Prints markdown for BENCHMARKS.md. Graphs are exported into a temporary cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
import transformers
from run import FIDELITY_FILE, alternate, build_bert_base, cpu_flags, cpu_name, prepare_run

from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models
from mlm_tui.engine import salience as salience_module

TEXT = "The old man walked slowly to the [MASK] to catch the very last train home before dark."
STEPS = (5, 10, 20, 50, 100)
RULES = salience_module.RULES


def completeness_error(
    engine: MaskedLM, encoding, position: int, target: int, steps: int, baseline: str, rule: str
):
    result = salience_module.salience(
        engine.text,
        engine.info,
        encoding,
        position,
        target,
        [position],
        method="ig",
        steps=steps,
        baseline=baseline,
        attribute=engine._attribute,
        rule=rule,
    )
    return result.completeness_error


def bench_bundled() -> list[str]:
    engine = MaskedLM.load(BUNDLED_MODEL, backend="torch")
    rng = random.Random(0)
    errors: dict[tuple[str, str], list[float]] = {(r, b): [] for r in RULES for b in ("mask", "zero")}
    sentences = [
        line.strip()
        for line in FIDELITY_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for sentence in sentences:
        encoding = engine.encode(sentence)
        position = rng.choice([t.index for t in encoding.tokens if not t.special])
        for prediction in engine.predict(encoding, [position], top_k=2).masks[0].predictions:
            for rule, baseline in errors:
                errors[rule, baseline].append(
                    completeness_error(engine, encoding, position, prediction.token, 20, baseline, rule)
                )
    lines = [
        f"Completeness error at 20 steps on the trained bundled model ({BUNDLED_MODEL}): {len(sentences)} "
        "sentences of fidelity_sentences.txt, one random mask each (seed 0), its top-2 as targets.",
        "",
        "| rule | baseline | cases | over 1 % | median | 90th percentile | largest |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (rule, baseline), found in errors.items():
        found.sort()
        lines.append(
            f"| {rule} | {baseline} | {len(found)} | {sum(e > 0.01 for e in found)} | "
            f"{statistics.median(found):.3%} | {found[int(0.9 * (len(found) - 1))]:.3%} | {found[-1]:.3%} |"
        )
    return [*lines, ""]


def bench(model_dir: Path, reps: int, sweep: tuple[int, ...] = STEPS) -> list[str]:
    engines = {"torch": MaskedLM.load(str(model_dir), backend="torch")}
    engines["onnx"] = MaskedLM.load(str(model_dir), backend="onnx")
    torch_engine = engines["torch"]
    encoding = torch_engine.encode(TEXT)
    position = encoding.mask_positions[0]
    target = torch_engine.predict(encoding, top_k=1).masks[0].predictions[0].token
    tokens = len(encoding.tokens)

    def predict(engine: MaskedLM):
        def run():
            engine._cache.clear()  # measure the model, not the cache
            return engine.predict(encoding, top_k=5)

        return run

    def explain(method: str, steps: int = 20, baseline: str = "mask"):
        return lambda: torch_engine.salience(
            encoding, position, target, method=method, steps=steps, baseline=baseline
        )

    runs = {
        "PyTorch predict": predict(torch_engine),
        "ONNX Runtime predict": predict(engines["onnx"]),
        "grad × input": explain("grad-input"),
        "integrated gradients, 20 steps": explain("ig"),
    }
    for run in runs.values():
        run()  # warm up every path
    times = alternate(reps, **runs)
    base = times["PyTorch predict"]
    lines = [
        f"{tokens} tokens (special tokens included), target the top-1 at the mask; medians of {reps} rounds.",
        "",
        "| call | ms | × PyTorch predict | × ONNX Runtime predict |",
        "|---|---:|---:|---:|",
    ]
    for name, ms in times.items():
        lines.append(f"| {name} | {ms:.1f} | {ms / base:.2f}× | {ms / times['ONNX Runtime predict']:.2f}× |")

    lines += [
        "",
        "Integrated gradients by steps: time (median of "
        f"{max(1, reps // 3)}), passes of at most {salience_module.STEP_TOKENS} tokens, and the completeness "
        "error for each quadrature rule and baseline (riemann_middle is what salience uses).",
        "",
        "| steps | passes | ms | × PyTorch predict | "
        + " | ".join(f"{rule} {b}" for rule in RULES for b in ("mask", "zero"))
        + " |",
        "|---:|---:|---:|---:|" + "---:|" * (2 * len(RULES)),
    ]
    for steps in sweep:
        ms = alternate(max(1, reps // 3), ig=explain("ig", steps))["ig"]
        passes = -(-(steps + 2) // max(1, salience_module.STEP_TOKENS // tokens))
        errors = [
            f"{completeness_error(torch_engine, encoding, position, target, steps, baseline, rule):.3%}"
            for rule in RULES
            for baseline in ("mask", "zero")
        ]
        lines.append(f"| {steps} | {passes} | {ms:.0f} | {ms / base:.1f}× | " + " | ".join(errors) + " |")
    result = torch_engine.salience(encoding, position, target)
    lines += [
        "",
        f"At the default (20 steps, midpoint rule, [MASK] baseline): Σ attributions {result.completeness[0]:.5f}, "
        f"log p(x) − log p(baseline) {result.completeness[1]:.5f}, error {result.completeness_error:.4%}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="rounds per measurement (default 9)")
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="folder with a bert-base-uncased tokenizer"
    )
    parser.add_argument(
        "--sweep",
        default=",".join(map(str, STEPS)),
        help=f"integrated-gradients steps for the table of steps (default {','.join(map(str, STEPS))})",
    )
    parser.add_argument(
        "--no-bundled", action="store_true", help="skip the completeness survey on the bundled model"
    )
    args = parser.parse_args()
    sweep = tuple(int(s) for s in args.sweep.split(",") if s)
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
        lines += bench(model_dir, args.reps, sweep)
    if not args.no_bundled:
        lines += bench_bundled()
    lines.append(
        f"Whole run {time.perf_counter() - started:.0f} s, {args.reps} rounds; load average after "
        f"{os.getloadavg()[0]:.2f}."
    )
    print("\n".join(lines))
    cache.cleanup()


if __name__ == "__main__":
    main()
