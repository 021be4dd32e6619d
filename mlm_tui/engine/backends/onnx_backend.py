"""The ONNX Runtime forward pass over a graph exported by :func:`.torch_backend.export_onnx`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import INPUTS, OUTPUT, pack


class OnnxForward:
    name = "onnx"

    def __init__(self, graph: Path, pad_id: int | None, threads: int = 0, *, quiet: bool = False) -> None:
        options = ort.SessionOptions()
        # warnings about unused initializers are not the user's business; with ``quiet`` (checking a fresh
        # export) neither are errors: they come back as exceptions, and the caller says them in one line
        options.log_severity_level = 4 if quiet else 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._pad_id = pad_id

    def logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> np.ndarray:
        arrays = pack(rows, positions, self._pad_id)
        (logits,) = self.session.run([OUTPUT], dict(zip(INPUTS, arrays, strict=True)))
        return np.asarray(logits, dtype=np.float32)
