"""What the screen shows must agree after every key. ``violations(app)`` lists what does not.

The invariants (README, "State that never disagrees"):

1. The sentence box, when it is not being edited, holds the session's text.
2. Every loaded pane's encoding is that model's encoding of the session's text now (never a stale
   one), its cells show that encoding, and its masks are exactly the tokens covering the session's
   masked characters.
3. A table that lists predictions lists the current predictions for a mask that is masked now (then
   the watched words' rows, in the order they were given), and its title names that mask; a table
   that lists scores does so only in the surprisal view, for the current text. The unmasked view
   lists the model's view of the selected token, which is not masked, for the current text; the
   joint fills and their replay are for the masks and the text on show now, and the replay's cells
   show exactly the steps revealed; the attention rows are the selected token's weights for the
   current text and masks, in the layer and head the title names. Once the workers are done, no
   table still says "Predicting…", "Scoring…", "Reading…" or "Filling…".
4. The status bar counts the masks the active pane shows, and the top-k in force.

The fifth — the footer greys exactly the keys that would do nothing — is checked key by key in
``test_random_keys.py``: a greyed key changes nothing, an enabled state-changing key changes the state.

``step_violations(app, before, item)`` checks what one step did (``before`` is :func:`observe` of the
app just before it):

6. The app never exits (the streams hold no ``q``; a crash sets a return code).
7. ``enter`` applies the highlighted row: the words of that row (a prediction, a watched word, a
   joint fill's words; the replay's best fill) are what went into the text where it changed; when
   the text did not change (the word equals the masked one), they are what the masks that went covered.
8. A view that opens (predictions of another mask or text, the unmasked view of another token, the
   joint fills, the attention) opens on its first row.
9. An edit of the sentence keeps every mask whose characters it did not touch (moved with the text).
"""

from __future__ import annotations

from mlm_tui.engine import shown_token
from mlm_tui.session import positions_covering


def table_rows(pane) -> list[str]:
    table = pane.table
    return [str(table.get_row_at(r)[1]) for r in range(table.row_count)]


def violations(app) -> list[str]:
    screen = app.explorer
    found: list[str] = []
    snapshot = screen.snapshot
    if snapshot is None:
        return found
    if not screen.editing and screen.sentence.value != snapshot.text:
        found.append(f"sentence box {screen.sentence.value!r} but the session is {snapshot.text!r}")
    for pane in screen.panes:
        name = pane.id
        if not pane.ready or pane.encoding is None:
            continue
        fresh = pane.engine.encode(snapshot.text)
        if pane.encoding != fresh:
            found.append(f"{name}: stale encoding {pane.encoding.text!r} for {snapshot.text!r}")
            continue
        if pane.tokens.encoding != fresh:
            found.append(f"{name}: the cells show another encoding")
        spans = {pane.text_map.span_to_model(s) for s in snapshot.masked_spans}
        expected = positions_covering(fresh, spans) - set(fresh.mask_positions)
        if pane.tokens.masked != expected:
            found.append(
                f"{name}: masks {sorted(pane.tokens.masked)} but the session says {sorted(expected)}"
            )
        shown = pane.shown
        if shown.kind == "predictions":
            masks = pane.tokens.all_masks
            if shown.mask not in masks:
                found.append(f"{name}: the table shows predictions for token {shown.mask}, not masked")
                continue
            if pane.predictions is None or [m.position for m in pane.predictions.masks] != list(masks):
                found.append(f"{name}: the table shows predictions for other masks than the cells")
                continue
            result = pane.predictions.for_position(shown.mask)
            want = [shown_token(p.token_str) for p in result.predictions]
            by_word = {t.target: t for t in result.targets}
            want += [f"{w} (#{by_word[w].rank})" for w in screen.watched if w in by_word]
            if [w for w in screen.watched if w not in by_word]:
                found.append(f"{name}: watched words {screen.watched} not all scored at the mask")
            if table_rows(pane) != want:
                found.append(f"{name}: table rows {table_rows(pane)} are not the predictions {want}")
            if f"(token {shown.mask})" not in pane.panel.heading:
                found.append(f"{name}: the title {pane.panel.heading!r} does not name token {shown.mask}")
        elif shown.kind == "scores":
            if not screen.show_surprisal or pane.scores is None:
                found.append(f"{name}: scores shown outside the surprisal view")
            elif pane.scores.text != fresh.text:
                found.append(f"{name}: scores of another text")
        elif shown.kind == "unmasked":
            found += _unmasked(pane, fresh)
        elif shown.kind in ("fills", "replay"):
            found += _fills(pane, fresh)
        elif shown.kind == "attention":
            found += _attention(screen, pane, fresh)
        elif shown.kind in LAYER_VIEWS:
            found += LAYER_VIEWS[shown.kind](screen, pane, fresh)
        else:
            message = table_rows(pane) or [str(c.label) for c in pane.table.columns.values()]
            stuck = ("Predicting", "Scoring", "Reading", "Filling", "Applying", "Integrating", "Taking")
            if any(m.startswith(stuck) for m in message):
                found.append(f"{name}: stuck on {message}")
        if shown.kind != "replay" and pane.tokens.revealed:
            found.append(f"{name}: cells show a replay's tokens outside the replay")
        if shown.kind not in ("attention", "similarity", "salience") and pane.tokens.shade is not None:
            found.append(f"{name}: cells shaded outside the attention, similarity and salience views")
    if screen.status.masks != len(screen.active.tokens.all_masks):
        found.append(
            f"status bar says {screen.status.masks} masks, the cells {len(screen.active.tokens.all_masks)}"
        )
    if screen.status.top_k != screen.top_k:
        found.append("status bar top-k is not the one in force")
    return found


