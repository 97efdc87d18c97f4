"""A store directory: ``manifest.json``, the writer lock, one folder per collection.

Layout::

    <store>/manifest.json            versioned; replaced atomically
    <store>/.lock                    writer lock (pid inside)
    <store>/<collection>/seg_<id>/   sealed segment files (see segment_io)
"""

from __future__ import annotations

import copy
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StorageError
from ..schema import Index, Schema
from .files import read_json, write_json
from .lock import StoreLock
from .records import Record, decode_record, encode_record
from .segment_io import (
    read_segment,
    remove_unlisted,
    write_indexes,
    write_segment,
    write_tombstones,
)
from .wal import DURABILITY_MODES, WriteAheadLog, read_records

if TYPE_CHECKING:
    from ..segment import Segment

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


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


class DirectoryStore:
    """Owns a store directory's manifest and lock.

    Args:
        root: the store directory (created unless read-only).
        read_only: open without the writer lock; writes are refused.

    Raises:
        LockedError: another process writes to the store.
        StorageError: unreadable manifest or a newer format version.
    """

    def __init__(
        self,
        root: str,
        read_only: bool = False,
        durability: str = "fsync",
        sync_interval_ms: int = 100,
        max_wal_bytes: int = 256 << 20,
    ):
        if durability not in DURABILITY_MODES:
            raise ConfigError(f"durability must be one of {DURABILITY_MODES}, got {durability!r}")
        self.root = os.path.abspath(root)
        self.read_only = read_only
        self.durability = durability
        self.sync_interval_ms = sync_interval_ms
        self.max_wal_bytes = max_wal_bytes
        self.lock = threading.Lock()  # the manifest is shared by every collection
        self._writer_lock: StoreLock | None = None
        path = os.path.join(self.root, MANIFEST)
        if read_only:
            if not os.path.exists(path):
                raise StorageError(f"no Kestrel store at {self.root} (no {MANIFEST})")
        else:
            os.makedirs(self.root, exist_ok=True)
            self._writer_lock = StoreLock(self.root)
            self._writer_lock.acquire()
        try:
            self.manifest = self._read_manifest(path)
        except BaseException:
            self.close()
            raise

    def _read_manifest(self, path: str) -> dict[str, Any]:
        if not os.path.exists(path):
            manifest = {"format_version": FORMAT_VERSION, "version": 0, "collections": {}}
            write_json(path, manifest)
            return manifest
        try:
            manifest = read_json(path)
        except (OSError, ValueError) as exc:
            raise StorageError(f"{path} cannot be read: {exc}") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("collections"), dict):
            raise StorageError(f"{path} is not a Kestrel manifest (no collections object)")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise StorageError(
                f"{path} has format version {version!r}; this Kestrel reads up to "
                f"{FORMAT_VERSION}: upgrade the vectorstore package"
            )
        return dict(manifest)

    def reload(self) -> None:
        """Read the manifest again (read-only stores follow the writer this way)."""
        self.manifest = self._read_manifest(os.path.join(self.root, MANIFEST))

    @property
    def collections(self) -> dict[str, Any]:
        return self.manifest["collections"]  # type: ignore[no-any-return]

    def write_manifest(self) -> None:
        self.manifest["version"] += 1
        write_json(os.path.join(self.root, MANIFEST), self.manifest)

    def folder(self, name: str) -> str:
        return os.path.join(self.root, name)

    def add_collection(self, name: str, schema: Schema, indexes: list[Index]) -> None:
        shutil.rmtree(self.folder(name), ignore_errors=True)  # leftovers of a crashed drop
        os.makedirs(self.folder(name))
        self.collections[name] = {
            "schema": schema.to_dict(),
            "indexes": [i.to_dict() for i in indexes],
            "partitions": {"_default": []},
            "segments": {},
            "next_segment_id": 1,
            "next_auto_id": 0,
            "wal": 1,
        }
        with self.lock:
            self.write_manifest()

    def remove_collection(self, name: str) -> None:
        with self.lock:
            self.collections.pop(name, None)
            self.write_manifest()  # durable first: a crash now leaves only garbage files
        shutil.rmtree(self.folder(name), ignore_errors=True)

    def load_segments(
        self, name: str, schema: Schema, indexes: list[Index]
    ) -> dict[str, list[Segment]]:
        entry = self.collections[name]
        specs = {i.field: i for i in indexes}
        folder = self.folder(name)
        if not self.read_only and os.path.isdir(folder):
            for child in os.listdir(folder):  # vectors of growing segments lost in a crash
                if child.startswith("growing_"):
                    os.remove(os.path.join(folder, child))
        out: dict[str, list[Segment]] = {}
        for partition, seg_ids in entry["partitions"].items():
            out[partition] = [
                read_segment(
                    os.path.join(self.folder(name), f"seg_{sid}"),
                    sid,
                    entry["segments"][str(sid)],
                    schema,
                    specs,
                )
                for sid in seg_ids
            ]
        return out

    def close(self) -> None:
        if self._writer_lock is not None:
            self._writer_lock.release()
            self._writer_lock = None


