"""The write-ahead log: every write is appended here before it is acknowledged.

File format: a sequence of records, little endian::

    [magic "KWAL"][u32 length][u32 payload crc32][u32 header crc32][payload]

The header CRC covers magic, length and payload CRC, so a length can be trusted
before the payload is read. A payload is a JSON header followed by raw
numpy buffers the header describes, so vectors cost their bytes, and reading a
log never builds arbitrary Python objects::

    payload = [u32 header length][header JSON][buffer 0][buffer 1]...
    header  = {"op": ..., ..., "buffers": [[dtype, shape], ...]}

Reading stops at the first record that is incomplete or fails a CRC:

- an intact header whose length runs past the end of the file is the record
  being appended when the process died: torn, whatever its bytes contain;
- otherwise, if an intact record follows (after the record when its header is
  intact; else found by magic and both CRCs), an acknowledged record is damaged:
  a ``StorageError`` naming the file and offset, never a silent loss;
- otherwise it is a torn tail.
A torn tail is dropped, logged, and cut off the file.

Durability modes:
- ``"fsync"`` (default): fsync before ``append`` returns, as SQLite does.
- ``"batch"``: fsync at most every ``sync_interval_ms`` (a background thread),
  and on ``sync()``/``close()``; a crash loses at most that window.
- ``"none"``: leave it to the OS; a process crash loses nothing, a machine
  crash may lose recent writes.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import ConfigError, StorageError
from .files import O_BINARY, fsync_dir

log = logging.getLogger("vectorstore.wal")

DURABILITY_MODES = ("fsync", "batch", "none")
MAGIC = b"KWAL"
_HEAD = struct.Struct("<4sIII")
_FRAME = struct.Struct("<4sII")  # the part the header CRC covers
_U32 = struct.Struct("<I")


Payload = list[bytes | memoryview]  # one record's payload, in parts (as they are written)
JOIN_BELOW = 64 << 10  # smaller payloads are joined and written in one call


def encode(header: dict[str, Any], buffers: list[np.ndarray]) -> Payload:
    """One record's payload: the header (plus buffer shapes), then each buffer's
    bytes as a view of the array, not a copy (a 50k x 128 batch is 25 MB)."""
    header = dict(header)
    header["buffers"] = [[b.dtype.str, list(b.shape)] for b in buffers]
    head = json.dumps(header, separators=(",", ":")).encode()
    parts: Payload = [_U32.pack(len(head)) + head]
    parts.extend(np.ascontiguousarray(b).reshape(-1).view(np.uint8).data for b in buffers)
    return parts


def decode(payload: bytes) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Inverse of ``encode`` (arrays are copies, owned by the caller)."""
    (n,) = _U32.unpack_from(payload, 0)
    header = json.loads(payload[4 : 4 + n])
    buffers = []
    pos = 4 + n
    for dtype, shape in header.pop("buffers"):
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if shape else 1
        arr = np.frombuffer(payload, dtype=dt, count=count, offset=pos).reshape(shape)
        buffers.append(arr.copy())
        pos += count * dt.itemsize
    return header, buffers


def read_records(
    path: str, missing_ok: bool = True, start: int = 0
) -> tuple[list[bytes], int, int]:
    """Every intact record payload of a log file from byte ``start`` on (a record
    boundary), none if the file is missing and ``missing_ok``.

    Returns:
        ``(payloads, good_end, size)``: the payloads, the byte offset where the
        intact records end, and the file size (``good_end < size`` means a
        torn tail, or a record another process is appending right now).

    Raises:
        StorageError: a damaged record with more data after it.
    """
    try:
        with open(path, "rb") as f:
            if start:
                f.seek(start)
            data = f.read()
    except FileNotFoundError:
        if not missing_ok:
            raise StorageError(f"write-ahead log {path} vanished while being read") from None
        return [], 0, 0
    payloads: list[bytes] = []
    pos, size = 0, len(data)
    while pos < size:
        header_ok, end, payload = _record_at(data, pos)
        if payload is None:
            if header_ok and end > size:
                break  # the record being appended when the process died
            later = _next_intact(data, end if header_ok else pos + 1)
            if later is not None:
                raise StorageError(
                    f"write-ahead log {path} is damaged at byte {start + pos}: that record "
                    f"fails its checks but an intact one follows at byte {start + later}; "
                    "refusing to drop acknowledged writes"
                )
            break  # a torn tail
        payloads.append(payload)
        pos = end
    return payloads, start + pos, start + size


def _record_at(data: bytes, pos: int) -> tuple[bool, int, bytes | None]:
    """``(header intact, end of record, payload if the record is intact)`` at ``pos``."""
    if len(data) - pos < _HEAD.size:
        return False, pos, None
    magic, length, crc, head_crc = _HEAD.unpack_from(data, pos)
    if magic != MAGIC or zlib.crc32(data[pos : pos + _FRAME.size]) != head_crc:
        return False, pos, None
    end = pos + _HEAD.size + length
    if end > len(data):
        return True, end, None
    payload = data[pos + _HEAD.size : end]
    return True, end, payload if zlib.crc32(payload) == crc else None


def _next_intact(data: bytes, start: int) -> int | None:
    """Where the next intact record after ``start`` begins, if any."""
    pos = data.find(MAGIC, start)
    while pos != -1:
        if _record_at(data, pos)[2] is not None:
            return pos
        pos = data.find(MAGIC, pos + 1)
    return None


