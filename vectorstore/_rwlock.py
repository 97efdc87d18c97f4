"""A readers-writer lock: many searches at once, writes alone, writers first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType


class RWLock:
    """Shared/exclusive lock. A waiting writer blocks new readers (no starvation).

    Reentrancy: a thread holding the write lock may take it or the read lock
    again; a reader must not ask for the write lock. Use ``with lock.read:``
    and ``with lock.write:`` (plain objects, no generator per call: searches
    take this lock on their hot path).

    ``on_write``, when set, is called as each write section begins, the write
    lock held and no reader inside: what readers cached about the collection is
    dropped there (the fast search path's route). It must not raise.
    """

    def __init__(self) -> None:
        # The Condition's lock, taken directly: `with cond` costs a Python-level call.
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._readers = 0
        self._writer: int | None = None
        self._write_depth = 0
        self._writers_waiting = 0
        self.on_write: Callable[[], None] | None = None
        self.read = _Shared(self)
        self.write = _Exclusive(self)

    def acquire_read(self) -> bool:
        """Take the shared lock; returns False if this thread already writes."""
        writer = self._writer  # None: not this thread, whatever others do meanwhile
        if writer is not None and writer == threading.get_ident():
            return False
        with self._mutex:
            while self._writer is not None or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        return True

    def release_read(self) -> None:
        with self._mutex:
            self._readers -= 1
            if not self._readers and self._writers_waiting:  # only writers wait on readers
                self._cond.notify_all()

    def acquire_write(self) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._write_depth += 1
                return
            self._writers_waiting += 1
            while self._writer is not None or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = me
            self._write_depth = 1
        if self.on_write is not None:
            self.on_write()

    def release_write(self) -> None:
        with self._cond:
            self._write_depth -= 1
            if not self._write_depth:
                self._writer = None
                self._cond.notify_all()


class _Shared:
    __slots__ = ("_lock", "_taken")

    def __init__(self, lock: RWLock):
        self._lock = lock
        self._taken = threading.local()

    def __enter__(self) -> None:
        self._taken.__dict__.setdefault("stack", []).append(self._lock.acquire_read())

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._taken.stack.pop():
            self._lock.release_read()


class _Exclusive:
    __slots__ = ("_lock",)

    def __init__(self, lock: RWLock):
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire_write()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release_write()
