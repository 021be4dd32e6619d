"""Probe sets, side by side in one run: mlm-tui against the original methods written plainly.

- probe: N cloze items through LAMA's method (batches of 32 sorted by length, AutoModelForMaskedLM,
  full log-softmax, rank of the answer at the first mask) vs ``cloze_results`` on ONNX Runtime and
  PyTorch; the ranks must be identical.
- pairs: BLiMP-style pairs through minicons' ``MaskedLMScorer.sequence_score`` (batches of 8, fp32;
  skipped when minicons is not installed) vs ``pair_results``.
- CrowS-Pairs: metric.py's algorithm line by line (one forward pass per masked copy) vs ``pair_results``;
  the scores must be the same.

The model is random, bert-base-uncased-shaped (12 layers, hidden 768) with the bundled model's
bert-base-uncased vocabulary: speed depends on the shape, not the weights.

    python benchmarks/probes.py --items 1000 --pairs 400 --crows 200 --crows-reference 20
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import tempfile
import time
from pathlib import Path

import torch
from run import build_bert_base, corpus_sentences, prepare_run
from transformers import AutoModelForMaskedLM, AutoTokenizer

from mlm_tui.engine import MaskedLM, bundled_models
from mlm_tui.probes.formats import read_pairs, read_probes
from mlm_tui.probes.run import cloze_results, pair_results


def cloze_items(n: int, tokenizer) -> list[tuple[str, str]]:
    rng = random.Random(0)
    items = []
    for sentence in corpus_sentences(n * 2):
        words = sentence.rstrip(".").split()
        single = [i for i, w in enumerate(words) if len(tokenizer.tokenize(w)) == 1 and w.isalpha()]
        if not single:
            continue
        i = rng.choice(single)
        answer = words[i]
        words[i] = "[MASK]"
        items.append((" ".join(words) + ".", answer))
        if len(items) == n:
            break
    return items


def lama_plain(model, tokenizer, items: list[tuple[str, str]]) -> list[int]:
    """LAMA's evaluation written plainly: batches of 32 sorted by length, full log-softmax, rank at the first mask."""
    order = sorted(range(len(items)), key=lambda i: len(items[i][0].split()))
    ranks = [0] * len(items)
    for begin in range(0, len(order), 32):
        batch = order[begin : begin + 32]
        texts = [items[i][0].replace("[MASK]", tokenizer.mask_token) for i in batch]
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        with torch.no_grad():
            log_probs = torch.log_softmax(model(**encoded).logits, dim=-1)
        for row, i in enumerate(batch):
            position = int((encoded["input_ids"][row] == tokenizer.mask_token_id).nonzero()[0])
            answer = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(items[i][1]))[0]
            lp = log_probs[row, position]
            ranks[i] = 1 + int((lp > lp[answer]).sum())
    return ranks


