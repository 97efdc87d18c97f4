"""``HnswIndex.search`` against hnswlib itself: a beam per search, no shared ef.

hnswlib keeps one ``ef`` per index and walks a beam of ``max(ef, K)`` for K
results. ``HnswIndex`` leaves the index's ``ef`` at 1 and asks for
``max(ef, k)`` results, keeping the best k. The reference is the plain hnswlib
call on the same graph (``set_ef(ef)``, then k results): the same labels and the
same distances (Milvus's: ``1 - d`` for IP and COSINE), whatever ef each of
several threads asks for at once.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers.search_reference import exact

import vectorstore as vs
from vectorstore.index.hnsw import HnswIndex, IncompleteSearchError
from vectorstore.types import Metric

METRICS = [Metric.L2, Metric.IP, Metric.COSINE]


def graph(metric: Metric, n: int = 3000, dim: int = 16) -> tuple[HnswIndex, np.ndarray]:
    rng = np.random.default_rng(int(metric is Metric.IP) + 2 * int(metric is Metric.COSINE))
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    index = HnswIndex(dim, metric, M=8, ef_construction=40, capacity=n)
    index.add(vectors, np.arange(n, dtype=np.int64))
    index.mark_deleted(np.arange(0, n, 7, dtype=np.int64))  # deleted rows are walked, not found
    queries = rng.standard_normal((7, dim)).astype(np.float32)
    return index, queries


def reference(index: HnswIndex, queries: np.ndarray, k: int, ef: int) -> tuple[np.ndarray, ...]:
    """hnswlib as its users call it, on the same graph; its ef put back after."""
    raw = index._index
    raw.set_ef(max(ef, k))
    try:
        labels, dist = raw.knn_query(queries, k=k)
    finally:
        raw.set_ef(1)
    if index.metric is not Metric.L2:
        dist = np.float32(1) - dist
    return labels.astype(np.int64), dist


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("k", "ef"), [(1, 1), (5, 3), (10, 10), (10, 64), (3, 200), (50, 60)])
def test_a_search_is_hnswlibs_at_the_same_ef(metric: Metric, k: int, ef: int) -> None:
    index, queries = graph(metric)
    for q in (queries[:1], queries):  # one query (one thread) and a batch
        labels, dist = index.search(q, k, ef)
        want_labels, want_dist = reference(index, q, k, ef)
        assert labels.shape == (len(q), k) and labels.dtype == np.int64
        assert np.array_equal(labels, want_labels)
        assert np.array_equal(dist, want_dist)  # bit for bit: the same float32 arithmetic
        assert not np.isin(labels, np.arange(0, 3000, 7)).any()


def test_searches_with_different_ef_at_once_each_get_their_own_beam() -> None:
    index, queries = graph(Metric.COSINE)
    efs = [10, 40, 160, 400]
    expected = {ef: reference(index, queries, 10, ef) for ef in efs}
    failures: list[str] = []
    start = threading.Barrier(len(efs))

    def worker(ef: int) -> None:
        start.wait()
        for _ in range(200):
            for q in range(len(queries)):
                labels, _ = index.search(queries[q : q + 1], 10, ef)
                if not np.array_equal(labels[0], expected[ef][0][q]):
                    failures.append(f"ef {ef}, query {q}")
                    return

    threads = [threading.Thread(target=worker, args=(ef,)) for ef in efs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    # The beams really differ: a narrow one misses neighbours a wide one finds.
    assert not all(np.array_equal(expected[10][0], expected[ef][0]) for ef in efs[1:])


def test_a_beam_wider_than_the_live_rows_is_incomplete_not_wrong() -> None:
    index, queries = graph(Metric.L2, n=300)
    with pytest.raises(IncompleteSearchError):
        index.search(queries, 5, 1000)  # 1,000 results asked of 257 live rows


def test_a_collection_searched_with_an_ef_past_its_rows_answers_exactly() -> None:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((2500, 8)).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=8, indexes=[vs.Index("vector", "HNSW", "L2", M=8, ef_construction=40)]
    )
    col.insert({"id": np.arange(2500), "vector": vectors})
    col.delete(ids=list(range(0, 2500, 3)))
    live = np.setdiff1d(np.arange(2500), np.arange(0, 2500, 3))
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    hits = col.search(queries, limit=10, search_params={"ef": 5000})  # more than 1,666 live
    rows, _ = exact(queries, vectors[live], "L2", 10)  # numpy brute force
    assert [[h.id for h in got] for got in hits] == live[rows].tolist()