def _unmasked(pane, fresh) -> list[str]:
    selected = pane.tokens.selected
    if pane.shown.mask != selected or pane.tokens.is_masked(selected) or fresh.tokens[selected].special:
        return [f"{pane.id}: the unmasked view is for token {pane.shown.mask}, the selection is {selected}"]
    view = pane.engine.unmasked(fresh, top_k=pane.top_k, sequences=False, masked=sorted(pane.tokens.masked))
    view = view.at(selected)
    want = [shown_token(p.token_str) for p in view.predictions]
    if table_rows(pane) != want:
        return [f"{pane.id}: unmasked rows {table_rows(pane)} are not the model's view {want}"]
    return []


def _fills(pane, fresh) -> list[str]:
    joint = pane.engine.joint_fill(fresh, sorted(pane.tokens.masked), beam=pane.beam)
    if list(joint.positions) != list(pane.tokens.all_masks):
        return [f"{pane.id}: fills for masks {joint.positions}, the cells have {pane.tokens.all_masks}"]
    if pane.shown.kind == "fills":
        want = [f.sequence for f in joint.fills]
        got = [str(pane.table.get_row_at(r)[3]) for r in range(pane.table.row_count)]
        if got != want:
            return [f"{pane.id}: fills table {got} is not the joint fills {want}"]
        return []
    step = pane.fills.step
    revealed = {s.position for s in joint.steps[:step]}
    if step is None or set(pane.tokens.revealed or {}) != revealed:
        return [f"{pane.id}: replay step {step} but the cells reveal {sorted(pane.tokens.revealed or {})}"]
    return []


def _attention(screen, pane, fresh) -> list[str]:
    import math

    if not screen.show_attention:
        return [f"{pane.id}: attention shown outside the attention view"]
    selected = pane.tokens.selected
    result = pane.engine.attention(fresh, selected, sorted(pane.tokens.masked))
    layer, head = pane.attention.layer, pane.attention.head
    heading = pane.panel.heading
    if f"(token {selected})" not in heading or f"layer {layer} " not in heading:
        return [f"{pane.id}: the title {heading!r} does not name token {selected}, layer {layer}"]
    weights = result.row(layer, head)
    want = sorted((i for i, w in enumerate(weights) if not math.isnan(w)), key=lambda i: (-weights[i], i))
    got = [int(str(pane.table.get_row_at(r)[0])) for r in range(pane.table.row_count)]
    if got != want:
        return [f"{pane.id}: attention rows {got} are not the weights' order {want}"]
    return []


