"""Messages that worker threads post to the pane that started them. Threads never touch widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from .engine import Engine, PredictResult, ScoreResult


@dataclass
class ModelProgress(Message, bubble=False):
    """The loader reached a new stage (importing torch, reading weights...)."""

    stage: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ModelProgress)  # only the latest stage matters


@dataclass
class ModelReady(Message, bubble=False):
    """The model is loaded and warmed up."""

    engine: Engine
    seconds: float


@dataclass
class ModelFailed(Message, bubble=False):
    """The model could not be loaded; ``error`` is one line for the user."""

    error: str


@dataclass
class PredictionsReady(Message, bubble=False):
    """Predictions for the request numbered ``request`` (older requests are stale)."""

    request: int
    result: PredictResult


@dataclass
class ScoresReady(Message, bubble=False):
    """Pseudo-log-likelihood for the request numbered ``request``."""

    request: int
    result: ScoreResult


@dataclass
class WorkFailed(Message, bubble=False):
    """A prediction or scoring request failed; ``error`` is one line for the user."""

    request: int
    error: str


@dataclass
class UpgradeProgress(Message, bubble=False):
    """The switch to the faster backend reached a new stage (exporting, opening the graph)."""

    stage: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, UpgradeProgress)


@dataclass
class ModelUpgraded(Message, bubble=False):
    """The faster engine (same answers) is ready to take over."""

    engine: Engine


@dataclass
class UpgradeFailed(Message, bubble=False):
    """The faster engine could not be built; the current one stays. ``error`` is one line."""

    error: str


@dataclass
class ViewReady(Message, bubble=False):
    """A result for one of a pane's exploration views (``kind``: joint, unmasked, attention)."""

    kind: str
    request: int
    result: Any


@dataclass
class ViewFailed(Message, bubble=False):
    """An exploration view's request failed; ``error`` is one line for the user."""

    kind: str
    request: int
    error: str
