"""The per-user cache of exported ONNX graphs: where, under which key, and how a graph gets in safely.

A cached graph is reused without importing torch or transformers. The key hashes
the model's config and tokenizer files, the identity of its weight files (the
Hugging Face cache names blobs by their content hash; elsewhere size and
modification time stand for the content, so startup never reads gigabytes) and
the versions of the libraries that export. A graph is written into a temporary
folder and renamed into place, so two processes exporting at once cannot leave a
half-written graph; a damaged one is removed and rebuilt. A model that cannot be
exported leaves a one-line note under the same key (``KEY.failed``), so the next
run goes straight to PyTorch and says why; a new torch or transformers changes
the key, and the export is tried again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import EngineError

CACHE_ENV = "MLM_TUI_CACHE_DIR"
"""Set it to use another cache folder (the tests point it at a temporary one)."""
FORMAT = 1
GRAPH_FILE = "model.onnx"
INFO_FILE = "info.json"
_TEXT_SUFFIXES = (".json", ".txt", ".model")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_EXPORT_LIBRARIES = ("torch", "transformers", "tokenizers", "onnx")


def cache_dir() -> Path:
    """mlm-tui's cache folder: ``$MLM_TUI_CACHE_DIR``, else the platform's user cache (``~/.cache/mlm-tui``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("mlm-tui", appauthor=False))


def graphs_dir() -> Path:
    return cache_dir() / "onnx"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def graph_key(model_dir: Path) -> str:
    """A hash of the model's files and the exporting libraries' versions: the name of its graph folder."""
    digest = hashlib.sha256(f"mlm-tui onnx format {FORMAT}\n".encode())
    for library in _EXPORT_LIBRARIES:
        digest.update(f"{library} {_version(library)}\n".encode())
    for file in sorted(model_dir.iterdir()):
        if not file.is_file():
            continue
        if file.suffix in _TEXT_SUFFIXES:
            digest.update(f"{file.name}\n".encode() + file.read_bytes())
        elif file.suffix in _WEIGHT_SUFFIXES:
            stat = file.stat()
            digest.update(f"{file.name} {file.resolve().name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


@dataclass(frozen=True)
class GraphInfo:
    """What the ONNX engine needs to know about the model without reading it with transformers."""

    model_type: str
    max_length: int
    vocab_size: int
    warnings: tuple[str, ...]
    graph_bytes: int
    """Size of the graph file when it was written: a truncated file is caught before it is opened."""

    def save(self, folder: Path) -> None:
        fields = dict(self.__dict__, warnings=list(self.warnings), format=FORMAT)
        (folder / INFO_FILE).write_text(json.dumps(fields, indent=1), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> GraphInfo:
        fields = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        if fields.pop("format", None) != FORMAT:
            raise ValueError("another cache format")
        info = cls(**dict(fields, warnings=tuple(fields["warnings"])))
        if (folder / GRAPH_FILE).stat().st_size != info.graph_bytes:
            raise ValueError(f"{GRAPH_FILE} is truncated")
        return info


def read_graph_info(folder: Path) -> GraphInfo:
    """The info of a complete cached graph; :class:`EngineError` when any part is missing or damaged."""
    try:
        return GraphInfo.read(folder)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise EngineError(f"damaged cached graph in {folder}: {exc}") from exc


FAILURE_SUFFIX = ".failed"


def _failure_file(folder: Path) -> Path:
    return folder.with_name(folder.name + FAILURE_SUFFIX)


def read_failure(folder: Path) -> str | None:
    """Why the graph for ``folder`` could not be made, when an earlier export said so."""
    try:
        return _failure_file(folder).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def remember_failure(folder: Path, reason: str) -> None:
    """Keep ``reason`` (one line) so that the next run does not export again; best effort."""
    target = _failure_file(folder)
    tmp = target.with_name(f".tmp-{target.name}-{uuid.uuid4().hex[:8]}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(reason.splitlines()[0] + "\n", encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def store(folder: Path, write: Callable[[Path], None]) -> None:
    """Build a cache entry with ``write(tmp)`` in a temporary folder, then rename it to ``folder``.

    The rename is atomic: another process sees no folder or a complete one. When
    another process got there first, its entry is kept and ours dropped.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write(tmp)
        try:
            os.rename(tmp, folder)
        except OSError:  # the folder exists: another process stored the same graph first
            if not folder.is_dir():
                raise
    finally:
        remove(tmp)


# --------------------------------------------------------------------------- the layer graphs

LAYERS_DIR = "layers"
"""Beside a prediction graph: the graphs of the lens and similarity views (:mod:`.onnx_layers`), in
their own folder, stored with :func:`store` (so atomically) and removed with the prediction graph."""
LAYERS_FORMAT = 1
STATES_FILE = "states.onnx"
HEAD_FILE = "head.onnx"
LAYERS_INFO_FILE = "layers.json"


@dataclass(frozen=True)
class LayersInfo:
    """What was exported beside a prediction graph for the layer views, and how well it agreed with PyTorch."""

    layers: int
    """Hidden states per token: the embedding output and one per layer."""
    hidden_size: int
    vocab_size: int
    states_bytes: int
    head_bytes: int
    states_difference: float
    """Largest difference from PyTorch in the hidden states when checked, relative to their largest value."""
    head_difference: float
    """Largest difference from PyTorch in the head's log-probabilities when checked."""

    def save(self, folder: Path) -> None:
        fields = dict(self.__dict__, format=LAYERS_FORMAT)
        (folder / LAYERS_INFO_FILE).write_text(json.dumps(fields, indent=1), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> LayersInfo:
        """The info of a complete layers folder; :class:`EngineError` when any part is missing or damaged."""
        try:
            fields = json.loads((folder / LAYERS_INFO_FILE).read_text(encoding="utf-8"))
            if fields.pop("format", None) != LAYERS_FORMAT:
                raise ValueError("another cache format")
            info = cls(**fields)
            if (folder / STATES_FILE).stat().st_size != info.states_bytes:
                raise ValueError(f"{STATES_FILE} is truncated")
            if (folder / HEAD_FILE).stat().st_size != info.head_bytes:
                raise ValueError(f"{HEAD_FILE} is truncated")
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EngineError(f"damaged cached layer graphs in {folder}: {exc}") from exc
        return info
