"""The ONNX backend's cache and fallbacks: what is kept, what is rebuilt, and what never gets imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlm_tui.engine import EngineError, EngineOptions, MaskedLM, onnx_cache

TEXT = "Paris is the [MASK] of France."


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty graph cache for one test."""
    monkeypatch.setenv(onnx_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnx"


def entries(cache: Path) -> list[Path]:
    return sorted(cache.iterdir()) if cache.is_dir() else []


def top(engine: MaskedLM) -> list[tuple[int, float]]:
    return [(p.token, p.score) for p in engine.predict(engine.encode(TEXT)).masks[0].predictions]


def assert_same_answers(a: MaskedLM, b: MaskedLM) -> None:
    assert [t for t, _ in top(a)] == [t for t, _ in top(b)]
    assert [s for _, s in top(a)] == pytest.approx([s for _, s in top(b)], abs=1e-5)


def test_a_graph_is_exported_once_then_reused(cache, bert_dir, bert):
    first = MaskedLM.load(str(bert_dir), backend="auto")
    assert first.info.backend == "onnx" and first.model is None
    (entry,) = entries(cache)
    assert {"model.onnx", "info.json", "tokenizer.json", "text.json"} <= {p.name for p in entry.iterdir()}
    stamp = (entry / "model.onnx").stat().st_mtime_ns
    again = MaskedLM.load(str(bert_dir), backend="onnx")
    assert (entry / "model.onnx").stat().st_mtime_ns == stamp  # not exported again
    assert_same_answers(again, bert)
    assert again.info.vocab_digest == bert.info.vocab_digest and again.info.max_length == bert.info.max_length


@pytest.mark.parametrize("damage", ["truncate", "garbage", "no info"])
def test_a_damaged_graph_is_removed_and_rebuilt(cache, bert_dir, bert, damage):
    MaskedLM.load(str(bert_dir), backend="onnx")
    (entry,) = entries(cache)
    graph = entry / "model.onnx"
    if damage == "truncate":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "garbage":
        graph.write_bytes(b"\0" * graph.stat().st_size)  # right size, wrong bytes
    else:
        (entry / "info.json").unlink()
    rebuilt = MaskedLM.load(str(bert_dir), backend="onnx")
    assert rebuilt.info.backend == "onnx"
    assert_same_answers(rebuilt, bert)


def test_a_graph_that_disagrees_with_pytorch_is_not_kept(cache, bert_dir, monkeypatch):
    monkeypatch.setattr(MaskedLM, "_graph_difference", lambda self, exported: 0.5)
    engine = MaskedLM.load(str(bert_dir), backend="auto")
    assert engine.info.backend == "torch"
    assert any("differs from PyTorch" in note for note in engine.info.notes)
    # no graph kept and no temporary folder left: only the remembered failure
    assert [p.suffix for p in entries(cache)] == [onnx_cache.FAILURE_SUFFIX]
    with pytest.raises(EngineError, match="differs from PyTorch"):
        MaskedLM.load(str(bert_dir), backend="onnx")


def test_a_failed_export_is_remembered_until_a_library_changes(cache, bert_dir, monkeypatch):
    from mlm_tui.engine.backends import torch_backend

    def fail(*_args, **_kwargs):
        raise RuntimeError("Unsupported: some operator")

    monkeypatch.setattr(torch_backend, "export_onnx", fail)
    first = MaskedLM.load(str(bert_dir), backend="auto")
    (note,) = first.info.notes
    assert first.info.backend == "torch" and note.startswith("answering from PyTorch: cannot export")

    exports: list[int] = []

    def exported_again(*_args, **_kwargs):
        exports.append(1)
        raise RuntimeError("Unsupported: some operator")

    monkeypatch.setattr(torch_backend, "export_onnx", exported_again)
    again = MaskedLM.load(str(bert_dir), backend="auto")
    assert again.info.backend == "torch" and again.info.notes == (note,)
    with pytest.raises(EngineError) as refused:
        MaskedLM.load(str(bert_dir), backend="onnx")
    assert str(refused.value) == note.removeprefix("answering from PyTorch: ")
    with pytest.raises(EngineError, match="cannot export"):  # the app's way: export in a worker
        EngineOptions(model=str(bert_dir)).load_fast_backend(again)
    # a new torch (or transformers, or model files) changes the key: the export is tried again
    real_version = onnx_cache._version
    monkeypatch.setattr(onnx_cache, "_version", lambda package: real_version(package) + "-new")
    assert exports == []
    MaskedLM.load(str(bert_dir), backend="auto")
    assert exports == [1]


def test_nothing_the_exporter_prints_reaches_stdout(cache, bert_dir, monkeypatch, capfd):
    import torch

    def chatty(*_args, **_kwargs):
        print("graph(%input.1 : Long(*, *)) from Python")
        os.write(1, b"Torch IR graph at exception: from C++\n")
        raise RuntimeError("Exporting the operator 'aten::fft_fftn' is not supported")

    monkeypatch.setattr(torch.onnx, "export", chatty)
    engine = MaskedLM.load(str(bert_dir), backend="auto")
    print("after")
    out, _err = capfd.readouterr()
    assert out == "after\n"
    assert engine.info.backend == "torch" and "aten::fft_fftn" in engine.info.notes[0]


def test_the_check_reads_lengths_other_than_the_export_example(cache, bert_dir, monkeypatch):
    import torch

    from mlm_tui.engine.backends.onnx_backend import OnnxForward

    example: list[int] = []
    checked: list[int] = []
    real_export, real_logits = torch.onnx.export, OnnxForward.logits_at

    def export(module, args, *rest, **kwargs):
        example.append(args[0].shape[1])
        return real_export(module, args, *rest, **kwargs)

    def logits_at(self, rows, positions):
        checked.extend(len(r) for r in rows)
        return real_logits(self, rows, positions)

    monkeypatch.setattr(torch.onnx, "export", export)
    monkeypatch.setattr(OnnxForward, "logits_at", logits_at)
    assert MaskedLM.load(str(bert_dir), backend="auto").info.backend == "onnx"
    assert example and set(checked) - set(example)


def test_an_architecture_that_cannot_be_exported(cache, bert_dir, monkeypatch):
    from mlm_tui.engine.backends import torch_backend

    def fail(*_args, **_kwargs):
        raise RuntimeError("Unsupported: some operator\nmore detail")

    monkeypatch.setattr(torch_backend, "export_onnx", fail)
    with pytest.raises(EngineError) as error:
        MaskedLM.load(str(bert_dir), backend="onnx")
    message = str(error.value)
    assert "\n" not in message and "bert model" in message and "--backend torch" in message
    assert MaskedLM.load(str(bert_dir), backend="auto").info.backend == "torch"


def test_the_app_api_answers_from_pytorch_then_switches(cache, bert_dir, bert):
    options = EngineOptions(model=str(bert_dir))  # backend "auto"
    quick = options.load(export=False)
    assert quick.info.backend == "torch" and options.wants_export(quick)
    fast = options.load_fast_backend(quick)
    assert fast.info.backend == "onnx" and not options.wants_export(fast)
    assert_same_answers(fast, quick)
    assert options.load(export=False).info.backend == "onnx"  # cached now: ONNX at once
    assert not EngineOptions(model=str(bert_dir), backend="torch").wants_export(quick)


def test_bad_backend_choices(bert_dir):
    with pytest.raises(EngineError, match="unknown backend"):
        MaskedLM.load(str(bert_dir), backend="tpu")
    with pytest.raises(EngineError, match="runs on PyTorch"):
        MaskedLM.load(str(bert_dir), backend="onnx", fast="bf16")


def _env(cache: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", onnx_cache.CACHE_ENV: str(cache.parent)}


def test_cli_with_a_cached_graph_never_imports_torch_or_transformers(cache, bert_dir, bert):
    MaskedLM.load(str(bert_dir), backend="onnx")  # export once
    code = (
        "import sys, json; from mlm_tui.cli import main;"
        f"rc = main(['predict', {TEXT!r}, '-m', {str(bert_dir)!r}, '--json']);"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules}), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(cache))
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen == {"rc": 0, "torch": False, "transformers": False}, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["token"] for r in rows] == [t for t, _ in top(bert)]


def test_two_processes_exporting_at_once_leave_one_good_graph(cache, bert_dir, bert):
    command = [
        sys.executable,
        "-m",
        "mlm_tui",
        "predict",
        TEXT,
        "-m",
        str(bert_dir),
        "--backend",
        "onnx",
        "--json",
    ]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(cache))
        for _ in "ab"
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outputs]
    (entry,) = entries(cache)  # one entry, no temporary folders left behind
    assert not entry.name.startswith(".tmp")
    assert_same_answers(MaskedLM.load(str(bert_dir), backend="onnx"), bert)
