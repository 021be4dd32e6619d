"""``mlm-tui neighbours``: the nearest contexts in an index to one token of a text, at one layer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..engine import shown_token
from ..inputs import InputError
from .common import PROG, UsageError, _load, _Parser, _read_text, _text_help, _top_k, _warn, engine_options


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    neighbours = _Parser(
        prog=f"{PROG} neighbours",
        description="The tokens of an index (mlm-tui index) whose vectors at a layer are nearest (cosine) to "
        "one token of TEXT: the corpus line, the token and its word, best first. The model is the index's "
        "own; --model names another copy of it (it must have the same vocabulary).",
        parents=[common],
    )
    neighbours.add_argument("index", metavar="DIR", help="the index folder")
    neighbours.add_argument("text", metavar="TEXT", help=_text_help("the sentence"))
    neighbours.add_argument(
        "--at",
        type=int,
        required=True,
        metavar="I",
        help="the token to look up, counting special tokens ([CLS] is 0), as `mlm-tui layers` numbers them",
    )
    neighbours.add_argument(
        "--layer", "-l", type=int, default=None, metavar="L", help="a layer of the index (default: its last)"
    )
    neighbours.add_argument("--top-k", "-k", type=_top_k, default=10, metavar="K", help="hits (default 10)")
    which = neighbours.add_mutually_exclusive_group()
    which.add_argument("--same-word", action="store_true", help="only occurrences of the same word")
    which.add_argument("--other-words", action="store_true", help="only tokens of other words")
    neighbours.add_argument("--json", action="store_true", help="print one JSON object")
    return neighbours


def open_index(folder: str, layer: int | None = None) -> tuple[Any, int]:
    """The index at ``folder`` (one line when it cannot be used; a warning when it is not finished) and
    ``layer`` (default its last; one line naming its layers when it has not that one)."""
    from ..index import Index, IndexError_

    try:
        index = Index(folder)
    except IndexError_ as exc:
        raise InputError(str(exc)) from None
    manifest = index.manifest
    chosen = manifest.layers[-1] if layer is None else layer
    try:
        index.check_layer(chosen)
    except IndexError_ as exc:
        raise UsageError(str(exc)) from None
    if not manifest.complete:
        _warn(
            f"the index is not finished: it holds lines 1 to {manifest.lines_read:,}; "
            "run the same mlm-tui index command again to continue it"
        )
    return index, chosen


def index_engine(args: argparse.Namespace, index: Any) -> Any:
    """The model of ``index``: its own (``manifest.model_path``, else its name), or ``--model`` when given,
    which must have the index's vocabulary."""
    manifest = index.manifest
    if args.model is None:
        args.model = manifest.model_path if os.path.isdir(manifest.model_path) else manifest.model
        engine = engine_options(args).load()
    else:
        engine = _load(args)
    if engine.info.vocab_digest != manifest.vocab_digest:
        raise InputError(
            f"{index.folder} was built with {manifest.model}; {engine.info.name} has another vocabulary "
            f"(digest {engine.info.vocab_digest[:12]}, the index's {manifest.vocab_digest[:12]})"
        )
    return engine


def run_neighbours(args: argparse.Namespace) -> int:

    text = _read_text(args.text) or ""
    if not text.strip():
        raise UsageError("the text is empty")
    index, layer = open_index(args.index, args.layer)
    manifest = index.manifest
    engine = index_engine(args, index)
    from ..engine import EngineError
    from ..engine.batch import encode_item, item_limit

    try:  # counted a stretch at a time first: a huge text is refused before its states are computed
        encoding = encode_item(engine, text, item_limit(engine.info))
    except EngineError as exc:
        raise UsageError(str(exc).replace(" (--max-item-tokens)", "")) from None
    count = len(encoding.tokens)
    if not 0 <= args.at < count:
        raise UsageError(f"--at {args.at}: the text has tokens 0 to {count - 1} (counting special tokens)")
    states = engine.hidden_states(encoding)
    if states.states.shape[2] != manifest.hidden_size or states.layers != manifest.model_layers + 1:
        raise InputError(
            f"{args.index} was built with {manifest.model} ({manifest.model_layers} layers of "
            f"{manifest.hidden_size}); {engine.info.name} is another model"
        )
    import numpy as np

    vector = np.asarray(states.states[layer, args.at], dtype=np.float32)
    if np.isnan(vector).any():
        raise UsageError(f"--at {args.at} is outside the window the model reads of this long text")
    token = encoding.tokens[args.at]
    word = _word(encoding, args.at)
    same = True if args.same_word else False if args.other_words else None
    hits = index.search(layer, vector, args.top_k, word=word, same_word=same)
    data: dict[str, Any] = {
        "layer": layer,
        "query": {"position": args.at, "token_str": token.text, "word": word},
        "hits": [
            {
                "line": h["line"],
                "text": h["text"],
                "position": h["position"],
                "token_str": h["token_str"],
                "word": h["word"],
                "score": h["score"],
                "start": h["start"],
                "end": h["end"],
            }
            for h in hits
        ],
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    _print_table(data, Path(args.index), index.approximate_search)
    return 0


def _word(encoding: Any, position: int) -> str:
    token = encoding.tokens[position]
    if token.special or token.word is None:
        return token.text
    spans = [(t.start, t.end) for t in encoding.tokens if t.word == token.word and not t.special]
    return encoding.text[min(s for s, _ in spans) : max(e for _, e in spans)]


def _context(text: str, start: int, end: int, width: int = 70) -> str:
    """The sentence with the token in [brackets], cut to about ``width`` characters around it."""
    marked = f"{text[:start]}[{text[start:end]}]{text[end:]}"
    if len(marked) <= width:
        return marked
    middle = start + (end - start) // 2
    lo = max(0, min(middle - width // 2, len(marked) - width))
    return ("…" if lo else "") + marked[lo : lo + width] + ("…" if lo + width < len(marked) else "")


def _print_table(data: dict[str, Any], folder: Path, approximate: bool) -> None:
    query = data["query"]
    print(
        f"layer {data['layer']} · token {query['position']} ({shown_token(query['token_str'])}, word {query['word']!r})"
    )
    if not data["hits"]:
        print("no hits")
        return
    print(f"{'#':>3}  {'cosine':>6}  {'line':>6}  {'token':<12} {'word':<14} context")
    for rank, hit in enumerate(data["hits"], start=1):
        print(
            f"{rank:>3}  {hit['score']:>6.3f}  {hit['line']:>6}  {shown_token(hit['token_str'])[:12]:<12} "
            f"{hit['word'][:14]:<14} {_context(hit['text'], hit['start'], hit['end'])}"
        )
    print(f"\n{folder} · {'approximate (HNSW)' if approximate else 'exact'} search", file=sys.stderr)
