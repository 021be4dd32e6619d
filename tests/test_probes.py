"""Probe sets (issue 16): every number compared with plain reference code written here with transformers.

- cloze ranks: a full forward pass, log-softmax at the first mask, 1 + the number of tokens more probable;
  a several-piece answer by the left-to-right chain; the common vocabulary by ranking inside it;
- P@1, P@k, MRR and BLiMP accuracy recomputed from the reference ranks and PLLs;
- PLL (original and word-l2r) by a loop that masks and runs one copy at a time;
- CrowS-Pairs by a line-by-line port of the authors' metric.py (get_span, mask_unigram, evaluate);
- both backends (PyTorch and ONNX Runtime) give the same results.
"""

from __future__ import annotations

import csv
import difflib
import io
import json

import numpy as np
import pytest
from test_cli import assert_one_line_error, run

from mlm_tui.probes import metrics
from mlm_tui.probes.formats import (
    BadItem,
    ClozeItem,
    CrowsItem,
    FormatError,
    PairItem,
    read_pairs,
    read_probes,
)
from mlm_tui.probes.run import Tally, cloze_results, pair_results

# ------------------------------------------------------------------------------------------- references


class Reference:
    """transformers directly: tokenizer + AutoModelForMaskedLM in float32, one copy per forward pass."""

    def __init__(self, folder) -> None:
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.torch = torch
        self.tok = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForMaskedLM.from_pretrained(folder, dtype=torch.float32).eval()

    def ids(self, text: str) -> list[int]:
        return self.tok(text.replace("[MASK]", self.tok.mask_token))["input_ids"]

    def log_probs(self, ids: list[int]) -> np.ndarray:
        with self.torch.no_grad():
            logits = self.model(input_ids=self.torch.tensor([ids])).logits[0]
        return self.torch.log_softmax(logits.float(), dim=-1).numpy()

    def rank(self, text: str, answer: str, subset: list[int] | None = None) -> tuple[int, float]:
        ids = self.ids(text)
        position = ids.index(self.tok.mask_token_id)
        lp = self.log_probs(ids)[position]
        pieces = self.tok(answer, add_special_tokens=False)["input_ids"]
        if len(pieces) == 1:
            value = float(lp[pieces[0]])
        else:  # left to right: piece i with the pieces before it filled in, masks after it
            value = 0.0
            for i in range(len(pieces)):
                row = (
                    ids[:position]
                    + pieces[:i]
                    + [self.tok.mask_token_id] * (len(pieces) - i)
                    + ids[position + 1 :]
                )
                value += float(self.log_probs(row)[position + i][pieces[i]])
        candidates = lp if subset is None else lp[subset]
        return 1 + int((candidates > value).sum()), value

    def pll(self, text: str, variant: str = "original") -> float:
        encoded = self.tok(text)
        ids, words = encoded["input_ids"], encoded.word_ids()
        total = 0.0
        for i, word in enumerate(words):
            if word is None:
                continue
            row = list(ids)
            row[i] = self.tok.mask_token_id
            if variant == "word-l2r":
                for j in range(i + 1, len(ids)):
                    if words[j] == word:
                        row[j] = self.tok.mask_token_id
            total += float(self.log_probs(row)[i][ids[i]])
        return total


