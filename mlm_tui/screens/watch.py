"""A small modal to choose the watched words: their probability and rank show at every mask."""

from __future__ import annotations

from .prompt import LinePrompt

MAX_WORDS = 12


def parse_words(value: str) -> tuple[str, ...]:
    """Comma-separated words, stripped, without blanks or repeats, in the order given."""
    words = [w.strip() for w in value.split(",")]
    return tuple(dict.fromkeys(w for w in words if w))[:MAX_WORDS]


class WatchWords(LinePrompt[tuple[str, ...]]):
    """Type words separated by commas; enter keeps them (an empty line clears them), escape cancels."""

    def __init__(self, words: tuple[str, ...] = ()) -> None:
        super().__init__(
            "Watch which words?",
            "Words separated by commas (he, she); each shows its probability and rank at every mask, "
            "scored as a whole word. Enter keeps them, an empty line clears them, escape cancels.",
            value=", ".join(words),
            input_id="watch-words",
            placeholder="he, she",
        )

    def answer(self, value: str) -> tuple[str, ...]:
        return parse_words(value)
