"""``hybrid_search`` on every backend: RRF and weighted fusion worked out by hand
on four rows, then on random data against each route brute-forced and fused by
the reference (RRF as ``sum 1/(k + rank)``, weighted fusion normalising per
metric as Milvus defines it), with windows, per-request filters, partitions,
output fields, a range route and routes that return nothing."""

from __future__ import annotations

import math

import pytest
from helpers.hybrid_data import (
    pairs,
    range_bounds,
    range_scores,
    tol,
)
from helpers.hybrid_reference import (
    METRIC_OF,
    assert_window,
    larger_first,
    ranked,
    ref_rrf,
    ref_text_match,
    ref_weighted,
    standard_tokens,
)
from lite_differences import (
    BM25_STATS,
    FLOAT32_SCORES,
    NOT_NULL,
    RANGE,
)

import vectorstore as vs

DT = vs.DataType


@pytest.fixture
def tiny(stores):
    """Four rows whose route results are worked out by hand."""
    db = stores.connect(segment_rows=2)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("tag", DT.VARCHAR),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=2),
            vs.Field("dl2", DT.FLOAT_VECTOR, dim=2),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        ]
    )
    col = db.create_collection(
        "t",
        schema=schema,
        indexes=[vs.Index("dense", "FLAT", "COSINE"), vs.Index("dl2", "FLAT", "L2")],
    )
    col.create_partition("q")
    col.insert(
        [
            {"id": 1, "tag": "a", "dense": [1, 0], "dl2": [0, 0], "sp": {1: 1.0}},
            {"id": 2, "tag": "b", "dense": [0.6, 0.8], "dl2": [1, 0], "sp": {1: 0.5, 2: 1.0}},
        ]
    )
    col.insert(
        [
            {"id": 3, "tag": "a", "dense": [0, 1], "dl2": [2, 0], "sp": {2: 2.0}},
            {"id": 4, "tag": "b", "dense": [-1, 0], "dl2": [3, 0], "sp": {3: 1.0}},
        ],
        partition="q",
    )
    return db, col


@FLOAT32_SCORES
@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_rrf_hand_computed(tiny):
    _, col = tiny
    # dense [1,0], COSINE, limit 3: 1 (1.0), 2 (0.6), 3 (0.0)
    # sparse {2: 1}: 3 (2.0), 2 (1.0); rows 1 and 4 share no term
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=3),
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=3),
    ]
    got = col.hybrid_search(reqs, ranker=vs.RRFRanker(k=60), limit=10)[0]
    want = [(3, 1 / 63 + 1 / 61), (2, 2 / 62), (1, 1 / 61)]
    assert [h.id for h in got] == [3, 2, 1]
    assert [h.distance for h in got] == pytest.approx([s for _, s in want], rel=1e-12)
    assert isinstance(got, vs.Hits) and got.ids == [3, 2, 1]  # pymilvus's Hits reads
    assert got.distances == [h.distance for h in got]
    # other k; a window
    got = col.hybrid_search(reqs, ranker=vs.RRFRanker(k=1), limit=2, offset=1)[0]
    # k=1: 1: 1/2, 2: 1/3 + 1/3, 3: 1/4 + 1/2  -> 3 (.75), 2 (.667), 1 (.5)
    assert pairs(got) == [(2, pytest.approx(2 / 3)), (1, pytest.approx(0.5))]


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_hand_computed_cosine_ip(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=3),
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=3),
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.7, 0.3), limit=10)[0]
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    want = {1: 0.7 * 1.0, 2: 0.7 * 0.8 + 0.3 * ip(1.0), 3: 0.7 * 0.5 + 0.3 * ip(2.0)}
    assert [h.id for h in got] == [2, 1, 3]
    for h in got:
        assert h.distance == pytest.approx(want[h.id], rel=1e-6)
    raw = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.7, 0.3, norm_score=False), limit=10)
    want_raw = {1: 0.7, 2: 0.7 * 0.6 + 0.3 * 1.0, 3: 0.7 * 0.0 + 0.3 * 2.0}
    assert [h.id for h in raw[0]] == [2, 1, 3]
    for h in raw[0]:
        assert h.distance == pytest.approx(want_raw[h.id], rel=1e-6, abs=1e-7)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_hand_computed_l2(tiny):
    _, col = tiny
    # dl2 query [0,0]: squared L2 distances 1: 0, 2: 1, 3: 4, 4: 9
    reqs = [
        vs.AnnRequest(data=[[0.0, 0.0]], anns_field="dl2", limit=4),
        vs.AnnRequest(data=[{3: 1.0, 1: 0.25}], anns_field="sp", limit=4),
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(1.0, 0.5), limit=10)[0]
    l2 = lambda d: 1 - 2 * math.atan(d) / math.pi  # noqa: E731
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    want = {
        1: l2(0) + 0.5 * ip(0.25),
        2: l2(1) + 0.5 * ip(0.125),
        3: l2(4),
        4: l2(9) + 0.5 * ip(1.0),
    }
    assert_window(got, want, 0, 10, rtol=1e-6)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_zero_weight_and_missing_rows(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=1),  # only row 1
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=5),  # rows 3, 2
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.0, 1.0), limit=10)[0]
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    assert pairs(got) == [
        (3, pytest.approx(ip(2.0))),
        (2, pytest.approx(ip(1.0))),
        (1, pytest.approx(0.0, abs=1e-12)),
    ]


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_filters_per_request_partitions_output_fields(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=4, filter='tag == "b"'),
        vs.AnnRequest(
            data=[{1: 1.0, 2: 1.0, 3: 1.0}],
            anns_field="sp",
            limit=4,
            filter="id >= {lo}",
            filter_params={"lo": 3},
        ),
    ]
    # dense (tag b): 2 (0.6), 4 (-1.0); sparse (id >= 3): 3 (2.0), 4 (1.0)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, output_fields=["tag", "sp"])[0]
    want = ref_rrf([[2, 4], [3, 4]], 10)
    assert_window(got, want, 0, 10, rtol=1e-12)
    assert {h.id: h.entity for h in got} == {
        2: {"tag": "b", "sp": {1: 0.5, 2: 1.0}},
        3: {"tag": "a", "sp": {2: 2.0}},
        4: {"tag": "b", "sp": {3: 1.0}},
    }
    assert got[0]["tag"] == got[0].entity["tag"]
    # partitions: only "q" (rows 3 and 4)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, partitions=["q"])[0]
    assert_window(got, ref_rrf([[4], [3, 4]], 10), 0, 10, rtol=1e-12)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, partitions=["_default"])[0]
    assert_window(got, ref_rrf([[2], []], 10), 0, 10, rtol=1e-12)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_on_empty_partition_and_no_matches(tiny):
    _, col = tiny
    col.create_partition("empty")
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=4),
        vs.AnnRequest(data=[{77: 1.0}], anns_field="sp", limit=4),
    ]
    assert col.hybrid_search(reqs, vs.RRFRanker(), limit=3, partitions=["empty"]) == [[]]
    got = col.hybrid_search(reqs, vs.WeightedRanker(0.5, 0.5), limit=10)[0]
    want = ref_weighted(
        [[(1, 1.0), (2, 0.6), (3, 0.0), (4, -1.0)], []], ["COSINE", "IP"], [0.5, 0.5]
    )
    assert_window(got, want, 0, 10, rtol=1e-6, atol=1e-6)


