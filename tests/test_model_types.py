"""Every masked-LM type transformers lists, on both backends, against transformers itself.

One tiny random model per type in ``MODEL_FOR_MASKED_LM_MAPPING_NAMES`` (built once
per session by :mod:`tiny_zoo`, with the type's own kind of tokenizer), so a type
added by a later transformers is tested here and fails loudly until it is handled.
For each type:

- PyTorch: predict equals ``pipeline("fill-mask")`` (ids, scores to 1e-5) and PLL
  equals a plain loop over transformers' model (1e-4);
- ONNX: the same answers, or a clean fallback to PyTorch whose note says why, and
  ``--backend onnx`` refused in one line;
- the CLI's ``predict --json`` prints JSON and nothing else on stdout;
- a text at exactly the model's limit is read whole (as the pipeline reads it), and
  one token over gets the long-text window.

A type whose tokenizer needs an optional package that is not installed (sacremoses,
rjieba) must be refused in one line that names the package.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_zoo import masked_lm_types

from mlm_tui import cli
from mlm_tui.engine import EngineError, MaskedLM

TYPES = masked_lm_types()
PROTEIN_TOKENIZERS = ("EsmTokenizer", "EsmcTokenizer")
ENGLISH = "The cat sat on the [MASK] near the door of the house."
PROTEIN = "MKTAYIAKQRQISFVKSHF[MASK]RQLEERLGLIEVQ"


def expected_refusal(folder) -> tuple[str, str] | None:
    """Why mlm-tui must refuse this folder, judged from transformers' own tokenizer, with the words the
    one-line refusal must hold: a missing optional package, or inputs beyond token ids."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except ImportError as exc:
        package = next(w for w in ("sacremoses", "rjieba", "sentencepiece") if w in str(exc).lower())
        return f"its tokenizer needs {package}, which is not installed", f"pip install {package}"
    extra = sorted(set(tokenizer("a").keys()) - {"input_ids", "attention_mask", "token_type_ids"})
    if extra:
        return f"its tokenizer gives the model {', '.join(extra)} besides token ids", extra[0]
    return None


def sample_text(folder) -> str:
    config = json.loads((folder / "tokenizer_config.json").read_text())
    return PROTEIN if config.get("tokenizer_class") in PROTEIN_TOKENIZERS else ENGLISH


_engines: dict[tuple[str, str], MaskedLM] = {}


def engine_for(zoo, model_type: str, backend: str = "torch") -> MaskedLM:
    folder = zoo(model_type)
    refusal = expected_refusal(folder)
    if refusal is not None:
        why, needle = refusal
        with pytest.raises(EngineError) as refused:
            MaskedLM.load(str(folder), backend=backend)
        message = str(refused.value)
        assert len(message.splitlines()) == 1 and needle in message
        pytest.skip(f"refused in one line: {why}")
    key = (model_type, backend)
    if key not in _engines:
        _engines[key] = MaskedLM.load(str(folder), backend=backend)
    return _engines[key]


_pipelines: dict[str, object] = {}


def pipeline_for(zoo, model_type: str):
    from transformers import pipeline

    if model_type not in _pipelines:
        _pipelines[model_type] = pipeline("fill-mask", model=str(zoo(model_type)), device="cpu")
    return _pipelines[model_type]


def assert_same_as_pipeline(engine: MaskedLM, pipe, text: str, *, top_k: int = 5) -> None:
    encoding = engine.encode(text)
    result = engine.predict(encoding, top_k=top_k)
    expected = pipe(encoding.text, top_k=top_k)
    got = result.masks[0].predictions
    assert [p.token for p in got] == [e["token"] for e in expected]
    np.testing.assert_allclose([p.score for p in got], [e["score"] for e in expected], atol=1e-5)
    assert [p.token_str for p in got] == [e["token_str"] for e in expected]


def plain_pll(pipe, text: str, mask_token: str) -> list[float]:
    """PLL the plain way: transformers' tokenizer and model (the pipeline's), one masked copy per token."""
    import torch

    tokenizer, model = pipe.tokenizer, pipe.model.eval()
    inputs = tokenizer(
        text.replace("[MASK]", mask_token), return_tensors="pt", return_special_tokens_mask=True
    )
    special = inputs.pop("special_tokens_mask")[0].tolist()
    ids = inputs["input_ids"][0].tolist()
    scores = []
    for i, token in enumerate(ids):
        if special[i] or (token in tokenizer.all_special_ids and token != tokenizer.unk_token_id):
            continue  # [UNK] is scored: it stands for a word the vocabulary lacks
        masked = dict(inputs)
        masked["input_ids"] = inputs["input_ids"].clone()
        masked["input_ids"][0, i] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = model(**masked).logits[0, i]
        scores.append(float(torch.log_softmax(logits.float(), -1)[token]))
    return scores


