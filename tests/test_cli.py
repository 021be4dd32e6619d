"""The CLI as a user runs it: a real process, real arguments, stdout/stderr and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlm_tui", *args],
        capture_output=True,
        text=True,
        env=ENV,
        input=stdin,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def pipe(bert_dir):
    from transformers import pipeline

    return pipeline("fill-mask", model=str(bert_dir), device="cpu")


def test_predict_json_is_the_pipeline_output(bert_dir, pipe):
    from test_engine import assert_same_as_pipeline

    text = "Paris is the [MASK] of France."
    proc = run("predict", text, "--model", str(bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    assert_same_as_pipeline(json.loads(proc.stdout), pipe(text))
    two = "The keys to the [MASK] are on the [MASK]."
    proc = run("predict", two, "--model", str(bert_dir), "--json", "--top-k", "3")
    assert_same_as_pipeline(json.loads(proc.stdout), pipe(two, top_k=3))


def test_predict_table_and_stdin(bert_dir, pipe):
    proc = run("predict", "-", "--model", str(bert_dir), stdin="Paris is the [MASK] of France.\n")
    assert proc.returncode == 0, proc.stderr
    best = pipe("Paris is the [MASK] of France.")[0]
    assert f"{best['score']:.2%}" in proc.stdout and best["token_str"] in proc.stdout


def test_targets_and_whole_word(bert_dir):
    proc = run("predict", "He is a [MASK].", "-m", str(bert_dir), "--targets", "nurse,doctor", "--json")
    rows = json.loads(proc.stdout)
    assert {r["token_str"] for r in rows} == {"nurse", "doctor"}
    nurse = next(r for r in rows if r["token_str"] == "nurse")
    assert isinstance(nurse["token"], list) and len(nurse["token"]) == 2  # n ##urse, scored as a word
    proc = run("predict", "I like pizza.", "-m", str(bert_dir), "--mask-word", "pizza", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 2  # p + ##izza: one list per mask


def test_targets_json_has_the_rank_the_table_shows():
    """``predict --targets --json`` gives each target's rank (the README promises it): 1 + the tokens more
    probable than the word, recomputed here with plain transformers (a word of several pieces by the
    left-to-right chain, ranked against single tokens)."""
    from test_probes import Reference

    from mlm_tui.engine import BUNDLED_MODEL
    from mlm_tui.engine.loading import resolve_model

    folder = resolve_model(BUNDLED_MODEL).path
    reference = Reference(folder)
    text = "He works as a [MASK] in the city."
    targets = ["nurse", "doctor", "giraffe"]
    proc = run(
        "predict", text, "-m", BUNDLED_MODEL, "--backend", "torch", "--targets", ",".join(targets), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["token_str"]: r for r in json.loads(proc.stdout)}
    assert isinstance(rows["giraffe"]["token"], list)  # several pieces: ranked as a word
    for target in targets:
        rank, _ = reference.rank(text, target)
        assert rows[target]["rank"] == rank, target
    table = run("predict", text, "-m", BUNDLED_MODEL, "--backend", "torch", "--targets", ",".join(targets))
    for target in targets:
        line = next(x for x in table.stdout.splitlines() if f" {target} " in x)
        assert line.split()[0].rstrip("*") == str(rows[target]["rank"])


def test_score_json_matches_reference(bert_dir, bert):
    from test_engine import reference_pll

    text = "The keys to the cabinet are on the table."
    proc = run("score", text, "-m", str(bert_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    expected = reference_pll(bert, text)
    assert [t["log_prob"] for t in data["tokens"]] == pytest.approx(expected, abs=1e-5)
    assert data["pll"] == pytest.approx(sum(expected), abs=1e-4)
    assert set(data) == {"text", "model", "tokens", "pll", "pseudo_perplexity"}
    assert set(data["tokens"][0]) == {"index", "token", "log_prob", "surprisal"}


def test_long_text_is_truncated_with_a_note(bert_dir):
    text = "the cat sat on the mat. " * 30 + "Paris is the [MASK] of France."
    proc = run("predict", text, "-m", str(bert_dir), "--json")
    assert proc.returncode == 0
    assert "window" in proc.stderr and len(json.loads(proc.stdout)) == 5


def test_fast_mode_from_the_cli(bert_dir):
    proc = run("predict", "Paris is the [MASK] of France.", "-m", str(bert_dir), "--fast")
    assert proc.returncode == 0, proc.stderr
    # bf16 where the CPU has it natively, else the exact ONNX path, said in a note
    assert "bfloat16 (fast)" in proc.stderr or ("no native bfloat16" in proc.stderr and "ONNX" in proc.stderr)
    assert_one_line_error(run("predict", "a [MASK]", "-m", str(bert_dir), "--fast", "int8"), 2, "--fast")
    rows = json.loads(run("predict", "a [MASK].", "-m", str(bert_dir), "--fast", "--json").stdout)
    assert len(rows) == 5 and all(0 < r["score"] < 1 for r in rows)


def test_help_answers_without_torch():
    proc = run("--help")
    assert proc.returncode == 0 and "predict" in proc.stdout and "--model" in proc.stdout
    assert "--targets" in run("predict", "--help").stdout


@pytest.fixture(scope="module")
def odd_models(tmp_path_factory, bert_dir):
    """Folders that are not usable masked LMs, each in its own way."""
    import torch
    import transformers as tf

    root = tmp_path_factory.mktemp("odd")
    gpt2 = root / "gpt2"
    tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=16, n_layer=1, n_head=2, vocab_size=50)).save_pretrained(gpt2)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bert_dir / f, gpt2)
    no_mask = root / "no-mask"
    shutil.copytree(bert_dir, no_mask)
    config = json.loads((no_mask / "tokenizer_config.json").read_text())
    config["mask_token"] = None
    (no_mask / "tokenizer_config.json").write_text(json.dumps(config))
    tok = json.loads((no_mask / "tokenizer.json").read_text())
    tok["added_tokens"] = [t for t in tok["added_tokens"] if t["content"] != "[MASK]"]
    (no_mask / "tokenizer.json").write_text(json.dumps(tok))
    pickled = root / "pickled"
    shutil.copytree(bert_dir, pickled)
    weights = tf.BertForMaskedLM.from_pretrained(bert_dir).state_dict()
    torch.save(weights, pickled / "pytorch_model.bin")
    (pickled / "model.safetensors").unlink()
    headless = root / "headless"
    tf.BertModel(tf.BertConfig.from_pretrained(bert_dir)).save_pretrained(headless)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bert_dir / f, headless)
    return {"gpt2": gpt2, "no-mask": no_mask, "pickled": pickled, "headless": headless}


BAD = [
    (["predict", "Paris is nice."], 2, "no mask"),
    (["predict", ""], 2, "empty"),
    (["predict", "a [MASK]", "--top-k", "0"], 2, "--top-k"),
    (["predict", "a [MASK]", "--top-k", "-2"], 2, "--top-k"),
    (["predict", "a [MASK]", "--top-k", "many"], 2, "--top-k"),
    (["predict", "a [MASK]", "--device", "tpu"], 2, "tpu"),
    (["predict", "a [MASK]", "--device", "cuda"], 1, "cuda"),
    (["predict", "a [MASK]", "--mask-word", "zebra"], 1, "zebra"),
    (["score", "   "], 2, "empty"),
    (["score", ""], 2, "empty"),  # the README lists `score` without a text as a usage error
    (["predict", "a [MASK]", "--targets", ","], 2, "targets"),
    (["predict", "a [MASK]", "--fast", "turbo"], 2, "--fast"),
]


@pytest.mark.parametrize(("args", "code", "needle"), BAD, ids=lambda v: str(v))
def test_bad_input_gets_one_line(bert_dir, args, code, needle):
    if args[-1] == "cuda":
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    assert_one_line_error(run(*args, "--model", str(bert_dir)), code, needle)


@pytest.mark.parametrize(
    ("model", "needle"),
    [
        ("/no/such/folder", "no such model folder"),
        ("tests", "no config.json"),
        ("no-such-user/no-such-model", "not in the Hugging Face cache"),
    ],
)
def test_bad_model_gets_one_line(model, needle):
    assert_one_line_error(run("predict", "a [MASK]", "--model", model), 1, needle)


def test_models_that_cannot_fill_masks(odd_models):
    assert_one_line_error(run("predict", "a [MASK]", "-m", str(odd_models["gpt2"])), 1, "no masked-LM head")
    assert_one_line_error(run("predict", "a [MASK]", "-m", str(odd_models["no-mask"])), 1, "no mask token")


def test_pickle_weights_need_permission(odd_models, bert_dir, pipe):
    refused = run("predict", "a [MASK]", "-m", str(odd_models["pickled"]))
    assert_one_line_error(refused, 1, "pickle", "--allow-pickle")
    allowed = run(
        "predict",
        "Paris is the [MASK] of France.",
        "-m",
        str(odd_models["pickled"]),
        "--allow-pickle",
        "--json",
    )
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)[0]["token"] == pipe("Paris is the [MASK] of France.")[0]["token"]


def test_fresh_head_warns_but_answers(odd_models):
    proc = run("predict", "a [MASK]", "-m", str(odd_models["headless"]), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "no trained masked-LM head" in proc.stderr and "cls.predictions" in proc.stderr
    assert len(json.loads(proc.stdout)) == 5
