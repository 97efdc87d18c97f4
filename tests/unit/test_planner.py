"""The search planner and the per-segment selection cache."""

from __future__ import annotations

import numpy as np
import pytest

import vectorstore as vs
from vectorstore import planner
from vectorstore import segment as segment_module
from vectorstore.index import flat
from vectorstore.planner import Strategy


def test_planner_picks_exact_for_few_rows_and_graph_for_many() -> None:
    choose = planner.choose
    assert choose(has_index=False, num_rows=10**6, num_allowed=10**6, k=10) is Strategy.EXACT
    assert choose(has_index=True, num_rows=100_000, num_allowed=100, k=10) is Strategy.EXACT
    assert choose(has_index=True, num_rows=100_000, num_allowed=100_000, k=10) is Strategy.HNSW
    assert (
        choose(has_index=True, num_rows=100_000, num_allowed=50_000, k=10)
        is Strategy.HNSW_OVERSAMPLE
    )
    # k above the exact limit still searches exactly when everything passes cheaply
    assert choose(has_index=True, num_rows=3000, num_allowed=2500, k=3000) is Strategy.EXACT


def test_exact_limit_grows_with_sqrt_rows_and_with_a_cached_subset() -> None:
    small, big = planner.exact_limit(100_000), planner.exact_limit(10_000_000)
    assert big == pytest.approx(small * 10, rel=0.01)
    assert planner.exact_limit(100_000, cached=True) == small * planner.CACHED_FACTOR
    rows, allowed = 100_000, 10_000
    assert planner.choose(has_index=True, num_rows=rows, num_allowed=allowed, k=10) is (
        Strategy.HNSW_OVERSAMPLE
    )
    assert (
        planner.choose(has_index=True, num_rows=rows, num_allowed=allowed, k=10, cached=True)
        is Strategy.EXACT
    )


def test_oversampled_k_asks_for_twice_the_expected_survivors() -> None:
    assert planner.oversampled_k(10, 100_000, 50_000) == 50
    assert planner.oversampled_k(10, 1000, 1) == 1000  # capped at the segment


def test_single_query_top_k_matches_the_batched_path() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 8)).astype(np.float32)
    queries = rng.normal(size=(3, 8)).astype(np.float32)
    for metric in vs.Metric:
        rows, dist = flat.top_k(queries, vectors, 7, metric)
        for i in range(3):
            r1, d1 = flat.top_k(queries[i : i + 1], vectors, 7, metric)
            assert r1[0].tolist() == rows[i].tolist()
            np.testing.assert_allclose(d1[0], dist[i], rtol=1e-5, atol=1e-5)


def _collection(n: int = 300) -> tuple[vs.Collection, np.ndarray]:
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    col = vs.connect(":memory:").create_collection("c", dimension=8)
    col.insert([{"id": i, "vector": vectors[i], "n": i % 10, "flag": i % 2 == 0} for i in range(n)])
    return col, vectors


def test_cached_selection_follows_inserts_and_deletes() -> None:
    col, vectors = _collection()
    q = vectors[:1]
    before = [h.id for h in col.search(q, limit=300, filter="n == 3")[0]]
    assert sorted(before) == [i for i in range(300) if i % 10 == 3]
    col.delete(ids=[3, 13])
    after = [h.id for h in col.search(q, limit=300, filter="n == 3")[0]]
    assert sorted(after) == [i for i in range(300) if i % 10 == 3 and i not in (3, 13)]
    col.insert([{"id": 1000, "vector": vectors[0], "n": 3}])
    assert col.search(q, limit=1, filter="n == 3")[0][0].id == 1000
    assert col.count(filter="n == 3") == len(after) + 1