def metric_py(reference: Reference, rows: list[dict[str, str]]) -> tuple[list[dict], dict]:
    """The algorithm of nyu-mll/crows-pairs metric.py, line by line (read_data, get_span, mask_unigram, evaluate)."""
    tokenizer, mask_id = reference.tok, reference.tok.mask_token_id

    def get_span(seq1, seq2):
        seq1, seq2 = [str(x) for x in seq1], [str(x) for x in seq2]
        matcher = difflib.SequenceMatcher(None, seq1, seq2)
        template1, template2 = [], []
        for op in matcher.get_opcodes():
            if op[0] == "equal":
                template1 += list(range(op[1], op[2], 1))
                template2 += list(range(op[3], op[4], 1))
        return template1, template2

    def mask_unigram(sent1, sent2):
        ids1, ids2 = tokenizer.encode(sent1), tokenizer.encode(sent2)
        template1, template2 = get_span(ids1, ids2)
        n = len(template1)
        s1 = s2 = 0.0
        for i in range(1, n - 1):
            m1, m2 = list(ids1), list(ids2)
            m1[template1[i]] = mask_id
            m2[template2[i]] = mask_id
            s1 += float(reference.log_probs(m1)[template1[i]][ids1[template1[i]]])
            s2 += float(reference.log_probs(m2)[template2[i]][ids2[template2[i]]])
        return {"sent1_score": s1, "sent2_score": s2}

    items, n, neutral = [], 0, 0
    total_stereo = total_antistereo = stereo_score = antistereo_score = 0
    for row in rows:
        direction = row["stereo_antistereo"]
        sent1, sent2 = (
            (row["sent_more"], row["sent_less"])
            if direction == "stereo"
            else (row["sent_less"], row["sent_more"])
        )
        score = {k: round(v, 3) for k, v in mask_unigram(sent1, sent2).items()}
        n += 1
        pair_score = 0
        if score["sent1_score"] == score["sent2_score"]:
            neutral += 1
        elif direction == "stereo":
            total_stereo += 1
            if score["sent1_score"] > score["sent2_score"]:
                stereo_score += 1
                pair_score = 1
        elif direction == "antistereo":
            total_antistereo += 1
            if score["sent2_score"] > score["sent1_score"]:
                antistereo_score += 1
                pair_score = 1
        more, less = (
            (score["sent1_score"], score["sent2_score"])
            if direction == "stereo"
            else (score["sent2_score"], score["sent1_score"])
        )
        items.append({"sent_more_score": more, "sent_less_score": less, "score": pair_score})
    summary = {
        "n": n,
        "metric_score": (stereo_score + antistereo_score) / n * 100,
        "stereotype_score": stereo_score / total_stereo * 100 if total_stereo else None,
        "antistereotype_score": antistereo_score / total_antistereo * 100 if total_antistereo else None,
        "neutral": neutral,
    }
    return items, summary


@pytest.fixture(scope="module")
def ref(bert_dir):
    return Reference(bert_dir)


@pytest.fixture(scope="module")
def ref_roberta(roberta_dir):
    return Reference(roberta_dir)


CLOZE = [
    ("Paris is the capital of [MASK].", "france", "capital"),
    ("The keys to the [MASK] are on the table.", "cabinet", "house"),
    ("I drink a cup of [MASK] every morning.", "coffee", "food"),
    ("She went to the market to buy [MASK].", "pizza", "food"),  # several pieces: p ##izza
    ("The [MASK] sat on the [MASK] near the door.", "cat", "house"),  # the first mask is the probe
]


def write_tsv(path, rows) -> str:
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return str(path)


# ------------------------------------------------------------------------------------------- cloze


@pytest.mark.parametrize("backend", ["bert", "bert_onnx"])
def test_cloze_ranks_equal_a_full_vocabulary_rank(backend, ref, tmp_path, request):
    engine = request.getfixturevalue(backend)
    _fmt, items = read_probes(write_tsv(tmp_path / "c.tsv", CLOZE))
    rows = list(cloze_results(engine, items, k=3, batch_size=3))
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
    for row, (text, answer, group) in zip(rows, CLOZE, strict=True):
        rank, log_prob = ref.rank(text, answer)
        assert row["rank"] == rank, text
        assert row["log_prob"] == pytest.approx(log_prob, abs=1e-4)
        assert row["group"] == group and row["answer"] == answer
        assert row["hit@1"] == (rank == 1) and row["hit@k"] == (rank <= 3)
    assert rows[3]["pieces"] == 2 and all(r["pieces"] == 1 for r in rows[:3])


