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
