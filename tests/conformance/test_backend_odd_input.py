"""Odd input that used to escape as a library exception (issue 14, defects 5 and 7):
each is one of our errors naming what was wrong, and changes nothing."""

from __future__ import annotations

import pytest

import vectorstore as vs

DT = vs.DataType


@pytest.fixture
def col(db):
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=3),
            vs.Field("f", DT.FLOAT),  # no nullable fields: they need Milvus 2.5
            vs.Field("meta", DT.JSON),
        ],
        enable_dynamic_field=True,
    )
    col = db.create_collection("odd", schema=schema)
    col.insert([{"id": 1, "v": [1.0, 0.0, 0.0], "f": 1.5, "meta": {}}])
    return col


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"id": 2, "v": ["1", "1", "1"]}, "numbers"),
        ({"id": 2, "v": [True, False, True]}, "numbers"),
        ({"id": 2, "v": [10**400, 0, 0]}, "numbers"),
        ({"id": 2, "v": [1.0, 0.0, 0.0], "f": 10**400}, "not a finite FLOAT"),
        ({"id": 2, "v": [1.0, 0.0, 0.0], "meta": nested(5000)}, "nested too deeply"),
        ({"id": 2, "v": [1.0, 0.0, 0.0], "extra": nested(5000)}, "nested too deeply"),
    ],
)
def test_bad_rows_are_data_errors_and_change_nothing(col, row, match):
    with pytest.raises(vs.DataError, match=match):
        col.insert([{"f": 0.5, "meta": {}, **row}])
    assert col.count() == 1 and col.get([2]) == []


@pytest.mark.parametrize("ids", [None, {"id": 1}, 1.5, b"1", object()])
def test_get_and_delete_take_keys_only(col, ids):
    with pytest.raises(vs.DataError, match="ids"):
        col.get(ids)
    with pytest.raises(vs.DataError, match="ids"):
        col.delete(ids=ids) if ids is not None else col.query("", ids={"id": 1})
    assert col.count() == 1


def test_output_fields_must_be_a_list(col):
    with pytest.raises(vs.DataError, match=r"\['f'\]"):
        col.query("", output_fields="f")
    with pytest.raises(vs.DataError, match="list of field names"):
        col.get([1], output_fields="f")
    assert col.query("", output_fields=["f"]) == [{"id": 1, "f": 1.5}]


def test_column_batches_insert_and_upsert_as_rows(db):
    """A dict of columns (numpy arrays, lists) is a batch, on every backend."""
    import numpy as np

    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=2),
            vs.Field("n", vs.DataType.INT32),
            vs.Field("s", vs.DataType.VARCHAR, max_length=8),
        ]
    )
    col = db.create_collection("cols", schema=schema)
    ids = col.insert(
        {
            "id": np.arange(6),
            "vector": np.arange(12, dtype=np.float32).reshape(6, 2) + 1,
            "n": np.arange(6) * 10,
            "s": [f"s{i}" for i in range(6)],
        }
    )
    assert ids == list(range(6))
    col.upsert({"id": [2], "vector": [[9.0, 9.0]], "n": [7], "s": ["new"]})
    with pytest.raises(vs.DataError, match="row 1, field 'n'"):
        col.insert({"id": [10, 11], "vector": [[1.0, 1.0]] * 2, "n": [1, 2**40], "s": ["a", "b"]})
    rows = sorted(col.query("id >= 0", output_fields=["n", "s"]), key=lambda r: r["id"])
    assert [(r["id"], r["n"], r["s"]) for r in rows] == [
        (i, 7 if i == 2 else i * 10, "new" if i == 2 else f"s{i}") for i in range(6)
    ]
