"""The PyTorch forward pass, its fast modes, loading weights with transformers, and the ONNX export."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import EngineError
from . import INPUTS, OUTPUT, pack

# For each architecture: the attributes of the *ForMaskedLM model that map the
# encoder's last hidden state to vocabulary logits, applied in order. Each was
# checked against the full forward pass (tests/test_engine_heads.py). Other
# architectures run the full model: exact, just slower.
HEADS: dict[str, tuple[str, ...]] = {
    "bert": ("cls",),
    "megatron-bert": ("cls",),
    "roberta": ("lm_head",),
    "xlm-roberta": ("lm_head",),
    "camembert": ("lm_head",),
    "distilbert": ("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector"),
    "albert": ("predictions",),
    "electra": ("generator_predictions", "generator_lm_head"),
    "modernbert": ("head", "decoder"),
}
DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda[:N]``/``mps`` into a device torch can use, or explain why not."""
    kind, _, index = device.partition(":")
    if kind not in DEVICES or (index and not (kind == "cuda" and index.isdigit())):
        raise EngineError(f"unknown device {device!r}: choose auto, cpu, cuda[:N] or mps")
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if kind == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise EngineError("device cuda is not available here (torch sees no CUDA GPU); use --device cpu")
    if kind == "mps" and not mps:
        raise EngineError("device mps is not available here; use --device cpu")
    return device


def find_head(model: Any, model_type: str) -> tuple[Any, ...] | None:
    names = HEADS.get(model_type)
    if not names or not all(hasattr(model, n) for n in names):
        return None
    return tuple(getattr(model, n) for n in names)


def to_half(model: Any, mode: str) -> tuple[Any, str]:
    """The model in bfloat16 or float16, and a label for status bars."""
    dtype = torch.bfloat16 if mode == "bf16" else torch.float16
    return model.to(dtype), f"{str(dtype).removeprefix('torch.')} (fast)"


class _MaskedLogits(torch.nn.Module):
    """Encoder, then the LM head at (rows, cols) only; the module that is exported to ONNX."""

    def __init__(
        self, model: Any, head: tuple[Any, ...] | None, takes_token_types: bool, token_type_width: int = 0
    ) -> None:
        super().__init__()
        self.model = model
        self.head = torch.nn.ModuleList(head) if head else None
        self.takes_token_types = takes_token_types
        self.token_type_width = token_type_width

    def forward(self, input_ids: Any, attention_mask: Any, rows: Any, cols: Any) -> Any:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.takes_token_types:
            kwargs["token_type_ids"] = token_types(input_ids, self.token_type_width)
        if self.head is None:
            return self.model(**kwargs).logits[rows, cols]
        hidden = self.model.base_model(**kwargs)[0][rows, cols]
        head_dtype = next(self.head.parameters()).dtype
        hidden = hidden.to(head_dtype)
        for layer in self.head:
            hidden = layer(hidden)
        return hidden


class TorchForward:
    """The PyTorch forward pass. ``exact_head``: a float32 copy of the head for the fast modes."""

    name = "torch"

    def __init__(
        self,
        model: Any,
        model_type: str,
        device: str,
        pad_id: int | None,
        takes_token_types: bool,
        fast: bool = False,
        token_type_width: int = 0,
    ) -> None:
        self.model = model
        head = find_head(model, model_type)
        if fast and head:
            # The LM head stays float32: it runs at the masked positions only, so it costs little,
            # and rounding the logits to bf16 reorders close candidates.
            head = tuple(copy.deepcopy(layer).float() for layer in head)
        self.head = head
        self.module = _MaskedLogits(model, head, takes_token_types, token_type_width).eval()
        self.device = torch.device(device)
        self._pad_id = pad_id
        self.model_type = model_type
        self._fast = fast
        self._lens: Any = None

    def logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> np.ndarray:
        tensors = [torch.from_numpy(a).to(self.device) for a in pack(rows, positions, self._pad_id)]
        with torch.inference_mode():
            return self.module(*tensors).float().cpu().numpy()

    @property
    def lens(self) -> Any:
        """The MLM lens's head (:func:`.lens_head.lens_head`), found the first time it is asked for; float32
        in the fast modes, as the prediction head. :class:`EngineError` for a type it cannot read."""
        if self._lens is None:
            from .lens_head import lens_head

            head = lens_head(self.model, self.model_type)
            self._lens = copy.deepcopy(head).float() if self._fast else head
        return self._lens

    def hidden_states(self, ids: Sequence[int]) -> np.ndarray:
        """Every layer's hidden states for one row of ids, as the lens reads them: float32 (layers, n, d),
        layer 0 the embeddings' output (see :func:`.lens_head.layer_states`)."""
        from .lens_head import layer_states

        lens = self.lens
        input_ids = torch.tensor([list(ids)], device=self.device)
        inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        if self.module.takes_token_types:
            inputs["token_type_ids"] = token_types(input_ids, self.module.token_type_width)
        with torch.inference_mode():
            states = layer_states(self.model, lens, inputs)
            return torch.stack([s[0] for s in states]).float().cpu().numpy()

    def head_logits(self, hidden: np.ndarray) -> np.ndarray:
        """The lens's head on rows of hidden vectors: float32 (m, d) to float32 (m, vocab)."""
        lens = self.lens
        dtype = next(lens.parameters()).dtype
        with torch.inference_mode():
            vectors = torch.tensor(np.asarray(hidden, dtype=np.float32), device=self.device, dtype=dtype)
            return lens(vectors).float().cpu().numpy()


