"""``kestrel`` errors: a missing store or collection, file and usage errors, a
missing pyarrow, conflicts with an existing collection, a broken pipe, unexpected
errors, Ctrl-C during an import (a real subprocess), and commands that run beside
a second process holding the store's writer lock."""

from __future__ import annotations

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
from helpers.cli_stores import ROWS, docs_store, read_jsonl, vector

import vectorstore as vs


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    return docs_store(tmp_path)


@pytest.fixture
def writer(store: Path) -> Iterator[Callable[[], str]]:
    """Another process with ``store`` open for writing until the test ends."""
    with live_writer(store) as ask:
        yield ask


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
