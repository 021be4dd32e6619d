"""One way to describe and build an engine, shared by the CLI, ``make_app`` and the app's panes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .loading import default_model

_LOADING = threading.Lock()
"""transformers builds models under process-wide state (the meta device, the default dtype):
two loads at once in two threads break each other, so loads take turns."""

if TYPE_CHECKING:  # pragma: no cover
    from .model import MaskedLM


@dataclass(frozen=True)
class EngineOptions:
    """Everything that decides which engine is built; frozen, so it can be passed to threads and compared.

    For a UI that must answer at once, with ``backend="auto"``::

        engine = options.load(progress, export=False)   # cached ONNX graph, else PyTorch at once
        if options.wants_export(engine):                # then, in a worker thread:
            engine = options.load_fast_backend(engine, progress)  # ONNX engine, or EngineError
    """

    model: str | None = None
    """Hugging Face id, local folder or bundled short name; ``None`` picks the default model."""
    device: str = "cpu"
    fast: str | None = None
    """``None`` for exact float32, else a fast mode (see :func:`mlm_tui.engine.make_fast`)."""
    allow_pickle: bool = False
    trust_remote_code: bool = False
    backend: str = "auto"
    """``"auto"`` (ONNX Runtime when a graph is cached or can be exported, else PyTorch), ``"torch"`` or ``"onnx"``."""
    threads: int = 0
    """CPU threads for the forward pass; 0 leaves the backend's default (all cores). One Ray worker uses 1."""

    @property
    def label(self) -> str:
        """What to call the model before it has loaded: with no name, the one the load will pick
        (offline, the bundled model), told from the cache without the network."""
        return self.model or default_model()

    def load(
        self, progress: Callable[[str], None] | None = None, *, warm_up: bool = False, export: bool = True
    ) -> MaskedLM:
        """Build the engine; raises :class:`EngineError` for what a user can fix.

        ``export=False`` (for ``backend="auto"``): do not wait for an ONNX export;
        a model without a cached graph loads on PyTorch (see :meth:`wants_export`).
        """
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
                backend=self.backend,
                export=export,
                threads=self.threads,
            )
        finally:
            _LOADING.release()
        if warm_up:
            if progress is not None:
                progress("warming up")
            engine.warm_up()
        return engine

    def wants_export(self, engine: MaskedLM) -> bool:
        """True when ``engine`` answers from PyTorch only because ``load(export=False)`` did not wait for ONNX."""
        from .model import onnxruntime_available

        info = engine.info
        return (
            self.backend == "auto"
            and info.backend == "torch"
            and info.device == "cpu"
            and info.dtype == "float32"
            and onnxruntime_available()
        )

    def load_fast_backend(
        self, engine: MaskedLM, progress: Callable[[str], None] | None = None, *, warm_up: bool = True
    ) -> MaskedLM:
        """The ONNX engine for the model ``engine`` runs: export it once (seconds to a minute), then open it.

        Blocking; meant for a worker thread while ``engine`` keeps answering.
        Raises :class:`EngineError` (one line) when the model cannot be exported.
        """
        fast = engine.export_onnx(progress, threads=self.threads)
        if warm_up:
            fast.warm_up()
        return fast
