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
from helpers.search_reference import DIM, METRICS, N, assert_matches, exact, fill, make_data

import vectorstore as vs


@pytest.fixture(scope="module")
def data():
    return make_data()


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


@pytest.mark.parametrize("kept", [True, False], ids=["rows kept", "rows in chunks"])
def test_l2_far_from_the_origin_is_exact(kept, monkeypatch):
    """Rows ~1e4 from the origin and ~1 apart (features nobody centred): exact
    search (a FLAT index), with and without a filter, its rows kept gathered or
    scored a chunk at a time, gives float64's neighbours and distances."""
    from vectorstore import selection

    if not kept:
        monkeypatch.setattr(selection, "SUBSET_MAX_BYTES", 0)  # nothing kept: chunks
        monkeypatch.setattr(selection, "CHUNK_BYTES", 4 * 8 * 300)  # of 300 rows
    n, dim = 3000, 8
    rng = np.random.default_rng(2)
    centre = rng.normal(size=dim)
    centre *= 1e4 / np.linalg.norm(centre)
    data = (centre + rng.normal(size=(n, dim))).astype(np.float32)
    queries = (centre + rng.normal(size=(5, dim))).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=dim, indexes=[vs.Index("vector", "FLAT", "L2")]
    )
    col.insert({"id": np.arange(n), "vector": data, "n": np.arange(n) % 3})
    passing = np.flatnonzero(np.arange(n) % 3 == 0)
    for q in (queries[:1], queries):
        assert_matches(col.search(q, limit=10), np.arange(n), q, data, "L2", 10)
        hits = col.search(q, limit=10, filter="n == 0")
        assert_matches(hits, passing, q, data[passing], "L2", 10)
