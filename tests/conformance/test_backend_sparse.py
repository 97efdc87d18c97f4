"""Sparse vectors on every backend, against a brute-force reference computed from
the raw rows: inner products over shared dimensions (rows sharing none are not
hits), filters, partitions and windows, ``drop_ratio_search`` as "keep the
len - int(ratio * len) largest |weights|", writes, flush, compaction and reopen,
scipy sparse rows and matrices as input, and weights beyond float32 refused."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hybrid_data import (
    Data,
    full_indexes,
    full_schema,
    pairs,
)
from helpers.hybrid_reference import (
    assert_window,
    drop_small,
)
from lite_differences import (
    DROP_RATIO,
    PARTITION_GHOST,
)

import vectorstore as vs

DT = vs.DataType


@pytest.mark.parametrize("limit", [1, 7, 50])
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_ip_matches_brute_force(hybrid_loaded, limit):
    _, col, data = hybrid_loaded
    queries = [data.query_for("sp") for _ in range(6)]
    hits = col.search(queries, anns_field="sp", limit=limit)
    for q, got in zip(queries, hits, strict=True):
        assert_window(got, data.scores("sp", q), 0, limit, what=f"sp {q}")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_ip_filters_partitions_and_offset(hybrid_loaded):
    _, col, data = hybrid_loaded
    q = data.query_for("sp")
    got = col.search([q], anns_field="sp", limit=10, filter='cat in ["x", "y"] and doc > 5')[0]
    keep = lambda r: r["cat"] in ("x", "y") and r["doc"] > 5  # noqa: E731
    assert_window(got, data.scores("sp", q, keep=keep), 0, 10, what="filtered")
    got = col.search([q], anns_field="sp", limit=10, partitions=["p"])[0]
    assert_window(got, data.scores("sp", q, partitions={"p"}), 0, 10, what="partition p")
    got = col.search([q], anns_field="sp", limit=5, offset=4, filter="flag == true")[0]
    keep = lambda r: r["flag"]  # noqa: E731
    assert_window(got, data.scores("sp", q, keep=keep), 4, 5, what="offset")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_rows_sharing_no_term_are_not_returned(hybrid_loaded):
    _, col, data = hybrid_loaded
    assert col.search([{999: 1.0}], anns_field="sp", limit=10) == [[]]
    q = {0: 1.0, 999: 5.0}
    got = col.search([q], anns_field="sp", limit=300)[0]
    want = data.scores("sp", q)
    assert {h.id for h in got} == set(want)
    assert all(0 in data.rows[h.id]["sp"] for h in got)
    # a radius below every score still returns only rows that share a term
    got = col.search([q], anns_field="sp", limit=300, search_params={"radius": -1.0})[0]
    assert {h.id for h in got} == set(want)
    assert col.search([{}], anns_field="sp", limit=5) == [[]]


@pytest.mark.parametrize(
    "ratio", [0.0, *(pytest.param(r, marks=DROP_RATIO) for r in (0.2, 0.5, 0.75, 0.99))]
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_drop_ratio_search_matches_reference(hybrid_loaded, ratio):
    _, col, data = hybrid_loaded
    rng = np.random.default_rng(5)
    for _ in range(5):
        dims = rng.choice(40, size=int(rng.integers(1, 10)), replace=False)
        # distinct magnitudes: which weights are "smallest" is well defined
        weights = rng.permutation(np.arange(1, len(dims) + 1)) * 0.37
        q = {int(d): float(w) for d, w in zip(dims, weights, strict=True)}
        got = col.search(
            [q], anns_field="sp", limit=20, search_params={"drop_ratio_search": ratio}
        )[0]
        assert_window(got, data.scores("sp", drop_small(q, ratio)), 0, 20, what=f"{ratio} {q}")


@DROP_RATIO
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_drop_ratio_search_nested_params_form(hybrid_loaded):
    _, col, data = hybrid_loaded
    q = {1: 0.1, 2: 5.0, 3: 0.2, 4: 4.0}
    got = col.search(
        [q], anns_field="sp", limit=30, search_params={"params": {"drop_ratio_search": 0.5}}
    )[0]
    assert_window(got, data.scores("sp", {2: 5.0, 4: 4.0}), 0, 30, what="nested")


@PARTITION_GHOST
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_through_writes_flush_compact_reopen(stores):
    db = stores.connect(segment_rows=16)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    col.create_partition("p")
    data = Data(seed=3, n=120)
    data.insert_into(col, ("_default", "p"))
    queries = [data.query_for("sp") for _ in range(4)]

    def check(what: str) -> None:
        hits = col.search(queries, anns_field="sp", limit=15)
        for q, got in zip(queries, hits, strict=True):
            assert_window(got, data.scores("sp", q), 0, 15, what=what)

    check("inserted")
    col.delete(ids=list(range(0, 120, 3)))
    for k in range(0, 120, 3):
        del data.rows[k]
    check("deleted")
    col.flush()
    fresh = [data.make_row(k) for k in range(100, 140)]
    col.upsert(fresh, partition="p")
    for r in fresh:
        data.rows[r["id"]] = r
        data.partition[r["id"]] = "p"
    check("upserted")
    col.compact()
    check("compacted")
    col.drop_partition("p")
    for k in [k for k in data.rows if data.partition.get(k) == "p"]:
        del data.rows[k]
    check("partition dropped")
    db = stores.reopen(db)
    col = db.get_collection("c")
    check("reopened")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_output_field_round_trips(hybrid_loaded):
    _, col, data = hybrid_loaded
    q = data.query_for("sp")
    got = col.search([q], anns_field="sp", limit=3, output_fields=["sp", "cat"])[0]
    for h in got:
        want = {d: float(np.float32(w)) for d, w in data.rows[h.id]["sp"].items()}
        assert h.entity["sp"] == want
        assert h.entity["cat"] == data.rows[h.id]["cat"]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_rows_insert_and_query(stores):
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    m = sparse.csr_matrix(np.array([[0, 1.0, 0, 2.0], [3.0, 0, 0, 0], [0, 0, 4.0, 1.0]]))
    col.insert([{"id": i, "sp": m.getrow(i)} for i in range(3)])
    col.insert([{"id": 3, "sp": sparse.csr_array(np.array([[0, 0, 0, 5.0]]))}])
    got = col.get([0, 3], output_fields=["sp"])
    assert [g["sp"] for g in got] == [{1: 1.0, 3: 2.0}, {3: 5.0}]
    q = sparse.csr_matrix(np.array([[0, 0, 1.0, 1.0]]))
    hits = col.search(q, anns_field="sp", limit=10)[0]
    assert [(h.id, h.distance) for h in hits] == [(3, 5.0), (2, 5.0), (0, 2.0)] or [
        (h.id, h.distance) for h in hits
    ] == [(2, 5.0), (3, 5.0), (0, 2.0)]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_sparse_array_matrix_as_queries(stores):
    """A 2-D scipy sparse *array* (csr_array, scipy's current API) holds one
    query per row, like a csr_matrix."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    col.insert([{"id": 0, "sp": {0: 1.0}}, {"id": 1, "sp": {1: 2.0}}])
    queries = sparse.csr_array(np.array([[1.0, 0], [0, 1.0]]))
    hits = col.search(queries, anns_field="sp", limit=5)
    assert [[(h.id, h.distance) for h in q] for q in hits] == [[(0, 1.0)], [(1, 2.0)]]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_coo_row_with_duplicate_entries_sums_them(stores):
    """scipy semantics: duplicate (row, col) entries of a COO matrix add up."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    row = sparse.coo_matrix(([1.0, 2.0], ([0, 0], [5, 5])), shape=(1, 10))
    assert row.toarray()[0, 5] == 3.0
    col.insert([{"id": 0, "sp": row}])
    assert col.get(0, output_fields=["sp"])[0]["sp"] == {5: 3.0}


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_multi_row_matrix_is_not_one_sparse_row(stores):
    """A 2-row matrix given as one row's vector is bad input, not a merged row."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    two = sparse.csr_matrix(np.array([[1.0, 0], [0, 2.0]]))
    with pytest.raises(vs.DataError):
        col.insert([{"id": 0, "sp": two}])
    assert col.count() == 0


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_sparse_weight_beyond_float32_is_rejected(stores):
    """Sparse weights are stored as float32: 1e39 would become inf (and scores
    inf or NaN), so it is bad input, as it is for FLOAT and dense vectors."""
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    col.insert([{"id": 0, "sp": {1: 1.0}}])
    with pytest.raises(vs.DataError):
        col.insert([{"id": 1, "sp": {1: 1e39}}])
    assert col.count() == 1
    hits = col.search([{1: 1.0}], anns_field="sp", limit=5)[0]
    assert pairs(hits) == [(0, 1.0)]
