"""``ScalarIndex``: lookups against a scan of the same column, the edge cases the
random expressions rarely reach, and its life in a segment (built when sealed,
written, read back without sorting again, refused when edited)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import vectorstore as vs
from vectorstore import DataType
from vectorstore.columns import ColumnBatch, FieldType
from vectorstore.expr import compile_filter, evaluate
from vectorstore.index.scalar import ScalarIndex


def scan_and_indexed(values: np.ndarray, ftype: FieldType, text: str) -> tuple[list, list]:
    batch = ColumnBatch(len(values), {"x": ftype}, {"x": values})
    index = ScalarIndex.build(values, None, ftype.dtype)
    indexed = ColumnBatch(len(values), {"x": ftype}, {"x": values}, indexes={"x": index})
    expr = compile_filter(text)
    return evaluate(expr, batch).tolist(), evaluate(expr, indexed).tolist()


@pytest.mark.parametrize(
    "text",
    ["x == 0.1", "x < 0.1", "x >= 0.3", "x in [0.1, 0.7]", "x > 16777217", "x == 1"],
)
def test_float_fields_compare_in_float32_as_the_scan_does(text: str) -> None:
    values = np.array([0.1, 0.3, 0.7, 1.0, 16777216.0, 0.1], dtype=np.float32)
    scan, indexed = scan_and_indexed(values, FieldType(DataType.FLOAT), text)
    assert indexed == scan


@pytest.mark.parametrize(
    "text",
    [
        "x < 2.5",
        "x >= 2.0",
        "x in [2, 2.5, 9007199254740993]",
        "x == 9007199254740993",
        "x < 9223372036854775807",
        "x > -9223372036854775808",
        "x < 1e30",
    ],
)
def test_integer_fields_with_float_and_huge_constants(text: str) -> None:
    values = np.array([1, 2, 3, 9007199254740992, 9007199254740993, -5], dtype=np.int64)
    scan, indexed = scan_and_indexed(values, FieldType(DataType.INT64), text)
    assert indexed == scan


def test_array_contains_all_counts_a_row_once_per_needle() -> None:
    values = np.empty(4, dtype=object)
    values[:] = [[1, 1], [1, 2], [2, 2, 1], []]
    ftype = FieldType(DataType.ARRAY, DataType.INT64)
    for text in [
        "array_contains_all(x, [1, 2])",
        "array_contains_all(x, [1, 1])",
        "array_contains_any(x, [2, 9])",
        "array_contains(x, 1)",
        "array_contains_all(x, [])",
    ]:
        scan, indexed = scan_and_indexed(values, ftype, text)
        assert indexed == scan, text


def test_prefix_of_the_last_code_point_and_of_nothing() -> None:
    values = np.empty(4, dtype=object)
    values[:] = ["a\U0010ffff", "a\U0010ffffb", "b", ""]
    for text in ['x like "a\U0010ffff%"', 'x like "%"', 'x like "a%"', 'x like "b"']:
        scan, indexed = scan_and_indexed(values, FieldType(DataType.VARCHAR), text)
        assert indexed == scan, text


def _store(tmp_path: Path) -> tuple[vs.Client, vs.Collection]:
    db = vs.connect(str(tmp_path / "db"), segment_rows=100)
    schema = vs.Schema(
        [
            vs.Field("id", DataType.INT64, is_primary=True),
            vs.Field("vector", DataType.FLOAT_VECTOR, dim=2),
            vs.Field("tag", DataType.VARCHAR, max_length=8, nullable=True),
        ]
    )
    col = db.create_collection("c", schema=schema, indexes=[vs.Index("tag", "INVERTED")])
    rows = [
        {"id": i, "vector": [1.0, i], "tag": None if i % 9 == 0 else f"t{i % 13}"}
        for i in range(250)
    ]
    col.insert(rows)
    col.flush()
    return db, col


def _sealed(col: vs.Collection) -> list:
    return [s for s in col._state.segments(None) if s.sealed]  # type: ignore[attr-defined]


def test_sealed_segments_answer_from_the_index_and_keep_it_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, col = _store(tmp_path)
    want = sorted(r["id"] for r in col.query(filter='tag == "t3"', limit=None))
    assert want == [i for i in range(250) if i % 9 and i % 13 == 3]
    assert all("tag" in s.scalar_indexes for s in _sealed(col))
    db.close()
    # reopened: the sort order is read back, never sorted again
    monkeypatch.setattr(
        ScalarIndex, "build", classmethod(lambda *a: pytest.fail("index rebuilt on open"))
    )
    calls = []
    compare = ScalarIndex.compare
    monkeypatch.setattr(
        ScalarIndex, "compare", lambda self, *a: calls.append(a) or compare(self, *a)
    )
    db = vs.connect(str(tmp_path / "db"))
    col = db.get_collection("c")
    assert sorted(r["id"] for r in col.query(filter='tag == "t3"', limit=None)) == want
    assert calls == [("==", "t3")] * len(_sealed(col))
    assert sorted(r["id"] for r in col.query(filter="tag is null", limit=None)) == list(
        range(0, 250, 9)
    )
    db.close()


def test_an_index_file_that_does_not_fit_is_a_storage_error(tmp_path: Path) -> None:
    db, _ = _store(tmp_path)
    db.close()
    folder = tmp_path / "db" / "c"
    manifest = json.loads((tmp_path / "db" / "manifest.json").read_text())
    assert manifest  # the store is there
    files = sorted(folder.rglob("tag-*.sidx"))
    assert files
    target = files[0]
    np.save(str(target) + ".npy", np.zeros(3, dtype=np.int64), allow_pickle=False)
    os.replace(str(target) + ".npy", target)  # wrong length (checksums checked first)
    with pytest.raises(vs.StorageError, match="tag-"):
        vs.connect(str(tmp_path / "db")).get_collection("c")


@pytest.mark.parametrize(
    "order",
    [np.zeros(3, np.int64), np.array([0, 0, 1, 2], np.int64), np.arange(4, dtype=np.int32)],
)
def test_an_order_that_is_no_permutation_of_the_column_is_refused(
    tmp_path: Path, order: np.ndarray
) -> None:
    values = np.array([4, 1, 3, 2], dtype=np.int64)
    path = str(tmp_path / "x.sidx")
    with open(path, "wb") as f:
        np.save(f, order, allow_pickle=False)
    with pytest.raises(vs.StorageError, match="does not fit"):
        ScalarIndex.load(path, values, None, DataType.INT64)
    ScalarIndex.build(values, None, DataType.INT64).save(path)
    assert ScalarIndex.load(path, values, None, DataType.INT64).compare("<", 3).tolist() == [1, 3]
