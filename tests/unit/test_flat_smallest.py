"""``flat.smallest``, the exact search's top-k, against a full sort.

It bounds the answer by the k-th smallest of per-block minima and sorts only the
values under the bound (``argpartition`` on rows too short for blocks). The
reference sorts the whole row by (value, position): the same positions whatever
the ties, the layout (sorted rows put every candidate in the first blocks) or
the path taken.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorstore.index import flat
from vectorstore.types import Metric

LAYOUTS = ("random", "ascending", "descending", "constant", "few values")


def _row(rng: np.random.Generator, n: int, layout: str) -> np.ndarray:
    if layout == "few values":  # ties everywhere, at the k-th value too
        return rng.integers(0, 4, n).astype(np.float32)
    if layout == "constant":
        return np.full(n, 0.5, dtype=np.float32)
    row = rng.standard_normal(n).astype(np.float32)
    if layout == "ascending":
        row.sort()
    elif layout == "descending":
        row[::-1].sort()
    return row


def _reference(key: np.ndarray, k: int) -> np.ndarray:
    """Each row sorted by (value, position), NaN last: its first k positions."""
    return np.argsort(key, axis=1, kind="stable")[:, : min(k, key.shape[1])]


@settings(max_examples=150, deadline=None)
@given(
    q=st.integers(1, 4),
    n=st.one_of(st.integers(0, 40), st.integers(100, 6000)),
    k=st.one_of(st.integers(0, 12), st.integers(13, 200)),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)
def test_smallest_is_a_full_sorts_first_k(q: int, n: int, k: int, layout: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    key = np.stack([_row(rng, n, layout) for _ in range(q)]) if n else np.empty((q, 0), "f4")
    before = key.copy()
    got = flat.smallest(key, k)
    assert got.dtype == np.int64 or got.dtype == np.intp
    np.testing.assert_array_equal(got, _reference(key, k))
    np.testing.assert_array_equal(key, before)  # the scores are not touched


@settings(max_examples=40, deadline=None)
@given(q=st.integers(1, 3), n=st.integers(1, 3000), k=st.integers(1, 20), seed=st.integers(0, 999))
def test_a_nan_score_sorts_last(q: int, n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    key = rng.standard_normal((q, n)).astype(np.float32)
    key[rng.random((q, n)) < 0.3] = np.nan
    np.testing.assert_array_equal(flat.smallest(key, k), _reference(key, k))


def test_equal_distances_come_back_lowest_row_first() -> None:
    rng = np.random.default_rng(3)
    base = rng.standard_normal((500, 16)).astype(np.float32)
    vectors = np.repeat(base, 4, axis=0)  # every vector four times: rows 4i .. 4i+3 tie
    queries = rng.standard_normal((3, 16)).astype(np.float32)
    for metric in (Metric.L2, Metric.IP):
        for q in (queries[:1], queries):
            rows, dist = flat.top_k(q, vectors, 10, metric)
            # each query's best two base vectors, their four copies in row order
            best = rows[:, ::4] // 4
            np.testing.assert_array_equal(
                rows, (best[:, :, None] * 4 + np.arange(4)).reshape(-1, 12)[:, :10]
            )
            assert (np.diff(dist, axis=1)[:, [0, 1, 2, 4, 5, 6, 8]] == 0).all()


def test_a_numpy_integer_k_is_an_int() -> None:
    """k read from an array (np.int64) selects as the same int does, on rows long
    enough for the block minima (n >= 64 k)."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((2000, 8)).astype(np.float32)
    for q in (1, 3):
        queries = rng.standard_normal((q, 8)).astype(np.float32)
        want = flat.top_k(queries, vectors, 10, Metric.L2)
        got = flat.top_k(queries, vectors, np.int64(10), Metric.L2)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        key = rng.standard_normal((q, 2000)).astype(np.float32)
        np.testing.assert_array_equal(flat.smallest(key, np.int64(10)), _reference(key, 10))


