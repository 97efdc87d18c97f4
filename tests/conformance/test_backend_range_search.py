"""Range search on every backend against brute force: the rows whose distance lies
within ``radius`` / ``range_filter`` (L2: range_filter <= d < radius; IP,
COSINE, sparse and BM25: radius < d <= range_filter), as windows, with filters
and partitions, on several queries at once, and on a large HNSW index by recall."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers.hybrid_data import (
    DIM,
    VOCAB,
    Data,
    range_bounds,
    range_scores,
    tol,
)
from helpers.hybrid_reference import (
    METRIC_OF,
    assert_window,
    dense_distances,
    larger_first,
    ranked,
)
from lite_differences import (
    EMPTY_SPARSE,
    RANGE,
)

import vectorstore as vs

DT = vs.DataType


def range_query(data: Data, field: str) -> Any:
    """A query whose scores have enough distinct values for every ``skip``: on BM25 a
    1-3 word query ties most rows (a handful of distinct scores), so it asks for six
    to ten of the ten words."""
    if field == "bm":
        words = data.rng.permutation(VOCAB)[: int(data.rng.integers(6, 11))]
        return " ".join(words.tolist())
    return data.query_for(field)


NOT_MULTIPLE_OF_3 = f"doc not in {list(range(0, 25, 3))}"  # doc % 3 != 0 (doc < 25)


# Milvus Lite passes on the dense and sparse fields and finds nothing (or too much)
# on BM25, with and without range_filter
@pytest.mark.parametrize("field", ["dense", "dl2", "dip", "sp", pytest.param("bm", marks=RANGE)])
@pytest.mark.parametrize("skip", [0, 1, 40])
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_range_search_matches_brute_force(hybrid_loaded, field, skip):
    _, col, data = hybrid_loaded
    metric = METRIC_OF[field]
    checked = 0
    for attempt in range(3):
        q = range_query(data, field)
        scores = data.scores(field, q)
        distinct = len(set(scores.values()))
        assert distinct >= skip + 30, f"{field} attempt {attempt}: {distinct} distinct scores"
        radius, rf = range_bounds(scores, metric, skip, 25)
        params = {"radius": radius}
        if rf is not None:
            params["range_filter"] = rf
        want = range_scores(scores, metric, radius, rf)
        assert len(want) >= 20, f"{field} {params}: {len(want)} rows in range"
        for offset, limit in ((0, 10), (5, 10), (0, 100)):
            got = col.search(
                [q], anns_field=field, limit=limit, offset=offset, search_params=params
            )[0]
            assert_window(
                got,
                want,
                offset,
                limit,
                larger_first(field),
                **tol(field),
                what=f"{field} {params} {offset}/{limit}",
            )
        # with a filter and a partition too
        keep = lambda r: r["doc"] % 3 != 0  # noqa: E731
        got = col.search(
            [q],
            anns_field=field,
            limit=10,
            search_params=params,
            filter=NOT_MULTIPLE_OF_3,
            partitions=["p"],
        )[0]
        want = range_scores(data.scores(field, q, keep, {"p"}), metric, radius, rf)
        assert want, f"{field} {params}: nothing in range after the filter"
        assert_window(got, want, 0, 10, larger_first(field), **tol(field), what="filtered")
        checked += 1
    assert checked == 3


@EMPTY_SPARSE
@pytest.mark.needs_milvus("2.4", "several vector fields and sparse vectors")
def test_range_bounds_are_exact(stores):
    """L2: range_filter <= d < radius; IP/COSINE: radius < d <= range_filter."""
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("l2", DT.FLOAT_VECTOR, dim=2),
            vs.Field("ip", DT.FLOAT_VECTOR, dim=2),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        ]
    )
    col = db.create_collection(
        "c", schema=schema, indexes=[vs.Index("l2", "FLAT", "L2"), vs.Index("ip", "FLAT", "IP")]
    )
    # squared L2 from the origin: 0 1 2 4 5 8 9 10; IP with [1, 0] and sparse IP = i
    grid = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1)]
    col.insert([{"id": i, "l2": grid[i], "ip": [i, 0], "sp": {0: float(i)}} for i in range(8)])
    got = col.search(
        [[0, 0]], anns_field="l2", limit=10, search_params={"radius": 5.0, "range_filter": 2.0}
    )[0]
    assert [(h.id, h.distance) for h in got] == [(2, 2.0), (3, 4.0)]
    got = col.search(
        [[1, 0]], anns_field="ip", limit=10, search_params={"radius": 2.0, "range_filter": 5.0}
    )[0]
    assert [h.id for h in got] == [5, 4, 3]
    got = col.search(
        [{0: 1.0}], anns_field="sp", limit=10, search_params={"radius": 2.0, "range_filter": 5.0}
    )[0]
    assert [h.id for h in got] == [5, 4, 3]
    got = col.search([[1, 0]], anns_field="ip", limit=2, search_params={"radius": 5.0})[0]
    assert [h.id for h in got] == [7, 6]


def test_range_search_with_no_candidates_finds_nothing(stores):
    """An empty collection, and a filter no row passes: empty hits, not an error."""
    db = stores.connect()
    col = db.create_collection("c", dimension=4, metric="L2")
    q = [[1.0, 0.0, 0.0, 0.0]] * 2
    params = [{"radius": 0.5}, {"radius": 0.5, "range_filter": 0.1}]
    for p in params:
        for filt in ("", "id < 0"):
            got = col.search(q, limit=3, filter=filt, search_params=p)
            assert got == [[], []] and all(isinstance(row, vs.Hits) for row in got), p
    col.insert([{"id": 1, "vector": [1.0, 0.0, 0.0, 0.0]}, {"id": 2, "vector": [0, 1, 0, 0]}])
    for p in params:
        assert col.search(q, limit=3, filter="id < 0", search_params=p) == [[], []], p
    got = col.search(q[:1], limit=3, search_params=params[0])[0]
    assert [h.id for h in got] == [1]  # the rows are there: only the filter left none


@RANGE
def test_range_search_hnsw_large(stores):
    """HNSW (more rows than the exact-search limit): every hit is in range with
    its true distance, best first, and recall against brute force is high,
    also when range_filter excludes the 300 best rows."""
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=DIM)]
    )
    rng = np.random.default_rng(21)
    x = rng.normal(size=(3000, DIM)).astype(np.float32)
    for metric in ("L2", "COSINE", "IP"):
        name = f"c{metric}"
        col = db.create_collection(name, schema=schema, indexes=[vs.Index("v", "HNSW", metric)])
        col.insert([{"id": i, "v": x[i]} for i in range(len(x))])
        for _ in range(3):
            q = rng.normal(size=DIM).astype(np.float32)
            scores = dict(enumerate(dense_distances(metric, q, x).tolist()))
            radius, rf = range_bounds(scores, metric, 300, 200)
            want = range_scores(scores, metric, radius, rf)
            got = col.search(
                [q],
                anns_field="v",
                limit=50,
                search_params={"radius": radius, "range_filter": rf, "ef": 256},
            )[0]
            assert len(got) == 50
            for h in got:
                assert h.id in want, f"{metric}: {h.id} ({h.distance}) out of range"
                assert h.distance == pytest.approx(want[h.id], rel=1e-4, abs=1e-4)
            dist = [h.distance for h in got]
            assert dist == sorted(dist, reverse=metric != "L2")
            best = {k for k, _ in ranked(want, metric != "L2")[:50]}
            recall = len(best & {h.id for h in got}) / 50
            assert recall >= 0.9, f"{metric}: recall {recall}"


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_range_search_several_queries(hybrid_loaded):
    """One range over several queries: each query gets its own in-range rows
    (some many, some none), padded independently."""
    _, col, data = hybrid_loaded
    queries = [data.query_for("dl2") for _ in range(5)]
    queries.append([50.0] * DIM)  # far from every row: nothing in range
    radius, rf = 6.0, 3.0
    got = col.search(
        queries,
        anns_field="dl2",
        limit=8,
        offset=2,
        search_params={"radius": radius, "range_filter": rf},
    )
    assert len(got) == len(queries)
    for q, hits in zip(queries, got, strict=True):
        want = range_scores(data.scores("dl2", q), "L2", radius, rf)
        assert_window(hits, want, 2, 8, larger_first=False, **tol("dl2"))
    assert got[-1] == []
    got = col.search(queries, anns_field="dip", limit=8, offset=300, search_params={"radius": 0.0})
    assert got == [[] for _ in queries]
