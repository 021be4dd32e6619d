"""One way to describe and build an engine, shared by the CLI, ``make_app`` and the app's panes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .loading import DEFAULT_MODEL

_LOADING = threading.Lock()
"""transformers builds models under process-wide state (the meta device, the default dtype):
two loads at once in two threads break each other, so loads take turns."""

if TYPE_CHECKING:  # pragma: no cover
    from .model import MaskedLM


@dataclass(frozen=True)
class EngineOptions:
    """Everything that decides which engine is built; frozen, so it can be passed to threads and compared."""

    model: str | None = None
    """Hugging Face id, local folder or bundled short name; ``None`` picks the default model."""
    device: str = "cpu"
    fast: str | None = None
    """``None`` for exact float32, else a fast mode (see :func:`mlm_tui.engine.make_fast`)."""
    allow_pickle: bool = False
    trust_remote_code: bool = False

    @property
    def label(self) -> str:
        """What to call the model before it has loaded."""
        return self.model or DEFAULT_MODEL

    def load(self, progress: Callable[[str], None] | None = None, *, warm_up: bool = False) -> MaskedLM:
        """Build the engine (imports torch on first use); raises :class:`EngineError` for what a user can fix."""
        from .model import MaskedLM

        if not _LOADING.acquire(blocking=False):
            if progress is not None:
                progress("waiting for the other model to load")
            _LOADING.acquire()
        try:
            engine = MaskedLM.load(
                self.model,
                device=self.device,
                allow_pickle=self.allow_pickle,
                trust_remote_code=self.trust_remote_code,
                fast=self.fast,
                progress=progress,
            )
        finally:
            _LOADING.release()
        if warm_up:
            if progress is not None:
                progress("warming up")
            engine.warm_up()
        return engine
