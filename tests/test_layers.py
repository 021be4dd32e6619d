"""The MLM lens, the layer x token grid and hidden states, against plain transformers code written here.

The reference: ``output_hidden_states=True`` and the model's own head applied by hand to each layer
(``cls`` for BERT, ``lm_head`` for RoBERTa, DistilBERT's four modules), softmax, entropy and KL in
numpy; cosine similarities from the same hidden states with numpy. The lens's last layer must equal
``pipeline("fill-mask")`` and ``predict``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny_models import save_bert

from mlm_tui import cli
from mlm_tui.engine import EngineError, HiddenStates, MaskedLM

TEXT = "The cat sat on the [MASK] near the door of the house."


@pytest.fixture(scope="session")
def distilbert_dir(tmp_path_factory):
    return save_bert(tmp_path_factory.mktemp("tiny-distilbert"), model_type="distilbert")


_engines: dict[str, MaskedLM] = {}


def engine(folder) -> MaskedLM:
    key = str(folder)
    if key not in _engines:
        _engines[key] = MaskedLM.load(key, backend="torch")
    return _engines[key]


def by_hand(model, model_type: str, hidden):
    """The model's MLM head applied by hand, as Din et al.'s code applies ``BertForMaskedLM.cls``."""
    if model_type == "bert":
        return model.cls(hidden)
    if model_type == "roberta":
        return model.lm_head(hidden)
    assert model_type == "distilbert"
    return model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(hidden))))


def reference(folder, model_type: str, ids: list[int]):
    """(hidden states (layers, n, d), log-probabilities (layers, n, vocab)) from plain transformers."""
    import torch
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        states = torch.stack([h[0] for h in out.hidden_states])
        logits = by_hand(model, model_type, states)
        # the last layer by hand is the model's own output
        np.testing.assert_allclose(logits[-1].numpy(), out.logits[0].numpy(), atol=1e-5)
        return states.numpy(), torch.log_softmax(logits, dim=-1).numpy()


KINDS = [("bert", "bert_dir"), ("roberta", "roberta_dir"), ("distilbert", "distilbert_dir")]


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
def test_the_lens_is_the_head_applied_by_hand_to_every_layer(request, model_type, fixture):
    folder = request.getfixturevalue(fixture)
    lm = engine(folder)
    encoding = lm.encode(TEXT)
    position = encoding.mask_positions[0]
    result = lm.lens(encoding, position, top_k=4)
    _states, log_probs = reference(folder, model_type, list(encoding.ids))
    expected = log_probs[:, position, :]
    assert len(result.layers) == len(expected) == 3  # embeddings and the tiny models' two layers
    np.testing.assert_allclose(result.log_probs, expected, atol=1e-5)
    final = expected[-1].astype(np.float64)
    top1 = int(np.argmax(final))
    for layer, row in zip(result.layers, expected.astype(np.float64), strict=True):
        probs = np.exp(row)
        order = np.argsort(-probs, kind="stable")[:4]
        assert [p.token for p in layer.top] == order.tolist()
        np.testing.assert_allclose([p.score for p in layer.top], probs[order], atol=1e-6)
        assert layer.entropy == pytest.approx(-(probs * row).sum(), abs=1e-5)
        assert layer.kl_to_final == pytest.approx((np.exp(final) * (final - row)).sum(), abs=1e-5)
        assert layer.final_rank == 1 + int((row > row[top1]).sum())
        assert layer.final_prob == pytest.approx(probs[top1], abs=1e-6)
        assert result.rank_prob(layer.layer, top1) == (
            layer.final_rank,
            pytest.approx(layer.final_prob, abs=1e-6),
        )
    assert result.layers[-1].kl_to_final == pytest.approx(0.0, abs=1e-6)
    assert result.layers[-1].final_rank == 1


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
def test_the_last_layer_equals_the_pipeline_and_predict(request, model_type, fixture):
    from transformers import pipeline

    folder = request.getfixturevalue(fixture)
    lm = engine(folder)
    encoding = lm.encode(TEXT)
    position = encoding.mask_positions[0]
    last = lm.lens(encoding, position, top_k=5).layers[-1]
    expected = pipeline("fill-mask", model=str(folder), device="cpu")(encoding.text, top_k=5)
    assert [p.token for p in last.top] == [e["token"] for e in expected]
    np.testing.assert_allclose([p.score for p in last.top], [e["score"] for e in expected], atol=1e-5)
    predicted = lm.predict(encoding, top_k=5).masks[0].predictions
    np.testing.assert_allclose([p.score for p in last.top], [p.score for p in predicted], atol=1e-5)
    assert [p.token_str for p in last.top] == [p.token_str for p in predicted]


@pytest.mark.parametrize(("model_type", "fixture"), KINDS)
def test_the_grid_is_the_top1_by_hand_at_every_layer_and_token(request, model_type, fixture):
    folder = request.getfixturevalue(fixture)
    lm = engine(folder)
    encoding = lm.encode("A cat [MASK] on the mat.")
    grid = lm.lens_grid(encoding)
    _states, log_probs = reference(folder, model_type, list(encoding.ids))
    assert grid.top_ids.shape == log_probs.shape[:2]
    assert grid.top_ids.tolist() == log_probs.argmax(axis=-1).tolist()
    np.testing.assert_allclose(grid.top_probs, np.exp(log_probs.max(axis=-1)), atol=1e-5)
    assert grid.top_strs[-1][3] == lm.token_str(int(grid.top_ids[-1, 3]))
    assert grid.window == (0, len(encoding.tokens))


def test_a_position_masked_on_top_reads_as_a_typed_mask(bert):
    typed = bert.encode("The cat sat on the [MASK].")
    plain = bert.encode("The cat sat on the mat.")
    assert len(typed.tokens) == len(plain.tokens)
    position = typed.mask_positions[0]
    a = bert.lens(typed, position)
    b = bert.lens(plain, position, masked=[position])
    np.testing.assert_array_equal(a.log_probs, b.log_probs)
    assert a.ids == b.ids and b.ids[position] == bert.text.mask_id
    with pytest.raises(EngineError):
        bert.lens(plain, 0, masked=[0])  # [CLS] cannot be masked


def test_cosine_and_the_strip_from_the_hidden_states(bert_dir):
    lm = engine(bert_dir)
    encoding = lm.encode("The keys to the cabinet are on the table.")
    states, _ = reference(bert_dir, "bert", list(encoding.ids))
    hidden = lm.hidden_states(encoding)
    assert hidden.states.shape == states.shape
    np.testing.assert_allclose(hidden.states, states, atol=1e-5)
    for layer in range(hidden.layers):
        x = states[layer].astype(np.float64)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        np.testing.assert_allclose(hidden.cosine(layer), unit @ unit.T, atol=1e-5)
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        unit = z / np.linalg.norm(z, axis=1, keepdims=True)
        np.testing.assert_allclose(hidden.cosine(layer, standardise=True), unit @ unit.T, atol=1e-5)
    position = 3
    strip = hidden.strip(position)
    path = states[:, position, :].astype(np.float64)

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert len(strip) == hidden.layers
    for layer, (norm, previous, first) in enumerate(strip):
        assert norm == pytest.approx(np.linalg.norm(path[layer]), rel=1e-5)
        assert first == pytest.approx(cos(path[0], path[layer]), abs=1e-5)
        if layer == 0:
            assert np.isnan(previous)
        else:
            assert previous == pytest.approx(cos(path[layer - 1], path[layer]), abs=1e-5)
    with pytest.raises(EngineError):
        hidden.cosine(hidden.layers)


def test_standardising_removes_a_rogue_dimension():
    """One dimension far larger than the rest makes every raw cosine ~1; standardised, it does not."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(1, 6, 16)).astype(np.float32)
    vectors[0, :, 5] += 100.0
    states = HiddenStates(tokens=("a",) * 6, ids=(0,) * 6, states=vectors, window=(0, 6))
    raw = states.cosine(0)
    assert raw[~np.eye(6, dtype=bool)].min() > 0.99
    x = vectors[0].astype(np.float64)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    unit = z / np.linalg.norm(z, axis=1, keepdims=True)
    np.testing.assert_allclose(states.cosine(0, standardise=True), unit @ unit.T, atol=1e-5)
    assert states.cosine(0, standardise=True)[~np.eye(6, dtype=bool)].max() < 0.9


