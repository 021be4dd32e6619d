"""The export of the layer graphs to ONNX (imports torch; used only when they are made).

Two graphs, not one: ONNX Runtime runs every node of a graph whatever outputs
are asked for, so one graph answering both the hidden states and the head ran
the encoder on each head call (the head at 13 rows took 45 ms instead of 15 ms
on a bert-base-shaped model; BENCHMARKS.md). The price is the head's decoder
matrix stored twice (in the head graph and as the states graph's embeddings).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from . import pack
from .onnx_backend import HEAD_INPUT, HEAD_OUTPUT, STATES_INPUTS, STATES_OUTPUT
from .torch_backend import _stdout_silenced, token_types


class HiddenStates(torch.nn.Module):
    """Ids and attention mask -> every hidden state, stacked: (layers, batch, length, hidden).

    With the lens ``head``, the states it reads (:func:`.lens_head.layer_states`: the
    last one before the type's final normalisation); without, transformers' ``hidden_states``.
    """

    def __init__(self, model: Any, head: Any, takes_token_types: bool, token_type_width: int = 0) -> None:
        super().__init__()
        self.model = model
        self._head = [head]  # a list: not a submodule, so its unused weights stay out of the graph
        self.takes_token_types = takes_token_types
        self.token_type_width = token_type_width

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.takes_token_types:
            kwargs["token_type_ids"] = token_types(input_ids, self.token_type_width)
        (head,) = self._head
        if head is not None:
            from .lens_head import layer_states

            states = layer_states(self.model, head, kwargs)
        else:
            states = self.model.base_model(**kwargs, output_hidden_states=True).hidden_states
        if not states:
            raise RuntimeError(f"a {self.model.config.model_type} model does not return its hidden states")
        return torch.stack(tuple(states))


class _Head(torch.nn.Module):
    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, hidden: Any) -> Any:
        return self.head(hidden)


def _export(module: torch.nn.Module, args: tuple[Any, ...], graph: Path, **names: Any) -> None:
    # the wrapper is put in eval mode: the exporter restores the module's training flag afterwards,
    # recursively, and a fresh wrapper's flag is True (the engine's model would start dropping out)
    module.eval()
    with warnings.catch_warnings(), torch.no_grad(), _stdout_silenced():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow in transformers' code
        torch.onnx.export(module, args, str(graph), dynamo=False, opset_version=17, **names)


def export_states(
    model: Any,
    head: Any,
    pad_id: int | None,
    takes_token_types: bool,
    token_type_width: int,
    graph: Path,
) -> None:
    """Write the states graph (as :class:`HiddenStates` with ``head``): dynamic batch and length."""
    ids, mask, _rows, _cols = pack([[0, 1, 2, 3], [0, 1, 2, 3]], [[1], [2]], pad_id)
    axes = {name: {0: "batch", 1: "length"} for name in STATES_INPUTS}
    axes[STATES_OUTPUT] = {1: "batch", 2: "length"}
    module = HiddenStates(model, head, takes_token_types, token_type_width)
    _export(
        module,
        (torch.from_numpy(ids), torch.from_numpy(mask)),
        graph,
        input_names=list(STATES_INPUTS),
        output_names=[STATES_OUTPUT],
        dynamic_axes=axes,
    )


def export_head(head: torch.nn.Module, hidden_size: int, graph: Path) -> None:
    """Write the head graph (hidden (m, d) -> logits (m, vocab)), float32 like the states."""
    example = torch.zeros((2, hidden_size), dtype=torch.float32)
    _export(
        _Head(head),
        (example,),
        graph,
        input_names=[HEAD_INPUT],
        output_names=[HEAD_OUTPUT],
        dynamic_axes={HEAD_INPUT: {0: "rows"}, HEAD_OUTPUT: {0: "rows"}},
    )
