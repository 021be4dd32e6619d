"""The config file's ``[keys]`` checked against the app's bindings: unknown ids and keys that clash.

Textual's keymap gives a key to one binding and silently takes it from any other in reach (a key of
the focused widget hides the screen's: ``mask = "m"`` on the token cells hides ``edit = "m"``). So
the overrides are checked first, where each set of bindings is in force together: an override on a
key that another action in reach has (after the other overrides) is not applied, and every action
it involves keeps its default keys, so no action is lost; an unknown id is named. The app shows the
problems in one notification, ``mlm-tui config show`` prints them one a line.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import _normalize_key_list, format_key


@dataclass(frozen=True)
class KeymapCheck:
    """What a ``[keys]`` table gives: the overrides to apply and one line per problem."""

    keymap: dict[str, str]
    """Binding id → keys, the overrides that can be applied (for ``App.set_keymap``)."""
    problems: tuple[str, ...]


def _keys(keys: str) -> list[str]:
    return _normalize_key_list(keys).split(",")


def _shown(keys: Sequence[str]) -> str:
    return ",".join("enter" if k == "enter" else format_key(k) for k in keys)


def check_keymap(overrides: Mapping[str, str], contexts: Mapping[str, Sequence[Binding]]) -> KeymapCheck:
    """Check ``overrides`` (binding id → keys) against ``contexts`` (where → the bindings in force there).

    A binding without an id cannot be overridden, but its keys can be taken: that clashes too.
    """
    known = {b.id for bindings in contexts.values() for b in bindings if b.id}
    problems: list[str] = []
    for name in overrides:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"did you mean {' or '.join(close)}?" if close else f"known: {', '.join(sorted(known))}"
            problems.append(f"config [keys]: no action called {name} ({hint})")
    applied = {name: _keys(keys) for name, keys in overrides.items() if name in known}
    for name, keys in list(applied.items()):
        if "" in keys:
            problems.append(
                f'config [keys]: {name} = "{overrides[name]}" names an empty key; {name} keeps its keys'
            )
            del applied[name]
    defaults: dict[str, list[str]] = {}
    for binding in (b for bindings in contexts.values() for b in bindings if b.id):
        known_keys = defaults.setdefault(binding.id, [])
        known_keys += [k for k in _keys(binding.key) if k not in known_keys]
    reported: set[tuple[str, str]] = set()  # (id, key): a clash in several places is said once
    while True:  # dropping an override brings back default keys, which can clash in turn
        clashes = _clashes(applied, contexts)
        if not clashes:
            break
        for key, where, names, taken in clashes:
            overridden = sorted(n for n in names if n in applied)
            if all((n, key) in reported for n in overridden):
                continue
            reported.update((n, key) for n in overridden)
            others = [n for n in names if n not in overridden] + taken
            on = (
                f"{' and '.join(overridden)} {'are both' if len(overridden) > 1 else 'is'} on {_shown([key])}"
            )
            if others:
                on += f", which {' and '.join(others)} already {'have' if len(others) > 1 else 'has'}"
            keep = "; ".join(f"{n} keeps {_shown(defaults[n])}" for n in overridden)
            problems.append(f"config [keys]: {on} (in {where}): {keep}")
        for _key, _where, names, _taken in clashes:
            for name in names:
                applied.pop(name, None)
    return KeymapCheck({n: overrides[n] for n in overrides if n in applied}, tuple(problems))


def _clashes(
    applied: Mapping[str, list[str]], contexts: Mapping[str, Sequence[Binding]]
) -> list[tuple[str, str, list[str], list[str]]]:
    """Each key that two actions in reach have, where one of them has it from an override.

    Returns (key, where, the ids on it, the id-less bindings on it, by what they do).
    """
    found = []
    for where, bindings in contexts.items():
        on_key: dict[str, dict[str, Binding]] = {}
        for binding in bindings:
            slot = binding.id or f"{binding.action}"
            keys = applied.get(binding.id, None) if binding.id else None
            for key in keys if keys is not None else _keys(binding.key):
                on_key.setdefault(key, {})[slot] = binding
        for key, slots in on_key.items():
            ids = sorted(b.id for b in slots.values() if b.id)
            if len(slots) > 1 and any(i in applied and key in applied[i] for i in ids):
                taken = [f"'{b.description or b.action}'" for b in slots.values() if not b.id]
                found.append((key, where, ids, taken))
    return found
