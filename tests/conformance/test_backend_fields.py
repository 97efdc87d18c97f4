"""Fields and what rows look like going in and out: nullable fields and default
values, dynamic fields, auto_id, VARCHAR primary keys, ARRAY and JSON values,
inputs and outputs that must not alias the store, numpy inputs, int64 key extremes."""

from __future__ import annotations

import copy

import pytest
from helpers.tiny_schema import VEC, base_fields, vec
from lite_differences import DYNAMIC_KEY_ORDER, JSON_SCALAR

import vectorstore as vs

DT = vs.DataType


# ------------------------------------------------------- nullable / defaults
def nullable_collection(db):
    schema = vs.Schema(
        base_fields(
            vs.Field("views", DT.INT64, nullable=True),
            vs.Field("title", DT.VARCHAR, max_length=20, default_value="untitled"),
            vs.Field("rank", DT.DOUBLE, nullable=True, default_value=0.5),
            vs.Field("flag", DT.BOOL, nullable=True),
            vs.Field("tags", DT.ARRAY, element_type=DT.INT64, nullable=True),
            vs.Field("meta", DT.JSON, nullable=True),
            vs.Field("required", DT.INT32),
        )
    )
    return db.create_collection("c", schema=schema)


@pytest.mark.needs_milvus("2.5", "nullable fields and default values")
def test_nullable_and_default_values(db, reopen):
    col = nullable_collection(db)
    col.insert(
        [
            {"id": 1, "vector": vec(1), "required": 1},  # everything omitted
            {
                "id": 2,
                "vector": vec(2),
                "required": 2,
                "views": None,
                "title": None,
                "rank": None,
                "flag": None,
                "tags": None,
                "meta": None,
            },
            {
                "id": 3,
                "vector": vec(3),
                "required": 3,
                "views": 7,
                "title": "t",
                "rank": 2.0,
                "flag": False,
                "tags": [1],
                "meta": {"a": 1},
            },
            {
                "id": 4,
                "vector": vec(4),
                "required": 4,
                "views": 0,
                "flag": True,
                "tags": [],
                "meta": {},
            },
        ]
    )
    expected = [
        {
            "id": 1,
            "required": 1,
            "views": None,
            "title": "untitled",
            "rank": 0.5,
            "flag": None,
            "tags": None,
            "meta": None,
        },
        {
            "id": 2,
            "required": 2,
            "views": None,
            "title": "untitled",
            "rank": 0.5,
            "flag": None,
            "tags": None,
            "meta": None,
        },
        {
            "id": 3,
            "required": 3,
            "views": 7,
            "title": "t",
            "rank": 2.0,
            "flag": False,
            "tags": [1],
            "meta": {"a": 1},
        },
        {
            "id": 4,
            "required": 4,
            "views": 0,
            "title": "untitled",
            "rank": 0.5,
            "flag": True,
            "tags": [],
            "meta": {},
        },
    ]
    assert col.get([1, 2, 3, 4]) == expected
    col.flush()
    assert col.get([1, 2, 3, 4]) == expected
    db = reopen(db)
    assert db.get_collection("c").get([1, 2, 3, 4]) == expected


@pytest.mark.needs_milvus("2.5", "nullable fields and default values")
def test_missing_required_field(db, snapshot):
    col = nullable_collection(db)
    before = snapshot(col)
    with pytest.raises(vs.DataError, match="required"):
        col.insert({"id": 1, "vector": vec(1)})
    with pytest.raises(vs.DataError, match="required"):
        col.insert({"id": 1, "vector": vec(1), "required": None})
    assert snapshot(col) == before


# ------------------------------------------------------------ dynamic fields
def test_dynamic_fields_round_trip_as_top_level_keys(db, reopen):
    col = db.create_collection("c", dimension=4)
    rows = [
        {"id": 1, "vector": vec(1), "color": "red", "size": 3, "nested": {"a": [1, {"b": None}]}},
        {"id": 2, "vector": vec(2)},
        {"id": 3, "vector": vec(3), "color": "blue", "ok": True, "x": 1.5, "lst": [1, "a"]},
    ]
    col.insert(rows)
    expected = [{k: v for k, v in r.items() if k != "vector"} for r in rows]
    assert col.get([1, 2, 3]) == expected
    assert sorted(col.query(), key=lambda r: r["id"]) == expected
    assert col.get([1, 2, 3], output_fields=["color"]) == [
        {"id": 1, "color": "red"},
        {"id": 2},
        {"id": 3, "color": "blue"},
    ]
    full = col.get([1], output_fields=["*"])[0]
    assert full == {**rows[0], "vector": pytest.approx(rows[0]["vector"])}
    assert "$meta" not in full
    col.flush()
    db = reopen(db)
    col = db.get_collection("c")
    assert col.get([1, 2, 3]) == expected


