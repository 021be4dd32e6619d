"""Keys handled one at a time, in the order they were typed, wherever each one moves the focus.

Textual hands a key to the widget focused *when the app reads it*, then goes on to read the
next. In a burst (a fast typist, a paste, tmux ``send-keys``, a terminal that sends keys in one
write) every key is handed to the widget that had the focus before the first one ran: the
characters typed right after ``e`` went to the token cells, not to the sentence box ``e`` opens,
and were lost; the keys typed after ``enter`` in the box went into the box it was leaving.

:class:`InOrderKeysApp` hands over the next key only once the previous one has been handled
all the way up (its widget, the screen's bindings and the app's), so each key goes where the
focus is after the keys before it. A key is finished when a marker posted behind it to the same
widget has bubbled up to the app: messages of one widget are handled in order, and so are those
bubbling from it; and until no widget has a message waiting, the marker goes round the app's
queue again (at most :data:`MAX_ROUNDS` times), so what the key set going (a prompt that opens,
a palette that closes) is done before the next key is handed out. A marker that can no longer
arrive (its widget was removed) holds nothing up for long: the next key, or a timer, lets the
queue go on. A paste waits its turn as a key does.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Generic, TypeVar

from textual import events
from textual.app import App
from textual.message import Message
from textual.message_pump import MessagePump

ReturnType = TypeVar("ReturnType")

STUCK_AFTER = 3.0
"""Seconds after which a key whose marker has not come back no longer holds up the keys behind it."""


class KeyHandled(Message):
    """Posted behind a key to the widget that got it; reaching the app, it says the key is done."""

    def __init__(self, serial: int, rounds: int = 0) -> None:
        super().__init__()
        self.serial = serial
        self.rounds = rounds


MAX_ROUNDS = 100
"""How many times a marker goes round the app's queue waiting for every widget's queue to empty."""


class InOrderKeysApp(App[ReturnType], Generic[ReturnType]):
    """An App that forwards the keys it reads one after another (see the module's docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._waiting_keys: deque[events.Key | events.Paste] = deque()
        self._key_in_flight: int | None = None
        self._key_target: MessagePump | None = None
        self._key_since = 0.0
        self._key_serial = 0

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:  # a paste is typed too
            self._waiting_keys.append(event)
            if self._key_in_flight is not None and self._stuck():
                self._key_in_flight = None
            await self._next_keys()
            return
        await super().on_event(event)

    def _stuck(self) -> bool:
        target = self._key_target
        gone = target is None or getattr(target, "is_attached", True) is False
        return gone or time.monotonic() - self._key_since > STUCK_AFTER

    async def _next_keys(self) -> None:
        while self._key_in_flight is None and self._waiting_keys:
            event = self._waiting_keys.popleft()
            target = self.focused or self.screen  # where Textual forwards a key no priority binding takes
            await super().on_event(event)
            if not event.is_forwarded:
                continue  # a priority binding ran it here and now: done
            self._key_serial += 1
            if target.post_message(KeyHandled(self._key_serial)):
                self._key_in_flight = self._key_serial
                self._key_target = target
                self._key_since = time.monotonic()
                if self._waiting_keys:
                    self.set_timer(STUCK_AFTER * 1.5, self._release_if_stuck)

    async def on_key_handled(self, message: KeyHandled) -> None:
        message.stop()
        if message.serial != self._key_in_flight:
            return
        if not self._all_quiet() and message.rounds < MAX_ROUNDS:
            # what the key set going (a prompt that opens, a palette that closes, an Input's Submitted)
            # is still under way somewhere: go round once more, after the others have had their turn
            await asyncio.sleep(0)
            self.post_message(KeyHandled(message.serial, message.rounds + 1))
            return
        self._key_in_flight = None
        await self._next_keys()

    def _all_quiet(self) -> bool:
        """No widget of any screen has a message waiting (the app's own queue aside)."""
        for screen in self.screen_stack:
            for node in screen.walk_children(with_self=True):
                if not node._message_queue.empty():
                    return False
        return True

    async def _release_if_stuck(self) -> None:
        if self._key_in_flight is not None and self._waiting_keys and self._stuck():
            self._key_in_flight = None
            await self._next_keys()
