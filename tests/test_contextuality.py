"""``mlm-tui contextuality``: Ethayarajh's (2019) per-layer figures against plain code written here.

The reference: vectors from transformers' ``output_hidden_states=True`` (its own tokenizer, not the
engine's), word starts by a rule written here for each tokenizer family, and every figure by plain
loops over the paper's formulas (MEV by scikit-learn's PCA); the sampled baseline is recomputed from
the pairs the result says it drew.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlm_tui import cli
from mlm_tui.corpus_layers import contextuality as ctx
from mlm_tui.corpus_layers.reader import Corpus, Line
from mlm_tui.engine import EngineError

# Small sentences with words that recur (each fewer than 32 times: every pair of them is compared).
SENTENCES = [
    "The cat sat on the mat.",
    "The dog sat on the table near the door.",
    "Paris is the capital of France.",
    "She went to the market to buy bread.",
    "The keys to the cabinet are on the table.",
    "He is a doctor and she is a nurse.",
    "The cat is near the door of the house.",
    "I drink a cup of coffee every morning.",
    "The weather is nice today in Berlin.",
    "The dog and the cat sat near the house.",
]


def lines_of(texts) -> list[Line]:
    return [Line(number, text) for number, text in enumerate(texts, 1)]


def reference_vectors(folder) -> tuple[list[list[str]], list[list[int]], list[np.ndarray]]:
    """(tokens, ids, hidden states (layers, n, d) without the special tokens) of each sentence, by transformers."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    tokens, ids, states = [], [], []
    for sentence in SENTENCES:
        row = tokenizer(sentence)["input_ids"]
        with torch.no_grad():
            out = model(input_ids=torch.tensor([row]), output_hidden_states=True)
        hidden = torch.stack([h[0] for h in out.hidden_states]).numpy().astype(np.float64)
        tokens.append(tokenizer.convert_ids_to_tokens(row)[1:-1])  # [CLS]/<s> and [SEP]/</s> left out
        ids.append(row[1:-1])
        states.append(hidden[:, 1:-1, :])
    return tokens, ids, states


def _kind(ch: str) -> str:
    return "letter" if ch.isalpha() else "digit" if ch.isdigit() else "other"


def starts_by_hand(pieces: list[str], family: str) -> list[bool]:
    """WordPiece: every piece but ``##`` ones. Byte-level BPE (GPT-2's pre-tokenizer: runs of letters, of
    digits, of other characters, each with the space before it): a ``Ġ`` piece, the first piece, or a
    piece whose first character is of another kind than the last character of the piece before."""
    if family == "wordpiece":
        return [not p.startswith("##") for p in pieces]
    starts = []
    for i, piece in enumerate(pieces):
        starts.append(i == 0 or piece.startswith("Ġ") or _kind(piece[0]) != _kind(pieces[i - 1][-1]))
    return starts


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference_figures(folder, family: str, min_occurrences: int, result):
    """Per layer: (words, self-similarity, intra-sentence similarity, MEV, baseline) by plain loops."""
    from sklearn.decomposition import PCA

    tokens, ids, states = reference_vectors(folder)
    occurrences: dict[int, list[tuple[int, int]]] = {}
    for s, (pieces, row) in enumerate(zip(tokens, ids, strict=True)):
        for i, start in enumerate(starts_by_hand(pieces, family)):
            if start:
                occurrences.setdefault(row[i], []).append((s, i))
    words = {w: o for w, o in occurrences.items() if len(o) >= min_occurrences}
    assert all(len(o) * (len(o) - 1) <= 1000 for o in words.values())  # the exact path
    rows = []
    for layer in range(states[0].shape[0]):
        self_sims, mevs = [], []
        for places in words.values():
            vectors = [states[s][layer, i] for s, i in places]
            pairs = [cos(a, b) for j, a in enumerate(vectors) for k, b in enumerate(vectors) if j != k]
            self_sims.append(sum(pairs) / len(pairs))
            matrix = np.array(vectors)
            if np.allclose(matrix, matrix[0], rtol=0, atol=1e-7):  # one vector: analyze.py's min(1.0, nan)
                mevs.append(1.0)
            else:
                mevs.append(float(PCA(n_components=1).fit(matrix).explained_variance_ratio_[0]))
        intra = []
        for sentence in states:
            mean = sentence[layer].mean(axis=0)
            intra.append(sum(cos(v, mean) for v in sentence[layer]) / len(sentence[layer]))
        base = []
        for (s1, p1), (s2, p2) in result.baseline_pairs:
            assert s1 != s2  # two different sentences
            base.append(cos(states[s1][layer, p1 - 1], states[s2][layer, p2 - 1]))  # -1: [CLS] left out
        rows.append((len(words), np.mean(self_sims), np.mean(intra), np.mean(mevs), np.mean(base)))
    return rows


