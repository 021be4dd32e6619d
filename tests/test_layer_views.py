"""Pilot tests of the views of the model's layers (issue 22): the MLM lens (``L``), its grid (``#``),
token similarity (``v``, ``<``/``>``, ``z``), salience (``d``, ``z``) and the token ids (``i``).

Every expected value comes from the engine the app was given (the fake's lens, hidden states and
salience), never from the view under test; the invariants of ``tests/invariants.py`` are checked
after every step.
"""

from __future__ import annotations

import math

import pytest
from fakes import FakeEngine
from test_app_explore import KEYS, column, fake_app, opened, state, step

from mlm_tui.engine import shown_token


def lens_column(pane, index: int) -> list[str]:
    return column(pane, index)


async def test_lens_opens_on_its_first_row_follows_the_selection_and_escape_closes_it():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "home", "right", "m")  # mask "keys"
        highlighted = pane.mask_result(KEYS).predictions[1]
        await step(pilot, "down")  # highlight the second prediction: the lens tracks it
        await step(pilot, "L")
        assert screen.view == "lens" and pane.shown.kind == "lens"
        assert pane.table.cursor_row == 0
        result = engine.lens(pane.encoding, KEYS, sorted(pane.tokens.masked), top_k=3)
        assert pane.table.row_count == len(result.layers) == engine.LAYERS
        # each row: the layer, its top-3 with probabilities, the tracked token's rank and probability
        assert column(pane, 0) == [str(layer.layer) for layer in result.layers]
        for n in range(3):
            assert column(pane, 1 + n) == [
                f"{shown_token(layer.top[n].token_str)} {layer.top[n].score:.0%}" for layer in result.layers
            ]
        ranks = [result.rank_prob(layer.layer, highlighted.token) for layer in result.layers]
        assert column(pane, 4) == [str(r) for r, _ in ranks]
        assert column(pane, 5) == [f"{p:.0%}" if p >= 0.01 else f"{p:.0e}" for _, p in ranks]
        assert column(pane, 6) == [f"{layer.entropy:.1f}" for layer in result.layers]
        assert column(pane, 7) == [f"{layer.kl_to_final:.1f}" for layer in result.layers]
        heading = pane.panel.heading
        assert f"(token {KEYS})" in heading and f"tracking {highlighted.token_str!r}" in heading
        # the last layer is what the predictions table showed
        final = pane.mask_result(KEYS).predictions[0]
        assert column(pane, 1)[-1] == f"{final.token_str} {final.score:.0%}"
        # enter does nothing here
        assert screen.check_action("substitute", ()) is None
        before = state(app)
        await step(pilot, "enter")
        assert state(app) == before
        # the selection moves: the lens follows (an unmasked token: its final is the unmasked view)
        await step(pilot, "right")
        assert f"(token {KEYS + 1})" in pane.panel.heading and pane.shown.kind == "lens"
        result = engine.lens(pane.encoding, KEYS + 1, sorted(pane.tokens.masked), top_k=3)
        top = result.layers[-1].top[0]
        assert f"tracking {top.token_str!r}" in pane.panel.heading  # no highlight here: the final top-1
        await step(pilot, "escape")
        assert screen.view is None and pane.shown.kind == "unmasked"


async def test_lens_grid_shows_every_layer_and_follows_the_selection():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "home", "right", "m", "number_sign")
        assert pane.shown.kind == "grid"
        grid = engine.lens_grid(pane.encoding, sorted(pane.tokens.masked))
        assert pane.table.row_count == grid.top_probs.shape[0]
        labels = [str(c.label) for c in pane.table.columns.values()]
        assert labels[0] == "layer" and any(label == "▸[MASK]" for label in labels)
        # every cell is the top-1 of its token at its layer
        tokens = [int(i) for i in range(len(pane.encoding.tokens))]
        first = tokens[0] if labels[1].lstrip("▸") == "[CLS]" else None
        assert first == 0
        for layer in range(grid.top_probs.shape[0]):
            row = [str(c).strip() for c in pane.table.get_row_at(layer)[1:]]
            want = [shown_token(grid.top_strs[layer][i])[:9] for i in range(len(row))]
            assert [r.rstrip("…") for r in row] == [
                w[: len(r.rstrip("…"))] for r, w in zip(row, want, strict=False)
            ]
        await step(pilot, "end")
        labels = [str(c.label) for c in pane.table.columns.values()]
        selected = pane.tokens.selected
        assert selected > KEYS and f"▸{pane.cell_label(selected)[:9]}" in labels
        assert "▸[MASK]" not in labels
        await step(pilot, "number_sign")
        assert screen.view is None