@pytest.mark.parametrize("model_type", TYPES)
def test_pytorch_predictions_equal_the_pipeline(zoo, model_type):
    engine = engine_for(zoo, model_type)
    assert engine.info.backend == "torch"
    assert_same_as_pipeline(engine, pipeline_for(zoo, model_type), sample_text(zoo(model_type)))


@pytest.mark.parametrize("model_type", TYPES)
def test_pytorch_pll_equals_a_plain_loop(zoo, model_type):
    engine = engine_for(zoo, model_type)
    text = sample_text(zoo(model_type)).replace(" [MASK]", "").replace("[MASK]", "")
    result = engine.score(engine.encode(text))
    expected = plain_pll(pipeline_for(zoo, model_type), text, engine.info.mask_token)
    np.testing.assert_allclose([t.log_prob for t in result.tokens], expected, atol=1e-4)
    assert result.pll == pytest.approx(sum(expected), abs=1e-4)


@pytest.mark.parametrize("model_type", TYPES)
def test_onnx_answers_as_the_pipeline_or_falls_back_in_one_line(zoo, model_type):
    engine = engine_for(zoo, model_type, backend="auto")
    text = sample_text(zoo(model_type))
    if engine.info.backend == "onnx":
        assert engine.info.notes == ()
        assert_same_as_pipeline(engine, pipeline_for(zoo, model_type), text)
        return
    # the fallback: PyTorch answers, and the note says why in one line
    (note,) = [n for n in engine.info.notes if n.startswith("answering from PyTorch: ")]
    assert len(note.splitlines()) == 1 and model_type in note
    assert_same_as_pipeline(engine, pipeline_for(zoo, model_type), text)
    # --backend onnx: the same reason, in one line, without exporting again
    with pytest.raises(EngineError) as refused:
        MaskedLM.load(str(zoo(model_type)), backend="onnx")
    assert str(refused.value) == note.removeprefix("answering from PyTorch: ")
    # the failure was remembered: the next auto run goes straight to PyTorch with the same note
    again = MaskedLM.load(str(zoo(model_type)), backend="auto")
    assert again.info.backend == "torch" and note in again.info.notes


@pytest.mark.parametrize("model_type", TYPES)
def test_the_cli_json_parses(zoo, model_type, capfd):
    engine_for(zoo, model_type)  # skips a type refused in one line (tested there)
    text = sample_text(zoo(model_type))
    capfd.readouterr()
    code = cli.main(["predict", text, "--model", str(zoo(model_type)), "--json", "--top-k", "3"])
    out, err = capfd.readouterr()
    assert code == 0, err
    parsed = json.loads(out)
    assert parsed, out


def text_of_length(engine: MaskedLM, base: str, length: int) -> str:
    """``base`` with one-token units added until it is ``length`` tokens long."""
    size = len(engine.encode(base).tokens)
    for unit in (" the", " a", " cat", "A", "L", ".", " x"):
        grown = len(engine.encode(base + unit).tokens)
        twice = len(engine.encode(base + unit * 2).tokens)
        if grown == size + 1 and twice == size + 2:
            return base + unit * (length - size)
    raise AssertionError(f"no one-token unit for {engine.info.model_type}")


@pytest.mark.parametrize("model_type", TYPES)
def test_a_text_at_the_limit_is_read_whole_and_one_over_gets_the_window(zoo, model_type):
    engine = engine_for(zoo, model_type)
    limit = engine.info.max_length
    base = sample_text(zoo(model_type))
    at_limit = text_of_length(engine, base, limit)
    assert len(engine.encode(at_limit).tokens) == limit
    encoding = engine.encode(at_limit)
    result = engine.predict(encoding)
    assert not result.truncated
    assert_same_as_pipeline(engine, pipeline_for(zoo, model_type), at_limit)
    over = engine.encode(text_of_length(engine, base, limit + 1))
    assert len(over.tokens) == limit + 1
    result = engine.predict(over)
    assert result.truncated
    if limit <= 128:  # PLL reads one window per token: over 512 tokens that is slow for a test
        assert engine.score(over).truncated


# ---------------------------------------------------------------- proteins, and a checkpoint without its head


