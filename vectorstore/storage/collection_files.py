"""A collection's files: its write-ahead log generations and sealed segments.

``CollectionStorage`` reads and appends the log (at a position each process
tracks, so it reads only what other processes appended since), rotates it at a
checkpoint, and persists a frozen state: segment files, tombstones, indexes,
the manifest entry. The store directory around it is ``store.DirectoryStore``.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from ..index_spec import Index
from .files import O_BINARY, remove_garbage
from .records import Record, decode_record, encode_record
from .segment_io import remove_unlisted, write_indexes, write_segment, write_tombstones
from .wal import WriteAheadLog, read_records

if TYPE_CHECKING:
    from ..segment import Segment
    from .store import DirectoryStore

log = logging.getLogger("vectorstore.storage")


@dataclass(frozen=True)
class Frozen:
    """A collection's state as of a checkpoint's freeze: what ``persist`` writes.

    Every segment in ``partitions`` is sealed; ``wal_generation`` is the first
    log generation the state does not hold.
    """

    partitions: dict[str, list[Segment]]
    indexes: list[Index]
    next_segment_id: int
    next_auto_id: int
    wal_generation: int


class CollectionStorage:
    """A collection's files: its write-ahead log and its sealed segments.

    The log is a sequence of generations ``wal.<gen>.log``; the manifest names
    the generation its state ends at. A checkpoint freezes the collection and
    starts generation ``g + 1`` (``rotate``), then ``persist`` writes the frozen
    segments, tombstones and a manifest naming ``g + 1``, and only then removes
    older generations. Opening replays every generation from the manifest's
    on, in order, so a crash at any point loses nothing acknowledged.

    Built from the collection's manifest entry as it is now; a process that
    finds the entry changed by another builds a new one (``follow``).
    """

    def __init__(self, store: DirectoryStore, name: str):
        self.store = store
        self.name = name
        self.max_wal_bytes = store.max_wal_bytes
        self._wal: WriteAheadLog | None = None  # opened by the first write
        entry = self.store.collections[self.name]
        self.folder = self.store.folder(self.name)
        self.generation = int(entry.get("wal", 1))
        self.loaded: dict[str, Any] = copy.deepcopy(entry)  # the entry the state came from
        self._read_to = (self.generation, 0)  # the log position the state holds
        self._pending: dict[str, Any] = {}  # segment entries written, not yet in the manifest
        self._unclean: set[str] = set()  # segments whose replaced files may remain
        self.seen = -1  # the store's change count the state is known to be current at

    def stale(self) -> bool:
        """Whether another process may have changed the store since ``seen``."""
        changes = self.store.changes  # (store.change_count, one call less: every read asks)
        return changes is None or changes.value() != self.seen  # None: the store is closed

    # ------------------------------------------------------------------ log
    def _wal_path(self, generation: int) -> str:
        return os.path.join(self.folder, f"wal.{generation:08d}.log")

    def _generations(self) -> list[int]:
        """Log generations on disk that the manifest's state does not yet hold."""
        found = []
        for child in os.listdir(self.folder):
            if child.startswith("wal.") and child.endswith(".log"):
                gen = child[4:-4]
                if gen.isdigit() and int(gen) >= self.generation:
                    found.append(int(gen))
        return sorted(found)

    def read_log(self, pk_field: str, locked: bool = False) -> Iterator[Record]:
        """Every logged write the state does not hold yet, in order: at open all
        of them since the manifest's generation, later only what other
        processes appended since (the position moves once all are read).

        The caller applies them (``state.CollectionState.replay``): storage
        only reads. A record another process is appending is left for the next
        call; with the write lock held (``locked``) a torn tail can only be a
        dead writer's, and is cut off the file.

        Raises:
            StorageError: the generations on disk do not continue the manifest's
                (a reader raced a checkpoint: it retries with the new manifest),
                or a record is damaged or unknown.
        """
        gens = self._generations()
        if not gens and self.generation > 1:  # a checkpoint creates it before naming it
            raise StorageError(
                f"collection {self.name!r}: the manifest names log generation "
                f"{self.generation} but {self._wal_path(self.generation)} is missing"
            )
        if gens and gens != list(range(self.generation, self.generation + len(gens))):
            raise StorageError(
                f"collection {self.name!r}: log generations {gens} do not continue the "
                f"manifest's generation {self.generation}"
            )
        at, offset = self._read_to
        position = self._read_to  # moved only once everything was read
        for gen in gens:
            if gen < at:
                continue
            path = self._wal_path(gen)
            # missing: a checkpoint folded it in since we listed it (readers retry)
            start = offset if gen == at else 0
            payloads, good_end, size = read_records(path, missing_ok=False, start=start)
            if good_end < size and locked and gen == gens[-1]:
                _cut_torn_tail(path, good_end)
            for payload in payloads:
                try:
                    yield decode_record(payload, pk_field)
                except StorageError as exc:
                    raise StorageError(f"collection {self.name!r}, {path}: {exc}") from None
            position = (gen, good_end)
        self._read_to = position

    def older_logs(self) -> bool:
        """Whether the log spans more than one generation (a checkpoint failed)."""
        return len(self._generations()) > 1

    def log(self, record: Record) -> None:
        """Append one write; durable on return per the store's durability mode.

        The store's write lock is held and the state has read the whole log
        (``read_log(locked=True)``), so the record goes after every other
        process's records, in the newest generation.
        """
        if not self.store.writing_now:
            raise StorageError(f"collection {self.name!r}: a write without the store's lock")
        gen, offset = self._read_to
        path = self._wal_path(gen)
        if self._wal is None or self._wal.path != path:
            self.close()
            self._wal = WriteAheadLog(path, self.store.durability, self.store.sync_interval_ms)
        if self._wal.resume() != offset:
            raise StorageError(
                f"collection {self.name!r}: {path} is {self._wal.size} bytes but its records "
                f"end at byte {offset}; reopen the store"
            )
        self._wal.append(encode_record(record))
        self._read_to = (gen, self._wal.size)
        self._saw_own(self.store.bump())

    def _saw_own(self, count: int) -> None:
        """The state is current at ``count`` if this write was the only change
        since it was (the write lock is held), so the next read need not look."""
        if count == self.seen + 1:
            self.seen = count

    def wal_bytes(self) -> int:
        """The size of the newest log generation the state has read."""
        return self._read_to[1]

    def rotate(self) -> int:
        """Start the next log generation (the store's and the collection's write
        locks held, the log read to its end)."""
        current = self._read_to[0]
        try:  # the new generation first: if it cannot be made, the old one stays
            new = WriteAheadLog(
                self._wal_path(current + 1), self.store.durability, self.store.sync_interval_ms
            )
        except OSError as exc:
            raise StorageError(
                f"collection {self.name!r}: cannot start a new write-ahead log ({exc})"
            ) from exc
        self.close_log()
        self._wal = new
        self._read_to = (current + 1, 0)
        return current + 1

    def close_log(self) -> None:
        """Close the log file this process appends to (its records are synced or
        refused already, so a failing final sync is only logged)."""
        try:
            self.close()
        except StorageError as exc:
            log.warning("%s", exc)

    # -------------------------------------------------------------- segments
    def spill_dir(self) -> str:
        """Where growing segments keep their vectors (a file per process and
        segment; an open removes those of processes that are gone)."""
        return self.folder

    def persist(self, frozen: Frozen) -> None:
        """Write a frozen state: new segments, changed tombstones and indexes, the
        manifest; then drop older log generations and unreferenced folders.

        A failure part way (a full disk) loses nothing: the manifest still names
        the older state and log generations, which hold every write; files
        already written are remembered and named by the next checkpoint.

        Raises:
            StorageError: a file could not be written (the OS error is the cause).
        """
        try:
            self._persist(frozen)
        except OSError as exc:
            raise StorageError(
                f"collection {self.name!r}: checkpoint failed ({exc}); every write is "
                "still in the write-ahead log"
            ) from exc

    def _persist(self, frozen: Frozen) -> None:
        entry = self.store.collections[self.name]
        # entries of files written by an earlier checkpoint that failed before
        # its manifest: the segments count them as persisted already
        entries: dict[str, Any] = {**entry["segments"], **self._pending}
        partitions: dict[str, list[int]] = {}
        version = frozen.wal_generation  # new file names of this checkpoint
        for name, segments in frozen.partitions.items():
            partitions[name] = []
            for seg in segments:
                if not seg.sealed:  # cannot happen: freeze seals them all
                    raise StorageError(f"segment {seg.id} is still growing at a checkpoint")
                folder = os.path.join(self.folder, f"seg_{seg.id}")
                sid = str(seg.id)
                if not seg.persisted:
                    entries[sid] = self._pending[sid] = write_segment(seg, folder, version)
                elif seg.index_dirty or seg.num_deleted != seg.persisted_deleted:
                    # A copy: the manifest in memory must not name a file before
                    # it exists (another collection may write the manifest now).
                    seg_entry = copy.deepcopy(entries[sid])
                    if seg.index_dirty:
                        write_indexes(seg, folder, seg_entry, version)
                    if seg.num_deleted != seg.persisted_deleted:
                        write_tombstones(seg, folder, seg_entry, version)
                    entries[sid] = self._pending[sid] = seg_entry
                partitions[name].append(seg.id)
        live = {sid for ids in partitions.values() for sid in ids}
        with self.store.lock:
            entry.update(
                partitions=partitions,
                segments={k: v for k, v in entries.items() if int(k) in live},
                indexes=[i.to_dict() for i in frozen.indexes],
                next_segment_id=frozen.next_segment_id,
                next_auto_id=frozen.next_auto_id,
                wal=frozen.wal_generation,
            )
            self._saw_own(self.store.write_manifest())
            self.loaded = copy.deepcopy(entry)
        self.generation = frozen.wal_generation
        self._unclean |= set(self._pending)
        self._pending = {}
        with self.store.marks.cleaning() as free:
            if free:  # else a process is reading names the old manifest gave: later
                self._remove_garbage(frozen.wal_generation, live, entries)

    def _remove_garbage(self, generation: int, live: set[int], entries: dict[str, Any]) -> None:
        """Delete old log generations, segments no longer listed and replaced
        files of listed ones (no reader is between a manifest and its files)."""
        for child in os.listdir(self.folder):
            path = os.path.join(self.folder, child)
            if child.startswith("wal.") and child[4:-4].isdigit():
                if int(child[4:-4]) < generation:
                    remove_garbage(path)
            elif child.startswith("seg_") and child[4:].isdigit() and int(child[4:]) not in live:
                # On Windows the files a search still maps stay (rmtree cannot
                # delete a mapped file); the next checkpoint retries.
                shutil.rmtree(path, ignore_errors=True)
        unclean, self._unclean = self._unclean, set()
        for sid in unclean:  # replaced tombstones and graphs
            if int(sid) in live:
                remove_unlisted(os.path.join(self.folder, f"seg_{sid}"), entries[sid]["files"])

    def renamed(self, new: str) -> None:
        """Follow this process's own rename (the files stay where they are)."""
        self.name = new
        self.loaded = copy.deepcopy(self.store.collections[new])

    def take_over(self, other: CollectionStorage) -> None:
        """Become ``other``, a copy opened afresh from the manifest whose state
        replaced this one's (``follow.catch_up``)."""
        self.close_log()
        self.folder, self.generation, self.loaded = other.folder, other.generation, other.loaded
        self._read_to, self._pending = other._read_to, other._pending
        self._unclean |= other._unclean
        self.seen = other.seen

    def close(self) -> None:
        if self._wal is not None:
            wal, self._wal = self._wal, None
            wal.close()


def _cut_torn_tail(path: str, good_end: int) -> None:
    """Cut a dead writer's half-written record off the end of a log (the write
    lock held), so the next record follows the last intact one."""
    logging.getLogger("vectorstore.wal").warning(
        "write-ahead log %s: dropped a torn record at byte %d", path, good_end
    )
    fd = os.open(path, os.O_RDWR | O_BINARY)
    try:
        os.ftruncate(fd, good_end)
        os.fsync(fd)
    finally:
        os.close(fd)
