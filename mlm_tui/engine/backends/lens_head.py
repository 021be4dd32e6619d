"""The MLM lens's head: a masked LM's own head, applied to any layer's hidden states.

:func:`lens_head` finds, for each type in transformers' ``MODEL_FOR_MASKED_LM_MAPPING_NAMES``,
the full head that turns the encoder's output into vocabulary logits (transform, activation,
layer norm, decoder), preceded by the type's final normalisation where that sits after the last
layer (pre-LN encoders: ESM, XLM-R XL, Megatron-BERT, RoBERTa-PreLayerNorm, ModernBERT, ...).
Applied to layer ``l``'s residual stream it gives the MLM lens (Din et al. 2024, *Jump to
Conclusions*: ``BertForMaskedLM.cls`` on ``hidden_states[l]``); applied to the last layer it gives
the model's own logits (tests/test_model_types.py checks this for every type).

transformers returns ``hidden_states[-1]`` *after* the final normalisation (it is the model's
``last_hidden_state``) but the layers before it *before* it, so :func:`layer_states` gives the
states the lens reads: ``hidden_states`` with the last one taken at the normalisation's input.
Then the same module applies to every layer, the last included.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import EngineError

# type: (final normalisation after the last layer, as a path from the *ForMaskedLM model, or "";
#        the head's modules in the order the model applies them, paths from the *ForMaskedLM model)
# Special steps: "deberta" (legacy ``cls`` or ``lm_predictions`` with the word embeddings),
# "first:<path>" (a module that returns a tuple whose first item is the scores: XLM's pred_layer),
# "matmul:<path>" (``x @ module.weight``: NeoMME's unembedding projection).
LENS_HEADS: dict[str, tuple[str, tuple[str, ...]]] = {
    "albert": ("", ("predictions",)),
    "bert": ("", ("cls",)),
    "big_bird": ("", ("cls",)),
    "camembert": ("", ("lm_head",)),
    "convbert": ("", ("generator_predictions", "generator_lm_head")),
    "data2vec-text": ("", ("lm_head",)),
    "deberta": ("", ("deberta",)),
    "deberta-v2": ("", ("deberta",)),
    "distilbert": ("", ("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector")),
    "electra": ("", ("generator_predictions", "generator_lm_head")),
    "ernie": ("", ("cls",)),
    "esm": ("esm.encoder.emb_layer_norm_after", ("lm_head",)),
    "esmc": ("esmc.norm", ("lm_head",)),
    "eurobert": ("model.norm", ("lm_head",)),
    "flaubert": ("", ("first:pred_layer",)),
    "fnet": ("", ("cls",)),
    "gte": ("", ("lm_head",)),
    "ibert": ("", ("lm_head",)),
    "jina_embeddings_v3": ("", ("lm_head",)),
    "layoutlm": ("", ("cls",)),
    "longformer": ("", ("lm_head",)),
    "luke": ("", ("lm_head",)),
    "megatron-bert": ("bert.encoder.ln", ("cls",)),
    "mobilebert": ("", ("cls",)),
    "modernbert": ("model.final_norm", ("head", "decoder")),
    "modernvbert": ("model.text_model.final_norm", ("projection_head", "lm_head")),
    "mpnet": ("", ("lm_head",)),
    "mra": ("", ("cls",)),
    "neomme": ("model.final_norm", ("matmul:unembedding_projection", "lm_head")),
    "nomic_bert": ("", ("cls",)),
    "nystromformer": ("", ("cls",)),
    "rembert": ("", ("cls",)),
    "roberta": ("", ("lm_head",)),
    "roberta-prelayernorm": ("roberta_prelayernorm.LayerNorm", ("lm_head",)),
    "roc_bert": ("", ("cls",)),
    "roformer": ("", ("cls",)),
    "squeezebert": ("", ("cls",)),
    "tapas": ("", ("cls",)),
    "ultrabert": ("model.norm", ("head", "decoder")),
    "ultravbert": ("model.text_model.norm", ("projection_head", "lm_head")),
    "xlm": ("", ("first:pred_layer",)),
    "xlm-roberta": ("", ("lm_head",)),
    "xlm-roberta-xl": ("roberta.encoder.LayerNorm", ("lm_head",)),
    "xmod": ("", ("lm_head",)),
    "yoso": ("", ("cls",)),
}

REFUSED: dict[str, str] = {
    "bart": "its MLM head reads the decoder's output, not the encoder's layers",
    "mbart": "its MLM head reads the decoder's output, not the encoder's layers",
    "mvp": "its MLM head reads the decoder's output, not the encoder's layers",
    "funnel": "it pools the tokens between blocks, so its middle layers hold fewer vectors than tokens",
    "perceiver": "its layers hold a few latent vectors, not one vector per token",
    "reformer": "its layers are two reversible streams that the head reads joined only after the last layer",
}
"""Types whose head cannot be applied per layer, and why (the lens says ``a TYPE model: WHY``)."""


class LensHead(torch.nn.Module):
    """Hidden vectors ``[..., d]`` of any layer (as :func:`layer_states` gives them) to logits ``[..., V]``."""

    def __init__(self, norm: torch.nn.Module | None, steps: list[torch.nn.Module]) -> None:
        super().__init__()
        self.norm = norm
        """The final normalisation applied before the head (``None`` when there is none)."""
        self.steps = torch.nn.ModuleList(steps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            hidden = self.norm(hidden)
        for step in self.steps:
            hidden = step(hidden)
        return hidden


class _First(torch.nn.Module):
    """The first item of what ``module`` returns (XLM's ``pred_layer`` returns ``(scores,)``)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.module(hidden)[0]


class _MatMul(torch.nn.Module):
    """``hidden @ module.weight`` (NeoMME applies its unembedding projection's weight untransposed)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        weight: torch.Tensor = self.module.weight  # type: ignore[assignment]
        return hidden @ weight


class _DebertaHead(torch.nn.Module):
    """DeBERTa's head: the legacy ``cls``, or ``lm_predictions`` that reads the word embeddings too."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.legacy = bool(getattr(model, "legacy", True))
        self.cls = model.cls if self.legacy else model.lm_predictions
        self.embeddings = None if self.legacy else model.deberta.embeddings.word_embeddings

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.legacy:
            return self.cls(hidden)
        return self.cls(hidden, self.embeddings)


def _module(model: Any, path: str) -> Any:
    found = model
    for name in path.split("."):
        found = getattr(found, name, None)
        if found is None:
            raise EngineError(
                f"a {model.config.model_type} model has no {path} here: the lens cannot find its head"
            )
    return found


def lens_head(model: Any, model_type: str) -> LensHead:
    """The type's full MLM head, after its final normalisation, as one module; :class:`EngineError` when it
    cannot be applied per layer (one line saying why)."""
    if model_type in REFUSED:
        raise EngineError(f"the layer lens cannot read a {model_type} model: {REFUSED[model_type]}")
    if model_type not in LENS_HEADS:
        raise EngineError(f"the layer lens does not know where a {model_type} model keeps its MLM head")
    norm_path, paths = LENS_HEADS[model_type]
    steps: list[torch.nn.Module] = []
    for path in paths:
        kind, _, name = path.rpartition(":")
        if path == "deberta":
            steps.append(_DebertaHead(model))
        elif kind == "first":
            steps.append(_First(_module(model, name)))
        elif kind == "matmul":
            steps.append(_MatMul(_module(model, name)))
        else:
            steps.append(_module(model, path))
    norm = _module(model, norm_path) if norm_path else None
    return LensHead(norm, steps).eval()


def layer_states(model: Any, head: LensHead, inputs: dict[str, Any]) -> tuple[torch.Tensor, ...]:
    """Every layer's hidden states for ``inputs`` (embeddings first), each ``[batch, n, d]``, as ``head`` reads them.

    transformers' ``hidden_states`` with the last one taken before the final normalisation (where the
    type has one), read by a hook on that normalisation's input.
    """
    seen: list[torch.Tensor] = []
    hook = None
    if head.norm is not None:
        hook = head.norm.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    try:
        outputs = model.base_model(**inputs, output_hidden_states=True)
    finally:
        if hook is not None:
            hook.remove()
    states = tuple(outputs.hidden_states)
    if head.norm is None:
        return states
    if not seen:
        raise EngineError(f"a {model.config.model_type} model did not run its final normalisation")
    return (*states[:-1], seen[-1])
