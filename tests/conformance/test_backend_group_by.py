"""Group-by search on every backend against brute force: ``limit`` groups ordered
by their best hit, each holding its best ``group_size`` rows, on every vector
field, with windows, filters, partitions and range, a nullable group field,
several queries and short groups, and a large HNSW index."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers.hybrid_data import (
    DIM,
    pairs,
    range_bounds,
    range_scores,
    tol,
)
from helpers.hybrid_reference import (
    dense_distances,
    larger_first,
    ranked,
)
from lite_differences import (
    BM25_STATS,
    GROUP_BY,
)

import vectorstore as vs

DT = vs.DataType


def assert_groups(
    hits: list[vs.Hit],
    scores: dict[int, float],
    key_of: Callable[[int], Any],
    limit: int,
    size: int,
    offset: int,
    field: str,
    what: str = "",
) -> None:
    """Hits are ``limit`` groups (after skipping ``offset``), consecutive, ordered
    by their best hit, each holding its group's best ``size`` rows. Compared by
    score, so tied rows or tied groups may come in any order."""
    t = tol(field) or {"rtol": 1e-5, "atol": 1e-6}

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=t["rtol"], abs_tol=t["atol"])

    larger = larger_first(field)
    members: dict[Any, list[float]] = {}
    for k, d in ranked(scores, larger):
        members.setdefault(key_of(k), []).append(d)
    best = sorted((v[0] for v in members.values()), reverse=larger)[offset : offset + limit]
    got: list[tuple[Any, list[vs.Hit]]] = []
    for h in hits:
        assert h.id in scores, f"{what}: {h.id} is not a candidate"
        assert close(h.distance, scores[h.id]), f"{what}: {h.id}: {h.distance} != {scores[h.id]}"
        g = key_of(h.id)
        if got and got[-1][0] == g:
            got[-1][1].append(h)
        else:
            assert g not in [x[0] for x in got], f"{what}: group {g!r} split: {pairs(hits)}"
            got.append((g, [h]))
    shown = [(g, pairs(hs)) for g, hs in got]
    assert len(got) == len(best), f"{what}: {len(got)} groups, expected {len(best)}: {shown}"
    for (g, hs), b in zip(got, best, strict=True):
        dist = [h.distance for h in hs]
        want = members[g][:size]
        assert len(dist) == len(want), f"{what}: group {g!r} has {dist}, expected {want}"
        assert all(close(x, y) for x, y in zip(dist, want, strict=True)), (
            f"{what}: group {g!r} has {dist}, its best are {want}"
        )
        assert close(dist[0], b), f"{what}: groups out of order: {shown}; bests {best}"


@pytest.mark.parametrize(
    "field", ["dense", "dl2", "dip", "sp", pytest.param("bm", marks=BM25_STATS)]
)
@pytest.mark.parametrize(
    ("group_field", "limit", "size", "offset"),
    [
        pytest.param("doc", 5, 2, 0, marks=GROUP_BY),  # 25 groups: some fall short on Milvus
        pytest.param("doc", 4, 3, 2, marks=GROUP_BY),
        ("cat", 3, 4, 0),
        ("flag", 3, 2, 0),
        ("cat", 2, 1, 1),
    ],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_matches_brute_force(hybrid_loaded, field, group_field, limit, size, offset):
    _, col, data = hybrid_loaded
    key_of = lambda k: data.rows[k][group_field]  # noqa: E731
    for _ in range(3):
        q = data.query_for(field)
        got = col.search(
            [q],
            anns_field=field,
            limit=limit,
            offset=offset,
            group_by_field=group_field,
            group_size=size,
        )[0]
        scores = data.scores(field, q)
        assert_groups(got, scores, key_of, limit, size, offset, field, f"{field} {group_field}")
        # with a filter and a partition
        keep = lambda r: r["price"] > -0.5  # noqa: E731
        got = col.search(
            [q],
            anns_field=field,
            limit=limit,
            offset=offset,
            group_by_field=group_field,
            group_size=size,
            filter="price > -0.5",
            partitions=["_default"],
        )[0]
        scores = data.scores(field, q, keep, {"_default"})
        assert_groups(got, scores, key_of, limit, size, offset, field, "filtered")


@GROUP_BY
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_with_range(hybrid_loaded):
    _, col, data = hybrid_loaded
    key_of = lambda k: data.rows[k]["doc"]  # noqa: E731
    q = data.query_for("dl2")
    scores = data.scores("dl2", q)
    radius, rf = range_bounds(scores, "L2", 20, 60)
    got = col.search(
        [q],
        anns_field="dl2",
        limit=4,
        group_by_field="doc",
        group_size=2,
        search_params={"radius": radius, "range_filter": rf},
    )[0]
    want = range_scores(scores, "L2", radius, rf)
    assert_groups(got, want, key_of, 4, 2, 0, "dl2", "group + range")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_nullable_field_and_output_fields(hybrid_loaded):
    """Rows whose group value is null form one group (and are returned)."""
    _, col, data = hybrid_loaded
    key_of = lambda k: data.rows[k]["n"]  # noqa: E731
    q = data.query_for("dense")
    got = col.search(
        [q],
        anns_field="dense",
        limit=11,
        group_by_field="n",
        group_size=2,
        output_fields=["n", "doc"],
    )[0]
    assert_groups(got, data.scores("dense", q), key_of, 11, 2, 0, "dense", "nullable group")
    assert any(h.entity["n"] is None for h in got)
    for h in got:
        assert h.entity == {"n": data.rows[h.id]["n"], "doc": data.rows[h.id]["doc"]}


@pytest.mark.needs_milvus("2.5", "group_size")
def test_group_by_hnsw_large(stores):
    db = stores.connect()
    rng = np.random.default_rng(4)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("doc", DT.INT64),
            vs.Field("v", DT.FLOAT_VECTOR, dim=DIM),
        ]
    )
    col = db.create_collection("g", schema=schema, indexes=[vs.Index("v", "HNSW", "COSINE")])
    x = rng.normal(size=(3000, DIM)).astype(np.float32)
    docs = rng.integers(0, 400, size=3000)
    col.insert([{"id": i, "doc": int(docs[i]), "v": x[i]} for i in range(3000)])
    for _ in range(3):
        q = rng.normal(size=DIM).astype(np.float32)
        scores = dict(enumerate(dense_distances("COSINE", q, x).tolist()))
        got = col.search(
            [q],
            anns_field="v",
            limit=10,
            group_by_field="doc",
            group_size=3,
            search_params={"ef": 512},
        )[0]
        best: dict[int, float] = {}
        for k, d in ranked(scores):
            best.setdefault(int(docs[k]), d)
        want_keys = [g for g, _ in ranked(best)[:10]]
        got_keys = list(dict.fromkeys(int(docs[h.id]) for h in got))
        assert len(got_keys) == 10
        assert len(set(got_keys) & set(want_keys)) >= 9
        per = Counter(int(docs[h.id]) for h in got)
        assert all(per[g] <= 3 for g in per)
        for h in got:
            assert h.distance == pytest.approx(scores[h.id], abs=1e-4)


@GROUP_BY
@BM25_STATS
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_several_queries_and_short_groups(hybrid_loaded):
    _, col, data = hybrid_loaded
    key_of = lambda k: data.rows[k]["cat"]  # noqa: E731
    queries = [data.query_for("dense") for _ in range(4)]
    # 10 groups asked, 4 exist; 50 rows per group asked, fewer exist after the filter
    got = col.search(
        queries,
        anns_field="dense",
        limit=10,
        group_by_field="cat",
        group_size=50,
        filter="doc == 3",
    )
    for q, hits in zip(queries, got, strict=True):
        scores = data.scores("dense", q, keep=lambda r: r["doc"] == 3)
        assert_groups(hits, scores, key_of, 10, 50, 0, "dense", "short groups")
    sparse_queries = [data.query_for("sp") for _ in range(4)]
    got = col.search(sparse_queries, anns_field="sp", limit=3, offset=10, group_by_field="cat")
    assert got == [[] for _ in sparse_queries]
    queries = [data.query_for("bm") for _ in range(3)]
    got = col.search(
        queries, anns_field="bm", limit=3, group_by_field="doc", group_size=2, offset=1
    )
    for q, hits in zip(queries, got, strict=True):
        scores = data.scores("bm", q)
        assert_groups(hits, scores, lambda k: data.rows[k]["doc"], 3, 2, 1, "bm", "bm groups")
