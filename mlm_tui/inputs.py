"""Text input, read one way: a file, ``-`` (stdin), a pipe, a FIFO or ``<(…)``, opened once.

Every command that reads a file goes through :func:`open_text`: UTF-8 with or without a byte
order mark, or UTF-16 / UTF-32 with one; a file that is not text (NUL bytes, or mostly bytes
that decode to nothing) is refused in one line; bytes that do not decode are replaced with
U+FFFD and ``warn`` names the first line that has one. A regular file is read again by opening
it again; anything else can be read only once, so with ``replay`` what is read is copied to an
anonymous temporary file that later passes read first (finding the format, then the items, then
the items again for a second model), and memory never holds more than a read buffer.
No Textual, no torch.
"""

from __future__ import annotations

import codecs
import io
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

HEAD = 8192
"""Bytes looked at to recognise the encoding and refuse what is not text (git looks at 8,000)."""

MAX_LINE = 8 * 2**20
"""Characters of one line that are held: the rest of a longer line is read and let go (stderr says
so), so memory stays bounded whatever one line holds; such a line is far over any item limit."""

REPLACE = "mlm-tui-replace"
"""The codec error handler: U+FFFD, as ``errors="replace"``, and the input told that it happened."""

Warn = Callable[[str], None]

_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


class InputError(Exception):
    """The input cannot be read as text at all (missing, a folder, not text): one line for the user."""


_decoding = threading.local()


def _replace(error: UnicodeError) -> tuple[str, int]:
    reader = getattr(_decoding, "input", None)
    if reader is not None:
        reader.replaced = True
    assert isinstance(error, UnicodeDecodeError)
    return "\ufffd", error.end


codecs.register_error(REPLACE, _replace)


def decode(binary: io.BufferedReader, encoding: str) -> io.TextIOWrapper:
    """``binary`` as text, as every input is read: lines split as the csv module expects (``newline=""``)."""
    return io.TextIOWrapper(binary, encoding=encoding, errors=REPLACE, newline="")


def sniff(head: bytes, name: str) -> tuple[str, str]:
    """The codec and the name of the encoding of a file that begins with ``head``, or :class:`InputError`."""
    codec, label = next(
        ((c, label) for bom, c, label in _BOMS if head.startswith(bom)), ("utf-8-sig", "UTF-8")
    )
    text = codecs.getincrementaldecoder(codec)("replace").decode(head, final=False)
    if "\x00" in text:
        raise InputError(
            f"{name} is not a text file (it holds NUL bytes): give UTF-8 text, or UTF-16 with a byte order mark"
        )
    replaced = text.count("\ufffd")
    if replaced >= 4 and replaced > len(text) * 0.3:
        raise InputError(f"{name} is not a text file (most of its first bytes are not {label})")
    return codec, label


class _Shared:
    """The bytes of a stream that can be read once, and a copy of what was read (``spool``) to read again."""

    def __init__(self, source: BinaryIO, head: bytes, spool: IO[bytes] | None) -> None:
        self.source, self.spool, self.lock = source, spool, threading.Lock()
        self.head = head if spool is None else b""
        self.size = 0
        if spool is not None:
            self._keep(head)

    def _keep(self, data: bytes) -> None:
        assert self.spool is not None
        self.spool.seek(0, io.SEEK_END)
        self.spool.write(data)
        self.size += len(data)

    def read_at(self, position: int, size: int) -> bytes:
        with self.lock:
            if self.spool is not None and position < self.size:
                self.spool.seek(position)
                return self.spool.read(min(size, self.size - position))
            if position < len(self.head):
                return self.head[position : position + size]
            data = self.source.read1(size) if hasattr(self.source, "read1") else self.source.read(size)
            if self.spool is not None and data:
                self._keep(data)
            return data


