"""Make the README's browser screenshot: `python scripts/browser_screenshot.py [--model M] [--out PNG]`.

Runs `mlm-tui serve` with the bundled model, opens it in the system's headless Chromium
(Playwright, `apt-get install chromium`), selects a word, masks it with `m` and saves the page.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from browser_session import CHROMIUM, open_terminal, served, wait_for_screen  # noqa: E402

TEXT = "The capital of France is Paris."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="minilm-mlm-en")
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots" / "browser.png")
    args = parser.parse_args()
    if CHROMIUM is None:
        print("browser_screenshot: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        log = Path(tmp) / "serve.log"
        with served([TEXT, "--model", args.model, "--top-k", "8"], log) as url:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = open_terminal(browser, url, width=860, height=520)
            wait_for_screen(page, "s => s.includes('[CLS]')")
            for key in ("ArrowRight", "ArrowRight", "ArrowRight", "m"):  # "france"
                page.keyboard.press(key)
            wait_for_screen(page, r"s => /^\W*8\s+.+?\s+\d+\.\d+%/m.test(s)")
            page.wait_for_timeout(500)  # let the last frame paint
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
