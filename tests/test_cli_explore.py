"""``predict --joint``, ``predict --unmasked`` and ``attention`` from the command line, against references.

Most runs call the CLI's ``main`` in this process (the tiny models load in a blink once torch is
imported); a few run it as a user does, in a process of its own.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_cli import assert_one_line_error, run
from test_explore import pipeline_top1, reference

from mlm_tui import cli

JOINT = "The keys to the [MASK] are on the [MASK]."
PLAIN = "The keys to the cabinet are on the table."


def main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process: exit status (usage errors included), stdout, stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def dirs(request, model: str) -> str:
    return str(request.getfixturevalue(model + "_dir"))


def check_joint(data: dict, path: str, text: str) -> None:
    """The ``predict --joint --json`` object against the reference PLL, the pipeline and the step rule."""
    ref = reference(path)
    ids = ref.ids(text)
    positions = [i for i, t in enumerate(ids) if t == ref.mask_id]
    assert set(data) == {"positions", "beam", "fills", "independent", "steps"}
    assert data["positions"] == positions
    fields = {"tokens", "token_strs", "sequence", "log_prob"}
    for fill in (*data["fills"], data["independent"]):
        assert set(fill) == fields
        assert fill["log_prob"] == pytest.approx(ref.pll(ids, positions, fill["tokens"]), abs=1e-4)
        assert fill["token_strs"] == [ref.token_str(t) for t in fill["tokens"]]
        filled = list(ids)
        for position, token in zip(positions, fill["tokens"], strict=True):
            filled[position] = token
        assert fill["sequence"] == ref.sequence(filled)
    scores = [f["log_prob"] for f in data["fills"]]
    assert scores == sorted(scores, reverse=True) and scores[0] >= data["independent"]["log_prob"]
    tokens = [tuple(f["tokens"]) for f in data["fills"]]
    assert len(set(tokens)) == len(tokens) and tuple(data["independent"]["tokens"]) in tokens
    top1 = pipeline_top1(path, text, ref.mask_token)
    assert data["independent"]["tokens"] == [r["token"] for r in top1]
    assert sorted(s["position"] for s in data["steps"]) == positions
    row = list(ids)
    for step in data["steps"]:
        assert set(step) == {"position", "token", "token_str", "score"}
        expected = math.exp(ref.log_probs(row)[step["position"], step["token"]])
        assert step["score"] == pytest.approx(expected, abs=1e-5)
        row[step["position"]] = step["token"]
    assert [row[p] for p in positions] == data["fills"][0]["tokens"]


@pytest.mark.parametrize("model", ["bert", "roberta"])
@pytest.mark.parametrize("beam", [1, 4])
def test_predict_joint_json(request, capsys, model, beam):
    path = dirs(request, model)
    code, out, err = main(
        capsys, "predict", JOINT, "-m", path, "-b", "torch", "--joint", "--beam", str(beam), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["beam"] == beam and len(data["fills"]) <= beam + 1
    check_joint(data, path, JOINT)


def test_predict_joint_json_as_a_process_on_onnx(bert_dir):
    """As a user runs it, on the default backend (ONNX Runtime), three masks, the default beam."""
    text = "[MASK] is the [MASK] of [MASK]."
    proc = run("predict", text, "--model", str(bert_dir), "--joint", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["beam"] == 5
    check_joint(data, str(bert_dir), text)


def test_predict_joint_table(bert_dir, capsys):
    code, out, err = main(
        capsys, "predict", JOINT, "-m", str(bert_dir), "-b", "torch", "--joint", "--beam", "3"
    )
    assert code == 0, err
    data = json.loads(
        main(
            capsys, "predict", JOINT, "-m", str(bert_dir), "-b", "torch", "--joint", "--beam", "3", "--json"
        )[1]
    )
    assert "(independent)" in out and "steps of the best fill" in out
    assert data["fills"][0]["sequence"] in out and f"{data['fills'][0]['log_prob']:.3f}" in out
    assert "beam 3" in err


def test_predict_joint_with_mask_word(bert_dir, capsys):
    """--mask-word adds masks as typed [MASK]s do."""
    typed = main(capsys, "predict", JOINT, "-m", str(bert_dir), "-b", "torch", "--joint", "--json")
    worded = main(
        capsys,
        "predict",
        "The keys to the [MASK] are on the table.",
        "-m",
        str(bert_dir),
        "-b",
        "torch",
        "--joint",
        "--json",
        "--mask-word",
        "table",
    )
    assert typed[0] == worded[0] == 0, worded[2]
    ours, expected = json.loads(worded[1]), json.loads(typed[1])
    assert [f["tokens"] for f in ours["fills"]] == [f["tokens"] for f in expected["fills"]]
    assert [f["log_prob"] for f in ours["fills"]] == pytest.approx(
        [f["log_prob"] for f in expected["fills"]], abs=1e-6
    )


@pytest.mark.parametrize("model", ["bert", "roberta"])
@pytest.mark.parametrize("top_k", [None, 3])
def test_predict_unmasked_json(request, capsys, model, top_k):
    path = dirs(request, model)
    ref = reference(path)
    args = ["predict", PLAIN, "-m", path, "-b", "torch", "--unmasked", "--json"]
    if top_k:
        args += ["-k", str(top_k)]
    code, out, err = main(capsys, *args)
    assert code == 0, err
    rows = json.loads(out)
    ids = ref.ids(PLAIN)
    log_probs = ref.log_probs(ids)
    probs = np.exp(log_probs)
    special = ref.special(ids)
    assert [r["index"] for r in rows] == [i for i in range(len(ids)) if not special[i]]
    pieces = ref.tokenizer.convert_ids_to_tokens(ids)
    k = top_k or 5
    for row in rows:
        assert {"index", "token", "predictions", "entropy", "score", "rank"} <= set(row)
        i = row["index"]
        assert row["token"] == pieces[i]
        top = np.argsort(-probs[i], kind="stable")[:k].tolist()
        expected = [
            {
                "score": pytest.approx(float(probs[i, t]), abs=1e-5),
                "token": t,
                "token_str": ref.token_str(t),
                "sequence": ref.sequence(ids[:i] + [t] + ids[i + 1 :]),
            }
            for t in top
        ]
        assert row["predictions"] == expected
        assert row["score"] == pytest.approx(probs[i, ids[i]], abs=1e-5)
        assert row["rank"] == 1 + int((probs[i] > probs[i, ids[i]]).sum())
        assert row["entropy"] == pytest.approx(-(probs[i] * log_probs[i]).sum(), abs=1e-4)


def test_predict_unmasked_table(bert_dir, capsys):
    code, out, err = main(capsys, "predict", PLAIN, "-m", str(bert_dir), "-b", "torch", "--unmasked")
    assert code == 0, err
    assert "entropy" in out.splitlines()[0] and "cabinet" in out


def test_predict_unmasked_long_text_warns(bert_dir, capsys):
    text = PLAIN + " " + " ".join([PLAIN] * 11)
    code, out, err = main(capsys, "predict", text, "-m", str(bert_dir), "-b", "torch", "--unmasked", "--json")
    assert code == 0, err
    rows = json.loads(out)
    ids = reference(str(bert_dir)).ids(text)
    assert len(ids) > 64 and len(rows) == len(ids) - 2
    assert all(math.isfinite(r["entropy"]) and math.isfinite(r["score"]) for r in rows)
    assert "window" in err


@pytest.mark.parametrize("model", ["bert", "roberta"])
def test_attention_json(request, capsys, model):
    path = dirs(request, model)
    ref = reference(path)
    ids = ref.ids(PLAIN)
    expected = ref.attentions(ids)
    layers, heads = expected.shape[:2]
    tokens = ref.tokenizer.convert_ids_to_tokens(ids)
    cases = [
        (position, layer, head)
        for position in (0, 4, len(ids) - 1)
        for layer in range(layers)
        for head in (*range(heads), None)
    ]
    cases += [(3, None, None), (3, None, 1)]
    for position, layer, head in cases:
        args = ["attention", PLAIN, "--position", str(position), "-m", path, "-b", "torch", "--json"]
        args += ["--layer", str(layer)] if layer is not None else []
        args += ["--head", str(head)] if head is not None else []
        code, out, err = main(capsys, *args)
        assert code == 0, err
        data = json.loads(out)
        assert {"tokens", "layer", "head", "weights"} <= set(data)
        assert data["tokens"] == tokens
        used = layers - 1 if layer is None else layer  # default: the last layer
        assert (data["layer"], data["head"]) == (used, head)
        row = expected[used, :, position, :]
        want = row.mean(axis=0) if head is None else row[head]
        np.testing.assert_allclose(data["weights"], want, atol=1e-5, rtol=0)


def test_attention_table(bert_dir, capsys):
    code, out, err = main(
        capsys, "attention", PLAIN, "-p", "2", "-m", str(bert_dir), "-b", "torch", "--head", "1"
    )
    assert code == 0, err
    assert "head 1" in out and "layer 1" in out and "cabinet" in out


def test_attention_long_text_json_as_a_process(bert_dir):
    """On the default backend (ONNX for predictions, PyTorch weights for attention), a long text."""
    text = PLAIN + " " + " ".join([PLAIN] * 11)
    ref = reference(str(bert_dir))
    ids = ref.ids(text)
    position = len(ids) // 2
    proc = run("attention", text, "-m", str(bert_dir), "-p", str(position), "--layer", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr
    data = json.loads(proc.stdout)
    start, end = data["window"]
    read = [0, *range(start, end), len(ids) - 1]
    assert len(read) == 64 and start <= position < end
    assert all(w is None for j, w in enumerate(data["weights"]) if j not in read)
    expected = ref.attentions([ids[j] for j in read])[0, :, read.index(position), :].mean(axis=0)
    np.testing.assert_allclose([data["weights"][j] for j in read], expected, atol=1e-5, rtol=0)


BAD = [
    (["attention", PLAIN, "--position", "12"], 2, "position"),
    (["attention", PLAIN, "--position", "-1"], 2, "position"),
    (["attention", PLAIN, "--position", "3", "--layer", "2"], 2, "--layer"),
    (["attention", PLAIN, "--position", "3", "--layer", "-1"], 2, "--layer"),
    (["attention", PLAIN, "--position", "3", "--head", "2"], 2, "--head"),
    (["attention", PLAIN, "--position", "3", "--head", "-1"], 2, "--head"),
    (["attention", PLAIN], 2, "--position"),
    (["attention", PLAIN, "--position", "three"], 2, "--position"),
    (["predict", PLAIN, "--joint"], 2, "no mask"),
    (["predict", JOINT, "--joint", "--beam", "0"], 2, "--beam"),
    (["predict", JOINT, "--joint", "--beam", "51"], 1, "beam"),
    (["predict", JOINT, "--joint", "--unmasked"], 2, "--joint"),
    (["predict", JOINT, "--joint", "--compare", "{dir}"], 2, "--compare"),
    (["predict", JOINT, "--unmasked", "--compare", "{dir}"], 2, "--compare"),
    (["predict", JOINT, "--joint", "--targets", "cat"], 2, "--targets"),
    (["predict", PLAIN, "--unmasked", "--mask-word", "table"], 2, "--mask-word"),
]


@pytest.mark.parametrize(("args", "code", "needle"), BAD, ids=lambda v: str(v)[:60])
def test_bad_input_gets_one_line(bert_dir, capsys, args, code, needle):
    args = [a.replace("{dir}", str(bert_dir)) for a in args]
    got, out, err = main(capsys, *args, "--model", str(bert_dir), "-b", "torch")
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0] and lines[0].startswith("mlm-tui")
    assert "Traceback" not in err and "--debug" not in err  # an EngineError, not a crash caught late
    assert out == ""


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["attention", PLAIN, "--position", "40"], 2, "position"),
        (["predict", JOINT, "--joint", "--beam", "0"], 2, "--beam"),
    ],
)
def test_bad_input_as_a_process(bert_dir, args, code, needle):
    assert_one_line_error(run(*args, "--model", str(bert_dir)), code, needle)
