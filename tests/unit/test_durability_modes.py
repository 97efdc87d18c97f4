"""The store's ``durability=`` option, end to end: which writes fsync the write-ahead log.

SIGKILL tests cannot see a missing fsync (the OS keeps the page cache), so these spy
on ``os.fsync`` / ``os.fdatasync`` and map each call's file descriptor to its file
(``/proc/self/fd``): a log fsync counts only when it is the log (``wal.*.log``) and
covers the bytes the write appended, told apart from segment, manifest and directory
fsyncs.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import vectorstore as vs

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="maps fds to files through /proc/self/fd"
)

WAL_NAME = re.compile(r"^wal\.\d+\.log$")


@dataclass
class FsyncSpy:
    """Every fsync/fdatasync: (file path, the file's size at the call)."""

    calls: list[tuple[str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    synced: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.synced = threading.Condition(self.lock)

    def wrap(self, real):  # type: ignore[no-untyped-def]
        def spy(fd: int) -> None:
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
                size = os.fstat(fd).st_size
            except OSError:
                path, size = "?", -1
            real(fd)
            with self.synced:
                self.calls.append((path, size))
                self.synced.notify_all()

        return spy

    def _wal_syncs(self) -> list[tuple[str, int]]:
        return [(p, s) for p, s in self.calls if WAL_NAME.match(os.path.basename(p))]

    def wal_syncs(self) -> list[tuple[str, int]]:
        with self.lock:
            return self._wal_syncs()

    def _log_synced(self, wal: Path, size: int) -> bool:
        return any(p == str(wal) and s >= size for p, s in self._wal_syncs())

    def log_synced(self, wal: Path, size: int) -> bool:
        """Whether ``wal`` was fsynced holding at least ``size`` bytes."""
        with self.lock:
            return self._log_synced(wal, size)

    def wait_for_log_sync(self, wal: Path, size: int, bound_s: float) -> bool:
        """Wait for that fsync (an event, with a generous bound; not a timing check)."""
        with self.synced:
            return self.synced.wait_for(lambda: self._log_synced(wal, size), bound_s)

    def clear(self) -> None:
        with self.lock:
            self.calls.clear()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> FsyncSpy:
    s = FsyncSpy()
    monkeypatch.setattr(os, "fsync", s.wrap(os.fsync))
    if hasattr(os, "fdatasync"):
        monkeypatch.setattr(os, "fdatasync", s.wrap(os.fdatasync))
    return s


def open_store(path: Path, **options: object) -> tuple[vs.Client, vs.Collection]:
    db = vs.connect(path, **options)  # type: ignore[arg-type]
    col = db.create_collection("c", dimension=2)
    return db, col


def current_wal(path: Path) -> Path:
    """The log being appended to (the newest generation)."""
    logs = sorted(path.rglob("wal.*.log"))
    assert logs, f"no write-ahead log under {path}"
    return logs[-1].resolve()


def write_and_measure(col: vs.Collection, path: Path, ids: range) -> tuple[Path, int]:
    col.insert([{"id": i, "vector": [1.0, float(i)]} for i in ids])
    wal = current_wal(path)
    size = wal.stat().st_size
    assert size > 0
    return wal, size


def test_default_connect_fsyncs_the_log_before_each_write_returns(tmp_path, spy):
    path = tmp_path / "store"
    db, col = open_store(path)  # no durability= : the default
    try:
        for start in (0, 10, 20):
            spy.clear()
            wal, size = write_and_measure(col, path, range(start, start + 10))
            assert spy.log_synced(wal, size), (
                f"insert returned before {wal.name} was fsynced past byte {size}: {spy.wal_syncs()}"
            )
        spy.clear()
        col.delete(ids=[1, 2])
        wal = current_wal(path)
        assert spy.log_synced(wal, wal.stat().st_size), "delete returned before the log fsync"
        spy.clear()
        col.upsert([{"id": 3, "vector": [0.5, 0.5]}])
        wal = current_wal(path)
        assert spy.log_synced(wal, wal.stat().st_size), "upsert returned before the log fsync"
    finally:
        db.close()


def test_explicit_fsync_mode_is_the_default(tmp_path, spy):
    path = tmp_path / "store"
    db, col = open_store(path, durability="fsync")
    try:
        spy.clear()
        wal, size = write_and_measure(col, path, range(5))
        assert spy.log_synced(wal, size), spy.wal_syncs()
    finally:
        db.close()


def test_batch_does_not_fsync_in_the_call_but_on_flush_and_close(tmp_path, spy):
    path = tmp_path / "store"
    # an interval no test run reaches: only flush and close may sync the log
    db, col = open_store(path, durability="batch", sync_interval_ms=3_600_000)
    try:
        spy.clear()
        wal, size = write_and_measure(col, path, range(10))
        assert spy.wal_syncs() == [], "batch mode fsynced the log inside the call"
        col.flush()  # a checkpoint: the log generation holding the rows is synced
        assert spy.log_synced(wal, size), f"flush did not fsync {wal.name}: {spy.wal_syncs()}"
        spy.clear()
        wal, size = write_and_measure(col, path, range(10, 20))
        assert spy.wal_syncs() == []
    finally:
        db.close()
    assert spy.log_synced(wal, size), f"close did not fsync {wal.name}: {spy.wal_syncs()}"


def test_batch_syncs_on_its_interval_without_flush_or_close(tmp_path, spy):
    path = tmp_path / "store"
    db, col = open_store(path, durability="batch", sync_interval_ms=20)
    try:
        for start in (0, 10):
            spy.clear()
            wal, size = write_and_measure(col, path, range(start, start + 10))
            # the background flusher syncs on its own: no call of ours asks for it
            assert spy.wait_for_log_sync(wal, size, bound_s=30), (
                f"batch mode never fsynced {wal.name} on its interval: {spy.wal_syncs()}"
            )
    finally:
        db.close()


def test_none_never_fsyncs_the_log_on_writes(tmp_path, spy):
    path = tmp_path / "store"
    db, col = open_store(path, durability="none", sync_interval_ms=1)
    try:
        spy.clear()
        for start in (0, 10, 20):
            write_and_measure(col, path, range(start, start + 10))
        col.delete(ids=[1])
        col.upsert([{"id": 2, "vector": [0.5, 0.5]}])
        assert spy.wal_syncs() == [], f"durability='none' fsynced the log: {spy.wal_syncs()}"
        assert col.count() == 29
    finally:
        db.close()
