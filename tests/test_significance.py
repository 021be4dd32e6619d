"""Several models on one probe set (issue 25): paired significance, the N-model outputs, BLiMP by phenomenon.

Every number is checked against plain code written here: the exact two-sided binomial p-value summed
with ``math.comb``, a bootstrap loop that draws the same indices one resample at a time, and a
group-by of the per-item results that the ``--json`` document itself lists.
"""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import numpy as np
import pytest
from test_cli import assert_one_line_error, run
from test_probes import CLOZE, CROWS, write_crows, write_tsv

from mlm_tui.probes import metrics, report
from mlm_tui.probes.run import Tally
from mlm_tui.probes.significance import PAIRED_BOOTSTRAP, compare, mcnemar_exact, paired_bootstrap

# ------------------------------------------------------------------------------------------- references


def binomial_p(a_only: int, b_only: int) -> float:
    """The exact two-sided binomial test of a_only successes in a_only + b_only trials at 1/2, by hand:
    the total probability of every outcome no more likely than the one observed (exact fractions)."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    observed = math.comb(n, a_only)
    tail = sum(Fraction(math.comb(n, k), 2**n) for k in range(n + 1) if math.comb(n, k) <= observed)
    return float(min(tail, Fraction(1)))


def percentile(values: list[float], q: float) -> float:
    """numpy's default ('linear') percentile, by hand: interpolate between the two nearest order statistics."""
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def plain_paired_bootstrap(a: list[float], b: list[float], n_boot: int, seed: int) -> list[float]:
    """One resample at a time: the same n indices for both models, drawn with replacement from
    ``default_rng(seed)``; the difference of the two means, then the 2.5th and 97.5th percentiles."""
    rng = np.random.default_rng(seed)
    n = len(a)
    differences = []
    for _ in range(n_boot):
        picks = [int(i) for i in rng.integers(0, n, n)]
        differences.append(sum(a[i] for i in picks) / n - sum(b[i] for i in picks) / n)
    return [percentile(differences, 2.5), percentile(differences, 97.5)]


def plain_group_mean_ci(groups: dict[str, list[float]], n_boot: int, seed: int) -> list[float]:
    """The mean over groups resampled within each group (group after group, in name order, from one
    generator), then the percentiles of the per-resample means over groups."""
    rng = np.random.default_rng(seed)
    per_group = []
    for name in sorted(groups):
        values = groups[name]
        n = len(values)
        per_group.append([sum(values[int(i)] for i in rng.integers(0, n, n)) / n for _ in range(n_boot)])
    means = [sum(g[r] for g in per_group) / len(per_group) for r in range(n_boot)]
    return [percentile(means, 2.5), percentile(means, 97.5)]


# ------------------------------------------------------------------------------------------- McNemar


@pytest.mark.parametrize(
    ("a_only", "b_only", "both", "neither"),
    [(0, 0, 5, 3), (1, 0, 0, 0), (3, 1, 10, 2), (1, 3, 0, 0), (7, 7, 2, 2), (12, 2, 30, 9), (0, 25, 1, 0)],
)
def test_mcnemar_exact_p_equals_the_binomial_test_by_hand(a_only, b_only, both, neither):
    decisions = [(True, False)] * a_only + [(False, True)] * b_only
    decisions += [(True, True)] * both + [(False, False)] * neither
    random.Random(a_only * 31 + b_only).shuffle(decisions)  # order does not matter
    got = mcnemar_exact([a for a, _ in decisions], [b for _, b in decisions])
    assert got[:2] == (a_only, b_only)
    assert got[2] == pytest.approx(binomial_p(a_only, b_only), rel=1e-12)


def test_mcnemar_known_values():
    # 12 vs 2 discordant: 2 × P(X ≤ 2), X ~ Bin(14, 1/2) = 2 × (1 + 14 + 91) / 16384
    assert mcnemar_exact([True] * 12 + [False] * 2, [False] * 12 + [True] * 2)[2] == pytest.approx(
        212 / 16384
    )
    assert mcnemar_exact([], []) == (0, 0, 1.0)


