"""``--ray`` (``score --file``, ``probe``, ``pairs``): the same bytes as without Ray, on a local cluster,
even when a worker is killed.

One Ray cluster (2 CPUs, no dashboard) serves the module; the CLI runs as a user runs it, in a
process of its own that joins the cluster with ``--ray ADDRESS``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import ENV, assert_one_line_error
from test_corpus import LINES
from test_probes import CLOZE, CROWS, write_crows, write_tsv

ray = pytest.importorskip("ray", reason="the ray extra: pip install -e '.[test,ray]'")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _env() -> dict[str, str]:
    """The CLI's environment: with the token mode a local cluster asks for (Ray 2.5x), once it has started."""
    return {**ENV, **{name: os.environ[name] for name in ("RAY_AUTH_MODE",) if name in os.environ}}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlm_tui", *args],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The corpus of test_corpus (good lines, a blank line, broken JSON) many times over: many chunks."""
    path = tmp_path_factory.mktemp("ray") / "corpus.txt"
    path.write_text("\n".join(LINES * 100) + "\n")
    return path


@pytest.fixture(scope="module")
def expected(bert_dir, corpus):
    """The output without Ray."""
    proc = run("score", "--file", str(corpus), "-m", str(bert_dir), "--batch-size", "2")
    assert proc.returncode == 1, proc.stderr  # the bad lines
    assert len(proc.stdout.splitlines()) == len(LINES) * 100
    return proc.stdout


def test_output_with_ray_is_byte_for_byte_the_output_without(cluster, bert_dir, corpus, expected):
    proc = run("score", "--file", str(corpus), "-m", str(bert_dir), "--batch-size", "2", "--ray", cluster)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == expected
    assert proc.stderr == ""  # Ray's own messages go to its log, not the terminal


