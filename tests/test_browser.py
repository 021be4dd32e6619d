"""The explorer in a real browser: `mlm-tui serve`, headless Chromium, keys pressed, predictions seen."""

from __future__ import annotations

import re

import pytest
from browser_session import CHROMIUM, open_terminal, served, wait_for_screen

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)"
)

TOP_K = 5
ROW = re.compile(r"^\W*(\d+)\s+(.+?)\s+(\d+\.\d+)%", re.MULTILINE)


def test_mask_key_in_the_browser_shows_the_prediction_table(bert_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    app_args = ["Paris is the capital of France.", "--model", str(bert_dir), "--top-k", str(TOP_K)]
    with served(app_args, tmp_path / "serve.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = open_terminal(browser, url)
            loaded = wait_for_screen(page, "s => s.includes('[CLS]') && s.includes('[SEP]')")
            assert "[MASK]" not in loaded
            page.keyboard.press("ArrowRight")
            page.keyboard.press("m")
            screen = wait_for_screen(
                page, f"s => s.includes('[MASK]') && /^\\W*{TOP_K}\\s+.+?\\s+\\d+\\.\\d+%/m.test(s)"
            )
        finally:
            browser.close()
    rows = ROW.findall(screen)
    assert [int(rank) for rank, _, _ in rows] == list(range(1, TOP_K + 1)), screen
    probabilities = [float(p) for _, _, p in rows]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 100


def test_keys_work_in_the_browser_without_a_click_first(bert_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    app_args = ["Paris is the capital of France.", "--model", str(bert_dir), "--top-k", str(TOP_K)]
    with served(app_args, tmp_path / "serve.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = open_terminal(browser, url, focus=False)  # as a user who only opened the page
            wait_for_screen(page, "s => s.includes('[CLS]') && s.includes('[SEP]')")
            assert page.evaluate("() => document.activeElement.classList.contains('xterm-helper-textarea')")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("m")
            screen = wait_for_screen(page, "s => s.includes('[MASK]')")
        finally:
            browser.close()
    assert "Mask" in screen and "Quit" in screen  # the footer is drawn: the app has the focus
