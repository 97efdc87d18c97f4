"""A store directory: ``manifest.json``, the write lock, one folder per collection.

Layout::

    <store>/manifest.json            versioned; replaced atomically
    <store>/.lock                    write lock, held for one write (pid inside)
    <store>/.changes                 change counter every process maps (see changes)
    <store>/.readers                 marks of processes reading without the write lock
    <store>/<collection>/wal.<gen>.log   write-ahead log generations
    <store>/<collection>/seg_<id>/   sealed segment files (see segment_io)

Many processes may write one store. Each write, checkpoint and manifest change
happens under the write lock, after the writer has caught up with what the
others committed; every process keeps its own copy of each collection's state
in memory and follows the others through the counter, the manifest and the logs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ReadOnlyError, StorageError
from ..index_spec import Index
from ..schema import Schema
from .changes import ChangeCounter
from .files import read_json, write_json
from .lock import ReaderMarks, StoreLock
from .manifest import check as check_manifest
from .manifest import seal
from .segment_io import read_segment
from .wal import DURABILITY_MODES, WriteAheadLog

if TYPE_CHECKING:
    from ..segment import Segment

log = logging.getLogger("vectorstore.storage")

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEFAULT_LOCK_TIMEOUT = 30.0  # seconds a write waits for another process's write or checkpoint


class DirectoryStore:
    """Owns a store directory's manifest, write lock and change counter.

    Args:
        root: the store directory (created unless read-only).
        read_only: never take the write lock; writes are refused.
        lock_timeout: seconds a write waits for other processes' writes.

    Raises:
        LockedError: another process held the write lock past ``lock_timeout``
            while this one created the store.
        StorageError: unreadable manifest or a newer format version.
    """

    def __init__(
        self,
        root: str,
        read_only: bool = False,
        durability: str = "fsync",
        sync_interval_ms: int = 100,
        max_wal_bytes: int = 256 << 20,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ):
        if durability not in DURABILITY_MODES:
            raise ConfigError(f"durability must be one of {DURABILITY_MODES}, got {durability!r}")
        for option, value in (
            ("sync_interval_ms", sync_interval_ms),
            ("max_wal_bytes", max_wal_bytes),
        ):
            if type(value) is not int or value < 1:
                raise ConfigError(f"{option} must be a positive integer, got {value!r}")
        if isinstance(lock_timeout, bool) or not isinstance(lock_timeout, int | float):
            raise ConfigError(f"lock_timeout must be a number of seconds, got {lock_timeout!r}")
        if not 0 <= lock_timeout < float("inf"):
            raise ConfigError(f"lock_timeout must be >= 0 and finite, got {lock_timeout!r}")
        if "\0" in root:
            raise ConfigError(f"a store path cannot contain a NUL character: {root!r}")
        self.root = os.path.abspath(root)
        self.read_only = read_only
        self.durability = durability
        self.sync_interval_ms = sync_interval_ms
        self.max_wal_bytes = max_wal_bytes
        self.lock_timeout = float(lock_timeout)
        self.lock = threading.Lock()  # the manifest in memory is shared by every collection
        self._writer = threading.RLock()  # this process's threads take turns at the file lock
        self._depth = 0  # how deep this process's write-lock holder is nested
        self._seen_file: tuple[int, int, int] | None = None  # the manifest file read last
        self._write_lock: StoreLock | None = None
        self.changes: ChangeCounter | None = None
        self.marks = ReaderMarks(self.root, writable=False)  # replaced below
        self.manifest: dict[str, Any] = {}  # read below (_seen_file None: not yet)
        path = os.path.join(self.root, MANIFEST)
        try:
            if read_only:
                if not os.path.exists(path):
                    raise StorageError(f"no Kestrel store at {self.root} (no {MANIFEST})")
                self.changes = ChangeCounter(self.root, writable=False)
                self.marks = ReaderMarks(self.root, writable=False)
                self.manifest = self._read_manifest(path)
            else:
                try:
                    os.makedirs(self.root, exist_ok=True)
                except OSError as exc:
                    raise StorageError(f"cannot open a store at {self.root}: {exc}") from exc
                self._write_lock = StoreLock(self.root)
                self.changes = ChangeCounter(self.root, writable=True)
                self.marks = ReaderMarks(self.root, writable=True)
                if os.path.exists(path):
                    self.manifest = self._read_manifest(path)
                else:
                    with self.writing():  # the first writer of a new store creates it
                        pass
        except BaseException:
            self.close()
            raise

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the store's write lock: one writer at a time across every process.

        Reentrant within a thread; other threads of this process wait their
        turn. On taking it the manifest is read again if another process wrote
        it, so the holder changes the newest state.

        Raises:
            LockedError: another process held it for longer than ``lock_timeout``.
            ReadOnlyError: the store is open read-only.
        """
        if self._write_lock is None:
            raise ReadOnlyError(f"store {self.root} is open read-only")
        with self._writer:
            first = self._depth == 0
            if first:
                self._write_lock.acquire(self.lock_timeout)
            try:
                with self.lock:  # (refresh() of other threads waits, then sees the depth)
                    if first:
                        self._refresh()
                    self._depth += 1
            except BaseException:
                if first:
                    self._write_lock.release()
                raise
            try:
                yield
            finally:
                with self.lock:
                    self._depth -= 1
                if first:
                    self._write_lock.release()

    @property
    def writing_now(self) -> bool:
        """Whether a thread of this process holds the write lock."""
        return self._depth > 0

    def refresh(self) -> None:
        """Read the manifest again if another process replaced it (no-op while
        this process holds the write lock: the manifest in memory is then the
        newest, with this process's own changes in it)."""
        with self.lock:
            if not self._depth:
                self._refresh()

    def _refresh(self) -> None:
        path = os.path.join(self.root, MANIFEST)
        published = self.changes.manifest_version() if self.changes is not None else 0
        if (
            self._seen_file is None
            or _identity(path) != self._seen_file
            or (published and published != self.manifest.get("version"))
        ):
            self.manifest = self._read_manifest(path)

    def change_count(self) -> int:
        """The store's change counter (see ``changes``); -2 once closed."""
        changes = self.changes
        return changes.value() if changes is not None else -2

    def bump(self) -> int:
        """Tell other processes this one changed the store (write lock held);
        returns the new count (-2 once closed)."""
        return self.changes.bump() if self.changes is not None else -2

    def _read_manifest(self, path: str) -> dict[str, Any]:
        if not os.path.exists(path) and not self.read_only:  # the write lock is held
            self._refuse_orphaned_data()
            manifest = {"format_version": FORMAT_VERSION, "version": 0, "collections": {}}
            write_json(path, seal(manifest))
            self._seen_file = _identity(path)
            return manifest
        try:
            identity = _identity(path)
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
        checked = dict(check_manifest(manifest, path))
        self._seen_file = identity
        return checked

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

    @property
    def collections(self) -> dict[str, Any]:
        return self.manifest["collections"]  # type: ignore[no-any-return]

    def write_manifest(self) -> int:
        """Write the manifest durably (``self.lock`` and the write lock held);
        returns the store's new change count."""
        path = os.path.join(self.root, MANIFEST)
        self.manifest["version"] += 1
        write_json(path, seal(self.manifest))
        self._seen_file = _identity(path)
        if self.changes is not None:
            self.changes.publish_manifest(self.manifest["version"])
        return self.bump()

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
        with self.writing():
            self._add_collection(name, schema, indexes)

    def _add_collection(self, name: str, schema: Schema, indexes: list[Index]) -> None:
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
        with self.writing():
            folder = self.folder(name)
            with self.lock:
                if self.collections.pop(name, None) is None:
                    return  # dropped by another process meanwhile
                self.write_manifest()  # durable first: a crash now leaves only garbage files
        # On Windows files still mapped by a live segment stay (unnamed garbage).
        shutil.rmtree(folder, ignore_errors=True)

    def rename_collection(self, old: str, new: str) -> None:
        """Give collection ``old`` the name ``new``: one manifest write (its files
        stay in their folder, which the entry names from now on). The entry is
        moved, not copied: a checkpoint holding it keeps updating the right one."""
        with self.writing(), self.lock:
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
        self,
        name: str,
        schema: Schema,
        indexes: list[Index],
        reuse: dict[int, Segment] | None = None,
    ) -> dict[str, list[Segment]]:
        """The sealed segments the manifest names for collection ``name``.

        Args:
            reuse: segments already in memory whose manifest entry is unchanged
                (a process catching up after another's checkpoint keeps them
                rather than read and map their files again).
        """
        entry = self.collections[name]
        specs = {i.field: i for i in indexes}
        folder = self.folder(name)
        if not self.read_only and os.path.isdir(folder):
            for child in os.listdir(folder):  # vectors of growing segments lost in a crash
                if _dead_spill(child):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(folder, child))
        reuse = reuse or {}
        out: dict[str, list[Segment]] = {}
        for partition, seg_ids in entry["partitions"].items():
            out[partition] = [
                reuse.get(sid)
                or read_segment(
                    os.path.join(folder, f"seg_{sid}"),
                    sid,
                    entry["segments"][str(sid)],
                    schema,
                    specs,
                )
                for sid in seg_ids
            ]
        return out

    def close(self) -> None:
        if self._write_lock is not None:
            self._write_lock.close()
            self._write_lock = None
        if self.changes is not None:
            self.changes.close()
            self.changes = None
        self.marks.close()


def _identity(path: str) -> tuple[int, int, int]:
    """What tells one manifest file from the next: each write replaces the file
    (a new inode), and the size and time guard against a reused inode number.
    A missing file is ``(0, 0, 0)``, which no real file has."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _ours(name: str) -> bool:
    """Whether a file name in a collection folder is one Kestrel writes there."""
    if name.startswith("wal.") and name.endswith(".log"):
        return name[4:-4].isdigit()
    if name.startswith("seg_"):
        return name[4:].isdigit()
    return name.startswith("growing_") and name.endswith(".f32")


def _dead_spill(name: str) -> bool:
    """Whether a file is a growing segment's spilled vectors that no live process
    owns: ``growing_p<pid>_...`` of a process that is gone, or a name from a
    Kestrel that held the store for its whole life (no pid in the name)."""
    if not (name.startswith("growing_") and name.endswith(".f32")):
        return False
    head = name[len("growing_") :].split("_", 1)[0]
    if not (head.startswith("p") and head[1:].isdigit()):
        return True
    pid = int(head[1:])
    if pid == os.getpid() or os.name == "nt":  # Windows' os.kill(pid, 0) would kill it
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False
