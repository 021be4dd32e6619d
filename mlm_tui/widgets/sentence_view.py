"""The sentence, wrapped, while it is not being edited: a long sentence reads from its start.

Textual's :class:`~textual.widgets.Input` is one line that scrolls to its cursor, so a sentence
longer than the terminal showed its end. While the sentence box does not have the focus, this
view stands in its place and shows the whole text over as many lines as it needs (up to its
``max-height``); ``e`` (or a click here) gives the box back for editing.
"""

from __future__ import annotations

from textual.content import Content
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget


class SentenceView(Widget):
    """The sentence box's text, word-wrapped. Parents set :attr:`text`; a click asks to edit."""

    DEFAULT_CSS = """
    SentenceView {
        height: auto;
        padding: 0 2;
    }
    SentenceView.-empty {
        color: $text-muted;
    }
    """

    text: reactive[str] = reactive("", layout=True)
    placeholder: reactive[str] = reactive("", layout=True)

    class EditRequested(Message):
        """The view was clicked: the user wants to edit the sentence."""

    def watch_text(self, text: str) -> None:
        self.set_class(not text, "-empty")

    def render(self) -> Content:
        return Content(self.text or self.placeholder)  # plain text: "[MASK]" is a word, not markup

    def on_click(self, event: Click) -> None:
        event.stop()
        self.post_message(self.EditRequested())
