"""Store-level durability: crash images taken at every step of a checkpoint, of a
compaction and of a drop_collection; the order of fsyncs and renames that makes the
manifest and every file it names durable before old files go; batch mode made durable
by flush() and close(); the log trimmed by checkpoints; and writes cut short (a search
mapping a column while it is sealed, a Ctrl-C inside an insert).

Crash images and the ``store`` fixture: tests/helpers/durability.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.durability import (
    HNSW,
    SCHEMA,
    disk_bytes,
    image,
    newest_wal,
    row,
    state,
    vec,
)

# a pytest fixture, found by name here (see tests/helpers/durability.py)
from helpers.durability import store as store

import vectorstore as vs
from vectorstore.storage import collection_files, segment_io
from vectorstore.storage import files as files_mod
from vectorstore.storage import store as store_mod

# ---------------------------------------------------- checkpoint crash points


class SimulatedCrashError(Exception):
    pass


class CrashPoint:
    """Replace ``owner.attr`` so that its n-th call takes a crash image (before or after
    the real call, or in the middle for write_npy) and raises SimulatedCrashError."""

    def __init__(self, monkeypatch, src: Path, dst: Path):
        self.monkeypatch, self.src, self.dst = monkeypatch, src, dst
        self.hit = False

    def arm(self, owner: Any, attr: str, when: str, nth: int = 1, match: str = "") -> None:
        """``match``: only calls whose first argument contains it (and, for removals,
        exists: write_segment's cleanup of leftovers does not count) are counted."""
        real = getattr(owner, attr)
        calls = [0]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted = not match or (match in str(args[0]) and os.path.exists(args[0]))
            if self.hit or not counted:
                return real(*args, **kwargs)
            calls[0] += 1
            if calls[0] != nth:
                return real(*args, **kwargs)
            if when == "before":
                self.crash()
            if when == "middle":  # half a file, then death
                path, array = args[0], args[1]
                with open(path, "wb") as f:
                    np.save(f, array, allow_pickle=False)
                size = os.path.getsize(path)
                os.truncate(path, size // 2)
                self.crash()
            result = real(*args, **kwargs)
            self.crash()
            return result

        self.monkeypatch.setattr(owner, attr, wrapper)

    def crash(self) -> None:
        self.hit = True
        image(self.src, self.dst)
        raise SimulatedCrashError


POINTS = {
    # name: (owner, attribute, when, nth, match); "after the manifest" points come last
    "segment-before": (collection_files, "write_segment", "before", 1, ""),
    "segment-middle": (segment_io, "write_npy", "middle", 2, ""),
    "segment-after": (collection_files, "write_segment", "after", 1, ""),
    "manifest-before": (store_mod.DirectoryStore, "write_manifest", "before", 1, ""),
    "manifest-after": (store_mod.DirectoryStore, "write_manifest", "after", 1, ""),
    "log-trim": (os, "remove", "before", 1, "wal."),
    "folder-removal": (shutil, "rmtree", "before", 1, "seg_"),
}


def checkpoint_history(db: vs.Client, rewrites: str) -> vs.Collection:
    col = db.create_collection("c", schema=SCHEMA, indexes=[HNSW], partitions=["p", "gone"])
    col.insert([row(i) for i in range(50)])
    col.insert([row(i) for i in range(50, 70)], partition="p")
    col.insert([row(i) for i in range(70, 80)], partition="gone")
    col.flush()  # persisted segments of up to 16 rows
    # below: less than a segment per partition, so no checkpoint runs before the test's
    col.insert([row(i) for i in range(100, 110)])  # a new segment at the next checkpoint
    col.upsert([row(i, salt=2) for i in (105, 106)], partition="p")  # rows not yet persisted
    col.create_partition("new")
    col.insert([row(i) for i in range(200, 205)], partition="new")
    col.drop_partition("gone")  # a persisted folder to remove after the manifest
    if rewrites == "tombstones":
        col.delete(ids=[1, 2, 51])  # rows of persisted segments
        col.upsert(row(3, salt=5))
    elif rewrites == "index":
        col.create_index(vs.Index("vector", "HNSW", "L2", M=10, ef_construction=30))
    return col


def _point_params() -> list[Any]:
    out = []
    for rewrites in ("append-only", "tombstones", "index"):
        for point in POINTS:
            out.append(pytest.param(rewrites, point, id=f"{rewrites}-{point}"))
    return out


@pytest.mark.parametrize(("rewrites", "point"), _point_params())
def test_crash_image_inside_a_checkpoint(store, tmp_path, monkeypatch, rewrites, point):
    db = store.connect(segment_rows=16)
    col = checkpoint_history(db, rewrites)
    expected = state(db)
    img = tmp_path / "img"
    crash = CrashPoint(monkeypatch, store.path, img)
    owner, attr, when, nth, match = POINTS[point]
    crash.arm(owner, attr, when, nth, match)
    with pytest.raises(SimulatedCrashError):
        col.flush()
    monkeypatch.undo()
    db2 = store.open_image(img, segment_rows=16)
    assert state(db2) == expected
    db2.close()
    db3 = store.open_image(img, segment_rows=16)  # and after recovery's own checkpoint
    assert state(db3) == expected


@pytest.mark.parametrize("point", list(POINTS))
def test_crash_image_inside_a_compaction(store, tmp_path, monkeypatch, point):
    db = store.connect(segment_rows=16)
    col = db.create_collection("c", schema=SCHEMA, indexes=[HNSW], partitions=["p"])
    col.insert([row(i) for i in range(80)])
    col.insert([row(i) for i in range(80, 100)], partition="p")
    col.flush()
    col.delete(filter="id % 10 != 0")
    col.flush()
    col.insert([row(i) for i in range(500, 505)])  # unflushed, too
    expected = state(db)
    size_before = disk_bytes(store.path / "c")
    img = tmp_path / "img"
    crash = CrashPoint(monkeypatch, store.path, img)
    owner, attr, when, nth, match = POINTS[point]
    crash.arm(owner, attr, when, nth, match)
    with pytest.raises(SimulatedCrashError):
        col.compact()
    monkeypatch.undo()
    db2 = store.open_image(img, segment_rows=16)
    assert state(db2) == expected
    db2.get_collection("c").compact()
    assert state(db2) == expected
    db2.close()
    assert disk_bytes(img / "c") < size_before


def test_old_segment_folders_go_only_after_the_manifest_is_durable(store, monkeypatch):
    db = store.connect(segment_rows=16)
    col = db.create_collection("c", dimension=4)
    col.insert([{"id": i, "vector": vec(i)} for i in range(64)])
    col.flush()
    col.delete(filter="id >= 8")
    events: list[tuple[str, str]] = []
    real_replace, real_rmtree, real_fsync = os.replace, shutil.rmtree, os.fsync

    def replace(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst, *a, **k)

    def rmtree(path: Any, *a: Any, **k: Any) -> None:
        if os.path.exists(path):
            events.append(("rmtree", str(path)))
        real_rmtree(path, *a, **k)

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    monkeypatch.setattr(os, "fsync", fsync)
    col.compact()
    monkeypatch.undo()
    manifest = str(store.path / "manifest.json")
    replaced = events.index(("replace", manifest))
    dir_synced = events.index(("fsync", str(store.path)), replaced)
    removals = [i for i, e in enumerate(events) if e[0] == "rmtree"]
    assert removals, "compaction removed no folder"
    assert min(removals) > dir_synced


def test_every_file_the_manifest_names_is_durable_before_it(store, monkeypatch):
    db = store.connect()
    col = db.create_collection("c", schema=SCHEMA, indexes=[HNSW])
    col.insert([row(i) for i in range(30)])
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    at_replace: list[str] = []

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(src: Any, dst: Any, *a: Any, **k: Any) -> None:
        if str(dst).endswith("manifest.json"):
            at_replace.extend(synced)
        synced.append(f"renamed:{src}->{dst}")
        real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    col.flush()
    monkeypatch.undo()
    manifest = json.loads((store.path / "manifest.json").read_text())
    folder = store.path / "c"
    problems = []
    for sid, entry in manifest["collections"]["c"]["segments"].items():
        seg = folder / f"seg_{sid}"
        for name in entry["files"]:
            path = str(seg / name)
            if path not in at_replace and f"{path}.tmp" not in at_replace:
                problems.append(f"{path} not fsynced")
        if str(seg) not in at_replace:
            problems.append(f"{seg} (directory) not fsynced")
    if str(folder) not in at_replace:
        problems.append(f"{folder} (directory holding the new segment folders) not fsynced")
    assert not problems, problems


def test_flush_and_close_make_batch_mode_durable(store, monkeypatch):
    """'batch': flush() and close() fsync the log (a power cut loses nothing after them)."""
    db = store.connect(durability="batch", sync_interval_ms=3_600_000)
    col = db.create_collection("c", dimension=2)
    synced: list[str] = []
    real = os.fsync
    monkeypatch.setattr(
        os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real(fd))[1]
    )
    col.insert({"id": 1, "vector": [1.0, 0.0]})
    log = str(newest_wal(store.path / "c"))
    assert log not in synced  # batch mode: not yet
    col.flush()
    assert log in synced  # the checkpoint syncs the log it retires
    col.insert({"id": 2, "vector": [0.0, 1.0]})
    log2 = str(newest_wal(store.path / "c"))
    synced.clear()
    db.close()
    assert log2 in synced


def test_drop_collection_crash_after_manifest(store, tmp_path, monkeypatch):
    db = store.connect()
    col = db.create_collection("c", dimension=2)
    col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(5)])
    col.flush()
    col.insert({"id": 9, "vector": [0.0, 1.0]})
    crash = CrashPoint(monkeypatch, store.path, tmp_path / "img")
    crash.arm(shutil, "rmtree", "before", 1, str(store.path / "c"))
    with pytest.raises(SimulatedCrashError):
        db.drop_collection("c")
    monkeypatch.undo()
    db2 = store.open_image(tmp_path / "img")
    assert db2.list_collections() == []
    col = db2.create_collection("c", dimension=2)  # no old row comes back
    assert col.count() == 0
    db2.close()
    db3 = store.open_image(tmp_path / "img")
    assert db3.get_collection("c").count() == 0


