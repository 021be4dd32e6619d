"""mlm-tui benchmark suite: `python benchmarks/run.py` writes BENCHMARKS.md.

Everything is measured side by side in one run, several repetitions each, and
reported as medians and ratios (machines are noisy; ratios from one run are
what can be compared). The model is randomly initialised in bert-base-uncased's
shape (12 layers, hidden 768, vocab 30522): weights do not change speed, so no
download is needed. Fidelity of the fast mode is measured on the bundled real
model, where predictions mean something.

Both backends are measured: PyTorch (``--backend torch``) and ONNX Runtime
(``--backend onnx``, graphs exported into a temporary cache for the run).
``--sections`` runs a subset, e.g. ``--sections predict,pll,cold,corpus``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import pty
import re
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from fcntl import ioctl
from pathlib import Path

import torch
import transformers
from transformers import BertConfig, BertForMaskedLM, pipeline

import mlm_tui
from mlm_tui.engine import BUNDLED_MODEL, MaskedLM, bundled_models

ROOT = Path(__file__).resolve().parent.parent
SEED_SENTENCE = "Transformers are [MASK] state-of-the-art technique in natural language processing."
PLL_SENTENCE = "The old man walked slowly to the station to catch the very last train home."
SECTIONS = ("predict", "pll", "ui", "launch", "cold", "corpus", "fidelity")
FIDELITY_FILE = Path(__file__).with_name("fidelity_sentences.txt")


def prepare_run() -> tempfile.TemporaryDirectory:
    """Offline, quiet transformers, and a cache of exported graphs for this run only (keep the object)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = tempfile.TemporaryDirectory()
    os.environ["MLM_TUI_CACHE_DIR"] = cache.name
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return cache


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def build_bert_base(folder: Path, tokenizer_dir: Path) -> Path:
    """A random bert-base-uncased-shaped model with the real bert-base-uncased vocabulary."""
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig()).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (tokenizer_dir / name).exists():
            shutil.copy(tokenizer_dir / name, folder)
    return folder


