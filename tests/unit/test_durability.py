"""Store-level durability: crash images, damaged files, compaction, checkpoint crash points.

A *crash image* is a copy of the store directory taken while the writer is open (or at
an exact moment inside a checkpoint, from a monkeypatched storage function): opening the
copy is what a restart after a crash at that moment sees. (The copy holds the file data
the process had handed to the OS, i.e. a process crash, not a power cut.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.storage import collection_files, segment_io
from vectorstore.storage import files as files_mod
from vectorstore.storage import store as store_mod
from vectorstore.storage.wal import read_records

DT = vs.DataType
REPO = Path(vs.__file__).resolve().parents[1]

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
    return np.random.default_rng(i * 7919 + salt).normal(size=4).astype(np.float32).tolist()


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
    db = vs.connect(path, **kw)
    try:
        for name in db.list_collections():
            db.get_collection(name)
    except vs.StorageError:
        db.close()
        raise
    return db


@pytest.fixture
def store(tmp_path):
    """(path, clients opened through it are closed at teardown)."""
    opened: list[vs.Client] = []

    class Store:
        path = tmp_path / "store"

        def connect(self, path: Path | None = None, **kw: Any) -> vs.Client:
            db = vs.connect(path or self.path, **kw)
            opened.append(db)
            return db

        def open_image(self, path: Path, **kw: Any) -> vs.Client:
            db = open_image(path, **kw)
            opened.append(db)
            return db

    yield Store()
    for db in reversed(opened):
        with contextlib.suppress(Exception):
            db.close()


# ------------------------------------------------------------ crash images


def busy_history(db: vs.Client) -> None:
    """Flushed and unflushed writes of every kind, over three collections."""
    a = db.create_collection("a", schema=SCHEMA, indexes=[HNSW], partitions=["p", "gone"])
    a.insert([row(i) for i in range(40)])
    a.insert([row(i) for i in range(40, 60)], partition="p")
    a.insert([row(i) for i in range(60, 70)], partition="gone")
    a.flush()
    # nothing below is flushed
    a.insert([row(i) for i in range(100, 130)])
    a.upsert([row(i, salt=1) for i in (5, 45, 105)], partition="p")  # moves rows
    a.delete(ids=[1, 41, 101, 999])
    a.delete(filter="id >= 110 and id < 113")
    a.create_partition("new")
    a.insert([row(i) for i in range(200, 205)], partition="new")
    a.drop_partition("gone")
    a.create_index(vs.Index("vector", "HNSW", "L2", M=12, ef_construction=60))
    a.insert([row(i) for i in range(300, 303)])
    b = db.create_collection("b", dimension=3, id_type="str", metric="IP", partitions=["x"])
    b.insert([{"id": f"k{i}", "vector": [1.0, i, 2.0], "n": i} for i in range(10)])
    b.flush()
    b.upsert({"id": "k3", "vector": [0.0, 1.0, 0.0], "n": -3}, partition="x")
    b.delete(ids=["k4", "nope"])
    b.drop_index("vector")
    c = db.create_collection("c", dimension=2, auto_id=True)
    c.insert([{"vector": [1.0, float(i)]} for i in range(5)])
    c.delete(filter="id >= 0", partition="_default")
    c.insert([{"vector": [2.0, 2.0]}])


@pytest.mark.parametrize("durability", ["fsync", "batch", "none"])
def test_unflushed_writes_survive_a_crash_image(store, tmp_path, durability):
    db = store.connect(durability=durability, segment_rows=16, sync_interval_ms=100_000)
    busy_history(db)
    expected = state(db)
    img = image(store.path, tmp_path / "img")
    db2 = store.open_image(img, durability=durability, segment_rows=16)
    assert state(db2) == expected
    # auto ids continue past the replayed ones
    c = db2.get_collection("c")
    old = max(r["id"] for r in c.query(output_fields=["id"]))
    assert c.insert([{"vector": [0.0, 1.0]}])[0] > old
    db2.close()
    db3 = store.connect(img, durability=durability)
    got = state(db3)
    assert got["a"] == expected["a"] and got["b"] == expected["b"]
    assert got["c"]["count"] == expected["c"]["count"] + 1


def test_crash_image_opens_read_only_too(store, tmp_path):
    db = store.connect(segment_rows=16)
    busy_history(db)
    expected = state(db)
    img = image(store.path, tmp_path / "img")

    # (growing_* spill files of the dead writer are left out here: a reader clobbering
    # them is tested in tests/integration/test_processes.py)
    def files() -> dict[Path, bytes]:
        return {
            p: p.read_bytes()
            for p in img.rglob("*")
            if p.is_file() and "growing_" not in p.name and p.name != ".lock"
        }

    before = files()
    ro = store.connect(img, read_only=True)
    assert state(ro) == expected
    ro.close()
    assert files() == before, "a read-only open changed the store's files"


@pytest.mark.parametrize("durability", ["fsync", "none"])
def test_unflushed_writes_survive_process_death(tmp_path, durability):
    path = tmp_path / "store"
    script = textwrap.dedent(
        """
        import os, sys, vectorstore as vs
        db = vs.connect(sys.argv[1], durability=sys.argv[2], segment_rows=8)
        col = db.create_collection("c", dimension=2, id_type="str", partitions=["p", "q"])
        col.insert([{"id": f"r{i}", "vector": [1.0, i], "n": i} for i in range(20)])
        col.flush()
        col.insert([{"id": f"s{i}", "vector": [2.0, i], "n": i} for i in range(5)], partition="q")
        col.upsert({"id": "r2", "vector": [3.0, 3.0], "n": 222}, partition="p")
        col.delete(filter="n >= 15 and n < 18")
        col.drop_partition("q")
        col.create_partition("z")
        col.insert({"id": "z1", "vector": [0.5, 0.5], "n": 1}, partition="z")
        col.create_index("vector", "HNSW", "IP", M=4, ef_construction=20)
        print("done", flush=True)
        os._exit(0)  # no close(): the process dies with everything unflushed
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), durability],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0 and "done" in out.stdout, out.stderr
    with vs.connect(path, durability=durability) as db:
        col = db.get_collection("c")
        assert col.list_partitions() == ["_default", "p", "z"]
        ids = sorted(r["id"] for r in col.query(output_fields=["id"]))
        want = sorted({f"r{i}" for i in range(20)} - {"r15", "r16", "r17"} | {"z1"})
        assert ids == want
        assert col.get("r2", output_fields=["n"]) == [{"id": "r2", "n": 222}]
        assert col.count(partitions=["p"]) == 1
        assert [i["metric"] for i in col.describe()["indexes"]] == ["IP"]


