"""Open + one query of a 100k-vector HNSW graph: usearch restore(view=True) vs faiss read_index."""

import os
import tempfile
import time

import numpy as np

N = 100000
D = 768
rng = np.random.default_rng(0)
X = rng.standard_normal((N, D)).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
import faiss  # noqa: E402
import usearch.index as ui  # noqa: E402

tmp = tempfile.mkdtemp()
u = ui.Index(ndim=D, metric="cos", dtype="f16")
u.add(np.arange(N), X, threads=2)
u.save(tmp + "/u")
del u
f = faiss.IndexHNSWSQ(D, faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT)
f.train(X[:10000])
f.add(X)
faiss.write_index(f, tmp + "/f")
del f
q = X[0]
os.system("sync")
t = time.perf_counter()
u = ui.Index.restore(tmp + "/u", view=True)
r = u.search(q, 50)
print(f"usearch open(view=True)+1 query: {1000 * (time.perf_counter() - t):.1f} ms")
t = time.perf_counter()
f = faiss.read_index(tmp + "/f")
r = f.search(q[None], 50)
print(f"faiss read_index+1 query: {1000 * (time.perf_counter() - t):.1f} ms")
