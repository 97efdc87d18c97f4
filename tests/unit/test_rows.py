"""rows.py on its own: prepare_rows against a dict model, and its refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.rows import check_keys, prepare_rows

DT = vs.DataType
SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("v", DT.FLOAT_VECTOR, dim=3),
        vs.Field("i8", DT.INT8),
        vs.Field("x", DT.DOUBLE),
        vs.Field("ok", DT.BOOL),
        vs.Field("s", DT.VARCHAR, max_length=6, nullable=True),
        vs.Field("meta", DT.JSON, nullable=True),
        vs.Field("tags", DT.ARRAY, element_type=DT.INT64, max_capacity=3),
    ],
    enable_dynamic_field=True,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
row = st.fixed_dictionaries(
    {
        "v": st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3),
        "i8": st.integers(-128, 127),
        "x": st.floats(allow_nan=False, allow_infinity=False),
        "ok": st.booleans(),
        "s": st.none() | st.text(max_size=6),
        "meta": json_values,
        "tags": st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
    },
    optional={"extra": json_values, "n": st.integers()},
)


@settings(max_examples=150, deadline=None)
@given(st.lists(row, min_size=1, max_size=6))
def test_prepare_rows_holds_exactly_the_input(rows):
    rows = [{"id": i, **r} for i, r in enumerate(rows)]
    batch = prepare_rows(SCHEMA, rows)
    assert batch.num_rows == len(rows) and batch.pks == list(range(len(rows)))
    assert np.array_equal(batch.vectors["v"], np.array([r["v"] for r in rows], np.float32))
    assert batch.scalars["i8"].dtype == np.int8
    assert batch.scalars["i8"].tolist() == [r["i8"] for r in rows]
    assert batch.scalars["x"].tolist() == [r["x"] for r in rows]
    assert batch.scalars["ok"].tolist() == [r["ok"] for r in rows]
    assert batch.scalars["tags"].tolist() == [r["tags"] for r in rows]
    for name in ("s", "meta"):
        null = batch.nulls.get(name, np.zeros(len(rows), bool)).tolist()
        assert null == [r[name] is None for r in rows]
        kept = [v for v, z in zip(batch.scalars[name].tolist(), null, strict=True) if not z]
        assert kept == [r[name] for r in rows if r[name] is not None]
    assert batch.dynamic == [{k: v for k, v in r.items() if k in ("extra", "n")} for r in rows]
    half = batch.slice(1, len(rows))
    assert half.pks == batch.pks[1:] and half.num_rows == len(rows) - 1


GOOD = {"id": 1, "v": [0.0, 1.0, 2.0], "i8": 1, "x": 1.0, "ok": True, "s": "a", "tags": []}


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"i8": 128}, vs.DataError, "out of range for INT8"),
        ({"i8": True}, vs.DataError, "integer"),
        ({"x": math.nan}, vs.DataError, "finite"),
        ({"x": "1"}, vs.DataError, "number"),
        ({"ok": 1}, vs.DataError, "bool"),
        ({"s": "toolong!"}, vs.DataError, "max_length"),
        ({"tags": [1, 2, 3, 4]}, vs.DataError, "max_capacity"),
        ({"tags": [1, "2"]}, vs.DataError, r"tags'\]?\[1\]|integer"),
        ({"v": [0.0, 1.0]}, vs.DimensionMismatchError, "3"),
        ({"v": ["1", "2", "3"]}, vs.DataError, "numbers"),
        ({"v": [0.0, math.inf, 1.0]}, vs.DataError, "NaN or inf"),
        ({"meta": {"a": math.nan}}, vs.DataError, "JSON"),
        ({"i8": None}, vs.DataError, "missing|null"),
    ],
)
def test_a_bad_value_names_its_row_and_field(change, error, match):
    rows = [dict(GOOD), {**GOOD, "id": 2, **change}]
    with pytest.raises(error, match=match) as info:
        prepare_rows(SCHEMA, rows)
    assert "row 1" in str(info.value)


def test_duplicate_keys_and_unknown_fields():
    with pytest.raises(vs.DuplicateKeyError, match="row 1"):
        prepare_rows(SCHEMA, [GOOD, GOOD])
    strict = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=1)]
    )
    with pytest.raises(vs.DataError, match="extra"):
        prepare_rows(strict, [{"id": 1, "v": [1.0], "extra": 1}])


def test_check_keys():
    assert check_keys(SCHEMA, 5) == [5]
    assert check_keys(SCHEMA, np.int64(5)) == [5]
    assert check_keys(SCHEMA, (1, 2)) == [1, 2]
    for bad in (None, "5", {"id": 1}, [1, "2"], [True]):
        with pytest.raises(vs.DataError):
            check_keys(SCHEMA, bad)