@pytest.mark.parametrize(
    ("fixture", "folder", "family"),
    [
        ("bert", "bert_dir", "wordpiece"),
        ("bert_onnx", "bert_dir", "wordpiece"),
        ("roberta", "roberta_dir", "bpe"),
    ],
)
def test_every_figure_equals_the_papers_formulas_by_hand(request, fixture, folder, family):
    engine = request.getfixturevalue(fixture)
    result = ctx.contextuality(engine, lambda: iter(lines_of(SENTENCES)), min_occurrences=3, seed=7)
    expected = reference_figures(request.getfixturevalue(folder), family, 3, result)
    assert len(result.layers) == len(expected) == 3  # embeddings + 2 layers
    assert len(result.baseline_pairs) == ctx.BASELINE_PAIRS
    for layer, (words, self_sim, intra, mev, base) in zip(result.layers, expected, strict=True):
        assert layer.words == words > 0
        assert layer.self_similarity == pytest.approx(self_sim, abs=1e-5)
        assert layer.intra_sentence_similarity == pytest.approx(intra, abs=1e-5)
        assert layer.mev == pytest.approx(mev, abs=1e-5)
        assert layer.baseline == pytest.approx(base, abs=1e-5)
        assert layer.self_similarity_adjusted == pytest.approx(self_sim - base, abs=1e-5)
        assert layer.intra_sentence_similarity_adjusted == pytest.approx(intra - base, abs=1e-5)
    assert result.sentences == len(SENTENCES)


def test_the_baseline_draws_one_token_per_sentence_and_is_seeded(bert):
    def run(seed):
        return ctx.contextuality(bert, lambda: iter(lines_of(SENTENCES)), min_occurrences=3, seed=seed)

    first, again, other = run(1), run(1), run(2)
    assert first == again and first.baseline_pairs == again.baseline_pairs
    assert first.baseline_pairs != other.baseline_pairs
    # ten sentences, fewer than BASELINE_SENTENCES: every sentence gives its one token
    tokens = {place for pair in first.baseline_pairs for place in pair}
    assert sorted(s for s, _ in tokens) == list(range(len(SENTENCES)))


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("The nurse ate pizza, state-of-the-art.", "the n at p , state - of - the - art ."),
        ("Hello world! The keys.", "hello world ! the keys ."),
    ],
)
def test_word_starts_on_wordpiece(bert, text, starts):
    encoding = bert.encode(text)
    assert " ".join(encoding.tokens[i].text for i in ctx.word_starts(encoding)) == starts
    # ##-pieces are the only ones left out
    pieces = [t.text for t in encoding.tokens if not t.special]
    assert len(ctx.word_starts(encoding)) == sum(starts_by_hand(pieces, "wordpiece"))


