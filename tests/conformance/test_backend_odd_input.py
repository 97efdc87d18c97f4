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
