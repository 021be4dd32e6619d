"""Command line: ``mlm-tui [TEXT]`` opens the explorer; ``predict`` and ``score`` answer headless.

Everything here but the TUI launch runs on :mod:`mlm_tui.engine`, so any
number the app shows can be reproduced in a script. torch is imported only
once a model is loaded, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .bars import bar
from .cli_explore import add_attention_parser, attention_output, print_attention, print_joint, print_unmasked
from .config import Config, config_path, load_config
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
from .export import export_data, render_markdown
from .journal import Journal, JournalError, SessionState, last_session, list_sessions, sessions_dir
from .serve import DEFAULT_HOST, DEFAULT_PORT, exposure_warning, serve

PROG = "mlm-tui"
COMMANDS = ("predict", "score", "attention")
PERSIST_COMMANDS = ("sessions", "config", "serve")
EXAMPLE = "Paris is the capital of France."

DESCRIPTION = f"""\
A keyboard-driven terminal explorer for masked language models (BERT-style fill-mask).

  mlm-tui [TEXT]                 open the explorer on TEXT
  mlm-tui [TEXT] --compare B     open it with a second model B beside --model
  mlm-tui predict TEXT           top-k predictions at each {MASK_ALIAS} (pipeline("fill-mask") format with --json)
  mlm-tui score TEXT             pseudo-log-likelihood and surprisal of every token
  mlm-tui score --file PATH      the same for every line of a file, as JSON lines
  mlm-tui predict TEXT --joint   fills of every mask that fit together (beam search, joint log p)
  mlm-tui predict TEXT --unmasked  what the model predicts at every token, nothing masked
  mlm-tui attention TEXT -p N    what token N attends to (a layer, a head or the mean over heads)
  mlm-tui --resume               reopen the last session (text, masks, model, undo history)
  mlm-tui sessions               list the saved sessions
  mlm-tui config path|show       where the config file is, and what it sets
  mlm-tui serve [ARGS]           the explorer in a browser (http://127.0.0.1:8000)

Run `mlm-tui predict --help`, `mlm-tui score --help` or `mlm-tui attention --help` for their options.
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
  mlm-tui predict "The [MASK] barked at the [MASK]." --joint --beam 5
  mlm-tui attention "The keys to the cabinet are on the table." --position 5 --layer 3 --json
  mlm-tui predict "Paris is the [MASK] of France." --model bert-base-uncased --compare roberta-base
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
    kind, _, index = value.partition(":")
    if kind not in ("auto", "cpu", "cuda", "mps") or (index and not (kind == "cuda" and index.isdigit())):
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


def build_parsers(config: Config | None = None) -> dict[str, argparse.ArgumentParser]:
    """The parsers of every command; ``config`` supplies the defaults that flags override."""
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
    tui.add_argument(
        "--compare", default=None, metavar="B", help="open model B beside --model, on the same sentence"
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
    predict.add_argument(
        "--compare",
        default=None,
        metavar="B",
        help="also predict with model B and compare the two at each mask (KL, JS, ranks)",
    )
    predict.add_argument(
        "--joint",
        action="store_true",
        help="fill every mask at once: fills that fit together, best joint log p first (beam search, "
        "most confident mask first), with the independent fill and the best fill's steps",
    )
    predict.add_argument(
        "--beam",
        type=_top_k,
        default=5,
        metavar="N",
        help="with --joint: partial fills kept per step (default 5)",
    )
    predict.add_argument(
        "--unmasked",
        action="store_true",
        help="what the model predicts at every token of the text as it is (no mask needed): "
        "top-k, the token's own probability and rank, entropy",
    )
    attention = _Parser(
        prog=f"{PROG} attention",
        description="What one token attends to: eager attention weights, as transformers' output_attentions=True.",
        parents=[common],
    )
    attention.add_argument("text", metavar="TEXT", help=_text_help("the sentence (it may hold [MASK]s)"))

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
    add_attention_parser(attention)
    parsers = {"tui": tui, "predict": predict, "score": score, "attention": attention}
    parsers.update(_persist_parsers(parsers, config or Config()))
    return parsers


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
    if args.compare:
        if args.joint or args.unmasked:
            raise EngineError("--compare cannot be combined with --joint or --unmasked")
        return run_predict_compare(args, text, targets)
    if args.joint and args.unmasked:
        raise EngineError("choose --joint or --unmasked, not both")
    if (args.joint or args.unmasked) and (targets or args.markdown):
        raise EngineError("--targets and --markdown work with plain predictions, not --joint or --unmasked")
    engine = _load(args)
    encoding = engine.encode(text)
    masked: list[int] = []
    for word in args.mask_word:
        masked.extend(_find_word(encoding, word))
    if args.unmasked:
        if masked:
            raise EngineError("--unmasked reads the text as it is; drop --mask-word")
        unmasked = engine.unmasked(encoding, top_k=args.top_k or args.default_top_k)
        if unmasked.truncated:
            _warn(f"the text is longer than {engine.info.max_length} tokens; it was read in windows")
        print_unmasked(unmasked, as_json=args.json)
        if not args.json:
            print(f"\n{_describe(engine)} · {unmasked.elapsed_ms:.0f} ms", file=sys.stderr)
        return 0
    if args.joint:
        joint = engine.joint_fill(encoding, masked, beam=args.beam)
        if joint.truncated:
            _warn(f"the text is longer than {engine.info.max_length} tokens; used a window around the masks")
        print_joint(joint, as_json=args.json, top=args.top_k)
        if not args.json:
            print(
                f"\n{_describe(engine)} · beam {joint.beam} · {joint.forward_passes} forward passes · "
                f"{joint.elapsed_ms:.0f} ms",
                file=sys.stderr,
            )
        return 0
    top_k = args.top_k or (len(targets) if targets else args.default_top_k)
    result = engine.predict(encoding, masked, top_k=top_k, targets=targets)
    if result.truncated:
        _warn(f"the text is longer than {engine.info.max_length} tokens; used a window around the masks")
    if args.markdown:
        print(
            render_markdown(export_data(encoding, model=engine.info, masked=masked, prediction=result)),
            end="",
        )
        return 0
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


def run_predict_compare(args: argparse.Namespace, text: str, targets: list[str]) -> int:
    """``predict --compare B``: both models at the same masks, paired by the characters they cover."""
    from .engine.compare import compare_masks
    from .session import TextMap, pair_spans

    engines = [_load(args), _load(args, args.compare)]
    top_k = args.top_k or (len(targets) if targets else 5)
    results, spans = [], []
    for engine in engines:
        encoding = engine.encode(text)
        masked = [p for word in args.mask_word for p in _find_word(encoding, word)]
        result = engine.predict(encoding, masked, top_k=top_k, targets=targets, full=True)
        if result.truncated:
            _warn(f"{engine.info.name}: the text is longer than it reads; used a window around the masks")
        text_map = TextMap(text, engine.info.mask_token)
        spans.append([text_map.span_to_session(_span(encoding, m.position)) for m in result.masks])
        results.append(result)
    a_info, b_info = engines[0].info, engines[1].info
    shared = bool(a_info.vocab_digest) and a_info.vocab_digest == b_info.vocab_digest
    masks = []
    for i, j in pair_spans(spans[0], spans[1]):
        a = results[0].masks[i] if i is not None else None
        b = results[1].masks[j] if j is not None else None
        span = _union(spans[0][i] if i is not None else None, spans[1][j] if j is not None else None)
        lists = [_rows(m, targets, args.top_k) if m is not None else None for m in (a, b)]
        c = compare_masks(a, b, shared_vocab=shared) if a is not None and b is not None else None
        masks.append(
            {
                "span": list(span),
                "predictions": [[row.as_pipeline_dict() for row in rows] if rows else None for rows in lists],
                "kl": c.kl if c else None,
                "js": c.js if c else None,
                "top1_rank_in_other": list(c.top1_rank_in_other) if c else [None, None],
                "top_k_overlap": list(c.overlap) if c else None,
            }
        )
    if args.json:
        output = {"models": [a_info.name, b_info.name], "masks": masks}
        print(json.dumps(output, ensure_ascii=False, indent=2))
        return 0
    _print_side_by_side(text, [a_info.name, b_info.name], masks, shared)
    for engine, result in zip(engines, results, strict=True):
        print(f"{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def _span(encoding, position: int) -> tuple[int, int]:
    token = encoding.tokens[position]
    return (token.start, token.end)


def _union(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int]:
    spans = [s for s in (a, b) if s is not None]
    return (min(s[0] for s in spans), max(s[1] for s in spans))


def _rows(mask, targets: list[str], top_k: int | None):
    if targets:
        return mask.targets[:top_k] if top_k else mask.targets
    return mask.predictions


def _print_side_by_side(text: str, names: list[str], masks: list[dict], shared: bool) -> None:
    width = 30
    print(text)
    print(f"A = {names[0]}\nB = {names[1]}")
    for number, mask in enumerate(masks, start=1):
        start, end = mask["span"]
        print(f"\nmask {number} of {len(masks)}: {text[start:end]!r}")
        print(f"{'rank':>4}  {'A':<{width}}   {'B':<{width}}")
        lists = [rows or [] for rows in mask["predictions"]]
        for rank in range(max(len(rows) for rows in lists)):
            cells = []
            for rows in lists:
                if rank < len(rows):
                    row = rows[rank]
                    shown = row["token_str"].strip() or repr(row["token_str"])
                    cells.append(f"{shown[:20]:<20} {row['score']:>8.2%}")
                else:
                    cells.append("")
            print(f"{rank + 1:>4}  {cells[0]:<{width}}   {cells[1]:<{width}}")
        ranks = ["not in top-k" if r is None else f"#{r}" for r in mask["top1_rank_in_other"]]
        line = f"top-1 of A in B: {ranks[0]} · top-1 of B in A: {ranks[1]}"
        if mask["kl"] is not None:
            line += f" · KL(A‖B) {mask['kl']:.4f} · JS {mask['js']:.4f} nats"
        elif mask["top_k_overlap"] is not None:
            same, k = mask["top_k_overlap"]
            line += f" · top-{k} overlap {same}/{k}" + ("" if shared else " (vocabularies differ)")
        print(line)


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
    encoding = engine.encode(text)
    result = engine.score(encoding)
    if result.truncated:
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; each token was scored in a window around it"
        )
    if args.markdown:
        print(render_markdown(export_data(encoding, model=engine.info, score=result)), end="")
        return 0
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


def run_attention(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    engine = _load(args)
    encoding = engine.encode(text)
    if not 0 <= args.position < len(encoding.tokens):
        raise EngineError(
            f"--position {args.position}: the text has tokens 0 to {len(encoding.tokens) - 1} "
            "(counting special tokens)"
        )
    result = engine.attention(encoding, args.position)
    if result.window != (0, len(encoding.tokens)):
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; the model read tokens "
            f"{result.window[0]} to {result.window[1] - 1} around the position (others are null)"
        )
    data = attention_output(result, args.layer, args.head)
    print_attention(data, as_json=args.json, describe=_describe(engine))
    return 0


def _keys_from_the_terminal() -> None:
    """After reading the text from a pipe (``mlm-tui -``), read keys from the terminal instead."""
    if sys.stdin.isatty():
        return
    try:
        terminal = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        raise EngineError(
            "the text came from standard input and there is no terminal to read keys from; "
            "give the text as an argument"
        ) from None
    os.dup2(terminal, 0)
    os.close(terminal)


def run_tui(args: argparse.Namespace) -> int:
    from .app import make_app

    if args.text == "-" and not args.resume:
        args.text = _read_text("-")
        _keys_from_the_terminal()

    options = engine_options(args)
    compare = engine_options(args, args.compare) if args.compare else None
    text = args.resumed.current.text if args.resumed else _read_text(args.text)
    journal = _journal(args.resumed, [o for o in (options, compare) if o is not None], args.top_k)
    app = make_app(
        text,
        options=options,
        compare=compare,
        top_k=args.top_k,
        config=args.config,
        notices=[args.config_problem] if args.config_problem else [],
        resume=args.resumed,
        journal=journal,
        export_dir=args.export_dir,
    )
    try:
        app.run()
    finally:
        journal.close()
    busy = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if busy:  # a model load or forward pass still running: do not wait for it on the way out
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


# --- Sessions, export, config file and the browser mode (issue 12) ----------------------------------


class _ServeParser(_Parser):
    """``serve``'s own options; every other argument is handed to the served app."""

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        known, rest = self.parse_known_args(args, namespace)
        known.app_args = rest
        return known


def _port(value: str) -> int:
    number = _top_k(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"must be at most 65535, got {number}")
    return number


def _persist_parsers(
    parsers: dict[str, argparse.ArgumentParser], config: Config
) -> dict[str, argparse.ArgumentParser]:
    """Config defaults on the model commands, their new options, and the commands of issue 12."""
    defaults = config.cli_defaults()
    top_k = defaults.pop("top_k", None)
    for name in ("tui", "predict", "score", "attention"):
        parsers[name].set_defaults(**defaults)
    if top_k is not None:
        parsers["tui"].set_defaults(top_k=top_k)
    parsers["predict"].set_defaults(default_top_k=top_k or 5)
    for name in ("predict", "score"):
        parsers[name].add_argument(
            "--markdown", action="store_true", help="print a Markdown report (as the app's export writes)"
        )
    tui = parsers["tui"]
    tui.add_argument(
        "--resume",
        action="store_true",
        help="reopen the last session: text, masks, model, watched words and undo history",
    )
    tui.add_argument(
        "--export-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where x writes exports (default: user data dir)",
    )
    sessions = _Parser(prog=f"{PROG} sessions", description="List saved sessions, newest first.")
    sessions.add_argument("--json", action="store_true", help="print JSON")
    config_parser = _Parser(prog=f"{PROG} config", description="The config file (TOML).")
    config_parser.add_argument(
        "what", choices=("path", "show"), help="path: where the file is read from; show: the settings in use"
    )
    serve = _ServeParser(
        prog=f"{PROG} serve",
        usage=f"{PROG} serve [--host HOST] [--port PORT] [ARGS of {PROG}]",
        description="Serve the explorer to a web browser (textual-serve); other arguments go to the app.",
        epilog=f"example: {PROG} serve --port 8080 'Paris is the capital of France.' --model {BUNDLED_MODEL}",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the address browsers use, when it is not http://HOST:PORT (a proxy, a tunnel to another port)",
    )
    for parser in (sessions, config_parser, serve):
        parser.set_defaults(debug=False)
    return {"sessions": sessions, "config": config_parser, "serve": serve}


def _resume(args: argparse.Namespace, argv: list[str], config: Config) -> argparse.Namespace:
    """With ``--resume``, parse again with the last session's model and options as defaults.

    Flags still win over the session, and the session over the config file.
    """
    args.resumed = None
    if not args.resume:
        return args
    if args.text is not None:
        build_parsers(config)["tui"].error("--resume reopens the last session's text; leave out TEXT")
    state = last_session()
    if state is None:
        raise JournalError(f"no session to resume in {sessions_dir()}")
    saved = {k: v for k, v in state.header.options.items() if k in ("device", "fast", "backend")}
    session = dataclasses.replace(
        config, model=state.models[0] if state.models else config.model, top_k=state.header.top_k, **saved
    )
    resumed = build_parsers(session)["tui"].parse_args(argv)
    if resumed.compare is None and len(state.models) > 1:
        resumed.compare = state.models[1]  # the second pane of a comparison
    resumed.config, resumed.config_problem, resumed.resumed = config, args.config_problem, state
    return resumed


def _journal(resumed: SessionState | None, panes: list[EngineOptions], top_k: int) -> Journal:
    if resumed is not None:
        return Journal.reopen(resumed)
    fields = dataclasses.asdict(panes[0])  # both panes share every option but the model
    saved = {k: v for k, v in fields.items() if k not in ("model", "allow_pickle", "trust_remote_code")}
    return Journal.start([o.label for o in panes], top_k=top_k, options=saved)


def run_sessions(args: argparse.Namespace) -> int:
    found = list_sessions()
    if args.json:
        rows = [
            {**dataclasses.asdict(s), "path": str(s.path), "started": s.started.isoformat()} for s in found
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not found:
        print(f"no sessions yet in {sessions_dir()}")
        return 0
    print(f"{'started':<19}  {'changes':>7}  {'model':<24}  {'last text':<40}  path")
    for s in found:
        text = s.last_text if len(s.last_text) <= 40 else s.last_text[:39] + "…"
        started = s.started.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        print(f"{started:<19}  {s.changes:>7}  {s.model:<24}  {text:<40}  {s.path}")
    print(f"\nreopen the newest with: {PROG} --resume", file=sys.stderr)
    return 0


def run_config(args: argparse.Namespace) -> int:
    if args.what == "path":
        print(config_path())
        return 0
    if args.config_problem:
        print(f"{PROG}: error: {args.config_problem}", file=sys.stderr)
        return 1
    print(f"# {config_path()}" + ("" if config_path().exists() else " (not there: built-in defaults)"))
    print(args.config.as_toml(), end="")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    build_parsers(args.config)["tui"].parse_args(args.app_args)  # a bad app argument fails here, not per tab
    warning = exposure_warning(args.host, args.port)
    if warning:
        _warn(warning)
    try:
        serve(args.app_args, host=args.host, port=args.port, url=args.public_url)
    except OSError as exc:
        print(
            f"{PROG}: error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr
        )
        return 1
    return 0


PERSIST_RUNNERS = {"sessions": run_sessions, "config": run_config, "serve": run_serve}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 runtime error, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config, config_problem = load_config()
    parsers = build_parsers(config)
    command = argv[0] if argv and argv[0] in COMMANDS + PERSIST_COMMANDS else "tui"
    args = parsers[command].parse_args(argv[1:] if command != "tui" else argv)
    args.config, args.config_problem = config, config_problem
    runners = {"predict": run_predict, "score": run_score, "attention": run_attention, "tui": run_tui}
    runner = {**runners, **PERSIST_RUNNERS}[command]
    try:
        if command != "tui" and command != "config" and config_problem:
            _warn(config_problem)  # the app shows it as a notification instead
        if command == "tui":
            args = _resume(args, argv, config)
        return runner(args)
    except (EngineError, JournalError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's own flush at exit cannot complain
        return 0
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
