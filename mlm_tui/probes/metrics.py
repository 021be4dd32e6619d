"""The numbers of a probe set, as the original evaluations define them.

- Cloze probes (LAMA, Petroni et al. 2019): P@1, P@k and MRR over items, per
  group, and the mean over groups (the figure LAMA reports).
- Minimal pairs (BLiMP, Warstadt et al. 2020, with PLL as Salazar et al. 2020):
  the share of pairs whose good sentence has the higher PLL.
- CrowS-Pairs (Nangia et al. 2020): as the authors' ``metric.py``.

Bootstrap 95 % intervals resample items with replacement (seeded; the mean over
groups resamples within each group). numpy only; no torch, no Textual.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

BOOTSTRAP = 1000
SEED = 0
_CELLS = 10_000_000  # bootstrap resamples drawn per block: rows × items


def _resample_means(values: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """The mean of ``values`` in each of ``n_boot`` resamples (drawn in blocks, so memory stays small)."""
    n = len(values)
    out = np.empty(n_boot)
    block = max(1, _CELLS // max(n, 1))
    for begin in range(0, n_boot, block):
        rows = min(block, n_boot - begin)
        picks = rng.integers(0, n, size=(rows, n))
        out[begin : begin + rows] = values[picks].mean(axis=1)
    return out


def interval(samples: np.ndarray) -> list[float]:
    low, high = np.percentile(samples, [2.5, 97.5])
    return [float(low), float(high)]


def bootstrap_ci(values: Sequence[float] | np.ndarray, n_boot: int, seed: int = SEED) -> list[float] | None:
    """95 % percentile interval of the mean of ``values``; ``None`` without resamples or values."""
    if n_boot <= 0 or not len(values):
        return None
    rng = np.random.default_rng(seed)
    return interval(_resample_means(np.asarray(values, dtype=float), n_boot, rng))


def _group_mean_ci(groups: dict[str, np.ndarray], n_boot: int, seed: int) -> list[float] | None:
    if n_boot <= 0 or not groups:
        return None
    rng = np.random.default_rng(seed)
    means = np.mean([_resample_means(v, n_boot, rng) for v in groups.values()], axis=0)
    return interval(means)


def _by_group(groups: Sequence[str | None], values: np.ndarray) -> dict[str, np.ndarray]:
    index: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        index["(none)" if group is None else group].append(i)
    return {name: values[rows] for name, rows in sorted(index.items())}


def cloze_summary(
    ranks: Sequence[int], groups: Sequence[str | None], *, k: int, n_boot: int = BOOTSTRAP, seed: int = SEED
) -> dict[str, object]:
    """P@1, P@k and MRR (fractions) overall, per group, and the mean over groups, with 95 % intervals."""
    r = np.asarray(ranks, dtype=float)
    metrics = {"p@1": (r <= 1).astype(float), "p@k": (r <= k).astype(float), "mrr": 1.0 / r if len(r) else r}

    def block(rows: np.ndarray | slice) -> dict[str, object]:
        values = {name: v[rows] for name, v in metrics.items()}
        n = len(values["mrr"])
        summary: dict[str, object] = {"n": n, "k": k}
        for name, v in values.items():
            summary[name] = float(v.mean()) if n else None
        summary["ci"] = {name: bootstrap_ci(v, n_boot, seed) for name, v in values.items()}
        return summary

    index = _by_group(groups, np.arange(len(r)))
    per_group = {name: block(rows) for name, rows in index.items()}
    result: dict[str, object] = {"overall": block(slice(None)), "groups": per_group}
    if per_group:
        mean: dict[str, object] = {"groups": len(per_group), "k": k}
        for name, v in metrics.items():
            parts = {g: v[rows] for g, rows in index.items()}
            mean[name] = float(np.mean([p.mean() for p in parts.values()]))
            mean.setdefault("ci", {})[name] = _group_mean_ci(parts, n_boot, seed)  # type: ignore[index]
        result["mean_over_groups"] = mean
    return result


def pairs_summary(
    correct: Sequence[bool], groups: Sequence[str | None], *, n_boot: int = BOOTSTRAP, seed: int = SEED
) -> dict[str, object]:
    """Accuracy (a fraction: the share of pairs whose good sentence scored higher), overall and per group."""
    c = np.asarray(correct, dtype=float)

    def block(values: np.ndarray) -> dict[str, object]:
        return {
            "n": len(values),
            "accuracy": float(values.mean()) if len(values) else None,
            "ci": {"accuracy": bootstrap_ci(values, n_boot, seed)},
        }

    parts = _by_group(groups, c)
    per_group = {name: block(v) for name, v in parts.items()}
    result: dict[str, object] = {"overall": block(c), "groups": per_group}
    if per_group:
        result["mean_over_groups"] = {
            "groups": len(per_group),
            "accuracy": float(np.mean([g["accuracy"] for g in per_group.values()])),
            "ci": {"accuracy": _group_mean_ci(parts, n_boot, seed)},  # items resampled within each group
        }
    return result


def crows_counts(rows: Sequence[tuple[str, float, float]]) -> dict[str, object]:
    """metric.py's figures from ``(direction, sent_more_score, sent_less_score)`` (scores rounded to 3
    decimals): a tie is neutral; otherwise a pair counts for its direction, and scores 1 when the more
    stereotyping sentence scored higher. Percentages as metric.py prints them, before its rounding."""
    n = len(rows)
    neutral = total_stereo = total_anti = stereo = anti = 0
    for direction, more, less in rows:
        if more == less:
            neutral += 1
        elif direction == "stereo":
            total_stereo += 1
            stereo += more > less
        else:
            total_anti += 1
            anti += more > less

    def pct(part: int, whole: int) -> float | None:
        return part / whole * 100 if whole else None

    return {
        "n": n,
        "metric_score": pct(stereo + anti, n),
        "stereotype_score": pct(stereo, total_stereo),
        "antistereotype_score": pct(anti, total_anti),
        "neutral": neutral,
        "neutral_percent": pct(neutral, n),
    }


def crows_summary(
    rows: Sequence[tuple[str, float, float]],
    groups: Sequence[str | None],
    *,
    n_boot: int = BOOTSTRAP,
    seed: int = SEED,
) -> dict[str, object]:
    """CrowS-Pairs figures overall and per bias type; the metric score has a bootstrap interval."""

    def block(part: Sequence[tuple[str, float, float]]) -> dict[str, object]:
        summary = crows_counts(part)
        wins = [100.0 * (more > less and more != less) for _d, more, less in part]
        summary["ci"] = {"metric_score": bootstrap_ci(wins, n_boot, seed)}
        return summary

    index = _by_group(groups, np.arange(len(rows)))
    per_group = {name: block([rows[i] for i in idx]) for name, idx in index.items()}
    return {"overall": block(rows), "groups": per_group}
