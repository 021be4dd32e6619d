"""The results screen stays fluid while 10,000 items arrive: `python benchmarks/results_screen.py`.

Side by side in one run, with the instant fake engine (so only the UI is measured), the event
loop's worst delay (a 5 ms ticker, as benchmarks/long_text.py measures it) while:
- 10,000 cloze items arrive all at once (the worst case: the run is faster than the screen);
- 10,000 items arrive in bursts of 64 every 20 ms (as batches come out of a model);
- then, on the full table: a sort (`s` to the rank column), a group filter (`g`), a search (`/`).
Also the seconds until every row is in the table. Target (issue 16): no stall over 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fakes
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's mlm_tui

from fakes import FakeEngine, instant_loader

from mlm_tui.app import make_app
from mlm_tui.engine import EngineOptions
from mlm_tui.probes.sets import ProbeSet

GROUPS = [f"P{n}" for n in range(40)]


def row(n: int) -> dict:
    rank = (n * 7919) % 5000 + 1
    return {
        "line": n + 1,
        "text": f"The capital of country number {n} is [MASK], as everyone in the region knows.",
        "answer": f"city{n % 997}",
        "group": GROUPS[n % len(GROUPS)],
        "rank": rank,
        "score": 1.0 / (rank + 1),
        "log_prob": None,
        "pieces": 1 + n % 3,
        "hit@1": rank <= 1,
        "hit@k": rank <= 10,
        "predictions": [],
    }


def probe_set(items: int, burst: int | None, pause: float) -> ProbeSet:
    def results(_engine):
        for n in range(items):
            if burst and n and n % burst == 0:
                time.sleep(pause)
            yield row(n)

    return ProbeSet("bench.tsv", "cloze", "plain-cloze", results, k=10, n_boot=1000, total=items)


async def run(items: int, burst: int | None, pause: float, then_keys: bool) -> dict[str, float]:
    app = make_app(
        "Paris is the capital of France.",
        options=EngineOptions(model="fake-bert"),
        loader=instant_loader(FakeEngine()),
        results=probe_set(items, burst, pause),
    )
    lags: list[float] = []
    cpus: list[float] = []  # the event loop's own CPU per tick: the stall on an idle core
    spikes: list[tuple[float, int, float]] = []  # (seconds in, rows by then, CPU ms) of each tick over 50 ms
    begun = time.perf_counter()
    out: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        running = True

        async def ticker() -> None:
            while running:
                started, cpu = time.perf_counter(), time.thread_time()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - started - 0.005) * 1000)
                cpus.append((time.thread_time() - cpu) * 1000)
                if cpus[-1] > 50 and app.is_screen_installed("results"):
                    spikes.append(
                        (time.perf_counter() - begun, app.get_screen("results").table.row_count, cpus[-1])
                    )

        task = asyncio.create_task(ticker())
        started = time.perf_counter()
        while True:
            await asyncio.sleep(0.02)
            if not app.is_screen_installed("results"):
                continue
            screen = app.get_screen("results")
            if screen.state.stage == "done" and screen.final:
                break
        out["filled_s"] = time.perf_counter() - started
        out["rows"] = screen.table.row_count
        out["worst_ms"] = max(lags)
        out["median_ms"] = statistics.median(lags)
        out["over_50"] = sum(1 for lag in lags if lag > 50)
        out["worst_cpu_ms"] = max(cpus)
        out["cpu_over_50"] = sum(1 for c in cpus if c > 50)
        if spikes:
            print(
                "  ticks over 50 ms of CPU (s, rows, ms):", [(round(t, 2), r, round(c)) for t, r, c in spikes]
            )
            spikes.clear()
        if then_keys:
            for name, keys in (
                ("sort", ["s"] * 5),
                ("group", ["g"]),
                ("search", ["slash", *"city7", "enter"]),
            ):
                lags.clear()
                cpus.clear()
                await pilot.press(*keys)
                await asyncio.sleep(0.1)
                out[f"{name}_worst_ms"] = max(lags)
                out[f"{name}_worst_cpu_ms"] = max(cpus)
                out[f"{name}_rows"] = screen.table.row_count
        running = False
        await task
    return out


async def main(items: int) -> None:
    flood = await run(items, None, 0.0, then_keys=True)
    bursts = await run(items, 64, 0.02, then_keys=False)
    for label, result in (
        (f"{items:,} items arriving at once", flood),
        (f"{items:,} items in bursts of 64 every 20 ms", bursts),
    ):
        print(
            f"{label}: {result['rows']:.0f} rows in {result['filled_s']:.1f} s; event loop worst "
            f"{result['worst_ms']:.1f} ms (median {result['median_ms']:.1f} ms, {result['over_50']:.0f} ticks "
            f"over 50 ms); the loop's own CPU in one tick: worst {result['worst_cpu_ms']:.1f} ms "
            f"({result['cpu_over_50']:.0f} over 50 ms)"
        )
    for name in ("sort", "group", "search"):
        print(
            f"then {name} on the full table ({flood[f'{name}_rows']:.0f} rows shown): worst "
            f"{flood[f'{name}_worst_ms']:.1f} ms, the loop's own CPU {flood[f'{name}_worst_cpu_ms']:.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    asyncio.run(main(parser.parse_args().items))