def _lens(screen, pane, fresh) -> list[str]:
    selected = pane.tokens.selected
    if screen.view != "lens":
        return [f"{pane.id}: the lens shown outside its view"]
    result = pane.engine.lens(fresh, selected, sorted(pane.tokens.masked), top_k=3)
    if f"(token {selected})" not in pane.panel.heading:
        return [f"{pane.id}: the lens title {pane.panel.heading!r} does not name token {selected}"]
    got = [str(pane.table.get_row_at(r)[1]).rsplit(" ", 1)[0] for r in range(pane.table.row_count)]
    want = [shown_token(layer.top[0].token_str) for layer in result.layers]
    if [w[: len(g.rstrip("…"))] for g, w in zip(got, want, strict=False)] != [g.rstrip("…") for g in got]:
        return [f"{pane.id}: lens rows {got} are not the layers' top-1 {want}"]
    if len(got) != len(want):
        return [f"{pane.id}: {len(got)} lens rows for {len(want)} layers"]
    return []


def _grid(screen, pane, fresh) -> list[str]:
    if screen.view != "grid":
        return [f"{pane.id}: the lens grid shown outside its view"]
    grid = pane.engine.lens_grid(fresh, sorted(pane.tokens.masked))
    if pane.table.row_count != grid.top_probs.shape[0]:
        return [f"{pane.id}: {pane.table.row_count} grid rows for {grid.top_probs.shape[0]} layers"]
    labels = [str(c.label) for c in pane.table.columns.values()]
    if not any(label.startswith("▸") for label in labels):
        return [f"{pane.id}: the grid does not show the selected token's column ({labels})"]
    return []


def _similarity(screen, pane, fresh) -> list[str]:
    import math

    selected = pane.tokens.selected
    if screen.view != "similarity":
        return [f"{pane.id}: similarity shown outside its view"]
    view = pane.views["similarity"]
    states = pane.engine.hidden_states(fresh, sorted(pane.tokens.masked))
    cosine = states.cosine(view.layer, view.standardise)[selected]
    heading = pane.panel.heading
    how = "standardised" if view.standardise else "raw"
    if f"(token {selected})" not in heading or f"layer {view.layer} " not in heading or how not in heading:
        return [f"{pane.id}: the title {heading!r} does not say token {selected}, layer {view.layer}, {how}"]
    want = sorted(
        (i for i, c in enumerate(cosine) if i != selected and not math.isnan(c)),
        key=lambda i: (-cosine[i], i),
    )
    got = [int(str(pane.table.get_row_at(r)[0])) for r in range(len(want))]
    if got != want:
        return [f"{pane.id}: similarity rows {got} are not the cosine order {want}"]
    return []


def _salience(screen, pane, fresh) -> list[str]:
    if screen.view != "salience":
        return [f"{pane.id}: salience shown outside its view"]
    mask = pane.shown_mask()
    if mask is None or f"(token {mask})" not in pane.panel.heading:
        return [f"{pane.id}: the salience title {pane.panel.heading!r} does not name the mask {mask}"]
    return []


