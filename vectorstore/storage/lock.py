"""The store's write lock: an OS lock on ``<store>/.lock``, held for one write.

Any number of processes write one store; each takes this lock around each
write (and each checkpoint), as SQLite does, so writes are serialised and a
writer always appends after the others' records. The lock is one the OS drops
when its holder dies, so a lock left by a crashed process is never stale:

- POSIX (Linux, macOS): ``fcntl.flock`` on the whole file.
- Windows: ``msvcrt.locking`` on one byte at ``_WINDOWS_BYTE``. Windows byte
  locks are mandatory, so the locked byte lies past the pid text at the start
  of the file: a process that finds the store locked can still read who holds it.

Both modules are imported only here, when a path store is first written or
read from files (``ReaderMarks``): importing Kestrel and ``":memory:"`` stores
never touch an OS lock, and where neither module exists a read-only open reads
without marks. The holder's pid is written into the file so the error can
name it. Only Linux is tested (CI); the Windows branch follows the documented
``msvcrt`` API but has not been run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

from ..errors import LockedError, StorageError
from .files import O_BINARY

_WINDOWS_BYTE = 64  # past any pid text; Windows lets a lock lie beyond the end of a file
_PID_BYTES = 32
_FIRST_POLL_SECONDS = 0.0005  # waits for another writer's one batch are short ...
_POLL_SECONDS = 0.02  # ... and back off to this

TryLock = Callable[[int], bool]  # fd -> taken?
Unlock = Callable[[int], None]


class StoreLock:
    """The write lock of a store directory.

    The file is ``.lock``: the dot keeps it apart from every valid collection name.
    The file stays open between writes (``release`` only unlocks it), so taking
    the lock for a write is one system call when no one else holds it.

    Args:
        folder: the store directory (it must exist).
    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, ".lock")
        self._fd: int | None = None
        self._held = False
        self._primitives: tuple[TryLock, Unlock] | None = None

    @property
    def held(self) -> bool:
        return self._held

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for a holder to let go.

        Args:
            timeout: seconds to keep trying (0, the default: one try).

        Raises:
            LockedError: another process still holds it; the message names its pid.
            StorageError: this platform has no OS file lock (neither ``fcntl``
                nor ``msvcrt``), or the lock file cannot be opened.
        """
        if self._held:
            return
        if self._primitives is None:
            self._primitives = _primitives()
        lock = self._primitives[0]
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | O_BINARY, 0o644)
            except OSError as exc:
                raise StorageError(f"cannot open the store lock {self.path}: {exc}") from exc
        fd = self._fd
        deadline = time.monotonic() + timeout
        delay = _FIRST_POLL_SECONDS
        while not lock(fd):
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"store {os.path.dirname(self.path)}: process {_read_pid(fd)} held the "
                    f"write lock for longer than {timeout:g} s; a long checkpoint or a stuck "
                    "writer: retry, raise lock_timeout, or open with read_only=True to read"
                )
            time.sleep(delay)
            delay = min(delay * 2, _POLL_SECONDS)
        self._held = True
        _write_pid(fd)

    def release(self) -> None:
        """Let go of the lock (idempotent); the file stays open for the next write."""
        if self._held and self._fd is not None and self._primitives is not None:
            self._held = False
            try:
                self._primitives[1](self._fd)
            except OSError:  # cannot unlock: closing the file drops the lock anyway
                self.close()

    def close(self) -> None:
        """Let go of the lock and close the file (idempotent)."""
        self._held = False
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock on every platform


def _write_pid(fd: int) -> None:
    """Record the holder's pid at the start of the file, padded to a fixed width
    (one ``pwrite``: no truncate, no seek, on every write's lock)."""
    text = str(os.getpid()).ljust(_PID_BYTES).encode()
    try:
        if hasattr(os, "pwrite"):
            os.pwrite(fd, text, 0)
        else:  # Windows
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, text)
    except OSError:  # only the message of a waiting process loses the pid
        pass


