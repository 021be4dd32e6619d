"""Sessions that survive a crash: every applied change appended to a JSON-lines journal, fsynced.

A session is one file in ``<user state dir>/mlm-tui/sessions/`` (``$XDG_STATE_HOME`` on Linux).
Its first line is a header (models, options, top-k, start time, version); each further line is
one applied change: the kind of change and the snapshot it left on screen. An entry is on disk
(``flush`` + ``os.fsync``) before :meth:`Journal.append` returns, so a caller that shows a change
only after appending it loses at most the change being written when the process is killed.

Nothing on disk is ever deleted or rewritten: a line that cannot be read (cut off by a crash or a
full disk, or damaged) is skipped, the entries after it are replayed, and the reader is told which
lines were skipped. Before anything is appended to a damaged journal a copy of it is kept beside it
(``<name>.damaged-<time>``), and an entry appended after a line cut off mid-way starts a line of its
own. Replaying the entries through :class:`~mlm_tui.session.History` rebuilds the undo history as
well as the state. No Textual here, so the journal is tested without the app.
"""

from __future__ import annotations

import glob
import json
import os
import re
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
DAMAGED = ".damaged-"
"""A damaged journal's copy is named ``<name>.damaged-<UTC time>``."""
_ENTRY_START = re.compile(rb'\{"kind":')
"""Where an entry written by :class:`Journal` starts (to find one glued to the end of a cut-off line)."""


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
    """Change entries read and replayed (the skipped lines are not counted)."""
    size: int
    """Bytes read: the damage a copy must hold ends within them."""
    watched: tuple[str, ...] = ()
    """The watched words after the last ``watch`` change."""
    done: int = 0
    """Changes the user made (every one but ``open`` and ``loaded``, which each launch writes)."""
    skipped: tuple[int, ...] = ()
    """The lines (numbered from 1) that could not be read or replayed; the entries after each were."""
    damage_end: int = 0
    """Where the last skipped line's text ends (a copy of at least this many bytes holds them all)."""

    @property
    def current(self) -> Snapshot | None:
        return self.history.current


def _entries(raw: bytes) -> tuple[list[tuple[int, int, dict[str, object]]], list[tuple[int, int]]]:
    """Every readable entry as (line number, where its text ends, entry), and the unreadable lines
    as (line number, where its text ends); a line's newline is not counted, so a line cut off
    mid-way ends at the same place once an entry appended after it has put a newline there.

    A line that is not one JSON object is skipped, but an entry glued to its end (a line cut off
    mid-way, then more appended by a version that did not start a new line) is still read.
    Blank lines are nothing and are passed over.
    """
    entries: list[tuple[int, int, dict[str, object]]] = []
    skipped: list[tuple[int, int]] = []
    start, number = 0, 0
    while start < len(raw):
        number += 1
        newline = raw.find(b"\n", start)
        end = len(raw) if newline < 0 else newline + 1
        line, start = raw[start:end], end
        if not line.strip():
            continue
        entry = _entry(line) if newline >= 0 else None  # no newline: cut off mid-way
        if entry is None:
            skipped.append((number, end if newline < 0 else newline))
            for found in _ENTRY_START.finditer(line, 1):
                entry = _entry(line[found.start() :]) if newline >= 0 else None
                if entry is not None:
                    break
        if entry is not None:
            entries.append((number, end if newline < 0 else newline, entry))
    return entries, skipped