# ------------------------------------------------------------- damaged log


def newest_wal(folder: Path) -> Path:
    logs = sorted(folder.glob("wal.*.log"))
    assert logs, f"no log in {folder}"
    return logs[-1]


def five_inserts(store, tmp_path) -> tuple[Path, list[int]]:
    """A crash image whose newest log holds five single-row inserts; returns the log
    and its record boundaries."""
    db = store.connect()
    col = db.create_collection("c", dimension=4)
    col.insert([{"id": i, "vector": vec(i)} for i in range(10)])
    col.flush()
    starts = [os.path.getsize(newest_wal(store.path / "c"))]
    for i in range(10, 15):
        col.insert({"id": i, "vector": vec(i), "n": i})
        starts.append(os.path.getsize(newest_wal(store.path / "c")))
    img = image(store.path, tmp_path / "img")
    log = newest_wal(img / "c")
    payloads, end, size = read_records(str(log))
    assert len(payloads) == 5 and end == size == starts[-1] and starts[0] == 0
    return log, starts


def open_collection(path: Path, name: str = "c", **kw: Any) -> None:
    """Open a store and one collection (a writer opens collections lazily), then close."""
    db = vs.connect(path, **kw)
    try:
        db.get_collection(name).count()
    finally:
        db.close()


def ids_in(db: vs.Client) -> list[int]:
    return sorted(r["id"] for r in db.get_collection("c").query(output_fields=["id"]))


