"""Nearest contexts: the tokens of a corpus index whose vectors at a layer are nearest the selected token's.

With an index open (``mlm-tui --index DIR``, or the palette's "Open an index…"), ``n`` lists the
selected token's nearest contexts in the corpus at one of the index's layers: the sentence with the
matched token highlighted, its word, the cosine. ``z`` cycles the filter (all, the same word, other
words), ``<``/``>`` step the index's layers, ``+``/``-`` the number of hits (top-k), ``enter`` opens
the highlighted sentence in the explorer on the matched token and ``escape`` comes back.

The query is the token's vector from the engine's hidden states of the text as the pane shows it
(masks included, as the lens reads it; the engine keeps them cached per text), searched with
:meth:`mlm_tui.index.Index.search` in the ``neighbours`` worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from ...engine import EngineError, shown_token
from .base import Shown, View

FILTERS: tuple[bool | None, ...] = (None, True, False)
"""``Index.search``'s ``same_word``: every token, only the same word, only other words (``z`` cycles)."""
FILTER_NAMES = {None: "all words", True: "same word", False: "other words"}
NO_INDEX = "No index is open: open an index with --index DIR or the palette (ctrl+p: Open an index…)."
MATCH_STYLE = "bold reverse"
"""How the matched token stands out in its sentence."""


@dataclass(frozen=True)
class Context:
    """A corpus sentence to open: ``enter`` on a row of the view (the screen opens it, ``escape`` returns)."""

    text: str
    start: int
    end: int
    position: int
    """The matched token's index in the line's encoding (special tokens counted)."""


def query_word(encoding: Any, position: int) -> str:
    """The word of the token at ``position`` as the text spells it (every piece), the filter's word.

    A token masked in the pane keeps its word: the text under the mask is still the encoding's."""
    token = encoding.tokens[position]
    if token.special or token.word is None:
        return str(token.text)
    spans = [(t.start, t.end) for t in encoding.tokens if t.word == token.word and not t.special]
    return str(encoding.text[min(s for s, _ in spans) : max(e for _, e in spans)])


def mismatch(index: Any, info: Any) -> str | None:
    """Why this model cannot query the index (another vocabulary), in one line; ``None`` when it can."""
    manifest = index.manifest
    if info.vocab_digest and info.vocab_digest == manifest.vocab_digest:
        return None
    return (
        f"The index was built with {manifest.model}; {info.name} has another vocabulary: "
        "open the index's model (--model), or another index."
    )