def metric_py_scores(model, tokenizer, rows: list[tuple[str, str]]) -> list[tuple[float, float]]:
    """metric.py's mask_unigram: one forward pass per masked copy."""
    import difflib

    out = []
    for sent1, sent2 in rows:
        ids1, ids2 = tokenizer.encode(sent1), tokenizer.encode(sent2)
        matcher = difflib.SequenceMatcher(None, [str(x) for x in ids1], [str(x) for x in ids2])
        t1, t2 = [], []
        for op in matcher.get_opcodes():
            if op[0] == "equal":
                t1 += list(range(op[1], op[2]))
                t2 += list(range(op[3], op[4]))
        s1 = s2 = 0.0
        for i in range(1, len(t1) - 1):
            for ids, t, which in ((ids1, t1, 0), (ids2, t2, 1)):
                masked = list(ids)
                masked[t[i]] = tokenizer.mask_token_id
                with torch.no_grad():
                    logits = model(torch.tensor([masked])).logits[0, t[i]]
                value = float(torch.log_softmax(logits, dim=-1)[ids[t[i]]])
                if which == 0:
                    s1 += value
                else:
                    s2 += value
        out.append((round(s1, 3), round(s2, 3)))
    return out


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:8.1f}/s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--minicons-pairs", type=int, default=100)
    parser.add_argument("--crows", type=int, default=200)
    parser.add_argument("--crows-reference", type=int, default=20)
    args = parser.parse_args()
    _cache = prepare_run()
    flags = subprocess.run(
        "grep -o 'avx512_bf16\\|avx512f\\|avx2' /proc/cpuinfo | sort -u | tr '\\n' ' '",
        shell=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"CPU flags: {flags}; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_bert_base(Path(tmp) / "bert-base-shaped", bundled_models()["minilm-mlm-en"])
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float32).eval()
        engines = {b: MaskedLM.load(str(folder), backend=b) for b in ("onnx", "torch")}

        # ---- probe: the methods alternate over rounds of the same items (the machine is noisy)
        items = cloze_items(args.items, tokenizer)
        path = Path(tmp) / "cloze.tsv"
        seconds = {"lama": 0.0, **{b: 0.0 for b in engines}}
        ranks: dict[str, list[int]] = {name: [] for name in seconds}
        rounds = max(1, args.rounds)
        size = -(-len(items) // rounds)
        for begin in range(0, len(items), size):
            chunk = items[begin : begin + size]
            path.write_text("".join(f"{t}\t{a}\n" for t, a in chunk))
            started = time.perf_counter()
            ranks["lama"] += lama_plain(model, tokenizer, chunk)
            seconds["lama"] += time.perf_counter() - started
            for backend, engine in engines.items():
                started = time.perf_counter()
                rows = list(cloze_results(engine, read_probes(str(path))[1], k=10))
                seconds[backend] += time.perf_counter() - started
                ranks[backend] += [int(r["rank"]) for r in rows]
        print(f"\nprobe, {len(items)} cloze items, {rounds} alternating rounds")
        print(f"  LAMA's method, plainly (batches of 32)  {rate(len(items), seconds['lama'])}")
        for backend in engines:
            same = sum(a == b for a, b in zip(ranks[backend], ranks["lama"], strict=True))
            worst = max(abs(a - b) for a, b in zip(ranks[backend], ranks["lama"], strict=True))
            print(
                f"  mlm-tui probe, {backend:<5}                   {rate(len(items), seconds[backend])}  "
                f"x{seconds['lama'] / seconds[backend]:.2f}  ranks identical: {same}/{len(items)} "
                f"(largest difference {worst})"
            )

        # ---- the same ranks on a trained model (the bundled one): a random model's flat distribution
        # has near-ties that float rounding of different batch shapes can reorder
        bundled = bundled_models()["minilm-mlm-en"]
        small_tok = AutoTokenizer.from_pretrained(bundled)
        small = AutoModelForMaskedLM.from_pretrained(bundled, dtype=torch.float32).eval()
        trained = cloze_items(args.items, small_tok)
        path.write_text("".join(f"{t}\t{a}\n" for t, a in trained))
        want = lama_plain(small, small_tok, trained)
        for backend in ("onnx", "torch"):
            engine = MaskedLM.load(str(bundled), backend=backend)
            got = [int(r["rank"]) for r in cloze_results(engine, read_probes(str(path))[1], k=10)]
            same = sum(a == b for a, b in zip(got, want, strict=True))
            print(
                f"  ranks on the bundled trained model, {backend:<5} vs LAMA's method: {same}/{len(want)} identical"
            )

        # ---- pairs
        sentences = corpus_sentences(args.pairs)
        pairs = []
        for s in sentences:
            words = s.rstrip(".").split()
            bad = words[:]
            if len(words) > 3:
                bad[1], bad[2] = bad[2], bad[1]
            pairs.append((s, " ".join(bad) + "."))
        ppath = Path(tmp) / "pairs.tsv"
        ppath.write_text("".join(f"{g}\t{b}\n" for g, b in pairs if g != b))
        n_pairs = sum(1 for g, b in pairs if g != b)
        print(f"\npairs, {n_pairs} minimal pairs (PLL of both sentences)")
        ours = {}
        for backend, engine in engines.items():
            started = time.perf_counter()
            ours[backend] = list(pair_results(engine, read_pairs(str(ppath))[1]))
            seconds = time.perf_counter() - started
            print(f"  mlm-tui pairs, {backend:<5}                   {rate(n_pairs, seconds)}")
        try:
            from minicons import scorer

            mlm = scorer.MaskedLMScorer(str(folder), "cpu", dtype=torch.float32)
            mlm.tokenizer.batch_encode_plus = lambda texts, **kw: mlm.tokenizer(
                texts, **kw
            )  # transformers 5 shim
            subset = [p for p in pairs if p[0] != p[1]][: args.minicons_pairs]
            started = time.perf_counter()
            theirs = []
            for begin in range(0, len(subset), 8):
                chunk = subset[begin : begin + 8]
                good = mlm.sequence_score([g for g, _ in chunk], reduction=lambda x: x.sum(0).item())
                bad = mlm.sequence_score([b for _, b in chunk], reduction=lambda x: x.sum(0).item())
                theirs += list(zip(good, bad, strict=True))
            seconds = time.perf_counter() - started
            worst = max(abs(r["pll_good"] - g) for r, (g, _b) in zip(ours["onnx"], theirs, strict=False))
            print(
                f"  minicons sequence_score, batches of 8 ({len(subset)} pairs) {rate(len(subset), seconds)}; "
                f"largest PLL difference to ours: {worst:.1e}"
            )
        except ImportError:
            print("  minicons is not installed (pip install -e .[bench]): no comparison")

        # ---- CrowS-Pairs
        rows = pairs[: args.crows]
        cpath = Path(tmp) / "crows.csv"
        with cpath.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sent_more", "sent_less", "stereo_antistereo", "bias_type"])
            for g, b in rows:
                writer.writerow([g, b, "stereo", "x"])
        print(f"\nCrowS-Pairs, {len(rows)} pairs")
        started = time.perf_counter()
        expected = metric_py_scores(model, tokenizer, rows[: args.crows_reference])
        ref_s = time.perf_counter() - started
        ref_rate = args.crows_reference / ref_s
        print(f"  metric.py's algorithm, one pass per copy ({args.crows_reference} pairs) {ref_rate:8.1f}/s")
        for backend, engine in engines.items():
            started = time.perf_counter()
            got = list(pair_results(engine, read_pairs(str(cpath))[1]))
            seconds = time.perf_counter() - started
            same = sum(
                (r["sent_more_score"], r["sent_less_score"]) == e for r, e in zip(got, expected, strict=False)
            )
            print(
                f"  mlm-tui pairs (crows), {backend:<5}           {rate(len(rows), seconds)}  "
                f"x{len(rows) / seconds / ref_rate:.1f}  scores identical: {same}/{len(expected)}"
            )


if __name__ == "__main__":
    main()