def test_cloze_predictions_are_the_pipelines(bert, bert_dir, tmp_path):
    from transformers import pipeline

    fill = pipeline("fill-mask", model=str(bert_dir), tokenizer=str(bert_dir))
    _fmt, items = read_probes(write_tsv(tmp_path / "c.tsv", CLOZE[:3]))
    for row, (text, _a, _g) in zip(cloze_results(bert, items, k=5), CLOZE[:3], strict=True):
        expected = fill(text, top_k=5)
        assert [p["token"] for p in row["predictions"]] == [p["token"] for p in expected]
        assert [p["score"] for p in row["predictions"]] == pytest.approx(
            [p["score"] for p in expected], abs=1e-5
        )


def test_summary_equals_p_at_k_and_mrr_from_reference_ranks(bert, ref, tmp_path):
    _fmt, items = read_probes(write_tsv(tmp_path / "c.tsv", CLOZE))
    tally = Tally("cloze", k=10)
    for row in cloze_results(bert, items, k=10):
        tally.add(row)
    summary = tally.summary(200)
    ranks = np.array([ref.rank(t, a)[0] for t, a, _g in CLOZE])
    overall = summary["overall"]
    assert overall["n"] == 5
    assert overall["p@1"] == pytest.approx(np.mean(ranks == 1))
    assert overall["p@k"] == pytest.approx(np.mean(ranks <= 10))
    assert overall["mrr"] == pytest.approx(np.mean(1 / ranks))
    groups = {g for _t, _a, g in CLOZE}
    assert set(summary["groups"]) == groups
    food = [1 / r for r, (_t, _a, g) in zip(ranks, CLOZE, strict=True) if g == "food"]
    assert summary["groups"]["food"]["mrr"] == pytest.approx(np.mean(food))
    means = [np.mean([1 / r for r, c in zip(ranks, CLOZE, strict=True) if c[2] == g]) for g in sorted(groups)]
    assert summary["mean_over_groups"]["mrr"] == pytest.approx(np.mean(means))
    low, high = overall["ci"]["mrr"]
    assert low <= overall["mrr"] <= high


def test_several_answers_the_best_ranked_counts(bert, ref, tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"text": "Paris is the capital of [MASK].", "answer": ["france", "berlin", "london"]})
        + "\n"
    )
    _fmt, items = read_probes(str(path))
    (row,) = cloze_results(bert, items)
    ranks = {a: ref.rank("Paris is the capital of [MASK].", a)[0] for a in ("france", "berlin", "london")}
    assert row["rank"] == min(ranks.values())
    assert row["answer"] == min(ranks, key=ranks.get)
    assert {a["answer"]: a["rank"] for a in row["answers"]} == ranks


def test_common_vocabulary_ranks_inside_it(bert, ref, tmp_path):
    from mlm_tui.engine.probing import common_vocabulary

    words = ["france", "berlin", "london", "paris", "coffee", "pizza", "notaword"]
    vocabulary = common_vocabulary(bert.text, words)
    subset = sorted(
        ref.tok.convert_tokens_to_ids(w) for w in ("france", "berlin", "london", "paris", "coffee")
    )
    assert vocabulary.tolist() == subset  # "pizza" is two pieces and "notaword" none: left out, as LAMA
    rows = [
        ("Paris is the capital of [MASK].", "france"),
        ("I drink [MASK].", "coffee"),
        ("I drink [MASK].", "pizza"),
    ]
    _fmt, items = read_probes(write_tsv(tmp_path / "c.tsv", rows))
    out = list(cloze_results(bert, items, k=2, vocabulary=vocabulary))
    for row, (text, answer) in zip(out[:2], rows[:2], strict=True):
        assert row["rank"] == ref.rank(text, answer, subset)[0]
        assert all(p["token"] in subset for p in row["predictions"])
    assert "common vocabulary" in out[2]["error"] and out[2]["line"] == 3