def test_esm_reads_a_protein_one_cell_per_residue(zoo):
    engine = engine_for(zoo, "esm")
    encoding = engine.encode("MKTAYIAK")  # typed without spaces, as proteins are written
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(zoo("esm"))
    assert list(encoding.ids) == tokenizer("MKTAYIAK")["input_ids"]
    body = [t for t in encoding.tokens if not t.special]
    assert [t.display for t in body] == list("MKTAYIAK")
    assert [(t.start, t.end) for t in body] == [(i, i + 1) for i in range(8)]
    assert len({t.word for t in body}) == 8  # each residue is masked on its own
    text, start, end = engine.substitute(encoding, body[2].index, tokenizer.convert_tokens_to_ids("W"))
    assert (text, start, end) == ("MKWAYIAK", 2, 3)


async def test_esm_in_the_app(zoo):
    from fakes import settle

    from mlm_tui.app import make_app
    from mlm_tui.engine import EngineOptions
    from mlm_tui.widgets.model_pane import ModelPane

    engine = engine_for(zoo, "esm")
    app = make_app("MKTAYIAK", options=EngineOptions(model=str(zoo("esm")), backend="torch"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        pane = app.explorer.query_one("#left", ModelPane)
        assert [t.display for t in pane.encoding.tokens][1:-1] == list("MKTAYIAK")
        await pilot.press("right", "right", "m")  # the third residue, T
        await settle(pilot)
        assert pane.tokens.masked == {3}
        expected = engine.predict(pane.encoding, [3], top_k=10).masks[0].predictions
        table = pane.table
        shown = [str(table.get_row_at(r)[1]) for r in range(table.row_count)]
        assert shown == [p.token_str for p in expected]
        assert any(residue in shown for residue in "LAGVSERTIDPKQNFYMHWC")


def test_the_cli_reads_a_protein(zoo, capfd):
    engine_for(zoo, "esm")
    capfd.readouterr()
    code = cli.main(["predict", "MKTAYIAK[MASK]QR", "-m", str(zoo("esm")), "--json", "--backend", "torch"])
    out, err = capfd.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    pipe = pipeline_for(zoo, "esm")
    expected = pipe("MKTAYIAK<mask>QR", top_k=5)
    assert [r["token"] for r in rows] == [e["token"] for e in expected]


def headless_copy(zoo, tmp_path):
    """The tiny DeBERTa-v2 with its MLM head's weights removed, as DeBERTa-v3 checkpoints ship."""
    import shutil

    from safetensors.torch import load_file, save_file

    folder = tmp_path / "no-head"
    shutil.copytree(zoo("deberta-v2"), folder)
    weights = load_file(folder / "model.safetensors")
    kept = {k: v for k, v in weights.items() if k.startswith("deberta.")}
    assert len(kept) < len(weights)
    save_file(kept, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


async def test_a_checkpoint_without_its_mlm_head_is_announced_in_the_app(zoo, tmp_path):
    from fakes import settle

    from mlm_tui.app import make_app
    from mlm_tui.engine import EngineOptions

    folder = headless_copy(zoo, tmp_path)
    app = make_app(ENGLISH, options=EngineOptions(model=str(folder), backend="torch"))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(pilot)
        assert any("no trained masked-LM head" in n.message for n in app._notifications)


def test_a_checkpoint_without_its_mlm_head_loads_with_the_warning(zoo, tmp_path, capfd):
    folder = headless_copy(zoo, tmp_path)
    engine = MaskedLM.load(str(folder), backend="torch")
    (warning,) = engine.info.warnings
    assert "no trained masked-LM head" in warning and "predictions" in warning
    capfd.readouterr()
    code = cli.main(["predict", ENGLISH, "-m", str(folder), "--json", "--backend", "torch"])
    out, err = capfd.readouterr()
    assert code == 0 and json.loads(out)
    assert "no trained masked-LM head" in err and len(err.strip().splitlines()) == 1


def test_a_python_tokenizer_on_onnx_needs_transformers_but_not_torch(zoo):
    import os
    import subprocess
    import sys

    engine = engine_for(zoo, "esm", backend="auto")
    assert engine.info.backend == "onnx"  # the graph is cached now
    code = (
        "import sys, json; from mlm_tui.cli import main;"
        f"rc = main(['predict', {PROTEIN!r}, '-m', {str(zoo('esm'))!r}, '--json']);"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}), file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    seen = json.loads(proc.stderr.strip().splitlines()[-1])
    assert seen == {"rc": 0, "torch": False}, proc.stderr
    expected = engine.predict(engine.encode(PROTEIN)).masks[0].predictions
    assert [r["token"] for r in json.loads(proc.stdout)] == [p.token for p in expected]


@pytest.mark.parametrize(
    ("constant", "package"),
    [("SENTENCEPIECE_IMPORT_ERROR", "sentencepiece"), ("SACREMOSES_IMPORT_ERROR", "sacremoses")]
    + [("RJIEBA_IMPORT_ERROR", "rjieba"), ("PROTOBUF_IMPORT_ERROR", "protobuf")],
)
def test_the_missing_package_is_named_as_pip_names_it(constant, package):
    from transformers.utils import import_utils

    from mlm_tui.engine.backends.torch_backend import missing_package

    message = getattr(import_utils, constant).format("SomeTokenizer")  # transformers' own wording
    assert missing_package(message) == package
    assert missing_package("You need to install rjieba to use RoFormerTokenizer.") == "rjieba"
    assert missing_package("No module named 'foo'") is None


# ---------------------------------------------------------------- the MLM lens (issue 22)

LENS_REFUSED = {
    "bart": "decoder",
    "mbart": "decoder",
    "mvp": "decoder",
    "funnel": "pools",
    "perceiver": "latent",
    "reformer": "reversible",
}
"""Types whose head cannot be applied per layer, and a word the one-line refusal must hold."""


def _plain_model(zoo, model_type: str):
    """The type's tiny model straight from transformers, and inputs for it (ids inside its vocabulary)."""
    import torch
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(zoo(model_type), dtype=torch.float32).eval()
    vocab = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None else 30
    ids = torch.tensor([[(5 + 7 * i) % min(vocab, 30) + 3 for i in range(9)]])
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if model_type == "tapas":
        inputs["token_type_ids"] = torch.zeros((1, 9, 7), dtype=torch.long)
    return model, inputs


@pytest.mark.parametrize("model_type", TYPES)
def test_the_lens_head_on_the_last_hidden_state_is_the_models_own_logits(zoo, model_type):
    """hidden_states[-1] of output_hidden_states=True through the lens's head equals the model's logits; where
    the type normalises after its last layer, the lens reads the state before that normalisation at every layer."""
    import torch

    from mlm_tui.engine.backends.lens_head import layer_states, lens_head

    model, inputs = _plain_model(zoo, model_type)
    if model_type in LENS_REFUSED:
        with pytest.raises(EngineError) as refused:
            lens_head(model, model_type)
        message = str(refused.value)
        assert len(message.splitlines()) == 1 and LENS_REFUSED[model_type] in message
        return
    head = lens_head(model, model_type)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states
        states = layer_states(model, head, inputs)
        assert len(states) == len(hidden) and all(
            s.shape == h.shape for s, h in zip(states, hidden, strict=True)
        )
        for before, ours in zip(hidden[:-1], states[:-1], strict=True):
            assert torch.equal(before, ours)  # every layer but the last: transformers' own
        if head.norm is None:
            assert torch.equal(states[-1], hidden[-1])
            got = head(hidden[-1])
        else:  # hidden_states[-1] is after the final normalisation; the lens reads it before
            torch.testing.assert_close(head.norm(states[-1]), hidden[-1], atol=1e-6, rtol=0)
            got = head(states[-1])
            steps_only = hidden[-1]
            for step in head.steps:
                steps_only = step(steps_only)
            torch.testing.assert_close(steps_only, out.logits, atol=1e-5, rtol=0)
    torch.testing.assert_close(got, out.logits, atol=1e-5, rtol=0)


@pytest.mark.parametrize("model_type", TYPES)
def test_the_lens_last_layer_equals_predict(zoo, model_type):
    lm = engine_for(zoo, model_type)
    encoding = lm.encode(sample_text(zoo(model_type)))
    position = encoding.mask_positions[0]
    if model_type in LENS_REFUSED:
        with pytest.raises(EngineError) as refused:
            lm.lens(encoding, position)
        assert len(str(refused.value).splitlines()) == 1
        return
    result = lm.lens(encoding, position, top_k=5)
    predicted = lm.predict(encoding, top_k=5).masks[0].predictions
    assert [p.token for p in result.layers[-1].top] == [p.token for p in predicted]
    np.testing.assert_allclose(
        [p.score for p in result.layers[-1].top], [p.score for p in predicted], atol=1e-5
    )
    assert result.layers[-1].kl_to_final == pytest.approx(0.0, abs=1e-5)
    grid = lm.lens_grid(encoding)
    assert grid.top_ids[-1, position] == predicted[0].token