def test_dynamic_meta_key_is_reserved(db, snapshot):
    col = db.create_collection("c", dimension=4)
    before = snapshot(col)
    with pytest.raises(vs.DataError):
        col.insert({"id": 1, "vector": VEC, "$meta": {"a": 1}})
    with pytest.raises(vs.DataError):  # dynamic values must be JSON
        col.insert({"id": 1, "vector": VEC, "when": object()})
    with pytest.raises(vs.DataError):
        col.insert({"id": 1, "vector": VEC, "bad": float("nan")})
    assert snapshot(col) == before


def test_unknown_output_field_without_dynamic_fields(db):
    col = db.create_collection("c", schema=vs.Schema(base_fields()))
    col.insert({"id": 1, "vector": VEC})
    with pytest.raises(vs.DataError):
        col.get([1], output_fields=["nope"])
    with pytest.raises(vs.DataError):
        col.query(output_fields=["nope"])


# ------------------------------------------------------------------ auto_id
def test_auto_id(db, reopen, snapshot):
    col = db.create_collection("c", dimension=4, auto_id=True)
    first = col.insert([{"vector": vec(i), "n": i} for i in range(50)])
    second = col.insert([{"vector": vec(i), "n": 100 + i} for i in range(50)])
    ids = first + second
    assert all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    assert len(set(ids)) == 100
    assert all(-(2**63) <= i < 2**63 for i in ids)
    assert [r["n"] for r in col.get(first)] == list(range(50))
    before = snapshot(col)
    with pytest.raises(vs.DataError):
        col.insert({"id": 5, "vector": VEC})
    with pytest.raises(vs.DataError):
        col.insert([{"vector": VEC}, {"id": 5, "vector": VEC}])
    with pytest.raises(vs.DataError):
        col.upsert({"id": first[0], "vector": VEC})
    assert snapshot(col) == before
    db = reopen(db)
    col = db.get_collection("c")
    assert snapshot(col) == before


@pytest.mark.parametrize("auto_id", [False, True])
def test_empty_batches_are_a_no_op(db, snapshot, auto_id):
    col = db.create_collection("c", dimension=4, auto_id=auto_id)
    before = snapshot(col)
    assert col.insert([]) == []
    if not auto_id:
        assert col.upsert([]) == []
    assert snapshot(col) == before


# ---------------------------------------------------------- VARCHAR primary keys
def test_varchar_primary_keys(db, reopen, snapshot):
    col = db.create_collection("c", dimension=4, id_type="str")
    keys = ["a", "b", "ünïcode", "with space", "0", "x" * 100]
    assert col.insert([{"id": k, "vector": vec(i)} for i, k in enumerate(keys)]) == keys
    assert [r["id"] for r in col.get(keys[::-1])] == keys[::-1]
    assert col.delete(ids=["a", "missing"]) == 1
    col.upsert({"id": "b", "vector": vec(9), "v": 2})
    assert col.get("b") == [{"id": "b", "v": 2}]
    hits = col.search([vec(9)], limit=1)[0]
    assert hits[0].id == "b"
    before = snapshot(col)
    with pytest.raises(vs.DataError):
        col.insert({"id": 3, "vector": VEC})
    with pytest.raises(vs.DataError):
        col.insert({"id": "", "vector": VEC})
    with pytest.raises(vs.DataError):
        col.get([3])
    assert snapshot(col) == before
    db = reopen(db)
    assert snapshot(db.get_collection("c")) == before


def test_varchar_primary_key_max_length(db, snapshot):
    schema = vs.Schema(
        [
            vs.Field("pk", DT.VARCHAR, is_primary=True, max_length=3),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        ]
    )
    col = db.create_collection("c", schema=schema)
    col.insert({"pk": "abc", "vector": VEC})
    before = col.query(output_fields=["*"])
    with pytest.raises(vs.DataError):
        col.insert({"pk": "abcd", "vector": VEC})
    assert col.query(output_fields=["*"]) == before
    assert col.get("abc") == [{"pk": "abc"}]


# ------------------------------------------------------------ ARRAY / JSON
def rich_collection(db):
    schema = vs.Schema(
        base_fields(
            vs.Field("ints", DT.ARRAY, element_type=DT.INT64, max_capacity=5),
            vs.Field("floats", DT.ARRAY, element_type=DT.DOUBLE, max_capacity=5),
            vs.Field("bools", DT.ARRAY, element_type=DT.BOOL, max_capacity=5),
            vs.Field("strs", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=5, max_length=10),
            vs.Field("meta", DT.JSON),
            vs.Field("i8", DT.INT8),
            vs.Field("f32", DT.FLOAT),
        ),
        enable_dynamic_field=True,
    )
    return db.create_collection("c", schema=schema)


