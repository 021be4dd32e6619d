"""Long texts: cut the ids to what the model reads, around the positions that matter."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import EngineError
from .types import Encoding


def cut_window(
    encoding: Encoding, ids: list[int], keep: Sequence[int], limit: int, model: str
) -> tuple[list[int], int]:
    """Cut ``ids`` to ``limit`` tokens around the positions in ``keep``, keeping the special tokens at each end.

    ``encoding`` says which positions are special. Returns the window and how far
    positions moved left (0 when nothing was cut).
    """
    return Windows(encoding, limit, model).cut(ids, keep)


class Windows:
    """:func:`cut_window` for many rows of one encoding: where its special tokens end is found once, so
    cutting the N rows of an N-token item costs N windows, not N × N."""

    def __init__(self, encoding: Encoding, limit: int, model: str) -> None:
        self.encoding, self.limit, self.model = encoding, limit, model
        self._ends: tuple[int, int] | None = None

    def cut(self, ids: list[int], keep: Sequence[int]) -> tuple[list[int], int]:
        """``ids`` (as long as the encoding) cut around ``keep``, and how far positions moved left."""
        if len(ids) <= self.limit:
            return ids, 0
        if self._ends is None:  # the special tokens at each end, counted once
            specials = [t.special for t in self.encoding.tokens]
            self._ends = (
                next(i for i, s in enumerate(specials) if not s),
                next(i for i, s in enumerate(reversed(specials)) if not s),
            )
        head, tail = self._ends[0], len(ids) - self._ends[1]
        width = self.limit - head - (len(ids) - tail)
        lo, hi = min(keep), max(keep)
        if hi - lo + 1 > width:
            raise EngineError(
                f"the masks are {hi - lo + 1} tokens apart but {self.model} reads at most {width} at once"
            )
        start = min(max((lo + hi) // 2 - width // 2, head), tail - width)
        start = min(max(start, hi - width + 1), lo)
        return ids[:head] + ids[start : start + width] + ids[tail:], start - head


def window_positions(encoding: Encoding, length: int, shift: int) -> list[int]:
    """For each index of a window cut by :func:`cut_window` (``length`` ids), its position in the text."""
    total = len(encoding.tokens)
    if length == total:
        return list(range(total))
    specials = [t.special for t in encoding.tokens]
    head = next(i for i, s in enumerate(specials) if not s)
    tail = total - next(i for i, s in enumerate(reversed(specials)) if not s)
    width = length - head - (total - tail)
    return [
        i if i < head else i + shift if i < head + width else tail + (i - head - width) for i in range(length)
    ]
