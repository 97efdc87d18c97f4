"""Search against a brute-force numpy reference, with Milvus's conventions.

COSINE and IP report the similarity (larger is closer); L2 reports the squared
Euclidean distance (smaller is closer). Reference distances are computed in
float64; the data is seeded random, so there are no ties and ids must match.

Here: the embedded engine's segments and HNSW graphs. The backend-agnostic
search tests are in ``tests/conformance/test_backend_search.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import vectorstore as vs

METRICS = ["L2", "IP", "COSINE"]
DIM = 8
N = 400


def exact(
    queries: np.ndarray, data: np.ndarray, metric: str, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers and distances of the k nearest rows, best first (float64)."""
    q = np.asarray(queries, dtype=np.float64)
    x = np.asarray(data, dtype=np.float64)
    if metric == "L2":
        d = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        order = np.argsort(d, axis=1, kind="stable")
    else:
        if metric == "COSINE":
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = q @ x.T
        order = np.argsort(-d, axis=1, kind="stable")
    order = order[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def assert_matches(hits, ids: np.ndarray, queries, data, metric, k, offset=0):
    """hits (one list per query) are exactly the reference's best k after offset."""
    order, dist = exact(queries, data, metric, k + offset)
    assert len(hits) == len(queries)
    for row, got in enumerate(hits):
        want = order[row, offset:]
        assert [h.id for h in got] == ids[want].tolist()
        np.testing.assert_allclose(
            [h.distance for h in got], dist[row, offset:], rtol=1e-4, atol=1e-4
        )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(12, DIM)).astype(np.float32)
    return vectors, queries


def fill(col, vectors, start=0, batch=97, partition="_default", **extra):
    for s in range(0, len(vectors), batch):
        rows = [
            {"id": start + i, "vector": vectors[i].tolist(), "n": start + i, **extra}
            for i in range(s, min(s + batch, len(vectors)))
        ]
        col.insert(rows, partition=partition)


# ------------------------------------------------------- exact vs reference
# ----------------------------------------------------------- limit / offset
# ------------------------------------------------------------ output fields
# -------------------------------------------------------------- partitions
# --------------------------------------------------------------- deletes
@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(11)
    return rng.normal(size=(20_000, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(
        np.float32
    )


@pytest.mark.parametrize("metric", ["L2", "COSINE"])
def test_deleting_most_rows_of_an_hnsw_segment(stores, big, metric):
    """Over 8,000 live rows the HNSW graph answers; tombstones must hide deleted rows."""
    vectors, queries = big
    db = stores.connect()
    col = db.create_collection(
        "c", dimension=8, indexes=[vs.Index("vector", "HNSW", metric, M=8, ef_construction=40)]
    )
    n = len(vectors)
    col.insert([{"id": i, "vector": vectors[i]} for i in range(n)])
    col.flush()
    rng = np.random.default_rng(3)
    dead = rng.choice(n, size=11_000, replace=False)
    # Also delete every query's current nearest neighbours, so the graph must route round them.
    near = {h.id for row in col.search(queries, limit=20) for h in row}
    dead = np.union1d(dead, list(near))
    col.delete(ids=dead.tolist())
    live = np.setdiff1d(np.arange(n), dead)
    assert col.count() == len(live) > 8_000
    dead_set = set(dead.tolist())
    for params in (None, {"ef": 10}, {"ef": 200}):
        hits = col.search(queries, limit=10, search_params=params)
        assert all(len(row) == 10 for row in hits)
        assert not {h.id for row in hits for h in row} & dead_set
    order, _ = exact(queries, vectors[live], metric, 10)
    hits = col.search(queries, limit=10, search_params={"ef": 200})
    recall = np.mean(
        [
            len({h.id for h in row} & set(live[o].tolist())) / 10
            for row, o in zip(hits, order, strict=True)
        ]
    )
    assert recall >= 0.9
    db = stores.reopen(db)
    col = db.get_collection("c")
    hits = col.search(queries, limit=10)
    assert not {h.id for row in hits for h in row} & dead_set
    # Down to a handful of live rows: every one of them, none of the dead.
    col.delete(ids=live[:-7].tolist())
    hits = col.search(queries, limit=10)
    assert all(sorted(h.id for h in row) == sorted(live[-7:].tolist()) for row in hits)


# ---------------------------------------------------------- multi-segment
@pytest.mark.parametrize("metric", METRICS)
def test_many_segments_equal_one(stores, data, metric):
    vectors, queries = data
    small = stores.connect(segment_rows=50)
    col = small.create_collection("c", dimension=DIM, metric=metric, partitions=["p"])
    fill(col, vectors[:300], batch=37)
    fill(col, vectors[300:], start=300, batch=13, partition="p")
    assert col.stats()["segments"] >= N // 50
    ids = np.arange(N)
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, metric, 10)
    assert_matches(col.search(queries, limit=7, offset=33), ids, queries, vectors, metric, 7, 33)
    dead = list(range(0, N, 2))
    col.delete(ids=dead)
    keep = np.arange(1, N, 2)
    assert_matches(col.search(queries, limit=10), keep, queries, vectors[keep], metric, 10)
    small = stores.reopen(small)
    col = small.get_collection("c")
    assert_matches(col.search(queries, limit=10), keep, queries, vectors[keep], metric, 10)
    assert_matches(
        col.search(queries, limit=5, partitions=["p"]),
        keep[keep >= 300],
        queries,
        vectors[keep[keep >= 300]],
        metric,
        5,
    )


# ------------------------------------------------------------ search params
# ----------------------------------------------------- index switching
# ------------------------------------------------------------- filtered