@pytest.mark.parametrize(
    "text",
    ["Hello world! The nurse ate pizza, state-of-the-art.", "The keys to the cabinet are on the table."],
)
def test_word_starts_on_byte_level_bpe(roberta, text):
    encoding = roberta.encode(text)
    pieces = [t.text for t in encoding.tokens if not t.special]
    expected = [p for p, start in zip(pieces, starts_by_hand(pieces, "bpe"), strict=True) if start]
    assert [encoding.tokens[i].text for i in ctx.word_starts(encoding)] == expected
    # a word the vocabulary splits keeps only its first piece
    assert len(expected) < len(pieces) or text.startswith("The keys")


def test_special_tokens_and_masks_are_never_words(bert):
    encoding = bert.encode("The [MASK] sat on the mat.")
    starts = ctx.word_starts(encoding)
    assert all(not encoding.tokens[i].special and not encoding.tokens[i].is_mask for i in starts)
    assert 0 not in starts and len(encoding.tokens) - 1 not in starts


# ---------------------------------------------------------------- the pieces


def test_mev_equals_scikit_learn_pca_tall_and_wide():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    for n, d in [(5, 32), (40, 8), (3, 3)]:
        occurrences = rng.normal(size=(n, 2, d)) + rng.normal(size=(1, 2, d)) * 3
        got = ctx.explained_variance(occurrences)
        for layer in range(2):
            want = PCA(n_components=1).fit(occurrences[:, layer, :]).explained_variance_ratio_[0]
            assert got[layer] == pytest.approx(want, abs=1e-10)
    # identical occurrences: nothing to explain, taken as fully explained
    assert ctx.explained_variance(np.ones((4, 1, 3))).tolist() == [1.0]


def test_pairs_are_all_ordered_pairs_up_to_1000_then_a_sample_of_distinct_ones():
    rng = np.random.default_rng(0)
    every = ctx.ordered_pairs(32, rng)  # 32 × 31 = 992 ≤ 1000
    assert sorted(map(tuple, every)) == [(j, k) for j, k in itertools.product(range(32), repeat=2) if j != k]
    sample = ctx.ordered_pairs(100, rng)
    assert len(sample) == 1000 and len(set(map(tuple, sample))) == 1000
    assert all(j != k and 0 <= j < 100 and 0 <= k < 100 for j, k in sample)


def test_a_frequent_words_sampled_self_similarity_is_close_to_every_pair():
    rng = np.random.default_rng(3)
    occurrences = rng.normal(size=(200, 1, 16)) + 1.0  # 39,800 ordered pairs
    unit = occurrences[:, 0] / np.linalg.norm(occurrences[:, 0], axis=1, keepdims=True)
    gram = unit @ unit.T
    exact = (gram.sum() - np.trace(gram)) / (200 * 199)
    sampled = ctx.self_similarity(occurrences, np.random.default_rng(1))[0]
    assert sampled != exact and sampled == pytest.approx(exact, abs=0.01)
    assert ctx.self_similarity(occurrences, np.random.default_rng(1))[0] == sampled  # seeded


def test_the_plan_keeps_memory_within_the_budget():
    counts = {w: 10 + 50 * w for w in range(40)}  # up to 1,960 occurrences of a word
    per_vector = 13 * 768 * 4  # bert-base: 13 layers of 768 floats
    full = ctx.plan(counts, 1000, per_vector, min_occurrences=5, seed=0, budget=1 << 40)
    assert full.cap == ctx.OCCURRENCE_CAP and full.unsampled == 0
    assert full.capped == sum(1 for n in counts.values() if n > ctx.OCCURRENCE_CAP)
    for budget in (200 * 2**20, 20 * 2**20, 2**20):
        bounded = ctx.plan(counts, 1000, per_vector, min_occurrences=5, seed=0, budget=budget)
        kept = sum(counts[w] if k is None else len(k) for w, k in bounded.keep.items())
        assert kept * per_vector <= budget
        assert all(k is None or len(set(k.tolist())) == len(k) == bounded.cap for k in bounded.keep.values())
    assert ctx.plan(counts, 1000, per_vector, min_occurrences=5, seed=0, budget=2**20).unsampled > 0
    assert len(full.baseline) == ctx.BASELINE_SENTENCES


