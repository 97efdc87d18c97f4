"""Column batches (a dict of columns, a pandas DataFrame, a pyarrow Table)
against the rows they hold: the same batch, or the same error.

The reference is the row path (``prepare_rows`` on a list of dicts). Hypothesis
draws rows with values that are right, out of range, of the wrong type, NaN or
missing; the same values as columns (lists, and numpy arrays where numpy can
hold them) must give an equal ``RowBatch`` or the same error, message and all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.rows import RowBatch, prepare_rows

DT = vs.DataType

SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("v", DT.FLOAT_VECTOR, dim=3),
        vs.Field("small", DT.INT8, nullable=True),
        vs.Field("f", DT.FLOAT),
        vs.Field("d", DT.DOUBLE, default_value=0.5),
        vs.Field("flag", DT.BOOL),
        vs.Field("s", DT.VARCHAR, max_length=4),
        vs.Field("tags", DT.ARRAY, element_type=DT.INT64, max_capacity=3),
        vs.Field("meta", DT.JSON),
    ],
    enable_dynamic_field=True,
)

ints = st.integers(-300, 300)
floats = st.one_of(st.floats(-1e39, 1e39), st.sampled_from([math.nan, math.inf]), ints)
values = {
    "id": st.one_of(st.integers(0, 30), st.just("x")),
    "v": st.one_of(
        st.lists(st.floats(-2, 2), min_size=3, max_size=3),
        st.lists(st.floats(-2, 2), min_size=2, max_size=2),
        st.just([1.0, float("nan"), 0.0]),
    ),
    "small": st.one_of(ints, st.none(), st.just(1.5)),
    "f": floats,
    "d": st.one_of(floats, st.none()),
    "flag": st.one_of(st.booleans(), st.just(1)),
    "s": st.one_of(st.text(max_size=6), st.just(3)),
    "tags": st.lists(ints, max_size=4),
    "meta": st.one_of(st.none(), st.dictionaries(st.text(max_size=3), ints, max_size=2)),
    "extra": st.one_of(st.none(), ints, st.text(max_size=3)),
}


def row_strategy() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({k: v for k, v in values.items()})


def outcome(data: Any) -> Any:
    try:
        return prepare_rows(SCHEMA, data)
    except vs.VectorStoreError as exc:
        return type(exc).__name__, str(exc)


def same(a: Any, b: Any) -> None:
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b
        return
    assert isinstance(a, RowBatch) and isinstance(b, RowBatch)
    assert a.num_rows == b.num_rows and a.pks == b.pks and a.dynamic == b.dynamic
    assert a.scalars.keys() == b.scalars.keys() and a.nulls.keys() == b.nulls.keys()
    for name, col in a.scalars.items():
        assert col.dtype == b.scalars[name].dtype, name
        assert col.tolist() == b.scalars[name].tolist(), name
    for name, mask in a.nulls.items():
        assert mask.tolist() == b.nulls[name].tolist()
    for name, vec in a.vectors.items():
        assert np.array_equal(vec, b.vectors[name]) and vec.dtype == b.vectors[name].dtype


def as_dict_of_lists(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [r[k] for r in rows] for k in rows[0]}


def as_dict_of_arrays(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Numeric columns as numpy arrays where every value is a plain number of one
    kind (the fast path), the rest as lists."""
    out: dict[str, Any] = {}
    for k, col in as_dict_of_lists(rows).items():
        kinds = {type(v) for v in col}
        if kinds == {int} and all(-(2**63) <= v < 2**63 for v in col):
            out[k] = np.array(col, dtype=np.int64)
        elif kinds == {float}:
            out[k] = np.array(col, dtype=np.float64)
        elif kinds == {bool}:
            out[k] = np.array(col, dtype=bool)
        elif k == "v" and all(len(v) == 3 for v in col):
            out[k] = np.array(col, dtype=np.float64)
        else:
            out[k] = col
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row_strategy(), min_size=1, max_size=6))
def test_columns_are_checked_as_the_rows_they_hold(rows: list[dict[str, Any]]) -> None:
    reference = outcome([{k: v for k, v in r.items() if v is not None} for r in rows])
    same(reference, outcome(as_dict_of_lists(rows)))
    same(reference, outcome(as_dict_of_arrays(rows)))


def test_a_row_with_a_list_field_is_still_a_row() -> None:
    """One dict is a row unless one of its values could not be a row's."""
    row = {"id": 1, "v": [0.1, 0.2, 0.3], "f": 1.0, "flag": True, "s": "a", "tags": [1, 2]}
    row["meta"] = [1, 2]
    batch = prepare_rows(SCHEMA, row)
    assert batch.num_rows == 1 and batch.scalars["tags"][0] == [1, 2]


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(vs.DataError, match="column 'f' has 1 values, column 'id' has 2"):
        prepare_rows(SCHEMA, {"id": [1, 2], "f": [1.0]})


def frames_of(rows: list[dict[str, Any]]) -> list[Any]:
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    columns = as_dict_of_lists(rows)
    table = pa.table(
        {
            "id": pa.array(columns["id"], pa.int64()),
            "v": pa.array(columns["v"], pa.list_(pa.float32(), 3)),
            "f": pa.array(columns["f"], pa.float32()),
            "flag": pa.array(columns["flag"]),
            "s": pa.array(columns["s"]),
            "tags": pa.array(columns["tags"]),
        }
    )
    return [pd.DataFrame(columns), table]


@pytest.mark.parametrize("kind", ["DataFrame", "Table"])
def test_dataframes_and_arrow_tables_insert_as_rows(tmp_path: Any, kind: str) -> None:
    rows = [
        {"id": i, "v": [float(i), 1.0, -1.0], "f": i / 4, "flag": i % 2 == 0, "s": f"s{i}"}
        | {"tags": list(range(i % 3))}
        for i in range(50)
    ]
    frame = frames_of(rows)[0 if kind == "DataFrame" else 1]
    schema = vs.Schema([f for f in SCHEMA.fields if f.name not in ("small", "meta")])
    with vs.connect(str(tmp_path / "s")) as db:
        by_rows = db.create_collection("rows", schema=schema)
        by_rows.insert(rows)
        by_columns = db.create_collection("cols", schema=schema)
        assert by_columns.insert(frame) == list(range(50))
        assert by_columns.query("", output_fields=["*"]) == by_rows.query("", output_fields=["*"])
        bad = frames_of([{**r, "s": "toolong"} if r["id"] == 7 else r for r in rows])
        with pytest.raises(vs.DataError, match="row 7, field 's'"):
            by_columns.upsert(bad[0 if kind == "DataFrame" else 1])
        assert by_columns.count() == 50 and by_columns.get(7)[0]["s"] == "s7"


def test_a_float_column_with_nan_names_the_row() -> None:
    cols = {"id": np.arange(4), "v": np.ones((4, 3)), "f": np.array([0, 1, math.nan, 2.0])}
    cols |= {"flag": np.ones(4, dtype=bool), "s": ["a"] * 4, "tags": [[]] * 4}
    with pytest.raises(vs.DataError, match=r"row 2, field 'f': nan is not a finite FLOAT"):
        prepare_rows(SCHEMA, cols)
