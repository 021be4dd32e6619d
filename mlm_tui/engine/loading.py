"""Find a model's files and check them before anything is unpickled or executed.

Every model ends up as a local directory: a path the user gave, a snapshot in
the Hugging Face cache, or a fresh download. Weights are read from safetensors;
pickle (``.bin``) weights are refused unless the user allows them.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import EngineError

DEFAULT_MODEL = "bert-base-uncased"
BUNDLED_MODEL = "minilm-mlm-en"
"""The small English model shipped inside the package, used when the default cannot be had."""
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "models"

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")
_PICKLE = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_HUB_PROBE_SECONDS = 2.5


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    """What the user asked for."""
    path: Path
    """A local directory holding config, tokenizer and weights."""
    use_safetensors: bool
    note: str | None = None
    """Something the user should know about this choice (e.g. the bundled model stands in)."""


def hub_offline() -> bool:
    """True when the user asked the Hugging Face libraries not to touch the network."""
    value = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = _HUB_PROBE_SECONDS) -> bool:
    """Can we open a TCP connection to the Hub within ``timeout`` seconds?

    Runs in a daemon thread so a hanging DNS lookup cannot hold us longer than
    the timeout. With a proxy configured we cannot tell, so we say yes and let
    the download report its own error.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme != "http" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


_TOKENIZER_FILES = {
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.model",
}
"""Without any of these, transformers 5 makes up a tokenizer of 5 special tokens: every word is [UNK]."""


def _names_tokenizer_class(path: Path) -> bool:
    """True when ``tokenizer_config.json`` names the tokenizer's class: some need no vocabulary file
    (Perceiver reads bytes). A class that does need one and lacks it makes up a vocabulary of a few
    special tokens, which the vocabulary check refuses."""
    import json

    try:
        config = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and isinstance(config.get("tokenizer_class"), str)


def _weights_kind(path: Path) -> str | None:
    names = {p.name for p in path.iterdir()}
    if any(n in names for n in _SAFETENSORS) or any(n.endswith(".safetensors") for n in names):
        return "safetensors"
    if any(n in names for n in _PICKLE):
        return "pickle"
    return None


def check_model_dir(name: str, path: Path, *, allow_pickle: bool) -> ResolvedModel:
    """Check that ``path`` looks like a loadable masked-LM folder and pick the weights format."""
    if not path.is_dir():
        raise EngineError(f"{path} is not a directory: pass a model folder or a Hugging Face model id")
    if not (path / "config.json").is_file():
        raise EngineError(f"{path} is not a model folder: it has no config.json")
    names = {p.name for p in path.iterdir()}
    if not names & _TOKENIZER_FILES and not _names_tokenizer_class(path):
        raise EngineError(
            f"{path} has no tokenizer files ({', '.join(sorted(_TOKENIZER_FILES))}): "
            "copy the tokenizer in beside the weights"
        )
    kind = _weights_kind(path)
    if kind is None:
        raise EngineError(f"{path} holds no PyTorch weights (model.safetensors or pytorch_model.bin)")
    if kind == "pickle" and not allow_pickle:
        raise EngineError(
            f"{name} has only pickle weights (pytorch_model.bin), and loading pickle can run "
            "arbitrary code; pass --allow-pickle if you trust where it came from"
        )
    return ResolvedModel(name=name, path=path, use_safetensors=kind == "safetensors")


def _cached_snapshot(repo_id: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    config = try_to_load_from_cache(repo_id, "config.json")
    if not isinstance(config, str):
        return None
    snapshot = Path(config).parent
    return snapshot if _weights_kind(snapshot) else None


def bundled_models() -> dict[str, Path]:
    """Short name → folder of every model shipped inside the package."""
    if not BUNDLED_DIR.is_dir():
        return {}
    return {p.name: p for p in sorted(BUNDLED_DIR.iterdir()) if (p / "config.json").is_file()}


def _bundled(name: str) -> Path | None:
    models = bundled_models()
    if name == "bundled":
        name = BUNDLED_MODEL
    return models.get(name)


def _progress_bar(progress: Callable[[str], None], what: str) -> type:
    """A tqdm class that reports download progress through ``progress`` instead of drawing on stderr."""
    from tqdm.auto import tqdm

    class Reporter(tqdm):
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            done = super().update(n)
            if self.total:
                progress(f"downloading {what}: {self.n / self.total:.0%} of {self.total / 1e6:.0f} MB")
            return done

    return Reporter


def _download(repo_id: str, *, allow_pickle: bool, progress: Callable[[str], None] | None) -> Path:
    from huggingface_hub import snapshot_download

    patterns = ["*.json", "*.txt", "*.model", "*.safetensors"]
    if allow_pickle:
        patterns.append("pytorch_model.bin*")
    reporter = _progress_bar(progress, repo_id) if progress else None
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, tqdm_class=reporter))
    except Exception as exc:  # the hub raises many kinds; the user needs one line
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"could not download {repo_id} from the Hugging Face Hub: {message}") from exc


