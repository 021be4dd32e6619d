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


def _decision(kind: str, row: dict[str, Any]) -> object:
    if kind == "cloze":
        return (row["hit@k"], row["hit@1"])
    if kind == "crows":
        return row["score"]
    return row["correct"]


def disagree(kind: str, *rows: dict[str, Any]) -> bool:
    """The models disagree on an item: hit vs miss at k or at 1 (probes), or the pair decided differently.
    An item that any model could not answer is no disagreement."""
    if any("error" in row or "skipped" in row for row in rows):
        return False
    return len({_decision(kind, row) for row in rows}) > 1


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


def _answered(row: dict[str, Any]) -> bool:
    return "error" not in row and "skipped" not in row


def compared_item(kind: str, *rows: dict[str, Any]) -> dict[str, Any]:
    """One item with every model: the shared fields, each model's values (``results``, in the order of
    the models), the second model minus the first (``difference``; with three or more, ``differences``:
    each model after the first minus the first) and whether they disagree."""
    first = next((row for row in rows if _answered(row)), rows[-1])
    shared = {key: first[key] for key in SHARED[kind] if key in first}
    shared["line"] = next((row["line"] for row in rows if "line" in row), None)
    values = [{k: v for k, v in row.items() if k not in shared} for row in rows]
    item = {**shared, "results": values, "difference": difference(kind, rows[0], rows[1])}
    if len(rows) > 2:
        item["differences"] = [difference(kind, rows[0], row) for row in rows[1:]]
    item["disagree"] = disagree(kind, *rows)
    return item


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


LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
WIDTH = 80
"""The text leaderboard aims at this many columns (a label column gives way first)."""


def letter(index: int) -> str:
    """A, B, … Z, then M27, M28…: how tables name the models (a legend says which is which)."""
    return LETTERS[index] if index < len(LETTERS) else f"M{index + 1}"


def short_name(model: str) -> str:
    """The last part of a model's id or path (``org/name`` → ``name``; a folder's name)."""
    return model.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or model


def _heading(index: int, model: str, width: int) -> str:
    text = f"{letter(index)} {short_name(model)}"
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


def leaderboard_metrics(kind: str, k: int | None = None) -> list[tuple[str, str]]:
    """(title, key) of each leaderboard section: one a metric; the summary's keys."""
    if kind == "cloze":
        return [("P@1 %", "p@1"), (f"P@{k or 'k'} %", "p@k"), ("MRR", "mrr")]
    if kind == "crows":
        return [
            ("metric score %", "metric_score"),
            ("stereotype score %", "stereotype_score"),
            ("antistereotype score %", "antistereotype_score"),
            ("neutral", "neutral"),
        ]
    return [("accuracy %", "accuracy")]


def leaderboard_cell(kind: str, block: dict[str, Any] | None, key: str) -> str:
    """One model's value of ``key`` in a summary block, with its 95 % interval where the summary has one
    (``60.0 [30.0–90.0]``: an en dash, which is shorter and never a minus sign here)."""
    if block is None:
        return "–"
    value = block.get(key)
    ci = (block.get("ci") or {}).get(key)
    if value is None:
        return "–"
    if key == "neutral":
        return str(value)
    if key == "mrr":
        return f"{value:.3f}" + (f" [{ci[0]:.3f}–{ci[1]:.3f}]" if ci else "")
    scale = 1.0 if kind == "crows" else 100.0
    shown = f"{value:.2f}" if kind == "crows" else f"{value * scale:.1f}"
    return shown + (f" [{ci[0] * scale:.1f}–{ci[1] * scale:.1f}]" if ci else "")


def _row_labels(kind: str, summaries: Sequence[dict[str, Any]]) -> list[str]:
    """The rows of the leaderboard: the first summary's order, then any group only a later one has."""
    labels: list[str] = []
    for summary in summaries:
        for label, _block in summary_rows(kind, summary):
            if label not in labels:
                labels.append(label)
    return labels


def _block(summary: dict[str, Any], label: str) -> dict[str, Any] | None:
    if label == "overall":
        return summary.get("overall")
    if label == "mean over groups":
        return summary.get("mean_over_groups")
    return (summary.get("groups") or {}).get(label)


def _count(blocks: Sequence[dict[str, Any] | None]) -> str:
    """The n of a row: one number when every model has the same (a run where some failed: each's)."""
    counts = []
    for block in blocks:
        if block is None:
            counts.append("–")
        elif block.get("n") is None and "groups" in block:
            counts.append(f"{block['groups']} gr.")
        else:
            counts.append(str(block.get("n")))
    return counts[0] if len(set(counts)) == 1 else "/".join(counts)


def leaderboard(
    kind: str, summaries: Sequence[dict[str, Any]], models: Sequence[str], k: int | None = None
) -> list[tuple[str, list[str], list[tuple[str, str, list[str]]]]]:
    """The leaderboard as data: per metric ``(title, headings, rows)``, each row ``(label, n, cells)``:
    one cell a model, one row per line of the summary (overall, the mean over groups, each group)."""
    labels = _row_labels(kind, summaries)
    sections = []
    for title, key in leaderboard_metrics(kind, k):
        rows = []
        for label in labels:
            blocks = [_block(s, label) for s in summaries]
            if key == "neutral" and label == "mean over groups":
                continue
            rows.append((label, _count(blocks), [leaderboard_cell(kind, b, key) for b in blocks]))
        sections.append((title, [letter(i) for i in range(len(models))], rows))
    return sections


