"""usearch vs faiss-cpu for the index: `python benchmarks/index_libraries.py N D` (synthetic clustered unit vectors; prints Markdown)."""

import os
import sys
import tempfile
import time

import numpy as np

N = int(sys.argv[1])
D = int(sys.argv[2])
Q = 100
K = 50
rng = np.random.default_rng(0)


def data(n):
    centres = rng.standard_normal((1000, D)).astype(np.float32)
    out = np.empty((n, D), np.float16)
    for s in range(0, n, 50000):
        m = min(50000, n - s)
        v = centres[rng.integers(0, 1000, m)] + 1.0 * rng.standard_normal((m, D)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[s : s + m] = v
    return out


X = data(N)
q = X[rng.choice(N, Q, replace=False)].astype(np.float32) + 0.3 * rng.standard_normal((Q, D)).astype(
    np.float32
) / np.sqrt(D)
q /= np.linalg.norm(q, axis=1, keepdims=True)
# exact
t = time.perf_counter()
sims = np.empty((Q, N), np.float32)
for s in range(0, N, 100000):
    sims[:, s : s + 100000] = q @ X[s : s + 100000].astype(np.float32).T
truth = np.argpartition(-sims, K, axis=1)[:, :K]
del sims
print(f"numpy exact (f16 blocks->f32): {1000 * (time.perf_counter() - t) / Q:.1f} ms/query (batched {Q})")


def recall(ids):
    return np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, truth, strict=False)])


import faiss  # noqa: E402
import usearch.index as ui  # noqa: E402

tmp = tempfile.mkdtemp()
rows = []
for dt in ("f16", "i8"):
    idx = ui.Index(ndim=D, metric="cos", dtype=dt)
    t = time.perf_counter()
    idx.add(np.arange(N), X, threads=2)
    b = time.perf_counter() - t
    p = os.path.join(tmp, f"u{dt}")
    idx.save(p)
    size = os.path.getsize(p)
    for ef in (64, 128, 256):
        idx.expansion_search = ef
        t = time.perf_counter()
        ids = [idx.search(x, K).keys for x in q]
        qt = (time.perf_counter() - t) / Q * 1000
        rows.append((f"usearch HNSW {dt} ef={ef}", b, size / N, recall(ids), qt))
    t = time.perf_counter()
    ids = [idx.search(x, K, exact=True).keys for x in q[:20]]
    qt = (time.perf_counter() - t) / 20 * 1000
    rows.append(
        (
            f"usearch exact {dt}",
            0,
            size / N,
            recall(ids + [truth[i] for i in range(20, Q)]) if False else float("nan"),
            qt,
        )
    )
    del idx
xf = X.astype(np.float32)
for name, make in (
    ("faiss HNSW32 flat", lambda: faiss.IndexHNSWFlat(D, 32, faiss.METRIC_INNER_PRODUCT)),
    (
        "faiss HNSW32 SQfp16",
        lambda: faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT),
    ),
    (
        "faiss HNSW32 SQ8",
        lambda: faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT),
    ),
):
    idx = make()
    t = time.perf_counter()
    if not idx.is_trained:
        idx.train(xf[:50000])
    idx.add(xf)
    b = time.perf_counter() - t
    p = os.path.join(tmp, "f")
    faiss.write_index(idx, p)
    size = os.path.getsize(p)
    for ef in (64, 128, 256):
        idx.hnsw.efSearch = ef
        t = time.perf_counter()
        ids = [idx.search(x[None], K)[1][0] for x in q]
        qt = (time.perf_counter() - t) / Q * 1000
        rows.append((f"{name} ef={ef}", b, size / N, recall(ids), qt))
    del idx
idx = faiss.IndexFlatIP(D)
idx.add(xf)
t = time.perf_counter()
ids = [idx.search(x[None], K)[1][0] for x in q[:20]]
rows.append(("faiss flat f32 (exact)", 0, D * 4, 1.0, (time.perf_counter() - t) / 20 * 1000))
print(f"N={N} D={D} threads(build)=2 queries one at a time")
print("| index | build s | bytes/vector | recall@50 | ms/query k=50 |\n|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {r[1]:.1f} | {r[2]:.0f} | {r[3]:.3f} | {r[4]:.2f} |")
