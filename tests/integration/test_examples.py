"""Every example runs, offline, and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = run("quickstart.py", str(tmp_path / "store"))
    lines = out.splitlines()
    assert "stored 12 documents" in lines[0]
    # The nearest document to the bird question is the falcon one.
    first_hit = lines[lines.index("search: 'which bird hunts fastest?'") + 1]
    assert "peregrine falcon" in first_hit
    assert "deleted 2 old bird documents; 10 remain" in out
    assert out.rstrip().endswith("10 documents, 2 about birds")
    # Running it again upserts: still 12 documents, not 24.
    again = run("quickstart.py", str(tmp_path / "store"))
    assert "stored 12 documents" in again.splitlines()[0]


def test_hybrid_search() -> None:
    out = run("hybrid_search.py")
    assert out.startswith("stored 8 chunks from 3 documents")
    sections = out.split("\n\n")
    rrf = next(s for s in sections if s.startswith("hybrid, RRF:")).splitlines()
    assert "rust-book" in rrf[1] and "garbage collector" in rrf[1]
    matched = next(s for s in sections if s.startswith("text_match")).splitlines()[1:]
    assert sorted(matched) == sorted(
        [
            "  Cargo builds Rust projects and fetches their crates.",
            "  A write-ahead log lets a database recover after a crash.",
        ]
    )
    best = next(s for s in sections if s.startswith("best chunk per document")).splitlines()[1:]
    docs = [line.split()[1] for line in best]
    assert len(docs) == len(set(docs)) >= 2  # one chunk per document


def test_agent_memory(tmp_path: Path) -> None:
    store = str(tmp_path / "memory")
    out = run("agent_memory.py", store)
    assert "ana, 'what is ana allergic to?': ['Ana is allergic to peanuts']" in out
    assert "ben, 'what is ben allergic to?': ['Ben is allergic to cats']" in out
    assert "peanuts" not in out.split("ana, this week:")[1].splitlines()[0]  # 30 days old
    assert "forgot 2 of ana's facts about flights" in out
    after = out.split("after a restart, ana:")[1].splitlines()[0]
    assert "peanuts" in after and "flight" not in after  # kept, and forgotten, over a restart
    assert out.rstrip().endswith("users with memories: ['ana']")
    again = run("agent_memory.py", store)  # the same facts again: upserts, no duplicates
    assert again.rstrip().endswith("users with memories: ['ana']")


def test_filters() -> None:
    out = run("filters.py")
    results = {
        line.split(" -> ")[0].strip(): line.split(" -> ")[1]
        for line in out.splitlines()
        if " -> " in line
    }
    assert results["price < 100"] == "['road shoes', 'wool socks', 'yoga mat']"
    assert results["rating is null"] == "['rain jacket']"
    assert results["rating > 4.0"] == "['road shoes', 'trail shoes', 'wool socks']"
    assert results['json_contains(meta["sizes"], 42)'] == "['trail shoes']"
    assert "a bad filter names the position: invalid filter at position 7" in out


def test_partitions() -> None:
    out = run("partitions.py")
    assert "acme: acme renews its contract in March" in out
    assert "globex: globex renews its contract in June" in out
    assert "{'_default': 0, 'acme': 3, 'globex': 1}" in out
    assert "after dropping globex: 3 rows, ['_default', 'acme']" in out


def test_persistence(tmp_path: Path) -> None:
    out = run("persistence.py", str(tmp_path / "store"))
    assert "after the kill, reopened: 5100 rows" in out  # nothing acknowledged was lost
    assert "a read-only reader sees 5100 rows" in out
    before, after = out.split("compacted: ")[1].split(" bytes")[0].split(" -> ")
    assert int(after.replace(",", "")) < int(before.replace(",", "")) / 2
    assert out.rstrip().endswith("left: 1100 rows")


def test_agent_memory_llamaindex(tmp_path: Path) -> None:
    out = run("agent_memory_llamaindex.py", str(tmp_path / "memory"))
    assert "ana, 'any allergies?': ['I am allergic to peanuts']" in out
    assert "ben, 'any allergies?': ['I am allergic to cats']" in out  # users kept apart
    assert "ana, 'seats?': ['I prefer window seats on flights']" in out
    week = out.split("ana, this week:")[1].splitlines()[0]
    assert "window seats" in week and "school" in week and "peanuts" not in week  # 30 days old
    assert "ana, important only: ['I am allergic to peanuts']" in out
    assert "forgot 1 of ana's memories about flights" in out
    after = out.split("after a restart, ana 'seats?':")[1].splitlines()[0]
    assert "window seats" not in after  # forgotten, and still forgotten after a restart
    assert "after a restart, ana 'school?': ['My daughter starts school in September']" in out


def test_pymilvus_port(tmp_path: Path) -> None:
    out = run("pymilvus_port.py", str(tmp_path / "milvus_demo.db"))
    assert "inserted 3 rows: ids [0, 1, 2]" in out
    assert "hit 1 distance 1.000: Alan Turing" in out  # the query is row 1's vector
    assert "query: 3 rows about history" in out and "get: [0, 2]" in out
    assert out.rstrip().endswith("[{'count(*)': 1}]")


def test_pymilvus_orm_port(tmp_path: Path) -> None:
    out = run("pymilvus_orm_port.py", str(tmp_path / "hello_milvus.db"))
    assert "inserted 3000 entities; num_entities 3000" in out
    assert "index IVF_FLAT, load state Loaded" in out
    # each query vector is a stored row's: it is its own nearest neighbour
    assert "top hit 2998 at distance 0.000" in out and "top hit 2999 at distance 0.000" in out
    assert "filtered: every hit has random > 0.5: True" in out
    assert "deleted 3; left: []" in out and out.rstrip().endswith("after drop: []")
