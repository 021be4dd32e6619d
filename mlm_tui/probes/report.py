"""Probe-set results as text: the summary table, Markdown, and the JSON document. No Textual."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KIND_OF_FORMAT = {
    "lama": "cloze",
    "plain-cloze": "cloze",
    "blimp": "pairs",
    "plain": "pairs",
    "crows": "crows",
}


def _pct(value: object) -> str:
    return "–" if value is None else f"{float(value) * 100:.1f}"  # type: ignore[arg-type]


def _raw_pct(value: object) -> str:
    return "–" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def _ci(summary: dict[str, Any], name: str, scale: float = 100.0) -> str:
    ci = (summary.get("ci") or {}).get(name)
    if not ci:
        return ""
    return f"[{ci[0] * scale:.1f}, {ci[1] * scale:.1f}]"


def columns(kind: str) -> list[tuple[str, str]]:
    """(heading, key) of each summary column, for a kind of probe set."""
    if kind == "cloze":
        return [("n", "n"), ("P@1 %", "p@1"), ("95% CI", "ci:p@1"), ("P@k %", "p@k"), ("MRR", "mrr")]
    if kind == "crows":
        return [
            ("n", "n"),
            ("metric %", "metric_score"),
            ("95% CI", "ci:metric_score"),
            ("stereo %", "stereotype_score"),
            ("anti %", "antistereotype_score"),
            ("neutral", "neutral"),
        ]
    return [("n", "n"), ("accuracy %", "accuracy"), ("95% CI", "ci:accuracy")]


def cell(kind: str, summary: dict[str, Any], key: str) -> str:
    if key.startswith("ci:"):
        return _ci(summary, key[3:], 1.0 if kind == "crows" else 100.0)
    value = summary.get(key)
    if key == "n" and value is None and "groups" in summary:
        return f"{summary['groups']} gr."
    if key in ("n", "neutral", "groups"):
        return "–" if value is None else str(value)
    if key == "mrr":
        return "–" if value is None else f"{value:.3f}"
    if kind == "crows":
        return _raw_pct(value)
    return _pct(value)


def summary_rows(kind: str, summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, block) rows of a summary: overall, the mean over groups, then each group."""
    rows = [("overall", summary["overall"])]
    if summary.get("mean_over_groups") and len(summary.get("groups", {})) > 1:
        rows.append(("mean over groups", summary["mean_over_groups"]))
    groups = summary.get("groups", {})
    if list(groups) != ["(none)"]:  # items without groups: the overall row says it all
        rows += list(groups.items())
    return rows


def text_table(
    kind: str, summaries: Sequence[dict[str, Any]], models: Sequence[str], k: int | None = None
) -> str:
    """The readable summary: one table per model (side by side in blocks when two)."""
    cols = columns(kind)
    lines = []
    for model, summary in zip(models, summaries, strict=True):
        heads = [h.replace("@k", f"@{k}") if k else h for h, _ in cols]
        rows = summary_rows(kind, summary)
        width = max(len(label) for label, _ in rows)
        width = min(max(width, 8), 40)
        lines.append(model)
        lines.append(f"{'group':<{width}}  " + "  ".join(f"{h:>14}" for h in heads))
        for label, block in rows:
            shown = label if len(label) <= width else label[: width - 1] + "…"
            lines.append(
                f"{shown:<{width}}  " + "  ".join(f"{cell(kind, block, key):>14}" for _, key in cols)
            )
        extra = [f"{summary[w]} {w}" for w in ("failed", "skipped") if summary.get(w)]
        if extra:
            lines.append("(" + ", ".join(extra) + ")")
        lines.append("")
    return "\n".join(lines)


def markdown(
    kind: str, summaries: Sequence[dict[str, Any]], models: Sequence[str], k: int | None = None
) -> str:
    cols = columns(kind)
    out = []
    for model, summary in zip(models, summaries, strict=True):
        heads = [h.replace("@k", f"@{k}") if k else h for h, _ in cols]
        out.append(f"### {model}\n")
        out.append("| group | " + " | ".join(heads) + " |")
        out.append("|---|" + "---:|" * len(heads))
        for label, block in summary_rows(kind, summary):
            out.append(f"| {label} | " + " | ".join(cell(kind, block, key) for _, key in cols) + " |")
        extra = [f"{summary[w]} {w}" for w in ("failed", "skipped") if summary.get(w)]
        if extra:
            out.append("\n" + ", ".join(extra) + ".")
        out.append("")
    return "\n".join(out)