@pytest.mark.parametrize("cut", [1, 7, 12, 13, "half", "all-but-one"])
def test_truncated_log_tail_in_a_store(store, tmp_path, caplog, cut):
    log, starts = five_inserts(store, tmp_path)
    last = starts[-1] - starts[-2]
    n = {"half": last // 2, "all-but-one": last - 1}.get(cut, cut)
    data = log.read_bytes()
    log.write_bytes(data[: starts[-2] + n])
    img = log.parent.parent
    ro = store.connect(img, read_only=True)
    assert ids_in(ro) == list(range(14))
    ro.close()
    db = store.connect(img)
    assert ids_in(db) == list(range(14))  # the torn 5th insert is dropped, the rest kept
    with caplog.at_level(logging.WARNING, logger="vectorstore.wal"):
        # the next writer (holding the write lock) cuts the torn tail off first
        db.get_collection("c").insert({"id": 14, "vector": vec(99)})  # the key is free again
    assert any(r.name == "vectorstore.wal" and r.levelno >= logging.WARNING for r in caplog.records)
    db.close()
    db = store.connect(img)
    assert ids_in(db) == list(range(15))


def test_bit_flip_in_the_last_log_record_of_a_store(store, tmp_path, caplog):
    log, starts = five_inserts(store, tmp_path)
    data = bytearray(log.read_bytes())
    data[(starts[-2] + starts[-1]) // 2] ^= 0x10
    log.write_bytes(bytes(data))
    db = store.connect(log.parent.parent)
    assert ids_in(db) == list(range(14))
    with caplog.at_level(logging.WARNING, logger="vectorstore.wal"):
        db.get_collection("c").insert({"id": 14, "vector": vec(99)})  # cuts the tail first
    assert any(r.name == "vectorstore.wal" for r in caplog.records)
    db.close()
    with store.connect(log.parent.parent) as db:
        assert ids_in(db) == list(range(15))


@pytest.mark.parametrize("record", [0, 2, 3])
def test_bit_flip_in_a_committed_log_record_of_a_store(store, tmp_path, record, no_reader_retries):
    log, starts = five_inserts(store, tmp_path)
    data = bytearray(log.read_bytes())
    data[(starts[record] + starts[record + 1]) // 2] ^= 0x01
    log.write_bytes(bytes(data))

    def files() -> dict[Path, bytes]:  # a dead writer's growing_* spill files are junk
        return {
            p: p.read_bytes()
            for p in log.parent.parent.rglob("*")
            if p.is_file() and "growing_" not in p.name
        }

    before = files()
    for read_only in (False, True):
        with pytest.raises(vs.StorageError) as info:
            open_collection(log.parent.parent, read_only=read_only)
        assert log.name in str(info.value)
        assert not isinstance(info.value, vs.LockedError)
    assert files() == before, "opening a damaged store changed it"


# ------------------------------------------------------- damaged segments

# The kinds of file a sealed segment holds; versioned names (tombstones, graphs) and
# the dynamic-field file are matched by pattern, the column files by name.
SEGMENT_FILES = {
    "id.npy": r"id\.npy",
    "vector.vec.npy": r"vector\.vec\.npy",
    "hnsw-graph": r"vector.*\.hgraph",
    "sp.sparse.indptr.npy": r"sp\.sparse\.indptr\.npy",
    "sp.sparse.indices.npy": r"sp\.sparse\.indices\.npy",
    "sp.sparse.values.npy": r"sp\.sparse\.values\.npy",
    "title.jsonl": r"title\.jsonl",
    "views.npy": r"views\.npy",
    "views.nulls.npy": r"views\.nulls\.npy",
    "score.npy": r"score\.npy",
    "tags.jsonl": r"tags\.jsonl",
    "meta.jsonl": r"meta\.jsonl",
    "dynamic-fields": r"(_meta|dynamic).*\.jsonl",
    "tombstones": r"(deleted|tombstones).*\.npy",
}


def segment_file(folder: Path, kind: str) -> Path:
    found = [p for p in folder.iterdir() if re.fullmatch(SEGMENT_FILES[kind], p.name)]
    assert len(found) == 1, (kind, sorted(p.name for p in folder.iterdir()))
    return found[0]


@pytest.fixture
def no_reader_retries(monkeypatch):
    """An open retries (with backoff) when it meets a file that fails its
    checks, in case a checkpoint raced it; damage tests need no retries to be fast."""
    import vectorstore.client as client_mod

    monkeypatch.setattr(client_mod, "_OPEN_ATTEMPTS", 1)


@pytest.fixture
def sealed(store, tmp_path) -> Path:
    """A closed store with one sealed segment (every kind of file) in folder seg_*."""
    db = store.connect()
    col = db.create_collection("c", schema=SCHEMA, indexes=[HNSW])
    col.insert([row(i) for i in range(30)])
    col.delete(ids=[3])
    db.close()
    segs = list((store.path / "c").glob("seg_*"))
    assert len(segs) == 1
    for kind in SEGMENT_FILES:
        segment_file(segs[0], kind)
    return segs[0]


@pytest.mark.parametrize("kind", list(SEGMENT_FILES))
@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_damaged_segment_file_is_named(store, sealed, kind, damage, no_reader_retries):
    path = segment_file(sealed, kind)
    name = path.name
    data = path.read_bytes()
    if damage == "flip":
        pos = len(data) - 2 if name.endswith(".npy") else len(data) // 2  # past .npy headers
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x04]) + data[pos + 1 :])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    for read_only in (False, True):
        with pytest.raises(vs.StorageError) as info:
            open_collection(store.path, read_only=read_only)
        assert str(path) in str(info.value) or f"{sealed.name}/{name}" in str(info.value), str(
            info.value
        )
        assert not isinstance(info.value, vs.LockedError)


