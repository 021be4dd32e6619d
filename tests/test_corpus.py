"""``mlm-tui score --file``: one output line per input line, each the object ``score --json`` prints."""

from __future__ import annotations

import json

import pytest
from test_cli import run

LINES = [
    "The keys to the cabinet are on the table.",
    "",
    '{"text": "Hello world!"}',
    '{"text": ',
    '{"title": "no text field"}',
    "Paris is the capital of France.",
]


def test_every_line_gets_one_output_line_in_order(bert_dir, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    proc = run("score", "--file", str(corpus), "-m", str(bert_dir), "--batch-size", "5")
    assert proc.returncode == 1  # some lines could not be scored
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == len(LINES)
    assert [r.get("line") for r in rows] == [None, 2, None, 4, 5, None]
    assert all(r["error"] for r in rows if "line" in r)
    for row, text in ((rows[0], LINES[0]), (rows[2], "Hello world!"), (rows[5], LINES[5])):
        single = json.loads(run("score", text, "-m", str(bert_dir), "--json").stdout)
        assert row["text"] == single["text"] and row["pll"] == pytest.approx(single["pll"], abs=1e-4)
        assert [t["log_prob"] for t in row["tokens"]] == pytest.approx(
            [t["log_prob"] for t in single["tokens"]], abs=1e-5
        )


def test_stdin_and_exit_status_zero_when_all_lines_score(bert_dir):
    proc = run("score", "--file", "-", "-m", str(bert_dir), stdin="Hello world!\nThe cat sat.\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["text"] for line in proc.stdout.splitlines()] == ["Hello world!", "The cat sat."]
    assert "scoring" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_text_and_file_together_is_an_error(bert_dir, tmp_path):
    proc = run("score", "a b", "--file", str(tmp_path / "x"), "-m", str(bert_dir))
    assert proc.returncode == 2 and "not both" in proc.stderr  # a usage error
