"""``mlm-tui index`` and ``mlm-tui neighbours`` against plain code written here.

The reference: transformers' ``AutoModelForMaskedLM(..., output_hidden_states=True)`` one sentence at a
time, the tokenizer's own offsets, word ids and special-token mask, and a brute-force cosine top-k in
numpy. Vectors are stored in float16: a unit vector's components are rounded to 2^-11 relative, so a
cosine moves by at most ~1e-3; scores are compared to 2e-3, and near-ties may swap only within it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlm_tui import cli
from mlm_tui.index import build as build_module
from mlm_tui.index.store import Index

CORPUS = [
    "Paris is the capital of France.",
    "The keys to the cabinet are on the table.",
    "I drink a cup of coffee every morning with my dog.",
    "Monday comes after Sunday and before Tuesday.",
    "",
    "The cat sat on the mat near the door of the house.",
    "She went to the market to buy bread, milk and apples.",
    "Hello world! The weather is nice today in Berlin and London.",
    "He is a doctor and she is a nurse at the hospital.",
    "The dog sat near the cat in the house.",
    "My nurse drinks coffee at the table every morning.",
    "The capital of the market is bread.",
]
QUERY = "The cat sat on the table near the nurse."
TOL = 2e-3


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return path


def reference_vectors(folder, lines, layer):
    """Every non-special token of every line: (line, position, token, word, unit vector at ``layer``)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    rows = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        enc = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([enc["input_ids"]]), output_hidden_states=True)
        states = out.hidden_states[layer][0].numpy()
        words = enc.word_ids()
        for position, special in enumerate(enc["special_tokens_mask"]):
            if special:
                continue
            same = [i for i, w in enumerate(words) if w == words[position]]
            word = text[enc["offset_mapping"][same[0]][0] : enc["offset_mapping"][same[-1]][1]]
            token = tokenizer.convert_ids_to_tokens(enc["input_ids"][position])
            vector = states[position] / np.linalg.norm(states[position])
            rows.append((number, position, token, word, vector))
    return rows


def query_vector(folder, text, position, layer):
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    with torch.no_grad():
        out = model(**tokenizer(text, return_tensors="pt"), output_hidden_states=True)
    vector = out.hidden_states[layer][0, position].numpy()
    return vector / np.linalg.norm(vector), tokenizer.tokenize(text)[position - 1]


def brute_force(rows, query, k, keep=lambda _word: True):
    scored = [(float(r[4] @ query), r) for r in rows if keep(r[3])]
    scored.sort(key=lambda s: -s[0])
    return scored