def test_write_json_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    files_mod.write_json(str(path), {"a": 1})

    def broken_fsync(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        files_mod.write_json(str(path), {"a": 2})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"a": 1}


def test_checkpoint_trims_the_log(store):
    limit = 4_000
    db = store.connect(max_wal_bytes=limit)
    col = db.create_collection("c", dimension=32)
    rng = np.random.default_rng(3)
    for i in range(40):  # ~330-byte records: ~13 kB in all, past the limit three times
        col.insert({"id": i, "vector": rng.normal(size=32).tolist()})
    folder = store.path / "c"
    assert list(folder.glob("seg_*")), "no checkpoint ran by log size"
    logged = sum(p.stat().st_size for p in folder.glob("wal.*.log"))
    assert logged < limit + 400  # trimmed: at most the limit plus one record
    col.flush()
    logs = list(folder.glob("wal.*.log"))
    assert len(logs) == 1 and logs[0].stat().st_size == 0
    db.close()
    db = store.connect()
    assert db.get_collection("c").count() == 40


def test_sealing_a_spilled_column_while_a_search_maps_it(tmp_path, monkeypatch):
    # A search calling FileColumn.view mid-seal (np.memmap seeks the shared handle
    # to its end) must not truncate the sealed copy: CI caught that race once.
    from vectorstore import columns as segment_mod

    col = segment_mod.FileColumn(str(tmp_path / "spill.f32"), 4)
    rows = np.arange(40, dtype=np.float32).reshape(10, 4)
    col.append(rows[:6])
    assert np.array_equal(col.view, rows[:6])
    col.append(rows[6:])
    copy = shutil.copyfileobj

    def search_meanwhile(src: Any, dst: Any, length: int = 0) -> None:
        assert len(col.view) == 10  # maps the file through the shared handle
        copy(src, dst, length)

    monkeypatch.setattr(segment_mod.shutil, "copyfileobj", search_meanwhile)
    col.save_npy(str(tmp_path / "sealed.npy"))
    assert np.array_equal(np.load(tmp_path / "sealed.npy"), rows)
    col.close()


def test_a_write_interrupted_halfway_is_never_checkpointed(tmp_path, monkeypatch):
    # Ctrl-C landing inside an insert left some columns appended and others not,
    # and close() then checkpointed that state: the store no longer opened.
    from vectorstore import segment

    path = str(tmp_path / "store")
    db = vs.connect(path)
    col = db.create_collection("c", dimension=4)
    col.insert([{"id": i, "vector": [1.0, 0.0, 0.0, float(i)]} for i in range(50)])

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(segment, "dynamic_column", interrupted)  # after the columns took the rows
        with pytest.raises(KeyboardInterrupt):
            col.insert([{"id": 100 + i, "vector": [0.0, 1.0, 0.0, 0.0]} for i in range(10)])
    with pytest.raises(vs.ClosedError, match="interrupted"):
        col.count()
    db.close()  # closes without writing the half-applied state
    with vs.connect(path) as db:
        col = db.get_collection("c")
        assert col.count() == 60  # the logged batch replays whole
        assert sorted(r["id"] for r in col.query("id >= 100")) == list(range(100, 110))
        assert len(col.search([[0.0, 1.0, 0.0, 0.0]], limit=10)[0]) == 10
