"""A store directory: ``manifest.json``, the writer lock, one folder per collection.

Layout::

    <store>/manifest.json            versioned; replaced atomically
    <store>/.lock                    writer lock (pid inside)
    <store>/<collection>/seg_<id>/   sealed segment files (see segment_io)
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, StorageError
from ..index_spec import Index
from ..schema import Schema
from .files import read_json, remove_garbage, write_json
from .lock import StoreLock
from .manifest import check as check_manifest
from .manifest import seal
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

log = logging.getLogger("vectorstore.storage")

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
        for option, value in (
            ("sync_interval_ms", sync_interval_ms),
            ("max_wal_bytes", max_wal_bytes),
        ):
            if type(value) is not int or value < 1:
                raise ConfigError(f"{option} must be a positive integer, got {value!r}")
        if "\0" in root:
            raise ConfigError(f"a store path cannot contain a NUL character: {root!r}")
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
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot open a store at {self.root}: {exc}") from exc
            self._writer_lock = StoreLock(self.root)
            self._writer_lock.acquire()
        try:
            self.manifest = self._read_manifest(path)
        except BaseException:
            self.close()
            raise

    def _read_manifest(self, path: str) -> dict[str, Any]:
        if not os.path.exists(path):
            self._refuse_orphaned_data()
            manifest = {"format_version": FORMAT_VERSION, "version": 0, "collections": {}}
            write_json(path, seal(manifest))
            return manifest
        try:
            manifest = read_json(path)
        except (OSError, ValueError, RecursionError) as exc:
            raise StorageError(f"{path} cannot be read: {exc}") from None
        if not isinstance(manifest, dict):
            raise StorageError(f"{path} is not a Kestrel manifest (not a JSON object)")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise StorageError(
                f"{path} has format version {version!r}; this Kestrel reads up to "
                f"{FORMAT_VERSION}: upgrade the vectorstore package"
            )
        return dict(check_manifest(manifest, path))

    def _refuse_orphaned_data(self) -> None:
        """No manifest: start an empty store, unless collection data is here
        (a lost manifest must not turn a store into an empty one that new
        collections would then overwrite)."""
        for child in sorted(os.listdir(self.root)):
            folder = os.path.join(self.root, child)
            try:
                entries = os.listdir(folder) if os.path.isdir(folder) else []
            except OSError:  # not ours to read, so not ours
                continue
            if any(_ours(f) for f in entries):
                raise StorageError(
                    f"{self.root} has no {MANIFEST} but {child}/ holds Kestrel data (logs or "
                    "segments): the manifest was lost; restore it from a backup rather than "
                    "start an empty store over the data"
                )

    def reload(self) -> None:
        """Read the manifest again (read-only stores follow the writer this way)."""
        self.manifest = self._read_manifest(os.path.join(self.root, MANIFEST))

    @property
    def collections(self) -> dict[str, Any]:
        return self.manifest["collections"]  # type: ignore[no-any-return]

    def write_manifest(self) -> None:
        """Write the manifest durably (the store lock held)."""
        self.manifest["version"] += 1
        write_json(os.path.join(self.root, MANIFEST), seal(self.manifest))

    def folder(self, name: str) -> str:
        """The folder of collection ``name``: its own name, unless it was renamed
        (a rename changes only the manifest, so it is one atomic write)."""
        entry = self.collections.get(name)
        sub = entry.get("folder", name) if entry is not None else name
        return os.path.join(self.root, sub)

    def _free_folder(self, name: str) -> str:
        """A folder for a new collection ``name``: its name, or ``name.<n>`` when a
        renamed collection holds that folder (a dot never occurs in a collection
        name, so such a folder cannot be another collection's own)."""
        used = {e.get("folder", n) for n, e in self.collections.items()}
        sub, n = name, 1
        while sub in used:
            sub, n = f"{name}.{n}", n + 1
        return sub

    def add_collection(self, name: str, schema: Schema, indexes: list[Index]) -> None:
        """Create a collection's folder and first log, then name it in the manifest.

        Raises:
            StorageError: the folder exists and holds files Kestrel did not
                write (they are left alone), or the disk refused the files.
        """
        sub = self._free_folder(name)
        folder = os.path.join(self.root, sub)
        try:
            if os.path.isdir(folder):  # leftovers of a crashed drop, or someone else's
                foreign = sorted(f for f in os.listdir(folder) if not _ours(f))
                if foreign:
                    raise StorageError(
                        f"cannot create collection {name!r}: {folder} already holds files "
                        f"Kestrel did not write ({', '.join(foreign[:5])}); move them away"
                    )
                shutil.rmtree(folder)
            os.makedirs(folder)
            WriteAheadLog(os.path.join(folder, f"wal.{1:08d}.log"), self.durability).close()
            entry = {
                "schema": schema.to_dict(),
                "indexes": [i.to_dict() for i in indexes],
                "partitions": {"_default": []},
                "segments": {},
                "next_segment_id": 1,
                "next_auto_id": 0,
                "wal": 1,
            }
            if sub != name:
                entry["folder"] = sub
            with self.lock:
                self.collections[name] = entry
                try:
                    self.write_manifest()
                except BaseException:
                    del self.collections[name]
                    raise
        except OSError as exc:
            raise StorageError(f"cannot create collection {name!r} in {self.root}: {exc}") from exc

    def remove_collection(self, name: str) -> None:
        folder = self.folder(name)
        with self.lock:
            self.collections.pop(name, None)
            self.write_manifest()  # durable first: a crash now leaves only garbage files
        # On Windows files still mapped by a live segment stay (unnamed garbage).
        shutil.rmtree(folder, ignore_errors=True)

    def rename_collection(self, old: str, new: str) -> None:
        """Give collection ``old`` the name ``new``: one manifest write (its files
        stay in their folder, which the entry names from now on). The entry is
        moved, not copied: a checkpoint holding it keeps updating the right one."""
        with self.lock:
            entry = self.collections.pop(old)
            previous = entry.get("folder")
            sub = previous or old
            if sub == new:
                entry.pop("folder", None)
            else:
                entry["folder"] = sub
            self.collections[new] = entry
            try:
                self.write_manifest()
            except BaseException as exc:
                del self.collections[new]
                if previous is None:
                    entry.pop("folder", None)
                else:
                    entry["folder"] = previous
                self.collections[old] = entry
                if isinstance(exc, OSError):
                    raise StorageError(f"cannot rename collection {old!r}: {exc}") from exc
                raise

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
        self._pending: dict[str, Any] = {}  # segment entries written, not yet in the manifest

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
        if self._wal is None:
            raise StorageError(f"collection {self.name!r} has no open write-ahead log")
        current = int(os.path.basename(self._wal.path)[4:-4])
        try:  # the new generation first: if it cannot be made, the old one stays open
            new = WriteAheadLog(
                self._wal_path(current + 1), self.store.durability, self.store.sync_interval_ms
            )
        except OSError as exc:
            raise StorageError(
                f"collection {self.name!r}: cannot start a new write-ahead log ({exc})"
            ) from exc
        old, self._wal = self._wal, new
        try:
            old.close()
        except StorageError as exc:  # its records are synced or refused already
            log.warning("%s", exc)
        return current + 1

    # -------------------------------------------------------------- segments
    def spill_dir(self) -> str:
        """Where growing segments keep their vectors (cleared on open)."""
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
            self.store.write_manifest()
        self.generation = frozen.wal_generation
        changed, self._pending = self._pending, {}
        for child in os.listdir(self.folder):  # now garbage: old logs, merged segments
            path = os.path.join(self.folder, child)
            if child.startswith("wal.") and child[4:-4].isdigit():
                if int(child[4:-4]) < frozen.wal_generation:
                    remove_garbage(path)
            elif child.startswith("seg_") and child[4:].isdigit() and int(child[4:]) not in live:
                # On Windows the files a search still maps stay (rmtree cannot
                # delete a mapped file); the next checkpoint retries.
                shutil.rmtree(path, ignore_errors=True)
        for sid in changed:  # replaced tombstones and graphs
            if int(sid) in live:
                remove_unlisted(os.path.join(self.folder, f"seg_{sid}"), entries[sid]["files"])

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()
            self._wal = None


def _ours(name: str) -> bool:
    """Whether a file name in a collection folder is one Kestrel writes there."""
    if name.startswith("wal.") and name.endswith(".log"):
        return name[4:-4].isdigit()
    if name.startswith("seg_"):
        return name[4:].isdigit()
    return name.startswith("growing_") and name.endswith(".f32")
