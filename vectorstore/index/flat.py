"""Exact search: pure numpy functions, the reference every index is checked against.

Distances follow Milvus: COSINE and IP report the similarity (larger is closer),
L2 reports the squared Euclidean distance (smaller is closer).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..types import Metric
from .blas import one_thread

# Bound the (queries x rows) score matrix to about 64 MB per block.
_BLOCK_FLOATS = 16 * 1024 * 1024
# Products of up to 4 queries with up to 8M floats of rows (32 MB, a few ms) run on
# one BLAS thread: see blas.py. (hnswlib also searches up to 4 queries on one thread.)
_ONE_THREAD_QUERIES = 4
_ONE_THREAD_FLOATS = 8 * 1024 * 1024


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). Returns a new array."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]  # linalg.norm's cost
    out: np.ndarray = vectors / np.maximum(norms, np.float32(1e-30))
    return out


def scores(queries: np.ndarray, vectors: np.ndarray, metric: Metric) -> np.ndarray:
    """The (q, n) matrix of Milvus distances between queries and vectors."""
    if metric is Metric.L2:
        q2 = np.einsum("ij,ij->i", queries, queries)[:, None]
        v2 = np.einsum("ij,ij->i", vectors, vectors)[None, :]
        d: np.ndarray = q2 + v2 - 2.0 * _product(queries, vectors)
        np.maximum(d, 0.0, out=d)
        return d
    if metric is Metric.COSINE:
        queries, vectors = normalize(queries), normalize(vectors)
    return _product(queries, vectors)


def _product(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T``; a small one on one BLAS thread."""
    if queries.shape[0] <= _ONE_THREAD_QUERIES and vectors.size <= _ONE_THREAD_FLOATS:
        with one_thread():
            small: np.ndarray = queries @ vectors.T
        return small
    s: np.ndarray = queries @ vectors.T
    return s


def top_k(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    metric: Metric,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest rows of ``vectors`` for each query.

    Args:
        queries: float32 (q, d).
        vectors: float32 (n, d).
        k: neighbours wanted; fewer come back when n < k.
        metric: the metric.

    Returns:
        ``(rows, distances)``, each (q, min(k, n)), best first; ``rows`` index
        into ``vectors``.
    """
    n = vectors.shape[0]
    k = min(k, n)
    q = queries.shape[0]
    if k == 0 or q == 0:
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    sign = 1.0 if metric is Metric.L2 else -1.0
    if q == 1:  # one query: 1-D operations, no take_along_axis
        key = scores(queries, vectors, metric)[0]
        if sign < 0:
            np.negative(key, out=key)
        part = np.argpartition(key, k - 1)[:k] if k < n else np.arange(n)
        best = part[np.argsort(key[part], kind="stable")]
        return best[None, :].astype(np.int64, copy=False), (sign * key[best])[None, :]
    rows_out = np.empty((q, k), dtype=np.int64)
    dist_out = np.empty((q, k), dtype=np.float32)
    step = max(1, _BLOCK_FLOATS // max(n, 1))
    for start in range(0, q, step):
        block = scores(queries[start : start + step], vectors, metric)
        if sign < 0:
            np.negative(block, out=block)
        if k < n:
            part = np.argpartition(block, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(n), block.shape).copy()
        vals = np.take_along_axis(block, part, axis=1)
        order = np.argsort(vals, axis=1, kind="stable")
        rows_out[start : start + step] = np.take_along_axis(part, order, axis=1)
        dist_out[start : start + step] = sign * np.take_along_axis(vals, order, axis=1)
    return rows_out, dist_out


def top_k_chunked(
    queries: np.ndarray, chunks: Iterable[np.ndarray], k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """``top_k`` over the rows of ``chunks`` taken in order as one array, with
    one chunk in memory at a time: each chunk's best ``k`` are kept and the best
    ``k`` of those win. ``rows`` index into the chunks' concatenation."""
    found_rows, found_dist, start = [], [], 0
    for vectors in chunks:
        rows, dist = top_k(queries, vectors, k, metric)
        found_rows.append(rows + start)
        found_dist.append(dist)
        start += len(vectors)
    if not found_rows:
        q = queries.shape[0]
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    rows, dist = np.concatenate(found_rows, axis=1), np.concatenate(found_dist, axis=1)
    order = np.argsort(dist if metric is Metric.L2 else -dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(rows, order, axis=1), np.take_along_axis(dist, order, axis=1)