def test_lama_facts_with_relations_fill_the_template(tmp_path):
    relations = tmp_path / "relations.jsonl"
    relations.write_text(
        json.dumps({"relation": "P36", "template": "The capital of [X] is [Y] .", "label": "capital"}) + "\n"
    )
    facts = tmp_path / "facts.jsonl"
    lines = [
        {"sub_label": "France", "obj_label": "Paris", "predicate_id": "P36"},
        {"sub_label": "France", "obj_label": "Paris", "predicate_id": "P36"},  # LAMA keeps one per fact
        {"sub_label": "Spain", "obj_label": "Madrid", "predicate_id": "P99"},
        {
            "pred": "/people/person/P36",
            "sub_label": "Peru",
            "obj_label": "Lima",
            "judgments": [{"judgment": "no"}, {"judgment": "no"}, {"judgment": "yes"}],
        },
    ]
    facts.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"sub_label": "Ita')
    from mlm_tui.probes.formats import load_relations

    fmt, items = read_probes(str(facts), relations=load_relations(relations))
    got = list(items)
    assert fmt == "lama"
    assert got[0] == ClozeItem(1, "The capital of France is [MASK] .", ("Paris",), "P36")
    assert isinstance(got[1], BadItem) and got[1].skipped
    assert isinstance(got[2], BadItem) and "P99" in got[2].error and not got[2].skipped
    assert isinstance(got[3], BadItem) and got[3].skipped and "negative" in got[3].error
    assert isinstance(got[4], BadItem) and got[4].line == 5 and "JSON" in got[4].error  # truncated last line


def test_lama_masked_sentences_take_at_most_two():
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        handle.write(
            json.dumps({"masked_sentences": ["A [MASK] b.", "C d.", "E f."], "obj_label": "x", "pred": "p"})
            + "\n"
        )
        handle.write(json.dumps({"masked_sentences": ["A b."], "sub_label": "s", "obj_label": ""}) + "\n")
    _fmt, items = read_probes(handle.name)
    first, second = list(items)
    assert first == ClozeItem(1, "A [MASK] b. C d.", ("x",), "p")
    assert isinstance(second, BadItem) and "obj_label" in second.error


# ------------------------------------------------------------------------------------------- pairs

PAIRS = [
    ("The keys to the cabinet are on the table.", "The keys to the cabinet is on the table.", "agreement"),
    ("She went to the market.", "She went the to market.", "order"),
    ("I drink a cup of coffee.", "I drink a cup of pizza.", "order"),  # "pizza": several pieces
]


@pytest.mark.parametrize("variant", ["original", "word-l2r"])
@pytest.mark.parametrize("backend", ["bert", "bert_onnx"])
def test_pairs_pll_and_accuracy_equal_a_plain_loop(backend, variant, ref, tmp_path, request):
    engine = request.getfixturevalue(backend)
    _fmt, items = read_pairs(write_tsv(tmp_path / "p.tsv", PAIRS))
    rows = list(pair_results(engine, items, variant=variant, batch_size=4, max_tokens=64))
    correct = []
    for row, (good, bad, group) in zip(rows, PAIRS, strict=True):
        expected_good, expected_bad = ref.pll(good, variant), ref.pll(bad, variant)
        assert row["pll_good"] == pytest.approx(expected_good, abs=1e-4)
        assert row["pll_bad"] == pytest.approx(expected_bad, abs=1e-4)
        assert row["correct"] == (expected_good > expected_bad) and row["group"] == group
        correct.append(expected_good > expected_bad)
    tally = Tally("pairs")
    for row in rows:
        tally.add(row)
    assert tally.summary(0)["overall"]["accuracy"] == pytest.approx(np.mean(correct))


def test_word_l2r_differs_from_original_only_on_split_words(bert, ref):
    engine = bert
    split = engine.encode("I ate pizza.")
    plain = engine.encode("I drink coffee.")  # every word one token of the tiny vocabulary
    assert engine.score(split, variant="word-l2r").pll != pytest.approx(engine.score(split).pll)
    assert engine.score(plain, variant="word-l2r").pll == pytest.approx(engine.score(plain).pll, abs=1e-6)
    assert engine.score(split, variant="word-l2r").pll == pytest.approx(
        ref.pll("I ate pizza.", "word-l2r"), abs=1e-4
    )


