"""The headless core of mlm-tui: no Textual here, and torch/transformers only once a model loads."""

from .errors import EngineError
from .loading import BUNDLED_MODEL, DEFAULT_MODEL, bundled_models, resolve_model
from .model import MASK_ALIAS, MaskedLM, resolve_device
from .types import (
    Encoding,
    Engine,
    MaskResult,
    ModelInfo,
    Prediction,
    PredictResult,
    ScoreResult,
    TargetScore,
    Token,
    TokenScore,
)

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_MODEL",
    "MASK_ALIAS",
    "Encoding",
    "Engine",
    "EngineError",
    "MaskResult",
    "MaskedLM",
    "ModelInfo",
    "PredictResult",
    "Prediction",
    "ScoreResult",
    "TargetScore",
    "Token",
    "TokenScore",
    "bundled_models",
    "resolve_device",
    "resolve_model",
]
