"""Gradients of one prediction's log-probability with respect to the word embeddings (see :mod:`..salience`).

As captum's ``LayerIntegratedGradients`` on ``model.get_input_embeddings()``: a
forward hook replaces that layer's output by points on the path from the
baseline's word embeddings to the input's, so position embeddings, token types,
layer norm and the rest of the model run as in any forward pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .torch_backend import find_head, token_types

if TYPE_CHECKING:  # pragma: no cover
    from ..salience import AttributionRequest


def attribute(model: Any, device: str, request: AttributionRequest) -> tuple[np.ndarray, float, float]:
    """Attributions over ``request.ids`` (float32), log p(target | x) and log p(target | baseline) (NaN
    without ``request.endpoints``). The caller holds the lock of ``model``; the model is float32."""
    where = torch.device(device)
    ids = torch.tensor([list(request.ids)], device=where)
    embedding = model.get_input_embeddings()
    with torch.no_grad():
        inputs = embedding(ids)[0].float()  # (tokens, dim)
        start = inputs.clone()
        keep = torch.tensor(request.special, device=where)
        if request.baseline == "mask":
            fill = embedding(torch.tensor([request.mask_id], device=where))[0].float()
        else:
            fill = torch.zeros_like(inputs[0])
        start[~keep] = fill
        delta = inputs - start
    alphas = torch.tensor(request.alphas, dtype=torch.float32, device=where)
    weights = torch.tensor(request.weights, dtype=torch.float32, device=where)
    # rows of the path, then the input (α = 1) and the baseline (α = 0), which need no gradient
    path = torch.cat([alphas, torch.tensor([1.0, 0.0], device=where)]) if request.endpoints else alphas
    rows = max(1, request.step_tokens // len(request.ids))
    head = find_head(model, request.model_type)
    total = torch.zeros(len(request.ids), dtype=torch.float32, device=where)
    read: list[torch.Tensor] = []
    with _weights_frozen(model):
        for first in range(0, len(path), rows):
            chunk = path[first : first + rows]
            steps = min(len(chunk), max(0, len(alphas) - first))  # the rows of this chunk that are steps
            # lerp is exact at both ends: the rows at α = 1 and α = 0 are the input and the baseline themselves
            points = torch.lerp(start, inputs, chunk[:, None, None]).requires_grad_(steps > 0)
            with torch.set_grad_enabled(steps > 0):
                log_probs = _log_probs(model, head, ids.expand(len(chunk), -1), points, request)
                if steps:
                    (grads,) = torch.autograd.grad(log_probs[:steps].sum(), points)
                    total += torch.einsum("k,ktd,td->t", weights[first : first + steps], grads[:steps], delta)
            read.append(log_probs.detach())
    values = torch.cat(read).cpu().numpy()
    if request.endpoints:  # the last two rows: the input, then the baseline
        return total.cpu().numpy(), float(values[-2]), float(values[-1])
    return total.cpu().numpy(), float(values[0]), float("nan")  # grad × input: the one row is the input


@contextlib.contextmanager
def _weights_frozen(model: Any) -> Iterator[None]:
    """No gradients for the weights while the caller holds the model's lock: the backward pass then keeps
    and computes only what the embeddings' gradient needs (about 15 % faster on bert-base)."""
    thawed = [p for p in model.parameters() if p.requires_grad]
    for parameter in thawed:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter in thawed:
            parameter.requires_grad_(True)


def _log_probs(
    model: Any,
    head: tuple[Any, ...] | None,
    ids: torch.Tensor,
    points: torch.Tensor,
    request: AttributionRequest,
) -> torch.Tensor:
    """log p(target) at the mask for each row, with the word embeddings of row r set to ``points[r]``."""

    def replace(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        return points.to(output.dtype) if output.shape == points.shape else output

    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if request.takes_token_types:
        kwargs["token_type_ids"] = token_types(ids, request.token_type_width)
    handle = model.get_input_embeddings().register_forward_hook(replace)
    try:
        if head is None:
            logits = model(**kwargs).logits[:, request.position]
        else:
            hidden = model.base_model(**kwargs)[0][:, request.position]
            for layer in head:
                hidden = layer(hidden)
            logits = hidden
    finally:
        handle.remove()
    return torch.log_softmax(logits.float(), dim=-1)[:, request.target]
