#!/usr/bin/env python3
"""Rebuild the training corpus for the bundled masked language model.

Every source is a named Debian package, fetched with ``apt-get download NAME`` and
unpacked with ``dpkg-deb -x`` (nothing is installed).  The text is cleaned (markup
stripped, code and tables dropped by a letters-and-spaces filter, whitespace
normalised, paragraphs de-duplicated) and split into train/test BY DOCUMENT
(~1 % of documents, chosen by a hash of the document's path).

Output (in --out, default /work/mlm-tui-training/corpus):
    train/<source>.txt, test/<source>.txt   one paragraph per line, blank line between documents
    train.txt, test.txt                     all sources concatenated (natural mix, no oversampling)
    sources.json                            package, version, licence, group, words, paragraphs, documents

Run (as root, for apt-get download; niced so interactive work keeps priority):
    nice -n 19 .venv/bin/python training/build_corpus.py
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import html.parser
import json
import os
import re
import subprocess
import sys
import unicodedata
import zlib
from pathlib import Path

ROOT = Path("/work/mlm-tui-training")

# name -> (group, licence summary as read from the package's debian/copyright)
SOURCES = {
    "linux-doc-6.1": (
        "technical",
        "GPL-2.0 (Linux kernel documentation; some files dual-licensed GPL-2.0/CC-BY-4.0 or similar)",
    ),
    "python3.11-doc": ("technical", "PSF-2.0 (Python Software Foundation License)"),
    "postgresql-doc-15": ("technical", "PostgreSQL Licence (BSD-style)"),
    "perl-doc": ("technical", "GPL-1.0+ or Artistic-1.0 (Perl licence)"),
    "dict-gcide": (
        "dictionary",
        "GPL-2.0+ (GNU Collaborative International Dictionary of English, incl. Webster 1913)",
    ),
    "dict-wn": ("everyday", "WordNet 3.0 licence (Princeton, permissive BSD-style); Debian packaging GPL-2+"),
    "dict-devil": ("everyday", "Public domain (Ambrose Bierce, The Devil's Dictionary, copyright expired)"),
    "jargon-text": ("technical", "Public domain (The Jargon File 4.4.7)"),
    "bible-kjv-text": (
        "everyday",
        "Public domain text (King James Version); decoded with the bible program from bible-kjv (GPL-2+)",
    ),
    "r-cran-janeaustenr": (
        "everyday",
        "Novels public domain (Jane Austen, via Project Gutenberg); R package MIT",
    ),
    "r-cran-tokenizers": (
        "everyday",
        "Moby Dick public domain (Herman Melville, via Project Gutenberg); R package MIT",
    ),
    "r-cran-stringr": (
        "everyday",
        "Harvard sentences (IEEE 1969 speech-quality test sentences, widely treated as public domain); R package GPL-2",
    ),
    "ruby-countries": ("everyday", "Expat (MIT) - country data used only for templated factual sentences"),
}
# helper packages that are downloaded but not text sources themselves
HELPERS = ["bible-kjv"]


# ---------------------------------------------------------------- fetching


def fetch(debs: Path, xdir: Path, name: str) -> tuple[Path, str]:
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{name}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", name], cwd=debs, check=True)
        found = sorted(debs.glob(f"{name}_*.deb"))
    deb = found[-1]
    target = xdir / name
    if not target.exists():
        target.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return target, version


def copyright_file(root: Path, name: str) -> Path | None:
    for p in root.glob("usr/share/doc/*/copyright"):
        return p
    return None


# ---------------------------------------------------------------- cleaning

WS = re.compile(r"\s+")


def norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return WS.sub(" ", text).strip()


def keep(par: str) -> bool:
    if len(par) < 20:
        return False
    good = sum(1 for c in par if c.isalpha() or c == " ")
    return good >= 0.75 * len(par)


def split_pars(text: str) -> list[str]:
    return [norm(p) for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- reStructuredText (kernel docs, Python docs)
RST_ROLE = re.compile(r":[\w:+.-]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]*>`_{1,2}")
RST_REF = re.compile(r"`([^`]+)`_{1,2}")
RST_LIT = re.compile(r"``([^`]+)``")
RST_EMPH = re.compile(r"\*\*?([^*\n]+)\*\*?")
RST_UNDER = re.compile(r"^\s*([=\-~^\"'`#*+.:_])\1{2,}\s*$")


def rst_to_pars(text: str) -> list[str]:
    out, buf, skip_indent = [], [], None

    def flush():
        if buf:
            out.append(" ".join(buf))
            buf.clear()

    lines = text.splitlines()
    in_literal = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if stripped == "" or indent > skip_indent:
                continue
            skip_indent = None
        if in_literal:
            if stripped == "" or indent > 0:
                continue
            in_literal = False
        if stripped.startswith(".."):
            flush()
            # directive / comment: skip its indented body, except text-bearing admonitions
            if not re.match(
                r"\.\.\s+(note|warning|tip|important|hint|attention|caution|seealso)::", stripped
            ):
                skip_indent = indent
            continue
        if RST_UNDER.match(line) or stripped.startswith(("|", "+-", "+=")):
            flush()
            continue
        if stripped == "":
            flush()
            continue
        if stripped.endswith("::"):
            buf.append(stripped[:-1] if stripped != "::" else "")
            flush()
            in_literal = True
            continue
        # headings: next line is an underline
        if i + 1 < len(lines) and RST_UNDER.match(lines[i + 1]):
            flush()
            continue
        s = RST_LINK.sub(r"\1", stripped)
        s = RST_ROLE.sub(r"\1", s)
        s = RST_REF.sub(r"\1", s)
        s = RST_LIT.sub(r"\1", s)
        s = RST_EMPH.sub(r"\1", s)
        s = re.sub(r"^([-*+]|\d+\.|#\.)\s+", "", s)  # list bullets
        buf.append(s)
    flush()
    return [norm(p) for p in out]


# --- HTML (PostgreSQL docs)
BLOCK = {
    "p",
    "div",
    "li",
    "dd",
    "dt",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "td",
    "th",
    "tr",
    "table",
    "ul",
    "ol",
    "dl",
    "blockquote",
    "br",
    "section",
    "title",
    "caption",
}
SKIP = {"pre", "script", "style", "head", "code_block", "nav"}


class HTMLText(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pars, self.buf, self.skip = [], [], 0

    def flush(self):
        if self.buf:
            self.pars.append(norm("".join(self.buf)))
            self.buf = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIP:
            self.skip += 1
            self.flush()
        elif tag in BLOCK:
            self.flush()
        cls = dict(attrs).get("class") or ""
        if tag == "div" and ("navheader" in cls or "navfooter" in cls or cls == "toc"):
            self.skip += 1
            self._div_skip = getattr(self, "_div_skip", []) + [True]
        elif tag == "div":
            self._div_skip = getattr(self, "_div_skip", []) + [False]

    def handle_endtag(self, tag):
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
            self.flush()
        elif tag in BLOCK:
            self.flush()
        if tag == "div":
            stack = getattr(self, "_div_skip", [])
            if stack and stack.pop():
                self.skip = max(0, self.skip - 1)

    def handle_data(self, data):
        if not self.skip:
            self.buf.append(data)


def html_to_pars(text: str) -> list[str]:
    p = HTMLText()
    p.feed(text)
    p.close()
    p.flush()
    return p.pars


# --- POD (Perl docs)
POD_CODE = re.compile(r"[IBCFSLXZE]<<+\s(.*?)\s>>+|[IBCFSLXZE]<([^<>]*)>")


def pod_inline(s: str) -> str:
    for _ in range(4):

        def rep(m):
            inner = m.group(1) if m.group(1) is not None else m.group(2)
            tag = m.group(0)[0]
            if tag == "L":
                inner = inner.split("|")[0] if "|" in inner else inner.split("/")[-1].strip('"')
            if tag == "E":
                return {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}.get(inner, "")
            if tag in "XZ":
                return ""
            return inner

        new = POD_CODE.sub(rep, s)
        if new == s:
            break
        s = new
    return s


def pod_to_pars(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        if block[0] in " \t":  # verbatim (code)
            continue
        if block.startswith("="):
            m = re.match(r"=item\s+(.*)", block, re.S)
            if m and len(m.group(1)) > 40:
                out.append(norm(pod_inline(m.group(1))))
            continue
        out.append(norm(pod_inline(block)))
    return out


# --- dictd databases
def b64num(s: str) -> int:
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = 0
    for c in s:
        n = n * 64 + alpha.index(c)
    return n


def dictd_entries(dz: Path, index: Path, encoding: str):
    data = gzip.open(dz, "rb").read()
    seen = set()
    for line in open(index, "rb").read().decode(encoding, "replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        head, off, ln = parts[0], b64num(parts[1]), b64num(parts[2])
        if head.startswith("00-database") or (off, ln) in seen:
            continue
        seen.add((off, ln))
        yield head, data[off : off + ln].decode(encoding, "replace")


def gcide_pars(entry: str) -> list[str]:
    s = re.sub(r"\\[^\\\n]*\\", "", entry)  # \Pro*nun"ci*a`tion\
    s = re.sub(r"\[(?:1913 Webster|PJC|WordNet 1\.5|Century Dict\.|Webster 1913 Suppl\.)[^\]]*\]", "", s)
    s = re.sub(r"--\s?[A-Z][\w.' ]{0,40}\.", "", s)  # --Bailey.
    s = re.sub(r"\[(?:[A-Z][a-z]?\.|AS\.|OE\.|F\.|L\.|Gr\.|Cf\.|cf\.|See)[^\]]*\]", "", s)  # etymology
    s = s.replace("{", "").replace("}", "")
    pars = []
    for p in split_pars(s):
        p = re.sub(
            r"^[A-Z][\w'-]*(?: [\w'-]+)*\s*,\s*(?:n|v|a|adv|prep|conj|interj|pron|p\. p\.|v\. t\.|v\. i\.)\.\s*(?:;[^.]*\.)?",
            "",
            p,
        )
        p = re.sub(r"\([^()]*[\"`?*][^()]*\)", "", p)  # pronunciations such as (k?r"r?-gant)
        p = re.sub(r"^\d+\.\s*(?:\([A-Z][\w. ]*\)\s*)?", "", p)
        p = re.sub(r"\s*\[(?:R|Obs|Colloq|Archaic|Poetic)\.\]", "", p)
        if p.startswith("Syn.") or p.startswith("Note:"):
            p = p.split(" ", 1)[1] if " " in p else ""
        pars.append(norm(p))
    return pars


WN_SENSE = re.compile(r"(?:^|\s)(?:(?:n|v|adj|adv)\s+)?\d+:\s")


def wordnet_pars(entry: str) -> list[str]:
    body = entry.split("\n", 1)[1] if "\n" in entry else ""
    body = re.sub(r"\[(?:syn|ant|also):[^\]]*\]", "", body, flags=re.S)
    body = norm(body.replace("{", "").replace("}", ""))
    body = re.sub(r"^(?:n|v|adj|adv)\s+(?=\d|:|\w)", "", body)
    senses = re.split(r"(?:^|\s)(?:(?:n|v|adj|adv)\s+)?\d+:\s|^:\s*", body)
    out = []
    for sense in senses:
        sense = sense.strip()
        if not sense:
            continue
        parts = sense.split(";")
        gloss = [p.strip() for p in parts if not p.strip().startswith('"')]
        exs = [p.strip().strip('"').strip() for p in parts if p.strip().startswith('"')]
        text = "; ".join(g for g in gloss if g)
        if text:
            text = text[0].upper() + text[1:] + "."
        for e in exs:
            e = e.rstrip('"')
            if e:
                text += " " + e[0].upper() + e[1:] + ("" if e[-1] in ".!?" else ".")
        out.append(norm(text))
    return out


# ---------------------------------------------------------------- per-source document readers
# each yields (document_path, [paragraphs])


def docs_linux(root):
    for p in sorted(root.glob("usr/share/doc/linux-doc-6.1/Documentation/**/*")):
        if "/translations/" in str(p):  # Chinese, Japanese, Korean, Italian, Spanish translations
            continue
        if p.name.endswith((".rst.gz", ".txt.gz")):
            yield str(p.relative_to(root)), rst_to_pars(gzip.open(p, "rt", errors="replace").read())


def docs_python(root):
    for p in sorted(root.glob("usr/share/doc/python3.11/html/_sources/**/*.txt")):
        yield str(p.relative_to(root)), rst_to_pars(p.read_text(errors="replace"))


def docs_postgres(root):
    for p in sorted(root.glob("usr/share/doc/postgresql-doc-15/html/*.html")):
        yield str(p.relative_to(root)), html_to_pars(p.read_text(errors="replace"))


def docs_perl(root):
    for p in sorted(root.glob("usr/share/perl/*/pod/*.pod")):
        yield str(p.relative_to(root)), pod_to_pars(p.read_text(errors="replace"))


def docs_gcide(root):
    d = root / "usr/share/dictd"
    for head, entry in dictd_entries(d / "gcide.dict.dz", d / "gcide.index", "latin-1"):
        yield f"gcide/{head}", gcide_pars(entry)


def docs_wordnet(root):
    d = root / "usr/share/dictd"
    for head, entry in dictd_entries(d / "wn.dict.dz", d / "wn.index", "utf-8"):
        yield f"wn/{head}", wordnet_pars(entry)


def docs_devil(root):
    d = root / "usr/share/dictd"
    for head, entry in dictd_entries(d / "devil.dict.dz", d / "devil.index", "latin-1"):
        body = re.sub(r"^[A-Z][A-Z' -]*,\s*(?:n|v|adj|adv|p\.p|x|pp|v\.[ti])\.\s*", "", entry.strip())
        body = re.sub(r"\{([^}]*)\}", r"\1", body)
        yield f"devil/{head}", [norm(p) for p in split_pars(body)]


def docs_jargon(root):
    text = gzip.open(root / "usr/share/doc/jargon-text/jargon.txt.gz", "rt", errors="replace").read()
    # entries start with ":Headword:" at the beginning of a line
    chunks = re.split(r"\n(?=\s*:[^:\n]+:)", text)
    for _i, ch in enumerate(chunks):
        m = re.match(r"\s*:([^:\n]+):", ch)
        if not m:  # front matter and the table of contents (one headword per line)
            continue
        ch = re.sub(r"^\s*:[^:\n]+:[^\n]*", "", ch)  # drop the ':headword: pos.' line
        ch = re.sub(r"\{([^}]*)\}", r"\1", ch)
        yield f"jargon/{m.group(1)}", split_pars(ch)


def docs_bible(root, xdir):
    exe = xdir / "bible-kjv/usr/bin/bible"
    out = subprocess.run(
        [str(exe), "-p", str(root / "usr/lib"), "gen1:1-rev22:21"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100000"},
    ).stdout
    doc, verses = None, []
    for line in out.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^\s+\d+\s+(.*)$", line)
        if m:
            verses.append(m.group(1))
        elif line[0] != " " and re.match(r"^[1-3]?\s?[A-Z][\w ]+ \d+$", line.strip()):
            if doc:
                yield f"kjv/{doc}", [norm(v) for v in verses]
            doc, verses = line.strip(), []
        elif verses:
            verses[-1] += " " + line.strip()
    if doc:
        yield f"kjv/{doc}", [norm(v) for v in verses]


sys.path.append(str(ROOT / "pylib"))  # `rdata` (pip install --target) lives here, outside the venv


def load_r_lazy(base: Path) -> dict:
    import warnings

    import rdata

    warnings.filterwarnings("ignore")
    idx = rdata.conversion.convert(rdata.parser.parse_file(str(base) + ".rdx"))
    raw = (Path(str(base) + ".rdb")).read_bytes()
    out = {}
    for name, (off, ln) in idx["variables"].items():
        chunk = raw[int(off) : int(off) + int(ln)]
        out[str(name)] = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(chunk[4:])))
    return out


def lines_to_chapters(name, lines, chapter_re):
    """lines: list of text lines; paragraphs separated by empty lines; documents = chapters."""
    doc, cur, pars, n = "front", [], [], 0
    for line in list(lines) + [""]:
        line = str(line)
        if chapter_re.match(line.strip()):
            if cur:
                pars.append(" ".join(cur))
                cur = []
            if pars:
                yield f"{name}/{doc}", [norm(p) for p in pars]
            n += 1
            doc, pars = f"ch{n:03d}", []
            continue
        if line.strip():
            cur.append(line.strip())
        elif cur:
            pars.append(" ".join(cur))
            cur = []
    if cur:
        pars.append(" ".join(cur))
    if pars:
        yield f"{name}/{doc}", [norm(p) for p in pars]


def docs_austen(root):
    d = load_r_lazy(root / "usr/lib/R/site-library/janeaustenr/data/Rdata")
    for book in [
        "emma",
        "mansfieldpark",
        "northangerabbey",
        "persuasion",
        "prideprejudice",
        "sensesensibility",
    ]:
        yield from lines_to_chapters(
            f"austen/{book}", d[book], re.compile(r"^(CHAPTER|Chapter)\s+[\dIVXLC]+\.?$")
        )


def docs_moby(root):
    d = load_r_lazy(root / "usr/lib/R/site-library/tokenizers/data/Rdata")
    text = str(d["mobydick"][0]).replace("\r\n", "\n").lstrip("\ufeff")
    start = text.find("CHAPTER 1. Loomings.")  # skips the Gutenberg header
    end = text.find("End of Project Gutenberg")  # and the licence footer
    text = text[start : end if end > 0 else None]
    yield from lines_to_chapters(
        "moby", text.split("\n"), re.compile(r"^(CHAPTER \d+\.|Epilogue|ETYMOLOGY|EXTRACTS)")
    )


def docs_harvard(root):
    d = load_r_lazy(root / "usr/lib/R/site-library/stringr/data/Rdata")
    for i, s in enumerate(d["sentences"]):
        yield f"harvard/{i:03d}", [norm(str(s))]


# ---------------------------------------------------------------- templated factual sentences


def templated(wn_root: Path, countries_root: Path):
    """Factual sentences derived from WordNet glosses ('Paris: the capital of France') and
    ruby-countries data (continent/subregion). Each fact is its own document for the split."""
    facts = {}
    d = wn_root / "usr/share/dictd"
    cap = re.compile(
        r"(?:^|\d:\s)(?:the\s+)?(?:national\s+)?capital(?:\s+and\s+largest\s+city)?\s+of\s+"
        r"((?:the\s+)?[A-Z][A-Za-z]+(?:'s)?(?:\s+[A-Z][A-Za-z]+)*)(?:(?!\d+:\s)[^\[])*\[syn:\s*([^\]]*)\]"
    )
    for _head, entry in dictd_entries(d / "wn.dict.dz", d / "wn.index", "utf-8"):
        body = norm(entry.split("\n", 1)[1] if "\n" in entry else "")
        for m in cap.finditer(body):
            country = m.group(1)
            syns = [x.strip() for x in re.findall(r"\{([^}]*)\}", m.group(2))]
            cities = [x for x in syns if x[:1].isupper() and "capital" not in x.lower()]
            if not cities or country in ("State", "the State"):
                continue
            city = cities[0]
            facts[f"tmpl/capital/{city}"] = [
                f"The capital of {country} is {city}. {city} is the capital of {country}."
            ]
    data = json.load(
        open(
            next(
                countries_root.glob(
                    "usr/share/rubygems-integration/all/gems/countries-*/lib/countries/cache/countries.json"
                )
            )
        )
    )
    from collections import Counter

    nat_count = Counter(c.get("nationality") for c in data.values())
    for code, c in sorted(data.items()):
        name, sub, cont = c.get("name"), c.get("subregion"), c.get("continent")
        if not name or not sub or not cont:
            continue
        sents = [f"{name} is a country in {sub}."]
        if c.get("nationality") and c["nationality"] != name and nat_count[c["nationality"]] == 1:
            sents.append(f"The people of {name} are called {c['nationality']}.")
        facts[f"tmpl/country/{code}"] = [" ".join(sents)]
    return facts


# ---------------------------------------------------------------- main


def is_test(doc_path: str, pct: float) -> bool:
    h = int(hashlib.sha1(doc_path.encode()).hexdigest()[:8], 16)
    return (h % 10000) < pct * 100


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "corpus"))
    ap.add_argument("--debs", default=str(ROOT / "debs"))
    ap.add_argument("--extract", default=str(ROOT / "x"))
    ap.add_argument("--test-percent", type=float, default=1.0)
    args = ap.parse_args()
    out, debs, xdir = Path(args.out), Path(args.debs), Path(args.extract)
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "test").mkdir(parents=True, exist_ok=True)

    roots, versions = {}, {}
    for name in list(SOURCES) + HELPERS:
        roots[name], versions[name] = fetch(debs, xdir, name)

    readers = {
        "linux-doc-6.1": lambda: docs_linux(roots["linux-doc-6.1"]),
        "python3.11-doc": lambda: docs_python(roots["python3.11-doc"]),
        "postgresql-doc-15": lambda: docs_postgres(roots["postgresql-doc-15"]),
        "perl-doc": lambda: docs_perl(roots["perl-doc"]),
        "dict-gcide": lambda: docs_gcide(roots["dict-gcide"]),
        "dict-wn": lambda: docs_wordnet(roots["dict-wn"]),
        "dict-devil": lambda: docs_devil(roots["dict-devil"]),
        "jargon-text": lambda: docs_jargon(roots["jargon-text"]),
        "bible-kjv-text": lambda: docs_bible(roots["bible-kjv-text"], xdir),
        "r-cran-janeaustenr": lambda: docs_austen(roots["r-cran-janeaustenr"]),
        "r-cran-tokenizers": lambda: docs_moby(roots["r-cran-tokenizers"]),
        "r-cran-stringr": lambda: docs_harvard(roots["r-cran-stringr"]),
        "ruby-countries": lambda: templated(roots["dict-wn"], roots["ruby-countries"]).items(),
    }
    short = {
        "linux-doc-6.1": "linux",
        "python3.11-doc": "python",
        "postgresql-doc-15": "postgresql",
        "perl-doc": "perl",
        "dict-gcide": "gcide",
        "dict-wn": "wordnet",
        "dict-devil": "devil",
        "jargon-text": "jargon",
        "bible-kjv-text": "kjv",
        "r-cran-janeaustenr": "austen",
        "r-cran-tokenizers": "moby",
        "r-cran-stringr": "harvard",
        "ruby-countries": "templates",
    }

    seen: set[bytes] = set()
    meta = []
    for name, reader in readers.items():
        stats = {"train": [0, 0, 0], "test": [0, 0, 0]}  # words, paragraphs, documents
        files = {s: open(out / s / f"{short[name]}.txt", "w") for s in ("train", "test")}
        for doc, pars in reader():
            kept = []
            for p in pars:
                if not keep(p):
                    continue
                key = hashlib.blake2b(p.lower().encode(), digest_size=12).digest()
                if key in seen:
                    continue
                seen.add(key)
                kept.append(p)
            if not kept:
                continue
            split = "test" if is_test(f"{name}/{doc}", args.test_percent) else "train"
            files[split].write("\n".join(kept) + "\n\n")
            st = stats[split]
            st[0] += sum(len(p.split()) for p in kept)
            st[1] += len(kept)
            st[2] += 1
        for f in files.values():
            f.close()
        cr = copyright_file(roots[name], name)
        group, lic = SOURCES[name]
        m = {
            "source": short[name],
            "package": name,
            "version": versions[name],
            "group": group,
            "licence": lic,
            "copyright_file": str(cr.relative_to(roots[name])) if cr else None,
            "train_words": stats["train"][0],
            "train_paragraphs": stats["train"][1],
            "train_documents": stats["train"][2],
            "test_words": stats["test"][0],
            "test_paragraphs": stats["test"][1],
            "test_documents": stats["test"][2],
        }
        meta.append(m)
        print(json.dumps(m), flush=True)
        # keep a copy of each source's copyright notice next to the corpus
        if cr:
            (out / "licences").mkdir(exist_ok=True)
            (out / "licences" / f"{name}.copyright").write_bytes(cr.read_bytes())

    for split in ("train", "test"):
        with open(out / f"{split}.txt", "w") as f:
            for m in meta:
                f.write((out / split / f"{m['source']}.txt").read_text())
    helpers = {h: versions[h] for h in HELPERS}
    json.dump(
        {
            "sources": meta,
            "helpers": helpers,
            "test_percent": args.test_percent,
            "filter": "paragraphs >= 20 chars, >= 75% letters and spaces, NFKC + whitespace normalised, "
            "case-insensitive exact dedupe across all sources",
            "split": "document-level: sha1(package/document path) % 10000 < test_percent*100",
        },
        open(out / "sources.json", "w"),
        indent=2,
    )
    tw = sum(m["train_words"] for m in meta)
    sw = sum(m["test_words"] for m in meta)
    print(f"total train words {tw:,}  test words {sw:,}")


if __name__ == "__main__":
    main()