def test_lens_grid_and_similarity_on_one_text_run_one_forward_pass(bert_dir, monkeypatch):
    lm = MaskedLM.load(str(bert_dir), backend="torch")  # its own cache
    calls = []
    original = lm.forward.hidden_states
    monkeypatch.setattr(lm.forward, "hidden_states", lambda ids: calls.append(ids) or original(ids))
    encoding = lm.encode(TEXT)
    position = encoding.mask_positions[0]
    lm.lens(encoding, position)
    lm.lens(encoding, 2)
    lm.lens_grid(encoding)
    lm.hidden_states(encoding).cosine(1)
    assert len(calls) == 1
    lm.lens(encoding, 2, masked=[3])  # other ids: another pass
    assert len(calls) == 2


def long_text(lm: MaskedLM) -> str:
    words = ["the", "cat", "sat", "on", "the", "mat", "and", "the", "dog", "ran", "in", "the", "park"]
    text = " ".join(words[i % len(words)] for i in range(lm.info.max_length + 20))
    return text + " near the [MASK]."


def test_a_long_text_is_read_in_the_window_predictions_use(bert_dir):
    lm = engine(bert_dir)
    encoding = lm.encode(long_text(lm))
    n = len(encoding.tokens)
    assert n > lm.info.max_length
    position = encoding.mask_positions[0]
    result = lm.lens(encoding, position, top_k=5)
    prediction = lm.predict(encoding, top_k=5)
    assert prediction.truncated
    np.testing.assert_allclose(
        [p.score for p in result.layers[-1].top],
        [p.score for p in prediction.masks[0].predictions],
        atol=1e-5,
    )
    start, end = result.window
    assert end - start == lm.info.max_length - 2 and start <= position < end
    # by hand: the model on the window's ids
    window = [encoding.ids[0], *encoding.ids[start:end], encoding.ids[-1]]
    _states, log_probs = reference(bert_dir, "bert", window)
    np.testing.assert_allclose(result.log_probs, log_probs[:, position - start + 1, :], atol=1e-5)
    grid = lm.lens_grid(encoding)
    assert grid.window == (start, end)
    assert (grid.top_ids[:, 1:start] == -1).all() and np.isnan(grid.top_probs[:, 1:start]).all()
    assert grid.top_strs[0][1] == ""
    assert grid.top_ids[:, position].tolist() == log_probs[:, position - start + 1].argmax(axis=-1).tolist()
    hidden = lm.hidden_states(encoding)
    assert np.isnan(hidden.states[:, 1, :]).all()
    cosine = hidden.cosine(1)
    assert np.isnan(cosine[1, position]) and not np.isnan(cosine[position, position])
    # the start of the text, far from the mask: its own window
    early = lm.lens(encoding, 2)
    assert early.window[0] == 1 and early.window[1] - early.window[0] == lm.info.max_length - 2