def disagree(kind: str, a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two models disagree on an item: hit vs miss at k (probes), or the pair decided differently."""
    if "error" in a or "error" in b or "skipped" in a or "skipped" in b:
        return False
    if kind == "cloze":
        return bool(a["hit@k"] != b["hit@k"] or a["hit@1"] != b["hit@1"])
    if kind == "crows":
        return bool(a["score"] != b["score"])
    return bool(a["correct"] != b["correct"])


def difference(kind: str, a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """B minus A: rank (probes), PLL margin good − bad (pairs), score margin more − less (CrowS)."""
    try:
        if kind == "cloze":
            return float(b["rank"] - a["rank"])
        if kind == "crows":
            return float(
                (b["sent_more_score"] - b["sent_less_score"]) - (a["sent_more_score"] - a["sent_less_score"])
            )
        return float((b["pll_good"] - b["pll_bad"]) - (a["pll_good"] - a["pll_bad"]))
    except (KeyError, TypeError):
        return None


SHARED = {
    "cloze": ("line", "text", "answer", "group"),
    "pairs": ("line", "good", "bad", "group", "field", "linguistics_term", "phenomenon"),
    "crows": ("line", "sent_more", "sent_less", "direction", "group"),
}


def compared_item(kind: str, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One item with both models: the shared fields, each model's values, B − A and whether they disagree."""
    first = a if "error" not in a and "skipped" not in a else b
    shared = {key: first[key] for key in SHARED[kind] if key in first}
    shared["line"] = a.get("line", b.get("line"))
    values = [{k: v for k, v in row.items() if k not in shared} for row in (a, b)]
    return {
        **shared,
        "results": values,
        "difference": difference(kind, a, b),
        "disagree": disagree(kind, a, b),
    }


def describe_item(kind: str, item: dict[str, Any]) -> str:
    if kind == "cloze":
        return f"{item.get('text', '')} → {item.get('answer', '')}"
    if kind == "crows":
        return f"{item.get('sent_more', '')} / {item.get('sent_less', '')}"
    return f"{item.get('good', '')} / {item.get('bad', '')}"


def verdict(kind: str, values: dict[str, Any]) -> str:
    if "error" in values:
        return "error"
    if kind == "cloze":
        return f"#{values['rank']}"
    if kind == "crows":
        return "more" if values["score"] else "less"
    return "good" if values["correct"] else "bad"


def disagreements_text(kind: str, items: list[dict[str, Any]], models: list[str]) -> str:
    rows = [i for i in items if i.get("disagree")]
    lines = [f"items on which {models[0]} (A) and {models[1]} (B) disagree: {len(rows)}"]
    for item in rows:
        a, b = (verdict(kind, v) for v in item["results"])
        lines.append(f"  line {item['line']:>6}  A {a:<6} B {b:<6} {describe_item(kind, item)[:90]}")
    return "\n".join(lines) + "\n"


def disagreements_markdown(kind: str, items: list[dict[str, Any]]) -> str:
    rows = [i for i in items if i.get("disagree")]
    out = [
        f"### Items on which the models disagree ({len(rows)})\n",
        "| line | A | B | item |",
        "|---:|---|---|---|",
    ]
    for item in rows:
        a, b = (verdict(kind, v) for v in item["results"])
        described = describe_item(kind, item).replace("|", "\\|")
        out.append(f"| {item['line']} | {a} | {b} | {described} |")
    return "\n".join(out) + "\n"


def document(
    models: Sequence[str], fmt: str, summaries: Sequence[dict[str, Any]], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """The ``--json`` document: models, format, summary (a list of two with ``--compare``), items."""
    out: dict[str, Any] = {
        "models": list(models),
        "format": fmt,
        "summary": summaries[0] if len(summaries) == 1 else list(summaries),
    }
    if len(summaries) > 1:
        out["disagreements"] = [i["line"] for i in items if i.get("disagree")]
    out["items"] = items
    return out


def full_markdown(
    kind: str,
    summaries: Sequence[dict[str, Any]],
    models: Sequence[str],
    k: int | None,
    items: list[dict[str, Any]],
) -> str:
    """The ``--markdown`` output: the summary tables, and with two models the items they disagree on."""
    text = markdown(kind, summaries, models, k)
    if len(summaries) > 1:
        text += disagreements_markdown(kind, items)
    return text
