"""A corpus of contexts: every token's vector at chosen layers, stored to search for the nearest contexts.

:mod:`.corpus` reads a corpus (text, JSON lines, Parquet/Arrow), :mod:`.build` writes an index folder
chunk by chunk (resumable), :mod:`.store` opens and searches it (exact, or usearch HNSW above
:data:`~.store.EXACT_LIMIT` vectors a layer). No Textual.
"""

from __future__ import annotations

from .build import CHUNK_TOKENS, DTYPES, build_index
from .corpus import Record, read_corpus
from .store import EXACT_LIMIT, Index, IndexError_, Manifest, read_manifest

__all__ = [
    "CHUNK_TOKENS",
    "DTYPES",
    "EXACT_LIMIT",
    "Index",
    "IndexError_",
    "Manifest",
    "Record",
    "build_index",
    "read_corpus",
    "read_manifest",
]