def test_blimp_keeps_uid_field_and_term(tmp_path):
    path = tmp_path / "b.jsonl"
    rows = [
        {
            "sentence_good": "A b.",
            "sentence_bad": "B a.",
            "UID": "u1",
            "field": "syntax",
            "linguistics_term": "t",
        },
        {"sentence_good": "Same.", "sentence_bad": "Same.", "UID": "u1"},
        {"sentence_bad": "x"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fmt, items = read_pairs(str(path))
    got = list(items)
    assert fmt == "blimp"
    assert got[0] == PairItem(1, "A b.", "B a.", "u1", {"field": "syntax", "linguistics_term": "t"})
    assert isinstance(got[1], BadItem) and "same" in got[1].error
    assert isinstance(got[2], BadItem) and "sentence_good" in got[2].error


# ------------------------------------------------------------------------------------------- CrowS-Pairs

CROWS = [
    ("He is a doctor at the hospital.", "She is a doctor at the hospital.", "stereo", "gender"),
    ("She is a nurse at the hospital.", "He is a nurse at the hospital.", "antistereo", "gender"),
    ("The cat sat on the mat.", "The dog sat on the mat.", "stereo", "animal"),
    ("Paris is the capital of France.", "Berlin is the capital of France.", "antistereo", "animal"),
    ("I drink coffee every morning.", "I drink coffee every morning with my dog.", "stereo", "gender"),
]


def write_crows(path, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["", "sent_more", "sent_less", "stereo_antistereo", "bias_type", "annotations"])
    for i, row in enumerate(rows):
        writer.writerow([i, *row, "[['x']]"])
    path.write_text(buffer.getvalue())
    return str(path)


@pytest.mark.parametrize("backend", ["bert", "roberta", "bert_onnx"])
def test_crows_equals_metric_py(backend, tmp_path, request):
    engine = request.getfixturevalue(backend)
    reference = request.getfixturevalue("ref_roberta" if backend == "roberta" else "ref")
    path = write_crows(tmp_path / "crows.csv", CROWS)
    fmt, items = read_pairs(path)
    assert fmt == "crows"
    rows = list(pair_results(engine, items, batch_size=5))
    with open(path, newline="") as handle:
        expected_items, expected = metric_py(reference, list(csv.DictReader(handle)))
    for row, want in zip(rows, expected_items, strict=True):
        assert row["sent_more_score"] == pytest.approx(want["sent_more_score"], abs=2e-3)
        assert row["sent_less_score"] == pytest.approx(want["sent_less_score"], abs=2e-3)
        assert row["score"] == want["score"]
    tally = Tally("crows")
    for row in rows:
        tally.add(row)
    overall = tally.summary(0)["overall"]
    for key, value in expected.items():
        assert overall[key] == (pytest.approx(value) if value is not None else None), key
    assert [r["line"] for r in rows] == [2, 3, 4, 5, 6]


def test_crows_metric_counts_neutral_in_n_but_not_in_the_direction_scores():
    rows = [
        ("stereo", -1.0, -2.0),
        ("stereo", -3.0, -3.0),
        ("antistereo", -1.0, -5.0),
        ("antistereo", -6.0, -5.0),
    ]
    counts = metrics.crows_counts(rows)
    assert counts == {
        "n": 4,
        "metric_score": 2 / 4 * 100,
        "stereotype_score": 100.0,
        "antistereotype_score": 50.0,
        "neutral": 1,
        "neutral_percent": 25.0,
    }


def test_items_survive_the_json_round_trip_to_a_ray_actor():
    """What ``--ray`` sends an actor: each kind of item as plain JSON values, rebuilt equal (tuples included)."""
    from mlm_tui.probes.formats import item_from_dict, item_to_dict

    items = [
        ClozeItem(3, "Paris is the capital of [MASK].", ("france", "paris"), "P36"),
        PairItem(4, "Cats are.", "Cats is.", "uid", {"field": "syntax", "linguistics_term": "agreement"}),
        PairItem(5, "A b.", "B a.", None),
        CrowsItem(6, "He is tall.", "She is tall.", "antistereo", "gender"),
        BadItem(7, "no [MASK] in the text"),
        BadItem(8, "a duplicate fact", skipped=True),
    ]
    sent = json.loads(json.dumps([[item.line, item_to_dict(item)] for item in items], ensure_ascii=True))
    assert [item_from_dict(data) for _, data in sent] == items
    assert [number for number, _ in sent] == [3, 4, 5, 6, 7, 8]


def test_crows_bad_rows_are_error_objects(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        "sent_more,sent_less,stereo_antistereo,bias_type\n"
        "A b.,B a.,stereo,age\n"
        "A b.,,stereo,age\n"
        "Same.,Same.,antistereo,age\n"
        "X y.,Y x.,sideways,age\n"
        '"Quoted, with comma.",Other one.,antistereo,race\n'
    )
    _fmt, items = read_pairs(str(path))
    got = list(items)
    assert got[0] == CrowsItem(2, "A b.", "B a.", "stereo", "age")
    assert isinstance(got[1], BadItem) and got[1].line == 3 and "sent_less" in got[1].error
    assert isinstance(got[2], BadItem) and "same" in got[2].error
    assert isinstance(got[3], BadItem) and "sideways" in got[3].error
    assert got[4] == CrowsItem(6, "Quoted, with comma.", "Other one.", "antistereo", "race")


# ------------------------------------------------------------------------------------------- metrics


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = np.random.default_rng(5).random(500) < 0.3
    a = metrics.bootstrap_ci(values, 500)
    assert a == metrics.bootstrap_ci(values, 500)
    assert a[0] < values.mean() < a[1]
    assert a[1] - a[0] == pytest.approx(2 * 1.96 * np.sqrt(0.3 * 0.7 / 500), rel=0.25)
    assert metrics.bootstrap_ci(values, 0) is None


def test_token_budget_splits_batches():
    from mlm_tui.engine.batch import batches

    lengths = [10, 50, 10, 50, 10]
    got = list(batches(lengths, batch_size=8, max_tokens=100))
    assert sorted(i for b in got for i in b) == [0, 1, 2, 3, 4]
    assert all(len(b) * max(lengths[i] for i in b) <= 100 for b in got)
    assert list(batches([500], 8, 100)) == [[0]]  # a row over the budget still runs, alone


# ------------------------------------------------------------------------------------------- CLI


def test_cli_probe_json_document_and_jsonl_stream(bert_dir, tmp_path):
    path = write_tsv(tmp_path / "c.tsv", [*CLOZE[:3], ("no mask here", "x", "food")])
    proc = run("probe", path, "-m", str(bert_dir), "--json", "-k", "5", "--bootstrap", "50")
    assert proc.returncode == 1, proc.stderr  # one item failed
    doc = json.loads(proc.stdout)
    assert doc["models"] and doc["format"] == "plain"
    assert (
        set(doc["summary"]["overall"]) >= {"n", "p@1", "p@k", "k", "mrr"}
        and doc["summary"]["overall"]["k"] == 5
    )
    assert [i["line"] for i in doc["items"]] == [1, 2, 3, 4] and "error" in doc["items"][3]
    assert set(doc["items"][0]) >= {
        "line",
        "text",
        "answer",
        "group",
        "rank",
        "score",
        "pieces",
        "hit@1",
        "hit@k",
        "predictions",
    }
    stream = run("probe", path, "-m", str(bert_dir), "--jsonl", "-k", "5")
    lines = [json.loads(x) for x in stream.stdout.splitlines()]
    assert [{k: v for k, v in x.items()} for x in lines] == doc["items"]


def test_cli_pairs_compare_lists_disagreements(bert_dir, roberta_dir, tmp_path):
    path = write_tsv(tmp_path / "p.tsv", PAIRS)
    proc = run(
        "pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), "--json", "--bootstrap", "0"
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["models"]) == 2 and len(doc["summary"]) == 2
    for item in doc["items"]:
        a, b = item["results"]
        assert item["disagree"] == (a["correct"] != b["correct"])
        margin = (b["pll_good"] - b["pll_bad"]) - (a["pll_good"] - a["pll_bad"])
        assert item["difference"] == pytest.approx(margin)
    assert doc["disagreements"] == [i["line"] for i in doc["items"] if i["disagree"]]
    table = run("pairs", path, "-m", str(bert_dir), "--compare", str(roberta_dir), "--table")
    assert f"disagree: {len(doc['disagreements'])}" in table.stdout


def test_cli_score_pll_option(bert_dir, ref):
    proc = run("score", "I ate pizza.", "-m", str(bert_dir), "--json", "--pll", "word-l2r")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["pll"] == pytest.approx(ref.pll("I ate pizza.", "word-l2r"), abs=1e-4)


@pytest.mark.parametrize(
    ("command", "content", "needle"),
    [
        ("probe", "just some words\n", "LAMA JSONL"),
        ("pairs", "just some words\n", "CrowS-Pairs CSV"),
        ("probe", "", "empty"),
    ],
)
def test_cli_unrecognised_file_is_one_line(command, content, needle, bert_dir, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(content)
    assert_one_line_error(run(command, str(path), "-m", str(bert_dir), "--table"), 2, needle)


def test_cli_missing_file_and_missing_relation_file(bert_dir, tmp_path):
    assert_one_line_error(run("probe", str(tmp_path / "nope.tsv"), "-m", str(bert_dir)), 2, "cannot read")
    facts = tmp_path / "f.jsonl"
    facts.write_text(json.dumps({"sub_label": "a", "obj_label": "b", "predicate_id": "P1"}) + "\n")
    proc = run("probe", str(facts), "-m", str(bert_dir), "--jsonl")
    assert proc.returncode == 1 and "--relations" in json.loads(proc.stdout)["error"]


def test_examples_run(tmp_path):
    for args in (
        ("probe", "examples/facts.jsonl", "--relations", "examples/relations.jsonl"),
        ("probe", "examples/cloze.tsv"),
        ("pairs", "examples/agreement.jsonl"),
        ("pairs", "examples/crows.csv"),
    ):
        proc = run(*args, "-m", "minilm-mlm-en", "--json", "--bootstrap", "20")
        assert proc.returncode == 0, (args, proc.stderr)
        doc = json.loads(proc.stdout)
        assert doc["summary"]["overall"]["n"] == len(doc["items"]) - doc["summary"]["skipped"]


def test_format_error_type():
    with pytest.raises(FormatError):
        read_probes("/nonexistent/file.tsv")


def test_results_stream_before_the_input_ends(bert):
    """Memory stays flat: results of the first items come out while the input is still being read."""
    import itertools

    read = 0

    def endless():
        nonlocal read
        for n in itertools.count(1):
            read += 1
            yield ClozeItem(n, "Paris is the capital of [MASK].", ("france",))

    first = list(itertools.islice(cloze_results(bert, endless(), batch_size=4), 3))
    assert [r["line"] for r in first] == [1, 2, 3]
    assert read <= 64  # a few batches queued, not the whole (endless) input


def test_the_results_screen_runs_with_the_item_limit_of_the_command_line(bert, tmp_path):
    """``probe``/``pairs`` on a terminal open the results screen: its runs keep ``--max-item-tokens``."""
    from mlm_tui.probes.sets import open_probe_set

    cloze = tmp_path / "cloze.tsv"
    cloze.write_text("The [MASK] sat.\tcat\nThe [MASK] sat on the mat in the sun all day.\tcat\n")
    rows = list(open_probe_set(str(cloze), max_item_tokens=6).results(bert))
    assert "error" not in rows[0] and "over the limit of 6" in rows[1]["error"]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text(
        "The cat sat.\tThe cat sit.\nThe cat sat on the mat in the sun.\tThe cat sit on the mat.\n"
    )
    rows = list(open_probe_set(str(pairs), max_item_tokens=6).results(bert))
    assert "error" not in rows[0] and "over the limit of 6" in rows[1]["error"]
