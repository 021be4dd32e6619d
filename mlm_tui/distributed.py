"""The batch commands on Ray (``--ray``): one engine per actor, one output in input order.

No Textual here, and no Ray at import: ``ray`` is imported only when :func:`run` starts
(``pip install 'mlm-tui[ray]'``), so plain commands never load it.

How a run flows:

1. :func:`prepare` (on the driver, before Ray starts): the model is resolved to a local folder
   (and, for CPU workers, its ONNX graph exported once), so actors load a path, not a name.
2. :func:`run` spools the records, ``(line_number, item)`` with JSON items, into a temporary
   file, one line per chunk, and keeps only each chunk's offset and line numbers: memory stays
   flat whatever the size of the input.
3. A Ray Data dataset of those chunks goes through ``map_batches`` with :class:`_Worker`, a
   callable class holding one engine per actor (ONNX Runtime with one thread on CPU actors,
   PyTorch on GPU actors). An actor fetches its chunk from a reader actor pinned to the driver's
   node (so the input need not be on shared storage) and calls ``work.function(engine, records,
   **work.params)``: the same function, on the same chunk, as the command without ``--ray``,
   so the forward batches, and so the numbers, are the same.
4. The driver reads the chunks back in input order (``preserve_order``), checks their line
   numbers against what it sent (none lost, none written twice), and yields them one by one.

An actor that dies is restarted and its chunk run again (Ray Data's actor pools retry by
default). Ray's own messages go to a log file, not the terminal; the progress bar and our
errors still reach the terminal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from .engine import EngineError, EngineOptions

INSTALL_HINT = "--ray needs Ray, which is not installed: pip install 'mlm-tui[ray]'"
PASSED_ENVIRONMENT = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "MLM_TUI_CACHE_DIR",
)
"""What the actors inherit from the driver's environment (workers of a joined cluster do not otherwise)."""

Record = tuple[int, Any]
"""An input line's number and its item (any JSON value)."""
BatchFunction = Callable[..., Iterable[Any]]
"""``function(engine, records, **params)``: one JSON value per record, in order (see :class:`Work`)."""


@dataclass(frozen=True)
class Cluster:
    """Where the work runs: a local Ray started for the run, or a cluster joined at ``address``."""

    address: str | None = None
    """``None``: ``RAY_ADDRESS`` when set, else a local Ray for this run only."""
    workers: int | None = None
    """Actors; ``None``: the cores (local), or what the cluster's CPUs (GPUs) hold."""
    gpus_per_worker: float = 0.0
    """0: CPU actors on ONNX Runtime, one thread each; more: GPU actors on PyTorch."""


@dataclass(frozen=True)
class Work:
    """What every actor does, picklable: build an engine, then ``function`` on each chunk.

    ``function`` must be a module-level function (actors import it by name); it is called as
    ``function(engine, records, **params)`` with ``records`` a list of ``[line_number, item]``
    and must return (or yield) exactly one JSON-serialisable value per record, in order:
    the same values, from the same chunks, as the command computes without ``--ray``.
    """

    options: EngineOptions
    """What each actor loads: ``model`` is a local folder resolved by the driver."""
    model_name: str
    """What results call the model (the name the user gave, not the folder)."""
    function: BatchFunction
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """The driver's notes about the model (e.g. the bundled model stands in), for the command to print."""
    warnings: tuple[str, ...] = ()


def chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """``records`` cut into lists of ``size``: the unit of work with and without Ray alike."""
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def stream(
    records: Iterable[Record],
    *,
    chunk: int,
    ray: tuple[Work, Cluster] | None = None,
    engine: Any = None,
    function: BatchFunction | None = None,
    **params: Any,
) -> Generator[Any, None, None]:
    """The value of every record, in input order: ``function`` on each chunk here, or ``ray``'s work on Ray.

    The one loop the batch commands share, so that the chunks, and so the forward batches and
    the numbers, are the same with and without ``--ray``. With ``ray`` (:func:`prepare`'s work
    and where to run it) ``engine``, ``function`` and ``params`` are unused: the work holds them.
    Close the iterator to stop early (Ray's work stops with it).
    """
    if ray is not None:
        work, cluster = ray
        with contextlib.closing(run(work, records, cluster=cluster, chunk=chunk)) as results:
            yield from (value for _, value in results)
        return
    assert function is not None
    for part in chunks(records, chunk):
        yield from function(engine, part, **params)


