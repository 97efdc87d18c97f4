"""``kestrel import`` and ``export`` against real temporary stores: batches,
quick-setup options, partitions, stdin, upsert, bad lines and the batch they drop,
CSV cells typed by the schema, export filters and files, and round trips through
JSONL, CSV, Parquet and every field type."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.cli import fails, ok, run, write_jsonl
from helpers.cli_stores import ROWS, docs_store, read_jsonl, vector

import vectorstore as vs
from vectorstore.cli.readers import infer_cell, typed_cell
from vectorstore.cli.writers import shortest_float32


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    return docs_store(tmp_path)


# -------------------------------------------------------------------- import
def test_import_creates_the_collection_in_batches(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    result = ok(run("import", tmp_path / "db", "docs", source, "--batch-size", "5"))
    assert f"imported {len(ROWS)} rows into 'docs'" in result.stdout
    assert "created collection 'docs': id INT64, vector FLOAT_VECTOR(4)" in result.stderr
    with vs.connect(tmp_path / "db", read_only=True) as db:
        col = db.get_collection("docs")
        assert col.count() == len(ROWS)
        assert col.get([5])[0]["code"] == "007"


def test_import_shows_a_progress_bar_when_asked(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rows.jsonl", ROWS)
    result = ok(run("import", tmp_path / "db", "docs", source, "--progress"))
    assert "importing docs" in result.stderr and "100%" in result.stderr
    quiet = ok(run("import", tmp_path / "db", "more", source, "--no-progress"))
    assert "importing" not in quiet.stderr


def test_import_quick_setup_options(tmp_path: Path) -> None:
    rows = [{"key": f"k{i}", "body": f"text {i}", "emb": [0.5, 0.25]} for i in range(3)]
    source = write_jsonl(tmp_path / "rows.jsonl", rows)
    ok(
        run(
            "import",
            tmp_path / "db",
            "c",
            source,
            "--id-field",
            "key",
            "--vector-field",
            "emb",
            "--text-field",
            "body",
            "--embedding",
            "hash:2",
            "--metric",
            "l2",
        )
    )
    with vs.connect(tmp_path / "db", read_only=True) as db:
        col = db.get_collection("c")
        assert col.schema.primary.name == "key" and col.schema.primary.dtype is vs.DataType.VARCHAR
        assert col.schema.get("body") is not None and col.indexes[0].metric is vs.Metric.L2
        assert col.get(["k1"], output_fields=["emb"])[0]["emb"] == [0.5, 0.25]
    # an existing collection maps the file's columns onto its fields
    other = write_jsonl(tmp_path / "other.jsonl", [{"doc": "k9", "body": "x", "emb": [1.0, 0.0]}])
    ok(run("import", tmp_path / "db", "c", other, "--id-field", "doc"))
    with vs.connect(tmp_path / "db", read_only=True) as db:
        assert db.get_collection("c").count() == 4


def test_import_auto_id_and_dimension_for_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    ok(run("import", tmp_path / "db", "c", empty, "--dimension", "3", "--auto-id"))
    rows = write_jsonl(tmp_path / "rows.jsonl", [{"vector": [1, 2, 3]}, {"vector": [3, 2, 1]}])
    ok(run("import", tmp_path / "db", "c", rows))
    with vs.connect(tmp_path / "db", read_only=True) as db:
        col = db.get_collection("c")
        assert col.schema.primary.auto_id and col.count() == 2
    message = fails(run("import", tmp_path / "db", "d", empty))
    assert "has no rows" in message and "--dimension" in message


def test_import_into_a_partition_and_from_stdin(store: Path) -> None:
    lines = "".join(json.dumps({"id": 100 + i, "vector": vector(i)}) + "\n" for i in range(3))
    ok(run("import", store, "docs", "-", "--partition", "extra", input=lines))
    with vs.connect(store, read_only=True) as db:
        assert db.get_collection("docs").count(partitions=["extra"]) == 3


def test_import_upsert_replaces_rows(store: Path, tmp_path: Path) -> None:
    changed = [{**ROWS[0], "lang": "de"}]
    source = write_jsonl(tmp_path / "changed.jsonl", changed)
    message = fails(run("import", store, "docs", source))
    assert message == (
        f"error: {source} line 1: primary key 1 already exists; pass --upsert to replace "
        "existing rows (nothing was imported)"
    )
    assert "upserted 1 row into" in ok(run("import", store, "docs", source, "--upsert")).stdout
    with vs.connect(store, read_only=True) as db:
        col = db.get_collection("docs")
        assert col.get([1])[0]["lang"] == "de" and col.count() == len(ROWS)


def test_import_bad_json_line_names_it_and_drops_its_batch(tmp_path: Path) -> None:
    lines = [json.dumps(r) for r in ROWS[:10]]
    lines[7] = '{"id": 8, "vector": [0.1, 0.2,'  # line 8, in the second batch of 5
    source = tmp_path / "bad.jsonl"
    source.write_text("\n".join(lines) + "\n")
    message = fails(run("import", tmp_path / "db", "docs", source, "--batch-size", "5"))
    assert message.startswith(f"error: {source} line 8: invalid JSON (")
    assert message.endswith("(the batch from line 6 was not imported; the 5 rows before it were)")
    with vs.connect(tmp_path / "db", read_only=True) as db:
        assert sorted(r["id"] for r in db.get_collection("docs").query()) == [1, 2, 3, 4, 5]


def test_import_failing_first_batch_creates_nothing(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    message = fails(run("import", tmp_path / "db", "docs", source))
    assert message == (
        f"error: {source} line 2: expected a JSON object, got an array (nothing was imported)"
    )
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [ROWS[0], {"id": 99, "vector": [1.0, 2.0]}])
    message = fails(run("import", tmp_path / "db", "docs", wrong))
    assert message == (
        f"error: {wrong} line 2: field 'vector': vector has 2 dimensions, the field has 4 "
        "(nothing was imported; collection 'docs' was not created)"
    )
    assert not (tmp_path / "db").exists()  # nor the store the import would have made


def test_import_csv_cells_are_typed_by_the_schema_and_the_rule(tmp_path: Path) -> None:
    source = tmp_path / "rows.csv"
    source.write_text(
        "id,vector,n,x,flag,code,words,empty,obj\n"
        '1,"[0.5, 1]",12,1.5e3,true,007,"hello, world",,"{""a"": [1]}"\n'
        "2,[1;2],1,2,false,0,x,,{}\n"
    )
    message = fails(run("import", tmp_path / "db", "c", source))
    assert message.startswith(f"error: {source} line 3: column 'vector': expected JSON text")
    lines = source.read_text().splitlines()
    source.write_text("\n".join(lines[:2]) + "\n")
    ok(run("import", tmp_path / "db", "c", source))
    with vs.connect(tmp_path / "db", read_only=True) as db:
        row = db.get_collection("c").get([1])[0]
    assert row == {
        "id": 1,
        "n": 12,
        "x": 1500.0,
        "flag": True,
        "code": "007",
        "words": "hello, world",
        "obj": {"a": [1]},
    }


def test_csv_and_typed_cell_rules() -> None:
    assert [infer_cell(c) for c in ("12", "-3", "1.5", "2e3", "true", "[1, 2]", '{"a": 1}')] == [
        12,
        -3,
        1.5,
        2000.0,
        True,
        [1, 2],
        {"a": 1},
    ]
    for text in ("007", "+1", "1,5", "NaN", "null", "True", "[1,", "abc", " ", ".5"):
        assert infer_cell(text) == text
    int_field = vs.Field("n", vs.DataType.INT64)
    assert typed_cell(int_field, " 42 ") == 42
    with pytest.raises(ValueError, match="expected an integer"):
        typed_cell(int_field, "4.2")
    assert typed_cell(vs.Field("b", vs.DataType.BOOL), "Yes") is True
    assert typed_cell(vs.Field("s", vs.DataType.VARCHAR), "007") == "007"
    assert typed_cell(vs.Field("v", vs.DataType.FLOAT_VECTOR, dim=2), "[1, 2]") == [1, 2]


# ------------------------------------------------------------- round trips
def test_jsonl_round_trip_equals_the_input(store: Path) -> None:
    exported = ok(run("export", store, "docs"))
    assert read_jsonl(exported.stdout) == ROWS  # same keys, values and short floats
    assert f"exported {len(ROWS)} rows from 'docs' to stdout (jsonl)" in exported.stderr


def test_csv_round_trip_equals_the_input(tmp_path: Path) -> None:
    header = ["id", "vector", "text", "lang", "views", "code"]
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for r in ROWS:
            out.writerow(
                [
                    r["id"],
                    json.dumps(r["vector"]),
                    r["text"],
                    r["lang"],
                    r["views"],
                    r.get("code", ""),
                ]
            )
    ok(run("import", tmp_path / "db", "docs", source))
    ok(run("export", tmp_path / "db", "docs", "-o", tmp_path / "out.csv"))

    def parsed(path: Path) -> list[dict[str, Any]]:
        with path.open(newline="") as f:
            return [
                {k: infer_cell(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)
            ]

    assert parsed(tmp_path / "out.csv") == parsed(source)
    # declared fields in schema order, then dynamic keys sorted: the same file every run
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "id,vector,code,lang,text,views"


def test_parquet_round_trip_equals_the_input(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in ROWS], pa.int64()),
            "vector": pa.array([r["vector"] for r in ROWS], pa.list_(pa.float32())),
            "text": [r["text"] for r in ROWS],
            "views": pa.array([r["views"] for r in ROWS], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "in.parquet")
    ok(run("import", tmp_path / "db", "docs", tmp_path / "in.parquet", "--batch-size", "5"))
    ok(run("export", tmp_path / "db", "docs", "-o", tmp_path / "out.parquet"))
    exported = pq.read_table(tmp_path / "out.parquet")
    assert exported.schema.field("id").type == pa.int64()
    assert exported.schema.field("vector").type == pa.list_(pa.float32())
    rows = exported.to_pylist()
    for row in rows:
        row.update(json.loads(row.pop("$meta")))
    assert rows == table.to_pylist()
    # and the export imports again, dynamic fields and all
    ok(run("import", tmp_path / "db", "again", tmp_path / "out.parquet"))
    again = read_jsonl(ok(run("export", tmp_path / "db", "again")).stdout)
    assert again == read_jsonl(ok(run("export", tmp_path / "db", "docs")).stdout)


def test_every_format_reads_back_what_it_wrote(store: Path, tmp_path: Path) -> None:
    original = read_jsonl(ok(run("export", store, "docs")).stdout)
    for name in ("out.jsonl.gz", "out.csv", "out.parquet", "out.tsv"):
        ok(run("export", store, "docs", "-o", tmp_path / name))
        collection = name.replace(".", "_")
        ok(run("import", store, collection, tmp_path / name))
        back = read_jsonl(ok(run("export", store, collection)).stdout)
        assert back == original, name
    with gzip.open(tmp_path / "out.jsonl.gz", "rt") as f:
        assert len(f.read().splitlines()) == len(ROWS)


def rich_schema() -> vs.Schema:
    """Every kind of field: VARCHAR key, BM25 text, dense and sparse vectors, FLOAT,
    BOOL, nullable INT8, ARRAY, JSON, and dynamic fields."""
    return vs.Schema(
        [
            vs.Field("pk", vs.DataType.VARCHAR, is_primary=True, max_length=16),
            vs.Field("text", vs.DataType.VARCHAR, analyzer="english"),
            vs.Field("dense", vs.DataType.FLOAT_VECTOR, dim=3),
            vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
            vs.Field("bm", vs.DataType.SPARSE_FLOAT_VECTOR),
            vs.Field("score", vs.DataType.FLOAT),
            vs.Field("ok", vs.DataType.BOOL),
            vs.Field("small", vs.DataType.INT8, nullable=True),
            vs.Field("tags", vs.DataType.ARRAY, element_type=vs.DataType.VARCHAR, max_capacity=4),
            vs.Field("meta", vs.DataType.JSON, nullable=True),
        ],
        functions=[vs.BM25("text", "bm")],
        enable_dynamic_field=True,
    )


RICH_ROWS = [
    {
        "pk": "a",
        "text": "Rust is a fast language",
        "dense": [0.1, 0.2, 0.3],
        "sparse": {1: 0.1, 7: 2.5},
        "score": 0.1,
        "ok": True,
        "small": None,
        "tags": ["x"],
        "meta": {"k": [1, "two", None]},
        "extra": "007",
    },
    {
        "pk": "b",
        "text": "",
        "dense": [1.0, 0.0, 0.0],
        "sparse": {},
        "score": -3.25,
        "ok": False,
        "small": -5,
        "tags": [],
        "meta": "just a string",
    },
    {
        "pk": "c",
        "text": "Python is a slow language",
        "dense": [0.5, 0.5, 0.5],
        "sparse": {3: 1.0},
        "score": 1e-07,
        "ok": True,
        "small": 127,
        "tags": ["y", "z"],
        "meta": None,
    },
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_every_field_type_round_trips(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "db"
    with vs.connect(path) as db:
        db.create_collection("src", schema=rich_schema()).insert(RICH_ROWS)
        db.create_collection("dst", schema=rich_schema())
    original = read_jsonl(ok(run("export", path, "src")).stdout)
    assert original[0]["sparse"] == {"1": 0.1, "7": 2.5} and "bm" not in original[0]
    assert original[2]["score"] == 1e-07  # FLOAT values in their shortest exact form
    ok(run("export", path, "src", "-o", tmp_path / f"out.{fmt}"))
    ok(run("import", path, "dst", tmp_path / f"out.{fmt}"))
    assert read_jsonl(ok(run("export", path, "dst")).stdout) == original
    # BM25 search on the copy: the text query picks the BM25 field by itself
    hits = json.loads(ok(run("search", path, "dst", "fast rust", "--json")).stdout)
    assert [h["id"] for h in hits] == ["a"]


def test_shortest_float32_reads_back_exactly() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.normal(size=20_000),
            rng.normal(size=2000) * 10.0 ** rng.integers(-40, 38, size=2000),
            [0.1, 0.25, 1e-05, 123456.7, -0.0, 0.0, 3e38, 1.4e-45, 16777217.0],
        ]
    ).astype(np.float32)
    short = shortest_float32(values)
    assert np.array_equal(short.astype(np.float32), values)
    assert np.array_equal(np.asarray([float(repr(v)) for v in short.tolist()], np.float32), values)
    assert [repr(v) for v in short[-9:-3].tolist()] == [
        "0.1",
        "0.25",
        "1e-05",
        "123456.7",
        "-0.0",
        "0.0",
    ]
    digits = [
        len(repr(v).lstrip("-").split("e")[0].replace(".", "").strip("0"))
        for v in short[:20_000].tolist()
    ]
    assert max(digits) <= 9


# -------------------------------------------------------------------- export
def test_export_filter_fields_and_vectors(store: Path) -> None:
    rows = read_jsonl(
        ok(
            run(
                "export",
                store,
                "docs",
                "--filter",
                'lang == "fr"',
                "--fields",
                "text",
                "--fields",
                "views",
            )
        ).stdout
    )
    assert rows == [
        {"id": r["id"], "text": r["text"], "views": r["views"]} for r in ROWS if r["lang"] == "fr"
    ]
    rows = read_jsonl(ok(run("export", store, "docs", "--no-vectors", "--limit", "2")).stdout)
    assert len(rows) == 2 and all("vector" not in r and "text" in r for r in rows)
    rows = read_jsonl(ok(run("export", store, "docs", "--fields", "lang", "--vectors")).stdout)
    assert set(rows[0]) == {"id", "lang", "vector"}
    usage = run("export", store, "docs", "--fields", "vector", "--no-vectors")
    assert "--no-vectors" in fails(usage, code=2)


def test_export_to_a_file_replaces_it_only_when_done(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    message = fails(run("export", store, "docs", "-o", target, "--filter", "views >"))
    assert "invalid filter" in message and target.read_text() == "old\n"
    ok(run("export", store, "docs", "-o", target))
    assert read_jsonl(target.read_text()) == ROWS
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
