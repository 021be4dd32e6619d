"""The headless core of mlm-tui: no Textual here; torch/transformers only when a model loads on PyTorch."""

from .backends import BACKENDS
from .errors import EngineError
from .layers import HiddenStates, LensGrid, LensLayer, LensResult
from .loading import BUNDLED_MODEL, DEFAULT_MODEL, bundled_models, default_model, resolve_model
from .model import FAST_MODES, MASK_ALIAS, MaskedLM, make_fast, resolve_device, vocab_digest
from .onnx_cache import cache_dir
from .options import EngineOptions
from .salience import SalienceResult
from .types import (
    AttentionResult,
    Encoding,
    Engine,
    Fill,
    FillStep,
    JointResult,
    MaskResult,
    ModelInfo,
    Prediction,
    PredictResult,
    ScoreResult,
    TargetScore,
    Token,
    TokenScore,
    UnmaskedResult,
    UnmaskedToken,
    shown_token,
)

__all__ = [
    "BACKENDS",
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "FAST_MODES",
    "MASK_ALIAS",
    "AttentionResult",
    "Encoding",
    "Engine",
    "EngineError",
    "EngineOptions",
    "Fill",
    "FillStep",
    "HiddenStates",
    "JointResult",
    "LensGrid",
    "LensLayer",
    "LensResult",
    "MaskResult",
    "MaskedLM",
    "ModelInfo",
    "PredictResult",
    "Prediction",
    "SalienceResult",
    "ScoreResult",
    "TargetScore",
    "Token",
    "TokenScore",
    "UnmaskedResult",
    "UnmaskedToken",
    "bundled_models",
    "cache_dir",
    "default_model",
    "make_fast",
    "resolve_device",
    "resolve_model",
    "shown_token",
    "vocab_digest",
]
