"""segment.py on its own: appends, deletes, filters and exact search against
numpy and plain Python over the same rows."""

from __future__ import annotations

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.expr import compile_filter
from vectorstore.rows import prepare_rows
from vectorstore.segment import Segment
from vectorstore.types import Metric

DT = vs.DataType
DIM = 6
SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("v", DT.FLOAT_VECTOR, dim=DIM),
        vs.Field("n", DT.INT64),
        vs.Field("s", DT.VARCHAR, max_length=8, nullable=True),
    ],
    enable_dynamic_field=True,
)


def make(metric: Metric, index_type: str, n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    rows = [
        {"id": i, "v": vectors[i], "n": i % 10, "s": None if i % 4 == 0 else f"s{i % 3}", "k": i}
        for i in range(n)
    ]
    spec = vs.Index("v", index_type, metric.value).fit(SCHEMA)
    seg = Segment(1, "_default", SCHEMA, {"v": spec})
    seg.append(prepare_rows(SCHEMA, rows[: n // 2]))
    seg.append(prepare_rows(SCHEMA, rows[n // 2 :]))
    return seg, vectors, rows


def exact(vectors, queries, metric, k):
    if metric is Metric.L2:
        d = ((queries[:, None, :] - vectors[None, :, :]) ** 2).sum(-1)
        return np.argsort(d, axis=1, kind="stable")[:, :k], d
    if metric is Metric.COSINE:
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    s = queries @ vectors.T
    return np.argsort(-s, axis=1, kind="stable")[:, :k], s


@pytest.mark.parametrize("metric", [Metric.L2, Metric.IP, Metric.COSINE])
@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
def test_search_matches_numpy_over_live_filtered_rows(metric, index_type):
    seg, vectors, rows = make(metric, index_type)
    deleted = np.arange(0, 300, 7)
    seg.delete(deleted)
    assert seg.num_deleted == len(deleted) and seg.num_live == 300 - len(deleted)
    expr = compile_filter('n < 5 and s != "s1"')
    passing = [
        i
        for i, r in enumerate(rows)
        if i % 7 and r["n"] < 5 and r["s"] is not None and r["s"] != "s1"
    ]
    sel = seg.select(expr)
    assert sel.rows.tolist() == passing
    queries = np.random.default_rng(1).normal(size=(4, DIM)).astype(np.float32)
    offsets, dists = seg.search("v", queries, 10, metric, ef=128, selection=sel)
    order, ref = exact(vectors[passing], queries, metric, 10)
    want = np.asarray(passing)[order]
    assert np.array_equal(offsets, want)
    for r in range(4):
        assert np.allclose(dists[r], ref[r, order[r]], rtol=1e-4, atol=1e-4)


def test_entities_and_rows_at_round_trip():
    seg, vectors, _ = make(Metric.L2, "FLAT", n=20)
    got = seg.entities([3, 5], ["id", "n", "s", "v"], "*")
    assert [g["id"] for g in got] == [3, 5]
    assert got[0]["s"] == "s0" and got[1]["n"] == 5 and got[1]["k"] == 5
    assert np.allclose(got[0]["v"], vectors[3])
    again = seg.rows_at(np.array([3, 5]))
    assert again.pks == [3, 5]
    assert np.array_equal(again.vectors["v"], vectors[[3, 5]])
    seg.delete(np.array([3]))
    assert seg.live_mask()[[2, 3, 4]].tolist() == [True, False, True]
    assert seg.select(None).rows.tolist() == [i for i in range(20) if i != 3]
