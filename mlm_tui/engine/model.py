"""The masked-LM engine's facade: load a model on a backend, then encode, predict and score.

The steps live in their own modules, as ``transformers.FillMaskPipeline`` splits
preprocess / forward / postprocess: :mod:`.text` (tokenize, display, decode),
:mod:`.window` (long texts), :mod:`.backends` (the forward pass: PyTorch or ONNX
Runtime, the only modules that import either), :mod:`.predict` and :mod:`.score`
(softmax, top-k, targets, PLL), :mod:`.loading` and :mod:`.onnx_cache` (finding
files). :class:`MaskedLM` holds the lock and the cache of recent results.

torch and transformers are imported only when a model loads on the PyTorch
backend or is exported; a model whose ONNX graph is cached loads with neither.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import onnx_cache
from .backends import BACKENDS
from .errors import EngineError
from .loading import ResolvedModel, resolve_model
from .text import MASK_ALIAS, TextCodec, codec_for, codec_from_files, vocab_digest
from .types import (
    AttentionResult,
    Encoding,
    JointResult,
    ModelInfo,
    PredictResult,
    ScoreResult,
    UnmaskedResult,
)

if TYPE_CHECKING:  # pragma: no cover
    from .backends import Forward
    from .layers import HiddenStates, LensGrid, LensResult
    from .salience import AttributionRequest, SalienceResult

__all__ = ["BACKENDS", "FAST_MODES", "MASK_ALIAS", "SCORE_BATCH", "MaskedLM", "vocab_digest"]

CACHE_SIZE = 256
"""Prediction results kept per engine, so going back to a mask already seen answers at once."""
SCORE_BATCH = 32
STATES_CACHE_SIZE = 8
"""Texts whose hidden states are kept (the lens, the grid and similarity on one text share one forward pass)."""
STATES_CACHE_BYTES = 256 * 1024 * 1024
"""And at most this much of them (the newest is always kept)."""
"""Masked copies per forward pass when scoring."""

FAST_MODES = ("auto", "bf16", "fp16")
"""``--fast`` modes. int8 was retired: on the bundled model it kept the float32 top-5 on 32 % (torch's
dynamic quantization) and 68 % (ONNX Runtime per-channel) of masked positions, below the 90 % asked."""
_INT8_RETIRED = (
    "int8 is no longer offered: it kept the exact top-5 on too few masks (32-68 %, see BENCHMARKS.md); "
    "use --fast (bf16 where the CPU has it, else the exact ONNX Runtime path)"
)
_CHECK_TOLERANCE = 1e-4
"""Largest difference in log-probabilities between an exported graph and PyTorch for the graph to be kept."""


def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs with AVX512-BF16 or AMX, where bfloat16 matmuls run natively."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda[:N]``/``mps`` into a device torch can use, or explain why not."""
    from .backends.torch_backend import resolve_device as resolve

    return resolve(device)


def check_vocabularies(name: str, tokenizer_size: int, model_size: int) -> None:
    """Refuse a tokenizer that does not fit the model: ids past the model's vocabulary, or far too few."""
    if tokenizer_size > model_size:
        raise EngineError(
            f"{name}: its tokenizer has {tokenizer_size} tokens but the model only {model_size}; "
            "the tokenizer files belong to another model"
        )
    if tokenizer_size < model_size // 2:
        raise EngineError(
            f"{name}: its tokenizer has only {tokenizer_size} tokens for a model of {model_size}; "
            "the tokenizer files are missing or belong to another model"
        )


def _text_config(config: Any) -> Any:
    """The text part of a config (``text_config`` for models that also read images), else the config itself."""
    getter = getattr(config, "get_text_config", None)
    return getter() if callable(getter) else config


_PASSED_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}


def _extra_inputs(tokenizer: Any) -> list[str]:
    """Inputs besides ids, mask and (all-zero) token types that the tokenizer makes for a text (RoCBert's
    shape and pronunciation ids): the model would answer differently without them."""
    try:
        names = set(tokenizer("a").keys())
    except Exception:  # a tokenizer that cannot encode a plain text fails later, with its own message
        return []
    return sorted(names - _PASSED_INPUTS)


def _ordinary_id(text: TextCodec, vocab_size: int) -> int:
    """A token id that is no special token, for probing the model."""
    specials = {text.mask_id, text.pad_id, *text._special_ids}
    return next((i for i in range(vocab_size) if i not in specials), 0)


