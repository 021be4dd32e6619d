"""The layer graphs of the ONNX backend: every hidden state and the lens head, answered by ONNX Runtime.

References are plain transformers code written here: ``output_hidden_states=True``
and the model's head (BERT's ``cls``, RoBERTa's ``lm_head``) applied by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlm_tui.engine import EngineError, MaskedLM, onnx_cache

TEXT = "Paris is the [MASK] of France."
STATES_TOLERANCE = 1e-5
"""Hidden states, relative to their largest value: float32 kernels summing in another order differ by
~1e-7 per operation (the tiny models' graphs differ by ~5e-7); a wrong graph by 1e-2 or more."""
LOG_PROB_TOLERANCE = 1e-5
"""Log-probabilities of the head, and the lens's last layer against ``predict`` (the issue's 1e-5)."""


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty graph cache for one test."""
    monkeypatch.setenv(onnx_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def layers_folder(cache: Path) -> Path:
    (entry,) = [p for p in cache.iterdir() if p.is_dir()]
    return entry / onnx_cache.LAYERS_DIR


def reference(model_dir: Path, ids: list[int]) -> tuple[np.ndarray, object]:
    """transformers' hidden states of one row (layers, n, d), and the model's own head."""
    import torch
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    head = model.cls if model.config.model_type == "bert" else model.lm_head
    return torch.stack(out.hidden_states)[:, 0].numpy(), head


def head_of(head: object, hidden: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return head(torch.from_numpy(hidden)).numpy()  # type: ignore[operator]


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max()))


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_onnx_layers_equal_transformers(cache, kind, bert_dir, roberta_dir):
    model_dir = bert_dir if kind == "bert" else roberta_dir
    engine = MaskedLM.load(str(model_dir), backend="onnx")
    ids = list(engine.encode(TEXT).ids)
    states = engine.forward.hidden_states(ids)
    want, head = reference(model_dir, ids)
    assert states.dtype == np.float32 and states.shape == want.shape  # (layers, n, d), embeddings first
    assert relative(states, want) <= STATES_TOLERANCE
    hidden = want.reshape(-1, want.shape[-1])  # every position of every layer
    logits = engine.forward.head_logits(hidden)
    assert logits.dtype == np.float32 and logits.shape == (len(hidden), engine.info.vocab_size)
    assert np.abs(log_softmax(logits) - log_softmax(head_of(head, hidden))).max() <= LOG_PROB_TOLERANCE
    assert engine.forward.head_logits(hidden[:1]).shape == (1, engine.info.vocab_size)


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_the_last_layer_through_the_head_equals_predict(cache, kind, bert_dir, roberta_dir):
    engine = MaskedLM.load(str(bert_dir if kind == "bert" else roberta_dir), backend="onnx")
    encoding = engine.encode(TEXT)
    (mask,) = engine.predict(encoding, top_k=5, full=True).masks
    states = engine.forward.hidden_states(list(encoding.ids))
    lens = log_softmax(engine.forward.head_logits(states[-1, [mask.position]]))[0]
    assert np.abs(lens - mask.log_probs).max() <= LOG_PROB_TOLERANCE
    assert [int(i) for i in np.argsort(-lens)[:5]] == [p.token for p in mask.predictions]


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", onnx_cache.CACHE_ENV: str(cache.parent)}


def test_the_layer_graphs_are_exported_once_then_answer_without_torch(cache, bert_dir):
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    said: list[str] = []
    assert engine.prepare_layers(said.append) is None
    assert any("exporting the layers" in line for line in said)
    folder = layers_folder(cache)
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {onnx_cache.STATES_FILE, onnx_cache.HEAD_FILE, onnx_cache.LAYERS_INFO_FILE} <= set(stamps)
    ids = list(engine.encode(TEXT).ids)
    states = engine.forward.hidden_states(ids)
    logits = engine.forward.head_logits(states[:, 1])
    code = (
        "import sys, json; import numpy as np; from mlm_tui.engine import MaskedLM;"
        f"e = MaskedLM.load({str(bert_dir)!r}, backend='onnx');"
        f"s = e.forward.hidden_states({ids!r}); h = e.forward.head_logits(s[:, 1]);"
        "print(json.dumps({'states': s.tolist(), 'logits': h.tolist(), 'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(cache))
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert (seen["torch"], seen["transformers"]) == (False, False)
    assert np.array_equal(np.asarray(seen["states"], dtype=np.float32), states)
    assert np.array_equal(np.asarray(seen["logits"], dtype=np.float32), logits)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps  # not exported again


def test_the_prediction_graph_and_predict_are_unchanged(cache, bert_dir, bert):
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    graph = layers_folder_parent = next(p for p in cache.iterdir() if p.is_dir()) / onnx_cache.GRAPH_FILE
    before = hashlib.sha256(graph.read_bytes()).hexdigest()
    encoding = engine.encode(TEXT)
    first = engine.predict(encoding, top_k=5, full=True).masks[0]
    engine._cache.clear()
    engine.prepare_layers()
    engine.forward.hidden_states(list(encoding.ids))
    after = engine.predict(encoding, top_k=5, full=True).masks[0]
    assert np.array_equal(first.log_probs, after.log_probs) and first.predictions == after.predictions
    assert hashlib.sha256(graph.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in layers_folder_parent.parent.iterdir()) == sorted(
        [onnx_cache.GRAPH_FILE, onnx_cache.INFO_FILE, onnx_cache.LAYERS_DIR, "text.json", "tokenizer.json"]
    )
    # the PyTorch model the export loaded was not left in training mode (dropout): answers are stable
    reopened = MaskedLM.load(str(bert_dir), backend="onnx")
    torch_mask = bert.predict(encoding, top_k=5, full=True).masks[0]
    assert (
        np.abs(reopened.predict(encoding, top_k=5, full=True).masks[0].log_probs - torch_mask.log_probs).max()
        < 1e-4
    )


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no info", "no head"])
def test_a_damaged_layer_graph_is_removed_and_rebuilt(cache, bert_dir, damage):
    MaskedLM.load(str(bert_dir), backend="onnx").prepare_layers()
    folder = layers_folder(cache)
    states = folder / onnx_cache.STATES_FILE
    if damage == "truncate":
        states.write_bytes(states.read_bytes()[:1000])
    elif damage == "garbage":
        states.write_bytes(b"\0" * states.stat().st_size)  # right size, wrong bytes
    elif damage == "no info":
        (folder / onnx_cache.LAYERS_INFO_FILE).unlink()
    else:
        (folder / onnx_cache.HEAD_FILE).unlink()
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    said: list[str] = []
    assert engine.prepare_layers(said.append) is None
    assert any("exporting the layers" in line for line in said)
    ids = list(engine.encode(TEXT).ids)
    want, _head = reference(bert_dir, ids)
    assert relative(engine.forward.hidden_states(ids), want) <= STATES_TOLERANCE
    assert engine.forward.head_logits(want[:, 1]).shape == (want.shape[0], engine.info.vocab_size)
    onnx_cache.LayersInfo.read(folder)  # whole again


def test_an_export_failure_is_one_line_remembered_and_answered_by_pytorch(cache, bert_dir, monkeypatch):
    from mlm_tui.engine.backends import layers_onnx

    calls: list[int] = []

    def fail(*_args, **_kwargs):
        calls.append(1)
        raise RuntimeError("Exporting the operator 'aten::fancy' is not supported\nmore detail")

    monkeypatch.setattr(layers_onnx, "export_states", fail)
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    said: list[str] = []
    note = engine.prepare_layers(said.append)
    assert note is not None and "\n" not in note
    assert note.startswith("answering the layers from PyTorch: cannot export the layers of a bert model")
    assert "aten::fancy" in note and note in said
    assert [p.name for p in layers_folder(cache).parent.iterdir() if p.name.startswith("layers")] == [
        "layers.failed"
    ]
    ids = list(engine.encode(TEXT).ids)
    want, _head = reference(bert_dir, ids)
    assert relative(engine.forward.hidden_states(ids), want) <= STATES_TOLERANCE  # from PyTorch, same answers
    assert calls == [1]
    again = MaskedLM.load(str(bert_dir), backend="onnx")
    assert again.prepare_layers() == note and calls == [1]  # remembered: not exported again
    assert engine.info.backend == "onnx"  # predictions stay on ONNX Runtime


def test_a_graph_that_disagrees_with_pytorch_is_not_kept(cache, bert_dir, monkeypatch):
    from mlm_tui.engine import onnx_layers

    monkeypatch.setattr(onnx_layers, "_differences", lambda *_args: (0.5, 0.0))
    note = MaskedLM.load(str(bert_dir), backend="onnx").prepare_layers()
    assert note is not None and "differs from PyTorch by 5.0e-01" in note and "hidden states" in note
    entry = next(p for p in cache.iterdir() if p.is_dir())
    assert not (entry / onnx_cache.LAYERS_DIR).exists()
    assert not [p for p in entry.iterdir() if p.name.startswith(".tmp")]  # nothing half-written left


def test_a_type_the_lens_cannot_read_is_one_line_as_on_pytorch(cache, bert_dir, monkeypatch):
    from mlm_tui.engine.backends import lens_head as module

    def refuse(model, model_type):
        raise EngineError(f"the layer lens cannot read a {model_type} model: a reason")

    monkeypatch.setattr(module, "lens_head", refuse)
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    line = "^the layer lens cannot read a bert model: a reason$"
    with pytest.raises(EngineError, match=line):
        engine.prepare_layers()
    with pytest.raises(EngineError, match=line):  # asked again: the same line at once
        engine.forward.hidden_states(list(engine.encode(TEXT).ids))
    entry = next(p for p in cache.iterdir() if p.is_dir())
    assert not [p for p in entry.iterdir() if p.name.startswith(onnx_cache.LAYERS_DIR)]  # nothing kept
    assert engine.predict(engine.encode(TEXT)).masks  # the rest of the engine is unchanged


def test_prepare_layers_on_pytorch_is_nothing_to_do(bert):
    assert bert.prepare_layers() is None


def test_attention_after_the_export_is_unchanged(cache, bert_dir):
    """The export shares the PyTorch weights attention loaded, and leaves them as they were (no dropout)."""
    engine = MaskedLM.load(str(bert_dir), backend="onnx")
    encoding = engine.encode(TEXT)
    before = engine.attention(encoding, 1).weights
    assert engine.prepare_layers() is None
    after = engine.attention(encoding, 1).weights
    assert np.array_equal(before, after)


@pytest.mark.parametrize("kind", ["bert", "roberta"])
def test_the_engine_lens_grid_and_states_on_onnx_equal_pytorch(
    cache, kind, bert_dir, roberta_dir, bert, roberta
):
    """MaskedLM's layer views route to the ONNX primitives and give PyTorch's answers."""
    on_torch = bert if kind == "bert" else roberta
    engine = MaskedLM.load(str(bert_dir if kind == "bert" else roberta_dir), backend="onnx")
    encoding = engine.encode(TEXT)
    position = engine.predict(encoding).masks[0].position
    lens, want = engine.lens(encoding, position), on_torch.lens(encoding, position)
    assert np.abs(lens.log_probs - want.log_probs).max() <= LOG_PROB_TOLERANCE
    assert [[p.token for p in layer.top] for layer in lens.layers] == [
        [p.token for p in layer.top] for layer in want.layers
    ]
    grid, want_grid = engine.lens_grid(encoding), on_torch.lens_grid(encoding)
    assert np.array_equal(grid.top_ids, want_grid.top_ids)
    np.testing.assert_allclose(grid.top_probs, want_grid.top_probs, atol=LOG_PROB_TOLERANCE)
    states, want_states = engine.hidden_states(encoding), on_torch.hidden_states(encoding)
    assert relative(states.states, want_states.states) <= STATES_TOLERANCE


def test_nothing_the_layer_exporter_prints_reaches_stdout(cache, bert_dir, monkeypatch, capfd):
    import torch

    engine = MaskedLM.load(str(bert_dir), backend="onnx")

    def chatty(*_args, **_kwargs):
        print("graph(%input.1 : Long(*, *)) from Python")
        os.write(1, b"Torch IR graph at exception: from C++\n")
        raise RuntimeError("Exporting the operator 'aten::fft_fftn' is not supported")

    monkeypatch.setattr(torch.onnx, "export", chatty)
    capfd.readouterr()
    note = engine.prepare_layers()
    print("after")
    out, _err = capfd.readouterr()
    assert out == "after\n"
    assert note is not None and "aten::fft_fftn" in note
