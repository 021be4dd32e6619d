"""``mlm-tui attention``: what one token attends to."""

from __future__ import annotations

import argparse

from .common import PROG, UsageError, _describe, _load, _Parser, _read_text, _text_help, _warn
from .explore import add_attention_parser, attention_output, print_attention


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    attention = _Parser(
        prog=f"{PROG} attention",
        description="What one token attends to: eager attention weights, as transformers' output_attentions=True.",
        parents=[common],
    )
    attention.add_argument("text", metavar="TEXT", help=_text_help("the sentence (it may hold [MASK]s)"))

    add_attention_parser(attention)
    return attention


def run_attention(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    engine = _load(args)
    encoding = engine.encode(text)
    if not 0 <= args.position < len(encoding.tokens):
        raise UsageError(
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