class _Pass(io.RawIOBase):
    """One reading of a :class:`_Shared` stream, from its first byte."""

    def __init__(self, shared: _Shared) -> None:
        self.shared, self.position = shared, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.shared.read_at(self.position, len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


class TextInput:
    """A text input opened by :func:`open_text`; each :meth:`lines` is a new pass from the first line."""

    def __init__(self, path: str, *, replay: bool = False, warn: Warn | None = None) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else path
        self.replaced = False
        self._warn, self._warned, self._passes = warn, False, 0
        binary = _open_binary(path)
        try:
            self.regular = path != "-" and _is_regular(binary)
            head = _read_head(binary)
            self.codec, self.encoding = sniff(head, self.name)
        except BaseException:
            if path != "-":
                binary.close()
            raise
        self._shared: _Shared | None = None
        if self.regular:
            binary.close()  # each pass opens it again
        else:
            spool = _temporary() if replay else None
            self._shared = _Shared(binary, head, spool)
        self._replay = replay

    @property
    def rereadable(self) -> bool:
        """Whether the input can be read twice without a copy (a regular file): then a progress total is known."""
        return self.regular

    def _open_pass(self) -> io.TextIOWrapper:
        self._passes += 1
        if self._shared is None:
            try:
                return decode(open(self.path, "rb"), self.codec)
            except OSError as exc:
                raise InputError(f"cannot read {self.name}: {exc.strerror or exc}") from None
        if self._passes > 1 and not self._replay:
            raise InputError(f"{self.name} can be read only once")
        return decode(io.BufferedReader(_Pass(self._shared)), self.codec)

    def lines(self) -> Iterator[str]:
        """Every line, line ends kept (``\\n``, ``\\r\\n`` or ``\\r``), read as the input arrives."""
        text = self._open_pass()
        number = 0
        with text:
            while True:
                _decoding.input = self
                try:
                    line = text.readline(MAX_LINE)
                    dropped = 0
                    while len(line) == MAX_LINE and not line.endswith(("\n", "\r")):
                        more = text.readline(MAX_LINE)  # the rest of the line, let go as it is read
                        if not more:
                            break
                        dropped += len(more.rstrip("\r\n"))
                        if more.endswith(("\n", "\r")) or len(more) < MAX_LINE:
                            break
                finally:
                    _decoding.input = None
                if not line:
                    return
                number += 1
                if dropped and self._warn is not None:
                    self._warn(
                        f"{self.name}, line {number}: {MAX_LINE + dropped:,} characters; only the first "
                        f"{MAX_LINE:,} are read"
                    )
                if self.replaced and not self._warned and "\ufffd" in line:
                    self._said_replaced(f"line {number}")
                yield line

    def read(self) -> str:
        """The whole text."""
        return "".join(self.lines())

    def count(self, keep: Callable[[str], object] = lambda _line: True) -> int | None:
        """The lines ``keep`` accepts, when the input can be read twice (a regular file); else ``None``."""
        if not self.rereadable:
            return None
        try:
            return sum(1 for line in self.lines() if keep(line))
        except InputError:
            return None

    def _said_replaced(self, where: str) -> None:
        self._warned = True
        if self._warn is not None:
            self._warn(
                f"{self.name}, {where}: bytes that are not {self.encoding} were replaced with U+FFFD (\ufffd)"
            )

    def close(self) -> None:
        """Let go of the copy of a stream (a regular file holds nothing open between passes)."""
        if self._shared is not None and self._shared.spool is not None:
            self._shared.spool.close()

    def __enter__(self) -> TextInput:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_text(path: str | Path, *, replay: bool = False, warn: Warn | None = None) -> TextInput:
    """Open ``path`` (``-``: stdin) as text, once; :class:`InputError` (one line) when it cannot be read as text.

    ``replay``: the input will be read more than once (a stream is then copied as it is read).
    ``warn``: told, once, when bytes that do not decode were replaced.
    """
    return TextInput(str(path), replay=replay, warn=warn)


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise InputError("stdin cannot be read here")
        return stdin
    try:
        return open(path, "rb")
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _is_regular(binary: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(binary.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _read_head(binary: BinaryIO) -> bytes:
    """The first bytes that are there now (at least 4, for a byte order mark, unless the input is shorter)."""
    try:
        head = b""
        while len(head) < 4:
            data = (
                binary.read1(HEAD - len(head)) if hasattr(binary, "read1") else binary.read(HEAD - len(head))
            )
            if not data:
                break
            head += data
        return head
    except IsADirectoryError:
        raise InputError(f"{getattr(binary, 'name', 'the input')} is a folder, not a file") from None
    except OSError as exc:
        raise InputError(
            f"cannot read {getattr(binary, 'name', 'the input')}: {exc.strerror or exc}"
        ) from None


def _temporary() -> IO[bytes]:
    import tempfile

    return tempfile.TemporaryFile()


__all__ = ["HEAD", "InputError", "TextInput", "decode", "open_text", "sniff"]
