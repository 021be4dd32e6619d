"""Sessions that survive a crash: every applied change appended to a JSON-lines journal, fsynced.

A session is one file in ``<user state dir>/mlm-tui/sessions/`` (``$XDG_STATE_HOME`` on Linux).
Its first line is a header (models, options, top-k, start time, version); each further line is
one applied change: the kind of change and the snapshot it left on screen. An entry is on disk
(``flush`` + ``os.fsync``) before :meth:`Journal.append` returns, so a caller that shows a change
only after appending it loses at most the change being written when the process is killed.

Reading stops at the last complete line: a line cut off by a crash is ignored. Replaying the
entries through :class:`~mlm_tui.session.History` rebuilds the undo history as well as the state.
No Textual here, so the journal is tested without the app.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .session import History, Snapshot

FORMAT = 1
KEEP = 50
"""How many sessions are kept; starting a new one deletes the oldest beyond this."""
SUFFIX = ".jsonl"
CHANGE_KINDS = ("open", "edit", "mask", "substitute", "undo", "redo", "model", "watch", "loaded")
"""``open`` is the first state shown; ``model`` a change of model(s) and ``watch`` of the watched
words, both with the snapshot unchanged; ``loaded`` names the models that answered when they are
not the ones asked for (no ``--model``: the bundled model stands in for the default)."""
MODEL_KINDS = ("model", "loaded")
"""The changes that carry the models."""
NOT_WORK = ("open", "loaded")
"""What every launch writes by itself: a session with nothing else is not one to resume."""


class JournalError(ValueError):
    """A journal that cannot be read at all (missing, or no header)."""


def sessions_dir() -> Path:
    """Where sessions are kept: ``platformdirs.user_state_dir("mlm-tui")/sessions``."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("mlm-tui")) / "sessions"


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class SessionHeader:
    """The first entry of a journal."""

    models: tuple[str, ...]
    """The model of each pane, as the user named them (``EngineOptions.label``)."""
    top_k: int
    started: datetime
    options: Mapping[str, object] = field(default_factory=dict)
    """The other engine options (device, fast, backend...), as plain JSON values."""
    version: str = __version__

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": "header",
            "format": FORMAT,
            "version": self.version,
            "started": self.started.isoformat(),
            "models": list(self.models),
            "top_k": self.top_k,
            "options": dict(self.options),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SessionHeader:
        if data.get("kind") != "header":
            raise ValueError("the first entry is not a header")
        models, options, top_k = data.get("models", []), data.get("options", {}), data.get("top_k", 10)
        if not isinstance(models, list) or not isinstance(options, dict) or not isinstance(top_k, int):
            raise ValueError("the header's models, options or top_k have the wrong type")
        return cls(
            models=tuple(str(m) for m in models),
            top_k=top_k,
            started=datetime.fromisoformat(str(data["started"])),
            options=options,
            version=str(data.get("version", "")),
        )


@dataclass
class SessionState:
    """A journal read back: what to reopen with ``--resume``."""

    path: Path
    header: SessionHeader
    history: History
    """The undo history, replayed; ``history.current`` is what was on screen."""
    models: tuple[str, ...]
    """The models in use after the last ``model`` change (the header's when there was none)."""
    changes: int
    """Complete change entries read (a line cut off by a crash is not counted)."""
    complete_bytes: int
    """Length of the journal up to the end of its last complete entry."""
    watched: tuple[str, ...] = ()
    """The watched words after the last ``watch`` change."""
    done: int = 0
    """Changes the user made (every one but ``open`` and ``loaded``, which each launch writes)."""

    @property
    def current(self) -> Snapshot | None:
        return self.history.current


def _complete_entries(raw: bytes) -> tuple[list[dict[str, object]], int]:
    """The entries of a journal up to its last complete, readable line, and where that line ends."""
    entries: list[dict[str, object]] = []
    end = 0
    while True:
        newline = raw.find(b"\n", end)
        if newline < 0:
            break  # no newline: a line cut off mid-way (or nothing left)
        try:
            entry = json.loads(raw[end:newline])
        except ValueError:
            break
        if not isinstance(entry, dict):
            break
        entries.append(entry)
        end = newline + 1
    return entries, end


