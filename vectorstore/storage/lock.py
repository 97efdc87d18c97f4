"""One writer process per store: an advisory lock on ``<store>/.lock``.

``fcntl.flock`` is released by the kernel when its holder dies, so a lock left
by a crashed process is never stale. The holder's pid is written into the file
so the error can name it.
"""

from __future__ import annotations

import fcntl
import os

from ..errors import LockedError


class StoreLock:
    """The writer lock of a store directory.

    The file is ``.lock``: the dot keeps it apart from every valid collection name.
    """

    def __init__(self, folder: str):
        self.path = os.path.join(folder, ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``LockedError`` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"store {os.path.dirname(self.path)} is open for writing by process {holder}; "
                "open it with read_only=True, or close the other writer"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
