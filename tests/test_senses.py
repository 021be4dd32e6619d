"""``mlm-tui senses`` and :mod:`mlm_tui.index.senses` against plain code written here.

The reference vectors come from transformers' ``AutoModelForMaskedLM(..., output_hidden_states=True)``
one sentence at a time (not from the index), rounded to float16 as the index stores them; the PCA is a
numpy SVD; k-means and the silhouette are scikit-learn's with the same parameters; the fill is
``pipeline("fill-mask")``'s top answer. The corpus, ``examples/senses.txt``, has 15 sentences of
"bank" the institution (lines 1-15) and 15 of "bank" the river side (lines 16-30).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlm_tui import cli
from mlm_tui.engine import BUNDLED_MODEL as BUNDLED_NAME
from mlm_tui.index import Index, build_index
from mlm_tui.index import senses as core

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "senses.txt"
BUNDLED_MODEL = str(ROOT / "mlm_tui" / "models" / BUNDLED_NAME)
LINES = CORPUS.read_text(encoding="utf-8").splitlines()
TRUTH = [0] * 15 + [1] * 15
LAYERS = [1, 6]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, bundled_engine):
    out = tmp_path_factory.mktemp("senses") / "index"
    build_index(bundled_engine, str(CORPUS), out, LAYERS, show_progress=False, chunk_tokens=100)
    return out


@pytest.fixture(scope="module")
def reference(index_dir):
    """The first piece of "bank" in each line at each layer, from output_hidden_states (float16-rounded)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(BUNDLED_MODEL)
    model = AutoModelForMaskedLM.from_pretrained(BUNDLED_MODEL).eval()
    vectors: dict[int, list[np.ndarray]] = {layer: [] for layer in LAYERS}
    for text in LINES:
        enc = tokenizer(text, return_tensors="pt")
        position = enc.input_ids[0].tolist().index(tokenizer.convert_tokens_to_ids("bank"))
        with torch.no_grad():
            states = model(**enc, output_hidden_states=True).hidden_states
        for layer in LAYERS:
            v = states[layer][0, position].numpy()
            v = (v / np.linalg.norm(v)).astype(np.float16).astype(np.float32)
            vectors[layer].append(v / np.linalg.norm(v))
    return {layer: np.stack(rows) for layer, rows in vectors.items()}