def _aligned(values: Sequence[str], widths: Sequence[int]) -> str:
    """One line of a text table: the first column to the left, the others to the right."""
    cells = [
        f"{v:<{w}}" if n == 0 else f"{v:>{w}}" for n, (v, w) in enumerate(zip(values, widths, strict=True))
    ]
    return "  ".join(cells)


def _legend(summaries: Sequence[dict[str, Any]], models: Sequence[str]) -> list[str]:
    lines = []
    for i, (model, summary) in enumerate(zip(models, summaries, strict=True)):
        extra = [f"{summary[w]} {w}" for w in ("failed", "skipped") if summary.get(w)]
        lines.append(f"{letter(i)}  {model}" + (f"  ({', '.join(extra)})" if extra else ""))
    return lines


def leaderboard_text(
    kind: str,
    summaries: Sequence[dict[str, Any]],
    models: Sequence[str],
    k: int | None = None,
    width: int = WIDTH,
) -> str:
    """Several models side by side: a legend (letter → model), then one section per metric with one
    column per model (value [95 % interval]). The group names give way first: one too long for what
    the model columns leave has a line of its own, so three models fit in ``width`` columns."""
    lines = ["models:", *("  " + line for line in _legend(summaries, models)), ""]
    for title, _letters, rows in leaderboard(kind, summaries, models, k):
        cells = [max([6] + [len(row[2][i]) for row in rows]) for i in range(len(models))]
        heads = [_heading(i, m, c) for i, (m, c) in enumerate(zip(models, cells, strict=True))]
        n_width = max([len("n")] + [len(row[1]) for row in rows])
        room = width - n_width - sum(c + 2 for c in cells) - 2
        label_width = max(8, min(40, room, max([len(title)] + [len(row[0]) for row in rows])))
        widths = [label_width, n_width, *cells]
        lines.append(_aligned([_cut(title, label_width), "n", *heads], widths))
        for label, n, values in rows:
            if len(label) > label_width:  # a line of its own, whole (up to the width)
                lines.append(_cut(label, width))
                label = ""
            lines.append(_aligned([label, n, *values], widths))
        lines.append("")
    return "\n".join(lines) + "\n"


def leaderboard_markdown(
    kind: str, summaries: Sequence[dict[str, Any]], models: Sequence[str], k: int | None = None
) -> str:
    """The leaderboard in Markdown: the models, then one table per metric with one column per model."""
    out = ["### Models\n", "| | model | failed | skipped |", "|---|---|---:|---:|"]
    for i, (model, summary) in enumerate(zip(models, summaries, strict=True)):
        out.append(
            f"| {letter(i)} | {_md(model)} | {summary.get('failed', 0)} | {summary.get('skipped', 0)} |"
        )
    out.append("")
    for title, letters, rows in leaderboard(kind, summaries, models, k):
        ci = "" if title in ("neutral",) or "stereotype" in title else " (95 % CI)"
        out.append(f"### {title}{ci}\n")
        out.append("| group | n | " + " | ".join(letters) + " |")
        out.append("|---|---:|" + "---:|" * len(letters))
        for label, n, values in rows:
            out.append(f"| {_md(label)} | {n} | " + " | ".join(values) + " |")
        out.append("")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


_DECISIONS = {
    "hit@1": "hit@1",
    "correct": "correct",
    "prefers_more_stereotyping": "the preferred sentence",
}
_METRICS = {"p@1": "P@1", "accuracy": "accuracy", "metric_score": "metric score"}


def _points(comparison: dict[str, Any], value: float) -> float:
    """A difference on the table's scale: percentage points (the CrowS metric score already is one)."""
    return value if comparison["metric"] == "metric_score" else value * 100


def _difference_text(comparison: dict[str, Any]) -> str:
    d, ci = comparison["difference"], comparison["ci95"]
    if d is None:
        return "–"
    text = f"{_points(comparison, d):+.1f}"
    if ci:
        text += f" [{_points(comparison, ci[0]):+.1f}, {_points(comparison, ci[1]):+.1f}]"
    return text


def _p_text(p: float) -> str:
    return "1" if p >= 1 else f"{p:.3g}" if p >= 0.001 else f"{p:.1e}"


