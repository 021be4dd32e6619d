"""``mlm-tui salience``: which input tokens make the model predict a word at the first mask."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..engine import MASK_ALIAS, EngineError, SalienceResult
from ..engine.salience import BASELINES, DEFAULT_STEPS, MAX_STEPS, METHODS, REFINED_STEPS, target_id
from ..export import _table
from .common import PROG, UsageError, _describe, _load, _Parser, _read_text, _text_help, _warn

_NAMES = {"ig": "integrated gradients", "grad-input": "gradient × input"}


def _steps(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {value!r}") from None
    if not 1 <= number <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_STEPS}, got {number}")
    return number


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    salience = _Parser(
        prog=f"{PROG} salience",
        description=f"Which input tokens make the model predict WORD at the first {MASK_ALIAS}: integrated "
        "gradients (midpoint Riemann sum, batched) or gradient × input of log p(WORD) with respect to "
        "the word embeddings, summed over the hidden dimension. Gradients need PyTorch: on the ONNX backend "
        "the PyTorch weights are loaded once.",
        parents=[common],
    )
    salience.add_argument("text", metavar="TEXT", help=_text_help(f"text with a {MASK_ALIAS}"))
    salience.add_argument(
        "--target",
        "-t",
        required=True,
        metavar="WORD",
        help="the word to explain at the first mask (one token in the model's vocabulary)",
    )
    salience.add_argument(
        "--method",
        choices=METHODS,
        default="ig",
        help="ig: integrated gradients (default); grad-input: gradient × input",
    )
    salience.add_argument(
        "--steps",
        type=_steps,
        default=None,
        metavar="N",
        help=f"integrated gradients: quadrature steps, run in batched passes (default {DEFAULT_STEPS}, "
        f"doubled up to {REFINED_STEPS} until the attributions add up to the difference within 1 %%)",
    )
    salience.add_argument(
        "--baseline",
        choices=BASELINES,
        default="mask",
        help="integrated gradients: every non-special token's word embedding replaced by the mask "
        "token's (mask, default) or by zeros (zero)",
    )
    output = salience.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--markdown", action="store_true", help="print a Markdown table")
    return salience


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def salience_output(result: SalienceResult, model: str) -> dict[str, object]:
    """The ``salience --json`` object (NaN, outside the window, as null)."""
    ig = result.method == "ig"
    return {
        "model": model,
        "tokens": list(result.tokens),
        "position": result.position,
        "target": {"token": result.target, "token_str": result.target_str, "log_prob": result.log_prob},
        "method": result.method,
        "steps": result.steps,
        "baseline": result.baseline if ig else None,
        "attributions": [_number(a) for a in result.attributions],
        "completeness": {
            "sum": _number(result.completeness[0]),
            "expected": _number(result.completeness[1]),
        },
    }


def _title(result: SalienceResult) -> str:
    how = _NAMES[result.method]
    if result.method == "ig":
        how += f", {result.steps} steps, {result.baseline} baseline"
    return (
        f"salience of {result.target_str.strip()!r} (log p {result.log_prob:.3f}) at token "
        f"{result.position} ({result.tokens[result.position]}): {how}"
    )


def _completeness(result: SalienceResult) -> str:
    total, expected = result.completeness
    return (
        f"completeness: sum {total:.4f}, log p(x) − log p(baseline) {expected:.4f} "
        f"({result.completeness_error:.2%} apart)"
    )


def _ranked(result: SalienceResult) -> list[tuple[int, str, float]]:
    """Tokens the model read, largest attribution first."""
    rows = [(i, t, a) for i, (t, a) in enumerate(zip(result.tokens, result.attributions, strict=True))]
    return sorted((r for r in rows if not math.isnan(r[2])), key=lambda r: (-r[2], r[0]))


def print_salience(result: SalienceResult, *, markdown: bool) -> None:
    rows = _ranked(result)
    if markdown:
        lines = [f"**{_title(result)}**", ""]
        lines += _table(
            ("rank", "index", "token", "attribution"),
            "rrlr",
            [(rank, i, token, f"{value:.4f}") for rank, (i, token, value) in enumerate(rows, start=1)],
        )
        if result.method == "ig":
            lines += ["", _completeness(result)]
        print("\n".join(lines))
        return
    print(_title(result))
    print(f"{'rank':>4}  {'index':>5}  {'token':<16} {'attribution':>11}")
    for rank, (index, token, value) in enumerate(rows, start=1):
        print(f"{rank:>4}  {index:>5}  {token:<16} {value:>11.4f}")
    if result.method == "ig":
        print(_completeness(result))


def run_salience(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    if not text.strip():
        raise UsageError(f"the text is empty: give a TEXT with a {MASK_ALIAS} where the target would go")
    if not args.target.strip():
        raise UsageError("--target needs a word")
    engine = _load(args)
    encoding = engine.encode(text)
    if not encoding.mask_positions:
        raise UsageError(f"the text has no mask: write {MASK_ALIAS} where the target word would go")
    position = encoding.mask_positions[0]
    try:  # a word of several pieces or none, refused (exit 1, as a --position the text lacks) before any wait
        target = target_id(engine.text, engine.info, encoding, position, args.target)
    except EngineError as exc:
        raise EngineError(f"--target: {exc}") from None
    if engine.salience_loads_weights:  # said before the wait, as the issue asks
        print(
            f"{PROG}: note: salience needs gradients: loading the PyTorch weights of {engine.info.name} once",
            file=sys.stderr,
        )
    result = engine.salience(
        encoding,
        position,
        target,
        method=args.method,
        steps=args.steps,
        baseline=args.baseline,
    )
    if any(math.isnan(a) for a in result.attributions):
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; the model read a window around the "
            "mask (others are null)"
        )
    if args.json:
        print(json.dumps(salience_output(result, engine.info.name), ensure_ascii=False, indent=2))
        return 0
    print_salience(result, markdown=args.markdown)
    print(f"\n{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0
