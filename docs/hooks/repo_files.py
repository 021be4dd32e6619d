"""MkDocs hook: let the site show the repository files the pages link to outside docs/.

The pages link to screenshots and to files such as BENCHMARKS.md by their path in the repository
(``../screenshots/lens.svg``), which GitHub and a text editor resolve. MkDocs only serves what is
under ``docs_dir``, so this hook adds each such file to the site under ``repo/`` and points the link
there. Nothing is copied into docs/.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

OUTSIDE = re.compile(r"(\]\(\s*)\.\./([^)\s#]+)")


def _targets(markdown: str, root: Path) -> set[str]:
    return {m.group(2) for m in OUTSIDE.finditer(markdown) if (root / m.group(2)).is_file()}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    docs = Path(config.docs_dir)
    root = docs.parent
    wanted = set()
    for page in docs.glob("*.md"):
        wanted |= _targets(page.read_text(encoding="utf-8"), root)
    for target in sorted(wanted):
        files.append(File.generated(config, f"repo/{target}", abs_src_path=str(root / target)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    root = Path(config.docs_dir).parent
    targets = _targets(markdown, root)
    return OUTSIDE.sub(
        lambda m: f"{m.group(1)}repo/{m.group(2)}" if m.group(2) in targets else m.group(0), markdown
    )
