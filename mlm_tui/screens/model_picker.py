"""A small modal that asks which model to compare with."""

from __future__ import annotations

from ..engine import BUNDLED_MODEL, default_model
from .prompt import LinePrompt


class ModelPicker(LinePrompt[str]):
    """Type a Hugging Face id, a folder or a bundled name; enter opens it, escape cancels."""

    def __init__(self, prompt: str = "Compare with which model?") -> None:
        super().__init__(
            prompt,
            f"A Hugging Face id, a local folder, or {BUNDLED_MODEL}. Enter opens it, escape cancels.",
            input_id="model-name",
            placeholder=default_model(),  # one that loads here: offline, not an uncached Hub id
        )

    def answer(self, value: str) -> str | None:
        return value.strip() or None
