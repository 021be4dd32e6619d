"""The MLM lens and grid on ONNX Runtime against one prediction: `python benchmarks/onnx_layers.py`.

On the randomly initialised bert-base-uncased-shaped model, in one process,
round by round (``alternate`` from run.py), on a 20-token text with one mask:

- one prediction (``predict``, top-5, its cache cleared each round);
- the lens at the mask (``lens``: one forward pass with every hidden state, the
  head at one position per layer), its cache of hidden states cleared each round;
- the grid (``lens_grid``: the head at every position of every layer, 13 × 20 rows);
- the primitives alone: ``hidden_states``, and ``head_logits`` on 13 and 260 rows.

With ``--torch`` the same on PyTorch, in the same rounds. Also the one-off cost
of making the layer graphs (load the PyTorch weights, export, check) and their
size on disk. Targets (issue 22): lens ≤ 1.5×, grid ≤ 3× one prediction.
Prints markdown for BENCHMARKS.md. Graphs are exported into a temporary cache.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
import transformers
from run import alternate, build_bert_base, cpu_flags, cpu_name, prepare_run

from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models, onnx_cache

TEXT = "The old dog barked at the quiet [MASK] in the park near our house this winter morning."
TOKENS = 20


def runs(engine: MaskedLM, label: str) -> dict[str, Callable[[], object]]:
    encoding = engine.encode(TEXT)
    assert len(encoding.ids) == TOKENS, len(encoding.ids)
    position = engine.predict(encoding).masks[0].position
    ids = list(engine.predict(encoding).ids)
    states = engine.forward.hidden_states(ids)  # type: ignore[attr-defined]
    one = np.ascontiguousarray(states[:, position])
    every = np.ascontiguousarray(states.reshape(-1, states.shape[-1]))

    def predict() -> object:
        engine._cache.clear()  # measure the model, not the cache
        return engine.predict(encoding, top_k=5)

    def lens() -> object:
        engine._states.clear()
        return engine.lens(encoding, position)

    def grid() -> object:
        engine._states.clear()
        return engine.lens_grid(encoding)

    return {
        f"{label}: one prediction": predict,
        f"{label}: lens at the mask": lens,
        f"{label}: grid, {TOKENS} tokens": grid,
        f"{label}: hidden_states alone": lambda: engine.forward.hidden_states(ids),  # type: ignore[attr-defined]
        f"{label}: head_logits, {len(one)} rows": lambda: engine.forward.head_logits(one),  # type: ignore[attr-defined]
        f"{label}: head_logits, {len(every)} rows": lambda: engine.forward.head_logits(every),  # type: ignore[attr-defined]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="rounds per measurement (default 15)")
    parser.add_argument("--torch", action="store_true", help="PyTorch too, in the same rounds")
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="folder with a bert-base-uncased tokenizer"
    )
    args = parser.parse_args()
    tokenizer_dir = args.tokenizer or bundled_models()[BUNDLED_MODEL]
    cache = prepare_run()
    lines = [
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
        f"CPU flags: {cpu_flags()}; load average before the run {os.getloadavg()[0]:.2f}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, onnxruntime {metadata.version('onnxruntime')}",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_bert_base(Path(tmp) / "bert-base-shaped", tokenizer_dir)
        onnx = MaskedLM.load(str(model_dir), backend="onnx")
        started = time.perf_counter()
        said: list[str] = []
        note = onnx.prepare_layers(said.append)
        made = time.perf_counter() - started
        assert note is None, note
        folder = Path(onnx.forward.graph).parent  # type: ignore[attr-defined]
        layers = folder / onnx_cache.LAYERS_DIR
        info = onnx_cache.LayersInfo.read(layers)
        mib = 2**20
        lines += [
            f"- making the layer graphs once (load the PyTorch weights, export both, check): {made:.1f} s; "
            f"on disk: states graph {info.states_bytes / mib:.0f} MiB, head graph {info.head_bytes / mib:.0f} MiB "
            f"(the prediction graph: {(folder / onnx_cache.GRAPH_FILE).stat().st_size / mib:.0f} MiB); "
            f"checked against PyTorch: hidden states {info.states_difference:.1e} (relative), "
            f"head {info.head_difference:.1e} (log-probability)",
            "",
        ]
        blocks = runs(onnx, "ONNX Runtime")
        if args.torch:
            blocks.update(runs(MaskedLM.load(str(model_dir), backend="torch"), "PyTorch"))
        for run in blocks.values():  # warm up: first calls pay for lazy initialisation
            run()
        medians = alternate(args.reps, **blocks)
    lines += ["| measurement | median ms | ratio to one prediction on the same backend |", "|---|---:|---:|"]
    for name, value in medians.items():
        base = medians[name.split(":")[0] + ": one prediction"]
        lines.append(f"| {name} | {value:.1f} | {value / base:.2f}× |")
    lines += [
        "",
        f"{args.reps} rounds, each measurement once per round in turn; load average after "
        f"{os.getloadavg()[0]:.2f}. Targets: lens ≤ 1.5×, grid ≤ 3× one prediction.",
    ]
    print("\n".join(lines))
    cache.cleanup()


if __name__ == "__main__":
    main()
