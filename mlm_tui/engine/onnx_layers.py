"""The layer graphs of an ONNX engine: what the lens and similarity views run on the default backend.

Beside the prediction graph (never changed) the cache keeps, in a folder of
its own (:data:`.onnx_cache.LAYERS_DIR`), two graphs: the encoder returning
every hidden state, and the model's own MLM head (with any final norm, as
:func:`.backends.lens_head.lens_head` finds it) from one hidden state to
vocabulary logits. They are made the first time an ONNX engine is asked for
layers: the PyTorch weights are loaded (as for attention), both graphs are
exported, checked against PyTorch's own layer primitives, stored atomically
and opened; later runs open them without torch. A damaged folder is removed
and rebuilt; an export or check that fails is remembered in one line
(``layers.failed``) and the layers are answered by PyTorch, which says so.
A type the lens cannot read on PyTorch (:mod:`.backends.lens_head`) raises the
lens's own line, as PyTorch does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import onnx_cache
from .errors import EngineError
from .text import MASK_ALIAS

if TYPE_CHECKING:  # pragma: no cover
    from .model import MaskedLM

STATES_TOLERANCE = 1e-4
"""Largest difference from PyTorch in the hidden states, relative to the largest of them (at least 1).

Float32 kernels that sum in another order differ by ~1e-7 relative per operation;
after 12 layers the exported graph of a bert-base-shaped model differed by 7e-7
relative (3e-6 absolute against values up to 4.7). A wrong graph (a missing
norm, a baked-in length, a dropout left on) differs by 1e-2 or more."""
HEAD_TOLERANCE = 1e-4
"""Largest difference in the head's log-probabilities: the prediction graph's own check."""


def open_layers(engine: MaskedLM, progress: Callable[[str], None]) -> Any:
    """What answers ``hidden_states``/``head_logits`` for an ONNX ``engine``: the cached graphs, made if need be.

    Returns an :class:`.backends.onnx_backend.OnnxLayers`, or, where the graphs
    cannot be made, PyTorch's primitives with ``note`` saying so.
    """
    forward = engine.forward
    folder = Path(forward.graph).parent / onnx_cache.LAYERS_DIR  # type: ignore[attr-defined]
    threads = getattr(forward, "threads", 0)
    if folder.is_dir():
        try:
            return _open(folder, threads)
        except EngineError:
            onnx_cache.remove(folder)  # damaged or truncated: rebuilt from the weights
    failed = onnx_cache.read_failure(folder)
    with engine._eager_lock:
        model = engine._eager
        if model is None:
            progress(f"loading the PyTorch weights of {engine.info.name} for its layers")
            model = engine._load_eager()
        reference = _torch_layers(engine, model)
        if failed is None:
            progress(f"exporting the layers of {engine.info.name} to ONNX (once; kept in {folder.parent})")
            try:
                onnx_cache.store(folder, lambda tmp: _write(tmp, engine, reference))
                return _open(folder, threads)
            except _NoLayers as exc:
                raise EngineError(str(exc)) from exc
            except EngineError as exc:
                onnx_cache.remember_failure(folder, str(exc))
                failed = str(exc)
            except OSError as exc:  # a full disk, a read-only cache: not the model's fault, so not remembered
                failed = f"cannot keep the layer graphs in {folder.parent}: {exc}"

        engine._eager = model  # kept: it answers the layers now (and attention, later)
    note = f"answering the layers from PyTorch: {failed}"
    progress(note)
    return _PyTorchLayers(reference, engine._eager_lock, note)


class _NoLayers(EngineError):
    """PyTorch cannot give this model's layers either (a type the lens cannot read): nothing to fall back on."""


