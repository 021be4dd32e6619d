"""The MLM lens against one prediction: `python benchmarks/layers.py`.

On the randomly initialised bert-base-uncased-shaped model (run.py's ``build_bert_base``, the
bundled model's bert-base-uncased vocabulary), a 20-token sentence with one mask, rows alternating
round by round in one process (``alternate`` from run.py):

- one prediction (``predict``, top-5, its cache cleared);
- the lens at one token (``lens``: one forward pass with hidden states, the head on 13 vectors);
- the grid at 20 tokens (``lens_grid``: the same pass, the head on 13 × 20 vectors);
- and, with the hidden states already cached (as after the lens or the grid): the lens again and
  the similarity view (``hidden_states(...).cosine``), which need no forward pass.

Issue 22's targets: lens ≤ 1.5× one prediction, grid ≤ 3× one prediction at 20 tokens, on each
backend. ONNX Runtime rows appear when its forward pass gives hidden states. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
import transformers
from run import alternate, build_bert_base, cpu_name, prepare_run

from mlm_tui.engine import BUNDLED_MODEL, EngineError, MaskedLM, bundled_models

SENTENCE = "The old man walked slowly to the [MASK] to catch the very last train home tonight."


def lscpu_flags() -> str:
    """avx2 / avx512f / avx512_bf16 as ``lscpu`` lists them."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu unavailable"
    flags = {f for line in out.splitlines() if line.startswith("Flags:") for f in line.split()[1:]}
    return ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "avx512f", "avx512_bf16"))


def twenty_tokens(engine: MaskedLM) -> str:
    """The sentence cut or grown to exactly 20 tokens, special tokens included."""
    text = SENTENCE
    while len(engine.encode(text).tokens) < 20:
        text = text.replace("tonight.", "tonight again.", 1) if "again" not in text else "Well, " + text
    while len(engine.encode(text).tokens) > 20:
        text = text.rsplit(" ", 1)[0] + "."
    assert len(engine.encode(text).tokens) == 20, text
    return text


def bench(engine: MaskedLM, text: str, reps: int) -> dict[str, float]:
    encoding = engine.encode(text)
    position = encoding.mask_positions[0]
    name = engine.info.backend

    def predict() -> None:
        engine._cache.clear()
        engine.predict(encoding, top_k=5)

    def lens() -> None:
        engine._states.clear()
        engine.lens(encoding, position)

    def grid() -> None:
        engine._states.clear()
        engine.lens_grid(encoding)

    def lens_cached() -> None:
        engine.lens(encoding, position)

    def similarity_cached() -> None:
        engine.hidden_states(encoding).cosine(6)

    for run in (predict, lens, grid):  # warm up
        run()
    return alternate(
        reps,
        **{
            f"{name}: one prediction": predict,
            f"{name}: lens at one token": lens,
            f"{name}: grid at 20 tokens": grid,
            f"{name}: lens, hidden states cached": lens_cached,
            f"{name}: similarity, hidden states cached": similarity_cached,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="rounds per measurement (default 15)")
    args = parser.parse_args()
    cache = prepare_run()
    started = time.perf_counter()
    lines = [
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
        f"lscpu flags: {lscpu_flags()}; load average before the run {os.getloadavg()[0]:.2f}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}",
        "",
    ]
    rows: dict[str, dict[str, float]] = {}
    pending = []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_bert_base(Path(tmp) / "bert-base-shaped", bundled_models()[BUNDLED_MODEL])
        engine = MaskedLM.load(str(model_dir), backend="torch")
        text = twenty_tokens(engine)
        print("PyTorch ...", flush=True)
        rows["torch"] = bench(engine, text, args.reps)
        del engine
        print("ONNX Runtime ...", flush=True)
        try:
            onnx = MaskedLM.load(str(model_dir), backend="onnx")
            onnx.hidden_states(onnx.encode(text))
        except EngineError as exc:
            pending.append(f"ONNX Runtime: not measured ({exc})")
        else:
            rows["onnx"] = bench(onnx, text, args.reps)
    lines += [f"Sentence ({len(text.split())} words, 20 tokens): `{text}`", ""]
    lines += ["| backend | measurement | median ms | ratio to one prediction |", "|---|---|---:|---:|"]
    for backend, measured in rows.items():
        base = measured[f"{backend}: one prediction"]
        for name, value in measured.items():
            lines.append(f"| {backend} | {name.split(': ', 1)[1]} | {value:.1f} | {value / base:.2f}× |")
    lines += ["", *pending] if pending else []
    lines.append(
        f"\nWhole run {time.perf_counter() - started:.0f} s, {args.reps} rounds; load average after "
        f"{os.getloadavg()[0]:.2f}."
    )
    print("\n".join(lines))
    cache.cleanup()


if __name__ == "__main__":
    main()
