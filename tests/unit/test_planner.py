"""The search planner and the per-segment selection cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers.search_reference import exact
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import planner
from vectorstore import segment as segment_module
from vectorstore.index import flat
from vectorstore.planner import Strategy


def _choose(num_rows: int, num_allowed: int, **kw: object) -> Strategy:
    args: dict = {"has_index": True, "k": 10, "ef": 64, "dim": 128, **kw}
    return planner.choose(num_rows=num_rows, num_allowed=num_allowed, **args).strategy


def test_planner_picks_exact_for_few_rows_and_graph_for_many() -> None:
    assert _choose(10**6, 10**6, has_index=False) is Strategy.EXACT
    assert _choose(100_000, 100) is Strategy.EXACT
    assert _choose(100_000, 100_000) is Strategy.HNSW
    assert _choose(100_000, 50_000) is Strategy.HNSW_OVERSAMPLE
    # k above the exact limit still searches exactly when everything passes cheaply
    assert _choose(3000, 2500, k=3000) is Strategy.EXACT
    # a segment small enough to scan whole is scanned, filter or not
    assert _choose(2000, 1900, ef=10) is Strategy.EXACT


def test_exact_wins_while_its_rows_cost_less_than_the_graphs_beam() -> None:
    """The crossovers measured by benchmarks/filtered.py --calibrate: ~20 % of 100k
    rows at 128 dimensions, ~30 % at 50; a selection too big to keep gathered
    (cached=False) pays for the gather and crosses over far sooner."""
    for dim, below, above in ((128, 15_000, 25_000), (50, 25_000, 40_000)):
        assert _choose(100_000, below, dim=dim, cached=True) is Strategy.EXACT
        assert _choose(100_000, above, dim=dim, cached=True) is Strategy.HNSW_OVERSAMPLE
        assert _choose(100_000, below, dim=dim) is Strategy.HNSW_OVERSAMPLE
    # the cost of exact grows with the passing rows, the graph's with rows / passing
    assert _choose(10**6, 10_000, cached=True) is Strategy.EXACT  # 1 % of 1M
    assert _choose(10**6, 100_000) is Strategy.HNSW_OVERSAMPLE  # 10 % of 1M
    # a wider beam (higher ef) makes the graph dearer, so exact holds out longer
    assert _choose(100_000, 25_000, cached=True, ef=256) is Strategy.EXACT


def test_unfiltered_segments_are_searched_exactly_while_small() -> None:
    small, big = planner.exact_limit(100_000), planner.exact_limit(10_000_000)
    assert big == pytest.approx(small * 10, rel=0.01)
    assert planner.exact_limit(10) == planner.EXACT_MIN_ROWS


def test_walk_above_is_exactly_where_segments_outgrow_the_exact_limit() -> None:
    # The hot path compares with WALK_ABOVE instead of calling exact_limit.
    sizes = [*range(1, 100_001), 10**6, 10**7 + 1, 2**40]
    for n in sizes:
        assert (n > planner.exact_limit(n)) == (n > planner.WALK_ABOVE), n


def test_an_unfiltered_search_walks_the_graph_only_past_walk_above() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(planner.WALK_ABOVE + 1, 4)).astype(np.float32)
    col = vs.connect(":memory:").create_collection("c", dimension=4)
    col.insert({"id": np.arange(planner.WALK_ABOVE), "vector": vectors[:-1]})
    seg = col._state.partitions["_default"][0]
    col.search(vectors[:1], limit=10)
    assert seg.graph_pending  # scanned exactly: no graph was built for it
    col.insert({"id": [planner.WALK_ABOVE], "vector": vectors[-1:]})
    col.search(vectors[:1], limit=10)
    assert not seg.graph_pending  # walked: the graph was built first


def test_oversampled_k_asks_for_twice_the_expected_survivors() -> None:
    assert planner.oversampled_k(10, 100_000, 50_000) == 50
    assert planner.oversampled_k(10, 1000, 1) == 1000  # capped at the segment


def test_filtered_beam_widens_to_two_ef_and_holds_twice_what_it_asks_for() -> None:
    """ef / fraction while half the rows pass (ef passing candidates), then 2 ef,
    or twice the results it asks for (2k / fraction + 10) when that is more."""
    assert planner.filtered_ef(64, 10, 100_000, 100_000) == 64
    assert planner.filtered_ef(64, 10, 100_000, 80_000) == 80
    assert planner.filtered_ef(64, 10, 100_000, 50_000) == 128
    assert planner.filtered_ef(256, 10, 10**6, 100_000) == 512  # 10 % of 1M: 2 ef
    assert planner.filtered_ef(64, 10, 100_000, 20_000) == 220  # twice the 110 asked for
    assert planner.filtered_ef(64, 10, 100_000, 1_000) == 4_020  # was ef / fraction: 6,400
    assert planner.filtered_ef(8, 100, 100_000, 50_000) == 820
    assert planner.filtered_ef(64, 10, 1_000, 10) == 1_000  # never more than the rows


def test_the_plan_carries_the_search_it_costed() -> None:
    """The segment runs the graph search the planner priced, not a recomputed one."""

    def plan(allowed: int) -> planner.Plan:
        return planner.choose(
            has_index=True, num_rows=100_000, num_allowed=allowed, k=10, ef=64, dim=128
        )

    assert plan(50_000) == (Strategy.HNSW_OVERSAMPLE, 50, 128)
    assert plan(50_000)[1:] == planner.oversampled(64, 10, 100_000, 50_000)
    assert plan(100_000) == (Strategy.HNSW, 10, 64)
    assert plan(100) == (Strategy.EXACT, 10, 64)


def test_single_query_top_k_matches_the_batched_path() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(500, 8)).astype(np.float32)
    queries = rng.normal(size=(3, 8)).astype(np.float32)
    for metric in vs.Metric:
        rows, dist = flat.top_k(queries, vectors, 7, metric)
        if metric is not vs.Metric.BM25:  # and both agree with a plain numpy brute force
            want, want_dist = exact(queries, vectors, metric.value, 7)
            assert rows.tolist() == want.tolist(), metric
            np.testing.assert_allclose(dist, want_dist, rtol=1e-4, atol=1e-4)
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


def test_a_filter_the_graph_cannot_reach_falls_back_to_exact_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A filter correlated with the vectors: only a far cluster passes, so the
    oversampled search near the query finds no passing row. The segment then
    searches the passing rows exactly (hnswlib's filter callback, the old
    fallback, found 0.6 of them at 1M rows, at 6-40 queries a second)."""
    rng = np.random.default_rng(11)
    near = rng.normal(size=(4500, 8))
    far = rng.normal(size=(1500, 8)) + 40.0
    vectors = np.concatenate([near, far]).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=8, indexes=[vs.Index("vector", "HNSW", "L2", M=16, ef_construction=200)]
    )
    col.insert({"id": np.arange(6000), "vector": vectors, "far": np.arange(6000) >= 4500})
    monkeypatch.setattr(planner, "EXACT_MIN_ROWS", 10)
    monkeypatch.setattr(planner, "EXACT_PER_SQRT_ROWS", 0)
    monkeypatch.setattr(planner, "BEAM_SLOT_COST", 0)  # the planner always picks the graph
    index = col._state.partitions["_default"][0].indexes["vector"]
    calls = []
    real_search = index.search

    def spy(queries, k, ef):  # type: ignore[no-untyped-def]
        calls.append((k, ef))
        return real_search(queries, k, ef)

    monkeypatch.setattr(index, "search", spy)
    queries = rng.normal(size=(5, 8)).astype(np.float32)
    hits = col.search(queries, limit=10, filter="far == true", search_params={"ef": 64})
    wanted, beam = planner.oversampled(64, 10, 6000, 1500)
    assert 4 * wanted > beam  # looking 4x further takes a wider walk here
    assert calls == [(beam, beam), (4 * wanted, 4 * wanted)]  # the beam, 4x wider, then exact
    passing = np.arange(4500, 6000)
    rows, _ = exact(queries, vectors[passing], "L2", 10)  # numpy brute force, not the engine
    assert [[h.id for h in got] for got in hits] == passing[rows].tolist()