def test_a_type_the_lens_cannot_read_is_refused_in_one_line(zoo):
    lm = MaskedLM.load(str(zoo("funnel")), backend="torch")
    encoding = lm.encode("The cat sat on the [MASK].")
    for ask in (
        lambda: lm.lens(encoding, 1),
        lambda: lm.lens_grid(encoding),
        lambda: lm.hidden_states(encoding),
    ):
        with pytest.raises(EngineError) as refused:
            ask()
        message = str(refused.value)
        assert len(message.splitlines()) == 1 and "funnel" in message and "pools" in message
    assert lm.predict(encoding).masks  # the rest still works


# ---------------------------------------------------------------- the command line


def run(capfd, *argv: str) -> tuple[int, str, str]:
    capfd.readouterr()
    try:
        code = cli.main(["layers", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capfd.readouterr()
    return code, out, err


def test_layers_json(bert_dir, capfd):
    code, out, err = run(capfd, TEXT, "-m", str(bert_dir), "-b", "torch", "--json", "-k", "2")
    assert code == 0, err
    data = json.loads(out)
    lm = engine(bert_dir)
    encoding = lm.encode(TEXT)
    assert data["model"] == lm.info.name
    assert data["tokens"] == [t.text for t in encoding.tokens]
    assert data["ids"] == list(encoding.ids)
    (lens,) = data["lens"]
    position = encoding.mask_positions[0]
    assert lens["position"] == position and lens["token_str"] == encoding.tokens[position].text
    _states, log_probs = reference(bert_dir, "bert", list(encoding.ids))
    assert [layer["layer"] for layer in lens["layers"]] == list(range(len(log_probs)))
    for layer, row in zip(lens["layers"], log_probs[:, position], strict=True):
        order = np.argsort(-row, kind="stable")[:2]
        assert [t["token"] for t in layer["top"]] == order.tolist()
        np.testing.assert_allclose([t["score"] for t in layer["top"]], np.exp(row[order]), atol=1e-6)
        assert set(layer) == {"layer", "top", "entropy", "kl_to_final", "final_rank", "final_prob"}
        assert set(layer["top"][0]) == {"token", "token_str", "score"}
    assert "similarity" not in data


def test_layers_json_at_tokens_with_similarity_on_chosen_layers(bert_dir, capfd):
    argv = [TEXT, "-m", str(bert_dir), "-b", "torch", "--json", "--at", "0", "--at", "3", "--similarity"]
    code, out, err = run(capfd, *argv, "--layer", "2", "--layer", "0")
    assert code == 0, err
    data = json.loads(out)
    assert [lens["position"] for lens in data["lens"]] == [0, 3]
    assert [layer["layer"] for layer in data["lens"][0]["layers"]] == [2, 0]
    lm = engine(bert_dir)
    states, _ = reference(bert_dir, "bert", list(lm.encode(TEXT).ids))
    assert [block["layer"] for block in data["similarity"]] == [2, 0]
    for block in data["similarity"]:
        x = states[block["layer"]].astype(np.float64)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        np.testing.assert_allclose(np.array(block["cosine"]), unit @ unit.T, atol=1e-5)


def test_layers_reads_stdin_and_prints_markdown(bert_dir, capfd, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(TEXT.encode())))
    code, out, err = run(capfd, "-", "-m", str(bert_dir), "-b", "torch", "--markdown")
    assert code == 0, err
    assert out.startswith("# mlm-tui layers:") and "| layer | top |" in out
    assert out.count("\n| ") >= engine(bert_dir).model.config.num_hidden_layers + 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["The cat sat on the mat."], "no mask"),
        ([TEXT, "--at", "99"], "--at 99"),
        ([TEXT, "--at", "-1"], "--at -1"),
        ([TEXT, "--layer", "3"], "--layer 3"),
        ([TEXT, "--layer", "-1"], "--layer -1"),
        (["   "], "empty"),
        ([TEXT, "--standardise"], "--similarity"),
        ([TEXT, "-k", "0"], "-k"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(bert_dir, capfd, argv, needle):
    code, out, err = run(capfd, *argv, "-m", str(bert_dir), "-b", "torch")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_a_refused_type_is_one_line_and_exit_1(zoo, capfd):
    code, out, err = run(capfd, "The cat sat on the [MASK].", "-m", str(zoo("bart")), "-b", "torch", "--json")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "bart" in err and "decoder" in err


def test_layers_warns_about_the_window_on_a_long_text(bert_dir, capfd):
    lm = engine(bert_dir)
    code, out, err = run(capfd, long_text(lm), "-m", str(bert_dir), "-b", "torch", "--json", "--similarity")
    assert code == 0
    assert "longer than" in err
    data = json.loads(out)
    assert any(v is None for v in data["similarity"][0]["cosine"][1])  # outside the window: null