def alternate(reps: int, **runs) -> dict[str, float]:
    """Run each callable once per round, in turn, for ``reps`` rounds; medians in ms."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    return {name: median_ms(s) for name, s in samples.items()}


# --------------------------------------------------------------------------- 1, 2: one prediction


def bench_predict(model_dir: Path, reps: int) -> tuple[dict[str, float], str]:
    pipe = pipeline("fill-mask", model=str(model_dir), device="cpu")
    exact = MaskedLM.load(str(model_dir))
    onnx = MaskedLM.load(str(model_dir), backend="onnx")
    full = MaskedLM.load(str(model_dir))
    full.forward.module.head = None  # vocabulary logits everywhere, as the pipeline computes them
    fast = {"bf16": MaskedLM.load(str(model_dir), fast="bf16")}

    def engine_run(engine: MaskedLM):
        def run():
            engine._cache.clear()  # measure the model, not the cache
            engine.predict(engine.encode(SEED_SENTENCE), top_k=5)

        return run

    runs = {
        "pipeline": lambda: pipe(SEED_SENTENCE, top_k=5),
        "engine exact, PyTorch": engine_run(exact),
        "engine exact, ONNX Runtime": engine_run(onnx),
        "engine, head everywhere (PyTorch)": engine_run(full),
        **{f"engine fast {m}": engine_run(e) for m, e in fast.items()},
    }
    for run in runs.values():  # warm up every path
        run()
    times = alternate(reps, **runs)
    encoding = exact.encode(SEED_SENTENCE)
    exact.predict(encoding, top_k=5)
    times["engine, cache hit"] = alternate(reps, hit=lambda: exact.predict(encoding, top_k=5))["hit"]
    reference = pipe(SEED_SENTENCE, top_k=5)
    agreement = []
    for name, engine in (("PyTorch", exact), ("ONNX Runtime", onnx)):
        rows = engine.predict(engine.encode(SEED_SENTENCE), top_k=5).as_pipeline_output()
        same = [r["token"] for r in rows] == [r["token"] for r in reference]
        worst = max(abs(a["score"] - b["score"]) for a, b in zip(rows, reference, strict=True))
        agreement.append(
            f"{name}: top-5 {'identical to' if same else 'DIFFERENT from'} the pipeline's, "
            f"largest score difference {worst:.1e}"
        )
    return times, "; ".join(agreement)


# --------------------------------------------------------------------------- 3: PLL


def bench_pll(model_dir: Path, reps: int) -> tuple[dict[str, float], int]:
    exact = MaskedLM.load(str(model_dir))
    onnx = MaskedLM.load(str(model_dir), backend="onnx")
    fast = MaskedLM.load(str(model_dir), fast="bf16")
    model = exact.model
    tokenizer = exact.tokenizer
    encoding = exact.encode(PLL_SENTENCE)
    ids = list(encoding.ids)
    positions = [t.index for t in encoding.tokens if not t.special]
    mask = tokenizer.mask_token_id

    def naive():
        with torch.inference_mode():
            for p in positions:
                row = list(ids)
                row[p] = mask
                model(torch.tensor([row])).logits[0, p].log_softmax(-1)[ids[p]]

    def batched():
        rows = []
        for p in positions:
            row = list(ids)
            row[p] = mask
            rows.append(row)
        with torch.inference_mode():
            logits = model(torch.tensor(rows)).logits
            logits[torch.arange(len(positions)), torch.tensor(positions)].log_softmax(-1)

    runs = {
        "naive loop": naive,
        "plain batched pass": batched,
        "engine exact, PyTorch": lambda: exact.score(encoding),
        "engine exact, ONNX Runtime": lambda: onnx.score(encoding),
        f"engine fast {fast.info.dtype.split()[0]} (PyTorch)": lambda: fast.score(encoding),
    }
    for run in runs.values():
        run()
    return alternate(reps, **runs), len(positions)


# --------------------------------------------------------------------------- 4: UI overhead


async def _loop_lag(stop: asyncio.Event) -> float:
    """How late the event loop wakes up (seconds, worst case) until ``stop`` is set."""
    worst = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.002)
        worst = max(worst, time.perf_counter() - before - 0.002)
    return worst


async def _ui_overhead(model_dir: Path, reps: int) -> dict[str, float]:
    from mlm_tui.app import make_app

    app = make_app(SEED_SENTENCE.replace("[MASK]", "a"), model=str(model_dir))
    overheads, totals, engine_ms, stalls, inside = [], [], [], [], []
    stamps: dict[str, float] = {}
    async with app.run_test(size=(100, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        # time stamps inside the app: the key's action starts ... the table has been filled
        toggle, show = app.tokens.action_toggle_mask, app.redraw

        def timed_toggle():
            stamps["key"] = time.perf_counter()
            toggle()

        def timed_show():
            show()
            stamps["table"] = time.perf_counter()  # the last call of a round is the one that fills it

        app.tokens.action_toggle_mask = timed_toggle
        app.redraw = timed_show
        await pilot.press("right", "right", "right")  # "a"
        for _ in range(reps):
            app.engine._cache.clear()
            request = app._predict_request
            stop = asyncio.Event()
            watcher = asyncio.create_task(_loop_lag(stop))
            started = time.perf_counter()
            await pilot.press("m")
            while not (
                app.predictions is not None and app._predict_request == request + 1 and app.table.row_count
            ):
                await asyncio.sleep(0.0005)
            elapsed = time.perf_counter() - started
            stop.set()
            totals.append(elapsed)
            engine_ms.append(app.predictions.elapsed_ms / 1000)
            overheads.append(elapsed - app.predictions.elapsed_ms / 1000)
            inside.append(stamps["table"] - stamps["key"] - app.predictions.elapsed_ms / 1000)
            stalls.append(await watcher)
            await pilot.press("m")  # unmask for the next round
            await app.workers.wait_for_complete()
            await pilot.pause()
    return {
        "keypress to table, as Pilot sees it": median_ms(totals),
        "engine time inside it": median_ms(engine_ms),
        "UI overhead, Pilot included": median_ms(overheads),
        "UI overhead, key action to table filled, minus engine": median_ms(inside),
        "longest event-loop stall while predicting (median of rounds)": median_ms(stalls),
        "longest event-loop stall while predicting (worst round)": max(stalls) * 1000,
    }


def bench_ui(model_dir: Path, reps: int) -> dict[str, float]:
    return asyncio.run(_ui_overhead(model_dir, reps))


# --------------------------------------------------------------------------- 5, 6: launch and memory


def _launch_once(model_dir: Path) -> tuple[float, float, int]:
    """Start `mlm-tui` on a pseudo-terminal; time to first frame and to model ready; peak RSS (KiB)."""
    command = [sys.executable, "-m", "mlm_tui", "Paris is the capital of France.", "--model", str(model_dir)]
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ["TERM"] = "xterm-256color"
        os.execv(sys.executable, command)
    ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    screen = b""
    first_frame = ready = None
    deadline = started + 120
    while time.perf_counter() < deadline and ready is None:
        readable, _, _ = select.select([fd], [], [], 0.05)
        if not readable:
            continue
        try:
            screen += os.read(fd, 65536)
        except OSError:
            break
        plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", screen)
        if first_frame is None and b"Sentence" in plain:
            first_frame = time.perf_counter() - started
        if b"top-k" in plain:  # the status bar shows top-k once the model is ready
            ready = time.perf_counter() - started
    os.write(fd, b"q")
    rss = 0
    end = time.perf_counter() + 10
    while time.perf_counter() < end:
        done, _status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            rss = usage.ru_maxrss
            break
        try:
            select.select([fd], [], [], 0.05)
            os.read(fd, 65536)
        except OSError:
            time.sleep(0.05)
    os.close(fd)
    return first_frame or float("nan"), ready or float("nan"), rss


def bench_launch(model_dir: Path, reps: int) -> dict[str, float]:
    frames, readies, rss = [], [], []
    imports_and_load = []
    code = (
        "import time; t=time.perf_counter(); import torch, transformers; from mlm_tui.engine import MaskedLM; "
        f"e=MaskedLM.load({str(model_dir)!r}); e.warm_up(); print(time.perf_counter()-t)"
    )
    for _ in range(reps):
        frame, ready, peak = _launch_once(model_dir)
        frames.append(frame)
        readies.append(ready)
        rss.append(peak)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        imports_and_load.append(float(out.stdout.strip().splitlines()[-1]))
    predict = subprocess.run(
        [
            "/usr/bin/env",
            "time",
            "-f",
            "%M",
            sys.executable,
            "-m",
            "mlm_tui",
            "predict",
            SEED_SENTENCE,
            "-m",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
    )
    cli_rss = int(predict.stderr.strip().splitlines()[-1]) if predict.returncode == 0 else 0
    return {
        "launch to first frame": median_ms(frames),
        "launch to model ready": median_ms(readies),
        "torch + transformers import + load + warm-up (own process)": median_ms(imports_and_load),
        "peak RSS, app (MiB)": statistics.median(rss) / 1024,
        "peak RSS, `mlm-tui predict` (MiB)": cli_rss / 1024,
    }


# --------------------------------------------------------------------------- 7: cold one-shot predict


def _wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - started


def bench_cold(model_name: str, reps: int) -> dict[str, float]:
    """Wall time of a whole process: `mlm-tui predict` (graph cached) vs a script calling the pipeline once."""
    MaskedLM.load(model_name, backend="onnx")  # the graph is cached before the clock starts
    path = str(bundled_models().get(model_name, model_name))
    script = (
        "from transformers import pipeline; "
        f"print(pipeline('fill-mask', model={path!r}, device='cpu')({SEED_SENTENCE!r}))"
    )
    predict = [sys.executable, "-m", "mlm_tui", "predict", SEED_SENTENCE, "-m", model_name]
    runs = {
        "`mlm-tui predict` (ONNX Runtime, graph cached)": predict,
        "`mlm-tui predict --backend torch`": [*predict, "--backend", "torch"],
        "script: import transformers, pipeline('fill-mask') once": [sys.executable, "-c", script],
        "`python -c 'import torch, transformers'`": [sys.executable, "-c", "import torch, transformers"],
        "`python -c 'import onnxruntime, tokenizers'`": [
            sys.executable,
            "-c",
            "import onnxruntime, tokenizers",
        ],
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, command in runs.items():
            samples[name].append(_wall(command))
    return {name: median_ms(s) for name, s in samples.items()}


# --------------------------------------------------------------------------- 8: corpus scoring


def corpus_sentences(n: int) -> list[str]:
    """``n`` sentences: the fidelity sentences, then the same with their words rotated, and so on."""
    base = [s.strip() for s in FIDELITY_FILE.read_text().splitlines() if s.strip() and not s.startswith("#")]
    out: list[str] = []
    shift = 0
    while len(out) < n:
        for sentence in base:
            words = sentence.rstrip(".").split()
            k = shift % len(words)
            out.append(" ".join(words[k:] + words[:k]) + ".")
        shift += 1
    return out[:n]


def bench_corpus(model_name: str, n: int, minicons_n: int) -> tuple[dict[str, float], str]:
    """Sentences per second: `score_many` on both backends vs minicons' MaskedLMScorer (fp32, same model)."""
    sentences = corpus_sentences(n)
    rates: dict[str, float] = {}
    results = {}
    for backend, count in (("onnx", n), ("torch", minicons_n)):  # PyTorch on the smaller set: it is slow
        engine = MaskedLM.load(model_name, backend=backend)
        started = time.perf_counter()
        results[backend] = list(engine.score_many(engine.encode(s) for s in sentences[:count]))
        rates[f"mlm-tui score_many, {backend} ({count} sentences)"] = count / (time.perf_counter() - started)
    try:
        from minicons import scorer
    except ImportError:
        return rates, "minicons is not installed (`pip install -e .[bench]`): no comparison"
    path = str(bundled_models().get(model_name, model_name))
    mlm = scorer.MaskedLMScorer(path, "cpu", dtype=torch.float32)
    tokenizer = mlm.tokenizer
    # the one-line shim: minicons 0.3.39 calls batch_encode_plus, which transformers 5 removed
    tokenizer.batch_encode_plus = lambda texts, **kw: tokenizer(texts, **kw)
    subset = sentences[:minicons_n]
    started = time.perf_counter()
    theirs = []
    for begin in range(0, len(subset), 8):
        theirs.extend(mlm.token_score(subset[begin : begin + 8]))
    rates[f"minicons MaskedLMScorer.token_score, batches of 8 ({minicons_n} sentences)"] = minicons_n / (
        time.perf_counter() - started
    )
    worst = 0.0
    for ours, their in zip(results["onnx"], theirs, strict=False):
        worst = max(worst, *(abs(t.log_prob - lp) for t, (_, lp) in zip(ours.tokens, their, strict=True)))
    return (
        rates,
        f"largest per-token log-prob difference, ONNX vs minicons, over {len(theirs)} sentences: {worst:.1e}",
    )


