"""What every command shares: the parser class, the model options, loading an engine, messages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..engine import BACKENDS, BUNDLED_MODEL, DEFAULT_MODEL, FAST_MODES, EngineError, EngineOptions

PROG = "mlm-tui"


class UsageError(EngineError):
    """The command line asks for something it cannot (flags that do not go together, no mask): exit 2."""


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


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return number


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]``, ``--workers``, ``--gpus-per-worker``: for the batch commands (see :func:`ray_cluster`)."""
    group = parser.add_argument_group("Ray (pip install 'mlm-tui[ray]')")
    group.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on Ray, with the same output: a local Ray started for this run, or join the cluster at "
        "ADDRESS (or RAY_ADDRESS); the model must be readable at the same path on every node",
    )
    group.add_argument(
        "--workers",
        type=_top_k,
        default=None,
        metavar="N",
        help="Ray workers, one model each (default: the cores, or what the cluster holds); one thread each",
    )
    group.add_argument(
        "--gpus-per-worker",
        type=_positive,
        default=0.0,
        metavar="G",
        help="GPUs per Ray worker: workers run PyTorch on cuda (default 0: ONNX Runtime on the CPU)",
    )


def ray_cluster(args: argparse.Namespace):
    """Where ``--ray`` runs the work, or ``None`` without ``--ray`` (then --workers and --gpus-per-worker are errors)."""
    if args.ray is None:
        if args.workers is not None or args.gpus_per_worker:
            raise UsageError("--workers and --gpus-per-worker need --ray")
        return None
    from ..distributed import Cluster, import_ray

    import_ray()  # one line saying how to install it, before a model is loaded
    gpus = args.gpus_per_worker or (
        1.0 if args.device.startswith("cuda") else 0.0
    )  # --device cuda: a GPU each
    return Cluster(address=args.ray or None, workers=args.workers, gpus_per_worker=gpus)


def _text_help(what: str) -> str:
    return f"{what}; use - to read it from standard input"


def _read_text(text: str | None) -> str | None:
    if text == "-":  # decoded as every file is (mlm_tui.inputs)
        from ..inputs import open_text

        return open_text("-", warn=_warn).read().strip()
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


def _slow_stage(stage: str) -> None:
    """Say on a terminal's stderr when loading starts something slow that happens once (the ONNX export).

    Only on a terminal, as the progress bar of ``score --file``: a script reading stderr gets errors only.
    """
    if stage.startswith("exporting") and sys.stderr.isatty():
        print(f"{PROG}: {stage}; this takes a few seconds", file=sys.stderr, flush=True)


def _load(args: argparse.Namespace, model: str | None = None):
    engine = engine_options(args, model).load(_slow_stage)
    _report(engine.info.notes, engine.info.warnings)
    return engine


def _report(notes: Sequence[str], warnings: Sequence[str]) -> None:
    """What the user should know about the model loaded, on stderr."""
    for note in notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    for warning in warnings:
        _warn(warning)


def _describe(engine) -> str:
    info = engine.info
    return f"{info.name} · {info.device} · {info.dtype} · {'ONNX Runtime' if info.backend == 'onnx' else 'PyTorch'}"
