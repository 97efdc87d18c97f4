"""Seeded benchmark data, cached under benchmarks/out/ (never committed)."""

from __future__ import annotations

import os
import zlib

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def gaussian_mixture(
    n: int = 100_000, dim: int = 128, n_queries: int = 1000, clusters: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` base vectors and ``n_queries`` queries from one Gaussian mixture (float32).

    Cluster centres are spread with unit variance; points add noise of scale 0.5,
    so neighbourhoods are local but not trivial. Cached as .npy by parameters.
    """
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"gmm_{n}_{dim}_{n_queries}_{clusters}_{seed}.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return f["base"], f["queries"]
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        which = rng.integers(0, clusters, count)
        return (centres[which] + 0.5 * rng.standard_normal((count, dim))).astype(np.float32)

    base, queries = draw(n), draw(n_queries)
    np.savez(path, base=base, queries=queries)
    return base, queries


def ground_truth(base: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Exact top-k row indices (numpy, blocked), cached next to the data."""
    tag = zlib.crc32(base[:4].tobytes())
    key = f"gt_{len(base)}_{base.shape[1]}_{len(queries)}_{k}_{metric}_{tag}.npy"
    path = os.path.join(OUT, key)
    if os.path.exists(path):
        return np.load(path)
    b, q = base, queries
    if metric == "COSINE":
        b = b / np.linalg.norm(b, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), 100):
        block = q[s : s + 100]
        if metric == "L2":
            d = (block**2).sum(1)[:, None] - 2 * block @ b.T + (b**2).sum(1)[None, :]
        else:
            d = -(block @ b.T)
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
        out[s : s + 100] = np.take_along_axis(part, order, axis=1)
    np.save(path, out)
    return out


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean recall@k of ``found`` ids against ``truth`` ids (same shape)."""
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size