ROW = {
    "id": 1,
    "vector": [0.5, -0.25, 1.0, 2.0],
    "ints": [1, -2, 2**62],
    "floats": [0.5, -1.25],
    "bools": [True, False],
    "strs": ["a", "ü", ""],
    "meta": {"a": [1, 2, {"b": "c"}], "n": None, "f": 1.5, "t": True, "s": "x"},
    "i8": -128,
    "f32": 0.25,
    "extra": {"k": [1, 2]},
}


JSON_ANY = pytest.mark.needs_milvus("2.4", "JSON values other than objects")


@pytest.mark.parametrize(
    "meta",
    [
        {"a": 1},
        pytest.param([1, "two", None], marks=JSON_ANY),
        pytest.param("text", marks=[JSON_SCALAR, JSON_ANY]),
        pytest.param(3, marks=[JSON_SCALAR, JSON_ANY]),
        pytest.param(2.5, marks=[JSON_SCALAR, JSON_ANY]),
        pytest.param(True, marks=[JSON_SCALAR, JSON_ANY]),
        {},
    ],
)
def test_json_values_of_every_kind(db, reopen, meta):
    col = rich_collection(db)
    col.insert({**ROW, "meta": meta})
    db = reopen(db)
    assert db.get_collection("c").get(1, output_fields=["meta"]) == [{"id": 1, "meta": meta}]


def test_array_and_json_round_trip(db, reopen):
    col = rich_collection(db)
    col.insert(ROW)
    assert col.get(1, output_fields=["*"]) == [ROW]
    col.flush()
    assert col.get(1, output_fields=["*"]) == [ROW]
    db = reopen(db)
    assert db.get_collection("c").get(1, output_fields=["*"]) == [ROW]


def test_mutating_the_input_after_insert_changes_nothing(db):
    col = rich_collection(db)
    row = copy.deepcopy(ROW)
    col.insert(row)
    row["meta"]["a"].append(99)
    row["meta"]["new"] = 1
    row["ints"].append(5)
    row["strs"][0] = "zz"
    row["extra"]["k"].append(3)
    row["vector"][0] = 100.0
    assert col.get(1, output_fields=["*"]) == [ROW]
    upserted = copy.deepcopy(ROW)
    col.upsert(upserted)
    upserted["meta"]["a"].clear()
    assert col.get(1, output_fields=["*"]) == [ROW]


@pytest.mark.parametrize("flushed", [False, True])
def test_mutating_a_returned_row_changes_nothing(db, flushed):
    col = rich_collection(db)
    col.insert(copy.deepcopy(ROW))
    if flushed:
        col.flush()
    got = col.get(1)[0]
    got["meta"]["a"].append(99)
    got["extra"]["k"].append(3)
    got["ints"].append(7)
    [queried] = col.query()
    queried["meta"]["s"] = "changed"
    [[hit]] = col.search([ROW["vector"]], limit=1, output_fields=["meta", "strs"])
    hit.entity["meta"]["f"] = 0
    hit.entity["strs"].append("q")
    assert col.get(1, output_fields=["*"]) == [ROW]


def test_numpy_inputs_are_accepted(db):
    import numpy as np

    col = rich_collection(db)
    row = {
        **ROW,
        "id": np.int64(1),
        "vector": np.asarray(ROW["vector"], dtype=np.float64),
        "ints": np.asarray([1, 2], dtype=np.int32),
        "i8": np.int8(3),
        "f32": np.float32(0.5),
    }
    assert col.insert(row) == [1]
    got = col.get(1, output_fields=["*"])[0]
    assert type(got["id"]) is int and got["ints"] == [1, 2] and got["i8"] == 3
    assert got["vector"] == ROW["vector"]


@pytest.mark.needs_milvus("2.5", "the largest int64 as a primary key")
def test_int64_key_extremes(stores):
    db = stores.connect(segment_rows=2)
    col = db.create_collection("c", dimension=2, metric="L2")
    ids = [-(2**63), 2**63 - 1, 0, -1, 2**53 + 1]
    col.insert([{"id": k, "vector": [float(i), 0.0]} for i, k in enumerate(ids)])
    for _ in range(2):
        assert [r["id"] for r in col.get(ids)] == ids
        assert [h.id for h in col.search([[0.0, 0.0]], limit=5)[0]] == ids
        db = stores.reopen(db)
        col = db.get_collection("c")
    assert col.delete(ids=[-1, 2**63 - 1]) == 2
    assert sorted(r["id"] for r in col.query()) == sorted([-(2**63), 0, 2**53 + 1])


@DYNAMIC_KEY_ORDER
def test_dynamic_keys_keep_the_rows_order(db: vs.Client) -> None:
    col = db.create_collection("dyn_order", dimension=2)
    keys = [f"k{i}" for i in (5, 1, 9, 3, 7, 2)]
    col.insert([{"id": 1, "vector": [1.0, 0.0], **{k: i for i, k in enumerate(keys)}}])
    assert [k for k in col.get([1])[0] if k.startswith("k")] == keys
