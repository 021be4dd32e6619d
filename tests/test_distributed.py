"""The driver's side of ``--ray`` without Ray: chunks spooled, and results checked by line number."""

from __future__ import annotations

import json

import pytest

from mlm_tui.distributed import _spool, chunks, in_order
from mlm_tui.engine import EngineError

RECORDS = [(n, f"line {n}") for n in (1, 2, 3, 5, 8, 9, 10)]  # numbers need not be consecutive


@pytest.fixture
def spooled(tmp_path):
    path, spans = _spool(RECORDS, tmp_path / "spool", 3)
    data = path.read_bytes()
    sent = [json.loads(data[s.offset : s.offset + s.length]) for s in spans]
    return spans, sent


def test_the_spool_holds_every_record_once_in_chunks_of_the_size_asked(spooled):
    spans, sent = spooled
    assert sent == [[list(r) for r in part] for part in chunks(RECORDS, 3)]
    assert [len(part) for part in sent] == [3, 3, 1]
    assert [(s.first, s.last, s.count) for s in spans] == [(1, 3, 3), (5, 9, 3), (10, 10, 1)]


def _answers(sent):
    """What an actor gives back for each chunk: each record's number with a value made from its item."""
    return [[[number, item.upper()] for number, item in part] for part in sent]


def test_results_in_order_come_out_one_per_record(spooled):
    spans, sent = spooled
    assert list(in_order(_answers(sent), spans)) == [(n, item.upper()) for n, item in RECORDS]


def test_a_chunk_delivered_twice_is_written_once(spooled):
    spans, sent = spooled
    answers = _answers(sent)
    twice = [answers[0], answers[1], answers[1], answers[0], answers[2]]
    assert list(in_order(twice, spans)) == [(n, item.upper()) for n, item in RECORDS]


@pytest.mark.parametrize(
    "broken",
    [
        lambda a: [a[0], a[2]],  # a chunk lost
        lambda a: [a[0], a[1][:2], a[2]],  # a line lost inside a chunk
        lambda a: [a[0], a[1]],  # the end never came
        lambda a: [a[1], a[0], a[2]],  # out of order
    ],
)
def test_a_line_lost_stops_the_run_rather_than_write_a_gap(spooled, broken):
    spans, sent = spooled
    with pytest.raises(EngineError, match=r"no line is lost|nothing for lines"):
        list(in_order(broken(_answers(sent)), spans))