def context_cell(text: str, start: int, end: int, width: int) -> Text:
    """The sentence cut to about ``width`` characters around the match, the match highlighted."""
    width = max(12, width)
    lo, hi = 0, len(text)
    if hi - lo > width:
        room = width - 2  # an ellipsis at either end
        middle = (start + end) // 2
        lo = max(0, min(middle - room // 2, len(text) - room))
        hi = min(len(text), lo + room)
    cell = Text("…" if lo else "")
    before, match, after = text[lo:start], text[max(start, lo) : min(end, hi)], text[end:hi]
    cell.append(before.replace("\n", " "))
    cell.append(match, style=MATCH_STYLE)
    cell.append(after.replace("\n", " "))
    if hi < len(text):
        cell.append("…")
    return cell


def nearest(
    engine: Any,
    index: Any,
    encoding: Any,
    masked: list[int],
    position: int,
    layer: int,
    k: int,
    same_word: bool | None,
) -> list[dict[str, Any]]:
    """The search itself (in a worker): the token's vector at ``layer`` of the text as masked, its ``k``
    nearest tokens in ``index``. :class:`EngineError` in one line when the model is not the index's."""
    states = engine.hidden_states(encoding, masked)
    manifest = index.manifest
    if states.states.shape[2] != manifest.hidden_size or states.layers != manifest.model_layers + 1:
        raise EngineError(
            f"the index was built with {manifest.model} ({manifest.model_layers} layers of "
            f"{manifest.hidden_size}); {engine.info.name} is another model"
        )
    import numpy as np

    vector = np.asarray(states.states[layer, position], dtype=np.float32)
    if np.isnan(vector).any():
        raise EngineError("this token is outside the window the model read; select one inside it")
    return list(index.search(layer, vector, k, word=query_word(encoding, position), same_word=same_word))


class NeighboursView(View):
    """The selected token's nearest contexts in the open index (``n``)."""

    name = "neighbours"
    keys = frozenset({"layer", "variant"})
    substitutes = frozenset({"neighbours"})

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.layer: int | None = None
        """The index layer shown; ``None``: its last."""
        self.filter: bool | None = None
        """``same_word`` of the search (see :data:`FILTERS`)."""
        self.hits: list[dict[str, Any]] = []
        """The rows on show."""
        self.restore_row: int | None = None
        """The row to put the cursor on when the rows come (``escape`` back from a context)."""

    def layers(self) -> list[int]:
        index = self.pane.index
        return list(index.manifest.layers) if index is not None else []

    def current_layer(self) -> int | None:
        layers = self.layers()
        if not layers:
            return None
        if self.layer not in layers:
            self.layer = layers[-1]
        return self.layer

    def show(self) -> Shown:
        pane = self.pane
        assert pane.engine is not None and pane.encoding is not None
        engine, encoding, masked = pane.engine, pane.encoding, sorted(pane.tokens.masked)
        selected = pane.tokens.selected
        label = pane.cell_label(selected)
        heading = f"Contexts of {label!r} (token {selected})"
        index = pane.index
        problem = NO_INDEX if index is None else mismatch(index, engine.info)
        if problem is not None:
            pane.panel.heading, pane.panel.elapsed_ms = heading, None
            self.hits = []
            pane.table.show_message(problem)
            return Shown("message")
        layer = self.current_layer()
        assert layer is not None
        k, same = pane.top_k, self.filter
        how = "approximate" if getattr(index, "approximate_search", False) else "exact"
        if not getattr(index.manifest, "complete", True):
            how += " · unfinished index"  # the lines its listed chunks hold; mlm-tui index continues it
        layers = self.layers()
        heading += f" · layer {layer} ({','.join(map(str, layers))}) · {FILTER_NAMES[same]} · k {k} · {how}"
        hits = pane.ask(
            self.name,
            (index, encoding.text, tuple(masked), selected, layer, same, k),
            lambda: nearest(engine, index, encoding, masked, selected, layer, k, same),
        )
        if hits is None:
            self.hits = []
            return pane.waiting(heading, self.name, "Searching the index for the nearest contexts…")
        assert isinstance(hits, list)
        pane.panel.heading, pane.panel.elapsed_ms = heading, None
        if not hits:
            self.hits = []
            pane.table.show_message(
                f"No {FILTER_NAMES[same]} in the index at layer {layer} (z: another filter)."
            )
            return Shown("message")
        self.hits = hits
        used = 3 + 6 + 12 + 5
        width = max(20, (pane.table.content_region.width or 80) - used - 5 * 2 - 2)
        columns = [("#", 3, True), ("cosine", 6, True), ("word", 12, False), ("line", 5, True)]
        columns.append(("sentence (the match highlighted)", width, False))
        rows = []
        for rank, hit in enumerate(hits, start=1):
            word = str(hit["word"]) or shown_token(str(hit["token_str"]))
            rows.append(
                (
                    str(rank),
                    f"{hit['score']:.3f}",
                    word if len(word) <= 12 else word[:11] + "…",
                    str(hit["line"]),
                    context_cell(str(hit["text"]), int(hit["start"]), int(hit["end"]), width),
                )
            )
        key = (index, encoding.text, tuple(masked), selected, layer, same, k, width, len(hits))
        cursor, self.restore_row = self.restore_row or 0, None
        pane.table.show_rows(
            key, columns, rows, subject=("neighbours", encoding.text, selected, layer, same), cursor=cursor
        )
        return Shown(self.name)

    def answers(self, action: str) -> bool:
        """The layer and filter keys work while a search runs (keys typed in a burst are not lost) and
        when nothing matched (``z`` goes to another filter); not without an index this model can query."""
        pane = self.pane
        index = pane.index
        if index is None or pane.engine is None or mismatch(index, pane.engine.info) is not None:
            return False
        if action == "layer":
            return len(index.manifest.layers) > 1
        return True

    def act(self, action: str, step: int = 0) -> None:
        layers = self.layers()
        if action == "layer" and layers:
            at = layers.index(self.current_layer()) + step
            self.layer = layers[max(0, min(len(layers) - 1, at))]
        elif action == "variant":
            self.filter = FILTERS[(FILTERS.index(self.filter) + 1) % len(FILTERS)]

    def substitute(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            context = Context(str(hit["text"]), int(hit["start"]), int(hit["end"]), int(hit["position"]))
            self.pane.post_message(self.pane.ContextChosen(self.pane, context))
