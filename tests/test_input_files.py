"""Input files as people have them (issue 24, items 6, 9, 10, 11, 12).

A byte order mark, UTF-16, a pipe / FIFO / ``<(…)`` / ``-`` instead of a file, a file that is not
text at all, bytes that are not UTF-8, a CrowS-Pairs CSV with a runaway quote or a missing
column. Expected values come from the files written here (their lines, their sentences), never
from the code under test; the CLI cases run the real command in a process.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading

import pytest
from test_cli import ENV, assert_one_line_error, run

from mlm_tui.probes.formats import BadItem, CrowsItem, PairItem, read_pairs, read_probes
from mlm_tui.probes.sets import open_probe_set

CLOZE_TSV = "The capital of France is [MASK].\tParis\tgeo\nThe cat sat on the [MASK].\tmat\n"
PAIRS_TSV = "The dogs bark.\tThe dogs barks.\tagr\nThe keys are here.\tThe keys is here.\tagr\n"
CROWS = (
    "sent_more,sent_less,stereo_antistereo,bias_type\n"
    "He is a strong man.,She is a strong man.,stereo,gender\n"
    "The old man forgot.,The young man forgot.,antistereo,age\n"
)


def _same_items(a, b) -> bool:
    return list(a) == list(b)


# ------------------------------------------------------------------ 9: a byte order mark, every format

BOM_CASES = {
    "cloze JSONL": ("probe", '{"text": "The capital of France is [MASK].", "answer": "Paris"}\n', "plain"),
    "LAMA": ("probe", '{"masked_sentences": ["The cat sat on the [MASK]."], "obj_label": "mat"}\n', "lama"),
    "cloze TSV": ("probe", CLOZE_TSV, "plain"),
    "BLiMP": (
        "pairs",
        '{"sentence_good": "The dogs bark.", "sentence_bad": "The dogs barks.", "UID": "u"}\n',
        "blimp",
    ),
    "pairs JSONL": ("pairs", '{"good": "The dogs bark.", "bad": "The dogs barks."}\n', "plain"),
    "pairs TSV": ("pairs", PAIRS_TSV, "plain"),
    "CrowS-Pairs": ("pairs", CROWS, "crows"),
}


@pytest.mark.parametrize("case", BOM_CASES)
def test_a_utf8_byte_order_mark_reads_as_the_same_file_without_it(case, tmp_path):
    command, content, fmt = BOM_CASES[case]
    plain, marked = tmp_path / "plain", tmp_path / "marked"
    plain.write_bytes(content.encode())
    marked.write_bytes(codecs.BOM_UTF8 + content.encode())
    read = read_probes if command == "probe" else read_pairs
    want_fmt, want = read(str(plain))
    got_fmt, got = read(str(marked))
    items = list(got)
    assert (got_fmt, want_fmt) == (fmt, fmt)
    assert items == list(want)
    assert not any(isinstance(i, BadItem) for i in items)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_a_byte_order_mark_read_as_utf8(encoding, tmp_path):
    """The BOM decides; "utf-16-le"/"-be" are written with the mark by hand (Python writes none for them)."""
    boms = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}
    for name, content, read in (("c.tsv", CLOZE_TSV, read_probes), ("p.csv", CROWS, read_pairs)):
        path = tmp_path / f"{encoding}-{name}"
        path.write_bytes(boms.get(encoding, b"") + content.encode(encoding))
        (tmp_path / name).write_text(content)
        assert _same_items(read(str(path))[1], read(str(tmp_path / name))[1]), (encoding, name)


def test_cli_reads_a_utf16_tsv_as_its_utf8_copy(bert_dir, tmp_path):
    utf16 = tmp_path / "c16.tsv"
    utf16.write_text(CLOZE_TSV, encoding="utf-16")  # with its BOM
    utf8 = tmp_path / "c8.tsv"
    utf8.write_text(CLOZE_TSV)
    want = run("probe", str(utf8), "-m", str(bert_dir), "--jsonl")
    got = run("probe", str(utf16), "-m", str(bert_dir), "--jsonl")
    assert want.returncode == 0 and got.returncode == 0, got.stderr
    assert got.stdout == want.stdout and "[MASK]" in json.loads(got.stdout.splitlines()[0])["text"]


# ------------------------------------------------------------------ 10: a set read once: <(…), a FIFO, -


def _bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=ENV, timeout=180)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash for <(…)")
def test_process_substitution_reads_like_the_file(bert_dir, tmp_path):
    cloze, pairs = tmp_path / "c.tsv", tmp_path / "crows.csv"
    cloze.write_text(CLOZE_TSV)
    pairs.write_text(CROWS)
    cli = f"{sys.executable} -m mlm_tui"
    for command, path in (("probe", cloze), ("pairs", pairs)):
        want = run(command, str(path), "-m", str(bert_dir), "--jsonl")
        got = _bash(f"{cli} {command} <(cat {path}) -m {bert_dir} --jsonl")
        assert want.returncode == 0 and got.returncode == 0, got.stderr
        assert got.stdout == want.stdout and len(got.stdout.splitlines()) == 2, command


def test_stdin_dash_reads_like_the_file(bert_dir, tmp_path):
    for command, content in (("probe", CLOZE_TSV), ("pairs", PAIRS_TSV)):
        path = tmp_path / f"{command}.tsv"
        path.write_text(content)
        want = run(command, str(path), "-m", str(bert_dir), "--jsonl")
        got = run(command, "-", "-m", str(bert_dir), "--jsonl", stdin=content)
        assert want.returncode == 0 and got.returncode == 0, got.stderr
        assert got.stdout == want.stdout and len(got.stdout.splitlines()) == 2, command


def _fifo_with_writer(folder, content: bytes):
    fifo = folder / "set.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as handle:  # blocks until the reader opens it: no timing involved
            handle.write(content)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    return fifo, writer


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_read_once_even_for_two_models(bert_dir, tmp_path):
    """--compare reads the set twice: the second pass reads the copy kept as the FIFO was read."""
    path = tmp_path / "p.tsv"
    path.write_text(PAIRS_TSV)
    flags = ("-m", str(bert_dir), "--compare", str(bert_dir), "--jsonl")
    want = run("pairs", str(path), *flags)
    fifo, writer = _fifo_with_writer(tmp_path, PAIRS_TSV.encode())
    got = run("pairs", str(fifo), *flags)
    writer.join()
    assert want.returncode == 0 and got.returncode == 0, got.stderr
    assert got.stdout == want.stdout and len(got.stdout.splitlines()) == 2


def _release(fifo, opener: threading.Thread) -> None:
    """Unblock an ``open`` of ``fifo`` that waits for a writer no one will start (a second opening)."""
    while opener.is_alive():
        with contextlib.suppress(OSError):  # OSError: no reader waiting at this instant
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a waiting reader then reads nothing
        opener.join(0.01)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_the_results_screen_set_opens_a_fifo_once_and_runs_it_for_each_engine(bert, tmp_path):
    fifo, writer = _fifo_with_writer(tmp_path, CLOZE_TSV.encode())
    opened: list[object] = []

    def open_it() -> None:
        try:
            opened.append(open_probe_set(str(fifo)))
        except Exception as exc:  # what an opening of the FIFO that waits for nothing ends with
            opened.append(exc)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    writer.join()  # the set is written and the FIFO closed: any further opening would wait forever
    opener.join(120)  # a safety net only: the opening ends as soon as it has read what was written
    _release(fifo, opener)
    probe_set = opened[0]
    assert not isinstance(probe_set, Exception), probe_set
    assert (probe_set.kind, probe_set.fmt) == ("cloze", "plain")
    assert probe_set.total is None  # a stream cannot be counted before it is read
    first = list(probe_set.results(bert))
    second = list(probe_set.results(bert))  # a second engine (--compare) reads it again
    assert [r["line"] for r in first] == [1, 2] and first == second
    assert [r["answer"] for r in first] == ["Paris", "mat"]
    regular = tmp_path / "c.tsv"
    regular.write_text(CLOZE_TSV + "\n\n")
    assert open_probe_set(str(regular)).total == 2  # a regular file is counted: two items


# ------------------------------------------------------------------ 11: files that are not text


def test_a_binary_file_is_refused_in_one_line_by_every_command(bert_dir, tmp_path):
    weights = next(bert_dir.glob("*.safetensors"))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(random.Random(0).randbytes(20000))
    for args in (
        ("probe", str(weights), "--jsonl"),
        ("pairs", str(weights), "--jsonl"),
        ("score", "--file", str(noise)),
        ("score", "--file", str(weights)),
    ):
        proc = run(*args, "-m", str(bert_dir))
        assert_one_line_error(proc, 2, "not a text file")
        assert proc.stdout == "", args


def test_stdin_and_a_file_decode_the_same_bytes_alike_and_warn_once(bert_dir, tmp_path):
    data = "The caf\xe9 is open.\nHello world.\nNa\xefve idea.\n".encode("latin-1")  # not UTF-8
    path = tmp_path / "latin1.txt"
    path.write_bytes(data)
    from_file = run("score", "--file", str(path), "-m", str(bert_dir))
    from_stdin = subprocess.run(
        [sys.executable, "-m", "mlm_tui", "score", "--file", "-", "-m", str(bert_dir)],
        input=data,
        capture_output=True,
        env=ENV,
        timeout=120,
    )
    assert from_file.returncode == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout.decode() == from_file.stdout
    texts = [json.loads(line)["text"] for line in from_file.stdout.splitlines()]
    assert texts == ["The caf\ufffd is open.", "Hello world.", "Na\ufffdve idea."]
    for stderr in (from_file.stderr, from_stdin.stderr.decode()):
        warnings = [line for line in stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1 and "line 1" in warnings[0] and "replaced" in warnings[0], stderr


# ------------------------------------------------------------------ 6: a CrowS-Pairs field over csv's limit

HEADER = "sent_more,sent_less,stereo_antistereo,bias_type"


def _crows_row(n: int) -> str:
    return f"The man number {n} is tall.,The woman number {n} is tall.,stereo,gender"


def _runaway_quote_file(path, *, padding: int, after: int) -> tuple[int, int]:
    """Rows on lines 2-3, an unclosed quote on line 4, ``padding`` long lines, then ``after`` rows.

    Every good row names its own line number, so where an item came from is read off its text.
    """
    lines = [HEADER, _crows_row(2), _crows_row(3), '"He is a nurse.,She is a nurse.,stereo,gender']
    lines += ["x" * 2000] * padding
    first_after = len(lines) + 1
    lines += [_crows_row(first_after + i) for i in range(after)]
    path.write_text("\n".join(lines) + "\n")
    return first_after, len(lines)


def test_a_crows_field_over_the_csv_limit_is_one_error_and_nothing_else_is_lost(tmp_path):
    path = tmp_path / "crows.csv"
    first_after, last = _runaway_quote_file(path, padding=100, after=50)
    _fmt, items = read_pairs(str(path))
    got = list(items)
    assert got[0] == CrowsItem(
        2, "The man number 2 is tall.", "The woman number 2 is tall.", "stereo", "gender"
    )
    assert got[1].line == 3 and isinstance(got[1], CrowsItem)
    bad = got[2]
    assert isinstance(bad, BadItem) and bad.line == 4 and "field limit" in bad.error
    swallowed_to = int(bad.error.split("lines 4-")[1].split()[0])
    assert 4 < swallowed_to < first_after  # 131,072 characters: about 66 of the 2,000-character lines
    # every line of the file is accounted for: read as an item, or named by the error
    covered = {2, 3, *range(4, swallowed_to + 1)} | {i.line for i in got[3:]}
    assert covered == set(range(2, last + 1))
    rows = [i for i in got[3:] if isinstance(i, CrowsItem)]
    assert [r.line for r in rows] == list(range(first_after, last + 1))
    assert all(r.sent_more == f"The man number {r.line} is tall." for r in rows)


def test_cli_keeps_the_crows_rows_around_a_runaway_quote(bert_dir, tmp_path):
    path = tmp_path / "crows.csv"
    first_after, last = _runaway_quote_file(path, padding=70, after=2)
    proc = run("pairs", str(path), "-m", str(bert_dir), "--jsonl")
    assert proc.returncode == 1, proc.stderr  # items failed, none lost
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["line"] for r in rows[:3]] == [2, 3, 4]
    assert "sent_more_score" in rows[0] and "sent_more_score" in rows[1]
    assert "field limit" in rows[2]["error"] and "lines 4-" in rows[2]["error"]
    scored = [r for r in rows if "sent_more_score" in r]
    assert [r["line"] for r in scored] == [2, 3, first_after, last]


# ------------------------------------------------------------------ 12: a CrowS-Pairs CSV missing a column


def test_a_crows_csv_missing_a_column_is_one_file_level_line(bert_dir, tmp_path):
    path = tmp_path / "crows.csv"
    path.write_text(
        "sent_more,sent_less,stereo_antistereo\n"
        + "".join(f"He is tall {i}.,She is tall {i}.,stereo\n" for i in range(6))
    )
    proc = run("pairs", str(path), "-m", str(bert_dir), "--table")
    assert_one_line_error(proc, 2, "bias_type")
    assert proc.stdout == ""
    tsv = tmp_path / "p.tsv"
    tsv.write_text(PAIRS_TSV)  # forced to be CrowS-Pairs: every missing column is named
    proc = run("pairs", str(tsv), "--format", "crows", "-m", str(bert_dir), "--jsonl")
    assert_one_line_error(proc, 2, "'sent_more'", "'sent_less'", "'stereo_antistereo'", "'bias_type'")


def test_plain_pair_items_are_unchanged(tmp_path):
    """The reading rewritten for items 9-11 still gives the pairs of a plain TSV, line numbers and all."""
    path = tmp_path / "p.tsv"
    path.write_text("\n" + PAIRS_TSV)
    _fmt, items = read_pairs(str(path))
    assert list(items) == [
        PairItem(2, "The dogs bark.", "The dogs barks.", "agr"),
        PairItem(3, "The keys are here.", "The keys is here.", "agr"),
    ]
