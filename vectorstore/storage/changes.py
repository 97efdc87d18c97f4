"""A store's change counter: how a process learns, cheaply, that others wrote.

``<store>/.changes`` holds two little-endian u64: a counter every writer
increments, holding the store's write lock, after each change it makes (a
logged write, a manifest write), and the version of the newest manifest (a
file's stat cannot tell two manifests apart when a replaced file's inode is
reused within the file system's timestamp granularity). Every process maps the
file shared, so checking for news before a read is one 8-byte load from memory
(~0.2 us), not a stat or a re-read: the role SQLite's shared-memory wal-index
plays for its readers.

The counter is a hint, never the truth: a process that sees it move compares
what it holds with the manifest and the logs, so a counter that is lost or
reset (a reboot, a deleted file) costs at most one needless look. Nothing about
it needs to be durable, so it is never fsynced.
"""

from __future__ import annotations

import mmap
import os
import struct

from ..errors import StorageError
from .files import O_BINARY

FILE = ".changes"
_SIZE = 4096  # one page: the map covers it whole on every platform
_U64 = struct.Struct("<Q")


class ChangeCounter:
    """The mapped counter of a store directory.

    Args:
        folder: the store directory.
        writable: create the file if missing and allow ``bump`` (writers);
            readers map it read-only, and without the file ``value`` stays 0
            (a store last written by a Kestrel without the counter: the
            reader then follows it on ``refresh()`` only).
    """

    def __init__(self, folder: str, writable: bool):
        self.path = os.path.join(folder, FILE)
        self._map: mmap.mmap | None = None
        self._writable = writable
        self._open()

    def _open(self) -> None:
        flags = (os.O_RDWR | os.O_CREAT) if self._writable else os.O_RDONLY
        try:
            fd = os.open(self.path, flags | O_BINARY, 0o644)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"cannot open the change counter {self.path}: {exc}") from exc
        try:
            if os.fstat(fd).st_size < _SIZE:
                if not self._writable:
                    return  # being created by a writer right now: look again later
                os.ftruncate(fd, _SIZE)  # zeros: a harmless restart of the count
            access = mmap.ACCESS_WRITE if self._writable else mmap.ACCESS_READ
            self._map = mmap.mmap(fd, _SIZE, access=access)
        except OSError as exc:
            raise StorageError(f"cannot map the change counter {self.path}: {exc}") from exc
        finally:
            os.close(fd)  # the map keeps its own reference

    def value(self) -> int:
        """The current count (0 while there is no counter file)."""
        m = self._map
        if m is None:
            if self._writable:
                return 0
            self._open()  # a reader retries: a writer may have created it since
            m = self._map
            if m is None:
                return 0
        return _U64.unpack_from(m, 0)[0]  # type: ignore[no-any-return]

    def manifest_version(self) -> int:
        """The version of the newest manifest a writer published (0: unknown)."""
        m = self._map
        return int(_U64.unpack_from(m, 8)[0]) if m is not None else 0

    def publish_manifest(self, version: int) -> None:
        """Record the version of the manifest just written (write lock held)."""
        if self._map is not None:
            _U64.pack_into(self._map, 8, version)

    def bump(self) -> int:
        """Count one change (the store's write lock held); returns the new count."""
        if self._map is None:
            raise StorageError(f"the change counter {self.path} is not open for writing")
        count = (_U64.unpack_from(self._map, 0)[0] + 1) & 0xFFFFFFFFFFFFFFFF
        _U64.pack_into(self._map, 0, count)
        return int(count)

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
