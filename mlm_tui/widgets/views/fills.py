"""Joint fills of every mask (beam search) and the replay of the best one, step by step."""

from __future__ import annotations

from ...engine import JointResult, shown_token
from .base import Shown, View


class FillsView(View):
    """``f`` opens it on one pane (the screen keeps the panes in step); ``[``/``]``/``p`` step the replay."""

    name = "fills"
    keys = frozenset({"replay", "play"})
    substitutes = frozenset({"fills", "replay"})

    def __init__(self, pane) -> None:  # type: ignore[no-untyped-def]
        super().__init__(pane)
        self.on = False
        self.step: int | None = None
        """The replay's step (masks revealed); ``None``: the list of fills."""

    def toggle(self) -> None:
        self.on = not self.on
        self.step = None
        self.pane.redraw()

    def joint(self) -> JointResult | None:
        joint = self.pane.result(self.name)
        return joint if isinstance(joint, JointResult) else None

    def show(self) -> Shown:
        pane, panel, table = self.pane, self.pane.panel, self.pane.table
        assert pane.engine is not None and pane.encoding is not None
        masks = pane.tokens.all_masks
        if not masks:
            panel.heading = "Joint fill"
            panel.elapsed_ms = None
            table.show_message("Mask the tokens to fill together (m); f closes this view.")
            return Shown("message")
        engine, encoding, masked, beam = pane.engine, pane.encoding, sorted(pane.tokens.masked), pane.beam
        joint = pane.ask(
            self.name, (encoding.text, masks, beam), lambda: engine.joint_fill(encoding, masked, beam=beam)
        )
        if not isinstance(joint, JointResult):
            return pane.waiting("Joint fill", self.name, "Filling the masks jointly…")
        panel.elapsed_ms = joint.elapsed_ms
        if self.step is not None:
            step = self.step = max(0, min(self.step, len(joint.steps)))
            panel.heading = f"Replay of the best fill · step {step} of {len(joint.steps)}"
            pane.tokens.revealed = {s.position: shown_token(s.token_str) for s in joint.steps[:step]}
            table.show_replay(joint, step)
            return Shown("replay")
        panel.heading = (
            f"Joint fills of {len(masks)} mask{'s' if len(masks) > 1 else ''} · beam {joint.beam} · "
            f"best log p {joint.fills[0].log_prob:.2f}"
        )
        table.show_fills(joint)
        return Shown("fills")

    # ------------------------------------------------------------------ the replay's keys

    @property
    def can_replay(self) -> bool:
        """True when the joint fills are on show (or their replay), so ``[``, ``]`` and ``p`` act."""
        return self.pane.shown.kind in ("fills", "replay")

    @property
    def at_end(self) -> bool:
        joint = self.joint()
        return joint is not None and self.step == len(joint.steps)

    def step_replay(self, step: int) -> bool:
        """Reveal one more (or one fewer) mask of the best fill; ``[`` before the first step leaves the replay."""
        joint = self.joint()
        if not self.can_replay or joint is None:
            return False
        if self.step is None:
            self.step = 0 if step < 0 else 1
        elif self.step == 0 and step < 0:
            self.step = None
        else:
            self.step = max(0, min(len(joint.steps), self.step + step))
        self.pane.redraw()
        return self.step is not None and self.step < len(joint.steps)

    # ------------------------------------------------------------------ enter

    def substitute_row(self, row: int) -> int:
        return 0 if self.pane.shown.kind == "replay" else row  # the replay puts in the best fill

    def substitute(self, row: int) -> None:
        joint = self.joint()
        if joint is None or not 0 <= row < len(joint.fills):
            return
        fill = joint.fills[row]
        edits = [
            (p, t, s, None) for p, t, s in zip(joint.positions, fill.tokens, fill.token_strs, strict=True)
        ]
        if self.pane.put(edits):  # the masks are filled: back to the ordinary table
            self.on = False
            self.step = None