def comparisons_text(comparisons: Sequence[dict[str, Any]]) -> str:
    """One line per pair of models, on the items both answered: the difference in the headline metric
    (first − second, in points, with its paired bootstrap 95 % interval), the items only the first /
    only the second got right, and McNemar's exact p on them."""
    if not comparisons:
        return ""
    first = comparisons[0]
    metric, decision = _METRICS[first["metric"]], _DECISIONS[first["decision"]]
    rows = [
        (
            f"{letter(c['models'][0])} − {letter(c['models'][1])}",
            str(c["n"]),
            _difference_text(c),
            f"{c['a_only']}/{c['b_only']}",
            _p_text(c["p_value"]),
        )
        for c in comparisons
    ]
    heads = ("pair", "n", f"Δ {metric} [95% CI]", "only 1st/2nd", "McNemar p")
    widths = [max(len(h), *(len(r[n]) for r in rows)) for n, h in enumerate(heads)]
    lines = [
        "paired comparisons on the items both models answered (first − second)",
        f"Δ: points, paired bootstrap; p: McNemar's exact test on {decision}",
        _aligned(heads, widths),
        *(_aligned(row, widths) for row in rows),
    ]
    return "\n".join(lines) + "\n\n"


def comparisons_markdown(comparisons: Sequence[dict[str, Any]]) -> str:
    if not comparisons:
        return ""
    metric = _METRICS[comparisons[0]["metric"]]
    decision = _DECISIONS[comparisons[0]["decision"]]
    out = [
        "### Paired comparisons\n",
        f"On the items both models answered: the difference in {metric} (first − second, in points) with its "
        f"paired bootstrap 95 % interval, and McNemar's exact test on {decision} (first only, second only: "
        "the items that only one of the two got).\n",
        f"| pair | n | Δ {metric} | 95 % CI | first only | second only | McNemar p |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for c in comparisons:
        i, j = c["models"]
        d, ci = c["difference"], c["ci95"]
        shown = "–" if d is None else f"{_points(c, d):+.1f}"
        interval = f"[{_points(c, ci[0]):+.1f}, {_points(c, ci[1]):+.1f}]" if ci else "–"
        out.append(
            f"| {letter(i)} − {letter(j)} | {c['n']} | {shown} | {interval} | {c['a_only']} | {c['b_only']} "
            f"| {_p_text(c['p_value'])} |"
        )
    return "\n".join(out) + "\n\n"


def disagreements_text(kind: str, items: list[dict[str, Any]], models: list[str]) -> str:
    rows = [i for i in items if i.get("disagree")]
    if len(models) == 2:
        lines = [f"items on which {models[0]} (A) and {models[1]} (B) disagree: {len(rows)}"]
    else:
        lines = [f"items on which the models disagree: {len(rows)}"]
    for item in rows:
        verdicts = " ".join(f"{letter(n)} {verdict(kind, v):<6}" for n, v in enumerate(item["results"]))
        prefix = f"  line {item['line']:>6}  {verdicts} "
        lines.append(prefix + _cut(describe_item(kind, item), max(30, WIDTH - len(prefix))))
    return "\n".join(lines) + "\n"


def disagreements_markdown(kind: str, items: list[dict[str, Any]], models: int = 2) -> str:
    rows = [i for i in items if i.get("disagree")]
    letters = [letter(n) for n in range(models)]
    out = [
        f"### Items on which the models disagree ({len(rows)})\n",
        "| line | " + " | ".join(letters) + " | item |",
        "|---:|" + "---|" * len(letters) + "---|",
    ]
    for item in rows:
        verdicts = " | ".join(verdict(kind, v) for v in item["results"])
        out.append(f"| {item['line']} | {verdicts} | {_md(describe_item(kind, item))} |")
    return "\n".join(out) + "\n"


def document(
    models: Sequence[str],
    fmt: str,
    summaries: Sequence[dict[str, Any]],
    items: list[dict[str, Any]],
    comparisons: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``--json`` document: models, format, summary (a list, one per model, with ``--compare``),
    the pairwise ``comparisons`` and ``disagreements`` with several models, items."""
    out: dict[str, Any] = {
        "models": list(models),
        "format": fmt,
        "summary": summaries[0] if len(summaries) == 1 else list(summaries),
    }
    if len(summaries) > 1:
        if comparisons is not None:
            out["comparisons"] = list(comparisons)
        out["disagreements"] = [i["line"] for i in items if i.get("disagree")]
    out["items"] = items
    return out


def full_text(
    kind: str,
    summaries: Sequence[dict[str, Any]],
    models: Sequence[str],
    k: int | None,
    items: list[dict[str, Any]],
    comparisons: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The ``--table`` output: one model's summary table, or the leaderboard of several with the paired
    comparisons and the items they disagree on."""
    if len(summaries) == 1:
        return text_table(kind, summaries, models, k)
    return (
        leaderboard_text(kind, summaries, models, k)
        + comparisons_text(comparisons or [])
        + disagreements_text(kind, items, list(models))
    )


def full_markdown(
    kind: str,
    summaries: Sequence[dict[str, Any]],
    models: Sequence[str],
    k: int | None,
    items: list[dict[str, Any]],
    comparisons: Sequence[dict[str, Any]] | None = None,
) -> str:
    """The ``--markdown`` output: one model's summary table, or the leaderboard of several, the paired
    comparisons and the items they disagree on."""
    if len(summaries) == 1:
        return markdown(kind, summaries, models, k)
    return (
        leaderboard_markdown(kind, summaries, models, k)
        + comparisons_markdown(comparisons or [])
        + disagreements_markdown(kind, items, len(models))
    )
