"""`mlm-tui serve` opened in a real, headless Chromium; shared by tests/test_browser.py and
scripts/browser_screenshot.py.

Playwright drives the system's Chromium (its own browser download is not reachable here). The
terminal in the page is xterm.js, drawn on a canvas, so the text is read from xterm.js's buffer:
textual-serve's bundle keeps its ``Terminal`` private, so the bundle is patched on its way to the
browser to also put it at ``window.mlmTerminal``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("MLM_TUI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
EXPOSE = re.compile(r"this\.terminal=new (\w+)\.Terminal\(")
READ_SCREEN = """() => {
    const buffer = window.mlmTerminal.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
    return lines.join("\\n");
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def served(app_args: Sequence[str], log: Path, *, timeout: float = 60) -> Iterator[str]:
    """Run ``mlm-tui serve`` on a free localhost port; yields its URL; stops it on the way out."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "mlm_tui", "serve", "--port", str(port), *app_args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"mlm-tui serve did not start:\n{log.read_text()}") from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/"
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _expose_terminal(route) -> None:
    response = route.fetch()
    patched, found = EXPOSE.subn(r"this.terminal=window.mlmTerminal=new \1.Terminal(", response.text())
    if not found:
        raise RuntimeError("textual-serve's textual.js changed: no `this.terminal=new X.Terminal(` to patch")
    route.fulfill(response=response, body=patched)


def open_terminal(browser, url: str, *, width: int = 1000, height: int = 700, focus: bool = True):
    """A page showing ``url`` whose terminal is reachable and (with ``focus``) has the keyboard focus."""
    page = browser.new_page(viewport={"width": width, "height": height})
    # The page asks Google for a font; nothing outside this machine is reachable, so do not wait for it.
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page.route("**/textual.js", _expose_terminal)
    page.goto(url)
    page.wait_for_function("() => window.mlmTerminal !== undefined")
    if focus:
        page.focus(".xterm-helper-textarea")
    return page


def screen_text(page) -> str:
    return page.evaluate(READ_SCREEN)


def wait_for_screen(page, javascript_test: str, *, timeout_s: float = 120) -> str:
    """Wait until ``javascript_test(screen)`` is true of the terminal's text; returns that text."""
    page.wait_for_function(f"() => ({javascript_test})(({READ_SCREEN})())", timeout=timeout_s * 1000)
    return screen_text(page)
