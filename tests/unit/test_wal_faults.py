"""I/O failures in the write path: a write either raises and changed nothing, or
returns and is durable.

The seam is the ``os`` calls the log makes (``os.write``, ``os.fsync``,
``os.ftruncate``): a test makes one of them fail with ENOSPC or EIO at the N-th
call, after writing part of the record where a real full disk would.
``tests/integration/test_full_disk.py`` does the same with a real full disk.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.storage import collection_files as store_module
from vectorstore.storage.wal import JOIN_BELOW, WriteAheadLog, encode, read_records


class Faults:
    """Make ``os.<name>`` fail on calls number ``at`` (1-based) and after, ``times`` times."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, at: int, err: int, times: int):
        self.calls = 0
        self.failed = 0
        real = getattr(os, name)

        def fake(fd: int, *args: Any) -> Any:
            self.calls += 1
            if self.calls >= at and self.failed < times:
                self.failed += 1
                if name == "write":  # a full disk takes part of the record first
                    real(fd, bytes(args[0])[: len(args[0]) // 2])
                raise OSError(err, os.strerror(err))
            return real(fd, *args)

        monkeypatch.setattr(os, name, fake)


def payloads(path: str) -> list[bytes]:
    found, good_end, size = read_records(path)
    assert good_end == size, "the log has bytes after its last good record"
    return found


@pytest.mark.parametrize(("call", "err"), [("write", errno.ENOSPC), ("fsync", errno.EIO)])
def test_a_failed_append_is_cut_off_and_the_log_goes_on(tmp_path, monkeypatch, call, err):
    path = str(tmp_path / "w.log")
    log = WriteAheadLog(path)
    log.append(b"one")
    with monkeypatch.context() as m:
        Faults(m, call, at=1, err=err, times=1)
        with pytest.raises(vs.StorageError, match="not logged") as info:
            log.append(b"two" * 1000)
        assert isinstance(info.value.__cause__, OSError)
        assert info.value.__cause__.errno == err
    assert os.path.getsize(path) == log.size
    log.append(b"three")  # space is back: the next record follows the last good one
    log.close()
    assert payloads(path) == [b"one", b"three"]


@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_big_record_failing_between_its_parts_is_cut_off(tmp_path, monkeypatch, at):
    """A big payload is written part by part from its arrays (``wal.encode``): a
    full disk at any part leaves nothing of it, and the log goes on."""
    path = str(tmp_path / "w.log")
    log = WriteAheadLog(path)
    log.append(b"one")
    big = encode({"op": "x"}, [np.arange(40_000, dtype=np.int64), np.ones((300, 64), "f4")])
    assert sum(len(part) for part in big) >= JOIN_BELOW  # (written in parts)
    with monkeypatch.context() as m:
        faults = Faults(m, "write", at=at, err=errno.ENOSPC, times=1)
        with pytest.raises(vs.StorageError, match="not logged"):
            log.append(big)
        assert faults.calls == at  # the head, then each part: it failed at part `at - 1`
    assert os.path.getsize(path) == log.size
    log.append(big)
    log.close()
    assert payloads(path) == [b"one", b"".join(big)]


def test_a_callers_array_changing_while_it_is_logged_changes_nothing(tmp_path, monkeypatch):
    """The log writes a batch's arrays as they are (no copy), after taking their
    CRC: the batch must hold its own copy of the caller's vectors, or a caller's
    thread writing to them meanwhile leaves a record that fails its check."""
    path = tmp_path / "s"
    db = vs.connect(path)
    col = db.create_collection("c", dimension=128, metric="L2")
    vectors = np.random.default_rng(0).standard_normal((2_000, 128)).astype(np.float32)
    passed = vectors.copy()
    real = os.write

    def write(fd: int, data: Any) -> int:
        vectors[:] += 1.0  # the caller's other thread, while the record is written
        return real(fd, data)

    with monkeypatch.context() as m:
        m.setattr(os, "write", write)
        col.insert({"id": list(range(2_000)), "vector": vectors})
    col.insert({"id": [5_000], "vector": np.ones((1, 128), dtype=np.float32)})
    logs = [p for p in (path / "c").iterdir() if p.name.startswith("wal.")]
    assert logs and all(len(payloads(str(log))) == 2 for log in logs)  # both records whole
    db.close()
    with vs.connect(path) as again:
        got = again.get_collection("c").get(list(range(2_000)), output_fields=["vector"])
        assert np.array_equal([row["vector"] for row in got], passed)  # as passed


def test_when_the_cut_fails_too_the_log_refuses_writes(tmp_path, monkeypatch):
    path = str(tmp_path / "w.log")
    log = WriteAheadLog(path)
    log.append(b"one")
    with monkeypatch.context() as m:
        Faults(m, "write", at=1, err=errno.ENOSPC, times=1)
        Faults(m, "ftruncate", at=1, err=errno.EIO, times=1)
        with pytest.raises(vs.StorageError):
            log.append(b"two" * 1000)
    with pytest.raises(vs.StorageError, match="unusable"):
        log.append(b"three")
    log.close()
    # what is left after the good record is a torn tail: reopening drops it
    assert read_records(path)[0] == [b"one"]
    WriteAheadLog(path).close()
    assert payloads(path) == [b"one"]


def rows(start: int, n: int) -> list[dict[str, Any]]:
    return [{"id": i, "vector": [1.0, float(i)]} for i in range(start, start + n)]


@pytest.mark.parametrize(("call", "err"), [("write", errno.ENOSPC), ("fsync", errno.EIO)])
@pytest.mark.parametrize("op", ["insert", "upsert", "delete", "create_partition"])
def test_a_write_that_cannot_be_logged_changes_nothing(tmp_path, monkeypatch, op, call, err):
    path = str(tmp_path / "store")
    db = vs.connect(path)
    col = db.create_collection("c", dimension=2)
    col.insert(rows(0, 10))
    before = (col.count(), col.list_partitions(), col.get(list(range(12))))
    with monkeypatch.context() as m:
        Faults(m, call, at=1, err=err, times=1)
        with pytest.raises(vs.StorageError):
            if op == "insert":
                col.insert(rows(10, 2))
            elif op == "upsert":
                col.upsert([{"id": 1, "vector": [0.0, 1.0]}])
            elif op == "delete":
                col.delete(ids=[1, 2])
            else:
                col.create_partition("p")
    assert (col.count(), col.list_partitions(), col.get(list(range(12)))) == before
    col.insert(rows(20, 1))  # the collection keeps working
    db.close()
    with vs.connect(path) as db:
        col = db.get_collection("c")
        assert col.count() == 11 and col.list_partitions() == ["_default"]
        assert col.get([1])[0]["id"] == 1


def test_a_failed_checkpoint_does_not_fail_the_write_it_follows(tmp_path, monkeypatch):
    path = str(tmp_path / "store")
    db = vs.connect(path, segment_rows=10)
    col = db.create_collection("c", dimension=2)
    real = store_module.CollectionStorage.persist
    failures = []

    def full_disk(self: Any, frozen: Any) -> None:
        failures.append(frozen.wal_generation)
        raise vs.StorageError("checkpoint failed ([Errno 28] No space left on device)")

    with monkeypatch.context() as m:
        m.setattr(store_module.CollectionStorage, "persist", full_disk)
        assert col.insert(rows(0, 15)) == list(range(15))  # fills a segment: checkpoint
        assert failures, "no checkpoint was attempted: the test checks nothing"
        assert col.count() == 15
        with pytest.raises(vs.StorageError, match="No space"):
            col.flush()  # asked for explicitly: the failure is reported
    col.insert(rows(15, 1))  # the retry after the next write succeeds
    assert store_module.CollectionStorage.persist is real
    assert col.stats()["sealed_segments"] >= 1
    db.close()
    with vs.connect(path) as db:
        assert db.get_collection("c").count() == 16


def test_a_compaction_whose_log_rotation_fails_leaves_the_collection_open(tmp_path, monkeypatch):
    path = str(tmp_path / "store")
    db = vs.connect(path, segment_rows=10)
    col = db.create_collection("c", dimension=2)
    col.insert(rows(0, 30))
    col.delete(ids=list(range(0, 30, 2)))

    def full_disk(self: Any) -> int:
        raise vs.StorageError("cannot start a new write-ahead log ([Errno 28] No space left)")

    with monkeypatch.context() as m:
        m.setattr(store_module.CollectionStorage, "rotate", full_disk)
        with pytest.raises(vs.StorageError, match="No space"):
            col.compact()
    assert col.count() == 15  # still open, every live row there
    col.compact()
    assert col.stats()["deleted_rows"] == 0
    db.close()
    with vs.connect(path) as db:
        assert sorted(r["id"] for r in db.get_collection("c").query("")) == list(range(1, 30, 2))
