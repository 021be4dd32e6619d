"""What the screen shows must agree after every key. ``violations(app)`` lists what does not.

The invariants (README, "State that never disagrees"):

1. The sentence box, when it is not being edited, holds the session's text.
2. Every loaded pane's encoding is that model's encoding of the session's text now (never a stale
   one), its cells show that encoding, and its masks are exactly the tokens covering the session's
   masked characters.
3. A table that lists predictions lists the current predictions for a mask that is masked now, and
   its title names that mask; a table that lists scores does so only in the surprisal view, for the
   current text. Once the workers are done, no table still says "Predicting…" or "Scoring…".
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
            if table_rows(pane) != want:
                found.append(f"{name}: table rows {table_rows(pane)} are not the predictions {want}")
            if f"(token {shown.mask})" not in pane.panel.heading:
                found.append(f"{name}: the title {pane.panel.heading!r} does not name token {shown.mask}")
        elif shown.kind == "scores":
            if not screen.show_surprisal or pane.scores is None:
                found.append(f"{name}: scores shown outside the surprisal view")
            elif pane.scores.text != fresh.text:
                found.append(f"{name}: scores of another text")
        else:
            message = table_rows(pane) or [str(c.label) for c in pane.table.columns.values()]
            if any(m.startswith(("Predicting", "Scoring")) for m in message):
                found.append(f"{name}: stuck on {message}")
    if screen.status.masks != len(screen.active.tokens.all_masks):
        found.append(
            f"status bar says {screen.status.masks} masks, the cells {len(screen.active.tokens.all_masks)}"
        )
    if screen.status.top_k != screen.top_k:
        found.append("status bar top-k is not the one in force")
    return found
