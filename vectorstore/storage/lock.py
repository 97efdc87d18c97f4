"""One writer process per store: an OS lock on ``<store>/.lock``.

The lock is one the OS drops when its holder dies, so a lock left by a crashed
process is never stale:

- POSIX (Linux, macOS): ``fcntl.flock`` on the whole file.
- Windows: ``msvcrt.locking`` on one byte at ``_WINDOWS_BYTE``. Windows byte
  locks are mandatory, so the locked byte lies past the pid text at the start
  of the file: a process that finds the store locked can still read who holds it.

Both modules are imported only here, when a path store is opened for writing:
importing Kestrel, ``":memory:"`` stores and ``read_only=True`` opens never
touch an OS lock. The holder's pid is written into the file so the error can
name it. Only Linux is tested (CI); the Windows branch follows the documented
``msvcrt`` API but has not been run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import ModuleType

from ..errors import LockedError, StorageError
from .files import O_BINARY

_WINDOWS_BYTE = 64  # past any pid text; Windows lets a lock lie beyond the end of a file
_PID_BYTES = 32
_POLL_SECONDS = 0.05

TryLock = Callable[[int], bool]  # fd -> taken?
Unlock = Callable[[int], None]


class StoreLock:
    """The writer lock of a store directory.

    The file is ``.lock``: the dot keeps it apart from every valid collection name.
    Small on purpose (``acquire`` / ``release``) so a per-write lock can reuse it.

    Args:
        folder: the store directory (it must exist).
    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, ".lock")
        self._fd: int | None = None
        self._unlock: Unlock | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock, waiting up to ``timeout`` seconds for a holder to let go.

        Args:
            timeout: seconds to keep trying (0, the default: one try).

        Raises:
            LockedError: another process still holds it; the message names its pid.
            StorageError: this platform has no OS file lock (neither ``fcntl``
                nor ``msvcrt``), or the lock file cannot be opened.
        """
        if self._fd is not None:
            return
        lock, unlock = _primitives()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | O_BINARY, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the store lock {self.path}: {exc}") from exc
        deadline = time.monotonic() + timeout
        while not lock(fd):
            if time.monotonic() >= deadline:
                holder = _read_pid(fd)
                os.close(fd)
                raise LockedError(
                    f"store {os.path.dirname(self.path)} is open for writing by process "
                    f"{holder}; open it with read_only=True, or close the other writer"
                )
            time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        self._unlock = unlock

    def release(self) -> None:
        """Let go of the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self._unlock is not None:
                    self._unlock(fd)
            finally:
                os.close(fd)  # closing drops the lock on every platform anyway


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
