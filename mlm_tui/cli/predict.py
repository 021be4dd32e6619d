"""``mlm-tui predict``: the fill-mask pipeline's predictions, targets, joint fills, the unmasked view."""

from __future__ import annotations

import argparse
import json
import sys

from ..bars import bar
from ..engine import MASK_ALIAS, EngineError, shown_token
from ..export import SEVERAL_PIECES, export_data, percent, render_markdown
from .common import PROG, UsageError, _describe, _load, _Parser, _read_text, _text_help, _top_k, _warn
from .explore import print_joint, print_unmasked


def parser(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
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
    return predict


def run_predict(args: argparse.Namespace) -> int:
    text = _read_text(args.text) or ""
    if not text.strip():
        raise UsageError(f"the text is empty: give a TEXT with {MASK_ALIAS} where a word should be predicted")
    targets = [t.strip() for t in (args.targets or "").split(",") if t.strip()]
    if args.targets is not None and not targets:
        raise UsageError("--targets needs at least one word")
    if args.compare:
        if args.joint or args.unmasked:
            raise UsageError("--compare cannot be combined with --joint or --unmasked")
        return run_predict_compare(args, text, targets)
    if args.joint and args.unmasked:
        raise UsageError("choose --joint or --unmasked, not both")
    if (args.joint or args.unmasked) and (targets or args.markdown):
        raise UsageError("--targets and --markdown work with plain predictions, not --joint or --unmasked")
    engine = _load(args)
    encoding = engine.encode(text)
    masked: list[int] = []
    for word in args.mask_word:
        masked.extend(_find_word(encoding, word))
    if not args.unmasked and not masked and not encoding.mask_positions:
        raise UsageError(
            f"the text has no mask: write {MASK_ALIAS} where a word should be predicted, "
            "or use --mask-word WORD (--unmasked reads the text as it is)"
        )
    if args.unmasked:
        if masked:
            raise UsageError("--unmasked reads the text as it is; drop --mask-word")
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
                rank = f"{t.rank}*" if len(t.pieces) > 1 else str(t.rank)
                print(f"{rank:>6}  {t.target:<16} {pieces:<24} {percent(t.score):>9}  {t.log_prob:>8.3f}")
            if any(len(t.pieces) > 1 for t in rows):
                print(f"{'':>6}  * {SEVERAL_PIECES}")
        else:
            print(f"{'rank':>4}  {'token':<16} {'prob':>8}")
            for rank, p in enumerate(rows, start=1):
                shown = shown_token(p.token_str)
                print(f"{rank:>4}  {shown:<16} {p.score:>8.2%}  {bar(p.score, 20)}")
    print(f"\n{_describe(engine)} · {result.elapsed_ms:.0f} ms", file=sys.stderr)
    return 0


def run_predict_compare(args: argparse.Namespace, text: str, targets: list[str]) -> int:
    """``predict --compare B``: both models at the same masks, paired by the characters they cover."""
    from ..engine.compare import compare_masks
    from ..session import TextMap, pair_spans

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
                    shown = shown_token(row["token_str"])
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
