"""Session journals: written before a change is shown, read back after a crash, undo history included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mlm_tui.journal import (
    Journal,
    JournalError,
    last_session,
    list_sessions,
    read_session,
    sessions_dir,
)
from mlm_tui.session import Snapshot

A = Snapshot("The cat sat.")
B = Snapshot("The cat sat.", frozenset({(4, 7)}))
C = Snapshot("The dog sat.", frozenset({(4, 7)}))


def write_session(directory, *changes, models=("tiny-bert",)) -> Journal:
    journal = Journal.start(models, top_k=7, options={"device": "cpu"}, directory=directory)
    for kind, snapshot in changes:
        journal.append(kind, snapshot)
    return journal


def test_state_and_undo_history_are_rebuilt(tmp_path):
    journal = write_session(
        tmp_path, ("open", A), ("mask", B), ("substitute", C), ("undo", B), ("undo", A), ("redo", B)
    )
    journal.append("model", B, models=["other-model"])
    journal.close()
    state = read_session(journal.path)
    assert state.current == B
    assert state.history.past == (A, B)
    assert state.history.future == (C,)  # one more redo would bring back the substitution
    assert state.models == ("other-model",)
    assert state.header.models == ("tiny-bert",) and state.header.top_k == 7
    assert state.header.options == {"device": "cpu"}
    assert state.changes == 7
    assert state.history.redo() == C


def test_an_edit_after_undo_drops_the_redo_future(tmp_path):
    journal = write_session(tmp_path, ("open", A), ("mask", B), ("undo", A), ("edit", C))
    state = read_session(journal.path)
    assert state.history.past == (A, C) and state.history.future == ()


def copies(path):
    return sorted(path.parent.glob(path.name + ".damaged-*"))


def test_a_last_line_cut_mid_way_is_skipped_kept_and_the_next_entry_starts_its_own_line(tmp_path):
    journal = write_session(tmp_path, ("open", A), ("mask", B), ("substitute", C))
    journal.close()
    raw = journal.path.read_bytes()
    cut = raw[: len(raw) - 9]  # a crash part-way through the last entry (line 4)
    journal.path.write_bytes(cut)
    state = read_session(journal.path)
    assert state.current == B and state.changes == 2 and state.skipped == (4,)
    reopened = Journal.reopen(state)
    assert copies(journal.path) == [reopened.damaged_copy]
    assert reopened.damaged_copy.read_bytes() == cut  # the journal as it was, before anything was added
    reopened.append("edit", C)
    reopened.close()
    after = journal.path.read_bytes()
    assert after.startswith(cut)  # nothing deleted
    lines = after.decode().split("\n")
    assert json.loads(lines[4])["text"] == C.text  # the new entry has a line of its own
    again = read_session(journal.path)
    assert again.current == C and again.changes == 3 and again.skipped == (4,)
    Journal.reopen(again).close()
    assert len(copies(journal.path)) == 1  # one copy holds that damage: not made again


def entry_line(kind, snapshot) -> bytes:
    return (
        json.dumps({"kind": kind, "time": "2024-01-01T00:00:00+00:00", **snapshot.as_dict()}).encode() + b"\n"
    )


D = Snapshot("The dog ran.", frozenset({(8, 11)}))
E = Snapshot("The dog ran fast.", frozenset({(8, 11)}))


def test_an_unterminated_line_in_the_middle_deletes_nothing_and_what_follows_is_replayed(tmp_path):
    journal = write_session(tmp_path, ("open", A), ("mask", B))
    journal.close()
    # a write cut off part-way, then more appended after it (the next entry glued to the cut one)
    damaged = journal.path.read_bytes() + entry_line("substitute", C)[:20] + entry_line("edit", D)
    damaged += entry_line("edit", E)
    journal.path.write_bytes(damaged)
    state = read_session(journal.path)
    assert state.skipped == (4,)
    assert state.history.past == (A, B, D, E) and state.current == E  # the glued entry is read too
    reopened = Journal.reopen(state)
    reopened.append("mask", Snapshot(E.text))
    reopened.close()
    assert journal.path.read_bytes().startswith(damaged)  # every byte still there
    assert reopened.damaged_copy is not None and reopened.damaged_copy.read_bytes() == damaged
    again = read_session(journal.path)
    assert again.current == Snapshot(E.text) and again.changes == 5


def test_a_damaged_entry_that_is_valid_json_is_skipped_and_later_work_is_replayed(tmp_path):
    journal = write_session(tmp_path, ("open", A), ("mask", B))
    journal.close()
    with open(journal.path, "ab") as out:
        out.write(b'{"kind":"edit","text":"Damaged.","masks":[[1,2,3]]}\n')
        for line in (
            b'{"kind":"edit","text":"Out of range.","masks":[[5,99]]}\n',
            b'{"kind":"paste","text":"No such kind.","masks":[]}\n',
            b'{"kind":"model","text":"The cat sat.","masks":[],"models":"not a list"}\n',
            b"[1, 2]\n",
        ):
            out.write(line)
        out.write(entry_line("substitute", C))
    state = read_session(journal.path)
    assert state.skipped == (4, 5, 6, 7, 8)
    assert state.current == C and state.history.past == (A, B, C) and state.changes == 3
    assert state.done == 2  # the mask and the substitution
    reopened = Journal.reopen(state)
    reopened.append("edit", D)  # new work after the damage is what the next resume shows
    reopened.close()
    assert read_session(journal.path).current == D
    assert last_session(tmp_path).current == D
    (summary,) = list_sessions(tmp_path, problems := [])
    assert summary.last_text == D.text and summary.skipped == (4, 5, 6, 7, 8)
    assert len(problems) == 1 and "lines 4, 5, 6, 7, 8" in problems[0] and str(journal.path) in problems[0]


def test_a_write_that_fails_part_way_leaves_the_next_entry_on_a_line_of_its_own(tmp_path, monkeypatch):
    journal = write_session(tmp_path, ("open", A))
    real_write = os.write
    calls = []

    def write_half_then_fail(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", write_half_then_fail)
    with pytest.raises(OSError):
        journal.append("mask", B)
    monkeypatch.setattr(os, "write", real_write)
    journal.append("substitute", C)
    journal.close()
    state = read_session(journal.path)
    assert state.current == C and state.history.past == (A, C) and state.skipped == (3,)


def test_a_journal_whose_header_cannot_be_read_is_named_by_sessions(tmp_path):
    (tmp_path / "20240101T000000000000Z.jsonl").write_text('{"kind": "hea\n{"kind":"edit"}\n')
    problems: list[str] = []
    assert list_sessions(tmp_path, problems) == []
    assert len(problems) == 1 and "no header" in problems[0]


def test_a_session_where_nothing_happened_leaves_no_file(tmp_path):
    write_session(tmp_path).close()
    assert list(tmp_path.iterdir()) == []
    assert last_session(tmp_path) is None


def test_list_and_last_sessions_newest_first_and_bounded(tmp_path):
    paths = []
    for number in range(4):
        journal = Journal.start(["m"], top_k=5, directory=tmp_path, keep=3)
        journal.append("open", Snapshot(f"sentence {number}"))
        journal.append("mask", Snapshot(f"sentence {number}", frozenset({(0, 8)})))
        journal.close()
        paths.append(journal.path)
    (tmp_path / "00000000T000000000000Z.jsonl").write_text("not json\n")  # unreadable: skipped
    summaries = list_sessions(tmp_path)
    assert [s.path for s in summaries] == paths[:0:-1]  # the oldest was pruned
    assert not paths[0].exists()
    assert summaries[0].last_text == "sentence 3" and summaries[0].changes == 2 and summaries[0].model == "m"
    latest = last_session(tmp_path)
    assert latest is not None and latest.path == paths[-1]


def test_unreadable_journals_raise_one_clear_error(tmp_path):
    with pytest.raises(JournalError, match="cannot read"):
        read_session(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "edit", "text": "x", "masks": []}\n')
    with pytest.raises(JournalError, match="header"):
        read_session(bad)


def test_unknown_change_kinds_are_refused(tmp_path):
    journal = write_session(tmp_path)
    with pytest.raises(ValueError, match="unknown change kind"):
        journal.append("paste", A)
    with pytest.raises(ValueError, match="models"):
        journal.append("model", A)
    with pytest.raises(ValueError, match="words"):
        journal.append("watch", A)
    with pytest.raises(ValueError, match="words"):
        journal.append("mask", A, words=["he"])


def test_sessions_live_in_the_xdg_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert sessions_dir() == tmp_path / "mlm-tui" / "sessions"


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlm_tui.journal import Journal
    from mlm_tui.session import Snapshot

    journal = Journal.start(["tiny"], top_k=5, directory=Path(sys.argv[1]))
    number = 0
    while True:
        journal.append("edit", Snapshot(f"edit {number}", frozenset({(0, 4)})))
        print(journal.path, number, flush=True)  # "shown" only once it is on disk
        number += 1
    """
)


