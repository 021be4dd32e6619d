"""``sessions``, ``config`` and ``serve``; config defaults and the persistence options (issue 12)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ..config import Config, config_path
from ..engine import BUNDLED_MODEL, DEFAULT_MODEL
from ..journal import list_sessions, sessions_dir
from ..serve import DEFAULT_HOST, DEFAULT_PORT, exposure_warning, serve
from .common import PROG, _Parser, _top_k, _warn


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


def persist_parsers(
    parsers: dict[str, argparse.ArgumentParser], config: Config
) -> dict[str, argparse.ArgumentParser]:
    """Config defaults on the model commands, their new options, and the commands of issue 12."""
    defaults = config.cli_defaults()
    top_k = defaults.pop("top_k", None)
    for name in ("tui", "predict", "score", "attention", "probe", "pairs", "salience"):
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


def _cut(text: str, width: int, *, keep_end: bool = False) -> str:
    """``text`` in at most ``width`` characters (a long model path keeps its end, where its name is)."""
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1) :] if keep_end else text[: width - 1] + "…"


def run_sessions(args: argparse.Namespace) -> int:
    problems: list[str] = []
    found = list_sessions(problems=problems)
    if problems:  # one line, whatever the output format: the listing itself stays parseable
        _warn("; ".join(problems))
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
        text = _cut(" ".join(s.last_text.split()), 40)
        started = s.started.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        print(f"{started:<19}  {s.changes:>7}  {_cut(s.model, 24, keep_end=True):<24}  {text:<40}  {s.path}")
    print(f"\nreopen the newest with: {PROG} --resume", file=sys.stderr)
    return 0


def run_config(args: argparse.Namespace) -> int:
    if args.what == "path":
        print(config_path())
        return 0
    if args.config_problem:
        print(f"{PROG}: error: {args.config_problem}", file=sys.stderr)
        return 1
    config, problems = args.config, ()
    if config.keys:  # the keys in force: an override that clashes or names no action is not applied
        from ..app import MlmApp
        from ..keymap import check_keymap

        checked = check_keymap(config.keys, MlmApp.binding_contexts())
        config, problems = dataclasses.replace(config, keys=checked.keymap), checked.problems
    print(f"# {config_path()}" + ("" if config_path().exists() else " (not there: built-in defaults)"))
    shown = config.as_toml()
    if shown.strip():
        print(shown, end="")
    unset = [line for name, line in BUILT_IN.items() if getattr(config, name) in (None, {})]
    if unset:
        print("# built-in defaults in effect (the file does not set them):")
        print("\n".join(f"# {line}" for line in unset))
    for problem in problems:  # the app shows the same lines in one notification and runs on
        print(
            f"{PROG}: error: config file {config_path()}: {problem.removeprefix('config ')}", file=sys.stderr
        )
    return 1 if problems else 0


BUILT_IN = {
    "model": f'model = "{DEFAULT_MODEL}"  # when cached or downloadable, else "{BUNDLED_MODEL}"',
    "top_k": "top_k = 10",
    "device": 'device = "cpu"',
    "backend": 'backend = "auto"  # ONNX Runtime once exported, else PyTorch',
    "fast": "fast = false  # exact float32",
    "theme": 'theme = "textual-dark"',
    "keys": "[keys]: none changed (the binding ids are listed in docs/sessions.md)",
}
"""What applies when the config file does not set a setting (``config show`` prints them as comments)."""


def run_serve(args: argparse.Namespace) -> int:
    from . import build_parsers

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