def token_types(input_ids: Any, width: int = 0) -> Any:
    """All-zero token types for ``input_ids``: one per token, or ``width`` per token (Tapas)."""
    if width:
        return input_ids.new_zeros((*input_ids.shape, width))
    return torch.zeros_like(input_ids)


def attention_row(
    model: Any,
    device: str,
    row: Sequence[int],
    query: int,
    takes_token_types: bool,
    token_type_width: int = 0,
) -> np.ndarray:
    """What token ``query`` pays to every token of ``row``: float32 (layers, heads, len(row)).

    The weights of transformers' ``output_attentions=True`` with eager attention
    (the fused kernels do not return them). The model runs eagerly for this call
    only and is put back as it was, so predictions keep their fast kernels; the
    caller holds the engine's lock.
    """
    ids = torch.tensor([list(row)], device=torch.device(device))
    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if takes_token_types:
        kwargs["token_type_ids"] = token_types(ids, token_type_width)
    previous = getattr(model.config, "_attn_implementation", None)
    switch = previous not in (None, "eager") and hasattr(model, "set_attn_implementation")
    try:
        if switch:
            model.set_attn_implementation("eager")
        with torch.inference_mode():
            outputs = model.base_model(**kwargs, output_attentions=True)
    finally:
        if switch:
            model.set_attn_implementation(previous)
    attentions = getattr(outputs, "attentions", None)
    if not attentions:
        raise EngineError(f"a {model.config.model_type} model does not return its attention weights")
    return torch.stack([a[0, :, query, :] for a in attentions]).float().cpu().numpy()


def load_transformers(
    name: str,
    path: str,
    *,
    use_safetensors: bool,
    trust_remote_code: bool,
    say: Callable[[str], None],
) -> tuple[Any, Any, Any, list[str]]:
    """Config, tokenizer and float32 model from a local folder, and warnings about its head."""
    import transformers
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    say(f"reading the config of {name}")
    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise EngineError(
                f"{name} needs custom code from its repository; pass --trust-remote-code if you trust it"
            ) from exc
        raise EngineError(f"{name}: unsupported model config: {first_line(exc)}") from exc
    except OSError as exc:
        raise EngineError(f"{name}: cannot read config.json: {first_line(exc)}") from exc
    no_head = f"{name} is a {config.model_type} model with no masked-LM head; choose a fill-mask model"
    if type(config) not in MODEL_FOR_MASKED_LM_MAPPING and not getattr(config, "auto_map", None):
        raise EngineError(no_head)

    say("loading the tokenizer")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    except ImportError as exc:  # sacremoses, rjieba, sentencepiece...: optional packages of transformers
        package = missing_package(str(exc))
        if package is None:
            raise EngineError(f"{name}: cannot load its tokenizer: {first_line(exc)}") from exc
        raise EngineError(
            f"{name}: its tokenizer needs the package {package}, which is not installed (pip install {package})"
        ) from exc
    except Exception as exc:  # tokenizers fail in many ways; the user needs one line
        raise EngineError(f"{name}: cannot load its tokenizer: {first_line(exc)}") from exc
    if tokenizer.mask_token is None or tokenizer.mask_token_id is None:
        raise EngineError(f"{name}: its tokenizer has no mask token, so it cannot fill masks")

    say(f"loading the weights of {name}")
    try:
        model, loading_info = AutoModelForMaskedLM.from_pretrained(
            path,
            config=config,
            dtype=torch.float32,  # fp16 files run ~3x slower on CPUs; a fast mode is a choice
            use_safetensors=use_safetensors,
            trust_remote_code=trust_remote_code,
            output_loading_info=True,
        )
    except ValueError as exc:
        if "Unrecognized configuration class" in str(exc):
            raise EngineError(no_head) from exc
        raise EngineError(f"{name}: cannot load the model: {first_line(exc)}") from exc
    except (OSError, RuntimeError) as exc:
        raise EngineError(f"{name}: cannot load the model: {first_line(exc)}") from exc
    model.eval()
    return config, tokenizer, model, head_warnings(name, model, loading_info)


