"""Forward passes: the only modules that import torch (:mod:`.torch_backend`, :mod:`.lens_head`, and
:mod:`.layers_onnx` when the layer graphs are exported) or onnxruntime (:mod:`.onnx_backend`).

A backend turns rows of token ids into vocabulary logits at chosen positions,
as a float32 numpy array; everything before (text) and after (softmax, top-k,
scores) is shared, so both backends give the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

BACKENDS = ("auto", "torch", "onnx")
INPUTS = ("input_ids", "attention_mask", "rows", "cols")
"""The exported graph's inputs, in the order :func:`pack` returns them."""
OUTPUT = "logits"


class Forward(Protocol):
    """Encoder + LM head at the requested positions only."""

    name: str
    """``"torch"`` or ``"onnx"``."""

    def logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits at ``positions[r]`` of row ``r``: float32, shape (total positions, vocab), row-major order."""
        ...


def pack(
    rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]], pad_id: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows padded on the right to one length: ids, attention mask, and the (row, column) of each position."""
    import numpy as np

    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id or 0, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    row_index = np.array([r for r, pos in enumerate(positions) for _ in pos], dtype=np.int64)
    col_index = np.array([p for pos in positions for p in pos], dtype=np.int64)
    return ids, mask, row_index, col_index