@pytest.mark.parametrize("ef", [200, 20])
def test_a_short_oversampled_search_looks_4x_further_before_exact(
    monkeypatch: pytest.MonkeyPatch, ef: int
) -> None:
    """Fewer than k passing among the results asked for (too few asked for here) by
    chance: the search looks among four times as many, not at an exact scan. They
    come from the same graph walk while they fit its beam (ef 200: a beam of 400
    for 42 results); past it (ef 20: a beam of 84), from one wider walk."""
    rng = np.random.default_rng(12)
    vectors = rng.normal(size=(6000, 8)).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=8, indexes=[vs.Index("vector", "HNSW", "L2", M=16, ef_construction=200)]
    )
    col.insert({"id": np.arange(6000), "vector": vectors, "n": np.arange(6000) % 4})
    monkeypatch.setattr(planner, "EXACT_MIN_ROWS", 10)
    monkeypatch.setattr(planner, "EXACT_PER_SQRT_ROWS", 0)
    monkeypatch.setattr(planner, "BEAM_SLOT_COST", 0)  # the planner always picks the graph
    monkeypatch.setattr(planner, "OVERSAMPLE_FACTOR", 1.0)  # ~k/fraction + 2: often short
    monkeypatch.setattr(planner, "OVERSAMPLE_MARGIN", 2)
    wanted, beam = planner.oversampled(ef, 10, 6000, 1500)
    assert (wanted, beam) == (42, 400 if ef == 200 else 84)
    seg = col._state.partitions["_default"][0]
    col.flush()  # the graph built: the walks below are the searches' own
    index = seg.indexes["vector"]
    walks: list[tuple[int, int]] = []
    real_search = index.search

    def spy(queries, k, ef):  # type: ignore[no-untyped-def]
        walks.append((k, ef))
        return real_search(queries, k, ef)

    def no_exact(*args):  # type: ignore[no-untyped-def]
        raise AssertionError("searched exactly")

    monkeypatch.setattr(seg, "_search_exact", no_exact)
    allowed = np.arange(6000) % 4 == 1
    passing = np.flatnonzero(allowed)
    short = 0
    for q in rng.normal(size=(40, 8)).astype(np.float32):
        labels, _ = real_search(q[None, :], beam, beam)  # the reference: the same walk
        was_short = np.count_nonzero(allowed[labels[0, :wanted]]) < 10
        short += was_short
        walks.clear()
        monkeypatch.setattr(index, "search", spy)
        hits = col.search(q[None, :], limit=10, filter="n == 1", search_params={"ef": ef})
        monkeypatch.setattr(index, "search", real_search)
        rewalked = [(4 * wanted, 4 * wanted)] if was_short and ef == 20 else []
        assert walks == [(beam, beam), *rewalked]
        rows, _ = exact(q[None, :], vectors[passing], "L2", 10)
        assert len({h.id for h in hits[0]} & set(passing[rows[0]].tolist())) >= 9
    assert short  # some queries came back short and looked further


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
        rows, _ = exact(q, vectors[passing], metric.value, 5)  # numpy brute force
        assert got == passing[rows[0]].tolist(), metric


