"""Exports: the JSON parses back to the engine's results, and the Markdown tables show the same rows."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

import pytest

from mlm_tui.engine.types import Encoding, MaskResult, Prediction, PredictResult, Token
from mlm_tui.export import (
    export_data,
    exports_dir,
    percent,
    render_json,
    render_markdown,
    shown_token,
    write_export,
)

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``, cells unescaped."""
    lines = markdown.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith(heading))
    header = next(i for i in range(first, len(lines)) if lines[i].startswith("|"))
    rows = []
    for line in lines[header + 2 :]:  # after the header and the |---| line
        if not line.startswith("|"):
            break
        cells = line.strip().strip("|").replace("\\|", "\0").split("|")
        rows.append([c.strip().replace("\0", "|").replace("\\\\", "\\") for c in cells])
    return rows


@pytest.fixture(scope="module")
def two_masks(bert):
    encoding = bert.encode("The keys to the [MASK] are on the table.")
    chosen = next(t.index for t in encoding.tokens if encoding.text[t.start : t.end] == "table")
    return encoding, chosen, bert.predict(encoding, [chosen], top_k=4)


def test_json_holds_the_sentence_masks_and_pipeline_predictions(bert, two_masks):
    encoding, chosen, result = two_masks
    score = bert.score(bert.encode("The keys are on the table."))
    data = json.loads(
        render_json(
            export_data(
                encoding, model=bert.info, masked=[chosen], prediction=result, score=score, created=WHEN
            )
        )
    )
    assert data["text"] == encoding.text and data["created"] == "2026-01-02T03:04:05+00:00"
    assert data["model"]["name"] == bert.info.name and data["model"]["device"] == bert.info.device
    assert [m["position"] for m in data["masks"]] == sorted([encoding.mask_positions[0], chosen])
    table = data["masks"][1]
    token = encoding.tokens[chosen]
    assert table["span"] == [token.start, token.end] and table["original"] == "table"
    assert data["masks"][0]["original"] is None  # typed as [MASK]
    for mask, answer in zip(data["masks"], result.masks, strict=True):
        assert mask["predictions"] == json.loads(
            json.dumps([p.as_pipeline_dict() for p in answer.predictions])
        )
    assert data["masked_text"].count(bert.info.mask_token) == 2 and "table" not in data["masked_text"]
    assert data["score"]["pll"] == pytest.approx(score.pll)
    assert [t["token"] for t in data["score"]["tokens"]] == [t.token for t in score.tokens]


def test_markdown_tables_show_the_predictions_in_order(bert, two_masks):
    encoding, chosen, result = two_masks
    markdown = render_markdown(export_data(encoding, model=bert.info, masked=[chosen], prediction=result))
    for number, answer in enumerate(result.masks, start=1):
        rows = table_rows(markdown, f"## Mask {number} of 2")
        assert [int(r[0]) for r in rows] == list(range(1, len(answer.predictions) + 1))
        assert [r[1] for r in rows] == [p.token_str.strip() or repr(p.token_str) for p in answer.predictions]
        assert [float(r[2].rstrip("%")) for r in rows] == pytest.approx(
            [100 * p.score for p in answer.predictions], abs=1e-4
        )
    assert f"- **Text:** {encoding.text}" in markdown


def test_markdown_shows_scores_and_target_ranks(bert):
    encoding = bert.encode("He works as a [MASK].")
    result = bert.predict(encoding, top_k=2, targets=["nurse", "doctor"])
    score = bert.score(bert.encode("He works as a nurse."))
    markdown = render_markdown(export_data(encoding, model=bert.info, prediction=result, score=score))
    rows = table_rows(markdown, "## Mask 1 of 1")  # the predictions stay, watched words or not
    assert [r[1] for r in rows] == [shown_token(p.token_str) for p in result.masks[0].predictions]
    rows = table_rows(markdown, "Watched words")
    assert [(int(r[0]), r[1]) for r in rows] == [(t.rank, t.target) for t in result.masks[0].targets]
    assert [r[4] for r in rows] == [f"{t.log_prob:.3f}" for t in result.masks[0].targets]
    score_rows = table_rows(markdown, "## Pseudo-log-likelihood")
    assert [(int(r[0]), r[1]) for r in score_rows] == [(t.index, t.token) for t in score.tokens]
    assert [float(r[2]) for r in score_rows] == pytest.approx([t.log_prob for t in score.tokens], abs=1e-3)


def test_pipes_and_blank_tokens_cannot_break_a_table():
    tokens = (
        Token(0, 1, "[CLS]", "[CLS]", 0, 0, None, True),
        Token(1, 5, "a|b", "a|b", 0, 3, 0, False),
        Token(2, 2, "[SEP]", "[SEP]", 3, 3, None, True),
    )
    encoding = Encoding("a|b", tokens)
    result = PredictResult(
        ids=(1, 5, 2),
        masks=(MaskResult(1, (Prediction(0.5, 7, "x|y", "x|y"), Prediction(0.25, 8, " ", " "))),),
        elapsed_ms=1.0,
    )
    markdown = render_markdown(export_data(encoding, model="fake", masked=[1], prediction=result))
    rows = table_rows(markdown, "## Mask 1 of 1")
    assert [r[:3] for r in rows] == [["1", "x|y", "50.0000%"], ["2", "' '", "25.0000%"]]
    assert all(len(r) == 4 for r in rows)


def test_a_comparison_exports_both_panes(bert, roberta):
    panes = []
    for engine in (bert, roberta):
        encoding = engine.encode(f"Paris is the {engine.info.mask_token} of France.")
        panes.append(export_data(encoding, model=engine.info, prediction=engine.predict(encoding, top_k=3)))
    assert [p["model"]["name"] for p in json.loads(render_json(panes))] == [bert.info.name, roberta.info.name]
    markdown = render_markdown(panes)
    assert [line for line in markdown.splitlines() if line.startswith("# ")] == [
        f"# mlm-tui: {bert.info.name}",
        f"# mlm-tui: {roberta.info.name}",
    ]
    assert json.loads(render_json(panes[:1])) == panes[0]  # one pane: an object, not a list