@settings(max_examples=60, deadline=None)
@given(
    metric=st.sampled_from([Metric.L2, Metric.IP, Metric.COSINE]),
    n=st.integers(1, 3000),
    q=st.integers(1, 5),
    dim=st.sampled_from([3, 4, 24]),  # 3: rows of 16 bytes (see ip_rows)
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 999),
)
@example(metric=Metric.L2, n=4, q=1, dim=3, scale=1.0, seed=0)
def test_the_inner_product_forms_rank_as_their_metric(
    metric: Metric, n: int, q: int, dim: int, scale: float, seed: int
) -> None:
    """A selection keeps ``ip_rows`` and scores them with ``ip_queries`` (L2 from
    a centre of its rows): the same neighbours and distances as ``top_k`` under the
    metric itself, wherever the rows are."""
    rng = np.random.default_rng(seed)
    offset = rng.standard_normal(dim) * 100  # (rows off the origin too)
    vectors = ((rng.standard_normal((n, dim)) + offset) * scale).astype(np.float32)
    queries = ((rng.standard_normal((q, dim)) + offset) * scale).astype(np.float32)
    want_rows, want = flat.top_k(queries, vectors, 10, metric)
    c = flat.centre_of(vectors[:: max(1, n // 7)])  # (any point near the rows)
    ip = flat.ip_queries(queries, metric, c)
    rows, score = flat.top_k(ip, flat.ip_rows(vectors.copy(), metric, c), 10, Metric.IP)
    got = flat.ip_distances(ip, score, metric)
    assert got.dtype == np.float32 and got.shape == want.shape
    tol = 1e-5 * max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=tol)
    # any rows that differ are ties within rounding: their exact distances match too
    exact = flat.scores(queries.astype(np.float64), vectors.astype(np.float64), metric)
    np.testing.assert_allclose(
        np.take_along_axis(exact, rows, 1),
        np.take_along_axis(exact, want_rows, 1),
        rtol=1e-5,
        atol=tol,
    )


@pytest.mark.parametrize("form", ["top_k", "ip_rows"])
def test_l2_neighbours_of_vectors_far_from_the_origin(form: str) -> None:
    """Vectors ~1e4 from the origin and ~1 apart: the exact search's L2 neighbours
    are float64's. (Measured from the origin, |v|^2 ~ 1e8 holds the distances ~1
    below float32's rounding: recall@10 was 0.0 here.)"""
    rng = np.random.default_rng(1)
    centre = rng.standard_normal(4)
    centre *= 1e4 / np.linalg.norm(centre)
    vectors = (centre + rng.standard_normal((2000, 4))).astype(np.float32)
    queries = (centre + rng.standard_normal((4, 4))).astype(np.float32)
    diff = queries[:, None, :].astype(np.float64) - vectors[None, :, :].astype(np.float64)
    truth = np.argsort((diff**2).sum(-1), axis=1)[:, :10]
    if form == "top_k":
        rows, _ = flat.top_k(queries, vectors, 10, Metric.L2)
    else:  # as a selection keeps and scores its rows
        c = flat.centre_of(vectors)
        ip = flat.ip_queries(queries, Metric.L2, c)
        rows, _ = flat.top_k(ip, flat.ip_rows(vectors, Metric.L2, c), 10, Metric.IP)
    found = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth, strict=True)])
    assert found >= 0.95, found


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 60), q=st.integers(1, 3), seed=st.integers(0, 999))
def test_l2_distances_of_small_integers_are_exact(n: int, q: int, seed: int) -> None:
    """Rows of small integers get a centre on their power-of-two grid (``centre_of``),
    so every L2 distance comes out exactly, as it did from the origin; a centre at
    their mean (2/3 along an axis here) made 1.0 come out 0.99999988."""
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-3, 4, size=(n, 4)).astype(np.float32)
    queries = rng.integers(-3, 4, size=(q, 4)).astype(np.float32)
    for rows_in, qs in (
        (vectors, queries),
        (np.float32([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 2]]), np.float32([[0, 0, 0, 1]])),
    ):
        rows, dist = flat.top_k(qs, rows_in, len(rows_in), Metric.L2)
        want = ((qs[:, None, :].astype(np.float64) - rows_in[rows].astype(np.float64)) ** 2).sum(-1)
        np.testing.assert_array_equal(dist, want)


def test_rows_around_the_origin_are_measured_from_it() -> None:
    """Centred rows (most embeddings) get the origin as their centre: their L2
    distances are computed exactly as before there was one."""
    rng = np.random.default_rng(8)
    rows = (rng.standard_normal((3000, 16)) * 0.05).astype(np.float32)
    assert not flat.centre_of(rows).any()
    far = (rows + np.float32(1e4)).astype(np.float32)
    assert np.abs(flat.centre_of(far) - 1e4).max() <= 0.05
