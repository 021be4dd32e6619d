"""`mlm-tui contextuality` against the encoder alone: `python benchmarks/contextuality.py [--sentences N]`.

On the bundled model, the same N sentences (benchmarks/fidelity_sentences.txt, each made distinct by a
numbered prefix so that no cache answers), side by side in one process, alternating rounds:

- **plain loop**: transformers' ``AutoModelForMaskedLM`` with ``output_hidden_states=True``, one forward
  pass per sentence, nothing else (what any per-layer analysis has to pay);
- **contextuality** on each backend: both passes (tokenize and count, then every layer of every sentence)
  and the figures per layer (self-similarity, intra-sentence similarity, MEV, baseline).

Tokens/s counts the tokens the figures count (special tokens left out), the same for every row.
Prints Markdown with the CPU, its flags and the thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from layers import lscpu_flags
from run import cpu_name, prepare_run
from transformers import AutoModelForMaskedLM, AutoTokenizer

from mlm_tui.corpus_layers.contextuality import body, contextuality
from mlm_tui.corpus_layers.reader import Line
from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models

HERE = Path(__file__).resolve().parent


def corpus(count: int) -> list[str]:
    base = [
        line.strip()
        for line in (HERE / "fidelity_sentences.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [f"Item {i // len(base) + 1}: {base[i % len(base)]}" for i in range(count)]


def plain_loop(model, tokenizer, sentences: list[str]) -> float:
    started = time.perf_counter()
    with torch.no_grad():
        for sentence in sentences:
            ids = tokenizer(sentence, return_tensors="pt")
            model(**ids, output_hidden_states=True)
    return time.perf_counter() - started


def ours(engine: MaskedLM, sentences: list[str]) -> float:
    engine._states.clear()  # no hidden states cached from the round before
    lines = [Line(i + 1, s) for i, s in enumerate(sentences)]
    started = time.perf_counter()
    contextuality(engine, lambda: iter(lines), min_occurrences=5)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _cache = prepare_run()
    folder = str(bundled_models()[BUNDLED_MODEL])
    sentences = corpus(args.sentences)
    model = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    engines = {
        "contextuality, ONNX Runtime": MaskedLM.load(BUNDLED_MODEL, backend="onnx"),
        "contextuality, PyTorch": MaskedLM.load(BUNDLED_MODEL, backend="torch"),
    }
    engine = next(iter(engines.values()))
    tokens = sum(len(body(engine.encode(s))) for s in sentences)
    rows: dict[str, list[float]] = {"plain loop, output_hidden_states=True (PyTorch)": []}
    rows.update({name: [] for name in engines})
    for lm in engines.values():  # warm up: graphs opened, first passes paid
        ours(lm, sentences[:20])
    plain_loop(model, tokenizer, sentences[:20])
    for _ in range(args.rounds):
        rows["plain loop, output_hidden_states=True (PyTorch)"].append(
            plain_loop(model, tokenizer, sentences)
        )
        for name, lm in engines.items():
            rows[name].append(ours(lm, sentences))
    plain = statistics.median(rows["plain loop, output_hidden_states=True (PyTorch)"])
    print(f"# contextuality vs a plain loop of forward passes ({BUNDLED_MODEL})\n")
    print(
        f"- CPU: {cpu_name()} ({lscpu_flags()}); torch threads {torch.get_num_threads()}, cores {os.cpu_count()}"
    )
    print(
        f"- {len(sentences)} sentences, {tokens:,} tokens (special tokens left out), median of {args.rounds} rounds\n"
    )
    print("| what | seconds | tokens/s | × plain loop |")
    print("|---|---:|---:|---:|")
    for name, samples in rows.items():
        seconds = statistics.median(samples)
        print(f"| {name} | {seconds:.2f} | {tokens / seconds:,.0f} | {plain / seconds:.2f} |")


if __name__ == "__main__":
    main()
