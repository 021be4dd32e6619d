"""The README and the manual in docs/: every relative link and image exists, and every command shown runs.

Links are checked as GitHub and MkDocs resolve them: a path relative to the page that holds it, and a
``#anchor`` against the headings of the page it points to (both sites' heading ids must have it). Each
``mlm-tui <command>`` shown in code (a fenced block or an inline span) must answer ``--help`` with that
command's own usage, and each flag written after it must be one that ``--help`` lists.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import unicodedata
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCREENSHOTS = ROOT / "screenshots"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


# ------------------------------------------------------------------ reading Markdown

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)


def split_code(text: str) -> tuple[str, list[str]]:
    """The prose (fenced blocks and comments blanked, inline code kept) and the code: every fenced block
    and inline span."""
    prose, code, block, fenced = [], [], [], False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            if fenced:
                code.append("\n".join(block))
                block = []
            fenced = not fenced
            prose.append("")
        elif fenced:
            block.append(line)
            prose.append("")
        else:
            prose.append(line)
    plain = HTML_COMMENT.sub("", "\n".join(prose))
    code += [m.group(2) for m in INLINE_CODE.finditer(plain)]
    return plain, code


def links(page: Path) -> list[str]:
    prose, _ = split_code(page.read_text(encoding="utf-8"))
    return [m.group(1) for m in LINK.finditer(INLINE_CODE.sub("``", prose))]


def heading_text(raw: str) -> str:
    """A heading as rendered: code spans, emphasis and link syntax reduced to their text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    return text.replace("`", "").replace("**", "").replace("*", "")


def mkdocs_slug(text: str) -> str:
    """Python-Markdown's ``toc`` slugify, which MkDocs uses for heading ids."""
    value = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(r"[-\s]+", "-", value)


def github_slug(text: str) -> str:
    """GitHub's heading ids: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """The ids both GitHub and MkDocs give the headings of a page."""
    prose, _ = split_code(page.read_text(encoding="utf-8"))
    found = set()
    for line in prose.splitlines():
        if m := HEADING.match(line):
            text = heading_text(m.group(2))
            if mkdocs_slug(text) == github_slug(text):
                found.add(mkdocs_slug(text))
    return frozenset(found)


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if root not in file.parents:
            problems.append(f"{target}: outside the repository")
        elif not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            problems.append(f"{target}: no heading with id #{anchor} in {file.relative_to(root).as_posix()}")
    return problems


# ------------------------------------------------------------------ links and images


@pytest.mark.parametrize("page", pages(), ids=rel)
def test_every_relative_link_and_image_exists(page):
    assert broken_links(page) == []


def test_a_broken_link_or_anchor_is_found(tmp_path):
    """The check itself: a missing file, a missing anchor and a path out of the repository all fail."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# B\n\n## Two `words`\n\n```sh\n# not a heading\n```\n")
    page = tmp_path / "docs" / "a.md"
    page.write_text(
        "# A\n\n[ok](b.md) [ok](b.md#b) [ok](b.md#two-words) [ok](#a) [web](https://example.org/x)\n"
        "`[in code](missing.md)`\n\n```sh\n[in a block](missing.md)\n```\n"
        "[gone](gone.md) ![gone](../screenshots/gone.svg) [no anchor](b.md#not-a-heading)\n"
        "[code heading](b.md#not-a-heading-1) [out](../../elsewhere.md)\n"
    )
    assert broken_links(page, root=tmp_path) == [
        "gone.md: no such file",
        "../screenshots/gone.svg: no such file",
        "b.md#not-a-heading: no heading with id #not-a-heading in docs/b.md",
        "b.md#not-a-heading-1: no heading with id #not-a-heading-1 in docs/b.md",
        "../../elsewhere.md: outside the repository",
    ]


def test_every_screenshot_is_shown_somewhere():
    shown = {
        (page.parent / target).resolve()
        for page in pages()
        for target in links(page)
        if not re.match(r"^[a-z]+:", target)
    }
    unused = [p.name for p in sorted(SCREENSHOTS.iterdir()) if p.resolve() not in shown]
    assert unused == []


