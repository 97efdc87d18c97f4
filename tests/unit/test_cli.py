"""The ``kestrel`` command line: every command against real temporary stores.

Most runs go through click's ``CliRunner`` (in process); a few are real
subprocesses: ``python -m vectorstore``, the installed ``kestrel`` script, and
a second process holding a store's writer lock.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.cli import fails, live_writer, ok, run, write_jsonl

import vectorstore as vs
from vectorstore.cli.readers import infer_cell, typed_cell
from vectorstore.cli.writers import shortest_float32
from vectorstore.embeddings import HashEmbedding

COMMANDS = ("info", "list", "import", "export", "query", "search", "delete", "drop", "compact")
ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------- helpers
def vector(i: int) -> list[float]:
    """A 4-d vector of short decimals (each reads back exactly as a float32)."""
    return [
        round(0.1 * (i % 7) + 0.05, 2),
        round(-0.3 + 0.01 * i, 2),
        1.5,
        round(1e-05 * (i + 1), 7),
    ]


ROWS = [
    {
        "id": i,
        "vector": vector(i),
        "text": f"document number {i} about {'cats' if i % 2 else 'dogs'}",
        "lang": "en" if i < 8 else "fr",
        "views": i * 10,
        **({"tags": ["a", "b"]} if i % 3 == 0 else {}),
        **({"code": "007"} if i == 5 else {}),
    }
    for i in range(1, 13)
]


def read_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    path = tmp_path / "db"
    ok(run("import", path, "docs", write_jsonl(tmp_path / "docs.jsonl", ROWS)))
    return path


@pytest.fixture
def text_store(tmp_path: Path) -> Path:
    """A store with collection ``notes``: text embedded by ``hash:32``."""
    path = tmp_path / "tdb"
    rows = [
        {"id": 1, "text": "the cat sat on the mat", "lang": "en"},
        {"id": 2, "text": "a dog ran in the park", "lang": "en"},
        {"id": 3, "text": "le chat est sur le tapis", "lang": "fr"},
    ]
    ok(
        run(
            "import",
            path,
            "notes",
            write_jsonl(tmp_path / "n.jsonl", rows),
            "--embedding",
            "hash:32",
        )
    )
    return path


@pytest.fixture
def writer(store: Path) -> Iterator[Callable[[], str]]:
    """Another process with ``store`` open for writing until the test ends."""
    with live_writer(store) as ask:
        yield ask


# ---------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ("", *COMMANDS))
def test_help_on_every_command(command: str) -> None:
    result = ok(run(*([command] if command else []), "--help"))
    assert "Usage:" in result.stdout
    if command:
        assert "PATH" in result.stdout
    else:
        assert all(name in result.stdout for name in COMMANDS)


def test_help_names_the_options_the_issue_asks_for() -> None:
    expected = {
        "info": ["--json"],
        "import": [
            "--embedding",
            "--dimension",
            "--batch-size",
            "--upsert",
            "--progress",
            "--id-field",
            "--text-field",
            "--vector-field",
            "--format",
        ],
        "export": ["--filter", "--fields", "--vectors / --no-vectors", "--output", "--format"],
        "search": ["--field", "--limit", "--filter", "--output-fields", "--json"],
        "compact": ["--json"],
    }
    for command, options in expected.items():
        text = ok(run(command, "--help")).stdout
        assert all(option in text for option in options), (command, text)


def test_python_m_vectorstore_help_runs_in_a_subprocess() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vectorstore", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "Usage: python -m vectorstore" in out.stdout
    assert all(name in out.stdout for name in COMMANDS)


def test_installed_kestrel_script_runs(store: Path) -> None:
    script = Path(sys.executable).parent / "kestrel"
    if not script.exists():
        pytest.skip("the kestrel console script is not installed (pip install -e .)")
    out = subprocess.run(
        [str(script), "info", str(store), "--json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["collections"][0]["row_count"] == len(ROWS)
    missing = subprocess.run(
        [str(script), "info", str(store / "nope")], capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert (
        missing.stderr.startswith("error: no Kestrel store") and "Traceback" not in missing.stderr
    )


# ---------------------------------------------------------------------- info
def test_info_json_describes_every_collection(store: Path, tmp_path: Path) -> None:
    with vs.connect(store) as db:
        db.get_collection("docs").delete(ids=[1, 2])
    info = json.loads(ok(run("info", store, "--json")).stdout)
    assert info["path"] == str(store) and info["disk_bytes"] > 0
    (docs,) = info["collections"]
    assert docs["name"] == "docs"
    assert docs["row_count"] == len(ROWS) - 2
    assert docs["partitions"] == {"_default": len(ROWS) - 2}
    assert [(f["name"], f["type"]) for f in docs["fields"]] == [
        ("id", "INT64"),
        ("vector", "FLOAT_VECTOR"),
    ]
    assert docs["fields"][1]["dim"] == 4 and docs["dynamic_fields"] is True
    assert docs["indexes"] == [
        {
            "field": "vector",
            "index_type": "HNSW",
            "metric": "COSINE",
            "params": {"M": 16, "ef_construction": 200},
        }
    ]
    assert docs["functions"] == []
    assert docs["segments"]["total"] >= 1 and docs["disk_bytes"] > 0


def test_info_text(text_store: Path) -> None:
    text = ok(run("info", text_store)).stdout
    assert "1 collection" in text and "notes" in text
    for expected in (
        "rows        3",
        "_default (3)",
        "VARCHAR(65535)",
        "FLOAT_VECTOR(32)",
        "primary key",
        "HNSW COSINE M=16",
        "TextEmbedding text -> vector",
        "hash: dimension=32",
        "+ dynamic fields",
    ):
        assert expected in text, expected


def test_info_names_collections_and_refuses_unknown_ones(store: Path) -> None:
    assert "docs" in ok(run("info", store, "docs")).stdout
    message = fails(run("info", store, "nope"))
    assert message == "error: no collection named 'nope' (collections: docs)"


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


# -------------------------------------------------------------------- search
def test_search_by_vector_prints_a_table(store: Path) -> None:
    query = json.dumps(ROWS[4]["vector"])
    text = ok(run("search", store, "docs", query, "--limit", "3")).stdout
    header, first, *rest = text.splitlines()
    assert header.split()[:2] == ["id", "distance"] and "text" in header
    assert first.split()[:2] == ["5", "1.0000"] and len(rest) == 2


def test_search_json_filter_and_output_fields(store: Path) -> None:
    query = json.dumps(ROWS[0]["vector"])
    hits = json.loads(
        ok(
            run(
                "search",
                store,
                "docs",
                query,
                "--filter",
                "views >= 100",
                "--output-fields",
                "lang",
                "--json",
                "--ef",
                "64",
            )
        ).stdout
    )
    assert {h["id"] for h in hits} == {10, 11, 12}
    assert all(set(h) == {"id", "distance", "entity"} for h in hits)
    assert all(h["entity"] == {"lang": "fr"} for h in hits)
    empty = ok(run("search", store, "docs", query, "--filter", "views > 1000")).stdout
    assert empty.strip() == "(no hits)"


def test_search_by_text_with_the_collection_embedding(text_store: Path) -> None:
    hits = json.loads(ok(run("search", text_store, "notes", "cat on a mat", "--json")).stdout)
    assert hits[0]["id"] == 1 and hits[0]["entity"]["text"] == "the cat sat on the mat"
    table = ok(run("search", text_store, "notes", "park dog", "--limit", "1")).stdout
    assert table.splitlines()[1].split()[0] == "2"
    fr = json.loads(
        ok(run("search", text_store, "notes", "cat", "--filter", 'lang == "fr"', "--json")).stdout
    )
    assert [h["id"] for h in fr] == [3]
    # the same text embedded outside: the same nearest rows
    vector = HashEmbedding(32).embed_query("cat on a mat").tolist()
    by_vector = json.loads(
        ok(run("search", text_store, "notes", json.dumps(vector), "--json")).stdout
    )
    assert [h["id"] for h in by_vector] == [h["id"] for h in hits]


def test_search_errors(store: Path) -> None:
    message = fails(run("search", store, "docs", "some words"))
    assert "cannot search text" in message and "vector" in message
    message = fails(run("search", store, "docs", "[0.1, 0.2]"))
    assert message == "error: query vectors have 2 dimensions, field 'vector' has 4"
    assert "looks like a vector" in fails(run("search", store, "docs", "[0.1, 0.2,"), code=2)
    message = fails(run("search", store, "docs", "[1, 2, 3, 4]", "--filter", "views >"))
    assert message.startswith("error: invalid filter at position 7") and "'views >'" in message
    message = fails(run("search", store, "docs", "[1, 2, 3, 4]", "--filter", 'id == "x"'))
    assert "cannot compare" in message


# ------------------------------------------------------------------- compact
def test_compact_reports_disk_before_and_after(store: Path) -> None:
    with vs.connect(store) as db:
        db.get_collection("docs").delete(filter="views < 60")
    result = json.loads(ok(run("compact", store, "--json")).stdout)
    (docs,) = result["collections"]
    assert docs["name"] == "docs" and docs["deleted_rows"] == 5
    assert docs["bytes_after"] < docs["bytes_before"]
    info = json.loads(ok(run("info", store, "--json")).stdout)["collections"][0]
    assert info["deleted_rows"] == 0 and info["row_count"] == len(ROWS) - 5
    text = ok(run("compact", store, "docs")).stdout
    assert text.splitlines()[0].split() == [
        "collection",
        "before",
        "after",
        "deleted",
        "rows",
        "dropped",
        "segments",
    ]
    assert text.splitlines()[1].startswith("docs")


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "args",
    [
        ("info", "{missing}"),
        ("export", "{missing}", "docs"),
        ("search", "{missing}", "docs", "[1, 2]"),
        ("compact", "{missing}"),
    ],
)
def test_a_missing_store_is_a_one_line_error(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "nowhere"
    message = fails(run(*(a.format(missing=missing) for a in args)))
    assert message == f"error: no Kestrel store at {missing} (no such directory)"
    assert not missing.exists()


@pytest.mark.parametrize(
    "args",
    [("export", "nope"), ("search", "nope", "[1, 2]"), ("info", "nope"), ("compact", "nope")],
)
def test_an_unknown_collection_is_a_one_line_error(store: Path, args: tuple[str, ...]) -> None:
    command, *rest = args
    message = fails(run(command, store, *rest))
    assert message == "error: no collection named 'nope' (collections: docs)"


def test_import_and_compact_run_beside_a_live_writer(
    store: Path, tmp_path: Path, writer: Callable[[], str]
) -> None:
    source = write_jsonl(tmp_path / "more.jsonl", [{"id": 99, "vector": vector(99)}])
    ok(run("import", store, "docs", source))
    ok(run("compact", store))
    assert writer() == str(len(ROWS) + 1)  # the app sees the import
    # and the read-only commands too, on the whole store
    info = json.loads(ok(run("info", store, "--json")).stdout)
    assert info["collections"][0]["row_count"] == len(ROWS) + 1
    assert len(read_jsonl(ok(run("export", store, "docs")).stdout)) == len(ROWS) + 1
    hits = json.loads(ok(run("search", store, "docs", json.dumps(vector(1)), "--json")).stdout)
    assert hits[0]["id"] == 1


def test_ctrl_c_stops_an_import_between_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(30_000, 32)).round(3).tolist()
    source = write_jsonl(
        tmp_path / "big.jsonl", [{"id": i, "vector": v} for i, v in enumerate(vectors)]
    )
    path = tmp_path / "db"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vectorstore",
            "import",
            str(path),
            "c",
            str(source),
            "--batch-size",
            "500",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # until a batch is in
        try:
            with vs.connect(path, read_only=True) as db:
                if db.has_collection("c") and db.get_collection("c").count():
                    break
        except vs.StorageError:
            pass
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "stopping after the current batch" in err and "Traceback" not in err
    imported = int(re.search(r"interrupted: ([\d,]+) rows", err)[1].replace(",", ""))
    assert 0 < imported < 30_000 and imported % 500 == 0
    with vs.connect(path) as db:  # the store is whole: the writer closed it cleanly
        assert db.get_collection("c").count() == imported


def test_file_errors_are_one_line(store: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    assert fails(run("import", store, "docs", missing)) == (
        f"error: {missing}: No such file or directory"
    )
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"id": 1}\n\xff\xfe\n')
    assert "not UTF-8" in fails(run("import", store, "docs", binary))
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("nope")
    assert "not a readable Parquet file" in fails(run("import", store, "docs", not_parquet))
    assert "No such file or directory" in fails(
        run("export", store, "docs", "-o", tmp_path / "no" / "dir" / "out.jsonl")
    )


def test_usage_errors_exit_2(store: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "rows.data", ROWS)
    assert "--format" in fails(run("import", store, "docs", data), code=2)
    assert "unknown provider 'nope'" in fails(
        run("import", store, "x", data, "--format", "jsonl", "--embedding", "nope:1"), code=2
    )
    assert "hash takes a dimension" in fails(
        run("import", store, "x", data, "--format", "jsonl", "--embedding", "hash:big"), code=2
    )
    assert fails(run("nope"), code=2)
    assert fails(run("import", store), code=2)


def test_parquet_without_pyarrow_names_the_pip_line(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    message = fails(run("export", store, "docs", "-o", tmp_path / "out.parquet"))
    assert message == (
        "error: Parquet files need pyarrow, which is not installed: "
        'pip install "kestrel-vectorstore[parquet]"'
    )
    assert not (tmp_path / "out.parquet").exists()


def test_existing_collection_conflicts_are_errors(store: Path, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "more.jsonl", [{"id": 99, "vector": vector(99)}])
    assert "vector dimensions {'vector': 4}" in fails(
        run("import", store, "docs", source, "--dimension", "8")
    )
    assert "has no TextEmbedding function" in fails(
        run("import", store, "docs", source, "--embedding", "hash:4")
    )
    assert "metrics {'vector': 'COSINE'}" in fails(
        run("import", store, "docs", source, "--metric", "L2")
    )


def test_broken_pipe_is_quiet(store: Path) -> None:
    out = subprocess.run(
        f'{sys.executable} -m vectorstore export "{store}" docs | head -n 1',
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 1
    assert "Traceback" not in out.stderr and "Error" not in out.stderr


def test_unexpected_errors_point_to_debug(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(vs.Collection, "stats", boom)
    message = fails(run("info", store))
    assert message == (
        "error: unexpected ZeroDivisionError: boom (a bug: rerun with --debug for the "
        "traceback and report it)"
    )
    result = run("--debug", "info", store)
    assert isinstance(result.exception, ZeroDivisionError)


def test_search_reads_the_query_from_stdin(store: Path) -> None:
    hits = json.loads(
        ok(run("search", store, "docs", "-", "--json", input=json.dumps(vector(3)))).stdout
    )
    assert hits[0]["id"] == 3
