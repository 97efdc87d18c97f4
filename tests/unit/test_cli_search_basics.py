"""``kestrel search`` against real temporary stores: by vector (a table), as JSON
with a filter and output fields, by text with the collection's embedding, a query
read from stdin, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import fails, ok, run
from helpers.cli_stores import ROWS, docs_store, notes_store, vector

from vectorstore.embeddings import HashEmbedding


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    return docs_store(tmp_path)


@pytest.fixture
def text_store(tmp_path: Path) -> Path:
    """A store with collection ``notes``: text embedded by ``hash:32``."""
    return notes_store(tmp_path)


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


def test_search_reads_the_query_from_stdin(store: Path) -> None:
    hits = json.loads(
        ok(run("search", store, "docs", "-", "--json", input=json.dumps(vector(3)))).stdout
    )
    assert hits[0]["id"] == 3
