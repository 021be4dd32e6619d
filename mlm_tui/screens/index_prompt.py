"""The palette's "Open an index…": asks for the folder of a corpus index (``mlm-tui index``)."""

from __future__ import annotations

from .prompt import LinePrompt


class IndexPrompt(LinePrompt[str]):
    """Ask for an index folder; enter opens it, escape cancels."""

    def __init__(self, value: str = "") -> None:
        super().__init__(
            "Open an index",
            "The folder of an index built with mlm-tui index: n then lists the selected token's nearest "
            "contexts in its corpus. It must have been built with this model (the same vocabulary).",
            value=value,
            input_id="index-path",
            placeholder="/path/to/index",
        )

    def answer(self, value: str) -> str:
        return value.strip()
