"""``kestrel list``, ``query``, ``delete`` and ``drop`` (issue 18) against real stores,
and the error that names the collections there are."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.cli import fails, live_writer, ok, run, write_jsonl

import vectorstore as vs

ROWS = [
    {"id": i, "vector": [1.0, float(i)], "lang": "en" if i < 4 else "fr", "views": 10 * i}
    for i in range(6)
]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Collections ``docs`` (6 rows) and ``empty`` (none)."""
    path = tmp_path / "db"
    ok(run("import", path, "docs", write_jsonl(tmp_path / "d.jsonl", ROWS)))
    ok(run("import", path, "empty", tmp_path / "d.jsonl", "--dimension", "2", "--upsert"))
    ok(run("delete", path, "empty", "--all", "--yes"))
    return path


def ids(path: Path, name: str = "docs") -> list[int]:
    with vs.connect(path, read_only=True) as db:
        return sorted(r["id"] for r in db.get_collection(name).query())


# ---------------------------------------------------------------------- list
def test_list_shows_collections_with_counts(store: Path, tmp_path: Path) -> None:
    lines = ok(run("list", store)).stdout.splitlines()
    assert lines[0].split() == ["collection", "rows", "partitions", "vector", "fields"]
    assert lines[1].split() == ["docs", "6", "1", "vector", "FLOAT_VECTOR(2)"]
    assert lines[2].split()[:2] == ["empty", "0"]
    entries = json.loads(ok(run("list", store, "--json")).stdout)
    assert [(e["name"], e["row_count"]) for e in entries] == [("docs", 6), ("empty", 0)]
    assert entries[0]["vector_fields"] == {"vector": "FLOAT_VECTOR(2)"}
    with vs.connect(tmp_path / "bare"):
        pass
    assert ok(run("list", tmp_path / "bare")).stdout.strip() == "(no collections)"


# --------------------------------------------------------------------- query
def test_query_filter_fields_limit(store: Path) -> None:
    result = ok(run("query", store, "docs", "--filter", 'lang == "fr"', "--fields", "views"))
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["id", "views"]
    assert [r.split() for r in rows] == [["4", "40"], ["5", "50"]]
    limited = ok(run("query", store, "docs", "--limit", "2", "--offset", "1", "--json"))
    got = json.loads(limited.stdout)
    assert [r["id"] for r in got] == [1, 2] and set(got[0]) == {"id", "lang", "views"}
    assert "showing 2 rows of 6" in limited.stderr
    every = json.loads(ok(run("query", store, "docs", "--fields", "*", "--json")).stdout)
    assert every[0]["vector"] == [1.0, 0.0] and len(every) == 6
    assert ok(run("query", store, "docs", "--filter", "views > 100")).stdout.strip() == "(no rows)"
    message = fails(run("query", store, "docs", "--filter", "views >"))
    assert message.startswith("error: invalid filter at position 7")


# -------------------------------------------------------------------- delete
def test_delete_by_ids_asks_first(store: Path) -> None:
    declined = run("delete", store, "docs", "--ids", "1,2", input="n\n")
    assert fails(declined) == "error: not confirmed: nothing was changed"
    assert "delete 2 rows from 'docs'? [y/N]" in declined.stderr
    no_answer = run("delete", store, "docs", "--ids", "1")
    assert "no answer on stdin" in fails(no_answer) and "--yes" in fails(no_answer)
    assert ids(store) == [0, 1, 2, 3, 4, 5]
    done = ok(run("delete", store, "docs", "--ids", "1", "--ids", "2,99", input="y\n"))
    assert done.stdout.strip() == "deleted 2 rows from 'docs'"
    assert ids(store) == [0, 3, 4, 5]
    assert "is not an integer" in fails(run("delete", store, "docs", "--ids", "x"), code=2)


def test_delete_by_filter_and_everything(store: Path) -> None:
    result = ok(run("delete", store, "docs", "--filter", 'lang == "fr"', "--yes"))
    assert result.stdout.strip() == "deleted 2 rows from 'docs'"
    assert ids(store) == [0, 1, 2, 3]
    none = ok(run("delete", store, "docs", "--filter", "views > 1000"))
    assert none.stdout.strip() == "no rows match: nothing deleted from 'docs'"
    for args in ((), ("--filter", ""), ("--filter", "  "), ("--ids", "1", "--all")):
        usage = fails(run("delete", store, "docs", *args), code=2)
        assert "give one of --ids, --filter (not empty) or --all" in usage
    assert ids(store) == [0, 1, 2, 3]
    ok(run("delete", store, "docs", "--all", input="y\n"))
    assert ids(store) == []
    with vs.connect(store, read_only=True) as db:
        assert db.has_collection("docs")  # --all keeps the collection


def test_delete_in_a_partition(tmp_path: Path) -> None:
    path = tmp_path / "db"
    ok(run("import", path, "docs", write_jsonl(tmp_path / "a.jsonl", ROWS[:3])))
    ok(run("import", path, "docs", write_jsonl(tmp_path / "b.jsonl", ROWS[3:]), "--partition", "p"))
    result = ok(run("delete", path, "docs", "--filter", "views >= 0", "--partition", "p", "--yes"))
    assert result.stdout.strip() == "deleted 3 rows from 'docs' in partition 'p'"
    assert ids(path) == [0, 1, 2]


# ---------------------------------------------------------------------- drop
def test_drop_asks_first(store: Path) -> None:
    declined = run("drop", store, "docs", input="n\n")
    assert fails(declined) == "error: not confirmed: nothing was changed"
    assert "drop collection 'docs' and its 6 rows? [y/N]" in declined.stderr
    assert ids(store) == [0, 1, 2, 3, 4, 5]
    assert (
        ok(run("drop", store, "docs", "--yes")).stdout.strip()
        == "dropped collection 'docs' (6 rows)"
    )
    with vs.connect(store, read_only=True) as db:
        assert db.list_collections() == ["empty"]


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "args",
    [
        ("query", "nope"),
        ("delete", "nope", "--all", "--yes"),
        ("drop", "nope", "--yes"),
        ("search", "nope", "[1, 2]"),
        ("export", "nope"),
        ("info", "nope"),
    ],
)
def test_a_missing_collection_lists_the_existing_ones(store: Path, args: tuple[str, ...]) -> None:
    command, *rest = args
    message = fails(run(command, store, *rest))
    assert message == "error: no collection named 'nope' (collections: docs, empty)"


def test_a_store_without_collections_says_so(tmp_path: Path) -> None:
    with vs.connect(tmp_path / "bare"):
        pass
    message = fails(run("query", tmp_path / "bare", "docs"))
    assert message == "error: no collection named 'docs' (the store has no collections)"


@pytest.fixture
def writer(store: Path) -> Iterator[Callable[[], str]]:
    """Another process with ``store`` open for writing; yields a function asking
    it what it sees now."""
    with live_writer(store) as ask:
        yield ask


def test_every_verb_runs_beside_a_live_writer(store: Path, writer: Callable[[], str]) -> None:
    assert "docs" in ok(run("list", store)).stdout
    assert len(json.loads(ok(run("query", store, "docs", "--json")).stdout)) == 6
    ok(run("delete", store, "docs", "--ids", "1", "--yes"))
    assert ids(store) == [0, 2, 3, 4, 5] and writer() == "5"  # the app sees the delete
    ok(run("drop", store, "docs", "--yes"))
    assert writer() == "gone"
