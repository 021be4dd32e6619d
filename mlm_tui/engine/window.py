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
    if len(ids) <= limit:
        return ids, 0
    specials = [t.special for t in encoding.tokens]
    head = next(i for i, s in enumerate(specials) if not s)
    tail = len(ids) - next(i for i, s in enumerate(reversed(specials)) if not s)
    width = limit - head - (len(ids) - tail)
    lo, hi = min(keep), max(keep)
    if hi - lo + 1 > width:
        raise EngineError(
            f"the masks are {hi - lo + 1} tokens apart but {model} reads at most {width} at once"
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