def _entry(line: bytes) -> dict[str, object] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _strings(value: object) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def read_session(path: Path | str) -> SessionState:
    """Read a journal and replay every entry that can be read; raises :class:`JournalError` when the
    header cannot be. The lines skipped are in :attr:`SessionState.skipped`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"cannot read session {path}: {exc.strerror or exc}") from None
    entries, skipped = _entries(raw)
    if not entries or (skipped and skipped[0][0] < entries[0][0]):
        raise JournalError(f"session {path} has no header")
    try:
        header = SessionHeader.from_dict(entries[0][2])
    except (KeyError, ValueError) as exc:
        raise JournalError(f"session {path}: {exc}") from None
    history, models, changes, watched, done = History(), header.models, 0, (), 0
    for number, end, entry in entries[1:]:
        kind = entry.get("kind")
        try:
            snapshot = Snapshot.from_dict(entry)
        except (KeyError, TypeError, ValueError):
            snapshot = None
        entry_models = _strings(entry.get("models")) if kind in MODEL_KINDS else ()
        words = _strings(entry.get("words")) if kind == "watch" else ()
        if snapshot is None or kind not in CHANGE_KINDS or entry_models is None or words is None:
            skipped.append((number, end))  # damaged: skipped, and the entries after it still count
            continue
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
        if kind in MODEL_KINDS:
            models = entry_models
        if kind == "watch":
            watched = words
        changes += 1
        done += kind not in NOT_WORK
    return SessionState(
        path,
        header,
        history,
        models,
        changes,
        len(raw),
        watched,
        done,
        skipped=tuple(sorted({number for number, _ in skipped})),
        damage_end=max((end for _, end in skipped), default=0),
    )


def damage_note(state: SessionState, copy: Path | None = None) -> str:
    """One line saying which lines of a session were skipped (and where the copy is); "" when none."""
    if not state.skipped:
        return ""
    count = len(state.skipped)
    lines = ", ".join(str(n) for n in state.skipped[:10]) + (", …" if count > 10 else "")
    note = (
        f"session {state.path}: {count} damaged line{'s' if count > 1 else ''} "
        f"({'line' if count == 1 else 'lines'} {lines}) could not be read and "
        f"{'was' if count == 1 else 'were'} skipped; what follows is replayed"
    )
    return note + (f"; the journal as it was is kept in {copy}" if copy is not None else "")


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
        self.damaged_copy: Path | None = None
        """Where :meth:`reopen` kept a copy of a damaged journal (``None``: none was needed)."""
        self._fd = -1
        self._mid_line = False
        """The file may end part-way through a line: the next entry starts a new one."""

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
        """Append to a session read with :func:`read_session`. Nothing in it is changed: a damaged
        journal is first copied beside itself (once: not when a copy already holds its damage), and
        the next entry starts a line of its own when the file ends part-way through one."""
        journal = cls(state.path.parent, path=state.path)
        journal.models = state.models
        if state.skipped:
            journal.damaged_copy = _keep_copy(state)
        journal._fd = os.open(state.path, os.O_WRONLY | os.O_APPEND)
        size = os.fstat(journal._fd).st_size
        if size:
            with open(state.path, "rb") as reader:
                reader.seek(size - 1)
                journal._mid_line = reader.read(1) != b"\n"
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
        if self._mid_line:  # after a line cut off mid-way (or a write that failed part-way)
            line = b"\n" + line
        view = memoryview(line)
        self._mid_line = True
        while view:  # one write() almost always; loop in case the kernel takes less
            view = view[os.write(self._fd, view) :]
        self._mid_line = False
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


def _damaged_copies(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{glob.escape(path.name)}{DAMAGED}*"))


def _keep_copy(state: SessionState) -> Path | None:
    """Copy a damaged journal to ``<name>.damaged-<time>`` beside it, unless a copy already holds
    every damaged line (the journal only grows, so a copy as long as the damage holds it).
    Returns the copy that holds it; ``None`` when it could not be written (the journal is still
    never changed but by appending)."""
    for copy in reversed(_damaged_copies(state.path)):
        try:
            if copy.stat().st_size >= state.damage_end:
                return copy
        except OSError:
            continue
    try:
        raw = state.path.read_bytes()
        stem = f"{state.path.name}{DAMAGED}{_now().strftime('%Y%m%dT%H%M%SZ')}"
        for attempt in range(1000):
            copy = state.path.parent / (stem if attempt == 0 else f"{stem}-{attempt}")
            try:
                with open(copy, "xb") as out:
                    out.write(raw)
                    out.flush()
                    os.fsync(out.fileno())
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - a thousand copies in one second
            return None
    except OSError:
        return None
    _fsync_dir(state.path.parent)
    return copy


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
            for copy in _damaged_copies(path):
                copy.unlink(missing_ok=True)


@dataclass(frozen=True)
class SessionSummary:
    """One line of ``mlm-tui sessions``."""

    path: Path
    started: datetime
    model: str
    last_text: str
    changes: int
    skipped: tuple[int, ...] = ()
    """The lines of the journal that could not be read (see :attr:`SessionState.skipped`)."""


def list_sessions(directory: Path | None = None, problems: list[str] | None = None) -> list[SessionSummary]:
    """Readable sessions, newest first; a file that cannot be read at all is left out, and said so
    in ``problems`` (when given), as is each session with skipped lines."""
    found = []
    for path in _session_files(directory or sessions_dir()):
        try:
            state = read_session(path)
        except JournalError as exc:
            if problems is not None:
                problems.append(str(exc))
            continue
        if problems is not None and state.skipped:
            problems.append(damage_note(state))
        current = state.current
        found.append(
            SessionSummary(
                path=path,
                started=state.header.started,
                model=" | ".join(state.models),
                last_text=current.text if current else "",
                changes=state.changes,
                skipped=state.skipped,
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
