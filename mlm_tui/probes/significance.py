"""Is model A better than model B on this probe set? Paired tests on the items both answered.

- McNemar's exact test on the paired binary decisions (hit@1 for cloze probes, ``correct`` for
  minimal pairs, "prefers the more stereotyping sentence" for CrowS-Pairs): among the items on which
  the two decisions differ, is "A right, B wrong" as likely as the reverse? The two-sided exact
  binomial test (``scipy.stats.binomtest``) of ``a_only`` out of ``a_only + b_only`` at 1/2.
- A paired bootstrap of the difference in the headline metric (P@1, accuracy, the CrowS-Pairs metric
  score): the same resampled items for both models, seeded, 95 % percentile interval. Each of these
  metrics is a mean over items, so the difference of the two resampled means is the resampled mean
  of the per-item differences, drawn with :mod:`mlm_tui.probes.metrics`' resampler (the one the
  summaries use: blocks of rows, bounded memory).

Pure functions; numpy and scipy only, no torch, no Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .metrics import SEED, _resample_means, interval

PAIRED_BOOTSTRAP = 10_000
"""Resamples of the paired bootstrap (``--bootstrap 0`` turns it off, as it does every interval)."""

DECISION = {"cloze": "hit@1", "pairs": "correct", "crows": "prefers_more_stereotyping"}
"""The paired binary decision McNemar's test compares, by kind of probe set."""

METRIC = {"cloze": "p@1", "pairs": "accuracy", "crows": "metric_score"}
"""The headline metric whose difference is bootstrapped (the summary's key, on the summary's scale)."""

Outcome = tuple[bool, float]
"""One model on one item: its decision, and the item's share of the headline metric (a mean over items)."""


def outcome(kind: str, row: dict[str, Any]) -> Outcome | None:
    """What the tests need of one result row; ``None`` for an item the model did not answer."""
    if "error" in row or "skipped" in row:
        return None
    if kind == "cloze":
        hit = bool(row["hit@1"])
        return hit, float(hit)
    if kind == "crows":  # metric.py's score (a tie is not a win); the metric score is a percentage
        wins = bool(row["score"])
        return wins, 100.0 * wins
    correct = bool(row["correct"])
    return correct, float(correct)


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> tuple[int, int, float]:
    """``(a_only, b_only, p)``: the discordant pairs and the two-sided exact McNemar p-value (1 when none)."""
    from scipy.stats import binomtest

    if len(a) != len(b):
        raise ValueError("the two decision lists must be paired (the same length)")
    a_only = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    b_only = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    if a_only + b_only == 0:
        return 0, 0, 1.0
    return a_only, b_only, float(binomtest(a_only, a_only + b_only, 0.5).pvalue)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n_boot: int = PAIRED_BOOTSTRAP, seed: int = SEED
) -> tuple[float | None, list[float] | None]:
    """``mean(a) − mean(b)`` over paired items, and its 95 % percentile interval from ``n_boot`` resamples
    of the items (the same items for both; ``None`` without resamples or items).

    Resample ``r`` draws ``rng.integers(0, n, n)`` as the ``r``-th row from ``np.random.default_rng(seed)``.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("the two value lists must be paired (the same length)")
    if not len(x):
        return None, None
    difference = float(x.mean() - y.mean())
    if n_boot <= 0:
        return difference, None
    samples = _resample_means(x - y, n_boot, np.random.default_rng(seed))
    return difference, interval(samples)


def compare(
    kind: str, i: int, j: int, a: Sequence[Outcome | None], b: Sequence[Outcome | None], n_boot: int
) -> dict[str, Any]:
    """One ``"comparisons"`` entry: models ``i`` and ``j`` on the items both answered."""
    both = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    a_only, b_only, p = mcnemar_exact([x[0] for x, _ in both], [y[0] for _, y in both])
    difference, ci = paired_bootstrap([x[1] for x, _ in both], [y[1] for _, y in both], n_boot)
    return {
        "models": [i, j],
        "n": len(both),
        "decision": DECISION[kind],
        "a_only": a_only,
        "b_only": b_only,
        "p_value": p,
        "metric": METRIC[kind],
        "difference": difference,
        "ci95": ci,
    }


def comparisons(
    kind: str, outcomes: Sequence[Sequence[Outcome | None]], n_boot: int = PAIRED_BOOTSTRAP
) -> list[dict[str, Any]]:
    """Every pair of models ``i < j`` (in the order of ``"models"``), each on the items both answered."""
    return [
        compare(kind, i, j, outcomes[i], outcomes[j], n_boot)
        for i in range(len(outcomes))
        for j in range(i + 1, len(outcomes))
    ]


def of_items(
    kind: str, items: Sequence[dict[str, Any]], models: int, n_boot: int = PAIRED_BOOTSTRAP
) -> list[dict[str, Any]]:
    """:func:`comparisons` of items that hold every model's row in ``"results"`` (``[]`` for one model)."""
    if models < 2:
        return []
    outcomes = [
        [outcome(kind, item["results"][m]) for item in items if "results" in item] for m in range(models)
    ]
    return comparisons(kind, outcomes, n_boot)


def line(comparison: dict[str, Any], letters: Sequence[str]) -> str:
    """One pair in a line: the difference in the headline metric with its interval, and McNemar's test."""
    i, j = comparison["models"]
    scale = 1.0 if comparison["metric"] == "metric_score" else 100.0  # fractions to points
    name = {"p@1": "P@1", "accuracy": "accuracy", "metric_score": "metric score"}[comparison["metric"]]
    difference = comparison["difference"]
    text = f"{letters[i]} − {letters[j]}: Δ {name} "
    text += "–" if difference is None else f"{difference * scale:+.1f}"
    if comparison["ci95"] is not None:
        lo, hi = comparison["ci95"]
        text += f" [{lo * scale:+.1f}, {hi * scale:+.1f}]"
    text += f" · McNemar p {comparison['p_value']:.3g} ({comparison['a_only']}/{comparison['b_only']} of {comparison['n']})"
    return text
