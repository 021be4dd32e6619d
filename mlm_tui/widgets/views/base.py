"""What every view of a pane's table has in common: one shape, so the pane only switches between them.

A view is a small object owned by one :class:`~mlm_tui.widgets.model_pane.ModelPane`. It says

- what it asks the engine for, and in which worker: :meth:`ModelPane.ask` runs the call in a thread
  worker of its own group (one per view, the newest request wins) and caches the answer per key;
- what it draws: :meth:`View.show` fills the table (and may shade or relabel the cells) and returns
  :class:`Shown`, what ``enter`` may act on;
- which keys it owns: :attr:`View.keys` names the screen's actions it answers, :meth:`View.act` does them;
- what ``enter`` does there: :meth:`View.substitute`, when :attr:`View.substitutes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..model_pane import ModelPane


@dataclass(frozen=True)
class Shown:
    """What a pane's table shows right now: ``enter`` acts only on this."""

    kind: str
    """``"predictions"`` (at a mask), ``"unmasked"`` (at a token the model sees), ``"scores"``,
    ``"fills"`` (joint fills), ``"replay"`` (the best fill step by step), ``"attention"`` or ``"message"``."""
    mask: int | None = None
    """The position whose predictions are listed (``predictions``: a mask; ``unmasked``: the selected token)."""


class View:
    """One kind of table a pane can show."""

    name: ClassVar[str]
    """The view's name (and the :attr:`Shown.kind` of its table, once computed)."""
    keys: ClassVar[frozenset[str]] = frozenset()
    """The screen's actions this view answers (e.g. ``"layer"``); the footer shows them only here."""
    substitutes: ClassVar[frozenset[str]] = frozenset()
    """The :attr:`Shown.kind` values whose rows ``enter`` can put in the text."""
    shades: ClassVar[bool] = False
    """True when the view colours the cells (:attr:`TokenView.shade`); other views leave them plain."""

    def __init__(self, pane: ModelPane) -> None:
        self.pane = pane

    def show(self) -> Shown:
        """Draw the table (and the cells) for the pane's state; say what is shown."""
        raise NotImplementedError

    def answers(self, action: str) -> bool:
        """True when :attr:`keys`' ``action`` does something now; by default once the view's table is
        drawn (its answer is here: the layers it can step are known)."""
        return self.pane.shown.kind == self.name

    def act(self, action: str, step: int = 0) -> None:
        """One of :attr:`keys` was pressed; the pane redraws after."""

    def substitute(self, row: int) -> None:
        """``enter`` on ``row`` of a table this view drew (only called for :attr:`substitutes` kinds)."""

    def substitute_row(self, row: int) -> int:
        """The row ``enter`` acts on when ``row`` is highlighted (it must be on screen)."""
        return row