def _max_length(tokenizer: Any, text_config: Any, positions: int | None) -> int:
    """The most tokens the model reads at once.

    The smallest of the tokenizer's ``model_max_length`` (when it sets one) and
    the positions the model's position embedding covers from where its position
    ids start (:func:`probe_positions`); a model that looks up no positions
    (rotary, relative) is taken at its config's ``max_position_embeddings``.
    """
    limits = []
    if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
        limits.append(int(tokenizer.model_max_length))
    if positions is None:
        positions = getattr(text_config, "max_position_embeddings", None)
    if positions:
        limits.append(int(positions))
    return min(limits) if limits else 512


def make_fast(model: Any, device: str, mode: str = "auto") -> tuple[Any, str]:
    """The model in a faster, less exact form, and a label for status bars.

    ``auto`` picks float16 on GPUs and bfloat16 elsewhere; :meth:`MaskedLM.load`
    only reaches here for CPUs with native bfloat16 (on others ``--fast`` means
    the exact ONNX path). The LM head stays float32 and softmax runs in float32.
    """
    from .backends.torch_backend import to_half

    if mode == "int8":
        raise EngineError(_INT8_RETIRED)
    if mode not in FAST_MODES:
        raise EngineError(f"unknown fast mode {mode!r}: choose one of {', '.join(FAST_MODES)}")
    if mode == "auto":
        mode = "fp16" if device.startswith(("cuda", "mps")) else "bf16"
    return to_half(model, mode)


def _plan(backend: str, fast: str | None, device: str) -> tuple[str, str | None, str | None]:
    """Check ``backend``/``fast``/``device`` together: the backend to try, the fast mode, and a note."""
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if fast == "int8":
        raise EngineError(_INT8_RETIRED)
    if fast is not None and fast not in FAST_MODES:
        raise EngineError(f"unknown fast mode {fast!r}: choose one of {', '.join(FAST_MODES)}")
    if backend == "onnx" and device != "cpu":
        raise EngineError(
            f"the ONNX backend runs on the CPU; use --device cpu or --backend torch (got {device})"
        )
    if fast == "auto" and device == "cpu" and not cpu_has_native_bf16():
        why = "--fast: this CPU has no native bfloat16 and int8 loses the exact top-5 too often, so "
        if backend == "torch":
            return (
                "torch",
                None,
                why + "it runs exact float32 (--backend auto would use the faster ONNX path)",
            )
        return "auto", None, why + "the exact ONNX Runtime path is the fast one here"
    if fast is not None:
        if backend == "onnx":
            raise EngineError(f"--fast {fast} runs on PyTorch; use --backend torch, or drop --fast")
        return "torch", fast, None
    return backend, None, None


