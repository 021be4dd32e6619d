"""The explorer in a browser: ``mlm-tui serve`` runs the app under textual-serve.

textual-serve starts one app process per browser tab, running a shell command; that command is
this Python running ``-m mlm_tui`` with the app arguments given to ``serve``, so the browser sees
exactly what ``mlm-tui ARGS`` shows in a terminal.
"""

from __future__ import annotations

import shlex
import socket
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_HOST = frozenset({"0.0.0.0", "::", ""})


def app_command(app_args: Sequence[str]) -> str:
    """The shell command that runs the app with ``app_args``, with the same Python as this one."""
    return shlex.join([sys.executable, "-m", "mlm_tui", *app_args])


def exposure_warning(host: str, port: int) -> str | None:
    """A warning when ``host`` lets other machines in; ``None`` for localhost."""
    if host in LOCAL_HOSTS or host.startswith("127."):
        return None
    return (
        f"serving on {host}:{port}: anyone who can reach this port can use the app "
        "(and the machine's models and files through it); there is no login"
    )


def public_url(host: str, port: int) -> str:
    """The address browsers are told to use for the page's scripts and websocket.

    textual-serve would write ``http://HOST:PORT`` into the page; for ``0.0.0.0`` that address
    means nothing to another machine, so this machine's name is used instead, and an IPv6
    address is put in brackets.
    """
    name = socket.getfqdn() if host in ANY_HOST else host
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}"


FOCUS_ON_LOAD = """<script>
  // Keys reach the app at once, without a click: focus the terminal's input when the app first
  // draws (textual-serve marks the page with -first-byte then); the footer shows as focused too.
  new MutationObserver((_, observer) => {
    const input = document.querySelector("#terminal textarea");
    if (document.body.classList.contains("-first-byte") && input) {
      input.focus();
      observer.disconnect();
    }
  }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
</script>
"""


def page_templates(folder: Path) -> Path:
    """textual-serve's page, with :data:`FOCUS_ON_LOAD` added, written to ``folder``; returns it."""
    import textual_serve

    page = (Path(textual_serve.__file__).parent / "templates" / "app_index.html").read_text(encoding="utf-8")
    if "</body>" not in page:
        raise RuntimeError("textual-serve's page changed: no </body> to add the focus script before")
    (folder / "app_index.html").write_text(page.replace("</body>", FOCUS_ON_LOAD + "</body>", 1), "utf-8")
    return folder


def serve(
    app_args: Sequence[str], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, url: str | None = None
) -> None:
    """Serve the app until Ctrl+C (textual-serve prints the address to open).

    ``url`` is the address browsers reach this server by (behind a proxy, say); by default
    :func:`public_url`.
    """
    from textual_serve.server import Server

    address = (url or public_url(host, port)).rstrip("/")
    with tempfile.TemporaryDirectory(prefix="mlm-tui-serve-") as folder:
        Server(
            app_command(app_args),
            host=host,
            port=port,
            title="mlm-tui",
            public_url=address,
            templates_path=page_templates(Path(folder)),
        ).serve()
