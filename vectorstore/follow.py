"""Keeping one process's copy of a collection current with the store's files.

Every process that opens a path store holds each collection's state in memory
(``state.CollectionState``) and keeps it current the way SQLite's readers do:

- before a read, if the store's change counter moved (``storage.changes``), and
  before every write, holding the store's write lock, the process catches up;
- if the collection's manifest entry is the one its state was built from, only
  log records appended since are new: they are read from where the state's
  position in the log is and replayed (``CollectionStorage.read_log``);
- otherwise another process checkpointed or compacted, and the state is rebuilt
  from the new entry: sealed segments whose entry is unchanged are kept as they
  are, the others are read from disk, and the log since the entry's generation
  is replayed. The rebuild happens beside the old state, which is replaced only
  once it is complete: a failure leaves the old state serving.

A process that reads without the write lock may race a checkpoint that removes
a log generation or a segment folder; POSIX keeps open and mapped files alive,
and anything not yet opened shows up as a ``StorageError``, after which the
catch-up starts again from the new manifest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .errors import ClosedError, StorageError
from .index_spec import Index
from .segment import Segment
from .state import CollectionState
from .storage.collection_files import CollectionStorage

ATTEMPTS = 8  # catch-ups racing other processes' checkpoints, before giving up


class CollectionGoneError(ClosedError):
    """The collection left the manifest (dropped or renamed by another process),
    or was created again with another schema: its handles are closed."""

    def __init__(self, name: str):
        super().__init__(
            f"collection {name!r} was dropped or renamed by another client or process; "
            "get it again from the client"
        )


def entry_parts(entry: dict[str, Any], name: str, root: str) -> tuple[list[Index], int, int]:
    """A manifest entry's indexes, next segment id and next auto id.

    Raises:
        StorageError: the entry is damaged.
    """
    try:
        indexes = [Index.from_dict(i) for i in entry["indexes"]]
        return indexes, int(entry["next_segment_id"]), int(entry["next_auto_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(
            f"the manifest entry of collection {name!r} in {root} is damaged: {exc!r}"
        ) from None


def catch_up(
    state: CollectionState,
    storage: CollectionStorage,
    locked: bool,
    interruptible: Callable[[], AbstractContextManager[None]],
    attempts: int = ATTEMPTS,
) -> int:
    """Bring ``state`` up to date with the store (the collection's write lock held).

    Args:
        state, storage: the collection's state and files.
        locked: the store's write lock is held (nothing can race; a torn log
            tail is a dead writer's and is cut off).
        interruptible: the collection's guard for in-memory changes that must
            happen whole.
        attempts: tries without the lock before the ``StorageError`` is raised.

    Returns:
        How many log records were applied.

    Raises:
        CollectionGoneError: the collection is no longer in the manifest as it was.
        StorageError: the files could not be read, ``attempts`` times.
    """
    store = storage.store
    for attempt in range(attempts):
        seen = store.change_count()  # first: a change after this is seen next time
        try:
            # without the write lock, a reader's mark keeps checkpoints from
            # deleting what the manifest read here names until it is open
            with nullcontext() if locked else store.marks.reading():
                store.refresh()
                entry = store.collections.get(state.name)
                if entry is None or entry.get("schema") != storage.loaded.get("schema"):
                    raise CollectionGoneError(state.name)
                if entry == storage.loaded:
                    records = list(storage.read_log(state.schema.primary.name, locked))
                    rebuilt = None
                else:
                    rebuilt = rebuild(state, storage, locked)
            with interruptible():
                if rebuilt is None:
                    state.replay(records)
                    applied = len(records)
                else:
                    fresh, fresh_storage, applied = rebuilt
                    state.adopt(fresh)
                    storage.take_over(fresh_storage)
        except StorageError:
            if locked or attempt == attempts - 1:
                raise
            time.sleep(0.005 * 2**attempt)  # let the other process's checkpoint finish
            continue
        storage.seen = seen
        return applied
    raise AssertionError("unreachable")  # pragma: no cover


def rebuild(
    state: CollectionState, storage: CollectionStorage, locked: bool
) -> tuple[CollectionState, CollectionStorage, int]:
    """A new state and storage from the current manifest entry, beside the old
    ones (which are left untouched): ``(state, storage, records replayed)``."""
    fresh_storage = CollectionStorage(storage.store, state.name)
    entry = fresh_storage.loaded
    indexes, next_segment_id, next_auto_id = entry_parts(entry, state.name, storage.store.root)
    keep = _unchanged(state, storage.loaded, entry)
    fresh = CollectionState(
        state.name,
        state.schema,
        indexes,
        segment_rows=state.segment_rows,
        spill_dir=state.spill_dir,
    )
    try:
        segments = storage.store.load_segments(state.name, state.schema, indexes, reuse=keep)
        fresh.restore(segments, next_segment_id, next_auto_id)
        applied = fresh.replay(fresh_storage.read_log(state.schema.primary.name, locked))
    except BaseException:
        fresh.close(keep=keep.values())
        fresh_storage.close_log()
        raise
    return fresh, fresh_storage, applied


def load(state: CollectionState, storage: CollectionStorage) -> int:
    """Fill an empty state from disk at open; returns the records replayed."""
    storage.seen = storage.store.change_count()
    entry = storage.loaded
    _, next_segment_id, next_auto_id = entry_parts(entry, state.name, storage.store.root)
    indexes = list(state.indexes.values())
    segments = storage.store.load_segments(state.name, state.schema, indexes)
    state.restore(segments, next_segment_id, next_auto_id)
    return state.replay(storage.read_log(state.schema.primary.name))


def _unchanged(
    state: CollectionState, old: dict[str, Any], new: dict[str, Any]
) -> dict[int, Segment]:
    """Sealed, persisted segments of ``state`` whose manifest entry (files,
    tombstones, indexes) is the same in ``new`` as in ``old``: their files did
    not change, and the deletes the state applied on top of them since come
    again in the log it replays (a delete of a deleted row is a no-op)."""
    if old.get("indexes") != new.get("indexes"):
        return {}
    before, after = old.get("segments", {}), new.get("segments", {})
    keep: dict[int, Segment] = {}
    for segments in state.partitions.values():
        for seg in segments:
            sid = str(seg.id)
            if seg.sealed and seg.persisted and sid in after and before.get(sid) == after[sid]:
                keep[seg.id] = seg
    return keep