class WriteAheadLog:
    """An append-only log file with a durability mode.

    Args:
        path: the file (created if missing; a torn tail is cut off first).
        durability: ``"fsync"``, ``"batch"`` or ``"none"``.
        sync_interval_ms: the ``"batch"`` window.
    """

    def __init__(self, path: str, durability: str = "fsync", sync_interval_ms: int = 100):
        if durability not in DURABILITY_MODES:
            raise ConfigError(f"durability must be one of {DURABILITY_MODES}, got {durability!r}")
        self.path = path
        self.durability = durability
        self._interval = max(sync_interval_ms, 1) / 1000
        _, good_end, size = read_records(path)
        if good_end < size:
            log.warning(
                "write-ahead log %s: dropped a torn record at byte %d (%d bytes)",
                path,
                good_end,
                size - good_end,
            )
        created = not os.path.exists(path)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | O_BINARY, 0o644)
        if created and durability != "none":
            fsync_dir(os.path.dirname(os.path.abspath(path)))  # the file's name is durable too
        if good_end < size:
            os.ftruncate(self._fd, good_end)
            os.fsync(self._fd)
        self.size = os.lseek(self._fd, 0, os.SEEK_END)
        self._lock = threading.Lock()
        self._dirty = False
        self._broken: OSError | None = None  # an I/O error left the file in doubt
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None
        if durability == "batch":
            self._flusher = threading.Thread(target=self._flush_loop, daemon=True)
            self._flusher.start()

    def resume(self) -> int:
        """Continue at the end of the file (other processes append to it too,
        each holding the store's write lock); returns the size."""
        with self._lock:
            self.size = os.lseek(self._fd, 0, os.SEEK_END)
            return self.size

    def append(self, payload: bytes | bytearray | memoryview | Payload) -> None:
        """Write one record (its payload whole or in parts: ``encode``); durable
        on return in ``"fsync"`` mode.

        A failed append (ENOSPC, EIO, a failed fsync) is cut back off the file
        before this raises, so the log ends at its last good record and the
        next append follows it: a rejected write never reappears on replay, and
        an acknowledged one is never stuck behind garbage. If even the cut
        fails, the log refuses every later append (reopen the store).

        Raises:
            StorageError: the record could not be written (the OS error is the
                cause); nothing of it stays in the log.
        """
        parts = [payload] if isinstance(payload, (bytes, bytearray, memoryview)) else payload
        length, crc = 0, 0
        for part in parts:  # byte strings or byte views: len() counts bytes
            length += len(part)
            crc = zlib.crc32(part, crc)
        frame = _FRAME.pack(MAGIC, length, crc)
        head = frame + _U32.pack(zlib.crc32(frame))
        # Big payloads are written part by part from the batch's own arrays: joined,
        # a batch of vectors would be copied twice more, its pages faulted in anew.
        chunks = [head, *parts] if length >= JOIN_BELOW else [head + b"".join(parts)]
        with self._lock:
            self._check_usable()
            try:
                for chunk in chunks:
                    view = memoryview(chunk)
                    while view:
                        written = os.write(self._fd, view)
                        view = view[written:]
                if self.durability == "fsync":
                    os.fsync(self._fd)
            except OSError as exc:
                self._cut_back(exc)
                raise StorageError(
                    f"write-ahead log {self.path}: the write was not logged ({exc}); "
                    "nothing was changed"
                ) from exc
            self.size += len(head) + length
            if self.durability != "fsync":
                self._dirty = True

    def _cut_back(self, cause: OSError) -> None:
        """Truncate the file to the last good record after a failed append."""
        try:
            os.ftruncate(self._fd, self.size)
            os.lseek(self._fd, self.size, os.SEEK_SET)
            if self.durability == "fsync":
                os.fsync(self._fd)
        except OSError as exc:
            self._broken = exc
            log.error(
                "write-ahead log %s: could not cut a failed append back off (%s); "
                "further writes are refused until the store is reopened",
                self.path,
                exc,
            )
        else:
            log.warning(
                "write-ahead log %s: an append failed and was rolled back: %s", self.path, cause
            )

    def _check_usable(self) -> None:
        if self._broken is not None:
            raise StorageError(
                f"write-ahead log {self.path} is unusable since an earlier I/O error "
                f"({self._broken}); reopen the store: every acknowledged write is in the log"
            )

    def sync(self) -> None:
        """fsync now if anything is unsynced (any mode).

        Raises:
            StorageError: the fsync failed; the log then refuses every later
                append (what the OS kept of the unsynced window is unknown).
        """
        with self._lock:
            self._check_usable()
            if self._dirty:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._broken = exc
                    raise StorageError(
                        f"write-ahead log {self.path}: fsync failed ({exc})"
                    ) from exc
                self._dirty = False

    def _flush_loop(self) -> None:
        while not self._closed.wait(self._interval):
            try:
                self.sync()
            except StorageError as exc:  # the next append or flush reports it
                log.error("%s", exc)
                return

    def close(self) -> None:
        """Sync and close (idempotent).

        Raises:
            StorageError: the final fsync failed (the file is closed anyway).
        """
        if self._closed.is_set():
            return
        self._closed.set()
        if self._flusher is not None:
            self._flusher.join()
        try:
            if self._broken is None:
                self.sync()
        finally:
            os.close(self._fd)


def records(path: str) -> Iterator[tuple[dict[str, Any], list[np.ndarray]]]:
    """Decode the intact records of a log file (for replay)."""
    payloads, _, _ = read_records(path)
    for payload in payloads:
        yield decode(payload)