# ------------------------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("cells", [10_000_000, 100])  # one block of resamples, and many small blocks
def test_paired_bootstrap_equals_a_plain_loop(cells, monkeypatch):
    monkeypatch.setattr(metrics, "_CELLS", cells)
    draw = random.Random(5)
    a = [float(draw.random() < 0.7) for _ in range(23)]
    b = [float(draw.random() < 0.5) for _ in range(23)]
    difference, ci = paired_bootstrap(a, b, n_boot=600, seed=11)
    assert difference == pytest.approx(sum(a) / 23 - sum(b) / 23)
    assert ci == pytest.approx(plain_paired_bootstrap(a, b, 600, 11), abs=1e-12)


def test_paired_bootstrap_is_paired():
    """Two models that always agree differ by 0 in every resample; an unpaired bootstrap would not say so."""
    same = [1.0, 0.0, 1.0, 1.0, 0.0] * 4
    assert paired_bootstrap(same, same, 1000) == (0.0, [0.0, 0.0])
    assert paired_bootstrap([], [], 1000) == (None, None)
    assert paired_bootstrap([1.0], [0.0], 0) == (1.0, None)


def test_compare_uses_only_the_items_both_answered():
    a = [(True, 1.0), None, (True, 1.0), (False, 0.0), (True, 1.0)]
    b = [(False, 0.0), (True, 1.0), None, (False, 0.0), (True, 1.0)]
    got = compare("pairs", 0, 1, a, b, n_boot=200)
    assert got["n"] == 3 and (got["a_only"], got["b_only"]) == (1, 0)
    assert got["difference"] == pytest.approx(1 / 3)
    assert got["ci95"] == pytest.approx(plain_paired_bootstrap([1.0, 0.0, 1.0], [0.0, 0.0, 1.0], 200, 0))
    assert (got["decision"], got["metric"], got["p_value"]) == ("correct", "accuracy", 1.0)


# ------------------------------------------------------------------------------------------- N models, CLI

SENTENCES = [
    "The keys to the cabinet are on the table.",
    "She went to the market to buy bread.",
    "I drink a cup of coffee every morning.",
    "The cat sat on the mat near the door.",
    "He is a doctor at the hospital.",
    "Monday comes after Sunday and before Tuesday.",
    "The weather is nice today in Berlin.",
    "Paris is the capital of France.",
    "The cat sat on the mat.",
    "She went to the house to buy milk and apples.",
]


def _swapped(sentence: str, at: int) -> str:
    words = sentence.rstrip(".").split()
    at %= len(words) - 1
    words[at], words[at + 1] = words[at + 1], words[at]
    return " ".join(words) + "."


PAIRS_N = [(s, _swapped(s, n), "abc"[n % 3]) for n, s in enumerate(SENTENCES)] + [
    (s, _swapped(s, n + 2), "abc"[n % 3]) for n, s in enumerate(SENTENCES)
]


@pytest.fixture(scope="module")
def third_bert(tmp_path_factory):
    from tiny_models import save_bert

    return save_bert(tmp_path_factory.mktemp("tiny-bert-c"), seed=7)


def _items_outcomes(doc: dict, key: str, scale: float = 1.0) -> list[list[tuple[bool, float] | None]]:
    """Each model's (decision, value) per item, read from the document's items (``key`` of each result)."""
    out: list[list[tuple[bool, float] | None]] = [[] for _ in doc["models"]]
    for item in doc["items"]:
        for m, result in enumerate(item["results"]):
            if "error" in result or "skipped" in result:
                out[m].append(None)
            else:
                hit = bool(result[key])
                out[m].append((hit, scale * hit))
    return out