def import_ray() -> Any:
    """The ``ray`` module with Ray Data, or an :class:`EngineError` saying how to install it."""
    try:
        import ray
        import ray.data  # pandas and pyarrow: the [data] extra
    except ImportError:
        raise EngineError(INSTALL_HINT) from None
    return ray


def prepare(
    options: EngineOptions, cluster: Cluster, function: BatchFunction, *, engine: Any = None, **params: Any
) -> Work:
    """Resolve the model on the driver: actors get its folder, and every error is one line, before Ray starts.

    For CPU actors the engine is loaded here once, so that an ONNX graph is exported once (into
    the cache the actors of this machine share) and a model that cannot be exported runs on
    PyTorch everywhere. GPU actors run PyTorch on ``cuda``. ``engine``: the engine the driver
    has already loaded from ``options`` (CPU actors), so it is not loaded twice.
    """
    from .engine.loading import resolve_model

    if cluster.gpus_per_worker > 0:
        resolved = resolve_model(options.model, allow_pickle=options.allow_pickle)
        device = options.device if options.device.startswith("cuda") else "cuda"
        actor = dataclasses.replace(options, model=str(resolved.path), device=device, backend="torch")
        notes = (resolved.note,) if resolved.note else ()
        return Work(actor, resolved.name, function, dict(params), notes)
    engine = engine if engine is not None else options.load()
    info = engine.info
    actor = dataclasses.replace(options, model=info.path, backend=info.backend, threads=1)
    return Work(actor, info.name, function, dict(params), info.notes, info.warnings)


def run(
    work: Work, records: Iterable[Record], *, cluster: Cluster, chunk: int
) -> Generator[Record, None, None]:
    """``(line_number, value)`` for every record, in input order, computed by Ray actors.

    ``chunk``: records per task, as the command without Ray groups them. While it runs,
    ``sys.stdout`` is Ray's log (see :func:`_quiet_ray`): write to a stream taken before. Raises
    :class:`EngineError` (one line) when Ray is missing or fails. Close the iterator (or let it
    end) to stop: the work started for it stops and a local Ray shuts down.
    """
    yield from run_parts(work, chunks(records, chunk), cluster=cluster)


def run_parts(
    work: Work, parts: Iterable[list[Record]], *, cluster: Cluster
) -> Generator[Record, None, None]:
    """:func:`run` on records already cut into ``parts``, one task each (sizes may differ, none empty)."""
    ray = import_ray()
    folder = Path(tempfile.mkdtemp(prefix="mlm-tui-ray-"))
    log = folder / "ray.log"
    error: str | None = None
    try:
        spool, spans = _spool_parts(parts, folder / "records.jsonl")
        with _quiet_ray(log):
            try:
                _connect(ray, cluster, log)
                yield from _results(ray, work, cluster, spool, spans)
            except EngineError as exc:
                error = str(exc)
            except Exception as exc:
                error = f"Ray failed: {_root_cause(exc)}"
            finally:
                ray.shutdown()
        if error is not None and log.stat().st_size:
            raise EngineError(f"{error} (Ray's log: {log})")
        if error is not None:
            raise EngineError(error)
    finally:
        for path in folder.iterdir():
            if error is None or path != log or not path.stat().st_size:
                path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()  # kept when it holds the log of a failed run


@dataclass(frozen=True)
class _Span:
    """One chunk in the spool file: where it is, and which line numbers it holds."""

    offset: int
    length: int
    first: int
    last: int
    count: int


def _spool(records: Iterable[Record], path: Path, size: int) -> tuple[Path, list[_Span]]:
    return _spool_parts(chunks(records, size), path)