def run_cli(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def by_line(result) -> list[int]:
    labels = [0] * len(LINES)
    for item, label in zip(result.items, result.labels, strict=True):
        labels[item.line - 1] = int(label)
    return labels


def test_clusters_reproduce_the_two_senses(index_dir):
    from sklearn.metrics import adjusted_rand_score

    result = core.senses(Index(index_dir), "bank", 6)
    assert result.total == 30 and not result.sampled
    assert result.k == 2 and result.k_chosen == "silhouette"
    # measured: 1.0 at layer 6 (the last); 0.87 at layers 2-5 and 0.43 at layer 1 with k by silhouette
    assert adjusted_rand_score(TRUTH, by_line(result)) >= 0.8
    assert [c.size for c in result.clusters] == sorted((c.size for c in result.clusters), reverse=True)


@pytest.mark.parametrize("layer", LAYERS)
def test_pca_kmeans_silhouette_equal_a_plain_computation(index_dir, reference, layer):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score

    result = core.senses(Index(index_dir), "bank", layer)
    assert [o.line for o in result.items] == list(range(1, 31))
    x = reference[layer]
    # PCA as a centred SVD: the coordinates up to each axis' sign
    centred = x - x.mean(axis=0)
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    for axis in range(2):
        sign = np.sign(xy[:, axis] @ result.xy[:, axis])
        np.testing.assert_allclose(result.xy[:, axis], sign * xy[:, axis], atol=2e-3)
    ratio = s[:2] ** 2 / (s**2).sum()
    np.testing.assert_allclose(result.explained_variance, ratio, atol=1e-3)
    # k by the best silhouette over 2..8, k-means seeded with n_init=10
    scores = {}
    for k in range(2, 9):
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit(x).labels_
        scores[k] = silhouette_score(x, labels)
    best = max(scores, key=lambda k: scores[k])
    assert result.k == best
    for k, score in scores.items():
        assert result.silhouettes[k] == pytest.approx(score, abs=2e-3)
    labels = KMeans(n_clusters=best, n_init=10, random_state=0).fit(x).labels_
    assert adjusted_rand_score(labels, by_line(result)) == pytest.approx(1.0)


def test_typical_sentences_are_nearest_the_centroid_and_the_fill_is_the_pipelines(index_dir, reference):
    from transformers import pipeline

    fill_mask = pipeline("fill-mask", model=BUNDLED_MODEL, device="cpu")
    from mlm_tui.engine import MaskedLM

    engine = MaskedLM.load(BUNDLED_NAME, backend="torch")
    result = core.senses(Index(index_dir), "bank", 6, k=2, top=3, fill=core.engine_fill(engine))
    x = reference[6]
    labels = np.array(by_line(result))
    for cluster in result.clusters:
        members = np.flatnonzero(labels == cluster.cluster)
        centre = x[members].mean(axis=0)
        nearest = members[np.argsort(np.linalg.norm(x[members] - centre, axis=1), kind="stable")][:3]
        assert [t.occurrence.line for t in cluster.typical] == [int(i) + 1 for i in nearest]
        for t in cluster.typical:
            text = LINES[t.occurrence.line - 1]
            masked = text.replace("bank", fill_mask.tokenizer.mask_token, 1)
            best = fill_mask(masked, top_k=1)[0]
            assert (t.fill, t.fill_probability) == (best["token_str"], pytest.approx(best["score"], abs=1e-4))


def test_a_word_in_pieces_is_its_first_piece_and_the_whole_word_is_masked(index_dir):
    # "willows" is willow + ##s in the bundled vocabulary; "croaked" cr + ##oa + ##ked: each occurs once
    found = core.find_occurrences(Index(index_dir), "Croaked", 6)
    assert found.total == 1
    (item,) = found.items
    text = LINES[item.line - 1]
    assert text[item.start : item.end] == "croaked"
    assert item.position == 2  # [CLS] frogs cr…: the first piece
    assert core.masked_text(item) == text.replace("croaked", "[MASK]")


def test_a_seeded_sample_above_the_limit(index_dir):
    index = Index(index_dir)
    a = core.find_occurrences(index, "bank", 6, limit=10, seed=3)
    b = core.find_occurrences(index, "bank", 6, limit=10, seed=3)
    assert a.total == 30 and len(a.items) == 10 and a.sampled
    assert a.items == b.items
    assert len({o.line for o in a.items}) == 10
    result = core.senses(index, "bank", 6, limit=10, seed=3)
    assert result.sampled and "a sample of 10" in core.title(result)


def test_json(capsys, index_dir):
    status, out, err = run_cli(capsys, "senses", index_dir, "bank", "--layer", 6, "--json", "-b", "torch")
    assert status == 0, err
    data = json.loads(out)
    assert (data["layer"], data["word"], data["occurrences"], data["sampled"], data["k"]) == (
        6,
        "bank",
        30,
        None,
        2,
    )
    assert len(data["points"]) == 30 and {"line", "text", "position", "x", "y", "cluster"} <= set(
        data["points"][0]
    )
    assert [c["size"] for c in data["clusters"]] == [15, 15]
    typical = data["clusters"][0]["typical"][0]
    assert {"line", "text", "position", "fill", "fill_probability"} <= set(typical)
    assert 0 < typical["fill_probability"] <= 1


def test_table_and_pictures(capsys, index_dir, tmp_path):
    svg, png = tmp_path / "s.svg", tmp_path / "s.png"
    status, out, err = run_cli(
        capsys, "senses", index_dir, "bank", "--k", 3, "--top", 2, "--svg", svg, "--png", png, "-b", "torch"
    )
    assert status == 0, err
    assert "k = 3 (given" in out and "cluster 2" in out and "[bank]" in out
    assert svg.read_text().lstrip().startswith("<?xml") and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["zebra"], "'zebra' does not occur in the index"),
        (["robbers"], "'robbers' occurs once in the index: at least 4 occurrences are needed"),
        (["bank", "--layer", "3"], "layer 3 is not in the index: it has layers 1, 6"),
        (["bank", "--k", "30"], "--k 30: with 30 occurrences k must be at most 29"),
        (["bank", "--svg", "x.png"], "--svg x.png: give a file ending in .svg"),
        (["bank", "--sample", "2"], "--sample 2: at least 4 occurrences are needed to cluster"),
    ],
)
def test_bad_input_is_one_line(capsys, index_dir, argv, message):
    status, out, err = run_cli(capsys, "senses", index_dir, *argv, "--json", "-b", "torch")
    assert status == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_missing_index_and_another_models_index(capsys, tmp_path, index_dir, bert_dir):
    status, _out, err = run_cli(capsys, "senses", tmp_path / "nope", "bank", "--json")
    assert status == 2 and "no such index folder" in err and len(err.strip().splitlines()) == 1
    status, _out, err = run_cli(
        capsys, "senses", index_dir, "bank", "--json", "--model", bert_dir, "-b", "torch"
    )
    assert status == 2 and "has another vocabulary" in err


def test_occurrences_that_are_all_one_vector_are_one_line_and_json_has_no_nan(capsys, tmp_path, bert_dir):
    """The same sentence four times: four identical vectors, nothing to cluster (one line, not NaN and an
    empty cluster); a word in two different contexts (two distinct vectors) clusters with k = 2, and its
    JSON is strict (no NaN)."""
    corpus = tmp_path / "same.txt"
    corpus.write_text("The bank of the river was muddy.\n" * 4 + "I paid the money into the bank.\n" * 2)
    out = tmp_path / "index"
    assert (
        cli.main(
            ["index", str(corpus), "-m", str(bert_dir), "-b", "torch", "--layers", "2", "--out", str(out)]
        )
        == 0
    )
    capsys.readouterr()
    status, text, err = run_cli(capsys, "senses", out, "river", "--json", "-b", "torch")
    assert status != 0 and text == "" and "all 4 occurrences have the same vector" in err
    assert len(err.strip().splitlines()) == 1
    status, text, err = run_cli(capsys, "senses", out, "bank", "--json", "-b", "torch")
    assert status == 0, err
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert data["k"] == 2 and sorted(c["size"] for c in data["clusters"]) == [2, 4]
