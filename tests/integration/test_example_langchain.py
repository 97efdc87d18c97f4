"""examples/langchain_retriever.py runs offline and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langchain_core")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "langchain_retriever.py"


def run(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def sections(out: str) -> dict[str, list[str]]:
    """Each blank-line separated block, by its title line."""
    blocks = [b.splitlines() for b in out.strip().split("\n\n")]
    return {b[0]: b[1:] for b in blocks}


def ids(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines]


def test_langchain_retriever_example(tmp_path: Path) -> None:
    out = run(str(tmp_path / "store"))
    assert out.startswith("stored 9 documents")
    s = sections(out)
    assert ids(s["similarity: 'which bird is quickest?'"])[0] == "falcon"
    filtered = s["filtered (code, 2018 or later): 'compiler'"]
    assert filtered and all("[code, 20" in line for line in filtered)
    assert all(int(line.split("[code, ")[1][:4]) >= 2018 for line in filtered)
    years = s["expression filter (metadata[\"year\"] < 2020): 'hunting birds'"]
    assert all(int(line.split(", ")[1][:4]) < 2020 for line in years)
    # the error code is invisible to the embedding: dense search misses it, hybrid finds it
    assert "e1234" not in ids(s["dense: 'app crash E1234'"])
    assert ids(s["hybrid (RRF): 'app crash E1234'"])[0] == "e1234"
    assert ids(s["hybrid (weighted 0.4 / 0.6): 'app crash E1234'"])[0] == "e1234"
    assert len(s["mmr (diverse): 'birds hunting'"]) == 3
    scores = [float(line.split()[1]) for line in s["relevance: 'rust compiler'"]]
    assert scores == sorted(scores, reverse=True) and all(0 <= x <= 1 for x in scores)
    assert out.rstrip().endswith("reopened: 9 documents, first 'falcon'")
    # running it again over the same directory upserts: still 9 documents
    assert run(str(tmp_path / "store")).startswith("stored 9 documents")


def test_langchain_retriever_example_in_a_temporary_directory() -> None:
    assert "reopened: 9 documents" in run()
