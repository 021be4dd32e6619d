"""Export what is on screen as Markdown and JSON: sentence, masks, predictions, scores, model, time.

Pure functions over the engine's frozen result types: :func:`export_data` gathers one plain,
JSON-ready dict; :func:`render_markdown` and :func:`render_json` turn it into text;
:func:`write_export` writes both files. The CLI (``--markdown``) and the app (``x``) share them.
No Textual, no torch.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .engine.types import Encoding, MaskResult, ModelInfo, PredictResult, ScoreResult, shown_token

MASK_PLACEHOLDER = "[MASK]"
SEVERAL_PIECES = (
    "a word of several pieces: its rank is 1 + the single tokens more probable than the whole word "
    "(up to the vocabulary size + 1)"
)


CROWS_CAVEAT = (
    "**CrowS-Pairs: read the data with care.** The CrowS-Pairs README itself warns that many pairs "
    "are unreliable: they do not test the stereotype they name, or are not minimal (Blodgett et al. "
    '2021, "Stereotyping Norwegian Salmon"). A score is a measurement of the model *on this data*, '
    "not a verdict on the model's bias."
)
"""The caveat every CrowS-Pairs export carries (the manual says the same)."""

_SNAPSHOT = re.compile(r"[/\\]snapshots[/\\]([0-9a-f]{40})(?:[/\\]|$)")


def revision(path: str) -> str | None:
    """The Hub commit a model was loaded from, when its folder is a Hugging Face cache snapshot."""
    found = _SNAPSHOT.search(path)
    return found.group(1) if found else None


def provenance(
    file: str | None,
    models: Sequence[ModelInfo | str],
    kind: str | None = None,
    *,
    created: datetime | None = None,
) -> list[str]:
    """Markdown lines that say what an export is, for the top of any Markdown export.

    ``file`` is the probe set (or other input) the export comes from, ``None`` for a sentence
    typed in the explorer; ``models`` every model, in the order of the export (a
    :class:`ModelInfo`, or only a name when no model loaded); ``kind`` the probe set's kind
    (``cloze``, ``pairs``, ``crows``): CrowS-Pairs gets its data caveat. Each model line has
    its name, the folder it was read from, the Hub revision when the folder is a cache
    snapshot, its vocabulary digest, the backend, device and dtype. ``created`` defaults to now (UTC).
    """
    lines = [
        f"- **File:** `{_cell(file)}`" if file else "- **File:** none (a sentence typed in the explorer)"
    ]
    for number, model in enumerate(models, start=1):
        label = "Model" if len(models) == 1 else f"Model {number}"
        lines.append(f"- **{label}:** {_model_line(model)}")
    when = (created or datetime.now(timezone.utc)).isoformat(timespec="seconds")
    lines += [f"- **Created:** {when}", f"- **mlm-tui:** {__version__}"]
    if kind == "crows":
        lines += ["", f"> {CROWS_CAVEAT}"]
    return lines


def _model_line(model: ModelInfo | str) -> str:
    if isinstance(model, str):
        return f"{_cell(model)} (not loaded)"
    parts = [f"`{_cell(model.name)}`"]
    if model.path and model.path != model.name:
        parts.append(f"from `{_cell(model.path)}`")
    found = revision(model.path)
    if found:
        parts.append(f"revision `{found}`")
    details = [model.model_type, f"{model.backend} backend", model.device, model.dtype]
    if model.vocab_digest:
        details.append(f"vocabulary digest `{model.vocab_digest}`")
    return " ".join(parts) + " · " + " · ".join(d for d in details if d)


def exports_dir() -> Path:
    """The default folder for exports: ``platformdirs.user_data_dir("mlm-tui")/exports``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("mlm-tui")) / "exports"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN or infinity


def _model_dict(model: ModelInfo | str) -> dict[str, object]:
    if isinstance(model, str):
        return {"name": model}
    return {
        "name": model.name,
        "path": model.path,
        "model_type": model.model_type,
        "device": model.device,
        "dtype": model.dtype,
        "mask_token": model.mask_token,
    }


