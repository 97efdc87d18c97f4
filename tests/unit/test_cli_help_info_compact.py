"""The ``kestrel`` command line's help, its two entry points (``python -m
vectorstore`` and the installed ``kestrel`` script, as real subprocesses), and the
commands that report on a store: ``info`` and ``compact``, against real temporary
stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.cli import fails, ok, run
from helpers.cli_stores import ROWS, docs_store, notes_store

import vectorstore as vs

COMMANDS = ("info", "list", "import", "export", "query", "search", "delete", "drop", "compact")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    return docs_store(tmp_path)


@pytest.fixture
def text_store(tmp_path: Path) -> Path:
    """A store with collection ``notes``: text embedded by ``hash:32``."""
    return notes_store(tmp_path)


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
