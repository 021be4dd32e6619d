"""Which model gets loaded: hub ids, folders, the bundled model, and the default's fall-back."""

from __future__ import annotations

import time

import pytest

from mlm_tui.engine import EngineError, loading


@pytest.fixture
def bundled(monkeypatch, tmp_path, bert_dir):
    """Pretend the tiny BERT is the bundled model."""
    import shutil

    shutil.copytree(bert_dir, tmp_path / loading.BUNDLED_MODEL)
    monkeypatch.setattr(loading, "BUNDLED_DIR", tmp_path)
    return tmp_path / loading.BUNDLED_MODEL


@pytest.fixture
def nothing_cached(monkeypatch):
    monkeypatch.setattr(loading, "_cached_snapshot", lambda repo_id: None)


def test_default_falls_back_to_bundled_at_once_when_offline(bundled, nothing_cached, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(loading, "hub_reachable", lambda: pytest.fail("offline must not probe the network"))
    resolved = loading.resolve_model(None)
    assert resolved.path == bundled and resolved.name == loading.BUNDLED_MODEL
    assert "HF_HUB_OFFLINE" in resolved.note and loading.DEFAULT_MODEL in resolved.note


def test_default_falls_back_when_the_hub_does_not_answer(bundled, nothing_cached, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(loading, "hub_reachable", lambda: False)
    resolved = loading.resolve_model(None)
    assert resolved.path == bundled and "cannot be reached" in resolved.note


def test_default_uses_the_cache_when_it_has_the_model(bundled, bert_dir, monkeypatch):
    monkeypatch.setattr(loading, "_cached_snapshot", lambda repo_id: bert_dir)
    resolved = loading.resolve_model(None)
    assert resolved.path == bert_dir and resolved.name == loading.DEFAULT_MODEL and resolved.note is None


def test_bundled_short_names(bundled):
    assert loading.resolve_model(loading.BUNDLED_MODEL).path == bundled
    assert loading.resolve_model("bundled").path == bundled
    assert loading.resolve_model(loading.BUNDLED_MODEL).note is None  # asked for by name: nothing to say


def test_an_uncached_hub_id_fails_fast_offline(nothing_cached, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(EngineError, match="--model PATH"):
        loading.resolve_model("someone/some-model")
    assert time.perf_counter() - started < 5


def test_hub_probe_gives_up_quickly(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert loading.hub_reachable(timeout=1.0) is False


def test_engine_reports_the_note(bundled, nothing_cached, monkeypatch):
    from mlm_tui.engine import MaskedLM

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = MaskedLM.load()
    assert engine.info.name == loading.BUNDLED_MODEL
    assert engine.info.notes and "bundled" in engine.info.notes[0]
