"""The manifest read as data, never trusted: checksum, shape, names, cross-checks.

A store may come from anywhere (a download, a shared drive, a file edited by
hand), so everything read from ``manifest.json`` is validated like API input
before any of it is used: a checksum over its content, the type of every
field the engine reads, names that follow the API's naming rule (so a name can
never reach outside the store directory), file names that are plain names,
and the counters against the segments listed. A manifest that fails any check
is a ``StorageError`` naming what is wrong, never a ``KeyError`` deep inside,
and never wrong data served.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ..errors import InvalidNameError, StorageError
from ..schema import validate_name

CHECKSUM = "checksum"
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
# a collection's folder: its name, or (after renames) a name with a ".<n>" suffix
_FOLDER = re.compile(r"[A-Za-z0-9_]{1,255}(\.[0-9]{1,9})?")


def checksum(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's content (every key but the checksum itself)."""
    body = {k: v for k, v in manifest.items() if k != CHECKSUM}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with its checksum set (the dict is updated in place)."""
    manifest[CHECKSUM] = checksum(manifest)
    return manifest


def check(manifest: Any, path: str) -> dict[str, Any]:
    """Validate a manifest read from ``path`` and return it.

    Manifests written before checksums existed have none and are accepted;
    every other check applies to them too.

    Raises:
        StorageError: the checksum does not match, a field is missing or of the
            wrong type, a name breaks the naming rule, or the counters
            contradict the segments listed.
    """
    if not isinstance(manifest, dict):
        raise StorageError(f"{path} is not a Kestrel manifest (not a JSON object)")
    stored = manifest.get(CHECKSUM)
    if stored is not None and stored != checksum(manifest):
        raise StorageError(
            f"{path} fails its checksum: it was changed outside Kestrel or damaged; "
            "restore it from a backup"
        )
    where = f"{path}: "
    _int(manifest.get("version"), where + "version", minimum=0)
    collections = manifest.get("collections")
    if not isinstance(collections, dict):
        raise StorageError(f"{path} is not a Kestrel manifest (no collections object)")
    folders: set[str] = set()
    for name, entry in collections.items():
        _name(name, "collection", where)
        _collection(entry, f"{where}collection {name!r}: ")
        folder = entry.get("folder", name)
        if not isinstance(folder, str) or not _FOLDER.fullmatch(folder):
            raise StorageError(f"{where}collection {name!r}: bad folder {folder!r}")
        if folder in folders:
            raise StorageError(f"{where}collection {name!r}: folder {folder!r} is used twice")
        folders.add(folder)
    return manifest


def _collection(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise StorageError(f"{where}entry is not an object")
    for key, kind in (
        ("schema", dict),
        ("indexes", list),
        ("partitions", dict),
        ("segments", dict),
    ):
        if not isinstance(entry.get(key), kind):
            raise StorageError(f"{where}{key!r} is missing or not a {kind.__name__}")
    next_segment_id = _int(entry.get("next_segment_id"), where + "next_segment_id", minimum=1)
    _int(entry.get("next_auto_id"), where + "next_auto_id", minimum=0)
    _int(entry.get("wal"), where + "wal", minimum=1)
    listed: set[int] = set()
    for partition, ids in entry["partitions"].items():
        _name(partition, "partition", where)
        if not isinstance(ids, list):
            raise StorageError(f"{where}partition {partition!r} does not list segment ids")
        for sid in ids:
            _int(sid, f"{where}a segment id of partition {partition!r}", minimum=1)
            if sid in listed:
                raise StorageError(f"{where}segment {sid} is listed twice")
            if str(sid) not in entry["segments"]:
                raise StorageError(f"{where}segment {sid} is listed but has no entry")
            listed.add(sid)
            _segment(entry["segments"][str(sid)], partition, f"{where}segment {sid}: ")
    if listed and max(listed) >= next_segment_id:
        raise StorageError(
            f"{where}next_segment_id {next_segment_id} is not above segment {max(listed)}: "
            "new segments would reuse an id"
        )


def _segment(entry: Any, partition: str, where: str) -> None:
    if not isinstance(entry, dict):
        raise StorageError(f"{where}entry is not an object")
    if entry.get("partition") != partition:
        raise StorageError(f"{where}belongs to partition {entry.get('partition')!r}")
    _int(entry.get("rows"), where + "rows", minimum=0)
    files = entry.get("files")
    if not isinstance(files, dict) or not files:
        raise StorageError(f"{where}'files' is missing")
    for file, crc in files.items():
        if not isinstance(file, str) or not _FILE_NAME.fullmatch(file):
            raise StorageError(f"{where}file name {file!r} is not a plain file name")
        _int(crc, f"{where}the CRC of {file}", minimum=0)


def _int(value: Any, what: str, minimum: int) -> int:
    if type(value) is not int or value < minimum:
        raise StorageError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _name(name: Any, kind: str, where: str) -> None:
    try:
        validate_name(name, kind)
    except InvalidNameError as exc:
        raise StorageError(f"{where}{exc}") from None


__all__ = ["check", "checksum", "seal"]
