"""Messages that worker threads post to the app. Threads never touch widgets; they post these."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .engine import Engine, PredictResult, ScoreResult


@dataclass
class ModelProgress(Message):
    """The loader reached a new stage (importing torch, reading weights...)."""

    stage: str


@dataclass
class ModelReady(Message):
    """The model is loaded and warmed up."""

    engine: Engine
    seconds: float


@dataclass
class ModelFailed(Message):
    """The model could not be loaded; ``error`` is one line for the user."""

    error: str


@dataclass
class PredictionsReady(Message):
    """Predictions for the request numbered ``request`` (older requests are stale)."""

    request: int
    result: PredictResult


@dataclass
class ScoresReady(Message):
    """Pseudo-log-likelihood for the request numbered ``request``."""

    request: int
    result: ScoreResult


@dataclass
class WorkFailed(Message):
    """A prediction or scoring request failed; ``error`` is one line for the user."""

    request: int
    error: str
