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
# ``smallest`` sorts up to this many scores whole: faster than selecting there, and
# slower past it (a stable sort of 1,000 scores took 12-48 us, by their order).
SORT_WHOLE = 128
CENTRE_SAMPLE = 1024  # rows sampled for an L2 centre (ip_rows)
_QUARTER = np.array(0.25, dtype=np.float32)  # a 0-d array: numpy's cheapest operand


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero). Returns a new array."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]  # linalg.norm's cost
    out: np.ndarray = vectors / np.maximum(norms, np.float32(1e-30))
    return out


def scores(queries: np.ndarray, vectors: np.ndarray, metric: Metric) -> np.ndarray:
    """The (q, n) matrix of Milvus distances between queries and vectors."""
    if metric is Metric.L2:  # as a selection scores its rows (ip_rows), from their centre
        c = centre_of(vectors)
        ip = ip_queries(queries, metric, c)
        return ip_distances(ip, _product(ip, ip_rows(vectors, metric, c)), metric)
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


def centre_of(vectors: np.ndarray) -> np.ndarray:
    """A point near ``vectors`` (n, d) for the L2 forms to measure from: the mean
    of up to ~1,000 of the rows (evenly spaced), each coordinate rounded to a power
    of two no larger than the rows' spread along it (zeros for no rows).

    Rounded, so that what was exact stays exact: rows around the origin (most
    embeddings) get the origin itself, and rows of small integers an integer point
    (their distances then come out exactly, as from the origin); rows far off get
    a point within about their spread of them, which is all the precision needs.
    """
    dtype = np.result_type(vectors.dtype, np.float32)
    if not len(vectors):
        return np.zeros(vectors.shape[1], dtype=dtype)
    sample = vectors[:: max(1, len(vectors) // CENTRE_SAMPLE)].astype(np.float64)
    mean, spread = sample.mean(axis=0), sample.std(axis=0)
    with np.errstate(divide="ignore"):
        grid = np.exp2(np.floor(np.log2(spread)))  # 0 where every row agrees
    safe = np.where(grid > 0, grid, 1.0)
    found: np.ndarray = np.where(grid > 0, np.round(mean / safe) * safe, mean).astype(dtype)
    return found


def ip_rows(vectors: np.ndarray, metric: Metric, centre: np.ndarray | None = None) -> np.ndarray:
    """Rows an inner product ranks as ``metric`` does (``ip_queries``): COSINE
    normalised (in place: pass a copy), IP as they are, and L2 measured from
    ``centre`` (required for L2: ``centre_of`` the rows) with their squared norm
    appended: ``[v - c, -|v - c|^2]``, whose product with ``ip_queries`` is
    |q - c|^2 minus the distance. A selection keeps its rows this way, so its L2
    norms are not summed again on every search.

    The centre is what keeps L2 exact: float32 holds |v|^2 to ~7 digits, so rows
    1e4 from the origin and 1 apart lose their distances to rounding when measured
    from the origin (recall@10 0.0 on such data); from a point near them (``centre_of``)
    they keep them.
    """
    if metric is Metric.COSINE:
        # norms of these rows only: a cache of the whole segment's norms cost a
        # temporary of every vector (512 MB at 1M x 128) the first time it filled
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1), np.float32(1e-30))[:, None]
        return vectors
    if metric is Metric.L2:
        assert centre is not None, "L2 measures from the rows' centre (centre_of)"
        dtype = np.result_type(vectors.dtype, np.float32)
        out = np.empty((vectors.shape[0], vectors.shape[1] + 1), dtype=dtype)
        rows = out[:, :-1]
        # (into the strided rows from another array: right at every width tried, 1-69)
        np.subtract(vectors, centre, out=rows)
        # Assigned, not a ufunc's out=: numpy 2.4.6's in-place negative of this strided
        # column (input and output the same view) gave wrong values for 3-d rows.
        out[:, -1] = -np.einsum("ij,ij->i", rows, rows)
        return out
    return vectors


def ip_queries(queries: np.ndarray, metric: Metric, centre: np.ndarray | None = None) -> np.ndarray:
    """The queries to score ``ip_rows`` with: normalised, as they are, or for L2
    ``[2 (q - c), 1]`` (``centre``: the rows' own, required)."""
    if metric is Metric.COSINE:
        return normalize(queries)
    if metric is Metric.L2:
        assert centre is not None, "L2 measures from the rows' centre (centre_of)"
        dtype = np.result_type(queries.dtype, np.float32)
        out = np.ones((queries.shape[0], queries.shape[1] + 1), dtype=dtype)
        out[:, :-1] = (queries - centre) * dtype.type(2.0)
        return out
    return queries