def _check_comparisons(doc: dict, key: str, decision: str, metric: str, scale: float = 1.0) -> None:
    outcomes = _items_outcomes(doc, key, scale)
    pairs = [(i, j) for i in range(len(doc["models"])) for j in range(i + 1, len(doc["models"]))]
    assert [c["models"] for c in doc["comparisons"]] == [list(p) for p in pairs]
    for c in doc["comparisons"]:
        i, j = c["models"]
        both = [(x, y) for x, y in zip(outcomes[i], outcomes[j], strict=True) if x and y]
        a_only = sum(1 for x, y in both if x[0] and not y[0])
        b_only = sum(1 for x, y in both if y[0] and not x[0])
        assert (c["decision"], c["metric"], c["n"]) == (decision, metric, len(both))
        assert (c["a_only"], c["b_only"]) == (a_only, b_only)
        assert c["p_value"] == pytest.approx(binomial_p(a_only, b_only), rel=1e-12)
        xs, ys = [x[1] for x, _ in both], [y[1] for _, y in both]
        assert c["difference"] == pytest.approx(sum(xs) / len(xs) - sum(ys) / len(ys))
        assert c["ci95"] == pytest.approx(plain_paired_bootstrap(xs, ys, PAIRED_BOOTSTRAP, 0), abs=1e-9)


def test_pairs_three_models_json(bert_dir, roberta_dir, third_bert, tmp_path):
    path = write_tsv(tmp_path / "p.tsv", PAIRS_N)
    models = [str(bert_dir), str(roberta_dir), str(third_bert)]
    proc = run("pairs", path, "-m", models[0], "--compare", *models[1:], "--json", "--bootstrap", "50")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["models"] == models and len(doc["summary"]) == 3
    assert [i["line"] for i in doc["items"]] == list(range(1, len(PAIRS_N) + 1))
    for item in doc["items"]:
        assert len(item["results"]) == 3
        correct = [r["correct"] for r in item["results"]]
        assert correct == [r["pll_good"] > r["pll_bad"] for r in item["results"]]
        assert item["disagree"] == (len(set(correct)) > 1)
        margins = [r["pll_good"] - r["pll_bad"] for r in item["results"]]
        assert item["differences"] == pytest.approx([margins[1] - margins[0], margins[2] - margins[0]])
        assert item["difference"] == pytest.approx(margins[1] - margins[0])
    for m, summary in enumerate(doc["summary"]):
        correct = [i["results"][m]["correct"] for i in doc["items"]]
        assert summary["overall"]["accuracy"] == pytest.approx(sum(correct) / len(correct))
    assert doc["disagreements"] == [i["line"] for i in doc["items"] if i["disagree"]]
    _check_comparisons(doc, "correct", "correct", "accuracy")
    # the flag repeated says the same
    again = run(
        "pairs",
        path,
        "-m",
        models[0],
        "--compare",
        models[1],
        "--compare",
        models[2],
        "--json",
        "--bootstrap",
        "50",
    )
    assert again.stdout == proc.stdout


def test_probe_three_models_json_and_markdown(bert_dir, roberta_dir, third_bert, tmp_path):
    path = write_tsv(tmp_path / "c.tsv", [*CLOZE, *CLOZE])
    models = [str(bert_dir), str(third_bert), str(roberta_dir)]
    proc = run("probe", path, "-m", models[0], "--compare", *models[1:], "--json", "-k", "3")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["models"] == models
    for m, summary in enumerate(doc["summary"]):
        hits = [i["results"][m]["hit@1"] for i in doc["items"]]
        assert summary["overall"]["p@1"] == pytest.approx(sum(hits) / len(hits))
    _check_comparisons(doc, "hit@1", "hit@1", "p@1")
    markdown = run("probe", path, "-m", models[0], "--compare", *models[1:], "--markdown", "-k", "3").stdout
    for n, model in enumerate(models):
        assert f"| {'ABC'[n]} | {model} |" in markdown
    assert "| group | n | A | B | C |" in markdown
    for c in doc["comparisons"]:
        i, j = c["models"]
        assert f"| {'ABC'[i]} − {'ABC'[j]} | {c['n']} | {c['difference'] * 100:+.1f} |" in markdown