def _neighbours(screen, pane, fresh) -> list[str]:
    """The nearest contexts are the index's hits for the selected token's vector (of the text as masked)
    at the layer the title names, with the filter and k it names, best first."""
    from mlm_tui.widgets.views.neighbours import FILTER_NAMES, query_word

    if screen.view != "neighbours":
        return [f"{pane.id}: nearest contexts shown outside their view"]
    view = pane.views["neighbours"]
    selected, layer, same = pane.tokens.selected, view.layer, view.filter
    heading = pane.panel.heading
    if (
        f"(token {selected})" not in heading
        or f"layer {layer} " not in heading
        or FILTER_NAMES[same] not in heading
        or f"k {pane.top_k} " not in heading
    ):
        return [
            f"{pane.id}: the title {heading!r} does not say token {selected}, layer {layer}, k {pane.top_k}"
        ]
    states = pane.engine.hidden_states(fresh, sorted(pane.tokens.masked))
    hits = pane.index.search(
        layer, states.states[layer, selected], pane.top_k, word=query_word(fresh, selected), same_word=same
    )
    want = [(str(h["line"]), f"{h['score']:.3f}", str(h["text"])) for h in hits]
    table = pane.table
    got = [
        (str(table.get_row_at(r)[3]), str(table.get_row_at(r)[1]), str(table.get_row_at(r)[4]))
        for r in range(table.row_count)
    ]
    if [g[:2] for g in got] != [w[:2] for w in want] or any(
        g[2].strip("…") not in w[2] for g, w in zip(got, want, strict=False)
    ):
        return [f"{pane.id}: nearest-context rows {got} are not the index's hits {want}"]
    return []


LAYER_VIEWS = {
    "lens": _lens,
    "grid": _grid,
    "similarity": _similarity,
    "salience": _salience,
    "neighbours": _neighbours,
}


# ---------------------------------------------------------------- what one step did (6-9)

ROW_VIEWS = ("predictions", "unmasked", "fills", "attention", "lens", "similarity", "salience", "neighbours")
"""Views that open on their first row (the replay follows its step; the scores the selected token)."""


def _subject(pane) -> tuple:
    shown = pane.shown
    masks = (
        pane.tokens.all_masks
        if shown.kind in ("fills", "attention", "lens", "similarity", "salience", "neighbours")
        else ()
    )
    selected = (
        pane.tokens.selected if shown.kind in ("attention", "lens", "similarity", "neighbours") else None
    )
    return (shown.kind, shown.mask, pane.encoding.text if pane.encoding else None, masks, selected)


def _highlighted_words(app) -> tuple[str, list[str]] | None:
    """What ``enter`` should put in the text now: the kind of row and its words; None when it does nothing."""
    screen = app.explorer
    if app.screen is not screen or screen.editing:
        return None
    pane = screen.active
    if app.focused not in (pane.tokens, pane.table) or not pane.can_substitute:
        return None
    kind, table = pane.shown.kind, pane.table
    if kind in ("predictions", "unmasked"):
        rank, cell = (str(c) for c in table.get_row_at(table.cursor_row)[:2])
        return kind, [cell.rsplit(" (#", 1)[0] if rank == "◆" else cell]
    if kind == "fills":
        cell = str(table.get_row_at(table.cursor_row)[2]).removesuffix(" (ind.)")
        return kind, cell.split(" · ")
    if kind == "replay":  # enter in the replay applies the best fill, whatever step is on show
        joint = pane.engine.joint_fill(pane.encoding, sorted(pane.tokens.masked), beam=pane.beam)
        return kind, [shown_token(t) for t in joint.fills[0].token_strs]
    return None


def observe(app) -> dict:
    """What :func:`step_violations` needs from before a step."""
    screen = app.explorer
    return {
        "snapshot": screen.snapshot,
        "editing": screen.editing and app.screen is screen,
        "subjects": {p.id: _subject(p) for p in screen.panes if p.encoding is not None},
        "enter": _highlighted_words(app),
        "context": _highlighted_context(app),
        "selected": _selected_text(app),
    }


def _highlighted_context(app) -> dict | None:
    """The nearest context ``enter`` opens now (its hit), when the active pane lists them."""
    screen = app.explorer
    if app.screen is not screen or screen.editing:
        return None
    pane = screen.active
    if app.focused not in (pane.tokens, pane.table) or not pane.can_substitute:
        return None
    if pane.shown.kind != "neighbours":
        return None
    return pane.views["neighbours"].hits[pane.table.cursor_row]


def _selected_text(app) -> str | None:
    """The characters of the active pane's selected token (the unmasked view puts a word in their place)."""
    pane = app.explorer.active
    if pane.encoding is None or pane.text_map is None or app.explorer.snapshot is None:
        return None
    start, end = pane.session_span(pane.tokens.selected)
    return app.explorer.snapshot.text[start:end]


