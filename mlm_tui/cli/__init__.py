"""Command line, one module per command: ``mlm-tui [TEXT]`` opens the explorer; ``predict`` and ``score`` answer headless.

Everything here but the TUI launch runs on :mod:`mlm_tui.engine`, so any
number the app shows can be reproduced in a script. torch is imported only
once a model is loaded, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence

from ..config import Config, load_config
from ..engine import BUNDLED_MODEL, DEFAULT_MODEL, MASK_ALIAS, EngineError, cache_dir
from ..inputs import InputError
from ..journal import JournalError
from . import (
    attention,
    contextuality,
    index,
    layers,
    neighbours,
    pairs,
    persist,
    predict,
    probe,
    salience,
    score,
    senses,
    tui,
)
from .common import PROG, UsageError, _model_options, _warn, engine_options

__all__ = ["PROG", "build_parsers", "engine_options", "main"]

COMMANDS = (
    "predict",
    "score",
    "attention",
    "probe",
    "pairs",
    "layers",
    "salience",
    "contextuality",
    "index",
    "neighbours",
    "senses",
)
PERSIST_COMMANDS = ("sessions", "config", "serve")
EXAMPLE = "Paris is the capital of France."

DESCRIPTION = f"""\
A keyboard-driven terminal explorer for masked language models (BERT-style fill-mask).

  mlm-tui [TEXT]                 open the explorer on TEXT
  mlm-tui [TEXT] --compare B     open it with a second model B beside --model
  mlm-tui predict TEXT           top-k predictions at each {MASK_ALIAS} (pipeline("fill-mask") format with --json)
  mlm-tui score TEXT             pseudo-log-likelihood and surprisal of every token
  mlm-tui score --file PATH      the same for every line of a file, as JSON lines
  mlm-tui score --file PATH --ray   the same on Ray: a local Ray, or a cluster (pip install 'mlm-tui[ray]')
  mlm-tui predict TEXT --joint   fills of every mask that fit together (beam search, joint log p)
  mlm-tui predict TEXT --unmasked  what the model predicts at every token, nothing masked
  mlm-tui attention TEXT -p N    what token N attends to (a layer, a head or the mean over heads)
  mlm-tui layers TEXT            the MLM lens: the model's head on every layer at each mask (--similarity too)
  mlm-tui salience TEXT -t WORD  which tokens make the model predict WORD at the first {MASK_ALIAS}
  mlm-tui contextuality CORPUS   how contextual each layer is: self-similarity, intra-sentence, MEV, baseline
  mlm-tui index CORPUS -o DIR    every token's vector at chosen layers, in a searchable index folder
  mlm-tui neighbours DIR TEXT --at I   the nearest contexts in an index to token I of TEXT
  mlm-tui senses DIR WORD        a word's occurrences in an index: PCA scatter, k-means senses, typical fills
  mlm-tui probe FILE             cloze probes (LAMA, TSV/JSONL): P@1, P@k, MRR per group
  mlm-tui pairs FILE             minimal pairs (BLiMP) by PLL; CrowS-Pairs as its metric.py
  mlm-tui --resume               reopen the last session (text, masks, model, undo history)
  mlm-tui sessions               list the saved sessions
  mlm-tui config path|show       where the config file is, and what it sets
  mlm-tui serve [ARGS]           the explorer in a browser (http://127.0.0.1:8000)

Run `mlm-tui COMMAND --help` (predict, score, attention, layers, salience, contextuality, index,
neighbours, senses, probe, pairs) for their options.
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
  mlm-tui salience "Paris is the [MASK] of France." --target capital --json
  mlm-tui predict "Paris is the [MASK] of France." --model bert-base-uncased --compare roberta-base
"""


def build_parsers(config: Config | None = None) -> dict[str, argparse.ArgumentParser]:
    """The parsers of every command; ``config`` supplies the defaults that flags override."""
    common = _model_options()
    parsers: dict[str, argparse.ArgumentParser] = {
        "tui": tui.parser(common, DESCRIPTION, EPILOG),
        "predict": predict.parser(common),
        "score": score.parser(common),
        "attention": attention.parser(common),
        "probe": probe.parser(common),
        "pairs": pairs.parser(common),
        "salience": salience.parser(common),
        "contextuality": contextuality.parser(common),
    }
    parsers.update(persist.persist_parsers(parsers, config or Config()))
    parsers["layers"] = layers.parser(common)
    parsers["index"] = index.parser(common)
    parsers["neighbours"] = neighbours.parser(common)
    parsers["senses"] = senses.parser(common)
    defaults = (config or Config()).cli_defaults()
    defaults.pop("top_k", None)  # the lens shows 3 per layer unless -k says otherwise
    parsers["layers"].set_defaults(**defaults)
    return parsers


RUNNERS = {
    "predict": predict.run_predict,
    "score": score.run_score,
    "attention": attention.run_attention,
    "layers": layers.run_layers,
    "probe": probe.run_probe,
    "pairs": pairs.run_pairs,
    "salience": salience.run_salience,
    "contextuality": contextuality.run_contextuality,
    "index": index.run_index,
    "neighbours": neighbours.run_neighbours,
    "senses": senses.run_senses,
    "tui": tui.run_tui,
    "sessions": persist.run_sessions,
    "config": persist.run_config,
    "serve": persist.run_serve,
}


class Terminated(BaseException):
    """SIGTERM, raised where the command is, so that it ends as Ctrl+C does: what is finished is written
    and flushed, temporary files and Ray are cleaned up, and the exit status is 143 (128 + 15)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM becomes :class:`Terminated` while a command runs (only the main thread can set a handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 runtime error, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    config, config_problem = load_config()
    parsers = build_parsers(config)
    command = argv[0] if argv and argv[0] in COMMANDS + PERSIST_COMMANDS else "tui"
    args = parsers[command].parse_args(argv[1:] if command != "tui" else argv)
    args.config, args.config_problem = config, config_problem
    runner = RUNNERS[command]
    with _sigterm_as_exit() if command in COMMANDS else contextlib.nullcontext():
        return _run(command, runner, args, argv, config, config_problem)


def _run(
    command: str, runner, args: argparse.Namespace, argv: list[str], config: Config, config_problem
) -> int:
    try:
        if command != "tui" and command != "config" and config_problem:
            _warn(config_problem)  # the app shows it as a notification instead
        if command == "tui":
            args = tui.resume(args, argv, config)
        return runner(args)
    except UsageError as exc:
        print(
            f"{PROG}: error: {exc} (see {PROG} {'' if command == 'tui' else command + ' '}--help)",
            file=sys.stderr,
        )
        return 2
    except (EngineError, JournalError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
    except InputError as exc:  # a file that cannot be read at all (probes.formats.FormatError is one)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Terminated:
        return 128 + signal.SIGTERM
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