def test_filters_differing_only_in_literal_type_never_share_a_cache_entry() -> None:
    col = vs.connect(":memory:").create_collection("c", dimension=2)
    col.insert(
        [
            {"id": 1, "vector": [1, 0], "v": True},
            {"id": 2, "vector": [0, 1], "v": 1},
            {"id": 3, "vector": [1, 1], "v": 1.5},
        ]
    )
    assert [r["id"] for r in col.query("v == true")] == [1]
    assert [r["id"] for r in col.query("v == 1")] == [2]
    assert col.count(filter="v in [true]") == 1
    assert col.count(filter="v in [1]") == 1


def test_gathered_vectors_stay_within_the_segment_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    col, _ = _collection(2000)
    seg = col._state.partitions["_default"][0]
    one = 200 * 8 * 4  # a "n == k" selection: 200 rows of 8 float32
    monkeypatch.setattr(segment_module, "SUBSET_BUDGET_BYTES", 2 * one)
    q = np.ones((1, 8), dtype=np.float32)
    for k in range(10):
        col.search(q, limit=5, filter=f"n == {k}")
        assert seg._subset_bytes <= 2 * one
        assert seg._subset_bytes == sum(s.cached_bytes for s in seg._selections.values())
    # Results stay right whichever selections kept their vectors.
    hits = col.search(q, limit=200, filter="n == 0")[0]
    assert sorted(h.id for h in hits) == list(range(0, 2000, 10))


def test_short_oversampling_falls_back_to_the_filter_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With oversampling forced far too small, the callback path must still give the
    exact filtered answer (and is the one that ran)."""
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(6000, 8)).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=8, indexes=[vs.Index("vector", "HNSW", "L2", M=16, ef_construction=200)]
    )
    col.insert([{"id": i, "vector": vectors[i], "n": i % 4} for i in range(6000)])
    monkeypatch.setattr(planner, "EXACT_MIN_ROWS", 10)
    monkeypatch.setattr(planner, "EXACT_PER_SQRT_ROWS", 0)
    monkeypatch.setattr(planner, "OVERSAMPLE_FACTOR", 0.0)
    monkeypatch.setattr(planner, "OVERSAMPLE_MARGIN", 1)
    index = col._state.partitions["_default"][0].indexes["vector"]
    calls = []
    real_search = index.search

    def spy(queries, k, ef, filter_fn=None):  # type: ignore[no-untyped-def]
        calls.append(filter_fn is not None)
        return real_search(queries, k, ef, filter_fn)

    monkeypatch.setattr(index, "search", spy)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    hits = col.search(queries, limit=10, filter="n == 1", search_params={"ef": 400})
    assert calls == [False, True]  # oversampled first, then the callback
    passing = np.flatnonzero(np.arange(6000) % 4 == 1)
    rows, _ = flat.top_k(queries, vectors[passing], 10, vs.Metric.L2)
    for got, want in zip(hits, rows, strict=True):
        assert all(h.id % 4 == 1 for h in got)
        assert len({h.id for h in got} & set(passing[want].tolist())) >= 9


def test_cached_subset_follows_a_metric_change() -> None:
    """COSINE caches a selection's vectors normalised; after create_index switches the
    field to L2, a repeated filter must score the raw vectors."""
    rng = np.random.default_rng(0)
    vectors = (rng.normal(size=(500, 8)) * rng.uniform(0.1, 10, size=(500, 1))).astype(np.float32)
    col = vs.connect(":memory:").create_collection("c", dimension=8)
    col.insert([{"id": i, "vector": vectors[i], "n": i % 5} for i in range(500)])
    q = rng.normal(size=(1, 8)).astype(np.float32)
    passing = np.flatnonzero(np.arange(500) % 5 == 1)
    for metric in (vs.Metric.COSINE, vs.Metric.L2, vs.Metric.IP):
        if metric is not vs.Metric.COSINE:
            col.create_index("vector", "FLAT", metric.value)
        got = [h.id for h in col.search(q, limit=5, filter="n == 1")[0]]
        rows, _ = flat.top_k(q, vectors[passing], 5, metric)
        assert got == passing[rows[0]].tolist(), metric