def _spool_parts(parts: Iterable[list[Record]], path: Path) -> tuple[Path, list[_Span]]:
    spans = []
    with open(path, "wb") as spool:
        for part in parts:
            data = (json.dumps(part, ensure_ascii=True) + "\n").encode("ascii")
            spans.append(_Span(spool.tell(), len(data), part[0][0], part[-1][0], len(part)))
            spool.write(data)
    return path, spans


@contextlib.contextmanager
def _quiet_ray(log: Path) -> Iterator[None]:
    """Ray's messages to ``log``; the terminal keeps the progress bar and our messages.

    Ray writes from its processes, C++ threads and Python loggers to file descriptor 2,
    the errors it relays from the cluster (a worker died...) to ``sys.stdout``, where the
    output goes, and Python warnings to ``sys.stderr``. So while Ray runs: descriptor 2 points
    at the log, ``sys.stderr`` is a stream on the original descriptor 2, ``sys.stdout`` is the
    log (a command writes its output to the stream it took before, e.g. ``out = sys.stdout``
    before :func:`run`), and warnings go to the log.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    original_out, original_err = sys.stdout, sys.stderr
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 2)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding=original_err.encoding, errors="replace")
    relayed = open(log, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stdout, sys.stderr = relayed, terminal
    show = warnings.showwarning  # Ray's warnings (Python's) go to the log too

    def to_log(
        message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        relayed.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = to_log
    try:
        yield
    finally:
        warnings.showwarning = show
        sys.stdout, sys.stderr = original_out, original_err
        terminal.close()
        relayed.close()
        os.dup2(saved, 2)
        os.close(saved)


def _connect(ray: Any, cluster: Cluster, log: Path) -> None:
    import logging

    environment = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    # Actors import this copy of mlm_tui (a source checkout too), not another one on their path.
    here = str(Path(__file__).resolve().parent.parent)
    environment["PYTHONPATH"] = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)
    common = {
        "runtime_env": {"env_vars": environment},
        "log_to_driver": False,
        "logging_level": logging.ERROR,
    }
    address = cluster.address or os.environ.get("RAY_ADDRESS") or None
    where = f"the Ray cluster at {address}" if address else "a local Ray"
    try:
        if address:
            _check_reachable(address)
            # Ray retries a cluster that does not answer for minutes; a few seconds say enough.
            os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "3")
            ray.init(address=address, **common)
        else:
            workers = cluster.workers or os.cpu_count() or 1
            ray.init(address="local", num_cpus=workers, include_dashboard=False, **common)
    except EngineError:
        raise
    except Exception as exc:
        why = _root_cause(exc)
        if "InvalidAuthToken" in _tail(log):
            why = "it asks for a token: export RAY_AUTH_MODE=token (the token in ~/.ray/auth_token or RAY_AUTH_TOKEN)"
        raise EngineError(
            f"cannot join {where}: {why}" if address else f"cannot start {where}: {why}"
        ) from None
    logging.getLogger("ray").setLevel(logging.ERROR)


def _check_reachable(address: str) -> None:
    """Fail at once, in one line, when nothing listens at ``HOST:PORT`` (Ray itself would retry for a while)."""
    import socket

    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto", ray:// and other forms are Ray's to understand
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as exc:
        raise EngineError(
            f"cannot join the Ray cluster at {address}: {exc.strerror or exc} "
            "(start one with `ray start --head`, or leave out the address for a local Ray)"
        ) from None


def _tail(log: Path, size: int = 20_000) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, log.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _pool_size(ray: Any, cluster: Cluster) -> int:
    if cluster.workers:
        return cluster.workers
    resources = ray.cluster_resources()
    if cluster.gpus_per_worker > 0:
        size = int(resources.get("GPU", 0) // cluster.gpus_per_worker)
        if size < 1:
            raise EngineError(f"the Ray cluster has no GPU for --gpus-per-worker {cluster.gpus_per_worker:g}")
        return size
    return max(1, int(resources.get("CPU", 1)))


def _results(ray: Any, work: Work, cluster: Cluster, spool: Path, spans: Sequence[_Span]) -> Iterator[Record]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if not spans:
        return
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    here = ray.get_runtime_context().get_node_id()
    reader = (
        ray.remote(_Reader)
        .options(
            num_cpus=0,
            max_restarts=-1,
            max_task_retries=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
        )
        .remote(str(spool))
    )
    rows = [{"offset": s.offset, "length": s.length} for s in spans]
    resources = {"num_gpus": cluster.gpus_per_worker} if cluster.gpus_per_worker > 0 else {}
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        _Worker,
        fn_constructor_kwargs={"work": work, "reader": reader},
        batch_size=1,  # one chunk per call: a dead actor's chunk is what runs again
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(_pool_size(ray, cluster), len(spans))),
        num_cpus=1,
        **resources,
    )
    rows = iter(dataset.iter_rows())
    try:
        yield from in_order((json.loads(row["chunk"]) for row in rows), spans)
    finally:
        # Stop Ray Data's executor now, before the caller shuts Ray down: a consumer that stops early
        # (Ctrl+C) would otherwise leave it to the garbage collector, after ray.shutdown().
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def in_order(parts: Iterable[list[list[Any]]], spans: Sequence[_Span]) -> Iterator[Record]:
    """The records of ``parts`` (chunks of ``[line_number, value]`` back from Ray), checked against ``spans``.

    Each chunk must hold exactly the line numbers sent in its place; a chunk that comes again
    (its task ran twice) is dropped; anything else stops the run with an :class:`EngineError`,
    so that no line is lost or written twice.
    """
    expected = iter(spans)
    last: int | None = None
    for part in parts:
        if last is not None and part and part[0][0] <= last:
            continue  # a chunk delivered twice: written already
        span = next(expected, None)
        numbers = [number for number, _ in part] or [None]
        if span is None or (numbers[0], numbers[-1], len(part)) != (span.first, span.last, span.count):
            where = f"lines {span.first}-{span.last}" if span else "no more lines"
            raise EngineError(
                f"Ray returned lines {numbers[0]}-{numbers[-1]} where {where} were expected; "
                "stopped so that no line is lost or written twice"
            )
        yield from ((number, value) for number, value in part)
        last = span.last
    missing = next(expected, None)
    if missing is not None:
        raise EngineError(f"Ray returned nothing for lines {missing.first} and after")


class _Reader:
    """Serves chunks of the spool file from the driver's node, so actors anywhere can read them."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as spool:
            spool.seek(offset)
            return spool.read(length)