def _mask_dict(encoding: Encoding, position: int, found: MaskResult | None) -> dict[str, object]:
    token = encoding.tokens[position]
    entry: dict[str, object] = {
        "position": position,
        "span": [token.start, token.end],
        "token": token.text,
        "original": None if token.is_mask else encoding.text[token.start : token.end],
        "predictions": [p.as_pipeline_dict() for p in found.predictions] if found else [],
    }
    if found and found.targets:
        entry["targets"] = [
            {**t.as_pipeline_dict(), "target": t.target, "rank": t.rank, "log_prob": _finite(t.log_prob)}
            for t in found.targets
        ]
    return entry


def _masked_text(encoding: Encoding, positions: Sequence[int], mask_token: str) -> str:
    text = encoding.text
    spans = sorted({(encoding.tokens[i].start, encoding.tokens[i].end) for i in positions}, reverse=True)
    for start, end in spans:
        if text[start:end] != mask_token:
            text = text[:start] + mask_token + text[end:]
    return text


def export_data(
    encoding: Encoding,
    *,
    model: ModelInfo | str,
    masked: Iterable[int] = (),
    prediction: PredictResult | None = None,
    score: ScoreResult | None = None,
    created: datetime | None = None,
    mask_id: int | None = None,
) -> dict[str, Any]:
    """Everything an export holds, as plain JSON values.

    ``masked`` are the positions the user masked; masks typed into the text and every position
    ``prediction`` answered are included too. ``created`` defaults to now (UTC). ``tokens`` and
    ``ids`` are what the model reads: the masked positions as ``mask_id`` (the model's mask token;
    when not given, the id of a mask typed in the text, else the prediction's input ids).
    """
    by_position = {m.position: m for m in prediction.masks} if prediction else {}
    positions = sorted(set(masked) | set(encoding.mask_positions) | set(by_position))
    mask_token = model.mask_token if isinstance(model, ModelInfo) else MASK_PLACEHOLDER
    ids = (
        list(prediction.ids) if prediction is not None and len(prediction.ids) == len(encoding.ids) else None
    )
    ids = ids or list(encoding.ids)
    typed = [encoding.tokens[i].id for i in encoding.mask_positions]
    mask = mask_id if mask_id is not None else typed[0] if typed else None
    if mask is not None:
        ids = [mask if i in positions else token for i, token in enumerate(ids)]
    data: dict[str, Any] = {
        "mlm_tui": __version__,
        "created": (created or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "model": _model_dict(model),
        "text": encoding.text,
        "masked_text": _masked_text(encoding, positions, mask_token),
        "tokens": [mask_token if i in positions else t.text for i, t in enumerate(encoding.tokens)],
        "ids": ids,
        "masks": [_mask_dict(encoding, i, by_position.get(i)) for i in positions],
        "score": None,
    }
    if score is not None:
        scored = score.as_dict()
        scored["pseudo_perplexity"] = _finite(score.pseudo_perplexity)
        data["score"] = scored
    return data


Export = Mapping[str, Any] | Sequence[Mapping[str, Any]]
"""One :func:`export_data` dict, or one per pane when two models are compared."""


def _panes(data: Export) -> list[Mapping[str, Any]]:
    return [data] if isinstance(data, Mapping) else list(data)


def render_json(data: Export) -> str:
    """JSON text: an object for one pane, a list of them for several."""
    panes = _panes(data)
    return json.dumps(panes[0] if len(panes) == 1 else panes, ensure_ascii=False, indent=2) + "\n"


def _cell(value: object) -> str:
    """A Markdown table cell: pipes and backslashes escaped, on one line."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


def percent(probability: float) -> str:
    """A probability as a percentage a reader can tell apart: 4 decimals, or 3 significant digits below 0.01 %."""
    if probability >= 1e-4 or probability <= 0:
        return f"{probability:.4%}"
    return f"{probability * 100:.3g}%"


def _log_p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], align: str, rows: Iterable[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(data: Export, header: Sequence[str] = ()) -> str:
    """A short Markdown report: for each pane, one table per mask and one for the scores.

    ``header`` (e.g. :func:`provenance`'s lines) comes first, under an ``# mlm-tui export`` title.
    """
    body = "\n".join(_pane_markdown(pane) for pane in _panes(data))
    if not header:
        return body
    return "\n".join(["# mlm-tui export", "", *header, ""]) + "\n" + body


def _pane_markdown(data: Mapping[str, Any]) -> str:
    model = data["model"]
    about = " · ".join(str(model[k]) for k in ("model_type", "device", "dtype") if model.get(k))
    lines = [
        f"# mlm-tui: {_cell(model['name'])}",
        "",
        f"- **Model:** {_cell(model['name'])}" + (f" ({about})" if about else ""),
        f"- **Created:** {data['created']}",
        f"- **Text:** {_cell(data['text'])}",
    ]
    masks = data["masks"]
    if masks:
        lines.append(f"- **Masked:** {_cell(data['masked_text'])}")
    if data.get("ids"):
        pairs = " ".join(
            f"{token}={token_id}" for token, token_id in zip(data["tokens"], data["ids"], strict=True)
        )
        lines.append(f"- **Token ids:** {_cell(pairs)}")
    for number, mask in enumerate(masks, start=1):
        start, end = mask["span"]
        original = f" (`{mask['original']}`)" if mask["original"] else ""
        lines += [
            "",
            f"## Mask {number} of {len(masks)}: token {mask['position']}, characters {start}–{end}{original}",
        ]
        if mask["predictions"]:
            rows = [
                (rank, shown_token(p["token_str"]), percent(p["score"]), p["sequence"])
                for rank, p in enumerate(mask["predictions"], start=1)
            ]
            lines += ["", *_table(("rank", "token", "probability", "sequence"), "rlrl", rows)]
        if mask.get("targets"):
            watched = [
                (
                    t["rank"],
                    t["target"],
                    shown_token(t["token_str"]),
                    percent(t["score"]),
                    _log_p(t["log_prob"]),
                )
                for t in mask["targets"]
            ]
            lines += [
                "",
                f"Watched words ({SEVERAL_PIECES}):",
                "",
                *_table(("rank", "target", "token", "probability", "log p"), "rllrr", watched),
            ]
        if not mask["predictions"] and not mask.get("targets"):
            lines += ["", "No predictions yet."]
    score = data.get("score")
    if score:
        ppl = score["pseudo_perplexity"]
        lines += [
            "",
            "## Pseudo-log-likelihood",
            "",
            f"PLL {score['pll']:.3f} · pseudo-perplexity {'n/a' if ppl is None else f'{ppl:.3f}'}"
            f" · {len(score['tokens'])} tokens",
            "",
        ]
        rows = [
            (t["index"], t["token"], f"{t['log_prob']:.3f}", f"{t['surprisal']:.3f}") for t in score["tokens"]
        ]
        lines += _table(("index", "token", "log p", "surprisal"), "rlrr", rows)
    return "\n".join(lines) + "\n"


def write_export(data: Export, directory: Path | str | None = None, header: Sequence[str] = ()) -> Path:
    """Write ``<stem>.md`` and ``<stem>.json`` (same stem, never overwriting); returns the ``.md`` path.

    ``header`` goes at the top of the Markdown (:func:`render_markdown`).

    ``directory`` defaults to :func:`exports_dir`; the stem is ``mlm-tui-<UTC time>``, with a
    number added when that name is taken.
    """
    folder = Path(directory) if directory is not None else exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        stem = f"mlm-tui-{stamp}" + ("" if attempt == 1 else f"-{attempt}")
        markdown, as_json = folder / f"{stem}.md", folder / f"{stem}.json"
        if _create(as_json, render_json(data)):
            if _create(markdown, render_markdown(data, header)):
                return markdown
            as_json.unlink()
    raise OSError(f"cannot find a free file name in {folder}")  # pragma: no cover


def _create(path: Path, text: str) -> bool:
    """Write a new file; False when it already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return True
