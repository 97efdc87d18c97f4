"""What the store-level durability tests share: a schema with a field of every kind
(SCHEMA, HNSW) and rows for it, ``state`` (everything a client can observe), crash
images, and the ``store`` and ``no_reader_retries`` fixtures.

A *crash image* is a copy of the store directory taken while the writer is open (or at
an exact moment inside a checkpoint, from a monkeypatched storage function): opening the
copy is what a restart after a crash at that moment sees. (The copy holds the file data
the process had handed to the OS, i.e. a process crash, not a power cut.)

Shared by tests/unit/test_durability_crash.py, test_durability_segments.py and
test_durability_checkpoint.py. A test module takes the fixtures with
``from helpers.durability import store as store``: pytest finds a fixture by its name in
the module, and the redundant alias tells the linter the import is meant.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

import vectorstore as vs

DT = vs.DataType

SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        vs.Field("title", DT.VARCHAR, max_length=32),
        vs.Field("views", DT.INT64, nullable=True),
        vs.Field("score", DT.FLOAT, nullable=True),
        vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=4, nullable=True),
        vs.Field("meta", DT.JSON, nullable=True),
    ],
    enable_dynamic_field=True,
)
HNSW = vs.Index("vector", "HNSW", "L2", M=8, ef_construction=40)


def vec(i: int, salt: int = 0) -> list[float]:
    vector = np.random.default_rng(i * 7919 + salt).normal(size=4).astype(np.float32)
    return cast(list[float], vector.tolist())


def row(i: int, salt: int = 0) -> dict[str, Any]:
    return {
        "id": i,
        "vector": vec(i, salt),
        "sp": {i % 7: 1.0 + salt, 100 + i: -0.5},
        "title": f"t{i}.{salt}",
        "views": None if i % 4 == 0 else i + salt,
        "score": None if i % 5 == 0 else i / 8,
        "tags": [str(i % 3), "x"] if i % 2 else None,
        "meta": {"i": i, "salt": salt, "l": [i, str(i)]} if i % 6 else None,
        **({"dyn": i * 2 + salt} if i % 3 == 0 else {}),
    }


def state(db: vs.Client) -> dict[str, Any]:
    """Everything observable (search only as "hits are live rows": graphs may differ)."""
    out: dict[str, Any] = {}
    for name in db.list_collections():
        col = db.get_collection(name)
        rows = col.query(output_fields=["*"])
        rows.sort(
            key=lambda r: (type(r[col.schema.primary.name]).__name__, r[col.schema.primary.name])
        )
        parts = col.list_partitions()
        describe = col.describe()
        out[name] = {
            "rows": rows,
            "count": col.count(),
            "partitions": parts,
            "per_partition": {
                p: sorted(
                    map(
                        str,
                        (
                            r[col.schema.primary.name]
                            for r in col.query(
                                output_fields=[col.schema.primary.name], partitions=[p]
                            )
                        ),
                    )
                )
                for p in parts
            },
            "indexes": sorted(json.dumps(i, sort_keys=True) for i in describe["indexes"]),
        }
        if rows:
            pk = col.schema.primary.name
            live = {r[pk] for r in rows}
            dense = [f.name for f in col.schema.vector_fields if f.dtype is DT.FLOAT_VECTOR]
            for hits in col.search([rows[0][dense[0]]], anns_field=dense[0], limit=5):
                assert {h.id for h in hits} <= live
    return out


def image(src: Path, dst: Path) -> Path:
    """A crash image: the directory as it is on disk right now."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def open_image(path: Path, **kw: Any) -> vs.Client:
    """Connect and open every collection (a writer opens them lazily)."""
    db = cast(vs.Client, vs.connect(path, **kw))  # a path: the embedded engine
    try:
        for name in db.list_collections():
            db.get_collection(name)
    except vs.StorageError:
        db.close()
        raise
    return db


class Store:
    """What the ``store`` fixture gives: ``path`` (tmp_path / "store"), and ``connect`` and
    ``open_image``, whose clients the fixture closes at teardown."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[vs.Client] = []

    def connect(self, path: Path | None = None, **kw: Any) -> vs.Client:
        db = cast(vs.Client, vs.connect(path or self.path, **kw))
        self.opened.append(db)
        return db

    def open_image(self, path: Path, **kw: Any) -> vs.Client:
        db = open_image(path, **kw)
        self.opened.append(db)
        return db


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """(path, clients opened through it are closed at teardown)."""
    made = Store(tmp_path / "store")
    yield made
    for db in reversed(made.opened):
        with contextlib.suppress(Exception):
            db.close()


@pytest.fixture
def no_reader_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An open retries (with backoff) when it meets a file that fails its
    checks, in case a checkpoint raced it; damage tests need no retries to be fast."""
    import vectorstore.client as client_mod

    monkeypatch.setattr(client_mod, "_OPEN_ATTEMPTS", 1)


def newest_wal(folder: Path) -> Path:
    logs = sorted(folder.glob("wal.*.log"))
    assert logs, f"no log in {folder}"
    return logs[-1]


def open_collection(path: Path, name: str = "c", **kw: Any) -> None:
    """Open a store and one collection (a writer opens collections lazily), then close."""
    db = vs.connect(path, **kw)
    try:
        db.get_collection(name).count()
    finally:
        db.close()
