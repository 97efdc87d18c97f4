"""Bad input to sparse, BM25, range, group-by, text_match and hybrid search on every
backend: each case raises our documented error and leaves the store exactly as it
was (rows, counts, partitions and the answers of three searches, also after a
reopen); bad sparse indexes create no collection."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.hybrid_data import (
    DIM,
    Data,
    full_indexes,
    full_schema,
    pairs,
)

import vectorstore as vs

DT = vs.DataType


def state(col: vs.Collection) -> Any:
    rows = col.query(output_fields=["*"])
    rows.sort(key=lambda r: r["id"])
    s = col.search(["alpha beta"], anns_field="bm", limit=5)
    d = col.search([[0.5] * DIM], anns_field="dense", limit=5)
    p = col.search([{1: 1.0, 2: 1.0}], anns_field="sp", limit=5)
    return col.count(), rows, pairs(s[0]), pairs(d[0]), pairs(p[0]), col.list_partitions()


def _bad_calls(col: vs.Collection, data: Data):
    row = dict(data.make_row(1000))
    dq = [[0.1] * DIM]
    ok_dense = vs.AnnRequest(data=dq, anns_field="dense", limit=5)
    ok_bm = vs.AnnRequest(data=["alpha"], anns_field="bm", limit=5)
    return {
        "row brings the BM25 output": (vs.DataError, lambda: col.insert([{**row, "bm": {1: 1.0}}])),
        "upsert brings the BM25 output": (
            vs.DataError,
            lambda: col.upsert([{**data.rows[10], "bm": {1: 1.0}}]),
        ),
        "second row of a batch bad": (
            vs.DataError,
            lambda: col.insert([row, {**row, "id": 1001, "sp": {-1: 1.0}}]),
        ),
        "sparse weight NaN": (vs.DataError, lambda: col.insert([{**row, "sp": {1: float("nan")}}])),
        "sparse index too large": (vs.DataError, lambda: col.insert([{**row, "sp": {2**32: 1.0}}])),
        "sparse not a dict": (vs.DataError, lambda: col.insert([{**row, "sp": [1.0, 2.0]}])),
        "vector query on BM25 field": (
            vs.DataError,
            lambda: col.search([{1: 1.0}], anns_field="bm"),
        ),
        "dense query on BM25 field": (
            vs.DataError,
            lambda: col.search([[0.1] * DIM], anns_field="bm"),
        ),
        "text on a plain sparse field": (
            vs.DataError,
            lambda: col.search(["alpha"], anns_field="sp"),
        ),
        "text mixed with vectors": (
            vs.DataError,
            lambda: col.search(["alpha", {1: 1.0}], anns_field="bm"),
        ),
        "drop_ratio 1": (
            vs.IndexConfigError,
            lambda: col.search(
                [{1: 1.0}], anns_field="sp", search_params={"drop_ratio_search": 1.0}
            ),
        ),
        "drop_ratio negative": (
            vs.IndexConfigError,
            lambda: col.search(
                ["alpha"], anns_field="bm", search_params={"drop_ratio_search": -0.1}
            ),
        ),
        "drop_ratio on dense": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"drop_ratio_search": 0.1}),
        ),
        "ef on sparse": (
            vs.IndexConfigError,
            lambda: col.search([{1: 1.0}], anns_field="sp", search_params={"ef": 10}),
        ),
        "range_filter without radius": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"range_filter": 0.5}),
        ),
        "range_filter on the wrong side (L2)": (
            vs.IndexConfigError,
            lambda: col.search(
                dq, anns_field="dl2", search_params={"radius": 1.0, "range_filter": 2.0}
            ),
        ),
        "range_filter on the wrong side (BM25)": (
            vs.IndexConfigError,
            lambda: col.search(
                ["alpha"], anns_field="bm", search_params={"radius": 2.0, "range_filter": 1.0}
            ),
        ),
        "radius not a number": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"radius": "0.5"}),
        ),
        "metric_type mismatch": (
            vs.IndexConfigError,
            lambda: col.search(["alpha"], anns_field="bm", search_params={"metric_type": "IP"}),
        ),
        "group_size without group_by_field": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_size=2),
        ),
        "group_size 0": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="doc", group_size=0),
        ),
        "group by DOUBLE": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="price"),
        ),
        "group by JSON": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="meta"),
        ),
        "group by a vector": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="dl2"),
        ),
        "group by unknown field": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="nope"),
        ),
        "weighted: too few weights": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense, ok_bm], vs.WeightedRanker(0.5)),
        ),
        "weighted: too many weights": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense, ok_bm], vs.WeightedRanker(0.5, 0.2, 0.3)),
        ),
        "requests with different query counts": (
            vs.DataError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=["a", "b"], anns_field="bm", limit=5)], vs.RRFRanker()
            ),
        ),
        "no requests": (vs.DataError, lambda: col.hybrid_search([], vs.RRFRanker())),
        "ranker not a ranker": (vs.DataError, lambda: col.hybrid_search([ok_dense], "rrf")),
        "bad request in a hybrid": (
            vs.DataError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=[{1: 1.0}], anns_field="bm")], vs.RRFRanker()
            ),
        ),
        "bad filter in a hybrid": (
            vs.FilterTypeError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=["a"], anns_field="bm", filter='doc == "x"')],
                vs.RRFRanker(),
            ),
        ),
        "hybrid limit 0": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense], vs.RRFRanker(), limit=0),
        ),
        "text_match on an integer": (
            vs.FilterTypeError,
            lambda: col.delete(filter='text_match(doc, "alpha")'),
        ),
    }


@pytest.fixture
def guarded(stores):
    db = stores.connect(segment_rows=20)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    col.create_partition("p")
    data = Data(seed=9, n=60)
    data.insert_into(col, ("_default", "p"))
    col.flush()
    col.delete(ids=[0, 1, 2])
    for k in (0, 1, 2):
        del data.rows[k]
    return db, col, data


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_bad_input_raises_and_changes_nothing(guarded, stores):
    db, col, data = guarded
    before = state(col)
    failures = []
    for name, (error, call) in _bad_calls(col, data).items():
        try:
            call()
        except error:
            pass
        except Exception as exc:  # reported below, by case
            failures.append(f"{name}: raised {type(exc).__name__}: {exc}")
            continue
        else:
            failures.append(f"{name}: no error")
            continue
        if state(col) != before:
            failures.append(f"{name}: the store changed")
    assert not failures, "\n".join(failures)
    db = stores.reopen(db)
    assert state(db.get_collection("c")) == before


def test_bad_sparse_indexes_create_nothing(stores):
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("t", DT.VARCHAR),
            vs.Field("s", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("t", "bm")],
    )
    for index in (
        vs.Index("s", "SPARSE_INVERTED_INDEX", "L2"),
        vs.Index("s", "SPARSE_INVERTED_INDEX", "BM25"),
        vs.Index("bm", "SPARSE_INVERTED_INDEX", "IP"),
        vs.Index("s", "HNSW", "IP"),
    ):
        with pytest.raises(vs.IndexConfigError):
            db.create_collection("c", schema=schema, indexes=[index])
        assert db.list_collections() == []
