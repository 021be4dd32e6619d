"""``mlm-tui [TEXT]``: the explorer, and ``--resume``."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import threading

from .. import __version__
from ..config import Config
from ..engine import EngineError, EngineOptions
from ..journal import Journal, JournalError, SessionState, last_session, sessions_dir
from .common import PROG, _Parser, _read_text, _text_help, _top_k, engine_options


def parser(common: argparse.ArgumentParser, description: str, epilog: str) -> argparse.ArgumentParser:
    tui = _Parser(
        prog=PROG,
        description=description,
        epilog=epilog,
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
    tui.add_argument(
        "--index",
        default=None,
        metavar="DIR",
        help="an index folder (mlm-tui index) for the nearest-contexts view: n on a token lists its "
        "nearest contexts in the corpus",
    )
    tui.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

    return tui


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
    from ..app import make_app

    if args.text == "-" and not args.resume:
        args.text = _read_text("-")
        _keys_from_the_terminal()

    index = _open_index(args.index) if getattr(args, "index", None) else None
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
        index=index,
    )
    return _run_app(app, journal)


def _open_index(folder: str):
    """The index of ``--index``, opened before the app starts: a bad folder is one line, exit 2."""
    from .neighbours import open_index

    return open_index(folder)[0]


def _run_app(app, journal: Journal) -> int:
    try:
        app.run()
    finally:
        journal.close()
        for line in getattr(app, "kept", ()):  # where quitting kept a probe set's results
            print(f"{PROG}: {line}", file=sys.stderr)
    # Textual prints a crash's traceback and sets the return code to 1; q and ctrl+c exit 0, or 130
    # when they cut a probe set's run short (as the CLI interrupted by ctrl+c)
    status = app.return_code or 0
    busy = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    if busy:  # a model load or forward pass still running: do not wait for it on the way out
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


# --- Sessions, export, config file and the browser mode (issue 12) ----------------------------------


def resume(args: argparse.Namespace, argv: list[str], config: Config) -> argparse.Namespace:
    """With ``--resume``, parse again with the last session's model and options as defaults.

    Flags still win over the session, and the session over the config file.
    """
    from . import build_parsers

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


def run_results_app(args: argparse.Namespace, command: str) -> int:
    """``probe FILE`` / ``pairs FILE`` on a terminal: the results screen of the explorer.

    The explorer loads the model(s) as ``mlm-tui`` does, and the set runs through the same engine(s).
    """
    from ..app import make_app
    from ..probes.formats import FormatError
    from ..probes.sets import open_probe_set

    if args.bootstrap < 0:
        raise FormatError("--bootstrap must be 0 or more")
    others = args.compare or []  # probe/pairs' --compare: a list (B C …)
    probe_set = open_probe_set(
        args.file,
        command=command,
        format=args.format,
        relations=getattr(args, "relations", None),
        common_vocab=getattr(args, "common_vocab", None),
        top_k=getattr(args, "top_k", 10),
        pll=getattr(args, "pll", "original"),
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        max_item_tokens=args.max_item_tokens,
        n_boot=args.bootstrap,
        group_by=getattr(args, "group_by", None),
    )
    options = engine_options(args)
    compare = engine_options(args, others[0]) if others else None
    top_k = getattr(args, "top_k", 10)
    journal = _journal(None, [o for o in (options, compare) if o is not None], top_k)
    app = make_app(
        None,
        options=options,
        compare=compare,
        top_k=top_k,
        config=args.config,
        notices=[args.config_problem] if args.config_problem else [],
        journal=journal,
        export_dir=getattr(args, "export_dir", None),
        results=probe_set,
        results_models=[engine_options(args, other) for other in others[1:]],
    )
    return _run_app(app, journal)