def _changed(old: str, new: str) -> tuple[int, int]:
    """Where ``new`` differs from ``old``: the length of their common start and of their common end."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[len(old) - 1 - end] == new[len(new) - 1 - end]:
        end += 1
    return start, end


def step_violations(app, before: dict, item: object) -> list[str]:
    found: list[str] = []
    if app.return_code is not None:
        return [f"the app exited (status {app.return_code}) though neither q nor ctrl+c was pressed"]
    screen = app.explorer
    old, new = before["snapshot"], screen.snapshot
    single = isinstance(item, str)
    if single and item in ("u", "U", "ctrl+r"):
        return found  # undo and redo bring back any earlier state
    if item == "enter" and before["enter"] is not None and old is not None and new is not None:
        kind, words = before["enter"]
        if old.text == new.text and old.masked_spans == new.masked_spans:
            same = kind == "unmasked" and [w.removeprefix("##").lower() for w in words] == [
                (before.get("selected") or "").lower()
            ]  # the model's top word at a token is often that token: putting it in changes nothing
            if not same and not all(w.startswith(("[", "<", "'")) or "\ufffd" in w for w in words):
                found.append(f"enter on {kind} row {words} changed nothing")
        elif old.text == new.text:
            # the word put in equals the masked one: the text stays, only its mask goes; the words
            # must then be what the masks that went covered, and no mask may come
            gone = sorted(old.masked_spans - new.masked_spans)
            window = " ".join(old.text[a:b] for a, b in gone).lower()
            missing = [w for w in words if w.removeprefix("##").lower() not in window]
            if new.masked_spans - old.masked_spans or not gone or missing:
                found.append(
                    f"enter left the text as it was and changed the masks from {sorted(old.masked_spans)} "
                    f"to {sorted(new.masked_spans)}, which does not put the highlighted {kind} row {words}"
                )
        else:
            start, end = _changed(old.text, new.text)
            reach = max(len(w) for w in words) + 1
            window = new.text[max(0, start - reach) : len(new.text) - end + reach].lower()
            missing = [w for w in words if w.removeprefix("##").lower() not in window]
            if missing:
                found.append(f"enter put {window!r} in the text, not the highlighted {kind} row {words}")
    context = before.get("context")
    if item == "enter" and context is not None and new is not None:
        # enter on a nearest context opens its sentence, the matched token selected (the other keys of
        # the step may have moved on from there: only a single enter is checked)
        pane = screen.active
        selected = pane.encoding.tokens[pane.tokens.selected] if pane.encoding is not None else None
        if new.text != context["text"] or new.masked_spans:
            found.append(f"enter on the nearest context {context['text']!r} opened {new.text!r}")
        elif selected is None or selected.start != context["start"]:
            found.append(
                f"enter on a nearest context selected {selected}, not the match at {context['start']}"
            )
    if single:
        for pane in screen.panes:
            if pane.encoding is None or pane.shown.kind not in ROW_VIEWS:
                continue
            if item == "escape" and pane.shown.kind == "neighbours":
                continue  # escape back from a context comes back to the row it was opened from
            if before["subjects"].get(pane.id) != _subject(pane) and pane.table.cursor_row != 0:
                found.append(f"{pane.id}: the {pane.shown.kind} view opened on row {pane.table.cursor_row}")
    if before["editing"] and old is not None and new is not None and old.text != new.text:
        start, end = _changed(old.text, new.text)
        delta = len(new.text) - len(old.text)
        for a, b in old.masked_spans:
            if b <= start and (a, b) not in new.masked_spans:
                found.append(f"the edit dropped the mask on {old.text[a:b]!r} before what it changed")
            elif a >= len(old.text) - end and (a + delta, b + delta) not in new.masked_spans:
                found.append(f"the edit dropped the mask on {old.text[a:b]!r} after what it changed")
    return found
