"""The CLI side of issue 12: --version, config file defaults, --markdown, sessions, --resume, serve."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import assert_one_line_error

from mlm_tui import cli
from mlm_tui.config import tomllib
from mlm_tui.journal import Journal, read_session
from mlm_tui.serve import app_command, exposure_warning, public_url
from mlm_tui.session import Snapshot

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Paris is the [MASK] of France."


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Config, state and data dirs of their own, for this process and the CLI processes it starts."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    (tmp_path / "xdg_config_home" / "mlm-tui").mkdir(parents=True)
    return tmp_path


def config_file(home: Path, text: str) -> Path:
    path = home / "xdg_config_home" / "mlm-tui" / "config.toml"
    path.write_text(text)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlm_tui", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def main(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (the tiny model loads in a blink once torch is imported)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_new_modules_import_neither_textual_nor_torch():
    code = (
        "import sys, mlm_tui.cli, mlm_tui.config, mlm_tui.export, mlm_tui.journal, mlm_tui.serve; "
        "print(sorted(m for m in ('textual', 'textual_serve', 'torch', 'transformers') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr


def test_version_is_the_package_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"mlm-tui {version}"


def test_config_path_follows_xdg_config_home(home):
    proc = run("config", "path")
    assert (
        proc.returncode == 0
        and Path(proc.stdout.strip()) == home / "xdg_config_home" / "mlm-tui" / "config.toml"
    )


def test_config_defaults_apply_and_flags_win(home, bert_dir, capsys):
    config_file(home, f"model = {json.dumps(str(bert_dir))}\ntop_k = 3\n")
    code, out, err = main(capsys, "predict", TEXT, "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 3
    code, out, err = main(capsys, "predict", TEXT, "--json", "--top-k", "2")
    assert len(json.loads(out)) == 2
    code, out, err = main(capsys, "predict", TEXT, "--json", "--model", str(bert_dir / "missing"))
    assert code == 1 and "missing" in err  # the flag's model was used, not the config's


def test_a_broken_config_warns_in_one_line_and_uses_the_defaults(home, bert_dir, capsys):
    path = config_file(home, "top_k = 3\ntop_k = 4\n")
    code, out, err = main(capsys, "predict", TEXT, "--json", "--model", str(bert_dir))
    assert code == 0
    assert len(json.loads(out)) == 5  # the built-in default, not the file's 3
    warnings = [line for line in err.splitlines() if str(path) in line]
    assert len(warnings) == 1 and f"{path}, line 2:" in warnings[0]
    assert_one_line_error(run("config", "show"), 1, str(path), "line 2")


def test_config_show_prints_what_is_in_use(home):
    config_file(home, 'theme = "nord"\n[keys]\nmask = "x"\nexport = "ctrl+e"\n')
    proc = run("config", "show")
    assert proc.returncode == 0
    shown = tomllib.loads(proc.stdout)
    assert shown == {"theme": "nord", "keys": {"mask": "x", "export": "ctrl+e"}}


def markdown_rows(markdown: str) -> list[list[str]]:
    return [
        [c.strip() for c in line.strip("|").split("|")]
        for line in markdown.splitlines()
        if line.startswith("| ") and not line.startswith(("| rank", "| index"))
    ]


def test_predict_markdown_shows_the_json_predictions(bert_dir, capsys):
    expected = json.loads(main(capsys, "predict", TEXT, "--model", str(bert_dir), "--json", "-k", "4")[1])
    code, out, err = main(capsys, "predict", TEXT, "--model", str(bert_dir), "--markdown", "-k", "4")
    assert code == 0, err
    rows = markdown_rows(out)
    assert [r[1] for r in rows] == [p["token_str"].strip() or repr(p["token_str"]) for p in expected]
    assert [float(r[2].rstrip("%")) for r in rows] == pytest.approx(
        [100 * p["score"] for p in expected], abs=1e-4
    )
    assert f"**Model:** {bert_dir}" in out


def test_score_markdown_shows_the_json_scores(bert_dir, capsys):
    text = "The keys are on the table."
    expected = json.loads(main(capsys, "score", text, "--model", str(bert_dir), "--json")[1])
    code, out, err = main(capsys, "score", text, "--model", str(bert_dir), "--markdown")
    assert code == 0, err
    assert f"PLL {expected['pll']:.3f}" in out
    rows = markdown_rows(out)
    assert [(int(r[0]), r[1]) for r in rows] == [(t["index"], t["token"]) for t in expected["tokens"]]


def journal_in(home: Path, model: str | list[str], *snapshots: Snapshot) -> Journal:
    journal = Journal.start(
        [model] if isinstance(model, str) else model, top_k=7, options={"device": "cpu", "fast": None}
    )
    journal.append("open", snapshots[0])
    for snapshot in snapshots[1:]:
        journal.append("mask", snapshot)
    journal.close()
    assert journal.path is not None and journal.path.is_relative_to(home)
    return journal


def test_sessions_lists_the_journals(home):
    empty = run("sessions")
    assert empty.returncode == 0 and "no sessions" in empty.stdout
    journal = journal_in(home, "tiny-bert", Snapshot("One two."), Snapshot("One two.", frozenset({(0, 3)})))
    proc = run("sessions")
    assert proc.returncode == 0
    assert "One two." in proc.stdout and "tiny-bert" in proc.stdout and str(journal.path) in proc.stdout
    (listed,) = json.loads(run("sessions", "--json").stdout)
    assert (
        listed["path"] == str(journal.path) and listed["changes"] == 2 and listed["last_text"] == "One two."
    )


def test_sessions_replays_past_damaged_lines_and_says_so_in_one_line(home):
    journal = journal_in(home, "tiny-bert", Snapshot("One two."))
    with open(journal.path, "ab") as out:
        out.write(b'{"kind":"mask","text":"One t')  # a write cut off, and more appended after it
        out.write(b'{"kind":"edit","text":"Damaged.","masks":[[1,2,3]]}\n')
        out.write(b'{"kind":"edit","time":"2024-01-01T00:00:00+00:00","text":"Three four.","masks":[]}\n')
    proc = run("sessions")
    assert proc.returncode == 0
    assert "Three four." in proc.stdout and "One two." not in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(journal.path) in warnings[0] and "line 3" in warnings[0]
    (listed,) = json.loads(run("sessions", "--json").stdout)
    assert listed["last_text"] == "Three four." and listed["changes"] == 2 and listed["skipped"] == [3]
    assert list(journal.path.parent.iterdir()) == [journal.path]  # reading writes nothing


class FakeApp:
    """Records what make_app was given; while it runs, applies the changes the test asks for."""

    return_code = None  # as Textual's after q: no crash

    def __init__(self, calls: list[dict], changes: list[tuple[str, Snapshot]], **kwargs) -> None:
        calls.append(kwargs)
        self.journal, self.changes = kwargs.get("journal"), changes

    def run(self) -> None:
        for kind, snapshot in self.changes:
            self.journal.append(kind, snapshot)


def fake_make_app(monkeypatch, changes=()) -> list[dict]:
    import mlm_tui.app

    calls: list[dict] = []

    def make_app(
        text=None,
        *,
        options=None,
        compare=None,
        top_k=10,
        config=None,
        notices=(),
        resume=None,
        journal=None,
        export_dir=None,
        index=None,
    ):
        return FakeApp(calls, list(changes), text=text, options=options, compare=compare, top_k=top_k,
                       config=config, notices=notices, resume=resume, journal=journal)  # fmt: skip

    monkeypatch.setattr(mlm_tui.app, "make_app", make_app)
    return calls


def test_resume_hands_the_last_session_to_the_app(home, monkeypatch):
    masked = Snapshot("One two.", frozenset({(4, 7)}))
    journal = journal_in(home, "tiny-bert", Snapshot("One two."), masked)
    calls = fake_make_app(monkeypatch, changes=[("edit", Snapshot("One three."))])
    assert cli.main(["--resume"]) == 0
    (call,) = calls
    assert call["text"] == "One two." and call["options"].model == "tiny-bert" and call["top_k"] == 7
    assert call["resume"].current == masked and call["resume"].history.can_undo
    assert read_session(journal.path).current == Snapshot("One three.")  # the session went on in its file
    with pytest.raises(ValueError, match="closed"):
        call["journal"].append("edit", masked)  # closed when the app returned
    assert cli.main(["--resume", "--model", "other", "-k", "3"]) == 0
    assert calls[-1]["options"].model == "other" and calls[-1]["top_k"] == 3  # flags win over the session
    assert calls[-1]["compare"] is None


def test_resume_reopens_both_models_of_a_comparison(home, monkeypatch):
    journal_in(home, ["model-a", "model-b"], Snapshot("One two."), Snapshot("One two.", frozenset({(0, 3)})))
    calls = fake_make_app(monkeypatch)
    assert cli.main(["--resume"]) == 0
    assert (calls[0]["options"].model, calls[0]["compare"].model) == ("model-a", "model-b")
    assert cli.main(["--resume", "--compare", "model-c"]) == 0
    assert calls[1]["compare"].model == "model-c"


def test_a_new_session_records_both_models(home, monkeypatch):
    calls = fake_make_app(monkeypatch, changes=[("open", Snapshot("One two."))])
    assert cli.main(["One two.", "--model", "model-a", "--compare", "model-b", "--device", "cpu"]) == 0
    state = read_session(calls[0]["journal"].path)
    assert state.models == ("model-a", "model-b") and state.header.options["device"] == "cpu"
    assert "trust_remote_code" not in state.header.options  # never turned back on by --resume


def test_the_app_gets_the_config_and_its_problem(home, monkeypatch):
    path = config_file(home, 'theme = "nord"\nfast = 3\n')
    calls = fake_make_app(monkeypatch)
    assert cli.main(["Some text."]) == 0
    (call,) = calls
    assert len(call["notices"]) == 1 and f"{path}, line 2:" in call["notices"][0]
    assert call["journal"].path is None  # a new session: its file appears with the first change
    config_file(home, 'theme = "nord"\n')
    assert cli.main(["Some text."]) == 0
    assert calls[-1]["config"].theme == "nord" and calls[-1]["notices"] == []


def test_resume_errors_are_one_line(home):
    assert_one_line_error(run("--resume"), 1, "no session to resume")
    journal_in(home, "tiny-bert", Snapshot("One two."))
    assert_one_line_error(run("--resume", "Other text."), 2, "leave out TEXT")


def test_serve_runs_the_app_with_this_python_and_the_same_arguments():
    args = ["It's a [MASK].", "--model", "a b", "-k", "3"]
    assert shlex.split(app_command(args)) == [sys.executable, "-m", "mlm_tui", *args]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_serving_on_localhost_needs_no_warning(host):
    assert exposure_warning(host, 8000) is None


def test_the_page_points_browsers_at_an_address_they_can_reach():
    assert public_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert public_url("::1", 8001) == "http://[::1]:8001"
    anywhere = public_url("0.0.0.0", 8002)
    assert anywhere.startswith("http://") and anywhere.endswith(":8002") and "0.0.0.0" not in anywhere


def test_serve_warns_when_other_machines_can_reach_it():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("serve", "--host", "0.0.0.0", "--port", str(port), "--model", "whatever")
    assert proc.returncode == 1, proc.stderr
    warning, error = proc.stderr.strip().splitlines()
    assert "anyone who can reach this port can use the app" in warning and f"0.0.0.0:{port}" in warning
    assert "cannot serve on" in error and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--port", "0"], "--port"), (["--port", "70000"], "--port"), (["--top-k", "zero"], "--top-k")],
)
def test_serve_rejects_bad_arguments_before_serving(args, needle):
    assert_one_line_error(run("serve", *args), 2, needle)


def test_resume_skips_a_launch_that_changed_nothing_and_names_the_model_that_ran(home, monkeypatch):
    journal_in(home, "model-a", Snapshot("Worked on."), Snapshot("Worked on.", frozenset({(0, 6)})))
    idle = Journal.start(["bert-base-uncased"], top_k=7, options={})
    idle.append("open", Snapshot("Just looked."))
    idle.append("loaded", Snapshot("Just looked."), models=["minilm-mlm-en"])
    idle.close()
    assert read_session(idle.path).models == ("minilm-mlm-en",)  # the model that answered
    calls = fake_make_app(monkeypatch)
    assert cli.main(["--resume"]) == 0
    assert calls[0]["options"].model == "model-a" and calls[0]["text"] == "Worked on."


def test_sessions_columns_stay_in_line_with_long_model_names(home, capsys):
    journal_in(home, "/a/very/long/path/to/some/models/folder/tiny-bert", Snapshot("One two."))
    journal_in(home, "m", Snapshot("x " * 40))
    assert cli.main(["sessions"]) == 0
    lines = capsys.readouterr().out.splitlines()
    paths = [line.rindex(str(home)) for line in lines[1:]]
    assert len(set(paths)) == 1 and lines[0].index("path") == paths[0]
    assert any("…models/folder/tiny-bert " in line for line in lines)
