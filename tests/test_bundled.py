"""The bundled English model: shipped in the package, used offline, and actually predicting English."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models

HERE = Path(__file__).parent
ROOT = HERE.parent


@pytest.fixture(scope="module")
def bundled_dir() -> Path:
    models = bundled_models()
    assert BUNDLED_MODEL in models, "the bundled model is missing from mlm_tui/models/"
    return models[BUNDLED_MODEL]


@pytest.fixture(scope="module")
def bundled(bundled_dir) -> MaskedLM:
    return MaskedLM.load(BUNDLED_MODEL)


def test_files(bundled_dir):
    names = {p.name for p in bundled_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "MODEL_CARD.md"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)  # nothing to unpickle
    size = sum(p.stat().st_size for p in bundled_dir.iterdir())
    assert size < 50 * 1024 * 1024
    card = (bundled_dir / "MODEL_CARD.md").read_text()
    assert "top-1" in card and "top-5" in card and "licen" in card.lower()


def test_offline_with_an_empty_cache_answers_from_the_bundled_model(tmp_path, bundled_dir):
    import torch
    from transformers import pipeline

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-hf-home")}
    env.pop("HF_HUB_CACHE", None)
    text = "The capital of France is [MASK]."
    proc = subprocess.run(
        [sys.executable, "-m", "mlm_tui", "predict", text, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "bundled model" in proc.stderr and "HF_HUB_OFFLINE" in proc.stderr
    ours = json.loads(proc.stdout)
    # The checkpoint is stored in fp16; transformers 5 would run it in fp16, we run float32.
    reference = pipeline("fill-mask", model=str(bundled_dir), device="cpu", dtype=torch.float32)(text)
    assert [r["token"] for r in ours] == [r["token"] for r in reference]
    assert [r["score"] for r in ours] == pytest.approx([r["score"] for r in reference], abs=1e-5)


def held_out_cloze() -> list[tuple[str, str]]:
    rows = []
    for line in (HERE / "data" / "heldout_cloze.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            answer, sentence = line.split("\t", 1)
            rows.append((answer, sentence))
    return rows


def test_real_predictions_on_held_out_sentences(bundled):
    """Words that fixed phrases force ("as [MASK] as", "in [MASK] to") are in the top-5 on held-out text."""
    rows = held_out_cloze()
    hits = [
        answer
        in [p.token_str for p in bundled.predict(bundled.encode(sentence), top_k=5).masks[0].predictions]
        for answer, sentence in rows
    ]
    assert sum(hits) >= 7, list(zip(rows, hits, strict=True))


def test_the_wheel_carries_the_model(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("mlm_tui-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("model.safetensors", "tokenizer.json", "config.json", "MODEL_CARD.md"):
        assert f"mlm_tui/models/{BUNDLED_MODEL}/{name}" in names
    assert "mlm_tui/app.tcss" in names
