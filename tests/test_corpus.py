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


def test_a_long_allowed_item_shows_its_masked_rows_on_the_progress_bar(bert, tmp_path, monkeypatch):
    """Issue 24, item 5: one long line is many forward passes before its line is done; the bar says
    how many of its masked rows are done, so a long run is never silent."""
    import io

    import rich.progress

    from mlm_tui.corpus import score_file

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    seen: list[str] = []
    update = rich.progress.Progress.update

    def recording(self, task, **fields):
        if fields.get("within"):
            seen.append(fields["within"])
        return update(self, task, **fields)

    monkeypatch.setattr("sys.stderr", Terminal())
    monkeypatch.setattr(rich.progress.Progress, "update", recording)
    words = " ".join(["the cat sat on the mat"] * 100)  # 600 words: 600 masked rows, many passes
    path = tmp_path / "long.txt"
    path.write_text(f"A short line.\n{words}\n")
    out = io.StringIO()
    status = score_file(bert, str(path), batch_size=8, out=out, max_item_tokens=1000)
    assert status == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 2 and len(rows[1]["tokens"]) == 600
    counts = [tuple(int(n.replace(",", "")) for n in s.split()[1].split("/")) for s in seen]
    assert counts and all(queued >= 600 for _, queued in counts)
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)  # it moves forward


def test_a_line_longer_than_what_is_held_is_read_in_part_and_the_rest_let_go(bert, tmp_path, monkeypatch):
    """Issue 24, item 5: whatever one line holds, only ``MAX_LINE`` characters of it are held; stderr
    names the line and its length, and the lines around it are read as they are."""
    import io

    import mlm_tui.inputs
    from mlm_tui.corpus import score_file

    monkeypatch.setattr(mlm_tui.inputs, "MAX_LINE", 64)
    path = tmp_path / "lines.txt"
    path.write_text("A short line.\n" + "word " * 70 + "\nThe last line.\n")  # 350 characters
    said: list[str] = []
    out = io.StringIO()
    score_file(bert, str(path), batch_size=8, out=out, warn=said.append, max_item_tokens=1000)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("text") for r in (rows[0], rows[2])] == ["A short line.", "The last line."]
    assert len(rows) == 3 and rows[1]["text"] == ("word " * 13).strip()  # the first 64 characters
    assert said == [f"{path}, line 2: 350 characters; only the first 64 are read"]
