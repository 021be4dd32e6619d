"""What the user has built so far, without Textual: the text, its masks as character spans, undo history.

Masks are kept as character spans of the text, not token positions, so one set of
masks means the same thing to every model's tokenizer (the panes of a comparison)
and survives re-tokenizing after an edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .engine import MASK_ALIAS, Encoding

Span = tuple[int, int]


@dataclass(frozen=True)
class Snapshot:
    """One undo step: the text and the character spans of the masked tokens."""

    text: str
    masked_spans: frozenset[Span] = field(default_factory=frozenset)

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "masks": sorted([list(span) for span in self.masked_spans])}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Snapshot:
        text = data["text"]
        masks = data.get("masks", [])
        if not isinstance(text, str) or not isinstance(masks, list):
            raise ValueError("a snapshot needs a text and a list of masks")
        spans = set()
        for span in masks:
            if (
                not isinstance(span, list)
                or len(span) != 2
                or not all(type(n) is int for n in span)
                or not 0 <= span[0] <= span[1] <= len(text)
            ):
                raise ValueError(f"a mask must be [start, end] within the text, not {span!r}")
            spans.add((span[0], span[1]))
        return cls(text, frozenset(spans))


class History:
    """Undo and redo over snapshots. The last entry of the past is what is on screen."""

    def __init__(self, snapshots: Iterable[Snapshot] = ()) -> None:
        self._past: list[Snapshot] = list(snapshots)
        self._future: list[Snapshot] = []

    @property
    def current(self) -> Snapshot | None:
        return self._past[-1] if self._past else None

    @property
    def can_undo(self) -> bool:
        return len(self._past) > 1

    @property
    def can_redo(self) -> bool:
        return bool(self._future)

    @property
    def past(self) -> tuple[Snapshot, ...]:
        return tuple(self._past)

    @property
    def future(self) -> tuple[Snapshot, ...]:
        return tuple(self._future)

    def record(self, snapshot: Snapshot) -> bool:
        """Add ``snapshot`` as the newest state; returns False when it equals the current one."""
        if self._past and self._past[-1] == snapshot:
            return False
        self._past.append(snapshot)
        self._future.clear()
        return True

    def undo(self) -> Snapshot | None:
        """Step back; returns the snapshot to show, or ``None`` when there is nothing to undo."""
        if not self.can_undo:
            return None
        self._future.append(self._past.pop())
        return self._past[-1]

    def redo(self) -> Snapshot | None:
        if not self._future:
            return None
        snapshot = self._future.pop()
        self._past.append(snapshot)
        return snapshot


def token_span(encoding: Encoding, index: int) -> Span:
    token = encoding.tokens[index]
    return (token.start, token.end)


def spans_of(encoding: Encoding, positions: Iterable[int]) -> frozenset[Span]:
    """The character spans of the tokens at ``positions``."""
    return frozenset(token_span(encoding, i) for i in positions)


def positions_covering(encoding: Encoding, spans: Iterable[Span]) -> frozenset[int]:
    """The non-special tokens of ``encoding`` that overlap any of ``spans``.

    For the encoding the spans came from, this gives back exactly the masked
    tokens; for another model's tokenization of the same text, every token
    that covers those characters (``pizza`` may be one token here, two there).
    Several tokens may share one span (the byte pieces of an emoji); each
    is matched by overlap, so a mask always comes back whole.
    """
    wanted = sorted(set(spans))
    found = set()
    for token in encoding.tokens:
        if token.special:
            continue
        for start, end in wanted:
            if start == end:
                if token.start == start and token.end == end:
                    found.add(token.index)
            elif token.start < end and start < token.end:
                found.add(token.index)
    return frozenset(found)


def shift_spans(spans: Iterable[Span], edit_start: int, edit_end: int, delta: int) -> frozenset[Span]:
    """Spans after the characters ``[edit_start, edit_end)`` were replaced by ``delta`` more (or fewer).

    Spans inside the replaced characters are dropped; spans after it move by ``delta``.
    """
    moved = set()
    for start, end in spans:
        if end <= edit_start:
            moved.add((start, end))
        elif start >= edit_end:
            moved.add((start + delta, end + delta))
    return frozenset(moved)


def edit_masks(before: Snapshot, text: str) -> tuple[Snapshot, int]:
    """``text`` typed over ``before``: its masks moved with the edit; returns it and how many were dropped.

    The edit is what lies between the longest common start and end of the two texts; a mask
    whose characters it did not touch is kept (shifted when after it), one it touched is dropped.
    """
    old = before.text
    limit = min(len(old), len(text))
    start = 0
    while start < limit and old[start] == text[start]:
        start += 1
    tail = 0
    while tail < limit - start and old[-1 - tail] == text[-1 - tail]:
        tail += 1
    spans = shift_spans(before.masked_spans, start, len(old) - tail, len(text) - len(old))
    return Snapshot(text, spans), len(before.masked_spans) - len(spans)


class TextMap:
    """Character offsets between the session's text and one model's text.

    The session keeps the text as the user typed it, with ``[MASK]`` for typed
    masks; each engine's encoding replaces ``[MASK]`` by its own mask token
    (``<mask>`` for RoBERTa), which may be longer or shorter. This maps offsets
    both ways so masks, selections and substitutions line up across models.
    """

    def __init__(self, text: str, mask_token: str, alias: str = MASK_ALIAS) -> None:
        self._alias_len = len(alias)
        self._token_len = len(mask_token)
        self._delta = len(mask_token) - len(alias)
        self._starts: list[int] = []
        if self._delta and alias != mask_token:
            at = text.find(alias)
            while at >= 0:
                self._starts.append(at)
                at = text.find(alias, at + len(alias))

    def to_model(self, offset: int) -> int:
        return self._convert(offset, self._starts, self._alias_len, self._token_len, self._delta)

    def to_session(self, offset: int) -> int:
        starts = [s + n * self._delta for n, s in enumerate(self._starts)]
        return self._convert(offset, starts, self._token_len, self._alias_len, -self._delta)

    @staticmethod
    def _convert(offset: int, starts: list[int], length: int, new_length: int, delta: int) -> int:
        shift = 0
        for start in starts:
            if offset >= start + length:
                shift += delta
            elif offset > start:  # inside a mask: keep it inside the other spelling
                return start + shift + min(offset - start, new_length)
            else:
                break
        return offset + shift

    def span_to_model(self, span: Span) -> Span:
        return (self.to_model(span[0]), self.to_model(span[1]))

    def span_to_session(self, span: Span) -> Span:
        return (self.to_session(span[0]), self.to_session(span[1]))


def pair_spans(a: list[Span], b: list[Span]) -> list[tuple[int | None, int | None]]:
    """Pair two models' masks by the characters they cover, in text order.

    Each mask of ``a`` is paired with the first unused mask of ``b`` that overlaps
    it; masks left over on either side are paired with ``None``.
    """

    def overlaps(x: Span, y: Span) -> bool:
        return x == y or (x[0] < y[1] and y[0] < x[1])

    used: set[int] = set()
    pairs: list[tuple[int | None, int | None]] = []
    for i, span in enumerate(a):
        j = next((j for j, other in enumerate(b) if j not in used and overlaps(span, other)), None)
        if j is not None:
            used.add(j)
        pairs.append((i, j))
    pairs += [(None, j) for j in range(len(b)) if j not in used]

    def start(pair: tuple[int | None, int | None]) -> int:
        i, j = pair
        return a[i][0] if i is not None else b[j][0] if j is not None else 0

    return sorted(pairs, key=start)