class _PyTorchLayers:
    """PyTorch's layer primitives on the engine's eager model, under the lock attention uses on it."""

    name = "torch"

    def __init__(self, forward: Any, lock: Any, note: str) -> None:
        self._forward = forward
        self._lock = lock
        self.note = note

    def hidden_states(self, ids: Any) -> np.ndarray:
        with self._lock:
            return self._forward.hidden_states(ids)

    def head_logits(self, hidden: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._forward.head_logits(hidden)


def _torch_layers(engine: MaskedLM, model: Any) -> Any:
    from .backends.torch_backend import TorchForward

    takes_token_types, width = engine._token_types
    return TorchForward(
        model, engine.info.model_type, "cpu", engine.text.pad_id, takes_token_types, token_type_width=width
    )


def _open(folder: Path, threads: int, *, quiet: bool = False) -> Any:
    from .backends.onnx_backend import OnnxLayers

    info = onnx_cache.LayersInfo.read(folder)
    try:
        del info  # read for its checks: every file there, none truncated
        return OnnxLayers(
            folder / onnx_cache.STATES_FILE, folder / onnx_cache.HEAD_FILE, threads, quiet=quiet
        )
    except Exception as exc:  # onnxruntime raises its own types for a damaged graph
        raise EngineError(f"cannot open the layer graphs in {folder}: {exc}") from exc


def _check_rows(engine: MaskedLM) -> list[list[int]]:
    """A sentence with a mask, a random row at another length than the export's example, and a short row."""
    rng = np.random.default_rng(0)
    ids = list(engine.encode(f"The capital of France is {MASK_ALIAS}, of course.").ids)
    limit = min(engine.info.max_length, 24)
    noise = rng.integers(0, engine.info.vocab_size, limit - 2).tolist()
    return [ids, ids[:1] + noise + ids[-1:], ids[:1] + ids[-2:]]


def _write(folder: Path, engine: MaskedLM, reference: Any) -> None:
    """Export both graphs into ``folder``, check them against ``reference`` (PyTorch), write their info."""
    from .backends.layers_onnx import export_head, export_states
    from .backends.lens_head import lens_head
    from .backends.onnx_backend import OnnxLayers
    from .backends.torch_backend import first_line

    model_type = engine.info.model_type
    rows = _check_rows(engine)
    try:
        expected = [np.asarray(reference.hidden_states(row), dtype=np.float32) for row in rows]
        module = lens_head(reference.model, model_type)
    except EngineError as exc:  # a type the lens cannot read: PyTorch says why, and ONNX cannot do better
        raise _NoLayers(str(exc)) from exc
    layers, _n, hidden_size = expected[0].shape
    states, head = folder / onnx_cache.STATES_FILE, folder / onnx_cache.HEAD_FILE
    takes_token_types, width = engine._token_types
    try:
        export_states(reference.model, module, engine.text.pad_id, takes_token_types, width, states)
    except Exception as exc:  # the exporter fails in many ways for unsupported architectures
        raise EngineError(
            f"cannot export the layers of a {model_type} model to ONNX ({first_line(exc)})"
        ) from exc
    try:
        export_head(module, hidden_size, head)
    except Exception as exc:
        raise EngineError(
            f"cannot export the head of a {model_type} model to ONNX ({first_line(exc)})"
        ) from exc
    try:  # ONNX Runtime may refuse a graph, or fail on a length other than the export's example
        exported = OnnxLayers(states, head, quiet=True)
        states_difference, head_difference = _differences(reference, exported, rows, expected)
    except EngineError:
        raise
    except Exception as exc:  # onnxruntime raises its own types
        detail = first_line(exc).removeprefix("[ONNXRuntimeError] : ")
        detail = detail if len(detail) <= 160 else detail[:159] + "…"
        raise EngineError(
            f"the layer graphs of a {model_type} model fail in ONNX Runtime ({detail})"
        ) from exc
    if not states_difference <= STATES_TOLERANCE:
        raise EngineError(
            f"the layer graph of {engine.info.name} differs from PyTorch by {states_difference:.1e} "
            "(relative) in its hidden states; not kept"
        )
    if not head_difference <= HEAD_TOLERANCE:
        raise EngineError(
            f"the head graph of {engine.info.name} differs from PyTorch by {head_difference:.1e} "
            "in log-probability; not kept"
        )
    onnx_cache.LayersInfo(
        layers=layers,
        hidden_size=hidden_size,
        vocab_size=engine.info.vocab_size,
        states_bytes=states.stat().st_size,
        head_bytes=head.stat().st_size,
        states_difference=states_difference,
        head_difference=head_difference,
    ).save(folder)


def _differences(
    reference: Any, exported: Any, rows: list[list[int]], expected: list[np.ndarray]
) -> tuple[float, float]:
    """(relative difference in hidden states, difference in head log-probabilities) from PyTorch."""
    from .predict import log_softmax

    states = []
    picked = []
    for row, want in zip(rows, expected, strict=True):
        got = exported.hidden_states(row)
        if got.shape != want.shape:
            raise EngineError(
                f"the layer graph gives hidden states of shape {got.shape}, PyTorch {want.shape}"
            )
        scale = max(1.0, float(np.abs(want).max()))
        states.append(float(np.abs(got - want).max()) / scale)
        picked.append(want[:, len(row) // 2])  # one position per row, every layer: embeddings to last
    worst_states = float(np.max(states))  # NaN, never hidden by max(): a NaN anywhere is a failure
    hidden = np.concatenate(picked)
    heads = []
    for part in (hidden[:1], hidden):  # row counts other than the export's example (2)
        want_log = log_softmax(np.asarray(reference.head_logits(part), dtype=np.float32))
        got_log = log_softmax(exported.head_logits(part))
        heads.append(float(np.abs(got_log - want_log).max()))
    return worst_states, float(np.max(heads))
