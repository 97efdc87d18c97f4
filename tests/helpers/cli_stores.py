"""The stores the ``kestrel`` command-line tests start from: ``docs`` (ROWS, 4-d
vectors, imported from JSONL) and ``notes`` (text embedded by ``hash:32``).
Shared by tests/unit/test_cli_help_info_compact.py, test_cli_import_export.py,
test_cli_search_basics.py and test_cli_errors.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.cli import ok, run, write_jsonl


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


def docs_store(tmp_path: Path) -> Path:
    """A store with collection ``docs``: ROWS imported from JSONL (dimension 4)."""
    path = tmp_path / "db"
    ok(run("import", path, "docs", write_jsonl(tmp_path / "docs.jsonl", ROWS)))
    return path


def notes_store(tmp_path: Path) -> Path:
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
