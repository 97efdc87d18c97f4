"""The path store: close / reopen, compaction, the writer lock, read-only, format checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import vectorstore as vs

DT = vs.DataType

REPO = Path(vs.__file__).resolve().parents[1]


def vec(i: int, dim: int = 4) -> list[float]:
    rng = np.random.default_rng(i)
    return rng.normal(size=dim).astype(np.float32).tolist()


SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        vs.Field("title", DT.VARCHAR, max_length=32, default_value="none"),
        vs.Field("views", DT.INT64, nullable=True),
        vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=4, nullable=True),
        vs.Field("meta", DT.JSON, nullable=True),
    ],
    enable_dynamic_field=True,
)


def row(i: int, **extra) -> dict:
    return {
        "id": i,
        "vector": vec(i),
        "title": f"t{i}",
        "views": None if i % 4 == 0 else i,
        "tags": [str(i % 3)] if i % 2 else None,
        "meta": {"i": i, "l": [i, str(i)]} if i % 5 else None,
        **({"dyn": i * 2} if i % 3 == 0 else {}),
        **extra,
    }


def state(db: vs.Client, snapshot) -> dict:
    """Everything a user can observe of every collection.

    Partition order is compared as a set here; its order across a reopen has its own
    test (tests/api/test_core_partitions.py::test_partition_order_survives_reopen).
    """
    out = {}
    for name in db.list_collections():
        col = db.get_collection(name)
        q = [vec(10_000), vec(10_001)]
        rows, count, partitions = snapshot(col)
        describe = col.describe()
        describe["partitions"] = sorted(describe["partitions"])
        out[name] = {
            "snapshot": (rows, count, sorted(partitions)),
            "describe": describe,
            "search": [[(h.id, round(h.distance, 4)) for h in r] for r in col.search(q, limit=7)],
            "per_partition": {p: col.count(partitions=[p]) for p in col.list_partitions()},
        }
    return out


def test_everything_survives_close_and_reopen(disk_stores, snapshot):
    db = disk_stores.connect(segment_rows=16)
    a = db.create_collection("a", schema=SCHEMA, indexes=[vs.Index("vector", "FLAT", "L2")])
    b = db.create_collection("b", dimension=4, metric="IP", id_type="str", partitions=["x"])
    a.create_partition("p")
    a.create_partition("empty")
    a.insert([row(i) for i in range(40)])
    a.insert([row(i) for i in range(40, 60)], partition="p")
    a.delete(ids=[1, 2, 3, 45, 59])
    a.upsert([row(2, title="back"), row(41, title="moved")])  # 41 moves out of p
    b.insert([{"id": f"k{i}", "vector": vec(i), "note": i} for i in range(30)], partition="x")
    b.delete(ids=["k0", "k29"])
    expected = state(db, snapshot)
    for _ in range(3):
        db = disk_stores.reopen(db)
        assert state(db, snapshot) == expected
    a = db.get_collection("a")
    assert a.get(41, partitions=["_default"])[0]["title"] == "moved"
    assert a.get([1, 3, 45, 59]) == []


def test_flush_then_more_writes_then_reopen(disk_stores, snapshot):
    db = disk_stores.connect(segment_rows=25)
    col = db.create_collection("c", schema=SCHEMA, partitions=["p"])
    col.insert([row(i) for i in range(60)])
    col.flush()
    col.insert([row(i) for i in range(60, 80)], partition="p")
    col.delete(ids=[0, 10, 59, 61])  # flushed and growing rows
    col.upsert([row(5, title="new"), row(70, title="new")])
    col.create_partition("q")
    col.insert([row(100)], partition="q")
    before = state(db, snapshot)
    db = disk_stores.reopen(db)
    assert state(db, snapshot) == before
    col = db.get_collection("c")
    col.flush()
    col.delete(ids=[5])
    col.insert([row(200)])
    before = state(db, snapshot)
    db = disk_stores.reopen(db)
    assert state(db, snapshot) == before


def test_reopen_with_other_segment_rows(disk_stores, snapshot):
    db = disk_stores.connect(segment_rows=10)
    col = db.create_collection("c", schema=SCHEMA)
    col.insert([row(i) for i in range(55)])
    assert col.stats()["segments"] == 6
    before = state(db, snapshot)
    db.close()
    db = disk_stores.connect(segment_rows=1000)
    assert state(db, snapshot) == before
    db.get_collection("c").insert([row(i) for i in range(55, 70)])
    assert db.get_collection("c").count() == 70


def test_auto_id_continues_without_reuse(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("c", dimension=4, auto_id=True)
    old = col.insert([{"vector": vec(i)} for i in range(20)])
    col.delete(ids=old)
    db = disk_stores.reopen(db)
    col = db.get_collection("c")
    new = col.insert([{"vector": vec(i)} for i in range(20)])
    assert not set(old) & set(new)
    assert min(new) > max(old)
    db = disk_stores.reopen(db)
    newer = db.get_collection("c").insert([{"vector": vec(1)}])
    assert newer[0] > max(new)
    assert db.get_collection("c").count() == 21


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_compact_after_deleting_most_rows(kind, tmp_path, snapshot):
    uri = ":memory:" if kind == "memory" else str(tmp_path / "store")
    db = vs.connect(uri, segment_rows=100)
    col = db.create_collection("c", schema=SCHEMA, partitions=["p"])
    col.insert([row(i) for i in range(800)])
    col.insert([row(i) for i in range(800, 1000)], partition="p")
    col.flush()
    rng = np.random.default_rng(5)
    keep = sorted(rng.choice(1000, size=100, replace=False).tolist())
    col.delete(ids=sorted(set(range(1000)) - set(keep)))
    folder = tmp_path / "store" / "c"

    def disk_bytes() -> int:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    size_before = disk_bytes() if kind == "disk" else 0
    before = snapshot(col)
    q = [vec(5000)]
    search_before = col.search(q, limit=20)
    col.compact()
    assert snapshot(col) == before
    assert [r["id"] for r in before[0]] == keep
    search_after = col.search(q, limit=20)
    assert [h.id for h in search_after[0]] == [h.id for h in search_before[0]]
    assert [h.distance for h in search_after[0]] == pytest.approx(
        [h.distance for h in search_before[0]], rel=1e-5
    )
    stats = col.stats()
    assert stats["row_count"] == 100 and stats["deleted_rows"] == 0
    assert stats["segments"] <= 3
    assert col.count(partitions=["p"]) == sum(k >= 800 for k in keep)
    # the ids of compacted-away rows are free; the kept ones are still taken
    freed = next(i for i in range(1000) if i not in set(keep))
    col.insert(row(freed))
    with pytest.raises(vs.DuplicateKeyError):
        col.insert(row(keep[-1]))
    if kind == "disk":
        assert disk_bytes() < size_before / 2
        seg_dirs = [p for p in folder.iterdir() if p.name.startswith("seg_")]
        assert len(seg_dirs) <= 4
        db.close()
        db = vs.connect(uri)
        col = db.get_collection("c")
        assert col.count() == 101
        assert [r["id"] for r in col.get(keep)] == keep
    db.close()


def test_two_writers_of_one_store_see_each_others_writes(disk_stores):
    """Two clients of one path (as two processes would be) both write; each call
    sees what the other acknowledged before it; a reopen has everything."""
    a, b = disk_stores.connect(), disk_stores.connect()
    col_a = a.create_collection("c", dimension=4)
    col_b = b.get_collection("c")  # created by the other writer
    col_a.insert({"id": 1, "vector": vec(1)})
    col_b.insert({"id": 2, "vector": vec(2)})
    with pytest.raises(vs.DuplicateKeyError):
        col_b.insert({"id": 1, "vector": vec(3)})  # b caught up before checking keys
    col_a.delete(ids=[2])
    assert col_b.count() == 1 and col_b.get([1])[0]["id"] == 1
    col_b.flush()  # a checkpoint by b: a rebuilds its state from the new files
    col_a.upsert({"id": 1, "vector": vec(4), "tag": "a"})
    assert col_b.get([1])[0]["tag"] == "a"
    assert [h.id for h in col_b.search([vec(4)], limit=1)[0]] == [1]
    b.close()
    a.close()
    again = disk_stores.connect()
    assert again.get_collection("c").query(output_fields=["id", "tag"]) == [{"id": 1, "tag": "a"}]
    again.close()


def test_a_write_waiting_past_lock_timeout_names_the_holder(disk_stores):
    db = disk_stores.connect()
    db.create_collection("c", dimension=4).insert({"id": 1, "vector": vec(1)})
    other = vs.connect(disk_stores.path, lock_timeout=0.2)
    col = other.get_collection("c")
    with db._store.writing():  # a write (or checkpoint) of the first client in progress
        with pytest.raises(vs.LockedError) as info:
            col.insert({"id": 2, "vector": vec(2)})
        assert col.count() == 1  # reads never wait for the write lock
    assert str(os.getpid()) in str(info.value) and "lock_timeout" in str(info.value)
    assert isinstance(info.value, vs.StorageError) and isinstance(info.value, OSError)
    col.insert({"id": 2, "vector": vec(2)})  # the lock is free again
    assert db.get_collection("c").count() == 2
    other.close()
    db.close()


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_second_writer_process_writes_beside_this_one(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("c", dimension=4)
    col.insert({"id": 1, "vector": vec(1)})
    out = run_python(
        """
        import sys, vectorstore as vs
        with vs.connect(sys.argv[1]) as db:
            col = db.get_collection("c")
            print("SEES", col.count())
            col.insert({"id": 2, "vector": [0.5, 0.5, 0.5, 0.5]})
        db = vs.connect(sys.argv[1], read_only=True)
        print("READER", db.list_collections(), db.get_collection("c").count())
        """,
        str(disk_stores.path),
    )
    assert out.returncode == 0, out.stderr
    assert "SEES 1" in out.stdout and "READER ['c'] 2" in out.stdout
    assert col.count() == 2 and col.get([2])[0]["id"] == 2  # this process caught up
    db.close()


def test_read_only(disk_stores, snapshot):
    db = disk_stores.connect()
    col = db.create_collection("c", schema=SCHEMA, partitions=["p"])
    col.insert([row(i) for i in range(30)])
    expected = state(db, snapshot)
    db.close()
    ro = vs.connect(disk_stores.path, read_only=True)
    try:
        assert state(ro, snapshot) == expected
        col = ro.get_collection("c")
        writes = [
            lambda: col.insert(row(100)),
            lambda: col.upsert(row(1)),
            lambda: col.delete(ids=[1]),
            lambda: col.create_partition("q"),
            lambda: col.drop_partition("p"),
            lambda: col.flush(),
            lambda: col.compact(),
            lambda: col.create_index("vector", "FLAT", "L2"),
            lambda: col.drop_index("vector"),
            lambda: ro.create_collection("d", dimension=4),
            lambda: ro.drop_collection("c"),
        ]
        for write in writes:
            with pytest.raises(vs.ReadOnlyError) as info:
                write()
            assert isinstance(info.value, PermissionError)
        assert state(ro, snapshot) == expected
        # a reader does not take the writer lock, and a writer may open meanwhile
        writer = vs.connect(disk_stores.path)
        writer.close()
    finally:
        ro.close()
    db = disk_stores.connect()
    assert state(db, snapshot) == expected


def test_read_only_needs_an_existing_store(tmp_path):
    with pytest.raises(vs.StorageError):
        vs.connect(tmp_path / "nothing_here", read_only=True)
    assert not (tmp_path / "nothing_here").exists()


@pytest.mark.parametrize("version", [2, 99, "1", None])
def test_manifest_of_an_unknown_format_version(disk_stores, version):
    db = disk_stores.connect()
    db.create_collection("c", dimension=4)
    db.close()
    path = disk_stores.path / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["format_version"] == 1
    original = dict(manifest)
    manifest["format_version"] = version
    path.write_text(json.dumps(manifest))
    with pytest.raises(vs.StorageError) as info:
        vs.connect(disk_stores.path)
    assert not isinstance(info.value, vs.LockedError)
    with pytest.raises(vs.StorageError):
        vs.connect(disk_stores.path, read_only=True)
    assert json.loads(path.read_text()) == manifest  # left alone
    path.write_text(json.dumps(original))
    db = disk_stores.connect()  # the failed opens released the lock
    assert db.list_collections() == ["c"]


@pytest.mark.parametrize("content", [b"", b"{not json", b"\x00\xff\xfe", b"{}"])
def test_damaged_manifest(disk_stores, content):
    disk_stores.connect().close()
    (disk_stores.path / "manifest.json").write_bytes(content)
    with pytest.raises(vs.StorageError):
        vs.connect(disk_stores.path)


@pytest.mark.parametrize(
    "content",
    [b"[]", b"1", b'{"format_version": 1}', b'{"format_version": 1, "collections": []}'],
)
def test_manifest_of_the_wrong_shape(disk_stores, content):
    disk_stores.connect().close()
    (disk_stores.path / "manifest.json").write_bytes(content)
    with pytest.raises(vs.StorageError):
        db = vs.connect(disk_stores.path)
        try:
            db.list_collections()
            db.create_collection("c", dimension=4)
        finally:
            db.close()


def test_files_stay_inside_the_store_and_never_pickle(disk_stores, tmp_path):
    db = disk_stores.connect(segment_rows=10)
    col = db.create_collection("c", schema=SCHEMA)
    col.insert([row(i) for i in range(25)])
    db.close()
    outside = [p for p in tmp_path.iterdir() if p.name != "store"]
    assert outside == []
    npys = list(disk_stores.path.rglob("*.npy"))
    assert npys
    for p in npys:
        np.load(p, allow_pickle=False)
    for p in disk_stores.path.rglob("*"):
        if p.is_file():
            assert b"\x80\x04\x95" not in p.read_bytes()[:3]  # a pickle protocol-4 header


def test_flushed_writes_survive_a_crash(disk_stores, snapshot):
    out = run_python(
        """
        import os, sys, vectorstore as vs
        db = vs.connect(sys.argv[1])
        col = db.create_collection("c", dimension=2)
        col.insert([{"id": i, "vector": [i, 1.0]} for i in range(10)])
        col.delete(ids=[3])
        col.flush()
        os._exit(0)  # no close(): the process dies
        """,
        str(disk_stores.path),
    )
    assert out.returncode == 0, out.stderr
    db = disk_stores.connect()
    col = db.get_collection("c")
    assert sorted(r["id"] for r in col.query()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


def test_acknowledged_writes_survive_a_crash(disk_stores):
    out = run_python(
        """
        import os, sys, vectorstore as vs
        db = vs.connect(sys.argv[1])
        col = db.create_collection("c", dimension=2)
        col.insert([{"id": i, "vector": [i, 1.0]} for i in range(10)])
        col.flush()
        col.insert([{"id": 10, "vector": [1.0, 1.0]}])
        col.delete(ids=[0])
        col.create_partition("p")
        os._exit(0)
        """,
        str(disk_stores.path),
    )
    assert out.returncode == 0, out.stderr
    db = disk_stores.connect()
    col = db.get_collection("c")
    assert sorted(r["id"] for r in col.query()) == list(range(1, 11))
    assert col.list_partitions() == ["_default", "p"]


def test_collection_named_like_a_store_file(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("LOCK", dimension=4)
    col.insert({"id": 1, "vector": vec(1)})
    db = disk_stores.reopen(db)
    assert db.get_collection("LOCK").count() == 1


def test_dropped_collection_leaves_no_files(disk_stores):
    db = disk_stores.connect(segment_rows=5)
    col = db.create_collection("c", dimension=4)
    col.insert([{"id": i, "vector": vec(i)} for i in range(12)])
    col.flush()
    assert (disk_stores.path / "c").is_dir()
    db.drop_collection("c")
    assert not (disk_stores.path / "c").exists()
    db = disk_stores.reopen(db)
    assert db.list_collections() == []


def test_compact_releases_growing_segment_files(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("c", dimension=4)
    folder = disk_stores.path / "c"
    for round_ in range(20):
        ids = [round_ * 100 + i for i in range(5)]
        col.insert([{"id": i, "vector": vec(i)} for i in ids])
        col.delete(ids=ids)
        col.compact()
    assert col.count() == 0
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("growing_"))
    assert len(leftovers) <= 1, leftovers


def test_reader_opened_before_a_compaction(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("c", dimension=4)
    col.insert([{"id": i, "vector": vec(i)} for i in range(20)])
    col.flush()
    reader = vs.connect(disk_stores.path, read_only=True)
    try:
        col.delete(ids=[1, 2, 3])
        col.compact()
        count = reader.get_collection("c").count()
        assert count in (17, 20)  # the old snapshot or the new one, never an error
    finally:
        reader.close()


def test_shared_client_is_one_client_per_store_path_with_a_share_per_holder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "store"
    a = vs.shared_client(str(path))
    b = vs.shared_client(path / ".." / "store")  # the same directory, spelled otherwise
    col = a.create_collection("c", dimension=2)
    assert b.get_collection("c") is col  # one client: one copy of the collection
    with vs.connect(str(path)) as other:  # another client beside it works too
        other.get_collection("c").insert({"id": 1, "vector": [1.0, 0.0]})
    with pytest.raises(vs.ConfigError, match="already open"):
        vs.shared_client(str(path), durability="none")
    assert vs.shared_client(":memory:") is not vs.shared_client(":memory:")
    a.close()
    a.close()  # idempotent
    assert a.closed and not b.closed
    with pytest.raises(vs.ClosedError, match="share"):
        a.list_collections()
    assert col.count() == 1  # b's share keeps the client, and its collections, open
    b.close()
    assert col.closed  # the last share closed the client
    c = vs.shared_client(str(path))  # a fresh client
    assert not c.closed and c.get_collection("c").count() == 1
    c.close()
