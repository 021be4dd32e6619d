"""Command line: ``mlm-tui [TEXT]`` opens the explorer; ``predict`` and ``score`` answer headless.

Everything here but the TUI launch runs on :mod:`mlm_tui.engine`, so any
number the app shows can be reproduced in a script. torch is imported only
once a model is loaded, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import traceback
from collections.abc import Sequence

from . import __version__
from .bars import bar
from .engine import (
    BACKENDS,
    BUNDLED_MODEL,
    DEFAULT_MODEL,
    FAST_MODES,
    MASK_ALIAS,
    EngineError,
    EngineOptions,
    cache_dir,
)

PROG = "mlm-tui"
COMMANDS = ("predict", "score")
EXAMPLE = "Paris is the capital of France."

DESCRIPTION = f"""\
A keyboard-driven terminal explorer for masked language models (BERT-style fill-mask).

  mlm-tui [TEXT]                 open the explorer on TEXT
  mlm-tui predict TEXT           top-k predictions at each {MASK_ALIAS} (pipeline("fill-mask") format with --json)
  mlm-tui score TEXT             pseudo-log-likelihood and surprisal of every token
  mlm-tui score --file PATH      the same for every line of a file, as JSON lines

Run `mlm-tui predict --help` or `mlm-tui score --help` for their options.
"""

EPILOG = f"""\
models:
  --model takes a Hugging Face id (bert-base-uncased, roberta-base, answerdotai/ModernBERT-base, ...)
  or a local folder, or {BUNDLED_MODEL} (a small English model shipped with mlm-tui). Hub ids are
  read from the Hugging Face cache without touching the network; with HF_HUB_OFFLINE=1 nothing is
  downloaded. Default: {DEFAULT_MODEL} when it is cached or the Hub answers, else {BUNDLED_MODEL}.
  Weights are read from safetensors; pickle (.bin) weights need --allow-pickle.

backends:
  --backend auto (default) answers from ONNX Runtime: each model is exported once to an ONNX graph,
  checked against PyTorch and kept in {cache_dir() / "onnx"} (set MLM_TUI_CACHE_DIR to move it; delete
  the folder to clear it). A cached graph loads without importing torch. Models that cannot be
  exported run on PyTorch; --backend torch always does.