class MaskedLM:
    """A loaded masked language model with its tokenizer. Thread-safe: one forward pass at a time.

    Build it with :meth:`load`. ``info.backend`` says which backend answers (``"torch"`` or ``"onnx"``).
    """

    def __init__(
        self,
        forward: Forward,
        text: TextCodec,
        info: ModelInfo,
        *,
        model: Any = None,
        tokenizer: Any = None,
        source: ResolvedModel | None = None,
    ) -> None:
        self.forward = forward
        self.text = text
        self.info = info
        self.model = model
        """The transformers model on the PyTorch backend; ``None`` on ONNX."""
        self.tokenizer = tokenizer
        """transformers' tokenizer on the PyTorch backend; ``None`` on ONNX (see :attr:`text`)."""
        self._source = source
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[object, ...], PredictResult] = OrderedDict()
        self._cache_lock = threading.Lock()  # not the model's lock: a hit must not wait for a forward pass
        self._unmasked: OrderedDict[tuple[object, ...], UnmaskedResult] = OrderedDict()
        self._eager: Any = None
        """On ONNX: a PyTorch copy of the model, loaded the first time attention weights are asked for."""
        self._eager_lock = threading.Lock()
        self._states: OrderedDict[tuple[object, ...], np.ndarray] = OrderedDict()
        """Hidden states of the last few windows read (:meth:`hidden_states`), shared by lens, grid and similarity."""

    @property
    def _head(self) -> tuple[Any, ...] | None:
        return getattr(self.forward, "head", None)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        name: str | None = None,
        *,
        device: str = "cpu",
        allow_pickle: bool = False,
        trust_remote_code: bool = False,
        fast: str | None = None,
        progress: Callable[[str], None] | None = None,
        backend: str = "torch",
        export: bool = True,
        threads: int = 0,
    ) -> MaskedLM:
        """Load a masked LM by Hugging Face id, local folder or bundled short name.

        With no ``name``, the default model when it can be had, else the bundled one
        (``info.notes`` then says so).

        ``backend``: ``"torch"`` (the default here, for compatibility), ``"onnx"``
        (a cached graph, else export one; an :class:`EngineError` when the model
        cannot be exported), or ``"auto"`` (ONNX where onnxruntime is installed and a
        graph is cached or can be exported, else PyTorch with a note). With
        ``export=False``, ``auto`` does not export: a model without a cached graph
        loads on PyTorch, and :meth:`export_onnx` can be called later (the app does,
        in a worker). ``fast`` trades exactness for speed on PyTorch: ``"auto"``,
        ``"bf16"`` or ``"fp16"``; on CPUs without native bfloat16, ``"auto"`` means
        the exact ONNX path. ``progress`` is called with a short description of
        each stage, for UIs. ``threads``: CPU threads for the forward pass (ONNX Runtime's
        session; PyTorch's, which is per process); 0 leaves the backend's default (all cores).
        Raises :class:`EngineError` for anything a user can fix.
        """
        say = progress or (lambda _msg: None)
        backend, fast, fast_note = _plan(backend, fast, device)
        resolved = resolve_model(name, allow_pickle=allow_pickle, progress=say)
        notes = tuple(n for n in (resolved.note, fast_note) if n)
        use_onnx = backend != "torch" and device == "cpu"
        if use_onnx and not onnxruntime_available():
            if backend == "onnx":
                raise EngineError(
                    "onnxruntime is not installed; pip install onnxruntime, or use --backend torch"
                )
            use_onnx = False
        if use_onnx:
            cached = cls._from_cache(resolved, notes, say, threads)
            if cached is not None:
                return cached
            failed = onnx_cache.read_failure(onnx_cache.graphs_dir() / onnx_cache.graph_key(resolved.path))
            if failed is not None and backend == "onnx":
                raise EngineError(failed)
        if threads:
            import torch

            torch.set_num_threads(threads)
        engine = cls._load_torch(resolved, device, trust_remote_code, fast, notes, say)
        if not use_onnx or (backend == "auto" and not export):
            return engine
        try:
            return engine.export_onnx(progress=say, threads=threads)
        except EngineError as exc:
            if backend == "onnx":
                raise
            return engine._with_note(f"answering from PyTorch: {exc}")

    @classmethod
    def _from_cache(
        cls, resolved: ResolvedModel, notes: tuple[str, ...], say: Callable[[str], None], threads: int = 0
    ) -> MaskedLM | None:
        """The ONNX engine from a cached graph, without torch or transformers; ``None`` when none is usable."""
        folder = onnx_cache.graphs_dir() / onnx_cache.graph_key(resolved.path)
        if not folder.is_dir():
            return None
        say(f"opening the ONNX graph of {resolved.name}")
        try:
            return cls._open_graph(folder, resolved, notes, threads)
        except EngineError:
            onnx_cache.remove(folder)  # damaged or truncated: rebuilt from the weights
            return None

    @classmethod
    def _open_graph(
        cls, folder: Path, resolved: ResolvedModel, notes: tuple[str, ...], threads: int = 0
    ) -> MaskedLM:
        from .backends.onnx_backend import OnnxForward

        graph = onnx_cache.read_graph_info(folder)
        text = codec_from_files(folder)
        try:
            forward = OnnxForward(folder / onnx_cache.GRAPH_FILE, text.pad_id, threads)
        except Exception as exc:  # onnxruntime raises its own types for a damaged graph
            raise EngineError(f"cannot open the ONNX graph in {folder}: {exc}") from exc
        info = ModelInfo(
            name=resolved.name,
            path=str(resolved.path),
            model_type=graph.model_type,
            device="cpu",
            dtype="float32",
            mask_token=text.mask_token,
            max_length=graph.max_length,
            vocab_size=graph.vocab_size,
            warnings=graph.warnings,
            notes=notes,
            vocab_digest=text.settings.vocab_digest,
            backend="onnx",
        )
        engine = cls(forward, text, info, source=resolved)
        forward.open_layers = engine._open_layers  # the layer graphs: made or opened on first use
        return engine

    @classmethod
    def _load_torch(
        cls,
        resolved: ResolvedModel,
        device: str,
        trust_remote_code: bool,
        fast: str | None,
        notes: tuple[str, ...],
        say: Callable[[str], None],
    ) -> MaskedLM:
        say("importing torch and transformers")
        from .backends.torch_backend import TorchForward, load_transformers, probe_positions
        from .backends.torch_backend import resolve_device as resolve

        device = resolve(device)
        config, tokenizer, model, head_warnings = load_transformers(
            resolved.name,
            str(resolved.path),
            use_safetensors=resolved.use_safetensors,
            trust_remote_code=trust_remote_code,
            say=say,
        )
        model.to(device)
        dtype = "float32"
        if fast:
            say(f"preparing the fast mode ({fast})")
            model, dtype = make_fast(model, device, fast)
        extra = _extra_inputs(tokenizer)
        if extra:
            raise EngineError(
                f"{resolved.name}: its tokenizer gives the model more than token ids ({', '.join(extra)}), "
                "and mlm-tui passes only ids and an attention mask; this model is not supported"
            )
        text = codec_for(tokenizer)
        text_config = _text_config(config)
        vocab_size = getattr(text_config, "vocab_size", None)
        if not isinstance(vocab_size, int):
            raise EngineError(
                f"{resolved.name}: a {config.model_type} config gives no vocabulary size for its text part, "
                "so it cannot be read as a text model"
            )
        check_vocabularies(resolved.name, len(tokenizer), vocab_size)
        forward = TorchForward(
            model,
            config.model_type,
            device,
            text.pad_id,
            text.settings.takes_token_types,
            fast=bool(fast),
            token_type_width=text.settings.token_type_width,
        )
        try:
            positions = probe_positions(forward, _ordinary_id(text, vocab_size))
        except EngineError as exc:
            raise EngineError(f"{resolved.name}: {exc}") from exc
        info = ModelInfo(
            name=resolved.name,
            path=str(resolved.path),
            model_type=config.model_type,
            device=device,
            dtype=dtype,
            mask_token=tokenizer.mask_token,
            max_length=_max_length(tokenizer, text_config, positions),
            vocab_size=vocab_size,
            warnings=tuple(head_warnings),
            notes=notes,
            vocab_digest=text.settings.vocab_digest,
            backend="torch",
        )
        return cls(forward, text, info, model=model, tokenizer=tokenizer, source=resolved)

    def _with_note(self, note: str) -> MaskedLM:
        self.info = dataclasses.replace(self.info, notes=(*self.info.notes, note))
        return self

    def export_onnx(self, progress: Callable[[str], None] | None = None, *, threads: int = 0) -> MaskedLM:
        """This model as an ONNX engine: export, check against PyTorch, keep in the cache, open.

        Call it on a float32 engine on the CPU (the PyTorch backend), e.g. from a
        worker thread while this engine answers; it returns a new engine and leaves
        this one usable. Raises :class:`EngineError` with one line when the model
        cannot be exported or the graph disagrees with PyTorch (nothing is kept).
        """
        say = progress or (lambda _msg: None)
        if self.info.backend == "onnx":
            return self
        if self._source is None or self.info.device != "cpu" or self.info.dtype != "float32":
            raise EngineError("only an exact float32 model on the CPU can be exported to ONNX")
        if not onnxruntime_available():
            raise EngineError("onnxruntime is not installed; pip install onnxruntime, or use --backend torch")
        folder = onnx_cache.graphs_dir() / onnx_cache.graph_key(self._source.path)
        failed = onnx_cache.read_failure(folder)
        if failed is not None:
            raise EngineError(failed)
        say(f"exporting {self.info.name} to ONNX (once; kept in {onnx_cache.graphs_dir()})")
        try:
            onnx_cache.store(folder, self._write_graph)
        except EngineError as exc:
            onnx_cache.remember_failure(folder, str(exc))
            raise
        say(f"opening the ONNX graph of {self.info.name}")
        try:
            return self._open_graph(folder, self._source, self.info.notes, threads)
        except EngineError:
            onnx_cache.remove(folder)
            raise

    def _write_graph(self, folder: Path) -> None:
        from .backends.onnx_backend import OnnxForward
        from .backends.torch_backend import export_onnx, first_line

        graph = folder / onnx_cache.GRAPH_FILE
        try:  # no lock: tracing reads the weights, so this engine keeps answering meanwhile
            export_onnx(self.forward, graph)  # type: ignore[arg-type]
        except Exception as exc:  # the exporter fails in many ways for unsupported architectures
            raise EngineError(
                f"cannot export a {self.info.model_type} model to ONNX ({first_line(exc)}); use --backend torch"
            ) from exc
        self.text.save(folder)
        onnx_cache.GraphInfo(
            model_type=self.info.model_type,
            max_length=self.info.max_length,
            vocab_size=self.info.vocab_size,
            warnings=self.info.warnings,
            graph_bytes=graph.stat().st_size,
        ).save(folder)
        try:  # ONNX Runtime may refuse the graph, or fail on a length other than the export's example
            exported = OnnxForward(graph, self.text.pad_id, quiet=True)
            difference = self._graph_difference(exported)
        except Exception as exc:  # onnxruntime raises its own types
            detail = first_line(exc).removeprefix("[ONNXRuntimeError] : ")
            detail = detail if len(detail) <= 160 else detail[:159] + "…"
            raise EngineError(
                f"the exported ONNX graph of a {self.info.model_type} model fails in ONNX Runtime "
                f"({detail}); use --backend torch"
            ) from exc
        if not difference <= _CHECK_TOLERANCE:
            raise EngineError(
                f"the exported ONNX graph of {self.info.name} differs from PyTorch by {difference:.1e} "
                "in log-probability; not kept"
            )

    def _graph_difference(self, exported: Forward) -> float:
        """Largest difference in log-probabilities between ``exported`` and PyTorch on a few inputs."""
        import numpy as np

        from .predict import log_softmax

        rng = np.random.default_rng(0)
        ids = list(self.encode(f"The capital of France is {MASK_ALIAS}, of course.").ids)
        limit = min(self.info.max_length, 24)
        batches = [
            ([ids], [[i for i, t in enumerate(ids) if t == self.text.mask_id] or [1]]),
            (
                [
                    ids[:1] + rng.integers(0, self.info.vocab_size, n - 2).tolist() + ids[-1:]
                    for n in (limit, limit)
                ],
                [[1, limit - 2], [2]],
            ),
            ([ids, ids[:1] + ids[-3:]], [[1, 2], [1]]),  # rows of two lengths: padding
        ]
        worst = 0.0
        for rows, positions in batches:
            expected = log_softmax(self._logits_at(rows, positions))
            worst = max(
                worst, float(np.abs(log_softmax(exported.logits_at(rows, positions)) - expected).max())
            )
        return worst

    # ------------------------------------------------------------------ text

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` into cells. ``[MASK]`` is accepted as the model's mask token."""
        return self.text.encode(text)

    def display(self, piece: str) -> str:
        """A token as a reader writes it: no ``##``, ``Ġ`` or ``▁`` marker."""
        return self.text.display(piece)

    def substitute(self, encoding: Encoding, position: int, token_id: int) -> tuple[str, int, int]:
        """Put token ``token_id`` in the text in place of the token at ``position`` (see :mod:`.text`)."""
        return self.text.substitute(encoding, position, token_id)

    @property
    def mask_id(self) -> int:
        """The id of the model's mask token."""
        return self.text.mask_id

    def token_str(self, token_id: int) -> str:
        return self.text.token_str(token_id)

    def target_pieces(self, encoding: Encoding, position: int, target: str) -> tuple[int, ...]:
        """The subword ids that spell ``target`` at ``position``, as the tokenizer would write it there."""
        return self.text.target_pieces(encoding, position, target)

    # ------------------------------------------------------------------ forward

    def _logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> np.ndarray:
        """Float32 logits at ``positions[r]`` of each row ``r``, one forward pass at a time."""
        with self._lock:
            return self.forward.logits_at(rows, positions)

    def predict(
        self,
        encoding: Encoding,
        masked: Iterable[int] = (),
        *,
        top_k: int = 5,
        targets: Sequence[str] = (),
        full: bool = False,
    ) -> PredictResult:
        """Top-k candidates at every mask, as ``pipeline("fill-mask")`` gives them.

        ``masked`` adds masks at those token positions; mask tokens already in the
        text are masks too. Each mask gets its own distribution from one forward
        pass (the pipeline's semantics for several masks).

        ``targets`` scores chosen words at every mask. A word of one piece is read
        off the mask's distribution. A word of several pieces ``w1 … wn`` replaces
        the mask by n masks and is scored left to right, each piece with the ones
        before it filled in: ``log P(w) = Σ_i log P(w_i | w_<i, context)`` (the
        chained, within-word left-to-right pseudo-likelihood of Kauf & Ivanova
        2023). Its rank is 1 + the number of single tokens more probable than the
        whole word at that mask.

        ``full`` also returns each mask's whole distribution (``MaskResult.log_probs``,
        float32 natural logs), for comparing two models over the full vocabulary.
        """
        from .predict import masked_ids
        from .predict import predict as predict_masks

        started = time.perf_counter()
        ids = masked_ids(encoding, masked, top_k, self.text.mask_id)
        key = (encoding.text, tuple(ids), top_k, tuple(targets), full)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            elapsed = (time.perf_counter() - started) * 1000
            return dataclasses.replace(hit, elapsed_ms=elapsed, cached=True)
        result = predict_masks(
            self.text, self._logits_at, self.info, encoding, ids, top_k=top_k, targets=targets, full=full
        )
        with self._cache_lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    # ------------------------------------------------------------------ beyond one mask at a time

    def joint_fill(self, encoding: Encoding, masked: Iterable[int] = (), *, beam: int = 5) -> JointResult:
        """Fills of every mask that fit together, best first (see :mod:`.explore`).

        ``masked`` adds masks at those token positions, as in :meth:`predict`.
        Each search step runs every beam state in one batched forward pass.
        """
        from .explore import joint_fill
        from .predict import masked_ids

        ids = masked_ids(encoding, masked, 1, self.text.mask_id)
        return joint_fill(self.text, self._logits_at, self.info, encoding, ids, beam=beam)

    def unmasked(
        self, encoding: Encoding, *, top_k: int = 5, sequences: bool = True, masked: Iterable[int] = ()
    ) -> UnmaskedResult:
        """What the model predicts at every non-special token, reading the text with ``masked`` masked.

        ``masked`` are positions masked on top of the masks typed in the text (the app's ``m``): both
        kinds are read as the mask token.

        One forward pass serves every position (windows for texts longer than the
        model reads); the result is cached per text. ``sequences=False`` leaves each
        prediction's ``sequence`` empty (the app does not show it; long texts decode faster).
        """
        from .explore import unmasked

        masks = tuple(sorted(set(masked)))
        key = (encoding.text, encoding.ids, top_k, sequences, masks)
        with self._cache_lock:
            hit = self._unmasked.get(key)
            if hit is not None:
                self._unmasked.move_to_end(key)
                return hit
        result = unmasked(
            self.text, self._logits_at, self.info, encoding, top_k=top_k, sequences=sequences, masked=masks
        )
        with self._cache_lock:
            self._unmasked[key] = result
            while len(self._unmasked) > 16:
                self._unmasked.popitem(last=False)
        return result

    def attention(self, encoding: Encoding, position: int, masked: Iterable[int] = ()) -> AttentionResult:
        """What the token at ``position`` attends to, every layer and head, with ``masked`` tokens masked.

        Eager attention, as transformers' ``output_attentions=True``; on a text
        longer than the model reads, over the window around ``position`` (and the
        masks, when they fit) that predictions use. On the ONNX backend the
        PyTorch model is loaded the first time this is called.
        """
        from .window import cut_window, window_positions

        ids = list(encoding.ids)
        if not 0 <= position < len(ids):
            raise EngineError(f"position {position} is outside the text (0 to {len(ids) - 1})")
        for index in masked:
            if not 0 <= index < len(ids) or encoding.tokens[index].special:
                raise EngineError(f"position {index} cannot be masked")
            ids[index] = self.text.mask_id
        body = [t.index for t in encoding.tokens if not t.special]
        masks = [i for i, t in enumerate(ids) if t == self.text.mask_id]
        if position < body[0] or position > body[-1]:  # [CLS] or [SEP]: always in the window
            keep = [body[0] if position < body[0] else body[-1]]
        else:
            keep = [position, *masks]
        try:
            window, shift = cut_window(encoding, ids, keep, self.info.max_length, self.info.name)
        except EngineError:  # the masks are too far from the token to share its window
            window, shift = cut_window(encoding, ids, [position], self.info.max_length, self.info.name)
        where = window_positions(encoding, len(window), shift)
        row = self._attention_row(window, where.index(position))
        weights = np.full((row.shape[0], row.shape[1], len(ids)), np.nan, dtype=np.float32)
        weights[:, :, where] = row
        inside = [i for i in where if not encoding.tokens[i].special] or where
        return AttentionResult(
            tokens=tuple(t.text for t in encoding.tokens),
            position=position,
            weights=weights,
            window=(0, len(ids)) if len(window) == len(ids) else (min(inside), max(inside) + 1),
        )

    def _attention_row(self, window: list[int], query: int) -> np.ndarray:
        from .backends.torch_backend import attention_row

        if self.model is not None:
            with self._lock:
                return attention_row(self.model, self.info.device, window, query, *self._token_types)
        with self._eager_lock:
            if self._eager is None:
                self._eager = self._load_eager()
            return attention_row(self._eager, "cpu", window, query, *self._token_types)

    def salience(
        self,
        encoding: Encoding,
        position: int,
        target: int | str,
        masked: Iterable[int] = (),
        *,
        method: str = "ig",
        steps: int | None = None,
        baseline: str = "mask",
    ) -> SalienceResult:
        """Which input tokens make the model predict ``target`` at the mask at ``position`` (see :mod:`.salience`).

        ``method``: ``"ig"`` (integrated gradients, ``steps`` midpoint-rule points, from the ``"mask"`` or
        ``"zero"`` baseline; by default 20, doubled up to 320 until completeness holds within 1 %) or ``"grad-input"``. ``target``: a token id, or a word of one piece there (a
        word of several pieces is refused). ``masked`` as in :meth:`attention`; a text longer than the
        model reads uses the window predictions use. Gradients need PyTorch: on the ONNX backend (and in a
        fast mode) a float32 PyTorch copy of the model is loaded the first time, as for attention.
        """
        from .salience import salience

        return salience(
            self.text,
            self.info,
            encoding,
            position,
            target,
            masked,
            method=method,
            steps=steps,
            baseline=baseline,
            attribute=self._attribute,
        )

    @property
    def salience_loads_weights(self) -> bool:
        """True when :meth:`salience` would first load the PyTorch weights (ONNX backend, fast modes)."""
        return (self.model is None or self.info.dtype != "float32") and self._eager is None

    def _attribute(self, request: AttributionRequest) -> tuple[np.ndarray, float, float]:
        from .backends.torch_salience import attribute

        if self.model is not None and self.info.dtype == "float32":
            with self._lock:
                return attribute(self.model, self.info.device, request)
        with self._eager_lock:
            if self._eager is None:
                self._eager = self._load_eager()
            return attribute(self._eager, "cpu", request)

    @property
    def _token_types(self) -> tuple[bool, int]:
        return self.text.settings.takes_token_types, self.text.settings.token_type_width

    def _load_eager(self) -> Any:
        from .backends.torch_backend import load_transformers

        if self._source is None:
            raise EngineError("attention weights need the model's PyTorch weights, and this engine has none")
        _config, _tokenizer, model, _warnings = load_transformers(
            self._source.name,
            str(self._source.path),
            use_safetensors=self._source.use_safetensors,
            trust_remote_code=False,
            say=lambda _msg: None,
        )
        return model

    # ------------------------------------------------------------------ layers (the MLM lens, similarity)

    def lens(
        self, encoding: Encoding, position: int, masked: Iterable[int] = (), *, top_k: int = 3
    ) -> LensResult:
        """The MLM lens at ``position``: the model's own head on every layer's hidden state there.

        One row per layer (0 = embeddings … last, which equals :meth:`predict` there), each with the
        head's top-k, entropy, KL(final ‖ layer) and the rank and probability of the last layer's
        top-1. ``masked`` as in :meth:`predict`; a text longer than the model reads is read in the
        window around ``position`` and the masks (as attention). :class:`EngineError` in one line for
        a type whose head cannot be applied per layer.
        """
        from .layers import lens_ids, lens_result

        started = time.perf_counter()
        ids = lens_ids(self.text, encoding, tuple(masked))
        if not 0 <= position < len(ids):
            raise EngineError(f"position {position} is outside the text (0 to {len(ids) - 1})")
        states, where, window = self._window_states(encoding, ids, position)
        hidden = states[:, where.index(position), :]
        result = lens_result(self.text, encoding, ids, position, hidden, self._head_logits, top_k, window)
        return dataclasses.replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def lens_grid(self, encoding: Encoding, masked: Iterable[int] = ()) -> LensGrid:
        """The lens's top-1 and its probability at every layer and token (the "logit lens" picture).

        Over the window predictions use when the text is longer than the model reads (-1, NaN and ""
        outside it). The head runs on chunks of rows, so at most ~64 MB of logits are held at once.
        """
        from .layers import lens_grid, lens_ids

        started = time.perf_counter()
        ids = lens_ids(self.text, encoding, tuple(masked))
        states, where, window = self._window_states(encoding, ids, None)
        grid = lens_grid(
            self.text, encoding, ids, states, where, self._head_logits, self.info.vocab_size, window
        )
        return dataclasses.replace(grid, elapsed_ms=(time.perf_counter() - started) * 1000)

    def hidden_states(self, encoding: Encoding, masked: Iterable[int] = ()) -> HiddenStates:
        """Every layer's vector for every token (float32 (layers, n, d)), for similarity and a token's path.

        Cached per text and ids: after :meth:`lens` or :meth:`lens_grid` on the same text (and window),
        no forward pass runs.
        """
        from .layers import hidden_states, lens_ids

        started = time.perf_counter()
        ids = lens_ids(self.text, encoding, tuple(masked))
        states, where, window = self._window_states(encoding, ids, None)
        result = hidden_states(encoding, ids, states, where, window)
        return dataclasses.replace(result, elapsed_ms=(time.perf_counter() - started) * 1000)

    def _head_logits(self, hidden: np.ndarray) -> np.ndarray:
        """The lens's head (the backend's ``head_logits``) on rows of hidden vectors, one call at a time."""
        with self._lock:
            return self.forward.head_logits(hidden)  # type: ignore[attr-defined]

    def _window_states(
        self, encoding: Encoding, ids: list[int], position: int | None
    ) -> tuple[np.ndarray, list[int], tuple[int, int]]:
        """The hidden states of the window read for ``position`` (see :func:`.layers.window_around`), from
        the cache when this text and window were read already; with the window's text positions and span."""
        from .layers import window_around, window_span

        window, where = window_around(
            encoding, ids, position, self.text.mask_id, self.info.max_length, self.info.name
        )
        key = (encoding.text, tuple(window), tuple(where))
        with self._cache_lock:
            states = self._states.get(key)
            if states is not None:
                self._states.move_to_end(key)
        if states is None:
            read = getattr(self.forward, "hidden_states", None)
            if read is None:
                raise EngineError(
                    f"the {self.info.backend} backend gives no hidden states for the layer lens; use --backend torch"
                )
            with self._lock:
                states = read(window)
            states.setflags(write=False)
            with self._cache_lock:
                self._states[key] = states
                total = sum(s.nbytes for s in self._states.values())
                while len(self._states) > 1 and (
                    len(self._states) > STATES_CACHE_SIZE or total > STATES_CACHE_BYTES
                ):
                    _key, dropped = self._states.popitem(last=False)
                    total -= dropped.nbytes
        return states, where, window_span(encoding, where)

    # ------------------------------------------------------------------ layers (ONNX)

    def prepare_layers(self, progress: Callable[[str], None] | None = None) -> str | None:
        """Make ready what ``forward.hidden_states`` and ``forward.head_logits`` answer from.

        On ONNX the first call (in this process) opens the cached layer graphs, or,
        once per model, loads the PyTorch weights and exports them (seconds to a
        minute; ``progress`` hears each stage); the primitives call it themselves,
        so calling it first, in a worker and outside the engine's lock, only moves
        the wait. Returns a one-line note when the layers are answered by PyTorch
        because the graphs cannot be made, else ``None`` (and always on PyTorch).
        """
        prepare = getattr(self.forward, "prepare_layers", None)
        if prepare is None:
            return None
        return getattr(prepare(progress), "note", None)

    def _open_layers(self, progress: Callable[[str], None]) -> Any:
        from .onnx_layers import open_layers

        return open_layers(self, progress)

    # ------------------------------------------------------------------ score

    def score(
        self, encoding: Encoding, *, batch_size: int = SCORE_BATCH, variant: str = "original"
    ) -> ScoreResult:
        """Pseudo-log-likelihood (Salazar et al. 2020), as minicons' ``token_score``.

        Each non-special, non-mask token is masked in turn with the rest visible;
        the copies run in batched forward passes with the LM head only at the
        masked position. Log-probabilities are natural logs. ``variant="word-l2r"``
        masks each token with the pieces to its right in the same word (Kauf & Ivanova 2023).
        """
        (result,) = self.score_many([encoding], batch_size=batch_size, variant=variant)
        if isinstance(result, EngineError):
            raise result
        return result

    def score_many(
        self,
        encodings: Iterable[Encoding | EngineError],
        *,
        batch_size: int = SCORE_BATCH,
        variant: str = "original",
    ) -> Iterator[ScoreResult | EngineError]:
        """PLL of many sentences, batched across sentences and streamed in input order.

        An :class:`EngineError` in ``encodings`` (a line that could not be encoded)
        comes out in its place, so output n always belongs to input n.
        """
        from .score import score_many

        return score_many(
            self._logits_at, self.info, self.text.mask_id, encodings, batch_size=batch_size, variant=variant
        )

    def run_jobs(
        self,
        jobs: Iterable[Any],
        *,
        batch_size: int = SCORE_BATCH,
        max_tokens: int | None = None,
        on_pass: Callable[[int, int], None] | None = None,
    ) -> Iterator[Any]:
        """Batch jobs (:mod:`.batch`: probe sets, pairs) through this model, results in input order."""
        from .batch import MAX_TOKENS, run_jobs

        return run_jobs(
            self._logits_at, jobs, batch_size=batch_size, max_tokens=max_tokens or MAX_TOKENS, on_pass=on_pass
        )

    def warm_up(self) -> None:
        """One small forward pass, so the first real request does not pay for lazy initialisation."""
        self._logits_at([[self.text.mask_id] * 4], [[1]])