class _Worker:
    """One engine per actor; each call runs ``work.function`` on one chunk (see :class:`Work`)."""

    def __init__(self, work: Work, reader: Any) -> None:
        self.engine = work.options.load()
        # Loaded from a folder, the engine would call the model by the folder's path.
        self.engine.info = dataclasses.replace(self.engine.info, name=work.model_name)
        self.work = work
        self.reader = reader

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np
        import ray

        out = []
        for offset, length in zip(batch["offset"], batch["length"], strict=True):
            records = json.loads(ray.get(self.reader.read.remote(int(offset), int(length))))
            values = list(self.work.function(self.engine, records, **self.work.params))
            if len(values) != len(records):
                raise RuntimeError(f"{len(values)} results for {len(records)} records")
            pairs = [[number, value] for (number, _), value in zip(records, values, strict=True)]
            out.append(json.dumps(pairs, ensure_ascii=False, allow_nan=True))
        return {"chunk": np.array(out, dtype=object)}


_RAISED = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Interrupt)): (.+)$")
_WRAPPERS = {"RayTaskError", "UserCodeException", "RayError", "RayActorError", "ActorDiedError"}


def _root_cause(exc: BaseException) -> str:
    """One line for what went wrong, in an actor if that is where: the innermost error, not Ray's wrapping.

    An actor's exception reaches the driver as text inside Ray's (its traceback), so the
    innermost ``Name: message`` line of that text is the one to show.
    """
    import traceback

    found = None
    for line in "".join(traceback.format_exception(exc)).splitlines():
        match = _RAISED.match(line.strip())
        if match and match.group(1) not in _WRAPPERS and not line.strip().startswith("ray."):
            found = match
            break  # the first one printed is the innermost cause
    if found is None:
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    name, message = found.groups()
    return message if name == "EngineError" else f"{name}: {message}"