examples:
  mlm-tui "The keys to the cabinet are on the table."
  mlm-tui predict "Paris is the [MASK] of France." --top-k 10
  mlm-tui predict "He works as a [MASK]." --targets nurse,doctor --json
  mlm-tui score "The keys to the cabinet is on the table." --json
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _top_k(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _device(value: str) -> str:
    if value.split(":", 1)[0] not in ("auto", "cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unknown device {value!r}: choose auto, cpu, cuda[:N] or mps")
    return value


def _model_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("model")
    group.add_argument(
        "--model",
        "-m",
        default=None,
        metavar="M",
        help=f"hub id, folder, or {BUNDLED_MODEL!r} (the bundled model); default: {DEFAULT_MODEL} when cached "
        "or downloadable, else the bundled model",
    )
    group.add_argument(
        "--device", "-d", type=_device, default="cpu", metavar="D", help="cpu (default), cuda, mps or auto"
    )
    group.add_argument(
        "--allow-pickle",
        action="store_true",
        help="allow pickle (.bin) weights; pickle can run code when loaded",
    )
    group.add_argument(
        "--trust-remote-code", action="store_true", help="run custom model code from the model's repository"
    )
    group.add_argument(
        "--fast",
        nargs="?",
        const="auto",
        default=None,
        choices=FAST_MODES,
        metavar="MODE",
        help="faster, slightly inexact: bf16 on CPUs with native bf16 and fp16 on GPUs (PyTorch); on other "
        "CPUs the exact ONNX path is the fast one (MODE: auto, bf16 or fp16; default exact float32)",
    )
    group.add_argument(
        "--backend",
        "-b",
        default="auto",
        choices=BACKENDS,
        metavar="B",
        help="auto (default: ONNX Runtime with a graph exported once and cached, else PyTorch), torch or onnx",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    return common


def _text_help(what: str) -> str:
    return f"{what}; use - to read it from standard input"


def build_parsers() -> dict[str, argparse.ArgumentParser]:
    common = _model_options()
    tui = _Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tui.add_argument(
        "text", nargs="?", default=None, metavar="TEXT", help=_text_help("the sentence to explore")
    )
    tui.add_argument(
        "--top-k",
        "-k",
        type=_top_k,
        default=10,
        metavar="K",
        help="rows in the prediction table (default 10)",
    )
    tui.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    predict = _Parser(
        prog=f"{PROG} predict",
        description=f"Predict the tokens at each {MASK_ALIAS} in TEXT, as transformers' pipeline('fill-mask') does.",
        parents=[common],
    )
    predict.add_argument("text", metavar="TEXT", help=_text_help(f"text with one or more {MASK_ALIAS}"))
    predict.add_argument(
        "--top-k", "-k", type=_top_k, default=None, metavar="K", help="candidates per mask (default 5)"
    )
    predict.add_argument(
        "--targets",
        "-t",
        default=None,
        metavar="W1,W2",
        help="score these words at each mask instead (probability and rank; a word of several pieces is scored as a word)",
    )
    predict.add_argument(
        "--mask-word",
        action="append",
        default=[],
        metavar="WORD",
        help="mask every piece of the first WORD in TEXT (whole-word masking); may be repeated",
    )
    predict.add_argument("--json", action="store_true", help="print the fill-mask pipeline's JSON")

    score = _Parser(
        prog=f"{PROG} score",
        description="Pseudo-log-likelihood of TEXT (Salazar et al. 2020): each token masked in turn.",
        parents=[common],
    )
    score.add_argument("text", nargs="?", metavar="TEXT", help=_text_help("the sentence to score"))
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument(
        "--file",
        "-f",
        metavar="PATH",
        help="score every line of PATH (plain text, or JSONL with a 'text' field; - reads stdin) and write "
        "one JSON object per line, in order; a line that cannot be scored gets {'line': n, 'error': ...}",
    )
    score.add_argument(
        "--batch-size",
        type=_top_k,
        default=64,
        metavar="N",
        help="masked copies per forward pass (default 64)",
    )
    return {"tui": tui, "predict": predict, "score": score}


def _read_text(text: str | None) -> str | None:
    if text == "-":
        return sys.stdin.read().strip()
    return text


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def engine_options(args: argparse.Namespace, model: str | None = None) -> EngineOptions:
    """The engine the command line asks for (``model`` overrides ``--model``, e.g. for ``--compare``)."""
    return EngineOptions(
        model=model if model is not None else args.model,
        device=args.device,
        fast=args.fast,
        allow_pickle=args.allow_pickle,
        trust_remote_code=args.trust_remote_code,
        backend=args.backend,
    )


def _load(args: argparse.Namespace, model: str | None = None):
    engine = engine_options(args, model).load()
    for note in engine.info.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    for warning in engine.info.warnings:
        _warn(warning)
    return engine


def _describe(engine) -> str:
    info = engine.info
    return f"{info.name} · {info.device} · {info.dtype} · {'ONNX Runtime' if info.backend == 'onnx' else 'PyTorch'}"


def run_predict(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    targets = [t.strip() for t in (args.targets or "").split(",") if t.strip()]
    if args.targets is not None and not targets:
        raise EngineError("--targets needs at least one word")
    engine = _load(args)
    encoding = engine.encode(text)
    masked: list[int] = []
    for word in args.mask_word:
        masked.extend(_find_word(encoding, word))
    top_k = args.top_k or (len(targets) if targets else 5)
    result = engine.predict(encoding, masked, top_k=top_k, targets=targets)
    if result.truncated:
        _warn(f"the text is longer than {engine.info.max_length} tokens; used a window around the masks")
    if targets and args.top_k:
        masks = [m.targets[: args.top_k] for m in result.masks]
    else:
        masks = [m.targets or m.predictions for m in result.masks]
    if args.json:
        rows = [[row.as_pipeline_dict() for row in mask] for mask in masks]
        print(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False, indent=2))
        return 0
    print(encoding.text)
    for number, (mask, rows) in enumerate(zip(result.masks, masks, strict=True), start=1):
        where = f"mask {number} of {len(masks)}, token {mask.position}"
        print(f"\n{where}" if len(masks) > 1 else "")
        if targets:
            print(f"{'rank':>6}  {'target':<16} {'pieces':<24} {'prob':>9}  {'log p':>8}")
            for t in rows:
                pieces = " ".join(t.piece_strs)
                print(f"{t.rank:>6}  {t.target:<16} {pieces:<24} {t.score:>9.4%}  {t.log_prob:>8.3f}")
        else:
            print(f"{'rank':>4}  {'token':<16} {'prob':>8}")
            for rank, p in enumerate(rows, start=1):
                shown = p.token_str.strip() or repr(p.token_str)
                print(f"{rank:>4}  {shown:<16} {p.score:>8.2%}  {bar(p.score, 20)}")
    print(f"\n{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def _find_word(encoding, word: str) -> tuple[int, ...]:
    wanted = word.strip().lower()
    for token in encoding.tokens:
        if token.special or token.word is None:
            continue
        positions = encoding.word_positions(token.index)
        first, last = encoding.tokens[positions[0]], encoding.tokens[positions[-1]]
        if encoding.text[first.start : last.end].strip().lower() == wanted:
            return positions
    raise EngineError(f"--mask-word {word!r}: no such word in the text")


def run_score(args: argparse.Namespace) -> int:
    if args.file is not None:
        if args.text is not None:
            raise EngineError("give TEXT or --file, not both")
        from .corpus import score_file

        return score_file(_load(args), args.file, batch_size=args.batch_size)
    if args.text is None:
        raise EngineError("give the TEXT to score, or --file PATH")
    text = _read_text(args.text) or ""
    engine = _load(args)
    result = engine.score(engine.encode(text))
    if result.truncated:
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; each token was scored in a window around it"
        )
    if args.json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"{'index':>5}  {'token':<16} {'log p':>9} {'surprisal':>10}")
    for t in result.tokens:
        print(f"{t.index:>5}  {t.token:<16} {t.log_prob:>9.3f} {t.surprisal:>10.3f}")
    print(
        f"\nPLL {result.pll:.3f} · pseudo-perplexity {result.pseudo_perplexity:.3f} · {len(result.tokens)} tokens"
    )
    print(f"{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def run_tui(args: argparse.Namespace) -> int:
    from .app import make_app

    app = make_app(_read_text(args.text), options=engine_options(args), top_k=args.top_k)
    app.run()
    busy = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if busy:  # a model load or forward pass still running: do not wait for it on the way out
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 runtime error, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parsers = build_parsers()
    command = argv[0] if argv and argv[0] in COMMANDS else "tui"
    args = parsers[command].parse_args(argv[1:] if command != "tui" else argv)
    runner = {"predict": run_predict, "score": run_score, "tui": run_tui}[command]
    try:
        return runner(args)
    except EngineError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        else:
            print(
                f"{PROG}: error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr
            )
    return 1


if __name__ == "__main__":
    sys.exit(main())