def test_ray_without_address_starts_a_local_ray_for_the_run(bert_dir, tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text("\n".join(LINES) + "\n")
    without = run("score", "--file", str(corpus), "-m", str(bert_dir))
    proc = run("score", "--file", str(corpus), "-m", str(bert_dir), "--ray", "--workers", "1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, without.stdout, "")


def _probe_file(folder: Path) -> list[str]:
    """Cloze items with bad lines among them (no mask, no answer, a blank line), over several chunks."""
    rows = [*CLOZE, ("no mask here", "x"), ("Paris is the capital of [MASK].",)]
    path = folder / "cloze.tsv"
    write_tsv(path, rows * 3)
    path.write_text(path.read_text().replace("no mask here", "\nno mask here", 1))
    vocabulary = folder / "common.txt"
    vocabulary.write_text("france\ncabinet\ncoffee\ncat\nparis\n")
    return ["probe", str(path), "--jsonl", "-k", "3", "--common-vocab", str(vocabulary)]


def _blimp_file(folder: Path) -> list[str]:
    """BLiMP JSONL with a broken line, compared with a second model (the two run one after the other on Ray)."""
    good = [
        "The keys to the cabinet are on the table.",
        "She went to the market.",
        "I drink a cup of coffee.",
    ]
    bad = ["The keys to the cabinet is on the table.", "She went the to market.", "I drink a cup of pizza."]
    lines = [
        json.dumps({"sentence_good": g, "sentence_bad": b, "UID": f"uid{i % 2}", "field": "syntax"})
        for i, (g, b) in enumerate(zip(good * 3, bad * 3, strict=True))
    ]
    lines.insert(4, '{"sentence_good": ')
    path = folder / "blimp.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return ["pairs", str(path), "--json", "--bootstrap", "20"]


def _crows_file(folder: Path) -> list[str]:
    """The CrowS-Pairs CSV with a row that cannot be read; the summary table."""
    path = folder / "crows.csv"
    write_crows(path, [*CROWS, ("a b", "a c", "maybe", "gender"), *CROWS])
    return ["pairs", str(path), "--table"]


@pytest.mark.parametrize("make", [_probe_file, _blimp_file, _crows_file], ids=["probe", "blimp", "crows"])
def test_probe_and_pairs_with_ray_write_what_they_write_without(
    make, cluster, bert_dir, roberta_dir, tmp_path
):
    args = [*make(tmp_path), "-m", str(bert_dir), "--batch-size", "2"]  # 8 items a chunk: several chunks
    if "--json" in args:  # three models: on Ray the first two wait in temporary files, one after the other
        args += ["--compare", str(roberta_dir), str(bert_dir)]
    without = run(*args)
    assert without.returncode == 1, without.stderr  # the bad lines
    assert '"error"' in without.stdout or "failed" in without.stdout
    proc = run(*args, "--ray", cluster)
    assert (proc.returncode, proc.stdout, proc.stderr) == (without.returncode, without.stdout, without.stderr)


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _actor_pids() -> list[int]:
    """The processes of this test's Ray actors that score (Ray names them after the callable class).

    Only descendants of this process: the fixture's Ray runs under it, and any other Ray on the
    machine is left alone.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"MapBatches(_Worker)" not in command:
            continue
        ancestor = int(entry.name)
        while ancestor > 1 and ancestor != os.getpid():
            ancestor = _parent(ancestor)
        if ancestor == os.getpid():
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the actors' processes in /proc")
def test_a_worker_killed_mid_run_is_replaced_and_its_lines_written_once(cluster, bert_dir, corpus, expected):
    """One worker only, killed once the first chunk is out: the run can finish only if Ray replaces it.

    The output is read unbuffered (``bufsize=0``, bytes): a buffered ``readline`` would keep the
    rest of the first write in Python's buffer, where ``communicate`` (which reads the pipe
    itself) never looks, and those lines would seem lost.
    """
    before = set(_actor_pids())  # actors of an earlier run, perhaps still going away
    command = [sys.executable, "-m", "mlm_tui", "score", "--file", str(corpus), "-m", str(bert_dir)]
    proc = subprocess.Popen(
        [*command, "--batch-size", "2", "--ray", cluster, "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the first chunk is out: the worker is at work
    pids = [pid for pid in _actor_pids() if pid not in before]
    assert first and len(pids) == 1 and proc.poll() is None
    os.kill(pids[0], signal.SIGKILL)
    rest, errors = proc.communicate(timeout=180)
    assert (proc.returncode, errors.decode()) == (1, "")  # 1: the corpus's bad lines
    assert (first + rest).decode() == expected  # every line once, in order


def test_ray_not_installed_is_one_line_saying_how_to_install_it(bert_dir, corpus):
    blocked = (
        "import sys; sys.modules['ray'] = None; from mlm_tui.cli import main; "
        f"sys.exit(main(['score', '--file', {str(corpus)!r}, '-m', {str(bert_dir)!r}, '--ray']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120
    )
    assert_one_line_error(proc, 1, "pip install 'mlm-tui[ray]'")
    assert proc.stdout == ""


def test_plain_commands_never_import_ray(bert_dir, corpus):
    script = (
        "import sys, contextlib, io; from mlm_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['score', '--file', {str(corpus)!r}, '-m', {str(bert_dir)!r}])\n"
        f"    main(['score', 'Hello world!', '-m', {str(bert_dir)!r}])\n"
        f"    main(['predict', 'Hello [MASK]!', '-m', {str(bert_dir)!r}])\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_ray_before_the_file_takes_the_file_back(tmp_path):
    """``--ray`` takes an optional ADDRESS, so argparse hands it ``probe --ray FILE``'s FILE."""
    from mlm_tui.cli import build_parsers
    from mlm_tui.cli.probesets import take_file

    path = tmp_path / "pairs.tsv"
    path.write_text("a b\tb a\n")
    args = build_parsers()["pairs"].parse_args(["--ray", str(path), "--table"])
    assert (take_file(args), args.ray) == (str(path), "")  # a local Ray, as `pairs FILE --ray`
    args = build_parsers()["pairs"].parse_args([str(path), "--ray", "HEAD:6379"])
    assert (take_file(args), args.ray) == (str(path), "HEAD:6379")
