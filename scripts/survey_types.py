"""Survey: build a tiny model of every masked-LM type transformers lists and try it on both backends.

Prints one Markdown table row per type (the README's table of supported types is made from it):
the tokenizer path, what PyTorch does and what ``--backend auto`` ends on, with the reason when
ONNX is refused. Not a test (tests/test_model_types.py checks the answers against transformers).

    HF_HUB_OFFLINE=1 python scripts/survey_types.py [TYPE ...]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLM_TUI_CACHE_DIR", tempfile.mkdtemp(prefix="survey-cache-"))


def _short(text: str, width: int = 110) -> str:
    text = text.replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(types: list[str]) -> None:
    from tiny_zoo import masked_lm_types, save_tiny

    from mlm_tui.engine import EngineError, MaskedLM
    from mlm_tui.engine.text import PythonTextCodec

    root = Path(tempfile.mkdtemp(prefix="survey-"))
    print("| type | tokenizer | PyTorch | ONNX (`--backend auto`) |")
    print("|---|---|---|---|")
    for model_type in types or masked_lm_types():
        folder = save_tiny(root / model_type, model_type)
        try:
            engine = MaskedLM.load(str(folder), backend="torch")
        except EngineError as exc:
            reason = str(exc).split(": ", 1)[-1]
            print(f"| {model_type} | – | refused: {_short(reason)} | – |", flush=True)
            continue
        kind = "transformers (Python)" if isinstance(engine.text, PythonTextCodec) else "tokenizers (Rust)"
        auto = MaskedLM.load(str(folder), backend="auto")
        if auto.info.backend == "onnx":
            onnx = "yes"
        else:
            note = next(n for n in auto.info.notes if n.startswith("answering from PyTorch"))
            onnx = "PyTorch: " + _short(note.removeprefix("answering from PyTorch: "))
        print(f"| {model_type} | {kind} | yes (limit {engine.info.max_length}) | {onnx} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
