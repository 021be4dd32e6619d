"""The head-only path, on PyTorch and exported to ONNX, equals the full model's logits for every architecture."""

from __future__ import annotations

import shutil

import pytest
import torch
from tiny_models import _model, bert_vocab

from mlm_tui.engine import MaskedLM

ARCHITECTURES = ["bert", "roberta", "xlm-roberta", "distilbert", "albert", "electra", "modernbert"]


@pytest.mark.parametrize("model_type", ARCHITECTURES)
def test_head_only_equals_full_forward(model_type, bert_dir, tmp_path):
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bert_dir / f, tmp_path)
    torch.manual_seed(3)
    ids = (
        {"pad_token_id": 0}
        if model_type in ("bert", "distilbert", "albert", "electra")
        else {"pad_token_id": 1}
    )
    _model(model_type, len(bert_vocab()), **ids).save_pretrained(tmp_path)
    engine = MaskedLM.load(str(tmp_path))
    assert engine.info.model_type == model_type
    assert engine._head is not None, "this architecture should use the head-only path"

    encoding = engine.encode("The keys to the [MASK] are on the [MASK].")
    result = engine.predict(encoding, top_k=8)
    with torch.inference_mode():
        logits = engine.model(torch.tensor([list(encoding.ids)])).logits[0]
    exported = MaskedLM.load(str(tmp_path), backend="onnx")  # every architecture exports, checked
    assert exported.info.backend == "onnx"
    on_onnx = exported.predict(exported.encode("The keys to the [MASK] are on the [MASK]."), top_k=8)
    for mask, onnx_mask in zip(result.masks, on_onnx.masks, strict=True):
        probs = logits[mask.position].softmax(-1)
        values, indices = probs.topk(8)
        assert [p.token for p in mask.predictions] == indices.tolist()
        assert [p.score for p in mask.predictions] == pytest.approx(values.tolist(), abs=1e-6)
        assert [p.token for p in onnx_mask.predictions] == indices.tolist()
        assert [p.score for p in onnx_mask.predictions] == pytest.approx(values.tolist(), abs=1e-5)