def test_crows_three_models_compare_the_metric_score(bert_dir, roberta_dir, third_bert, tmp_path):
    path = write_crows(tmp_path / "c.csv", CROWS * 3)
    proc = run("pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), str(third_bert), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # the score: metric.py's 1 when the more stereotyping sentence scored higher; the metric score in %
    _check_comparisons(doc, "score", "prefers_more_stereotyping", "metric_score", scale=100.0)


def test_two_models_keep_their_shape(bert_dir, roberta_dir, tmp_path):
    """--compare B: the document of one --compare as before (summary a list of two, difference B − A,
    disagree), with the comparisons added; no ``differences`` key (that is for three or more)."""
    path = write_tsv(tmp_path / "p.tsv", PAIRS_N[:6])
    doc = json.loads(run("pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), "--json").stdout)
    assert list(doc) == ["models", "format", "summary", "comparisons", "disagreements", "items"]
    assert len(doc["comparisons"]) == 1 and doc["comparisons"][0]["models"] == [0, 1]
    assert all(list(i)[-3:] == ["results", "difference", "disagree"] for i in doc["items"])
    one = json.loads(run("pairs", path, "-m", str(bert_dir), "--json").stdout)
    assert "comparisons" not in one and "disagreements" not in one


def test_three_models_table_fits_80_columns(bert_dir, roberta_dir, third_bert, tmp_path):
    path = write_tsv(tmp_path / "p.tsv", PAIRS_N)
    models = [str(bert_dir), str(roberta_dir), str(third_bert)]
    args = ("pairs", path, "-m", models[0], "--compare", *models[1:], "--bootstrap", "50")
    table = run(*args, "--table")
    assert table.returncode == 0, table.stderr
    doc = json.loads(run(*args, "--json").stdout)
    lines = table.stdout.splitlines()
    legend = [f"  {'ABC'[n]}  {model}" for n, model in enumerate(models)]  # the paths: as long as they are
    assert [line for line in lines if len(line) > 80 and line not in legend] == []
    for n, model in enumerate(models):  # the legend
        assert f"  {'ABC'[n]}  {model}" in lines
    overall = next(line for line in lines if line.startswith("overall"))
    for summary in doc["summary"]:
        block = summary["overall"]
        low, high = block["ci"]["accuracy"]
        assert f"{block['accuracy'] * 100:.1f} [{low * 100:.1f}–{high * 100:.1f}]" in overall
    for c in doc["comparisons"]:  # a line per pair: n, the difference in points, a_only/b_only
        i, j = c["models"]
        line = next(x for x in lines if x.startswith(f"{'ABC'[i]} − {'ABC'[j]}"))
        assert line.split()[3] == str(c["n"])
        assert f"{c['difference'] * 100:+.1f}" in line and f"{c['a_only']}/{c['b_only']}" in line


def test_bootstrap_zero_leaves_the_difference_without_interval(bert_dir, roberta_dir, tmp_path):
    path = write_tsv(tmp_path / "p.tsv", PAIRS_N[:4])
    doc = json.loads(
        run(
            "pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), "--json", "--bootstrap", "0"
        ).stdout
    )
    assert doc["comparisons"][0]["ci95"] is None and doc["comparisons"][0]["difference"] is not None


def _app_of(monkeypatch, argv: list[str]):
    """What ``mlm-tui ARGV`` on a terminal opens (the app, not run), and the exit status."""
    from mlm_tui.cli import main, pairs, tui

    opened = []
    monkeypatch.setattr(pairs, "wants_app", lambda args: True)  # as on a terminal
    monkeypatch.setattr(tui, "_run_app", lambda app, journal: opened.append(app) or 0)
    return main(argv), opened


async def test_results_screen_still_opens_with_two_models(monkeypatch, bert_dir, roberta_dir, tmp_path):
    from test_app_results import filled

    path = write_tsv(tmp_path / "p.tsv", PAIRS_N[:3])
    argv = ["pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), "--export-dir", str(tmp_path)]
    status, opened = _app_of(monkeypatch, argv)
    assert status == 0 and len(opened) == 1
    async with opened[0].run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        assert len(screen.models) == 2 and len(screen.summaries) == 2
        assert [len(item["results"]) for item in screen.items] == [2, 2, 2]


async def test_results_screen_opens_with_three_models(monkeypatch, bert_dir, roberta_dir, tmp_path):
    """--compare B C on a terminal: one screen, every model on every item, a column each."""
    from test_app_results import filled

    path = write_tsv(tmp_path / "p.tsv", PAIRS_N[:3])
    argv = ["pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), str(bert_dir)]
    status, opened = _app_of(monkeypatch, [*argv, "--export-dir", str(tmp_path)])
    assert status == 0 and len(opened) == 1
    async with opened[0].run_test(size=(120, 40)) as pilot:
        screen = await filled(pilot)
        assert len(screen.models) == 3 and len(screen.summaries) == 3
        assert [len(item["results"]) for item in screen.items] == [3, 3, 3]
        # a line per pair under the summary: McNemar's p and the difference, as --json gives them
        shown = str(screen.query_one("#results-comparisons").render()).splitlines()
        saved = screen._write(screen.items, screen._run_summaries, stem="p")
    doc = json.loads(run(*argv, "--json").stdout)
    assert [line.split(":")[0] for line in shown] == ["A − B", "A − C", "B − C"]
    for line, pair in zip(shown, doc["comparisons"], strict=True):
        assert f"McNemar p {pair['p_value']:.3g} ({pair['a_only']}/{pair['b_only']} of {pair['n']})" in line
        assert f"Δ accuracy {pair['difference'] * 100:+.1f}" in line
    exported = json.loads(saved[0].read_text())
    assert exported["comparisons"] == doc["comparisons"]  # the export holds them too
    markdown = saved[1].read_text()
    assert "McNemar" in markdown
    # the export says what it is: the file, every model with its backend and dtype, the version
    head = markdown.split("\n\n", 2)
    assert head[0] == "# p.tsv (plain)" and f"- **File:** `{path}`" in head[1]
    for n, model in enumerate([bert_dir, roberta_dir, bert_dir], start=1):
        assert f"- **Model {n}:** `{model}`" in head[1] and "float32" in head[1]
    assert "- **mlm-tui:** " in head[1]
    # the same numbers as --json gives for the same three models
    for shown, item in zip(sorted(screen.items, key=lambda i: i["line"]), doc["items"], strict=True):
        for on_screen, printed in zip(shown["results"], item["results"], strict=True):
            assert on_screen["correct"] == printed["correct"]
            assert on_screen["pll_good"] == pytest.approx(printed["pll_good"], abs=1e-4)


# ------------------------------------------------------------------------------------------- BLiMP by phenomenon


def _blimp_rows() -> list[dict]:
    with open("examples/agreement.jsonl", encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


@pytest.mark.parametrize("group_by", ["field", "linguistics_term", "UID"])
def test_blimp_group_by_on_the_example_file(group_by, bert_dir):
    proc = run("pairs", "examples/agreement.jsonl", "-m", str(bert_dir), "--json", "--group-by", group_by)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = _blimp_rows()
    groups: dict[str, list[float]] = {}
    for item in doc["items"]:  # the file's own field for each line, and the item's outcome
        groups.setdefault(rows[item["line"] - 1][group_by], []).append(float(item["correct"]))
    summary = doc["summary"]
    assert list(summary["groups"]) == sorted(groups)
    for name, values in groups.items():
        assert summary["groups"][name]["n"] == len(values)
        assert summary["groups"][name]["accuracy"] == pytest.approx(sum(values) / len(values))
    mean = summary["mean_over_groups"]
    assert mean["groups"] == len(groups)
    assert mean["accuracy"] == pytest.approx(sum(sum(v) / len(v) for v in groups.values()) / len(groups))
    assert mean["ci"]["accuracy"] == pytest.approx(
        plain_group_mean_ci(groups, metrics.BOOTSTRAP, 0), abs=1e-12
    )
    table = run("pairs", "examples/agreement.jsonl", "-m", str(bert_dir), "--table", "--group-by", group_by)
    assert all(any(line.startswith(name) for line in table.stdout.splitlines()) for name in groups)


def test_blimp_group_by_counts_known_outcomes():
    """A constructed set whose outcomes are known: the tally groups them by the chosen field."""
    rows = [
        ("morphology", "agreement", "u1", True),
        ("morphology", "agreement", "u1", False),
        ("morphology", "irregular", "u2", True),
        ("syntax", "filler_gap", "u3", False),
        ("syntax", "filler_gap", "u3", False),
        ("syntax", "island", "u4", True),
        ("semantics", "quantifiers", "u5", True),
    ]
    expected = {
        "field": {"morphology": 2 / 3, "syntax": 1 / 3, "semantics": 1.0},
        "linguistics_term": {
            "agreement": 0.5,
            "irregular": 1.0,
            "filler_gap": 0.0,
            "island": 1.0,
            "quantifiers": 1.0,
        },
        "group": {"u1": 0.5, "u2": 1.0, "u3": 0.0, "u4": 1.0, "u5": 1.0},
    }
    for key, accuracies in expected.items():
        tally = Tally("pairs", group_by=key)
        for line, (field, term, uid, correct) in enumerate(rows, start=1):
            tally.add(
                {"line": line, "group": uid, "field": field, "linguistics_term": term, "correct": correct}
            )
        tally.add({"line": 99, "error": "too long"})
        summary = tally.summary(0)
        assert {g: b["accuracy"] for g, b in summary["groups"].items()} == pytest.approx(accuracies)
        mean = summary["mean_over_groups"]
        assert mean["accuracy"] == pytest.approx(sum(accuracies.values()) / len(accuracies))
        assert summary["failed"] == 1 and summary["overall"]["n"] == len(rows)


def test_blimp_group_by_on_a_constructed_file(bert_dir, roberta_dir, tmp_path):
    """A BLiMP file written here; two models; each model's summary by phenomenon equals a group-by of
    its own per-item results."""
    lines = []
    terms = ["agreement", "agreement", "word_order", "word_order", "word_order", "islands"]
    for n, (good, bad, _group) in enumerate(PAIRS_N[:12]):
        term = terms[n % len(terms)]
        field = "syntax" if term != "agreement" else "morphology"
        lines.append(
            json.dumps(
                {
                    "sentence_good": good,
                    "sentence_bad": bad,
                    "UID": f"p{n % 4}",
                    "field": field,
                    "linguistics_term": term,
                }
            )
        )
    path = tmp_path / "blimp.jsonl"
    path.write_text("\n".join(lines) + "\n")
    args = ("pairs", str(path), "-m", str(bert_dir), "--compare", str(roberta_dir), "--bootstrap", "30")
    doc = json.loads(run(*args, "--json", "--group-by", "linguistics_term").stdout)
    for m, summary in enumerate(doc["summary"]):
        groups: dict[str, list[float]] = {}
        for item in doc["items"]:
            groups.setdefault(item["linguistics_term"], []).append(float(item["results"][m]["correct"]))
        assert {g: b["accuracy"] for g, b in summary["groups"].items()} == pytest.approx(
            {g: sum(v) / len(v) for g, v in groups.items()}
        )
        assert summary["mean_over_groups"]["ci"]["accuracy"] == pytest.approx(
            plain_group_mean_ci(groups, 30, 0), abs=1e-12
        )
    markdown = run(*args, "--markdown", "--group-by", "field").stdout
    assert "| morphology |" in markdown and "| syntax |" in markdown and "| p0 |" not in markdown


def test_group_by_needs_blimp_and_the_field(bert_dir, tmp_path):
    plain = write_tsv(tmp_path / "p.tsv", PAIRS_N[:2])
    assert_one_line_error(
        run("pairs", plain, "-m", str(bert_dir), "--group-by", "field", "--table"), 2, "BLiMP"
    )
    crows = write_crows(tmp_path / "c.csv", CROWS)
    assert_one_line_error(run("pairs", crows, "-m", str(bert_dir), "--group-by", "UID", "--json"), 2, "BLiMP")
    blimp = tmp_path / "b.jsonl"
    blimp.write_text(json.dumps({"sentence_good": "A b.", "sentence_bad": "B a.", "UID": "x"}) + "\n")
    proc = run("pairs", str(blimp), "-m", str(bert_dir), "--group-by", "linguistics_term", "--table")
    assert_one_line_error(proc, 2, "'linguistics_term'")


def test_report_letters_and_short_names():
    assert [report.letter(i) for i in (0, 2, 25, 26)] == ["A", "C", "Z", "M27"]
    assert report.short_name("org/model-name") == "model-name" and report.short_name("/a/b/") == "b"
