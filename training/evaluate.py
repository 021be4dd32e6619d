#!/usr/bin/env python3
"""Evaluate a masked-LM directory: held-out masked-token accuracy + everyday cloze sentences.

Held-out: the WHOLE test split (documents held out by build_corpus.py), packed as
[CLS] + 126 + [SEP]; 15 % of the 126 body positions chosen with a fixed seed (torch generator
seeded 1234 + source index, sources in sorted order), every chosen position replaced by [MASK];
top-1 / top-5 of the MLM head at those positions, pooled over all masks and per source.
Runs in fp32 (no autocast) unless --bf16.

    nice -n 19 .venv/bin/python training/evaluate.py --model /work/mlm-tui-training/run/final \\
        --out /work/mlm-tui-training/eval/final
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import torch

# Chosen before any trained model was looked at (14:25 UTC, 2026-11-25), with the answer we expect.
CLOZE = [
    ("The capital of France is [MASK].", "paris"),
    ("Paris is the capital of [MASK].", "france"),
    ("I drink a cup of [MASK] every morning.", "coffee"),
    ("Monday, Tuesday, [MASK], Thursday, Friday.", "wednesday"),
    ("January, February, [MASK], April.", "march"),
    ("There are seven days in a [MASK].", "week"),
    ("The sky is [MASK] on a clear day.", "blue"),
    ("The grass is [MASK].", "green"),
    ("The [MASK] barked at the cat.", "dog"),
    ("She opened the [MASK] and walked into the room.", "door"),
    ("He wrote the letter with a [MASK].", "pen"),
    ("We cooked dinner in the [MASK].", "kitchen"),
    ("The sun rises in the [MASK].", "east"),
    ("The cat drank some [MASK] from a bowl.", "milk"),
]


def load(model_dir: str, dtype=torch.float32):
    from transformers import BertForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    model = BertForMaskedLM.from_pretrained(model_dir, dtype=dtype)
    model.eval()
    tok_dir = model_dir if (Path(model_dir) / "tokenizer_config.json").exists() else None
    return model, common.load_tokenizer(tok_dir)


@torch.no_grad()
def cloze(model, tok, sentences=CLOZE, k=5):
    model.eval()  # no dropout
    out = []
    for text, expect in sentences:
        enc = tok(text, return_tensors="pt")
        pos = (enc.input_ids[0] == tok.mask_token_id).nonzero()[0, 0]
        logits = model(**enc).logits[0, pos].float()
        probs = logits.softmax(-1)
        top = probs.topk(k)
        exp_id = tok.convert_tokens_to_ids(expect)
        rank = int((probs > probs[exp_id]).sum().item()) + 1
        out.append(
            {
                "text": text,
                "expected": expect,
                "expected_rank": rank,
                "expected_prob": float(probs[exp_id]),
                "top": [
                    (tok.convert_ids_to_tokens(int(i)), float(p))
                    for p, i in zip(top.values, top.indices, strict=False)
                ],
            }
        )
    return out


def markdown(res: dict) -> str:
    h = res["heldout"]
    lines = [
        f"# Evaluation of `{res['model']}`",
        "",
        f"Held-out masked-token accuracy: whole test split, {h['ALL']['masks']:,} masks "
        f"({res['mask_rate']:.0%} of body positions, seed {res['seed']}, every chosen position "
        f"replaced by [MASK], {res['precision']}).",
        "",
        "| source | masks | top-1 | top-5 | loss |",
        "|---|---:|---:|---:|---:|",
    ]
    for src, r in h.items():
        name = f"**{src}**" if src == "ALL" else src
        lines.append(f"| {name} | {r['masks']:,} | {r['top1']:.1%} | {r['top5']:.1%} | {r['loss']:.3f} |")
    lines += [
        "",
        "Everyday cloze sentences (chosen before training), top-5 with probabilities:",
        "",
        "| sentence | expected (rank) | top-5 |",
        "|---|---|---|",
    ]
    for c in res["cloze"]:
        top = ", ".join(f"{t} {p:.2f}" for t, p in c["top"])
        lines.append(
            f"| {c['text'].replace('[MASK]', '[MASK]')} | {c['expected']} ({c['expected_rank']}) | {top} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True, help="output path prefix: writes PREFIX.json and PREFIX.md")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--mask-rate", type=float, default=0.15)
    ap.add_argument("--max-seqs-per-source", type=int, default=None, help="default: whole test split")
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tok = load(args.model)
    test = common.packed("test", tok, print)
    held = common.evaluate_arrays(
        model,
        tok,
        test,
        args.max_seqs_per_source,
        seed=args.seed,
        rate=args.mask_rate,
        bf16=args.bf16,
        batch=64,
    )
    res = {
        "model": args.model,
        "seed": args.seed,
        "mask_rate": args.mask_rate,
        "precision": "bf16 autocast" if args.bf16 else "fp32",
        "subset": args.max_seqs_per_source or "whole test split",
        "heldout": held,
        "cloze": cloze(model, tok),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json.dump(res, open(str(out) + ".json", "w"), indent=2)
    md = markdown(res)
    open(str(out) + ".md", "w").write(md)
    print(md)


if __name__ == "__main__":
    main()