def _read_pid(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, _PID_BYTES).decode(errors="replace").strip() or "unknown"
    except OSError:
        return "unknown"


def _primitives() -> tuple[TryLock, Unlock]:
    """``(try_lock(fd) -> bool, unlock(fd))`` for this platform.

    Raises:
        StorageError: neither ``fcntl`` nor ``msvcrt`` can be imported.
    """
    fcntl = _optional("fcntl")
    if fcntl is not None:

        def flock(fd: int) -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        return flock, lambda fd: fcntl.flock(fd, fcntl.LOCK_UN)
    msvcrt = _optional("msvcrt")
    if msvcrt is not None:

        def locking(fd: int) -> bool:
            os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)  # msvcrt.locking starts at the position
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:  # held by another process (EACCES / EDEADLOCK)
                return False
            return True

        def unlocking(fd: int) -> None:
            os.lseek(fd, _WINDOWS_BYTE, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

        return locking, unlocking
    raise StorageError(
        "this platform has no OS file lock (neither fcntl nor msvcrt can be imported), so a "
        "store cannot be opened for writing; use ':memory:' or open it with read_only=True"
    )


def _optional(name: str) -> ModuleType | None:
    try:
        return __import__(name)
    except ImportError:
        return None


class ReaderMarks:
    """``<store>/.readers``: processes reading files without the write lock mark it.

    A process catching up without the write lock (a reader, or a writer between
    writes) holds a shared lock on this file from reading the manifest until it
    has opened every file the manifest names; a checkpoint deletes the files it
    made garbage (old log generations, replaced segments) only if it can take the
    lock exclusively at that moment, and otherwise leaves them for a later
    checkpoint. So a file is never deleted between a reader learning its name and
    opening it (once open or mapped, POSIX keeps it alive), as SQLite's read marks
    keep a checkpoint from overwriting what a reader still needs.

    ``flock`` locks belong to an open file, so the threads of one process share
    one shared lock (counted), and a cleanup opens the file afresh: it then sees
    this process's own readers too.

    POSIX only (``fcntl.flock``); elsewhere a mark is a no-op (Windows refuses to
    delete an open file anyway, and the checkpoint then retries later). A store the
    reader cannot create the file in (read-only media) is read without marks:
    catch-ups then retry when a checkpoint races them.

    Args:
        folder: the store directory.
        writable: create the file if missing.
    """

    def __init__(self, folder: str, writable: bool):
        self.path = os.path.join(folder, ".readers")
        self._writable = writable
        self._fcntl = _optional("fcntl")
        self._fd: int | None = None
        self._readers = 0  # threads of this process holding the shared lock
        self._count_lock = threading.Lock()
        if writable:  # a writer creates it, so read-only processes can mark it too
            fd = self._open()
            if fd is not None:
                os.close(fd)

    def _open(self) -> int | None:
        if self._fcntl is None:
            return None
        flags = (os.O_RDWR | os.O_CREAT) if self._writable else os.O_RDONLY
        try:
            return os.open(self.path, flags | O_BINARY, 0o644)
        except OSError:
            return None

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold a reader's mark (shared; waits out a checkpoint's brief cleanup)."""
        fcntl = self._fcntl
        with self._count_lock:
            if self._readers == 0:
                if self._fd is None:
                    self._fd = self._open()
                if self._fd is not None and fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_SH)
            self._readers += 1
        try:
            yield
        finally:
            with self._count_lock:
                self._readers -= 1
                if self._readers == 0 and self._fd is not None and fcntl is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextmanager
    def cleaning(self) -> Iterator[bool]:
        """Try to take the marks exclusively for a checkpoint's cleanup: yields
        whether no reader holds one (then delete; else leave the garbage)."""
        fcntl = self._fcntl
        fd = self._open()
        if fd is None or fcntl is None:
            yield True
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # drops the lock

    def close(self) -> None:
        with self._count_lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)
