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
"""

from __future__ import annotations

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
            want = [p.token_str.strip() or repr(p.token_str) for p in result.predictions]
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
        else:
            message = table_rows(pane) or [str(c.label) for c in pane.table.columns.values()]
            if any(m.startswith(("Predicting", "Scoring", "Reading", "Filling")) for m in message):
                found.append(f"{name}: stuck on {message}")
        if shown.kind != "replay" and pane.tokens.revealed:
            found.append(f"{name}: cells show a replay's tokens outside the replay")
        if shown.kind != "attention" and pane.tokens.shade is not None:
            found.append(f"{name}: cells shaded by attention outside the attention view")
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
    view = pane.engine.unmasked(fresh, top_k=pane.top_k, sequences=False).at(selected)
    want = [p.token_str.strip() or repr(p.token_str) for p in view.predictions]
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
    step = pane.replay_step
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
    layer, head = pane.attention_layer, pane.attention_head
    heading = pane.panel.heading
    if f"(token {selected})" not in heading or f"layer {layer} " not in heading:
        return [f"{pane.id}: the title {heading!r} does not name token {selected}, layer {layer}"]
    weights = result.row(layer, head)
    want = sorted((i for i, w in enumerate(weights) if not math.isnan(w)), key=lambda i: (-weights[i], i))
    got = [int(str(pane.table.get_row_at(r)[0])) for r in range(pane.table.row_count)]
    if got != want:
        return [f"{pane.id}: attention rows {got} are not the weights' order {want}"]
    return []
