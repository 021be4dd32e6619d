"""Every masked-LM type on a tiny random model: do the ONNX layer graphs export, and do they equal PyTorch's
primitives? `PYTHONPATH=. python scripts/survey_onnx_layers.py` (a few minutes; a throwaway graph cache)."""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, "tests")
os.environ["MLM_TUI_CACHE_DIR"] = tempfile.mkdtemp()
import numpy as np
from tiny_zoo import save_tiny
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

from mlm_tui.engine import EngineError, MaskedLM

root = Path(tempfile.mkdtemp())
for t in sorted(MODEL_FOR_MASKED_LM_MAPPING_NAMES):
    started = time.perf_counter()
    try:
        d = save_tiny(root / t, t)
        torch_engine = MaskedLM.load(str(d), backend="torch")
        onnx = MaskedLM.load(str(d), backend="auto")
        if onnx.info.backend != "onnx":
            print(f"{t}: prediction graph falls back ({onnx.info.notes[-1][:100]})", flush=True)
            continue
        note = onnx.prepare_layers()
        ids = list(onnx.encode("Paris is the [MASK] of France.".replace("[MASK]", onnx.info.mask_token)).ids)
        a = onnx.forward.hidden_states(ids)
        b = torch_engine.forward.hidden_states(ids)
        rel = float(np.abs(a - b).max()) / max(1.0, float(np.abs(b).max()))
        h = b.reshape(-1, b.shape[-1])
        la = onnx.forward.head_logits(h)
        lb = torch_engine.forward.head_logits(h)
        from mlm_tui.engine.predict import log_softmax

        hd = float(np.abs(log_softmax(la) - log_softmax(lb)).max())
        print(
            f"{t}: {'PyTorch: ' + note[:110] if note else 'ONNX'} states {rel:.1e} head {hd:.1e} ({time.perf_counter() - started:.0f}s)",
            flush=True,
        )
    except EngineError as exc:
        print(f"{t}: EngineError: {str(exc)[:140]}", flush=True)
    except Exception as exc:
        print(f"{t}: CRASH {type(exc).__name__}: {str(exc)[:140]}", flush=True)