def ip_distances(ip: np.ndarray, scores: np.ndarray, metric: Metric) -> np.ndarray:
    """Milvus distances from the ``scores`` of the queries ``ip`` (``ip_queries``)
    on ``ip_rows``. For L2, |q - c|^2 is read from ``ip`` itself: a quarter of
    |2 (q - c)|^2, exact (powers of two scale without rounding)."""
    if metric is not Metric.L2:
        return scores
    half = ip[:, :-1]
    sq = np.einsum("ij,ij->i", half, half)[:, None] * _QUARTER
    dist: np.ndarray = np.maximum(sq - scores, np.float32(0.0))
    return dist


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
    k = int(min(k, n))  # (a numpy integer has no bit_length: _block_width)
    q = queries.shape[0]
    if k == 0 or q == 0:
        return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
    sign = 1.0 if metric is Metric.L2 else -1.0
    if q == 1:  # one query: 1-D operations, no take_along_axis
        row = scores(queries, vectors, metric)[0]
        if sign < 0:
            np.negative(row, out=row)
        best = _smallest_row(row, k)
        return best[None, :], (sign * row[best])[None, :]
    rows_out = np.empty((q, k), dtype=np.int64)
    dist_out = np.empty((q, k), dtype=np.float32)
    step = max(1, _BLOCK_FLOATS // max(n, 1))
    for start in range(0, q, step):
        key = scores(queries[start : start + step], vectors, metric)
        if sign < 0:
            np.negative(key, out=key)
        best = smallest(key, k)
        rows_out[start : start + step] = best
        dist_out[start : start + step] = sign * np.take_along_axis(key, best, axis=1)
    return rows_out, dist_out


def smallest(key: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``key`` (q, n), the positions of its ``k`` smallest values,
    smallest first, equal values by position (NaN last): int64 (q, min(k, n)).

    ``np.argpartition`` costs ~13 ns a value here, more than the product that
    made the scores. So each row gets a ``bound`` no smaller than its k-th
    smallest value (``_bound``), and only the values <= bound, about k of them,
    are sorted: every value tied with the k-th is among them, so ties break by
    position. Up to ``SORT_WHOLE`` values in all are sorted whole, which is
    faster there.
    """
    q, n = key.shape
    k = int(min(k, n))  # (a numpy integer has no bit_length: _block_width)
    if q == 1:
        return _smallest_row(key[0], k)[None, :]
    if q * n <= SORT_WHOLE or k <= 0:
        return np.argsort(key, axis=1, kind="stable")[:, :k]
    rows, cols = np.nonzero(key <= _bound(key, k))  # row by row, positions ascending
    counts = np.bincount(rows, minlength=q)
    if counts.min() < k:  # a NaN score: sorted last, as argsort does
        return np.argsort(key, axis=1, kind="stable")[:, :k]
    order = np.lexsort((key[rows, cols], rows))  # stable: equal values keep position order
    first = np.cumsum(counts) - counts  # where each row's candidates begin
    best: np.ndarray = cols[order[(first[:, None] + np.arange(k)).ravel()]]
    return best.reshape(q, k)


def _smallest_row(row: np.ndarray, k: int) -> np.ndarray:
    """``smallest`` of one row (n,): positions (k,). (The single query's path:
    1-D steps, fewer calls.)"""
    if row.shape[0] <= SORT_WHOLE or k <= 0:
        return np.argsort(row, kind="stable")[:k]
    found = np.flatnonzero(row <= _bound(row[None, :], k)[0, 0])
    if len(found) < k:  # a NaN score: sorted last, as argsort does
        return np.argsort(row, kind="stable")[:k]
    return found[np.argsort(row[found], kind="stable")[:k]]


def _bound(key: np.ndarray, k: int) -> np.ndarray:
    """Per row of ``key`` (q, n), a value with at least ``k`` of the row's values
    <= it, (q, 1): the k-th smallest of the row's block minima (k blocks each hold
    a value under it), a pass of ``min`` over the row that is 5-10x faster than
    argpartition from ~10k values and on a par at 1k. Rows too short for 4k
    blocks of 16 give their own k-th smallest value."""
    q, n = key.shape
    width = _block_width(n, k)
    if width:
        full = n - n % width
        key = key[:, :full].reshape(q, full // width, width).min(axis=2)
    bound: np.ndarray = np.partition(key, k - 1, axis=1)[:, k - 1 : k]
    return bound


def _block_width(n: int, k: int) -> int:
    """The block width for ``_bound``: a power of two from 16 to 1,024 leaving at
    least 4k blocks in a row of ``n`` (more blocks than the k needed keeps the
    values under the bound near k); 0 if the row is too short for 16."""
    width = n // (4 * k)
    if width < 16:
        return 0
    return min(1 << (width.bit_length() - 1), 1024)


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