def test_other_collections_of_a_damaged_store(store, sealed):
    """Damage in one collection's segment names it, when that collection is
    opened (with the default retries too); the other collections open."""
    with vs.connect(store.path) as db:
        db.create_collection("ok", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    segment_file(sealed, "id.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(vs.StorageError, match=r"id\.npy"):
        open_collection(store.path)
    open_collection(store.path, name="ok")  # collections open lazily
    open_collection(store.path, name="ok", read_only=True)
    with pytest.raises(vs.StorageError, match=r"id\.npy"):
        open_collection(store.path, read_only=True)


def test_newer_format_version_leaves_the_store_alone(store, tmp_path):
    db = store.connect()
    db.create_collection("c", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    img = image(store.path, tmp_path / "img")  # with an unreplayed log
    manifest = json.loads((img / "manifest.json").read_text())
    manifest["format_version"] = manifest["format_version"] + 1
    (img / "manifest.json").write_text(json.dumps(manifest))

    def files() -> dict[Path, bytes]:
        return {
            p: p.read_bytes()
            for p in img.rglob("*")
            if p.is_file() and "growing_" not in p.name and p.name != ".lock"
        }

    before = files()
    for read_only in (False, True):
        with pytest.raises(vs.StorageError) as info:
            open_collection(img, read_only=read_only)
        msg = str(info.value)
        assert "manifest.json" in msg and str(manifest["format_version"]) in msg
    assert files() == before


# -------------------------------------------------------------- compaction


def hnsw_elements(col: vs.Collection) -> tuple[int, int]:
    """(elements, allocated slots) over every hnswlib index of the collection."""
    n = cap = 0
    for segs in col._state.partitions.values():
        for seg in segs:
            for index in seg.indexes.values():
                n += len(index)
                cap += index._index.get_max_elements()
    return n, cap


def rows_held(col: vs.Collection) -> int:
    return sum(seg.num_rows for segs in col._state.partitions.values() for seg in segs)


def test_compact_gives_disk_and_memory_back(store):
    db = store.connect(segment_rows=500)
    col = db.create_collection("c", dimension=16, partitions=["p"])
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(3000, 16)).astype(np.float32)
    col.insert([{"id": i, "vector": vecs[i], "t": "x" * 20} for i in range(2500)])
    col.insert([{"id": i, "vector": vecs[i]} for i in range(2500, 3000)], partition="p")
    col.flush()
    folder = store.path / "c"
    size_full = disk_bytes(folder)
    n_full, cap_full = hnsw_elements(col)
    assert n_full == 3000 and rows_held(col) == 3000
    keep = list(range(0, 3000, 10))
    col.delete(ids=[i for i in range(3000) if i % 10])
    col.flush()
    col.compact()
    assert col.count() == 300 and col.stats()["deleted_rows"] == 0
    n, cap = hnsw_elements(col)
    assert n == 300 and rows_held(col) == 300
    assert cap < cap_full / 2  # hnswlib preallocates: the slots must go too
    assert len(col._state.locations) == 300
    assert disk_bytes(folder) < size_full / 3
    # the compacted-away rows never come back in a search, the kept ones do
    hits = col.search(vecs[:50], limit=1, search_params={"ef": 300})
    assert all(h[0].id in set(keep) for h in hits)
    assert [h[0].id for h in hits[::10]] == keep[:5]
    db.close()
    db = store.connect(segment_rows=500)
    col = db.get_collection("c")
    assert sorted(r["id"] for r in col.query(output_fields=["id"])) == keep
    assert hnsw_elements(col)[0] == 300 and rows_held(col) == 300
    assert disk_bytes(folder) < size_full / 3


def test_deleting_everything_then_compact_leaves_almost_nothing(store):
    db = store.connect(segment_rows=200)
    col = db.create_collection("c", dimension=8)
    col.insert([{"id": i, "vector": vec(i) * 2} for i in range(1000)])
    col.flush()
    size_full = disk_bytes(store.path / "c")
    col.delete(filter="id >= 0")
    col.compact()
    assert col.count() == 0 and rows_held(col) == 0 and hnsw_elements(col)[0] == 0
    assert disk_bytes(store.path / "c") < size_full / 10
    assert col.search([vec(1) * 2], limit=3) == [[]]


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
        m.setattr(segment, "object_column", interrupted)  # after the columns took the rows
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
