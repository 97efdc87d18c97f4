"""Scalar indexes (Milvus's INVERTED, STL_SORT, Trie, BITMAP) on every backend:
created, described, kept across a reopen and dropped, and never changing what a
filter returns (checked against a plain-Python model of the rows).

The embedded engine answers ``==``, ``in``, ranges, prefix ``like`` and
``array_contains`` from them; ``tests/property/test_scalar_index_reference.py``
checks that against the reference evaluator with random expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import vectorstore as vs
from vectorstore import DataType

N = 3000
RNG = np.random.default_rng(11)
ROWS = [
    {
        "id": i,
        "vector": RNG.normal(size=4).tolist(),
        "tag": f"t{RNG.integers(0, 40):02d}",
        "n": int(RNG.integers(-50, 50)),
        "score": round(float(RNG.random()), 3),
    }
    for i in range(N)
]

# filter -> the rows it keeps, in plain Python
CASES: dict[str, Callable[[dict[str, Any]], bool]] = {
    'tag == "t07"': lambda r: r["tag"] == "t07",
    'tag != "t07"': lambda r: r["tag"] != "t07",
    'tag in ["t01", "t02", "t39", "zz"]': lambda r: r["tag"] in ("t01", "t02", "t39"),
    'tag like "t1%"': lambda r: r["tag"].startswith("t1"),
    'tag >= "t35"': lambda r: r["tag"] >= "t35",
    "n == 7": lambda r: r["n"] == 7,
    "n in [1, 2, 3]": lambda r: r["n"] in (1, 2, 3),
    "n > 10 and n <= 20": lambda r: 10 < r["n"] <= 20,
    "-5 <= n < 5": lambda r: -5 <= r["n"] < 5,
    "not (n < 40)": lambda r: not r["n"] < 40,
    "score < 0.25": lambda r: r["score"] < 0.25,
    "score >= 0.5 and n > 0": lambda r: r["score"] >= 0.5 and r["n"] > 0,
    'tag == "t03" or n == -50': lambda r: r["tag"] == "t03" or r["n"] == -50,
}
INDEXES = [vs.Index("tag", "INVERTED"), vs.Index("n", "STL_SORT"), vs.Index("score", "INVERTED")]


def fields() -> list[vs.Field]:
    return [
        vs.Field("id", DataType.INT64, is_primary=True),
        vs.Field("vector", DataType.FLOAT_VECTOR, dim=4),
        vs.Field("tag", DataType.VARCHAR, max_length=8),
        vs.Field("n", DataType.INT64),
        vs.Field("score", DataType.DOUBLE),
        vs.Field("meta", DataType.JSON),
    ]


def assert_filters_match(col: Any) -> None:
    for text, keep in CASES.items():
        got = sorted(r["id"] for r in col.query(filter=text, output_fields=["id"], limit=None))
        assert got == [r["id"] for r in ROWS if keep(r)], text
    hits = col.search([ROWS[0]["vector"]], limit=5, filter='tag == "t07" and n > 0')[0]
    want = {r["id"] for r in ROWS if r["tag"] == "t07" and r["n"] > 0}
    assert hits and {h.id for h in hits} <= want


def test_scalar_indexes_keep_every_filter_answer(stores: Any) -> None:
    db = stores.connect(segment_rows=1000)  # sealed segments (indexed) and a growing one
    col = db.create_collection(
        "s", schema=vs.Schema(fields()), indexes=[vs.Index("vector", "FLAT", "L2"), *INDEXES]
    )
    col.insert([{**r, "meta": {}} for r in ROWS[:2500]])
    col.flush()
    col.insert([{**r, "meta": {}} for r in ROWS[2500:]])
    assert_filters_match(col)
    described = {i["field"]: i for i in col.describe()["indexes"]}
    assert {f: described[f]["index_type"] for f in ("tag", "n", "score")} == {
        "tag": "INVERTED",
        "n": "STL_SORT",
        "score": "INVERTED",
    }
    assert described["tag"]["metric"] is None and described["tag"]["params"] == {}
    db = stores.reopen(db)
    col = db.get_collection("s")
    assert {i.field: i for i in col.indexes}["n"] == vs.Index("n", "STL_SORT")
    assert_filters_match(col)
    col.drop_index("tag")
    assert "tag" not in {i.field for i in col.indexes}
    assert_filters_match(col)
    col.create_index("tag", "Trie")  # on a live collection
    assert {i.field: i.index_type for i in col.indexes}["tag"] == "Trie"
    assert_filters_match(col)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (vs.Index("meta", "INVERTED"), "JSON fields are not indexed"),
        (vs.Index("tag", "STL_SORT"), "use INVERTED or Trie or BITMAP"),
        (vs.Index("n", "Trie"), "use INVERTED or STL_SORT or BITMAP"),
        (vs.Index("score", "BITMAP"), "use INVERTED or STL_SORT"),
        (vs.Index("id", "BITMAP"), "primary key"),
        (vs.Index("tag", "HNSW"), "is a vector index"),
        (vs.Index("vector", "INVERTED"), "is a scalar index"),
    ],
)
def test_scalar_indexes_that_do_not_fit_are_refused(db: Any, index: vs.Index, message: str) -> None:
    with pytest.raises(vs.IndexConfigError, match=message):
        db.create_collection("s", schema=vs.Schema(fields()), indexes=[index])
    assert db.list_collections() == []
    col = db.create_collection("s", schema=vs.Schema(fields()))
    col.insert([{**r, "meta": {}} for r in ROWS[:10]])
    before = col.describe()
    with pytest.raises(vs.IndexConfigError, match=message):
        col.create_index(index)
    assert col.describe() == before
    with pytest.raises(vs.IndexConfigError, match="has no index"):
        col.drop_index("tag")


def test_scalar_index_names_and_arguments() -> None:
    assert vs.Index("tag", "trie").index_type == "Trie"
    assert vs.Index("n", "stl_sort") == vs.Index("n", "STL_SORT")
    schema = vs.Schema(fields())
    assert vs.Index("tag", "AUTOINDEX").fit(schema) == vs.Index("tag", "INVERTED")
    with pytest.raises(vs.IndexConfigError, match="takes no metric or parameters"):
        vs.Index("tag", "INVERTED", "L2")
    with pytest.raises(vs.IndexConfigError, match="takes no metric or parameters"):
        vs.Index("tag", "INVERTED", nlist=4)
    with pytest.raises(vs.IndexConfigError, match="takes no metric"):
        vs.Index("tag", "AUTOINDEX", "COSINE").fit(schema)


@pytest.mark.needs_milvus("2.4", "INVERTED scalar indexes (on BOOL and ARRAY fields)")
@pytest.mark.milvus_differs(
    reason="Milvus Lite's INVERTED index takes no ARRAY field", raises=vs.NotSupportedError
)
def test_bool_and_array_fields_take_inverted_and_bitmap(stores: Any) -> None:
    db = stores.connect(segment_rows=500)
    schema = vs.Schema(
        [
            *fields()[:2],
            vs.Field("flag", DataType.BOOL),
            vs.Field("nums", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4),
        ]
    )
    rows = [
        {"id": i, "vector": [1.0, 0, 0, i], "flag": i % 3 == 0, "nums": [i % 5, i % 7]}
        for i in range(1200)
    ]
    col = db.create_collection(
        "b", schema=schema, indexes=[vs.Index("flag", "BITMAP"), vs.Index("nums", "INVERTED")]
    )
    col.insert(rows)
    col.flush()
    cases: dict[str, Callable[[dict[str, Any]], bool]] = {
        "flag == true": lambda r: r["flag"],
        "flag != true": lambda r: not r["flag"],
        "array_contains(nums, 4)": lambda r: 4 in r["nums"],
        "array_contains_any(nums, [0, 6])": lambda r: 0 in r["nums"] or 6 in r["nums"],
        "array_contains_all(nums, [1, 3])": lambda r: 1 in r["nums"] and 3 in r["nums"],
        "flag == false and array_contains(nums, 2)": lambda r: not r["flag"] and 2 in r["nums"],
    }
    for text, keep in cases.items():
        got = sorted(r["id"] for r in col.query(filter=text, output_fields=["id"], limit=None))
        assert got == [r["id"] for r in rows if keep(r)], text