@NOT_NULL
@BM25_STATS
@pytest.mark.parametrize(
    "fields",
    [("dense", "bm"), ("dl2", "sp"), ("dip", "bm", "sp"), ("dense", "dl2", "dip", "sp", "bm")],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_hybrid_matches_reference_fusion_on_random_data(hybrid_loaded, fields):
    """Each route brute-forced; RRF and weighted fused by the reference; several
    queries, windows, per-request filters and partitions."""
    _, col, data = hybrid_loaded
    q = 3
    filters = {
        "dense": "doc < 20",
        "dl2": "",
        "dip": 'cat != "x"',
        "sp": 'not text_match(text, "alpha")',
        "bm": "flag == true",
    }
    keeps = {
        "dense": lambda r: r["doc"] < 20,
        "dl2": None,
        "dip": lambda r: r["cat"] != "x",
        "sp": lambda r: ref_text_match(r["text"], "alpha", standard_tokens) is False,
        "bm": lambda r: r["flag"],
    }
    limits = {"dense": 15, "dl2": 8, "dip": 20, "sp": 10, "bm": 12}
    queries = {f: [data.query_for(f) for _ in range(q)] for f in fields}
    reqs = [
        vs.AnnRequest(data=queries[f], anns_field=f, limit=limits[f], filter=filters[f])
        for f in fields
    ]
    weights = [round(0.9 - 0.2 * i, 2) for i in range(len(fields))]
    for partitions in (None, ["p"]):
        parts = None if partitions is None else set(partitions)
        # each route on its own, against brute force
        routes: list[list[list[tuple[int, float]]]] = []
        for f in fields:
            got = col.search(
                queries[f],
                anns_field=f,
                limit=limits[f],
                filter=filters[f],
                partitions=partitions,
            )
            per_query = []
            for qi in range(q):
                want = data.scores(f, queries[f][qi], keeps[f], parts)
                assert_window(got[qi], want, 0, limits[f], larger_first(f), **tol(f), what=f)
                per_query.append(pairs(got[qi]))
            routes.append(per_query)
        for offset, limit in ((0, 10), (3, 4), (0, 100)):
            rrf = col.hybrid_search(
                reqs, vs.RRFRanker(k=20), limit=limit, offset=offset, partitions=partitions
            )
            wtd = col.hybrid_search(
                reqs,
                vs.WeightedRanker(*weights),
                limit=limit,
                offset=offset,
                partitions=partitions,
            )
            for qi in range(q):
                lists = [r[qi] for r in routes]
                want = ref_rrf([[k for k, _ in lst] for lst in lists], 20)
                assert_window(rrf[qi], want, offset, limit, rtol=1e-9, what="rrf")
                want = ref_weighted(lists, [METRIC_OF[f] for f in fields], weights)
                assert_window(wtd[qi], want, offset, limit, rtol=1e-5, atol=1e-5, what="wtd")


@RANGE
@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_with_range_route_same_field_twice_and_one_vector(hybrid_loaded):
    _, col, data = hybrid_loaded
    q1, q2 = data.query_for("dense"), data.query_for("dense")
    s1 = data.scores("dense", q1)
    radius, rf = range_bounds(s1, "COSINE", 5, 30)
    reqs = [
        vs.AnnRequest(
            data=q1,
            anns_field="dense",
            limit=10,
            search_params={"radius": radius, "range_filter": rf},
        ),
        vs.AnnRequest(data=[q2], anns_field="dense", limit=10),
        vs.AnnRequest(data=[{999: 1.0}], anns_field="sp", limit=10),  # returns nothing
    ]
    got = col.hybrid_search(reqs, vs.WeightedRanker(0.5, 0.3, 1.0), limit=15)
    assert len(got) == 1
    r1 = ranked(range_scores(s1, "COSINE", radius, rf))[:10]
    r2 = ranked(data.scores("dense", q2))[:10]
    want = ref_weighted([r1, r2, []], ["COSINE", "COSINE", "IP"], [0.5, 0.3, 1.0])
    assert_window(got[0], want, 0, 15, rtol=1e-5, atol=1e-5)