# --------------------------------------------------------------------------- fidelity of the fast mode


def _onnx_int8(model_name: str) -> MaskedLM:
    """The ONNX engine on ONNX Runtime's per-channel dynamic int8 graph (measured, not offered by mlm-tui)."""
    import dataclasses

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from mlm_tui.engine import onnx_cache
    from mlm_tui.engine.backends.onnx_backend import OnnxForward

    engine = MaskedLM.load(model_name, backend="onnx")
    folder = onnx_cache.graphs_dir() / onnx_cache.graph_key(Path(engine.info.path))
    quantized = folder.parent / f"{folder.name}-int8.onnx"
    quantize_dynamic(folder / onnx_cache.GRAPH_FILE, quantized, per_channel=True, weight_type=QuantType.QInt8)
    engine.forward = OnnxForward(quantized, engine.text.pad_id)
    engine.info = dataclasses.replace(engine.info, dtype="int8 per-channel dynamic")
    return engine


def bench_fidelity(model_name: str) -> list[dict[str, object]]:
    exact = MaskedLM.load(model_name)
    sentences = [
        s.strip() for s in FIDELITY_FILE.read_text().splitlines() if s.strip() and not s.startswith("#")
    ]
    rows = []
    for fast in (
        MaskedLM.load(model_name, fast="bf16"),
        MaskedLM.load(model_name, backend="onnx"),
        _onnx_int8(model_name),
    ):
        same = total = 0
        worst = 0.0
        top1 = 0
        for sentence in sentences:
            encoding = exact.encode(sentence)
            words = [t.index for t in encoding.tokens if not t.special and t.display.isalpha()]
            for position in words[1::3]:  # every third word-piece, from the second
                a = exact.predict(encoding, [position], top_k=5).masks[0].predictions
                b = fast.predict(encoding, [position], top_k=5).masks[0].predictions
                total += 1
                same += {p.token for p in a} == {p.token for p in b}
                top1 += a[0].token == b[0].token
                scores = {p.token: p.score for p in b}
                worst = max(worst, *(abs(p.score - scores[p.token]) for p in a if p.token in scores))
        rows.append(
            {
                "mode": f"{fast.info.dtype} ({fast.info.backend})",
                "positions": total,
                "top-5 set equal": same / total,
                "top-1 equal": top1 / total,
                "largest probability difference": worst,
            }
        )
    return rows


