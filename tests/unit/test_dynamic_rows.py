"""Rows without dynamic keys, and the JSON-lines files the dynamic column is stored in.

A collection with dynamic fields (the quick-setup default) keeps each row's
undeclared keys. Rows without any share one empty dict (``rows.NO_KEYS``) rather
than holding one each, and the column's file is parsed in chunks rather than a
``json.loads`` per line; both must be invisible: the same rows, filters and
errors as before, and nothing a caller does to what it gets back reaches the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.rows import NO_KEYS
from vectorstore.scalars import MAX_JSON_DEPTH
from vectorstore.storage import files

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(JSON, max_size=30), chunk=st.integers(1, 7))
def test_read_jsonl_returns_what_write_jsonl_wrote(
    tmp_path_factory: pytest.TempPathFactory, values: list[Any], chunk: int
) -> None:
    path = tmp_path_factory.mktemp("jsonl") / "values.jsonl"
    old = files._JSONL_CHUNK, files._JSONL_READ_BYTES
    files._JSONL_CHUNK, files._JSONL_READ_BYTES = chunk, chunk * 7  # edges anywhere
    try:
        files.write_jsonl(str(path), values)
        got = files.read_jsonl(str(path))
    finally:
        files._JSONL_CHUNK, files._JSONL_READ_BYTES = old
    # The reference: one json.loads per line, as the files were always read.
    with open(path, "rb") as f:
        assert got == [json.loads(line) for line in f] == values


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}\n\n{}\n',  # an empty line
        "1,2\n3\n",  # two values on one line
        "[1,\n2]\n",  # one value over two lines
        '{"a":\n',  # a torn value
        "{}\n{\n",  # a torn last line
        "\n",  # nothing but an empty line
    ],
)
def test_read_jsonl_refuses_lines_that_are_not_one_value_each(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError):
        files.read_jsonl(str(path))


def stored_dynamic(col: vs.Collection) -> list[Any]:
    segments = [s for p in col._state.partitions.values() for s in p]
    return [d for s in segments for d in s.dynamic.view.tolist()]


def test_keyless_rows_share_one_dict_and_callers_cannot_change_it(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    ids = np.arange(6)
    vectors = np.eye(6, 4, dtype=np.float32) + 0.5
    with vs.connect(path) as db:
        col = db.create_collection("docs", dimension=4)
        col.insert({"id": ids[:3], "vector": vectors[:3]})  # columns, no extra keys
        col.insert([{"id": 3, "vector": vectors[3]}, {"id": 4, "vector": vectors[4], "tag": "x"}])
        col.insert([{"id": 5, "vector": vectors[5]}])
        stored = stored_dynamic(col)
        assert [d is NO_KEYS for d in stored] == [True, True, True, True, False, True]
        # What callers get are copies: changing them changes nothing stored.
        for row in col.query("id >= 0", output_fields=["*"]):
            row["tag"] = "changed"
        for hit in col.search(vectors[:1], limit=6, output_fields=["*"])[0]:
            hit.entity["tag"] = "changed"
        assert NO_KEYS == {}
        assert sorted(r["id"] for r in col.query('tag == "x"')) == [4]
        col.flush()
    with vs.connect(path) as db:  # reloaded from the flushed files: shared again
        col = db.get_collection("docs")
        stored = stored_dynamic(col)
        assert [d is NO_KEYS for d in stored] == [True, True, True, True, False, True]
        rows = col.query("id >= 0", output_fields=["*"])
        assert sorted((r["id"], r.get("tag")) for r in rows) == [
            (0, None),
            (1, None),
            (2, None),
            (3, None),
            (4, "x"),
            (5, None),
        ]
        assert sorted(r["id"] for r in col.query("not exists tag")) == [0, 1, 2, 3, 5]


def test_keyless_rows_replayed_from_the_log_share_one_dict(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    with vs.connect(path) as db:
        col = db.create_collection("docs", dimension=2)
        col.insert({"id": np.arange(4), "vector": np.ones((4, 2), dtype=np.float32)})
        col.insert([{"id": 9, "vector": [1.0, 2.0], "n": 1}])
    with vs.connect(path) as db:  # never flushed: the rows come back from the log
        col = db.get_collection("docs")
        assert [d is NO_KEYS for d in stored_dynamic(col)] == [True] * 4 + [False]
        assert col.query("n == 1", output_fields=["n"]) == [{"id": 9, "n": 1}]


def test_json_nested_past_the_limit_is_refused_and_what_is_stored_reads_back(
    tmp_path: Path,
) -> None:
    def nested(depth: int) -> Any:
        value: Any = 0
        for _ in range(depth - 1):  # the row's own dict of dynamic keys is one more level
            value = [value]
        return value

    path = str(tmp_path / "db")
    with vs.connect(path) as db:
        col = db.create_collection("docs", dimension=2)
        with pytest.raises(vs.DataError, match="nested too deeply"):
            col.insert([{"id": 1, "vector": [1.0, 0.0], "deep": nested(MAX_JSON_DEPTH + 1)}])
        col.insert([{"id": 2, "vector": [1.0, 0.0], "deep": nested(MAX_JSON_DEPTH)}])
        col.flush()
        col.insert([{"id": 3, "vector": [1.0, 0.0], "deep": nested(MAX_JSON_DEPTH)}])  # log only
    with vs.connect(path) as db:  # read back from the segment files and from the log
        rows = db.get_collection("docs").query("id > 0", output_fields=["deep"])
        assert sorted(r["id"] for r in rows) == [2, 3]
        assert all(r["deep"] == nested(MAX_JSON_DEPTH) for r in rows)
