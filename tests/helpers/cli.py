"""Running ``kestrel`` in process for tests: stdout and stderr apart, one-line errors;
and another process writing the same store, as a live app would."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from vectorstore.cli import cli


def run(*args: Any, input: str | bytes | None = None) -> Result:
    """``kestrel ARGS`` in process (stdout and stderr apart)."""
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def ok(result: Result) -> Result:
    """``result``, checked to have succeeded without a traceback."""
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    return result


def fails(result: Result, code: int = 1) -> str:
    """The error of a failed run: exit 1 ends stderr with one ``error: ...`` line
    (notes may come first), which is returned; other codes return all of stderr."""
    assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if code == 1:
        lines = result.stderr.splitlines()
        assert lines and lines[-1].startswith("error: "), result.stderr
        assert not any(line.startswith("error: ") for line in lines[:-1]), result.stderr
        return lines[-1]
    return result.stderr


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as a JSONL file at ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@contextmanager
def live_writer(store: Path, collection: str = "docs") -> Iterator[Callable[[], str]]:
    """Another process with ``store`` open for writing (a live app) until the block
    ends; yields a function asking it what it sees now: the collection's row count,
    or ``"gone"`` once the collection was dropped."""
    code = textwrap.dedent(
        f"""
        import sys, vectorstore as vs
        db = vs.connect({str(store)!r})
        col = db.get_collection({collection!r})
        print("ready", flush=True)
        for line in sys.stdin:
            print(col.count() if db.has_collection({collection!r}) else "gone", flush=True)
        db.close()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def ask() -> str:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("?\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()

    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield ask
    finally:
        proc.communicate(timeout=30)


__all__ = ["fails", "live_writer", "ok", "run", "write_jsonl"]