async def test_similarity_layers_standardise_and_shade():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "home", "right", "v")
        assert pane.shown.kind == "similarity"
        states = engine.hidden_states(pane.encoding, [])
        last = states.layers - 1
        view = pane.views["similarity"]
        for layer, standardise in ((last, False), (last - 1, False), (last - 1, True), (0, True)):
            if layer != view.layer:
                await step(pilot, *(["less_than_sign"] * (view.layer - layer)))
            if standardise != view.standardise:
                await step(pilot, "z")
            assert (view.layer, view.standardise) == (layer, standardise)
            cosine = states.cosine(layer, standardise)[KEYS]
            order = sorted((i for i in range(len(cosine)) if i != KEYS), key=lambda i: (-cosine[i], i))
            assert [int(c) for c in column(pane, 0)[: len(order)]] == order
            assert column(pane, 2)[: len(order)] == [f"{cosine[i]:.3f}" for i in order]
            heading = pane.panel.heading
            assert f"layer {layer} (0–{last})" in heading
            assert ("standardised" in heading) == standardise
            assert pane.tokens.shade == pytest.approx({i: max(0.0, float(c)) for i, c in enumerate(cosine)})
        # the strip: norm, cosine to the previous layer and to the embeddings, one row per layer
        strip = states.strip(KEYS)
        assert column(pane, 5)[: len(strip)] == [f"{norm:.1f}" for norm, _, _ in strip]
        assert column(pane, 6)[0] == "" and column(pane, 6)[1] == f"{strip[1][1]:.3f}"
        assert column(pane, 7)[: len(strip)] == [f"{c:.3f}" for _, _, c in strip]
        # > is clamped at the last layer
        for _ in range(states.layers + 1):
            await step(pilot, "greater_than_sign")
        assert view.layer == last
        await step(pilot, "escape")
        assert screen.view is None and pane.tokens.shade is None


async def test_salience_tracks_the_highlighted_prediction_and_steps_methods():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, _screen, pane):
        await step(pilot, "d")
        assert pane.shown.kind == "message"  # no mask: one line says what to do
        assert "mask a token" in str(next(iter(pane.table.columns.values())).label)
        await step(pilot, "d", "home", "right", "m", "down", "d")
        target = pane.mask_result(KEYS).predictions[1]
        assert pane.shown.kind == "salience"
        for method, baseline in (("ig", "mask"), ("ig", "zero"), ("grad-input", ""), ("ig", "mask")):
            result = engine.salience(
                pane.encoding,
                KEYS,
                target.token,
                [KEYS],
                method=method,
                steps=20,
                baseline=baseline or "mask",
            )
            order = sorted(range(len(result.attributions)), key=lambda i: (-result.attributions[i], i))
            assert [int(c) for c in column(pane, 0)] == order
            assert column(pane, 2) == [f"{result.attributions[i]:+.4f}" for i in order]
            heading = pane.panel.heading
            assert f"Salience of {target.token_str!r}" in heading and f"(token {KEYS})" in heading
            if method == "ig":
                assert "integrated gradients, 20 steps" in heading
                assert ("[MASK] baseline" if baseline == "mask" else "zero baseline") in heading
                total, expected = result.completeness
                assert f"Σ {total:.3f} of Δ {expected:.3f}" in heading
            else:
                assert "gradient × input" in heading
            top = max(abs(a) for a in result.attributions)
            assert pane.tokens.shade == pytest.approx(
                {i: abs(a) / top for i, a in enumerate(result.attributions)}
            )
            await step(pilot, "z")


async def test_ids_under_the_cells_and_beside_the_predictions():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, _screen, pane):
        await step(pilot, "home", "right", "m", "i")
        lines = pane.tokens.plain.splitlines()
        assert len(lines) % 2 == 0
        ids = " ".join(lines[1::2]).split()
        want = [str(engine.mask_id if t.index == KEYS else t.id) for t in pane.encoding.tokens]
        assert ids == want
        result = pane.mask_result(KEYS)
        assert column(pane, 2)[: len(result.predictions)] == [str(p.token) for p in result.predictions]
        await step(pilot, "i")
        assert len(pane.tokens.plain.splitlines()) == 1
        assert "id" not in [str(c.label) for c in pane.table.columns.values()]


async def test_view_keys_are_greyed_outside_their_views():
    engine = FakeEngine()
    app = fake_app(engine)
    async with opened(app) as (pilot, screen, pane):
        await step(pilot, "home", "right", "m")
        assert screen.check_action("variant", ()) is None
        before = state(app)
        await step(pilot, "z")
        assert state(app) == before
        await step(pilot, "L")
        assert screen.check_action("variant", ()) is None and screen.check_action("layer", (1,)) is None
        await step(pilot, "v")  # one view at a time: similarity replaces the lens
        assert screen.view == "similarity" and screen.check_action("layer", (1,)) is True
        await step(pilot, "a")
        assert screen.view == "attention" and screen.check_action("variant", ()) is None
        assert not math.isnan(pane.attention.layer or 0)
        await step(pilot, "f")  # the fills close the layer view
        assert screen.view is None and pane.fills.on
        await step(pilot, "L")
        assert screen.view == "lens" and not pane.fills.on
