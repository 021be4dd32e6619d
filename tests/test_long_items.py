"""One huge line never exhausts memory, and what is finished survives SIGTERM (issue 24, items 4 and 5).

- A line of about a million words between two ordinary items, through ``probe``, ``pairs`` and
  ``score --file`` in a process whose address space is capped (``prlimit --as``): the huge line is
  an error object naming the limit, the items around it are scored. Normal runs of the bundled
  model on PyTorch peak at about 1.2 GB of address space; before the fix these ran past 2.5 GB
  (22 GB RSS reported for ``pairs``).
- The per-item limit is counted as the tokenizer counts (stretches cut at whitespace add up to
  the whole text's tokens), and an allowed long item is scored as before.
- SIGTERM while ``--jsonl`` lines stream into a file: the process exits 143, and the file holds
  complete lines, in input order, none missing before the last.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_cli import ENV

from mlm_tui.engine import BUNDLED_MODEL

ADDRESS_SPACE = 2_500_000_000
"""bytes: twice what a normal run of the bundled model on PyTorch reaches (VmPeak about 1.23 GB)."""

HUGE = " ".join(["the cat sat on the mat and"] * 150_000)  # 1.05 M words, 4 MB, on one line

pytestmark = pytest.mark.skipif(shutil.which("prlimit") is None, reason="needs prlimit (util-linux)")


def _capped(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["prlimit", f"--as={ADDRESS_SPACE}", sys.executable, "-m", "mlm_tui", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def _lines(proc: subprocess.CompletedProcess[str]) -> list[dict]:
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _assert_refused(row: dict, line: int) -> None:
    assert set(row) == {"line", "error"}, row
    assert row["line"] == line
    assert "limit of 2,048 tokens" in row["error"] and "--max-item-tokens" in row["error"]


MODEL = ("-m", BUNDLED_MODEL, "--backend", "torch")


def test_score_file_refuses_a_huge_line_and_scores_those_around_it(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(f"The dog barked.\n{HUGE}\nA bird sang.\n")
    proc = _capped("score", "--file", str(path), *MODEL)
    rows = _lines(proc)
    assert proc.returncode == 1, proc.stderr
    assert [r.get("text") for r in rows] == ["The dog barked.", None, "A bird sang."]
    _assert_refused(rows[1], 2)
    assert all(len(r["tokens"]) == 4 for r in (rows[0], rows[2]))


def test_pairs_refuses_a_huge_sentence_and_scores_the_pairs_around_it(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text(f"The cat sleeps.\tThe cat sleep.\n{HUGE}\tThe dog.\nThe dogs bark.\tThe dogs barks.\n")
    proc = _capped("pairs", str(path), "--jsonl", *MODEL)
    rows = _lines(proc)
    assert proc.returncode == 1, proc.stderr
    assert [r["line"] for r in rows] == [1, 2, 3]
    _assert_refused(rows[1], 2)
    assert {"pll_good", "pll_bad", "correct"} <= set(rows[0]) and {"pll_good", "pll_bad"} <= set(rows[2])


def test_probe_refuses_a_huge_item_and_scores_those_around_it(tmp_path):
    path = tmp_path / "cloze.tsv"
    path.write_text(
        f"The cat sat on the [MASK].\tmat\n{HUGE} [MASK].\tmat\nParis is the [MASK] of France.\tcapital\n"
    )
    proc = _capped("probe", str(path), "--jsonl", *MODEL)
    rows = _lines(proc)
    assert proc.returncode == 1, proc.stderr
    assert [r["line"] for r in rows] == [1, 2, 3]
    _assert_refused(rows[1], 2)
    assert rows[0]["answer"] == "mat" and rows[2]["answer"] == "capital"


def test_the_limit_is_a_flag_and_a_long_allowed_item_is_scored(tmp_path, bert_dir, bert):
    """Over the limit: an error saying the length; raised with --max-item-tokens: scored in windows, each
    token's log-probability as the engine scores the text alone (the tiny model reads 64 tokens)."""
    text = "The keys to the cabinet are on the table. " * 12  # 120 tokens: over 64, under 4 × 64
    path = tmp_path / "long.txt"
    path.write_text(f"{text}\n")
    n = len(bert.encode(text).tokens) - 2
    low = _capped("score", "--file", str(path), "-m", str(bert_dir), "--max-item-tokens", "100")
    (row,) = _lines(low)
    assert low.returncode == 1
    assert row["error"] == f"the text is {n} tokens long, over the limit of 100 per item (--max-item-tokens)"
    proc = _capped("score", "--file", str(path), "-m", str(bert_dir), "--max-item-tokens", "120")
    (row,) = _lines(proc)
    assert proc.returncode == 0, proc.stderr
    expected = bert.score(bert.encode(text))
    assert [t["log_prob"] for t in row["tokens"]] == pytest.approx(
        [t.log_prob for t in expected.tokens], abs=1e-5
    )
    assert expected.truncated and len(row["tokens"]) == n


def test_counting_by_stretches_adds_up_to_the_whole_text(bert, roberta):
    """What refuses a huge line cheaply counts what the tokenizer would: stretches cut at whitespace."""
    text = "The keys to the cabinet, unbelievably, are on the table; isn't it odd?\n\tYes. " * 40
    for engine in (bert, roberta):
        whole = len(engine.text.pieces(text))
        for step in (20, 50, 333):  # longer than any word: no word is cut
            assert engine.text.count_pieces(text, whole + 1, step=step) == (whole, len(text))
        counted, read = engine.text.count_pieces(text, 100, step=50)
        assert 100 < counted <= 100 + 50 and read < len(text)  # stops soon after the limit


# ------------------------------------------------------------------------------------------- SIGTERM


def _wait_for_lines(path, proc: subprocess.Popen, n: int) -> None:
    """Poll the output file until it holds ``n`` complete lines (the deadline only keeps a broken run
    from hanging the suite; nothing is asserted about time)."""
    deadline = time.monotonic() + 300
    while path.read_bytes().count(b"\n") < n:
        assert proc.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline, "no output"
        time.sleep(0.05)


COMMANDS = {
    "score --file": lambda src: ["score", "--file", str(src)],
    "probe --jsonl": lambda src: ["probe", str(src), "--jsonl"],
    "pairs --jsonl": lambda src: ["pairs", str(src), "--jsonl"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_sigterm_keeps_every_finished_line(command, tmp_path):
    n = 3000
    src = tmp_path / "input"
    if command == "score --file":
        src.write_text("".join(f"Sentence number {i} is here.\n" for i in range(1, n + 1)))
    elif command == "probe --jsonl":
        src.write_text("".join(f"Item {i} is on the [MASK].\ttable\n" for i in range(1, n + 1)))
    else:
        src.write_text("".join(f"Item {i} is here.\tItem {i} are here.\n" for i in range(1, n + 1)))
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlm_tui", *COMMANDS[command](src), *MODEL, "--batch-size", "2"],
            stdout=sink,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        try:
            _wait_for_lines(out, proc, 3)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert b"Traceback" not in stderr
    data = out.read_bytes()
    assert data.endswith(b"\n")  # no half-written line
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert 3 <= len(rows) < n
    if command == "score --file":
        assert [r["text"] for r in rows] == [f"Sentence number {i} is here." for i in range(1, len(rows) + 1)]
    else:
        assert [r["line"] for r in rows] == list(range(1, len(rows) + 1))
        assert all("error" not in r for r in rows)


def test_sigterm_handler_is_put_back_after_main():
    from mlm_tui.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["score", ""]) == 2
    assert signal.getsignal(signal.SIGTERM) == before
