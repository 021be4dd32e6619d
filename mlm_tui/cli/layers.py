"""``mlm-tui layers``: the MLM lens (the model's own head on every layer) and token similarity, headless."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..engine import MASK_ALIAS, shown_token
from ..export import _table, percent
from .common import PROG, UsageError, _describe, _load, _Parser, _read_text, _text_help, _top_k, _warn


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    layers = _Parser(
        prog=f"{PROG} layers",
        description="The MLM lens: the model's own MLM head applied to every layer's hidden state "
        "(layer 0 = the embeddings' output; the last layer equals predict), at each mask or at chosen "
        "tokens; with --similarity, the cosine similarity of every pair of tokens at each layer.",
        parents=[common],
    )
    layers.add_argument("text", metavar="TEXT", help=_text_help(f"the sentence (it may hold {MASK_ALIAS}s)"))
    layers.add_argument(
        "--at",
        type=int,
        action="append",
        default=None,
        metavar="I",
        help="the token to read, counting special tokens ([CLS] is 0); may be repeated (default: every mask)",
    )
    layers.add_argument(
        "--layer",
        "-l",
        type=int,
        action="append",
        default=None,
        metavar="L",
        help="only this layer (0 = embeddings); may be repeated (default: every layer)",
    )
    layers.add_argument(
        "--top-k", "-k", type=_top_k, default=3, metavar="K", help="tokens per layer (default 3)"
    )
    layers.add_argument(
        "--similarity",
        action="store_true",
        help="also the n x n cosine similarity of the tokens' vectors at each layer",
    )
    layers.add_argument(
        "--standardise",
        action="store_true",
        help="with --similarity: z-score each dimension over the tokens first (Timkey & van Schijndel 2021)",
    )
    output = layers.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object")
    output.add_argument("--markdown", action="store_true", help="print Markdown tables")
    return layers


def _number(value: float) -> float | None:
    """A float for JSON: NaN (outside the window) as null."""
    return None if math.isnan(value) else value


def run_layers(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    if not text.strip():
        raise UsageError(f"the text is empty: give a TEXT with {MASK_ALIAS} or choose tokens with --at")
    if args.standardise and not args.similarity:
        raise UsageError("--standardise goes with --similarity")
    engine = _load(args)
    encoding = engine.encode(text)
    count = len(encoding.tokens)
    positions = list(dict.fromkeys(args.at)) if args.at else list(encoding.mask_positions)
    if not positions and not args.similarity:
        raise UsageError(
            f"the text has no mask: write {MASK_ALIAS} where a word should be read, or choose tokens with --at I"
        )
    for position in positions:
        if not 0 <= position < count:
            raise UsageError(
                f"--at {position}: the text has tokens 0 to {count - 1} (counting special tokens)"
            )
    results = [engine.lens(encoding, position, top_k=args.top_k) for position in positions]
    states = engine.hidden_states(encoding) if args.similarity else None
    layer_count = len(results[0].layers) if results else states.layers  # type: ignore[union-attr]
    chosen = list(dict.fromkeys(args.layer)) if args.layer else list(range(layer_count))
    for layer in chosen:
        if not 0 <= layer < layer_count:
            raise UsageError(f"--layer {layer}: the model has layers 0 to {layer_count - 1} (0 = embeddings)")
    windows = {r.window for r in results} | ({states.window} if states is not None else set())
    if any(w != (0, count) for w in windows):
        _warn(
            f"the text is longer than {engine.info.max_length} tokens; the model read a window "
            "(around each token and the masks; similarity outside it is null)"
        )
    data: dict[str, Any] = {
        "model": engine.info.name,
        "tokens": [t.text for t in encoding.tokens],
        "ids": list(results[0].ids if results else states.ids),  # type: ignore[union-attr]
        "lens": [
            {
                "position": r.position,
                "token_str": encoding.tokens[r.position].text,
                "layers": [_layer_dict(r.layers[layer]) for layer in chosen],
            }
            for r in results
        ],
    }
    if states is not None:
        data["similarity"] = [
            {
                "layer": layer,
                "cosine": [
                    [_number(float(v)) for v in row]
                    for row in states.cosine(layer, standardise=args.standardise)
                ],
            }
            for layer in chosen
        ]
        if args.standardise:
            data["standardised"] = True
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    if args.markdown:
        print(_markdown(data, encoding.text), end="")
        return 0
    _print_plain(data, encoding.text)
    elapsed = sum(r.elapsed_ms for r in results) + (states.elapsed_ms if states is not None else 0.0)
    print(f"\n{_describe(engine)} · {elapsed:.0f} ms", file=sys.stderr)
    return 0


def _layer_dict(layer) -> dict[str, Any]:
    return {
        "layer": layer.layer,
        "top": [{"token": p.token, "token_str": p.token_str, "score": p.score} for p in layer.top],
        "entropy": layer.entropy,
        "kl_to_final": layer.kl_to_final,
        "final_rank": layer.final_rank,
        "final_prob": layer.final_prob,
    }


def _top_line(layer: dict[str, Any]) -> str:
    return ", ".join(f"{shown_token(t['token_str'])} {percent(t['score'])}" for t in layer["top"])


def _print_plain(data: dict[str, Any], text: str) -> None:
    print(text)
    for lens in data["lens"]:
        print(f"\ntoken {lens['position']} ({lens['token_str']})")
        print(f"{'layer':>5}  {'entropy':>7}  {'KL':>7}  {'final':>6}  {'p(final)':>9}  top")
        for layer in lens["layers"]:
            print(
                f"{layer['layer']:>5}  {layer['entropy']:>7.3f}  {layer['kl_to_final']:>7.3f}  "
                f"{'#' + str(layer['final_rank']):>6}  {percent(layer['final_prob']):>9}  {_top_line(layer)}"
            )
    for block in data.get("similarity", ()):
        print(f"\ncosine similarity at layer {block['layer']}")
        tokens = [shown_token(t)[:8] for t in data["tokens"]]
        print(" " * 9 + " ".join(f"{t:>8}" for t in tokens))
        for token, row in zip(tokens, block["cosine"], strict=True):
            cells = " ".join(f"{'' if v is None else f'{v:.3f}':>8}" for v in row)
            print(f"{token:>8} {cells}")


def _markdown(data: dict[str, Any], text: str) -> str:
    lines = [f"# mlm-tui layers: {data['model']}", "", f"- **Text:** {text}"]
    for lens in data["lens"]:
        lines += ["", f"## Token {lens['position']}: `{lens['token_str']}`", ""]
        rows = [
            (
                layer["layer"],
                _top_line(layer),
                f"{layer['entropy']:.3f}",
                f"{layer['kl_to_final']:.3f}",
                layer["final_rank"],
                percent(layer["final_prob"]),
            )
            for layer in lens["layers"]
        ]
        lines += _table(
            ("layer", "top", "entropy (nats)", "KL(final‖layer)", "rank of final top-1", "its p"),
            "rlrrrr",
            rows,
        )
    for block in data.get("similarity", ()):
        lines += ["", f"## Cosine similarity at layer {block['layer']}", ""]
        tokens = [shown_token(t) for t in data["tokens"]]
        rows = [
            (token, *("" if v is None else f"{v:.3f}" for v in row))
            for token, row in zip(tokens, block["cosine"], strict=True)
        ]
        lines += _table(("", *tokens), "l" + "r" * len(tokens), rows)
    return "\n".join(lines) + "\n"