class CollectionStorage:
    """A collection's files: its write-ahead log and its sealed segments.

    The log is a sequence of generations ``wal.<gen>.log``; the manifest names
    the generation its state ends at. A checkpoint freezes the collection and
    starts generation ``g + 1`` (``rotate``), then ``persist`` writes the frozen
    segments, tombstones and a manifest naming ``g + 1``, and only then removes
    older generations. Opening replays every generation from the manifest's
    on, in order, so a crash at any point loses nothing acknowledged.
    """

    def __init__(self, store: DirectoryStore, name: str):
        self.store = store
        self.name = name
        self.folder = store.folder(name)
        entry = store.collections[name]
        self.generation = int(entry.get("wal", 1))
        self.max_wal_bytes = store.max_wal_bytes
        self._wal: WriteAheadLog | None = None

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

    def read_log(self, pk_field: str) -> Iterator[Record]:
        """Every logged write newer than the manifest, in order.

        The caller applies them (``state.CollectionState.replay``): storage
        only reads.

        Raises:
            StorageError: the generations on disk do not continue the manifest's
                (a reader raced a checkpoint: it retries with the new manifest),
                or a record is damaged or unknown.
        """
        gens = self._generations()
        if gens and gens != list(range(self.generation, self.generation + len(gens))):
            raise StorageError(
                f"collection {self.name!r}: log generations {gens} do not continue the "
                f"manifest's generation {self.generation}"
            )
        for gen in gens:
            # missing: a checkpoint folded it in since we listed it (readers retry)
            payloads, _, _ = read_records(self._wal_path(gen), missing_ok=False)
            for payload in payloads:
                try:
                    yield decode_record(payload, pk_field)
                except StorageError as exc:
                    raise StorageError(
                        f"collection {self.name!r}, {self._wal_path(gen)}: {exc}"
                    ) from None

    def open_log(self) -> bool:
        """Open the newest generation for appending; True if older ones remain."""
        gens = self._generations() or [self.generation]
        self._wal = WriteAheadLog(
            self._wal_path(gens[-1]), self.store.durability, self.store.sync_interval_ms
        )
        return len(gens) > 1

    def log(self, record: Record) -> None:
        """Append one write; durable on return per the store's durability mode."""
        if self._wal is None:
            raise StorageError(f"collection {self.name!r} has no open write-ahead log")
        self._wal.append(encode_record(record))

    def wal_bytes(self) -> int:
        return self._wal.size if self._wal is not None else 0

    def rotate(self) -> int:
        """Start the next log generation (collection write lock held)."""
        assert self._wal is not None
        current = int(os.path.basename(self._wal.path)[4:-4])
        self._wal.close()
        self._wal = WriteAheadLog(
            self._wal_path(current + 1), self.store.durability, self.store.sync_interval_ms
        )
        return current + 1

    # -------------------------------------------------------------- segments
    def spill_dir(self) -> str:
        """Where growing segments keep their vectors (cleared on open)."""
        return self.folder

    def persist(self, frozen: Frozen) -> None:
        """Write a frozen state: new segments, changed tombstones and indexes, the
        manifest; then drop older log generations and unreferenced folders."""
        entry = self.store.collections[self.name]
        entries: dict[str, Any] = dict(entry["segments"])
        partitions: dict[str, list[int]] = {}
        changed: list[str] = []
        version = frozen.wal_generation  # new file names of this checkpoint
        for name, segments in frozen.partitions.items():
            partitions[name] = []
            for seg in segments:
                if not seg.sealed:  # cannot happen: freeze seals them all
                    raise StorageError(f"segment {seg.id} is still growing at a checkpoint")
                folder = os.path.join(self.folder, f"seg_{seg.id}")
                if not seg.persisted:
                    entries[str(seg.id)] = write_segment(seg, folder, version)
                elif seg.index_dirty or seg.num_deleted != seg.persisted_deleted:
                    # A copy: the manifest in memory must not name a file before
                    # it exists (another collection may write the manifest now).
                    seg_entry = copy.deepcopy(entries[str(seg.id)])
                    if seg.index_dirty:
                        write_indexes(seg, folder, seg_entry, version)
                    if seg.num_deleted != seg.persisted_deleted:
                        write_tombstones(seg, folder, seg_entry, version)
                    entries[str(seg.id)] = seg_entry
                    changed.append(str(seg.id))
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
            self.store.write_manifest()
        self.generation = frozen.wal_generation
        for child in os.listdir(self.folder):  # now garbage: old logs, merged segments
            path = os.path.join(self.folder, child)
            if child.startswith("wal.") and child[4:-4].isdigit():
                if int(child[4:-4]) < frozen.wal_generation:
                    os.remove(path)
            elif child.startswith("seg_") and child[4:].isdigit() and int(child[4:]) not in live:
                shutil.rmtree(path, ignore_errors=True)
        for sid in changed:  # replaced tombstones and graphs
            remove_unlisted(os.path.join(self.folder, f"seg_{sid}"), entries[sid]["files"])

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()
            self._wal = None
