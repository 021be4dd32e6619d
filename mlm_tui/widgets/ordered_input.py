"""An Input whose own editing keys act in the order they were typed (the sentence box, the prompts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import events
from textual.widgets import Input


class OrderedInput(Input):
    """Textual's Input, with its key bindings (backspace, arrows, ctrl+u, enter …) run as the key arrives.

    Textual resolves a focused widget's bindings only once the key has bubbled up to the
    app, while the widget goes on inserting the characters queued behind it. In a burst
    of keys (fast typing, tmux ``send-keys``, a terminal that sends keys in one write)
    the characters typed after a backspace were inserted before it deleted, so other
    characters went: "Some", two backspaces, "xy" gave "Somex". Running the Input's own
    bindings here keeps every key in order; keys the Input does not bind still bubble.

    ``on_submit``, when given, is called by enter at once, instead of posting ``Submitted``: a
    box that gives the focus away on enter does it before the next key of a burst is handed out.
    """

    def __init__(self, *args: Any, on_submit: Callable[[], object] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_submit = on_submit

    async def action_submit(self) -> None:
        if self._on_submit is None:
            await super().action_submit()
        else:
            self._on_submit()

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable:
            for key in (event.key, *event.aliases):
                bindings = self._bindings.key_to_bindings.get(key)
                if bindings:
                    event.stop()
                    event.prevent_default()
                    self._restart_blink()
                    await self.run_action(bindings[0].action)
                    return
        await super()._on_key(event)