def test_the_mkdocs_nav_lists_every_page_and_only_pages_that_exist():
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config.get("docs_dir", "docs") == "docs"

    def walk(nav) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, list):
            return [page for item in nav for page in walk(item)]
        return [page for value in nav.values() for page in walk(value)]

    listed = walk(config["nav"])
    assert sorted(listed) == sorted(p.name for p in DOCS.glob("*.md"))


# ------------------------------------------------------------------ commands

INVOCATION = re.compile(r"(?:^|(?<=[\s;&|(/]))mlm-tui(?=[ \t\n]|$)(.*)")
COMMAND = re.compile(r"^[a-z][a-z0-9-]*$")


def invocations(text: str) -> list[list[str]]:
    """The words after each ``mlm-tui`` in a piece of code, up to a pipe, redirect, ``&&`` or comment."""
    found = []
    text = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("#"))  # comments
    for m in INVOCATION.finditer(text.replace("\\\n", " ")):
        rest = m.group(1)
        lexer = shlex.shlex(rest, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            words = list(lexer)
        except ValueError:  # a quote that closes on another line
            words = rest.split()
        found.append(_until_operator(words))
    return found


def _until_operator(words: list[str]) -> list[str]:
    out = []
    for word in words:
        if word and all(c in "();<>|&" for c in word):
            break
        out.append(word)
    return out


def shown_commands() -> dict[str, set[str]]:
    """Each command shown in the docs (``""`` for plain ``mlm-tui``) and the flags written after it."""
    shown: dict[str, set[str]] = {"": set()}
    for page in pages():
        _, code = split_code(page.read_text(encoding="utf-8"))
        for piece in code:
            for words in invocations(piece):
                command = words[0] if words and COMMAND.match(words[0]) else ""
                flags = {w.split("=")[0] for w in words if re.match(r"^--?[A-Za-z]", w)}
                shown.setdefault(command, set()).update(flags)
    return shown


@cache
def help_text(command: str) -> str:
    """``mlm-tui [command] --help``, run in-process; it must exit with status 0."""
    from mlm_tui.cli import main

    out = io.StringIO()
    argv = [command, "--help"] if command else ["--help"]
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code in (0, None), f"mlm-tui {' '.join(argv)} exited with {exit_.value.code}"
    return out.getvalue()


SHOWN = shown_commands()


def test_the_docs_show_the_commands():
    """The collection works: the commands the manual is about are found in it."""
    assert {"", "predict", "score", "attention", "layers", "salience", "probe", "pairs"} <= set(SHOWN)
    assert {"sessions", "config", "serve"} <= set(SHOWN)


@pytest.mark.parametrize("command", sorted(SHOWN), ids=lambda c: c or "mlm-tui")
def test_every_command_shown_answers_help_with_its_own_usage(command, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    usage = help_text(command)
    own = f"usage: mlm-tui {command}".rstrip() + " "
    assert usage.startswith(own), f"mlm-tui {command} --help does not print its own usage: {usage[:80]!r}"
    known = usage + (help_text("") if command == "serve" else "")  # serve passes the explorer's flags on
    unknown = sorted(f for f in SHOWN[command] if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", known))
    assert unknown == [], f"mlm-tui {command}: flags shown in the docs that --help does not list"


def test_a_command_that_does_not_exist_is_found(monkeypatch):
    """The check itself: ``mlm-tui nonsense --help`` prints the top-level help, which is not its usage."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert invocations('x && mlm-tui nonsense "a b" --flag # c\npip install "mlm-tui[ray]"') == [
        ["nonsense", "a b", "--flag"]
    ]
    assert invocations("# mlm-tui export\n  # mlm-tui score is commented out") == []  # a comment or a heading
    assert not help_text("nonsense").startswith("usage: mlm-tui nonsense ")