def head_warnings(name: str, model: Any, loading_info: dict[str, Any]) -> list[str]:
    """Say so when the checkpoint did not hold the MLM head and transformers made one up."""
    prefix = model.base_model_prefix + "."
    missing = [k for k in loading_info.get("missing_keys", ()) if not k.startswith(prefix)]
    if not missing:
        return []
    shown = ", ".join(sorted(missing)[:3]) + (" ..." if len(missing) > 3 else "")
    return [
        f"{name}: the checkpoint has no trained masked-LM head ({shown} freshly initialised); "
        "its predictions are random"
    ]


_PACKAGE_PATTERNS = (
    r"pip install\s+`?([\w.-]+)",  # "You can install it with pip: `pip install sacremoses`"
    r"install ([\w.-]+) to use",  # "You need to install rjieba to use RoFormerTokenizer"
    r"requires the ([\w.-]+) library",  # "... requires the SentencePiece library but it was not found"
)


def missing_package(message: str) -> str | None:
    """The package an ImportError from transformers asks for, as pip names it; ``None`` when it names none."""
    for pattern in _PACKAGE_PATTERNS:
        found = re.search(pattern, message)
        if found:
            return found[1].lower()
    return None


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Drop what is printed to stdout, from Python and from C++ (the exporter dumps its graph there on
    failure), so that ``--json`` output stays JSON. The app draws on stderr, so it is not affected."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all
        saved = None
    try:
        if saved is not None:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)


def export_onnx(forward: TorchForward, graph: Path) -> None:
    """Write ``forward`` (float32, on the CPU) as an ONNX graph with dynamic batch, length and positions."""
    example = pack([[0, 1, 2, 3], [0, 1, 2, 3]], [[1], [2]], forward._pad_id)
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"}}
    axes.update({"rows": {0: "masks"}, "cols": {0: "masks"}, OUTPUT: {0: "masks"}})
    with warnings.catch_warnings(), torch.no_grad(), _stdout_silenced():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow in transformers' code
        torch.onnx.export(
            forward.module,
            tuple(torch.from_numpy(a) for a in example),
            str(graph),
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, dynamic axes as asked
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes=axes,
            opset_version=17,
        )


_PROBE_LENGTH = 5


class _EmbeddingLookups(torch.overrides.TorchFunctionMode):
    """Records every embedding lookup of a forward pass: (rows in the table, the ids looked up)."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[tuple[int, Any]] = []

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.nn.functional.embedding and len(args) >= 2:
            ids, weight = args[0], args[1]
            if isinstance(ids, torch.Tensor) and isinstance(weight, torch.Tensor) and weight.dim() == 2:
                self.lookups.append((int(weight.shape[0]), ids.detach().clone()))
        return func(*args, **kwargs)


def probe_positions(forward: TorchForward, token_id: int) -> int | None:
    """Run one short row through the model and read, from the position ids it looks up, how many it can take.

    The row repeats one ordinary token, so the only lookup whose ids count up by
    one along the row (``s, s+1, ...``) is a position embedding: it has
    ``rows - s`` usable positions (RoBERTa's ids start after the padding index;
    BART's learned positions start at 2). ``None`` when the model looks up no
    positions (rotary, relative or axial positions). Raises :class:`EngineError`
    in one line when the model cannot run a short text at all.
    """
    row = [token_id] * _PROBE_LENGTH
    tensors = [torch.from_numpy(a).to(forward.device) for a in pack([row], [[1]], forward._pad_id)]
    recorder = _EmbeddingLookups()
    try:
        with torch.inference_mode(), recorder:
            forward.module(*tensors)
    except Exception as exc:  # a model that needs more than text (a language id, images...)
        raise EngineError(f"the model cannot run on a text: {first_line(exc)}") from exc
    limits = []
    for rows, ids in recorder.lookups:
        # a model may pad the row (Longformer pads to its attention window): the first ids tell
        if ids.dim() == 0 or ids.shape[-1] < _PROBE_LENGTH or ids.dtype not in (torch.int64, torch.int32):
            continue
        flat = ids.reshape(-1, ids.shape[-1])[:, :_PROBE_LENGTH].cpu()
        start = int(flat[0, 0])
        if torch.equal(flat, torch.arange(start, start + _PROBE_LENGTH).expand_as(flat)):
            limits.append(rows - start)
    return min(limits) if limits else None
