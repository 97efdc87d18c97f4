"""Store-level durability: crash images of a busy store (opened read-write and
read-only), a process that dies without closing, and a damaged write-ahead log (a torn
tail, a flipped bit in the last or in a committed record).

Crash images and the ``store`` fixture: tests/helpers/durability.py.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers.durability import (
    HNSW,
    SCHEMA,
    image,
    newest_wal,
    open_collection,
    row,
    state,
    vec,
)

# pytest fixtures, found by name here (see tests/helpers/durability.py)
from helpers.durability import no_reader_retries as no_reader_retries
from helpers.durability import store as store

import vectorstore as vs
from vectorstore.storage.wal import read_records

REPO = Path(vs.__file__).resolve().parents[1]


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
