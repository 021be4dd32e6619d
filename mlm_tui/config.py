"""The config file, ``$XDG_CONFIG_HOME/mlm-tui/config.toml`` (platformdirs ``user_config_dir``).

Example::

    model = "bert-base-uncased"
    top_k = 15
    device = "cpu"       # cpu, cuda[:N], mps or auto
    fast = false         # true (auto), or "bf16", "fp16"
    backend = "torch"
    theme = "nord"

    [keys]               # binding id = key(s), as Textual's keymaps take them
    mask = "x"

Command-line flags win over the file. A broken file (TOML syntax, an unknown key, a wrong
type) gives the defaults and a one-line problem naming the file and the line, for the CLI to
print and the app to show as a notification. No Textual here: key names and themes are checked
by the app, which knows its bindings and themes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .engine import FAST_MODES

DEVICES = ("auto", "cpu", "cuda", "mps")


def config_path() -> Path:
    """Where the config file is read from (it need not exist)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("mlm-tui")) / "config.toml"


@dataclass(frozen=True)
class Config:
    """The user's defaults; ``None`` (and no keys) means not set, so mlm-tui's own default applies."""

    model: str | None = None
    top_k: int | None = None
    device: str | None = None
    backend: str | None = None
    fast: str | None = None
    """``None`` for exact float32, else a fast mode (``fast = true`` in the file means ``"auto"``)."""
    theme: str | None = None
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Binding id → key(s), e.g. ``{"mask": "x"}``: what ``App.set_keymap`` takes."""

    def cli_defaults(self) -> dict[str, object]:
        """The argparse defaults this config sets (``dest`` → value), only the settings it has."""
        settings = {"model": self.model, "top_k": self.top_k, "device": self.device, "fast": self.fast}
        return {k: v for k, v in {**settings, "backend": self.backend}.items() if v is not None}

    def as_toml(self) -> str:
        """The settings as TOML, for ``mlm-tui config show`` (unset values are left out)."""
        lines = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "keys" and value is not None:
                lines.append(f"{f.name} = {_toml_value(value)}")
        if self.keys:
            lines += ["", "[keys]", *(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in self.keys.items())]
        return "\n".join(lines) + "\n"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


class ConfigError(ValueError):
    """One problem in the file; ``key`` (dotted) locates it when the TOML itself was valid."""

    def __init__(self, message: str, key: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.line = line


def _string(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, got {value!r}", key)
    return value


def parse_config(data: Mapping[str, object]) -> Config:
    """Check a parsed TOML table and build the config; raises :class:`ConfigError`."""
    values: dict[str, object] = {}
    for key, value in data.items():
        if key in ("model", "backend", "theme"):
            values[key] = _string(key, value)
        elif key == "top_k":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"top_k must be a whole number of at least 1, got {value!r}", key)
            values[key] = value
        elif key == "device":
            device = _string(key, value)
            if device.split(":", 1)[0] not in DEVICES:
                raise ConfigError(f"device must be auto, cpu, cuda[:N] or mps, got {device!r}", key)
            values[key] = device
        elif key == "fast":
            if value is True:
                values[key] = "auto"
            elif value is False:
                values[key] = None
            elif value in FAST_MODES:
                values[key] = value
            else:
                raise ConfigError(
                    f"fast must be true, false or one of {', '.join(FAST_MODES)}, got {value!r}", key
                )
        elif key == "keys":
            if not isinstance(value, dict):
                raise ConfigError('keys must be a table: [keys] then action = "key" lines', key)
            for action, keys in value.items():
                _string(f"keys.{action}", keys)
            values[key] = MappingProxyType(dict(value))
        else:
            known = ", ".join(f.name for f in fields(Config))
            raise ConfigError(f"unknown setting {key!r} (known: {known})", key)
    return Config(**values)  # type: ignore[arg-type]


def _line_of(source: str, dotted_key: str) -> int | None:
    """The 1-based line where ``dotted_key`` (``top_k`` or ``keys.mask``) is set, if it can be found."""
    *tables, key = dotted_key.split(".")
    table, wanted_table = "", ".".join(tables)
    for number, line in enumerate(source.splitlines(), start=1):
        header = re.match(r"\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            table = header.group(1).strip().strip('"')
            if table == dotted_key:
                return number
            continue
        match = re.match(r"\s*\"?([A-Za-z0-9_.:-]+)\"?\s*=", line)
        if match and table == wanted_table and match.group(1) == key:
            return number
    return None


def load_config(path: Path | None = None) -> tuple[Config, str | None]:
    """Read the config file; returns the config and ``None``, or the defaults and a one-line problem.

    A missing file is no problem. The problem names the file and, when known, the line:
    ``config file /home/u/.config/mlm-tui/config.toml, line 3: top_k must be ...; using the defaults``.
    """
    path = path or config_path()
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(), None
    except (OSError, UnicodeDecodeError) as exc:
        return Config(), f"config file {path}: cannot read it ({exc}); using the defaults"
    try:
        return parse_config(tomllib.loads(source)), None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            line: int | None = int(match.group(1))
        elif "(at end of document)" in message:
            line = max(1, len(source.splitlines()))
        else:
            line = getattr(exc, "lineno", None)
        what = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        return Config(), _problem(path, line, f"invalid TOML: {what}")
    except ConfigError as exc:
        line = exc.line or (_line_of(source, exc.key) if exc.key else None)
        return Config(), _problem(path, line, str(exc))


def _problem(path: Path, line: int | None, what: str) -> str:
    where = f"config file {path}" + (f", line {line}" if line else "")
    return f"{where}: {what}; using the defaults"