def test_sigkill_while_appending_loses_at_most_the_entry_being_written(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        assert child.stdout is not None
        for _ in range(50):
            line = child.stdout.readline()
            assert line, "the writer exited early"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        path, shown = line.split()
        for line in child.stdout:  # anything printed between our read and the kill was also on disk
            path, shown = line.split()
    finally:
        if child.poll() is None:
            child.kill()
    state = read_session(path)
    texts = [s.text for s in state.history.past]
    assert texts == [f"edit {n}" for n in range(len(texts))]  # complete entries, none skipped
    assert len(texts) >= int(shown) + 1  # every change that was shown is in the journal
    assert state.current == Snapshot(texts[-1], frozenset({(0, 4)}))


def test_pruning_a_session_removes_its_damaged_copy_too(tmp_path):
    old = write_session(tmp_path, ("open", A), ("mask", B))
    old.close()
    with open(old.path, "ab") as out:
        out.write(b"not json\n")
    Journal.reopen(read_session(old.path)).close()
    assert len(copies(old.path)) == 1
    for _ in range(2):
        newer = Journal.start(["m"], top_k=5, directory=tmp_path, keep=1)
        newer.append("open", A)
        newer.close()
    assert not old.path.exists() and copies(old.path) == []
    assert [p.name for p in tmp_path.iterdir()] == [newer.path.name]
