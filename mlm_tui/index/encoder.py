"""Hidden states of many rows at once, for building an index: the engine's layer primitives, batched.

The engine reads one row at a time (:meth:`MaskedLM.hidden_states`, for the explorer); an index reads a
corpus, so rows of similar length share a forward pass here: the ONNX layer graph and PyTorch's
:func:`~mlm_tui.engine.backends.lens_head.layer_states` both take a padded batch with an attention
mask. Any other backend falls back to one row at a time. Every row gives float32 (layers, n, d), the
states the lens reads (transformers' ``output_hidden_states=True``, the last before a final norm).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.backends import pack


def _batched(engine: Any) -> Any:
    """A function ``(ids, mask) -> (layers, batch, length, d)``, or ``None`` where only single rows can be read."""
    forward = engine.forward
    prepare = getattr(forward, "prepare_layers", None)
    if prepare is not None:  # ONNX: the layer graph has a dynamic batch axis
        layers = prepare()
        session = getattr(layers, "states", None)
        if session is None:  # the layers are answered by PyTorch (the graphs could not be made)
            return None
        from ..engine.backends.onnx_backend import STATES_INPUTS, STATES_OUTPUT

        def run_onnx(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            (states,) = session.run([STATES_OUTPUT], dict(zip(STATES_INPUTS, (ids, mask), strict=True)))
            return np.asarray(states, dtype=np.float32)

        return run_onnx
    module = getattr(forward, "module", None)
    if module is None or not hasattr(forward, "lens"):
        return None
    import torch

    from ..engine.backends.lens_head import layer_states
    from ..engine.backends.torch_backend import token_types

    lens = forward.lens

    def run_torch(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        input_ids = torch.from_numpy(ids).to(forward.device)
        inputs = {"input_ids": input_ids, "attention_mask": torch.from_numpy(mask).to(forward.device)}
        if module.takes_token_types:
            inputs["token_type_ids"] = token_types(input_ids, module.token_type_width)
        with torch.inference_mode():
            return torch.stack(layer_states(forward.model, lens, inputs)).float().cpu().numpy()

    return run_torch


class StatesReader:
    """``read(rows)``: each row's hidden states (float32 (layers, n, d)), rows batched by length."""

    def __init__(self, engine: Any, *, batch_size: int = 16, max_tokens: int = 8192) -> None:
        self.engine = engine
        self.batch_size = max(1, batch_size)
        self.max_tokens = max_tokens
        self._run = _batched(engine) if batch_size > 1 else None
        self._pad = engine.text.pad_id

    def read(self, rows: Sequence[Sequence[int]]) -> list[np.ndarray]:
        if self._run is None:
            return [np.asarray(self.engine.forward.hidden_states(list(r)), dtype=np.float32) for r in rows]
        out: list[Any] = [None] * len(rows)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        start = 0
        while start < len(order):
            end = start + 1
            while (
                end < len(order)
                and end - start < self.batch_size
                and len(rows[order[end]]) * (end - start + 1) <= self.max_tokens
            ):
                end += 1
            group = [order[i] for i in range(start, end)]
            ids, mask, _r, _c = pack([rows[i] for i in group], [[] for _ in group], self._pad)
            states = self._run(ids, mask)
            for b, i in enumerate(group):
                out[i] = states[:, b, : len(rows[i]), :]
            start = end
        return out
