"""Long texts stay fluid: `python benchmarks/long_text.py`.

Side by side in one run, with the instant fake engine (so only the UI is measured):
- the CPU time of the app's own work per cursor move, on a 12-token and a ~3,000-token text;
- the event loop's worst delay (a 5 ms ticker) while a ~3,000-token text is scored in the
  background (a 0.5 s stand-in for the PLL pass) and the cursor moves in the surprisal view.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes import FakeEngine, instant_loader, settle

from mlm_tui.app import make_app

SENTENCE = "The keys to the cabinet are on the table."
MOVES = 30


class SlowScores(FakeEngine):
    def score(self, encoding):
        time.sleep(0.5)
        return super().score(encoding)


async def move_cost(copies: int) -> tuple[int, float]:
    """Median CPU milliseconds of the app's work per `right` (the Pilot's own waiting is not CPU)."""
    app = make_app(" ".join([SENTENCE] * copies), loader=instant_loader())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        costs = []
        for _ in range(MOVES):
            started = time.process_time()
            await pilot.press("right")
            await pilot.pause()
            costs.append((time.process_time() - started) * 1000)
        return len(app.explorer.left.encoding.tokens), statistics.median(costs)


async def stall_while_scoring(copies: int) -> tuple[float, float]:
    app = make_app(" ".join([SENTENCE] * copies), loader=instant_loader(SlowScores()))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        lags: list[float] = []
        running = True

        async def ticker() -> None:
            while running:
                started = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - started - 0.005) * 1000)

        task = asyncio.create_task(ticker())
        await pilot.press("s")
        await settle(pilot)
        for _ in range(MOVES):
            await pilot.press("right")
            await pilot.pause()
        running = False
        await task
        return statistics.median(lags), max(lags)


async def main() -> None:
    short_tokens, short = await move_cost(1)
    long_tokens, long = await move_cost(300)
    stalls = [await stall_while_scoring(copies) for copies in (1, 300)]
    print(
        f"cursor move, CPU per key: {short_tokens} tokens {short:.1f} ms, {long_tokens} tokens {long:.1f} ms"
    )
    for tokens, (median, worst) in zip((short_tokens, long_tokens), stalls, strict=True):
        print(
            f"event loop while scoring {tokens} tokens and moving: median {median:.1f} ms, worst {worst:.1f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