def read_session(path: Path | str) -> SessionState:
    """Read a journal up to its last complete entry and replay it; raises :class:`JournalError`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read session {path}: {exc.strerror or exc}") from None
    entries, end = _complete_entries(raw)
    if not entries:
        raise JournalError(f"session {path} has no header")
    try:
        header = SessionHeader.from_dict(entries[0])
    except (KeyError, ValueError) as exc:
        raise JournalError(f"session {path}: {exc}") from None
    history, models, changes, watched, done = History(), header.models, 0, (), 0
    for entry in entries[1:]:
        try:
            snapshot = Snapshot.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            break  # a damaged entry: keep what came before it
        kind = entry.get("kind")
        # Replay undo/redo through History so the future is rebuilt too; when the journal
        # disagrees with the replay (it should not), the journal's snapshot wins.
        if kind == "undo":
            replayed = history.undo()
        elif kind == "redo":
            replayed = history.redo()
        else:
            replayed = None
        if replayed != snapshot:
            history.record(snapshot)
        if kind in MODEL_KINDS and isinstance(entry.get("models"), list):
            models = tuple(str(m) for m in entry["models"])  # type: ignore[union-attr]
        if kind == "watch" and isinstance(entry.get("words"), list):
            watched = tuple(str(w) for w in entry["words"])  # type: ignore[union-attr]
        changes += 1
        done += kind not in NOT_WORK
    return SessionState(path, header, history, models, changes, end, watched, done)


class Journal:
    """An open session journal; append one entry per applied change, before showing it.

    Start a new session with :meth:`start`, continue a resumed one with :meth:`reopen`.
    """

    def __init__(
        self,
        directory: Path,
        header: SessionHeader | None = None,
        *,
        keep: int = KEEP,
        path: Path | None = None,
    ) -> None:
        self._directory = directory
        self._header = header
        self._keep = keep
        self.path: Path | None = path
        """The session file; ``None`` until the first change is appended."""
        self.models: tuple[str, ...] = header.models if header is not None else ()
        """The models the session names now (the header's, then the last ``model`` or ``loaded``)."""
        self._fd = -1

    @classmethod
    def start(
        cls,
        models: Sequence[str],
        *,
        top_k: int,
        options: Mapping[str, object] | None = None,
        directory: Path | None = None,
        keep: int = KEEP,
    ) -> Journal:
        """A new session; its file is created (header first) with the first change, so a session
        where nothing happened leaves nothing behind. Sessions beyond ``keep`` are deleted then."""
        header = SessionHeader(tuple(models), top_k, _now(), dict(options or {}))
        return cls(directory or sessions_dir(), header, keep=keep)

    def _create(self, header: SessionHeader) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        stem = header.started.strftime("%Y%m%dT%H%M%S%fZ")
        for attempt in range(1000):
            path = self._directory / f"{stem}{'' if attempt == 0 else f'-{attempt}'}{SUFFIX}"
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - a thousand sessions started in one microsecond
            raise OSError(f"cannot create a new session file in {self._directory}")
        self.path = path
        self._write(header.as_dict())
        _fsync_dir(self._directory)
        prune_sessions(self._directory, keep=self._keep, spare=path)

    @classmethod
    def reopen(cls, state: SessionState) -> Journal:
        """Append to a session read with :func:`read_session`, first cutting off a damaged last line."""
        journal = cls(state.path.parent, path=state.path)
        journal.models = state.models
        journal._fd = os.open(state.path, os.O_WRONLY | os.O_APPEND)
        if os.fstat(journal._fd).st_size != state.complete_bytes:
            os.ftruncate(journal._fd, state.complete_bytes)
            os.fsync(journal._fd)
        return journal

    def append(
        self,
        kind: str,
        snapshot: Snapshot,
        *,
        models: Sequence[str] | None = None,
        words: Sequence[str] | None = None,
    ) -> None:
        """Write one applied change and fsync it; ``models`` is required for (and only for) ``model``,
        ``words`` for (and only for) ``watch``."""
        if kind not in CHANGE_KINDS:
            raise ValueError(f"unknown change kind {kind!r}; expected one of {', '.join(CHANGE_KINDS)}")
        if (kind in MODEL_KINDS) != (models is not None):
            raise ValueError("a 'model' or 'loaded' change, and only those, carry the models")
        if (kind == "watch") != (words is not None):
            raise ValueError("a 'watch' change, and only that, carries the words")
        entry: dict[str, object] = {"kind": kind, "time": _now().isoformat(), **snapshot.as_dict()}
        if models is not None:
            entry["models"] = list(models)
        if words is not None:
            entry["words"] = list(words)
        if self._fd < 0:
            if self._header is None:
                raise ValueError("this journal is closed")
            self._create(self._header)
        self._write(entry)
        if models is not None:
            self.models = tuple(models)

    def _write(self, entry: Mapping[str, object]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        view = memoryview(line)
        while view:  # one write() almost always; loop in case the kernel takes less
            view = view[os.write(self._fd, view) :]
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file; appending afterwards is an error."""
        self._header = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fsync_dir(directory: Path) -> None:
    """Make a new file's name durable too (not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _session_files(directory: Path) -> list[Path]:
    """Session files, newest first (their names start with the UTC start time)."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{SUFFIX}"), key=lambda p: p.name, reverse=True)


def prune_sessions(directory: Path | None = None, *, keep: int = KEEP, spare: Path | None = None) -> None:
    """Delete all but the newest ``keep`` sessions (never ``spare``, the one being written)."""
    for path in _session_files(directory or sessions_dir())[keep:]:
        if path != spare:
            path.unlink(missing_ok=True)


@dataclass(frozen=True)
class SessionSummary:
    """One line of ``mlm-tui sessions``."""

    path: Path
    started: datetime
    model: str
    last_text: str
    changes: int


def list_sessions(directory: Path | None = None) -> list[SessionSummary]:
    """Readable sessions, newest first; unreadable files are skipped."""
    found = []
    for path in _session_files(directory or sessions_dir()):
        try:
            state = read_session(path)
        except JournalError:
            continue
        current = state.current
        found.append(
            SessionSummary(
                path=path,
                started=state.header.started,
                model=" | ".join(state.models),
                last_text=current.text if current else "",
                changes=state.changes,
            )
        )
    return found


def last_session(directory: Path | None = None) -> SessionState | None:
    """The newest readable session in which the user changed something, read back; ``None`` when none.

    A launch that only opened (and quit) is skipped, so it never hides the session before it.
    """
    for path in _session_files(directory or sessions_dir()):
        try:
            state = read_session(path)
        except JournalError:
            continue
        if state.done:
            return state
    return None