# --------------------------------------------------------------------------- report


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        flags = set(
            next(x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("flags")).split()
        )
    except (OSError, StopIteration):
        return "unknown"
    return ", ".join(
        f"{flag} {'yes' if flag in flags else 'no'}"
        for flag in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    )


def table(rows: dict[str, float], base: str | None, unit: str = "ms") -> list[str]:
    out = [
        f"| measurement | median {unit} |" + (f" ratio to {base} |" if base else ""),
        "|---|---:|" + ("---:|" if base else ""),
    ]
    for name, value in rows.items():
        ratio = f" {value / rows[base]:.2f}× |" if base else ""
        out.append(f"| {name} | {value:.1f} |{ratio}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="repetitions per measurement (default 15)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--fidelity-model",
        default=BUNDLED_MODEL,
        help=f"real model for the fast-mode fidelity (default {BUNDLED_MODEL})",
    )
    parser.add_argument(
        "--tokenizer", type=Path, default=None, help="folder with a bert-base-uncased tokenizer"
    )
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument("--corpus", type=int, default=1000, help="sentences for the corpus section")
    parser.add_argument("--minicons-corpus", type=int, default=1000, help="of which minicons scores")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    tokenizer_dir = args.tokenizer or bundled_models()[BUNDLED_MODEL]
    cache = prepare_run()

    lines = [
        "# Benchmarks",
        "",
        f"Produced by `python benchmarks/run.py --reps {args.reps} --sections {args.sections}` on "
        f"{dt.date.today().isoformat()}.",
        "",
        f"- machine: {cpu_name()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}; "
        f"CPU flags: {cpu_flags()}",
        f"- versions: Python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}, onnxruntime {_version('onnxruntime')}, mlm-tui {mlm_tui.__version__}",
        "- model: randomly initialised, bert-base-uncased shape (12 layers, hidden 768, vocab 30522), "
        "bert-base-uncased tokenizer; medians of alternating runs in one process",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_bert_base(Path(tmp) / "bert-base-shaped", tokenizer_dir)
        if "predict" in sections:
            print("1-2. one prediction ...", flush=True)
            predict, agreement = bench_predict(model_dir, args.reps)
            lines += [f"## 1–2. One prediction (seed sentence, top-5)\n\n`{SEED_SENTENCE}`\n"]
            lines += [*table(predict, "pipeline"), "", agreement + ".", ""]
        if "pll" in sections:
            print("3. PLL ...", flush=True)
            pll, n_tokens = bench_pll(model_dir, args.reps)
            lines += [f"## 3. Pseudo-log-likelihood of a {n_tokens}-token sentence\n\n`{PLL_SENTENCE}`\n"]
            lines += [*table(pll, "plain batched pass"), ""]
        if "ui" in sections:
            print("4. UI overhead ...", flush=True)
            lines += ["## 4. Keypress → prediction table (Textual Pilot, bert-base shape)\n"]
            lines += [*table(bench_ui(model_dir, args.reps), None), ""]
        if "launch" in sections:
            print("5-6. launch and memory ...", flush=True)
            MaskedLM.load(str(model_dir), backend="onnx")  # the app finds the graph cached
            lines += ["## 5–6. Launch and memory (`mlm-tui` on a pseudo-terminal, graph cached)\n"]
            lines += [*table(bench_launch(model_dir, max(3, args.reps // 3)), None, unit="ms / MiB"), ""]
    if "cold" in sections:
        print("7. cold predict ...", flush=True)
        cold = bench_cold(args.fidelity_model, max(3, args.reps // 3))
        base = "script: import transformers, pipeline('fill-mask') once"
        lines += [f"## 7. One-shot `mlm-tui predict`, whole process ({args.fidelity_model})\n"]
        lines += [*table(cold, base), ""]
    if "corpus" in sections:
        print("8. corpus scoring ...", flush=True)
        rates, note = bench_corpus(args.fidelity_model, args.corpus, args.minicons_corpus)
        lines += [f"## 8. Corpus scoring, sentences per second ({args.fidelity_model}, float32)\n"]
        lines += ["| measurement | sentences/s |", "|---|---:|"]
        lines += [f"| {name} | {rate:.1f} |" for name, rate in rates.items()]
        lines += ["", note + ".", ""]
    if "fidelity" in sections:
        print("fidelity ...", flush=True)
        fidelity = bench_fidelity(args.fidelity_model)
        lines += [
            f"## Fast mode fidelity ({Path(args.fidelity_model).name}, masked positions from "
            "`benchmarks/fidelity_sentences.txt`)\n",
            "| mode | positions | top-5 set equal to fp32 | top-1 equal | largest probability difference |",
            "|---|---:|---:|---:|---:|",
            *(
                f"| {r['mode']} | {r['positions']} | {r['top-5 set equal']:.1%} | {r['top-1 equal']:.1%} | "
                f"{r['largest probability difference']:.4f} |"
                for r in fidelity
            ),
            "",
        ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    cache.cleanup()


def _version(package: str) -> str:
    from importlib import metadata

    return metadata.version(package)


if __name__ == "__main__":
    main()