def run_cli(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def build(capsys, corpus, out, model, *extra):
    status, _out, err = run_cli(
        capsys, "index", corpus, "--model", model, "--out", out, "--backend", "torch", *extra
    )
    assert status == 0, err
    return err


def assert_same_hits(hits, expected, k):
    """The index's hits are the brute-force top-k: the same scores in order, and each hit among the
    reference's top-k up to near-ties (within the float16 tolerance) at the boundary."""
    assert len(hits) == min(k, len(expected))
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    np.testing.assert_allclose(scores, [s for s, _ in expected[:k]], atol=TOL)
    kth = expected[min(k, len(expected)) - 1][0]
    allowed = {(r[0], r[1]): s for s, r in expected if s >= kth - TOL}
    for hit in hits:
        key = (hit["line"], hit["position"])
        assert key in allowed, key
        assert abs(allowed[key] - hit["score"]) <= TOL


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_hits_equal_brute_force_cosine_over_output_hidden_states(capsys, tmp_path, corpus, bert_dir, backend):
    out = tmp_path / "index"
    status, _o, err = run_cli(
        capsys, "index", corpus, "--model", bert_dir, "--layers", "1,2", "--out", out,
        "--backend", backend, "--chunk-tokens", "40", "--batch-size", "4",
    )  # fmt: skip
    assert status == 0, err
    assert "skipped 1 empty" in err
    for layer in (1, 2):
        rows = reference_vectors(bert_dir, CORPUS, layer)
        query, token = query_vector(bert_dir, QUERY, 2, layer)
        status, text, err = run_cli(
            capsys,
            "neighbours",
            out,
            QUERY,
            "--at",
            2,
            "--layer",
            layer,
            "-k",
            8,
            "--json",
            "--backend",
            backend,
        )
        assert status == 0, err
        data = json.loads(text)
        assert data["layer"] == layer
        assert data["query"]["position"] == 2 and data["query"]["token_str"] == token == "cat"
        assert_same_hits(data["hits"], brute_force(rows, query, 8), 8)
        by_key = {(r[0], r[1]): r for r in rows}
        for hit in data["hits"]:
            line, _position, token_str, word, _v = by_key[(hit["line"], hit["position"])]
            assert hit["text"] == CORPUS[line - 1]
            assert (hit["token_str"], hit["word"]) == (token_str, word)
    # every token of the corpus is in the index once, special tokens left out
    index = Index(out)
    assert index.manifest.vectors == len(reference_vectors(bert_dir, CORPUS, 1))


def test_same_word_and_other_words_filter_the_brute_force_ranking(capsys, tmp_path, corpus, bert_dir):
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2")
    rows = reference_vectors(bert_dir, CORPUS, 2)
    query, _token = query_vector(bert_dir, QUERY, 2, 2)
    for flag, keep in (
        ("--same-word", lambda w: w.lower() == "cat"),
        ("--other-words", lambda w: w.lower() != "cat"),
    ):
        status, text, err = run_cli(
            capsys, "neighbours", out, QUERY, "--at", 2, "-k", 5, "--json", flag, "-b", "torch"
        )
        assert status == 0, err
        assert_same_hits(json.loads(text)["hits"], brute_force(rows, query, 5, keep), 5)
    # a word in pieces: "nurse" is n + ##urse in the tiny vocabulary; its pieces carry the whole word
    status, text, _err = run_cli(
        capsys, "neighbours", out, QUERY, "--at", 9, "-k", 3, "--json", "--same-word", "-b", "torch"
    )
    hits = json.loads(text)["hits"]
    assert {h["word"] for h in hits} == {"nurse"} and {h["token_str"] for h in hits} <= {"n", "##urse"}


def test_table_by_default(capsys, tmp_path, corpus, bert_dir):
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2")
    status, text, _err = run_cli(capsys, "neighbours", out, QUERY, "--at", 2, "-k", 3, "-b", "torch")
    assert status == 0
    assert "[cat]" in text and "cosine" in text


def test_approximate_search_recall(capsys, tmp_path, corpus, bert_dir):
    """Above --exact-limit the build adds usearch HNSW graphs; their recall@k against exact search."""
    exact, approx = tmp_path / "exact", tmp_path / "approx"
    build(capsys, corpus, exact, bert_dir, "--layers", "2")
    build(capsys, corpus, approx, bert_dir, "--layers", "2", "--exact-limit", "0", "--chunk-tokens", "30")
    assert Index(approx).approximate_search and not Index(exact).approximate_search
    exact_index, approx_index = Index(exact), Index(approx)
    rows = reference_vectors(bert_dir, CORPUS, 2)
    found = total = 0
    for _line, _position, _token, _word, vector in rows[::5]:
        want = {(h["line"], h["position"]) for h in exact_index.search(2, vector, 10)}
        got = approx_index.search(2, vector, 10)
        found += len(want & {(h["line"], h["position"]) for h in got})
        total += len(want)
        for hit in got:  # scores are cosines whatever the path
            assert (
                abs(
                    hit["score"]
                    - float(
                        rows[[(r[0], r[1]) for r in rows].index((hit["line"], hit["position"]))][4] @ vector
                    )
                )
                <= TOL
            )
    recall = found / total
    print(f"recall@10 of the HNSW path on {len(rows)} vectors: {recall:.3f}")
    assert recall >= 0.95


def _index_content(folder):
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = Index(folder)
    tokens = pa.concat_tables(
        pq.read_table(index.chunk_dir(c) / "tokens.parquet") for c in index.manifest.chunks
    )
    vectors = {
        layer: np.concatenate([np.asarray(index.vectors(c, layer)) for c in index.manifest.chunks])
        for layer in index.manifest.layers
    }
    return index.manifest, tokens.to_pydict(), vectors


def assert_same_index(a, b):
    manifest_a, tokens_a, vectors_a = _index_content(a)
    manifest_b, tokens_b, vectors_b = _index_content(b)
    assert manifest_a.complete and manifest_b.complete
    assert (manifest_a.lines_read, manifest_a.skipped, manifest_a.vectors) == (
        manifest_b.lines_read,
        manifest_b.skipped,
        manifest_b.vectors,
    )
    assert tokens_a == tokens_b
    for layer in vectors_a:
        np.testing.assert_array_equal(vectors_a[layer], vectors_b[layer])


class Stop(Exception):
    pass


def _failing_writes(monkeypatch, after: int, error: BaseException):
    """``write_file`` raises ``error`` from its ``after``-th call on (the middle of a chunk)."""
    real = build_module.write_file
    calls = {"n": 0}

    def write(path, data):
        calls["n"] += 1
        if calls["n"] > after:
            raise error
        real(path, data)

    monkeypatch.setattr(build_module, "write_file", write)


def test_ctrl_c_leaves_a_usable_index_and_a_rerun_gives_the_same_index(
    capsys, tmp_path, corpus, bert_dir, monkeypatch
):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    args = ("--layers", "1,2", "--chunk-tokens", "25")
    build(capsys, corpus, whole, bert_dir, *args)
    _failing_writes(monkeypatch, 6, KeyboardInterrupt())  # 4 files a chunk: stops inside the second chunk
    status, _o, err = run_cli(
        capsys, "index", corpus, "--model", bert_dir, "--out", resumed, "-b", "torch", *args
    )
    assert status == 130
    assert "run the same command again to continue" in err
    half = Index(resumed)
    assert len(half.manifest.chunks) == 1 and not half.manifest.complete
    assert sorted(p.name for p in (resumed / "chunks").iterdir()) == ["00000"]  # no half-written chunk left
    # usable: search answers from the chunk done, and says the index is unfinished
    status, text, err = run_cli(capsys, "neighbours", resumed, QUERY, "--at", 2, "--json", "-b", "torch")
    assert status == 0 and "not finished" in err
    assert {h["line"] for h in json.loads(text)["hits"]} <= set(range(1, half.manifest.lines_read + 1))
    monkeypatch.undo()
    build(capsys, corpus, resumed, bert_dir, *args)
    assert_same_index(whole, resumed)


def test_disk_full_during_a_build(capsys, tmp_path, corpus, bert_dir, monkeypatch):
    whole, full = tmp_path / "whole", tmp_path / "full"
    args = ("--layers", "2", "--chunk-tokens", "25")
    build(capsys, corpus, whole, bert_dir, *args)
    _failing_writes(monkeypatch, 4, OSError(errno.ENOSPC, "No space left on device"))  # 3 files a chunk
    status, _o, err = run_cli(
        capsys, "index", corpus, "--model", bert_dir, "--out", full, "-b", "torch", *args
    )
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "disk is full" in lines[0] and "run the same command again" in lines[0]
    index = Index(full)  # the chunk before intact, checked against the sizes written
    assert len(index.manifest.chunks) == 1
    monkeypatch.undo()
    build(capsys, corpus, full, bert_dir, *args)
    assert_same_index(whole, full)


def test_other_model_is_refused_in_one_line(capsys, tmp_path, corpus, bert_dir, roberta_dir):
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2")
    status, text, err = run_cli(
        capsys, "neighbours", out, QUERY, "--at", 2, "--model", roberta_dir, "-b", "torch"
    )
    assert status == 2 and not text
    assert err.count("\n") == 1 and "another vocabulary" in err and "Traceback" not in err
    status, _t, err = run_cli(capsys, "index", corpus, "--model", roberta_dir, "--out", out, "-b", "torch")
    assert status == 2 and err.count("\n") == 1 and "holds an index of" in err


def test_layer_not_in_the_index(capsys, tmp_path, corpus, bert_dir):
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "0,2")
    status, _t, err = run_cli(capsys, "neighbours", out, QUERY, "--at", 2, "--layer", 1, "-b", "torch")
    assert status == 2 and err.count("\n") == 1
    assert "layer 1 is not in the index: it has layers 0, 2" in err


