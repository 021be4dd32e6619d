"""Make the README's SVG screenshots with a real model: `python scripts/screenshots.py [--model M]`.

Each state is driven from the keyboard through Textual's Pilot, exactly as a user would.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
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


async def shoot(app, name: str, out: Path, keys: Callable | None = None, size=SIZE) -> None:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if keys:
            await keys(pilot)
        await settle(pilot)
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
        print(f"wrote {out / name}.svg")


async def main(model: str | None, out: Path, compare: str | None = None, only: str = "all") -> None:
    out.mkdir(parents=True, exist_ok=True)
    if only in ("all", "results"):
        await probe_sets(model, out)
    if only == "results":
        return
    if only in ("all", "layers"):
        await layer_views(model, out)
    if only == "layers":
        return
    if only in ("all", "corpus"):
        await corpus_views(model, out)
    if only == "corpus":
        return

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

    # Beyond one mask at a time: joint fills and their replay, attention, the unmasked view.
    joint_text = "The dog barked at the cat in the park."

    async def joint(pilot):
        await pilot.press("right", "m", "right", "right", "right", "right", "m", "f")  # dog, cat

    async def replay(pilot):
        await joint(pilot)
        await settle(pilot)
        await pilot.press("right_square_bracket")

    async def attention(pilot):
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("right", "right", "right", "right", "right", "right", "right", "right")

    async def unmasked(pilot):
        await pilot.press("right", "right", "right", "right", "right", "right", "right")  # "largest"

    for name, text, keys in [
        ("joint-fills", joint_text, joint),
        ("replay", joint_text, replay),
        ("attention", TEXT, attention),
        ("unmasked", TEXT, unmasked),
    ]:
        await shoot(make_app(text, options=EngineOptions(model=model)), name, out, keys)

    # Two models side by side, wide (side by side) and 80x24 (stacked).
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # so the untrained copy is called by a short relative name on screen
        other = compare or untrained_copy(Path("minilm-untrained"))
        for name, size in [("compare", (120, 40)), ("compare-80x24", (80, 24))]:
            app = make_app(TEXT, options=EngineOptions(model=model), compare=EngineOptions(model=other))
            await shoot(app, name, out, one_mask, size=size)


async def layer_views(model: str | None, out: Path) -> None:
    """Inside the model: the MLM lens and its grid, token similarity, salience, the ids."""
    text = "The capital of France is [MASK], and its largest city is also Paris."
    to_mask = ()  # the explorer opens on the first mask

    async def lens(pilot):
        await pilot.press(*to_mask, "L")

    async def grid(pilot):
        await pilot.press(*to_mask, "number_sign")

    async def similarity(pilot):
        await pilot.press(*to_mask, "v")
        await settle(pilot)
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")

    async def salience(pilot):
        await pilot.press(*to_mask, "d")

    async def ids(pilot):
        await pilot.press(*to_mask, "i")

    for name, keys in [
        ("lens", lens),
        ("lens-grid", grid),
        ("similarity", similarity),
        ("salience", salience),
        ("ids", ids),
    ]:
        await shoot(make_app(text, options=EngineOptions(model=model)), name, out, keys)


async def corpus_views(model: str | None, out: Path) -> None:
    """A corpus of contexts: the senses of "bank" in WordNet's examples (an index built here first)."""
    from mlm_tui import cli
    from mlm_tui.index import Index
    from mlm_tui.screens.senses import SensesRequest

    examples = Path(__file__).resolve().parent.parent / "examples"
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "wordnet"
        argv = ["index", str(examples / "wordnet-examples.txt"), "--layers", "2,4,6", "--out", str(index)]
        if cli.main([*argv, *(["--model", model] if model else [])]) != 0:
            raise SystemExit("could not build the index")
        senses = SensesRequest(index=str(index), word="bank", layer=6)
        await shoot(make_app(None, options=EngineOptions(model=model), senses=senses), "senses", out)

        async def neighbours(pilot):
            await pilot.press(*["right"] * 6, "n")  # on "bank"

        text = "We had a picnic on the bank of the river."
        app = make_app(text, options=EngineOptions(model=model), index=Index(index))
        await shoot(app, "neighbours", out, neighbours)


async def probe_sets(model: str | None, out: Path) -> None:
    """The results screen of a probe set, and a minimal pair opened from it in the explorer."""
    from mlm_tui.probes.sets import open_probe_set

    examples = Path(__file__).resolve().parent.parent / "examples"
    facts = open_probe_set(examples / "facts.jsonl", relations=str(examples / "relations.jsonl"))
    pairs = open_probe_set(examples / "agreement.jsonl")

    async def sorted_by_rank(pilot):
        await pilot.press(*["s"] * 5, "down", "down")  # line, group, text, answer, rank

    async def open_a_pair(pilot):
        await pilot.press("down", "enter")  # "The authors of the book were famous."

    await shoot(
        make_app(None, options=EngineOptions(model=model), results=facts), "results", out, sorted_by_rank
    )
    await shoot(
        make_app(None, options=EngineOptions(model=model), results=pairs), "results-pair", out, open_a_pair
    )


def untrained_copy(path: Path) -> str:
    """The bundled model's architecture and vocabulary with random weights: what training added shows."""
    import torch
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    from mlm_tui.engine import bundled_models

    source = bundled_models()["minilm-mlm-en"]
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(source))
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(source).save_pretrained(path)
    return str(path)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model to show (default: the CLI's default)")
    parser.add_argument(
        "--compare", default=None, help="second model for the compare view (default: an untrained copy)"
    )
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument(
        "--only",
        choices=("all", "results", "layers", "corpus"),
        default="all",
        help="results: only the probe-set screens; layers: only the views of the layers; corpus: only the "
        "corpus of contexts (senses, neighbours)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.model, args.out.resolve(), args.compare, args.only))