HUGE = """
import sys
import numpy as np
from mlm_tui.corpus_layers import contextuality as ctx
from mlm_tui.corpus_layers.reader import Line
from mlm_tui.engine.types import Encoding, Token

LAYERS, WIDTH, LENGTH, SENTENCES, VOCAB = 13, 768, 30, 1600, 60
table = np.random.default_rng(0).normal(size=(LAYERS, VOCAB + 2, WIDTH)).astype(np.float32)

class Info:
    name, max_length = "fake-bert-base", 512

class States:
    def __init__(self, states):
        self.states = states

class Fake:
    info = Info()
    def encode(self, text):
        words = [int(w) for w in text.split()]
        cells = [Token(0, VOCAB, "[CLS]", "[CLS]", 0, 0, None, True)]
        cells += [Token(i + 1, w, f"w{w}", f"w{w}", 0, 0, i, False) for i, w in enumerate(words)]
        cells += [Token(len(words) + 1, VOCAB + 1, "[SEP]", "[SEP]", 0, 0, None, True)]
        return Encoding(text=text, tokens=tuple(cells))
    def hidden_states(self, encoding):
        ids = [t.id for t in encoding.tokens]
        jitter = np.float32(1 + (hash(encoding.text) % 97) / 97)
        return States(table[:, ids, :] * jitter + table[:, ids[::-1], :] * 0.3)
    def token_str(self, i):
        return f"w{i}"

rng = np.random.default_rng(1)
texts = [" ".join(str(w) for w in rng.zipf(1.3, LENGTH) % VOCAB) + f" {s % VOCAB}" for s in range(SENTENCES)]
lines = [Line(i + 1, t) for i, t in enumerate(texts)]
everything = SENTENCES * (LENGTH + 1) * LAYERS * WIDTH * 4
budget = 64 * 2**20
result = ctx.contextuality(Fake(), lambda: iter(lines), min_occurrences=5, budget=budget)
# VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child of a big pytest process reports the parent's size
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(everything, peak, result.occurrence_cap, result.layers[0].words, result.layers[0].self_similarity)
"""