@pytest.mark.parametrize("damage", ["missing", "no manifest", "manifest", "truncated", "chunk gone"])
def test_missing_or_corrupted_index_is_one_line(capsys, tmp_path, corpus, bert_dir, damage):
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2")
    chunk = out / "chunks" / "00000"
    if damage == "missing":
        shutil.rmtree(out)
    elif damage == "no manifest":
        (out / "manifest.json").unlink()
    elif damage == "manifest":
        (out / "manifest.json").write_text('{"model": "x", "chun')
    elif damage == "truncated":
        data = (chunk / "layer-2.npy").read_bytes()
        (chunk / "layer-2.npy").write_bytes(data[: len(data) // 2])
    else:
        shutil.rmtree(chunk)
    status, text, err = run_cli(capsys, "neighbours", out, QUERY, "--at", 2, "-b", "torch")
    assert status == 2 and not text
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (
        "no such index" if damage == "missing" else "not an index" if damage == "no manifest" else "corrupted"
    ) in err


def test_jsonl_and_parquet_corpora_give_the_same_index(capsys, tmp_path, corpus, bert_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    jsonl, table = tmp_path / "corpus.jsonl", tmp_path / "corpus.parquet"
    jsonl.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(CORPUS)))
    pq.write_table(pa.table({"id": list(range(len(CORPUS))), "text": CORPUS}), table)
    built = {}
    for name, path in (("text", corpus), ("jsonl", jsonl), ("parquet", table)):
        built[name] = tmp_path / name
        build(capsys, path, built[name], bert_dir, "--layers", "2")
    assert_same_index(built["text"], built["jsonl"])
    assert_same_index(built["text"], built["parquet"])
    status, _t, err = run_cli(
        capsys,
        "index",
        table,
        "--model",
        bert_dir,
        "--out",
        tmp_path / "x",
        "--text-column",
        "body",
        "-b",
        "torch",
    )
    assert status == 2 and "no column 'body'" in err and err.count("\n") == 1


def test_int8_index_hits_match_brute_force_within_its_rounding(capsys, tmp_path, corpus, bert_dir):
    """``--dtype i8`` stores round(127 x): a cosine moves by ~1e-2 at most here (both sides rounded), so
    the exact path's scores are compared to 2e-2 and its top-8 must be the reference's up to such ties."""
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2", "--dtype", "i8")
    assert Index(out).manifest.dtype == "i8"
    rows = reference_vectors(bert_dir, CORPUS, 2)
    query, _token = query_vector(bert_dir, QUERY, 2, 2)
    status, text, err = run_cli(capsys, "neighbours", out, QUERY, "--at", 2, "-k", 8, "--json", "-b", "torch")
    assert status == 0, err
    hits = json.loads(text)["hits"]
    expected = brute_force(rows, query, 8)
    scores = {(r[0], r[1]): s for s, r in expected}
    kth = expected[7][0]
    assert len(hits) == 8
    for hit in hits:
        key = (hit["line"], hit["position"])
        assert abs(scores[key] - hit["score"]) <= 2e-2, key
        assert scores[key] >= kth - 2e-2, key


FLAT = """
import sys
import numpy as np
from mlm_tui.engine.types import Encoding, Token
from mlm_tui.index.build import build_index

LINES, WIDTH, LAYERS, VOCAB = int(sys.argv[2]), 256, 4, 500
table = np.random.default_rng(0).standard_normal((LAYERS + 1, VOCAB + 2, WIDTH)).astype(np.float32)

class Info:
    name = path = "fake-wide"
    vocab_digest = "fake"
    max_length = 512

class Text:
    pad_id = VOCAB

class Forward:
    def hidden_states(self, ids):
        return table[:, ids, :]

class Fake:
    info, text, forward = Info(), Text(), Forward()
    def encode(self, text):
        words = text.split()
        cells, at = [Token(0, VOCAB + 1, "[CLS]", "[CLS]", 0, 0, None, True)], 0
        for i, w in enumerate(words):
            start = text.index(w, at)
            at = start + len(w)
            cells.append(Token(i + 1, int(w) if w.isdigit() else 0, w, w, start, at, i, False))
        cells.append(Token(len(words) + 1, VOCAB + 1, "[SEP]", "[SEP]", at, at, None, True))
        return Encoding(text=text, tokens=tuple(cells))

rng = np.random.default_rng(1)
with open(sys.argv[1] + ".txt", "w") as corpus:
    for _ in range(LINES):
        corpus.write(" ".join(str(w) for w in rng.integers(0, VOCAB, 12)) + "\\n")
manifest = build_index(Fake(), sys.argv[1] + ".txt", sys.argv[1], [1, 2, 3, 4], show_progress=False)
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(manifest.vectors * LAYERS * WIDTH * 4, peak)
"""


def test_memory_stays_flat_whatever_the_corpus_size(tmp_path):
    """The peak memory of a build of 8x more lines grows by far less than one chunk's worth of what the
    extra lines' vectors would take (they are written chunk by chunk, never held). A fake engine with
    256-wide states (no torch), under an address-space limit as a guard."""
    script = tmp_path / "flat.py"
    script.write_text(FLAT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(cli.__file__).parents[2]), env.get("PYTHONPATH", "")])
    runs = []
    for lines in (1_000, 8_000):
        done = subprocess.run(
            [
                "prlimit",
                "--as=3000000000",
                sys.executable,
                str(script),
                str(tmp_path / f"i{lines}"),
                str(lines),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append([int(x) for x in done.stdout.split()])
    (small_vectors, small_peak), (big_vectors, big_peak) = runs
    assert big_vectors - small_vectors > 300 * 2**20  # the extra lines' vectors: ~330 MB as float32
    assert big_peak - small_peak < 40 * 2**20, (small_peak, big_peak)
    assert Index(tmp_path / "i8000").manifest.vectors == 8_000 * 12


def test_a_chunk_of_skipped_lines_only_is_read_as_empty(capsys, tmp_path, bert_dir):
    """Blank lines after the last chunk boundary make a chunk with no tokens: search, senses,
    contextuality of the folder and the HNSW build all read past it (they looked for its files)."""
    corpus = tmp_path / "tail.txt"
    corpus.write_text("The bank of the river was muddy.\nI put money in the bank today.\n" * 3 + "\n\n\n")
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "1,2", "--chunk-tokens", "5", "--exact-limit", "0")
    index = Index(out)
    assert index.manifest.complete and index.manifest.chunks[-1].vectors == 0
    assert index.manifest.skipped == {"empty": 3} and index.approximate_search
    exact = tmp_path / "exact"
    build(capsys, corpus, exact, bert_dir, "--layers", "1,2", "--chunk-tokens", "5")
    for folder in (out, exact):
        status, text, err = run_cli(
            capsys, "neighbours", folder, "the bank", "--at", 2, "-k", 3, "--json", "-b", "torch"
        )
        assert status == 0, err
        assert [h["word"] for h in json.loads(text)["hits"]] == ["bank"] * 3
    status, text, err = run_cli(capsys, "senses", exact, "bank", "--layer", "2", "--json", "-b", "torch")
    assert status == 0, err
    assert json.loads(text)["occurrences"] == 6
    status, text, err = run_cli(
        capsys, "contextuality", exact, "--json", "--min-occurrences", "2", "-b", "torch"
    )
    assert status == 0, err
    assert [layer["layer"] for layer in json.loads(text)["layers"]] == [1, 2]


def test_a_table_whose_only_string_column_is_not_named_text_is_read(capsys, tmp_path, bert_dir):
    """As `contextuality` reads it: without --text-column, a table's only string column is the text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = tmp_path / "c.parquet"
    pq.write_table(pa.table({"sentence": CORPUS, "label": list(range(len(CORPUS)))}), table)
    out = tmp_path / "index"
    build(capsys, table, out, bert_dir, "--layers", "2")
    assert Index(out).manifest.vectors == len(reference_vectors(bert_dir, CORPUS, 2))


def test_a_text_over_the_item_limit_is_refused_before_its_states_are_computed(
    capsys, tmp_path, corpus, bert_dir
):
    """neighbours reads states of the whole text: one over the item limit (windows of the model) is one
    line, exit 2, instead of an array of every token at every layer (16.8 GB for a 100 MB line)."""
    out = tmp_path / "index"
    build(capsys, corpus, out, bert_dir, "--layers", "2")
    text = "the cat sat on the mat " * 2_000
    status, text_out, err = run_cli(capsys, "neighbours", out, text, "--at", 2, "-b", "torch")
    assert status == 2 and text_out == ""
    assert "over the limit of" in err and len(err.strip().splitlines()) == 1