def test_a_filtered_graph_search_runs_the_beam_the_planner_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Half the rows pass: the graph is asked for 2k / 0.5 + 10 results with a
    beam of twice that (more than ef / 0.5 here), and the answer is close to
    exact search's (numpy; the graph is built with threads, so its recall
    varies a little from run to run)."""
    rng = np.random.default_rng(21)
    n, dim = 50_000, 64
    centres = rng.normal(size=(32, dim))
    vectors = (centres[rng.integers(0, 32, n)] + 0.5 * rng.normal(size=(n, dim))).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=dim, indexes=[vs.Index("vector", "HNSW", "COSINE", ef_construction=64)]
    )
    col.insert({"id": np.arange(n), "vector": vectors, "n": np.arange(n) % 10})
    index = col._state.partitions["_default"][0].indexes["vector"]
    asked = []
    real_search = index.search

    def spy(queries, k, ef):  # type: ignore[no-untyped-def]
        asked.append((k, ef))
        return real_search(queries, k, ef)

    monkeypatch.setattr(index, "search", spy)
    queries = (centres[rng.integers(0, 32, 100)] + 0.5 * rng.normal(size=(100, dim))).astype(
        np.float32
    )
    hits = col.search(queries, limit=10, filter="n < 5", search_params={"ef": 32})
    assert asked == [(100, 100)]  # every result of a beam of 100; the first 50 looked at
    passing = np.flatnonzero(np.arange(n) % 10 < 5)
    rows, _ = exact(queries, vectors[passing], "COSINE", 10)
    found = sum(
        len({h.id for h in got} & set(passing[want].tolist()))
        for got, want in zip(hits, rows, strict=True)
    )
    assert found / rows.size >= 0.9


@given(
    n=st.integers(0, 60),
    cuts=st.lists(st.integers(0, 60), max_size=4),
    k=st.integers(1, 12),
    q=st.integers(1, 3),
    metric=st.sampled_from([vs.Metric.L2, vs.Metric.IP]),
)
@settings(max_examples=200, deadline=None)
def test_chunked_top_k_is_top_k_over_the_whole(n, cuts, k, q, metric) -> None:
    """Scoring rows a chunk at a time (a selection too big to keep gathered)
    gives what one product over every row gives: integer-valued vectors make
    every score exact, so the scores must match exactly (rows with equal scores
    may come back in either order). L2 too, though each chunk is measured from its
    own centre: ``flat.centre_of`` keeps integer rows on their grid."""
    rng = np.random.default_rng(n * 31 + k)
    vectors = rng.integers(-3, 4, size=(n, 4)).astype(np.float32)
    queries = rng.integers(-3, 4, size=(q, 4)).astype(np.float32)
    bounds = [0, *sorted(min(c, n) for c in cuts), n]
    chunks = [vectors[a:b] for a, b in itertools.pairwise(bounds)]
    rows, dist = flat.top_k_chunked(queries, chunks, k, metric)
    want_rows, want_dist = flat.top_k(queries, vectors, k, metric)
    assert rows.shape == want_rows.shape
    np.testing.assert_array_equal(dist, want_dist)
    # equal scores may come back in either order: compare each score's set of rows
    for r, wr, d in zip(rows, want_rows, dist, strict=True):
        for score in set(d.tolist()):
            if score != d[-1]:  # rows tied at the cut-off score may differ
                assert set(r[d == score]) == set(wr[d == score])
