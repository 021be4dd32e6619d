"""The ONNX Runtime forward pass over a graph exported by :func:`.torch_backend.export_onnx`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ..errors import EngineError
from . import INPUTS, OUTPUT, pack

STATES_INPUTS = ("input_ids", "attention_mask")
STATES_OUTPUT = "hidden_states"
"""The states graph's output: float32 (layers, batch, length, hidden), the embedding output first."""
HEAD_INPUT = "hidden"
HEAD_OUTPUT = "logits"


def _session(graph: Path, threads: int, quiet: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    # warnings about unused initializers are not the user's business; with ``quiet`` (checking a fresh
    # export) neither are errors: they come back as exceptions, and the caller says them in one line
    options.log_severity_level = 4 if quiet else 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


class OnnxForward:
    name = "onnx"

    def __init__(self, graph: Path, pad_id: int | None, threads: int = 0, *, quiet: bool = False) -> None:
        self.session = _session(graph, threads, quiet)
        self.graph = graph
        self.threads = threads
        self._pad_id = pad_id
        self.open_layers: Callable[[Callable[[str], None]], Any] | None = None
        """Set by the engine: makes ready what :meth:`hidden_states` and :meth:`head_logits` answer from
        (:func:`mlm_tui.engine.onnx_layers.open_layers`), given a progress callback."""
        self._layers: Any = None
        self._layers_error: EngineError | None = None
        self._layers_lock = threading.Lock()

    def logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> np.ndarray:
        arrays = pack(rows, positions, self._pad_id)
        (logits,) = self.session.run([OUTPUT], dict(zip(INPUTS, arrays, strict=True)))
        return np.asarray(logits, dtype=np.float32)

    def prepare_layers(self, progress: Callable[[str], None] | None = None) -> Any:
        """What answers the layer primitives: :class:`OnnxLayers`, or PyTorch where the graphs cannot be had.

        The first call may export the layer graphs (seconds to a minute; ``progress`` hears
        about it); later calls return at once. Raises :class:`EngineError` in one line.
        """
        with self._layers_lock:
            if self._layers_error is not None:  # PyTorch could not give them either: no second try
                raise self._layers_error
            if self._layers is None:
                if self.open_layers is None:
                    raise EngineError("this ONNX engine has no layer graphs and no model to export them from")
                try:
                    self._layers = self.open_layers(progress or (lambda _msg: None))
                except EngineError as exc:
                    self._layers_error = EngineError(str(exc))
                    raise
            return self._layers

    def hidden_states(self, ids: Sequence[int]) -> np.ndarray:
        """Every hidden state of one row: float32 (layers, len(ids), hidden), the embedding output first."""
        return np.asarray(self.prepare_layers().hidden_states(ids), dtype=np.float32)

    def head_logits(self, hidden: np.ndarray) -> np.ndarray:
        """The model's own MLM head (and final norm) on hidden states: float32 (m, hidden) -> (m, vocab)."""
        return np.asarray(self.prepare_layers().head_logits(hidden), dtype=np.float32)


class OnnxLayers:
    """The layer primitives from the two layer graphs of :mod:`mlm_tui.engine.onnx_layers`."""

    name = "onnx"

    def __init__(self, states: Path, head: Path, threads: int = 0, *, quiet: bool = False) -> None:
        self.states = _session(states, threads, quiet)
        self.head = _session(head, threads, quiet)

    def hidden_states(self, ids: Sequence[int]) -> np.ndarray:
        row = np.asarray([list(ids)], dtype=np.int64)
        feeds = dict(zip(STATES_INPUTS, (row, np.ones_like(row)), strict=True))
        (states,) = self.states.run([STATES_OUTPUT], feeds)
        return np.asarray(states[:, 0], dtype=np.float32)

    def head_logits(self, hidden: np.ndarray) -> np.ndarray:
        feed = np.ascontiguousarray(hidden, dtype=np.float32)
        (logits,) = self.head.run([HEAD_OUTPUT], {HEAD_INPUT: feed})
        return np.asarray(logits, dtype=np.float32)
