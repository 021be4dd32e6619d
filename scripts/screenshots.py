"""Make the README's SVG screenshots with a real model: `python scripts/screenshots.py [--model M]`.

Each state is driven from the keyboard through Textual's Pilot, exactly as a user would.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

from mlm_tui.app import make_app
from mlm_tui.engine import EngineError, EngineOptions

SIZE = (100, 30)
TEXT = "The capital of France is Paris, and its largest city is also Paris."


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def shoot(app, name: str, out: Path, keys: Callable | None = None) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        if keys:
            await keys(pilot)
        await settle(pilot)
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {out / name}.svg")


async def main(model: str | None, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    # Loading: the real loader, held at its first stage while the picture is taken.
    release = threading.Event()

    def held(progress):
        progress("importing torch and transformers")
        release.wait(30)
        raise EngineError("screenshot taken")

    loading = make_app(TEXT, options=EngineOptions(model=model), loader=held)
    async with loading.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        loading.save_screenshot(filename="loading.svg", path=str(out))
        print(f"wrote {out}/loading.svg")
        release.set()

    async def one_mask(pilot):
        await pilot.press("right", "right", "right", "m")  # "france"

    async def several_masks(pilot):
        await pilot.press("right", "m", "right", "right", "right", "right", "right", "m")

    async def surprisal(pilot):
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("right", "right", "right")

    async def help_screen(pilot):
        await pilot.press("question_mark")

    for name, keys in [
        ("one-mask", one_mask),
        ("several-masks", several_masks),
        ("surprisal", surprisal),
        ("help", help_screen),
    ]:
        await shoot(make_app(TEXT, options=EngineOptions(model=model)), name, out, keys)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model to show (default: the CLI's default)")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    asyncio.run(main(args.model, args.out))
