"""A small modal that asks which model to compare with."""

from __future__ import annotations

from .prompt import LinePrompt


class ModelPicker(LinePrompt[str]):
    """Type a Hugging Face id, a folder or a bundled name; enter opens it, escape cancels."""

    def __init__(self, prompt: str = "Compare with which model?") -> None:
        super().__init__(
            prompt,
            "A Hugging Face id, a local folder, or minilm-mlm-en. Enter opens it, escape cancels.",
            input_id="model-name",
            placeholder="bert-base-uncased",
        )

    def answer(self, value: str) -> str | None:
        return value.strip() or None
