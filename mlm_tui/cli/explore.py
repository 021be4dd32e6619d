"""Headless forms of the app's exploration views: ``predict --joint``, ``predict --unmasked``, ``attention``."""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..bars import bar
from ..engine import shown_token
from .common import UsageError


def print_joint(result, *, as_json: bool, top: int | None) -> None:
    """Joint fills best first, the independent fill, and the best fill's steps."""
    if as_json:
        print(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
        return
    fills = result.fills[:top] if top else result.fills
    print(f"{'rank':>4}  {'log p':>8}  fill")
    for rank, fill in enumerate(fills, start=1):
        mark = "  (independent)" if fill.tokens == result.independent.tokens else ""
        print(f"{rank:>4}  {fill.log_prob:>8.3f}  {fill.sequence}{mark}")
    if result.independent not in fills:
        rank = result.fills.index(result.independent) + 1
        print(f"{rank:>4}  {result.independent.log_prob:>8.3f}  {result.independent.sequence}  (independent)")
    print("\nsteps of the best fill (most confident mask first):")
    for number, step in enumerate(result.steps, start=1):
        shown = shown_token(step.token_str)
        print(f"{number:>4}  token {step.position:<4} {shown:<16} {step.score:>8.2%}")


def print_unmasked(result, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([view.as_dict() for view in result.tokens], ensure_ascii=False, indent=2))
        return
    print(f"{'index':>5}  {'token':<14} {'p':>8} {'rank':>6} {'entropy':>8}  top predictions")
    for view in result.tokens:
        top = ", ".join(f"{shown_token(p.token_str)} {p.score:.0%}" for p in view.predictions)
        print(
            f"{view.index:>5}  {view.token:<14} {view.score:>8.2%} {view.rank:>6} {view.entropy:>8.3f}  {top}"
        )


def add_attention_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--position",
        "-p",
        type=int,
        required=True,
        metavar="N",
        help="the attending token's position, counting special tokens ([CLS] is 0)",
    )
    parser.add_argument(
        "--layer", "-l", type=int, default=None, metavar="L", help="layer, from 0 (default: the last)"
    )
    parser.add_argument(
        "--head", type=int, default=None, metavar="H", help="head, from 0 (default: the mean over heads)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def attention_output(result, layer: int | None, head: int | None) -> dict[str, object]:
    """The ``attention --json`` object; ``layer``/``head`` checked against the model."""
    if layer is None:
        layer = result.layers - 1
    if not 0 <= layer < result.layers:
        raise UsageError(f"--layer {layer}: the model has layers 0 to {result.layers - 1}")
    if head is not None and not 0 <= head < result.heads:
        raise UsageError(f"--head {head}: the model has heads 0 to {result.heads - 1}")
    weights = [None if math.isnan(w) else w for w in result.row(layer, head)]
    return {
        "tokens": list(result.tokens),
        "position": result.position,
        "layer": layer,
        "head": head,
        "weights": weights,
        "window": list(result.window),
    }


def print_attention(data: dict[str, object], *, as_json: bool, describe: str) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    tokens, weights = data["tokens"], data["weights"]
    assert isinstance(tokens, list) and isinstance(weights, list)
    head = "mean over heads" if data["head"] is None else f"head {data['head']}"
    print(
        f"attention paid by token {data['position']} ({tokens[data['position']]}), layer {data['layer']}, {head}"
    )
    print(f"{'index':>5}  {'token':<16} {'weight':>8}")
    for index, (token, weight) in enumerate(zip(tokens, weights, strict=True)):
        if weight is None:
            continue
        print(f"{index:>5}  {token:<16} {weight:>8.4f}  {bar(weight, 20)}")
    print(describe, file=sys.stderr)
