"""The invariants of ``tests/invariants.py`` themselves: no false defect, and a real one is caught."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from fakes import FakeEngine, instant_loader, settle
from invariants import observe, step_violations, violations

from mlm_tui.app import make_app
from mlm_tui.session import Snapshot

TEXT = "the keys to the cabinet are on the [MASK]."


class EchoEngine(FakeEngine):
    """Predicts, at a token masked by a key, the very word that is there (as a trained model often does)."""

    def predict(self, encoding, masked=(), **kwargs):
        result = super().predict(encoding, masked, **kwargs)
        masks = []
        for mask in result.masks:
            token = encoding.tokens[mask.position]
            if not token.is_mask:
                first = dataclasses.replace(
                    mask.predictions[0], token=self._id(token.text), token_str=token.text
                )
                mask = dataclasses.replace(mask, predictions=(first, *mask.predictions[1:]))
            masks.append(mask)
        return dataclasses.replace(result, masks=tuple(masks))


async def test_substituting_the_masked_word_itself_is_no_defect():
    app = make_app(TEXT, loader=instant_loader(EchoEngine()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("home")  # it opens on the typed mask (issue 25, item 4): go to "the"
        await settle(pilot)
        for key in ["m", "enter", "m", "enter"]:
            before = observe(app)
            await pilot.press(key)
            await settle(pilot)
            assert step_violations(app, before, key) == []
            assert violations(app) == []
            snapshot = app.explorer.snapshot
            assert snapshot.text == TEXT  # "the" went in for "the": the text stays ...
            assert snapshot.masked_spans == ({(0, 3)} if key == "m" else set())  # ... and the mask goes


def _step(old: Snapshot, new: Snapshot, words: list[str]) -> list[str]:
    """What the step check says of ``enter`` on a prediction row of ``words`` taking ``old`` to ``new``."""
    app = SimpleNamespace(return_code=None, explorer=SimpleNamespace(snapshot=new, panes=[]))
    before = {"snapshot": old, "editing": False, "subjects": {}, "enter": ("predictions", words)}
    return step_violations(app, before, "enter")


MASKED = Snapshot("The keys are on the table.", frozenset({(4, 8)}))  # "keys" masked


@pytest.mark.parametrize(
    "new, words",
    [
        (Snapshot("The keys are on the table."), ["keys"]),  # the same word: only the mask goes
        (Snapshot("The cups are on the table."), ["cups"]),
        (MASKED, ["[UNK]"]),  # nothing it could put in
    ],
)
def test_a_right_step_is_not_reported(new, words):
    assert _step(MASKED, new, words) == []


@pytest.mark.parametrize(
    "new, words",
    [
        (Snapshot("The keys are on the table."), ["cups"]),  # the mask went, "cups" did not go in
        (Snapshot("The keys are on the table.", frozenset({(20, 25)})), ["keys"]),  # the mask moved
        (Snapshot("The keys are on the table.", frozenset({(4, 8), (20, 25)})), ["keys"]),  # one came
        (Snapshot("The pens are on the table."), ["cups"]),  # another word went in
        (MASKED, ["cups"]),  # nothing happened
    ],
)
def test_a_wrong_step_is_reported(new, words):
    assert _step(MASKED, new, words) != []