def resolve_model(
    name: str | None,
    *,
    allow_pickle: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ResolvedModel:
    """Turn a hub id, a path or a bundled model's short name into a checked local model folder.

    Hub ids are served from the local cache without touching the network. When
    a model is not cached, we download it only if the Hub answers within a few
    seconds; offline (``HF_HUB_OFFLINE=1``) we fail at once. With no name, the
    default model is used when it can be had, and the bundled model otherwise.
    """
    if name is None:
        return _resolve_default(allow_pickle=allow_pickle, progress=progress)
    expanded = Path(os.path.expanduser(name))
    if expanded.exists():
        return check_model_dir(name, expanded, allow_pickle=allow_pickle)
    bundled = _bundled(name)
    if bundled is not None:
        return check_model_dir(bundled.name, bundled, allow_pickle=allow_pickle)
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path or not _HUB_ID.match(name):
        raise EngineError(f"no such model folder: {name}")

    snapshot = _cached_snapshot(name)
    if snapshot is not None:
        return check_model_dir(name, snapshot, allow_pickle=allow_pickle)
    close = difflib.get_close_matches(name, list(bundled_models()), n=1, cutoff=0.8)
    if close:  # a typo of a bundled model's name is not a Hub id to download
        raise EngineError(f"no model called {name}; did you mean the bundled {close[0]}?")
    how = f"download it where the Hub is reachable (`hf download {name}`) or pass --model PATH"
    if hub_offline():
        raise EngineError(f"{name} is not in the Hugging Face cache and HF_HUB_OFFLINE is set; {how}")
    if progress:
        progress(f"checking the Hugging Face Hub for {name}")
    if not hub_reachable():
        raise EngineError(f"{name} is not in the Hugging Face cache and the Hub cannot be reached; {how}")
    if progress:
        progress(f"downloading {name}")
    path = _download(name, allow_pickle=allow_pickle, progress=progress)
    return check_model_dir(name, path, allow_pickle=allow_pickle)


def default_model() -> str:
    """The model a load with no name will pick, told at once (no network): the name to show while it loads.

    The default model when it is cached; the bundled one when the Hub is off (``HF_HUB_OFFLINE``),
    as :func:`_resolve_default` decides. Online and not cached, the load asks the Hub first and only
    then knows whether it falls back to the bundled model: until then this says the default.
    """
    if _cached_snapshot(DEFAULT_MODEL) is not None or _bundled(BUNDLED_MODEL) is None:
        return DEFAULT_MODEL
    return BUNDLED_MODEL if hub_offline() else DEFAULT_MODEL


def _resolve_default(*, allow_pickle: bool, progress: Callable[[str], None] | None) -> ResolvedModel:
    """The default model from the cache or the Hub; the bundled model at once when neither answers."""
    snapshot = _cached_snapshot(DEFAULT_MODEL)
    if snapshot is not None:
        return check_model_dir(DEFAULT_MODEL, snapshot, allow_pickle=allow_pickle)
    bundled = _bundled(BUNDLED_MODEL)
    if hub_offline():
        why = "HF_HUB_OFFLINE is set"
    else:
        if progress:
            progress(f"checking the Hugging Face Hub for {DEFAULT_MODEL}")
        if hub_reachable():
            return resolve_model(DEFAULT_MODEL, allow_pickle=allow_pickle, progress=progress)
        why = "the Hub cannot be reached"
    if bundled is None:  # a source checkout without the model files
        return resolve_model(DEFAULT_MODEL, allow_pickle=allow_pickle, progress=progress)
    note = (
        f"{DEFAULT_MODEL} is not in the Hugging Face cache and {why}: using the small bundled model "
        f"{BUNDLED_MODEL} (pass --model to choose another)"
    )
    resolved = check_model_dir(BUNDLED_MODEL, bundled, allow_pickle=allow_pickle)
    return ResolvedModel(resolved.name, resolved.path, resolved.use_safetensors, note)
