"""examples/llamaindex_index.py runs offline and prints what it promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "llamaindex_index.py"


def run(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def after(lines: list[str], title: str) -> str:
    """The first hit printed under a section title."""
    return lines[lines.index(title) + 1]


def test_llamaindex_example(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    lines = run(store)
    assert lines[0] == f"indexed 6 documents into {store} (6 nodes)"
    assert "peregrine falcon" in after(lines, "default: 'which bird is the fastest?'")
    hybrid = after(lines, "hybrid (alpha=0.5): 'hunting at night'")
    assert "Owls hunt at night" in hybrid
    assert "garbage collector" in after(lines, "text_search (BM25): 'garbage collector'")
    filtered = lines[lines.index("filtered (topic == programming): 'crash safety'") + 1 :][:2]
    assert all("[programming]" in line for line in filtered)
    assert "deleted document 'falcon': 5 nodes remain" in lines
    reopened = after(lines, "reopened: 'which bird is the fastest?'")
    assert "[      birds]" in reopened and "falcon" not in reopened
    assert lines[-1] == "5 nodes after reopening"
    # Scores are higher-is-better and printed best first.
    scores = [float(line.split()[0]) for line in lines if line.startswith("   ")]
    assert scores and all(s >= 0 for s in scores)
    # A second run over the same directory starts from scratch: the same output.
    assert run(store) == lines
