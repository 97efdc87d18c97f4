"""A store directory: ``manifest.json``, the writer lock, one folder per collection.

Layout::

    <store>/manifest.json            versioned; replaced atomically
    <store>/.lock                    writer lock (pid inside)
    <store>/<collection>/seg_<id>/   sealed segment files (see segment_io)
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from ..errors import StorageError
from ..schema import Index, Schema
from .files import read_json, write_json
from .lock import StoreLock
from .segment_io import read_segment, write_segment, write_tombstones

if TYPE_CHECKING:
    from ..collection import Collection
    from ..segment import Segment

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class DirectoryStore:
    """Owns a store directory's manifest and lock.

    Args:
        root: the store directory (created unless read-only).
        read_only: open without the writer lock; writes are refused.

    Raises:
        LockedError: another process writes to the store.
        StorageError: unreadable manifest or a newer format version.
    """

    def __init__(self, root: str, read_only: bool = False):
        self.root = os.path.abspath(root)
        self.read_only = read_only
        self._lock: StoreLock | None = None
        path = os.path.join(self.root, MANIFEST)
        if read_only:
            if not os.path.exists(path):
                raise StorageError(f"no Kestrel store at {self.root} (no {MANIFEST})")
        else:
            os.makedirs(self.root, exist_ok=True)
            self._lock = StoreLock(self.root)
            self._lock.acquire()
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
        os.makedirs(self.folder(name), exist_ok=True)
        self.collections[name] = {
            "schema": schema.to_dict(),
            "indexes": [i.to_dict() for i in indexes],
            "partitions": {"_default": []},
            "segments": {},
            "next_segment_id": 1,
            "next_auto_id": 0,
        }
        self.write_manifest()

    def remove_collection(self, name: str) -> None:
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
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class CollectionStorage:
    """What a collection asks of its store: seal segments, checkpoint state."""

    def __init__(self, store: DirectoryStore, name: str):
        self.store = store
        self.name = name

    def log(self, collection: Collection, record: dict[str, Any]) -> None:
        """Called before each write is applied (the write-ahead log hooks in here)."""

    def seal(self, collection: Collection, seg: Segment) -> None:
        folder = os.path.join(self.store.folder(self.name), f"seg_{seg.id}")
        entry = write_segment(seg, folder)
        self.store.collections[self.name]["segments"][str(seg.id)] = entry

    def spill_dir(self) -> str:
        """Where growing segments keep their vectors (cleared on open)."""
        return self.store.folder(self.name)

    def save_index(self, collection: Collection, seg: Segment, field: str) -> None:
        """Rewrite a sealed segment's index file after ``create_index``."""
        index = seg.indexes.get(field)
        if index is not None:
            index.save(os.path.join(self.store.folder(self.name), f"seg_{seg.id}", f"{field}.hnsw"))

    def checkpoint(self, collection: Collection) -> None:
        """Persist tombstones and the collection's state in the manifest."""
        entry = self.store.collections[self.name]
        partitions: dict[str, list[int]] = {}
        for name, segments in collection._partitions.items():
            partitions[name] = []
            for seg in segments:
                if not seg.sealed:
                    continue
                if seg.num_deleted != seg.persisted_deleted:
                    write_tombstones(
                        seg, os.path.join(self.store.folder(self.name), f"seg_{seg.id}")
                    )
                partitions[name].append(seg.id)
        live = {sid for ids in partitions.values() for sid in ids}
        entry["partitions"] = partitions
        entry["segments"] = {k: v for k, v in entry["segments"].items() if int(k) in live}
        entry["indexes"] = [i.to_dict() for i in collection.indexes]
        entry["next_segment_id"] = collection._next_segment_id
        entry["next_auto_id"] = collection._next_auto_id
        self.store.write_manifest()
        folder = self.store.folder(self.name)
        for child in os.listdir(folder):  # files of merged or dropped segments
            if child.startswith("seg_") and child[4:].isdigit() and int(child[4:]) not in live:
                shutil.rmtree(os.path.join(folder, child), ignore_errors=True)