def test_a_corpus_whose_vectors_pass_the_memory_limit_runs_in_bounded_memory(tmp_path):
    """Every vector of every layer would be ~2 GB; the run keeps 64 MB of them, under a 1.5 GB address limit."""
    script = tmp_path / "huge.py"
    script.write_text(textwrap.dedent(HUGE))
    limit = 1_500_000_000
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(cli.__file__).parents[2]), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        ["prlimit", f"--as={limit}", sys.executable, str(script)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    everything, peak, cap, words, self_sim = done.stdout.split()
    assert int(everything) > limit > int(peak)
    assert int(words) > 0 and int(cap) < ctx.OCCURRENCE_CAP and 0 < float(self_sim) <= 1


# ---------------------------------------------------------------- reading a corpus


def test_text_jsonl_and_parquet_give_the_same_sentences(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    texts = ["One sentence.", "", "Two\x01bad", "  Three.  "]
    (tmp_path / "c.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "c.jsonl").write_text(
        "\n".join(json.dumps({"text": t}) for t in texts) + '\n{"id": 1}\nnot json\n'
    )
    pq.write_table(pa.table({"id": [1, 2, 3, 4, 5], "text": [*texts, None]}), tmp_path / "c.parquet")
    with pa.OSFile(str(tmp_path / "c.arrow"), "wb") as sink:  # the stream form datasets caches
        table = pa.table({"sentence": texts})
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    want = [Line(1, "One sentence."), Line(2, None, "empty"), Line(3, None, "not text"), Line(4, "Three.")]
    for name, extra in [
        ("c.txt", []),
        ("c.jsonl", [Line(5, None, "not text"), Line(6, None, "not text")]),
        ("c.parquet", [Line(5, None, "not text")]),
        ("c.arrow", []),
    ]:
        with Corpus(tmp_path / name) as corpus:
            assert list(corpus.lines()) == want + extra, name
            assert list(corpus.lines()) == want + extra, name  # a second pass reads it again


# ---------------------------------------------------------------- the command line


def run(capfd, *argv: str) -> tuple[int, str, str]:
    capfd.readouterr()
    try:
        code = cli.main(["contextuality", *argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capfd.readouterr()
    return code, out, err


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(SENTENCES) + "\n")
    return path


KEYS = [
    "layer",
    "words",
    "self_similarity",
    "intra_sentence_similarity",
    "mev",
    "baseline",
    "self_similarity_adjusted",
    "intra_sentence_similarity_adjusted",
]


def test_json_has_exactly_the_issues_keys(bert, bert_dir, corpus, capfd):
    code, out, err = run(
        capfd, str(corpus), "-m", str(bert_dir), "-b", "torch", "--json", "--min-occurrences", "3"
    )
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["model", "layers"]
    assert [list(layer) for layer in data["layers"]] == [KEYS] * 3
    assert [layer["layer"] for layer in data["layers"]] == [0, 1, 2]
    direct = ctx.contextuality(bert, lambda: iter(lines_of(SENTENCES)), min_occurrences=3)
    assert data["layers"] == [layer.to_dict() for layer in direct.layers]


def test_compare_gives_one_object_per_model(bert_dir, roberta_dir, corpus, capfd):
    code, out, err = run(
        capfd,
        str(corpus),
        "-m",
        str(bert_dir),
        "--compare",
        str(roberta_dir),
        "-b",
        "torch",
        "--json",
        "--min-occurrences",
        "3",
    )
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["models"]
    assert [m["model"] for m in data["models"]] == [str(bert_dir), str(roberta_dir)]
    assert all([list(layer) for layer in m["layers"]] == [KEYS] * 3 for m in data["models"])


def test_table_markdown_and_plot(bert_dir, corpus, capfd, tmp_path):
    code, out, err = run(capfd, str(corpus), "-m", str(bert_dir), "-b", "torch", "--min-occurrences", "3")
    assert code == 0, err
    assert "self-sim adj" in out.splitlines()[1] and len(out.splitlines()) == 2 + 3
    assert "10 sentences" in err
    pytest.importorskip("matplotlib")
    picture = tmp_path / "curves.svg"
    code, out, err = run(
        capfd,
        str(corpus),
        "-m",
        str(bert_dir),
        "-b",
        "torch",
        "--min-occurrences",
        "3",
        "--markdown",
        "--plot",
        str(picture),
    )
    assert code == 0, err
    assert out.startswith("# mlm-tui contextuality") and "| layer |" in out
    assert (
        picture.read_text().lstrip().startswith("<?xml")
        and "self-similarity (adjusted)" in picture.read_text()
    )


def test_bad_lines_are_skipped_and_counted(bert_dir, tmp_path, capfd):
    path = tmp_path / "corpus.txt"
    long_line = " ".join(["cat"] * 200)  # over the tiny model's 64 tokens
    path.write_text("\n".join([*SENTENCES, "", "   ", long_line, "bad\x01line"]) + "\n")
    code, _out, err = run(
        capfd, str(path), "-m", str(bert_dir), "-b", "torch", "--json", "--min-occurrences", "3"
    )
    assert code == 0, err
    assert "skipped lines: 2 empty, 1 not text, 1 too long" in err
    assert "10 sentences" in err and "with fewer left out" in err


def test_no_word_reaching_min_occurrences_is_one_line_and_exit_1(bert_dir, corpus, capfd):
    code, out, err = run(capfd, str(corpus), "-m", str(bert_dir), "-b", "torch", "--min-occurrences", "500")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "no word occurs 500 times in 10 sentences" in err


def test_a_corpus_of_one_sentence_is_one_line_and_exit_1(bert_dir, tmp_path, capfd):
    path = tmp_path / "one.txt"
    path.write_text("the the the the the the\n\n")
    code, _out, err = run(capfd, str(path), "-m", str(bert_dir), "-b", "torch")
    assert code == 1 and err.count("\n") == 1 and "1 sentence to read (skipped: 1 empty)" in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["{dir}"], "not an index (no manifest.json); build one with mlm-tui index"),
        (["{dir}/missing.txt"], "missing.txt"),
        (["{corpus}", "--plot", "{dir}/curves.pdf"], "give a file ending in .svg or .png"),
        (["{corpus}", "--min-occurrences", "1"], "must be at least 2"),
        (["{corpus}", "--max-sentences", "0"], "must be at least 1"),
        (["{corpus}", "--json", "--markdown"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(bert_dir, corpus, tmp_path, capfd, argv, needle):
    argv = [a.format(dir=tmp_path, corpus=corpus) for a in argv]
    code, out, err = run(capfd, *argv, "-m", str(bert_dir), "-b", "torch")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err, err


def test_plot_without_a_plotting_library_says_what_to_install(bert_dir, corpus, capfd, monkeypatch, tmp_path):
    from mlm_tui.corpus_layers import plot

    monkeypatch.setattr(plot, "has_matplotlib", lambda: False)
    monkeypatch.setattr(plot, "has_plotille", lambda: False)
    code, _out, err = run(
        capfd, str(corpus), "-m", str(bert_dir), "-b", "torch", "--plot", str(tmp_path / "c.png")
    )
    assert code == 2 and "pip install 'mlm-tui[plot]'" in err and err.count("\n") == 1


def test_max_sentences_reads_only_the_first(bert, bert_dir, corpus, capfd):
    code, out, err = run(
        capfd,
        str(corpus),
        "-m",
        str(bert_dir),
        "-b",
        "torch",
        "--json",
        "--min-occurrences",
        "2",
        "--max-sentences",
        "4",
    )
    assert code == 0, err
    direct = ctx.contextuality(bert, lambda: iter(lines_of(SENTENCES[:4])), min_occurrences=2)
    assert json.loads(out)["layers"] == [layer.to_dict() for layer in direct.layers]


def test_too_few_sentences_raise_engine_error(bert):
    with pytest.raises(EngineError, match="two different sentences"):
        ctx.contextuality(bert, lambda: iter(lines_of(SENTENCES[:1])))


def test_plot_without_matplotlib_draws_in_the_terminal(bert_dir, corpus, capfd, monkeypatch, tmp_path):
    pytest.importorskip("plotille")
    from mlm_tui.corpus_layers import plot

    monkeypatch.setattr(plot, "has_matplotlib", lambda: False)
    picture = tmp_path / "c.png"
    code, out, err = run(
        capfd,
        str(corpus),
        "-m",
        str(bert_dir),
        "-b",
        "torch",
        "--json",
        "--min-occurrences",
        "3",
        "--plot",
        str(picture),
    )
    assert code == 0, err
    assert json.loads(out)["layers"]  # stdout stays JSON: the drawing goes to stderr
    assert "matplotlib is not installed" in err and "self-similarity (adjusted)" in err
    assert not picture.exists()


# ---------------------------------------------------------------- from an index folder


def unit_figures(folder, family, min_occurrences, result, layers):
    """Per index layer, by plain loops on the *unit* vectors (what an index stores): (words, self-sim,
    intra-sentence similarity of the unit vectors, MEV of the unit vectors, baseline)."""
    import unittest.mock

    tokens, ids, states = reference_vectors(folder)
    units = [s / np.linalg.norm(s, axis=-1, keepdims=True) for s in states]
    with unittest.mock.patch(f"{__name__}.reference_vectors", lambda _f: (tokens, ids, units)):
        rows = reference_figures(folder, family, min_occurrences, result)
    return [rows[layer] for layer in layers]


def test_an_index_folder_gives_the_figures_of_its_stored_unit_vectors(
    bert, bert_dir, corpus, tmp_path, capfd
):
    """``contextuality DIR``: the index's layers by their numbers; every figure equals the paper's formulas
    on the unit vectors (self-similarity and the baseline are cosines: the same as from the corpus), to
    the float16 rounding of the stored vectors."""
    from mlm_tui.corpus_layers.from_index import StoredLayers, relabel
    from mlm_tui.index import Index

    folder = tmp_path / "index"
    code = cli.main(
        ["index", str(corpus), "-m", str(bert_dir), "-b", "torch", "--layers", "0,2", "--out", str(folder)]
    )
    assert code == 0
    capfd.readouterr()
    index = Index(folder)
    stored = StoredLayers(bert, index)
    result = relabel(ctx.contextuality(stored, stored.lines, min_occurrences=3, seed=7), [0, 2])
    expected = unit_figures(bert_dir, "wordpiece", 3, result, [0, 2])
    from_corpus = ctx.contextuality(bert, lambda: iter(lines_of(SENTENCES)), min_occurrences=3, seed=7)
    assert [layer.layer for layer in result.layers] == [0, 2]
    for layer, (words, self_sim, intra, mev, base) in zip(result.layers, expected, strict=True):
        assert layer.words == words > 0
        assert layer.self_similarity == pytest.approx(self_sim, abs=2e-3)
        assert layer.intra_sentence_similarity == pytest.approx(intra, abs=2e-3)
        assert layer.mev == pytest.approx(mev, abs=2e-3)
        assert layer.baseline == pytest.approx(base, abs=2e-3)
        raw = from_corpus.layers[layer.layer]
        assert layer.self_similarity == pytest.approx(raw.self_similarity, abs=2e-3)
        assert layer.baseline == pytest.approx(raw.baseline, abs=2e-3)
    # the command: the same numbers, the caveat said once on stderr
    code, out, err = run(capfd, str(folder), "--json", "--min-occurrences", "3", "--seed", "7", "-b", "torch")
    assert code == 0, err
    assert json.loads(out)["layers"] == [layer.to_dict() for layer in result.layers]
    assert err.count("intra-sentence similarity and MEV are of the unit vectors") == 1


def test_an_index_folder_with_compare_or_another_vocabulary_is_one_line(
    bert_dir, roberta_dir, corpus, tmp_path, capfd
):
    folder = tmp_path / "index"
    assert (
        cli.main(
            ["index", str(corpus), "-m", str(bert_dir), "-b", "torch", "--layers", "1", "--out", str(folder)]
        )
        == 0
    )
    capfd.readouterr()
    code, out, err = run(capfd, str(folder), "--compare", str(bert_dir), "-b", "torch")
    assert code == 2 and out == "" and err.count("\n") == 1 and "give the corpus file" in err
    code, out, err = run(capfd, str(folder), "-m", str(roberta_dir), "-b", "torch")
    assert code != 0 and out == "" and err.count("\n") == 1 and "another vocabulary" in err


def test_an_index_of_sentences_with_mask_is_read_with_the_models_mask_token(
    roberta, roberta_dir, tmp_path, capfd
):
    """RoBERTa encodes [MASK] as <mask>: the stored sentence is still found for its vectors."""
    from mlm_tui.corpus_layers.from_index import StoredLayers
    from mlm_tui.index import Index

    texts = [*SENTENCES[:5], "The [MASK] sat on the mat near the door."]
    corpus = tmp_path / "masked.txt"
    corpus.write_text("\n".join(texts) + "\n")
    folder = tmp_path / "index"
    assert (
        cli.main(
            [
                "index",
                str(corpus),
                "-m",
                str(roberta_dir),
                "-b",
                "torch",
                "--layers",
                "1",
                "--out",
                str(folder),
            ]
        )
        == 0
    )
    capfd.readouterr()
    stored = StoredLayers(roberta, Index(folder))
    result = ctx.contextuality(stored, stored.lines, min_occurrences=2)
    assert result.sentences == len(texts)