def test_write_export_makes_a_new_md_and_json_pair_each_time(tmp_path, bert, two_masks):
    encoding, chosen, result = two_masks
    data = export_data(encoding, model=bert.info, masked=[chosen], prediction=result)
    first, second = write_export(data, tmp_path), write_export(data, tmp_path)
    assert first != second and first.parent == second.parent == tmp_path
    for path in (first, second):
        assert path.suffix == ".md" and path.read_text() == render_markdown(data)
        assert json.loads(path.with_suffix(".json").read_text()) == json.loads(render_json(data))
    assert len(list(tmp_path.iterdir())) == 4


def test_exports_go_to_the_xdg_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert exports_dir() == tmp_path / "mlm-tui" / "exports"


def test_small_probabilities_stay_apart():
    # 4 decimals of a percent down to 0.01 %, then 3 significant digits: read back, each is within 0.5 %
    for p in (0.5, 0.0123456, 1e-4, 3.21e-5, 1.04e-6, 1.49e-6, 7e-9):
        shown = percent(p)
        assert shown.endswith("%")
        assert float(shown[:-1]) / 100 == pytest.approx(p, rel=5e-3)
    assert len({percent(p) for p in (1.04e-6, 1.26e-6, 1.49e-6)}) == 3
    assert percent(0.0) == "0.0000%"


def test_the_export_holds_the_ids_the_model_reads(bert, two_masks):
    """Issue 22: text → tokens → ids → [MASK] id, as transformers' tokenizer gives them."""
    from transformers import AutoTokenizer

    encoding, chosen, result = two_masks
    tokenizer = AutoTokenizer.from_pretrained(bert.info.path)
    want = tokenizer(encoding.text)["input_ids"]
    want[chosen] = tokenizer.mask_token_id
    for prediction in (result, None):  # from the prediction's input, or from the mask typed in the text
        data = export_data(encoding, model=bert.info, masked=[chosen], prediction=prediction)
        assert data["ids"] == want
        assert data["tokens"] == [tokenizer.convert_ids_to_tokens(i) for i in want]
        markdown = render_markdown(data)
        assert (
            f"[MASK]={tokenizer.mask_token_id}" in markdown and f"{data['tokens'][1]}={want[1]}" in markdown
        )


# ---------------------------------------------------------------- issue 25, item 7: exports say what they are


def _info(**changes):
    from dataclasses import replace

    from mlm_tui.engine.types import ModelInfo

    base = ModelInfo(
        name="bert-base-uncased",
        path="/home/u/.cache/huggingface/hub/models--bert-base-uncased/snapshots/"
        "86b5e0934494bd15c9632b12f734a8a67f723594",
        model_type="bert",
        device="cpu",
        dtype="float32",
        mask_token="[MASK]",
        max_length=512,
        vocab_size=30522,
        vocab_digest="25ce4a7706153b8e",
        backend="onnx",
    )
    return replace(base, **changes)


def test_provenance_names_the_file_each_model_the_date_and_the_version():
    from importlib.metadata import version

    from mlm_tui.export import provenance

    other = _info(name="./my-model", path="/data/my-model", backend="torch", dtype="float16", vocab_digest="")
    lines = provenance("data/crows.csv", [_info(), other], "pairs", created=WHEN)
    text = "\n".join(lines)
    assert lines[0] == "- **File:** `data/crows.csv`"
    model1 = next(line for line in lines if line.startswith("- **Model 1:**"))
    for part in ("`bert-base-uncased`", "revision `86b5e0934494bd15c9632b12f734a8a67f723594`", "onnx", "cpu"):
        assert part in model1
    assert "float32" in model1 and "`25ce4a7706153b8e`" in model1
    model2 = next(line for line in lines if line.startswith("- **Model 2:**"))
    assert "`./my-model`" in model2 and "`/data/my-model`" in model2 and "revision" not in model2
    assert "torch" in model2 and "float16" in model2 and "digest" not in model2
    assert "- **Created:** 2026-01-02T03:04:05+00:00" in lines
    assert f"- **mlm-tui:** {version('mlm-tui')}" in lines
    assert "Salmon" not in text  # the caveat is CrowS-Pairs' alone
    crows = "\n".join(provenance("data/crows.csv", [_info()], "crows", created=WHEN))
    assert "CrowS-Pairs" in crows and "Blodgett et al. 2021" in crows and "on this data" in crows
    typed = provenance(None, [_info()], None, created=WHEN)
    assert typed[0].startswith("- **File:** none") and typed[1].startswith("- **Model:**")
    assert provenance(None, ["gone"], None)[1] == "- **Model:** gone (not loaded)"


def test_the_markdown_export_starts_with_the_header(tmp_path, bert, two_masks):
    from mlm_tui.export import provenance

    encoding, chosen, result = two_masks
    header = provenance(None, [bert.info], None, created=WHEN)
    path = write_export(
        export_data(encoding, model=bert.info, masked=[chosen], prediction=result), tmp_path, header
    )
    lines = path.read_text().splitlines()
    assert lines[0] == "# mlm-tui export"
    assert lines[2 : 2 + len(header)] == header
    assert f"`{bert.info.name}`" in lines[3]
    # the body is the plain export, unchanged (the JSON beside it too)
    body = render_markdown(export_data(encoding, model=bert.info, masked=[chosen], prediction=result))
    assert path.read_text().endswith(body.split("\n", 3)[3])
