"""Checkpoints and compaction: the work that reshapes a collection's segments.

The functions change a ``CollectionState`` with the collection's write lock
held (``freeze``, ``compact``); ``Checkpoints`` decides when they run and
writes the frozen state to disk (``storage.collection_files.CollectionStorage.persist``)
after the lock is released, while searches and writes go on.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np

from .errors import StorageError
from .segment import Segment
from .state import CollectionState
from .storage.collection_files import CollectionStorage, Frozen

log = logging.getLogger("vectorstore.maintenance")

AUTO_COMPACT_RATIO = 0.2  # a segment this much deleted is rewritten after a write ...
AUTO_COMPACT_MIN_ROWS = 1000  # ... once it has at least this many deleted rows
MOVE_CHUNK_ROWS = 65_536  # rows copied at a time when segments are rewritten or merged


def freeze(state: CollectionState, rotate: Callable[[], int] | None) -> Frozen:
    """Seal every growing segment and start a new log generation.

    Args:
        state: the collection's state (write lock held).
        rotate: starts the next write-ahead log generation and returns its
            number (None for a memory store).

    Returns:
        What the checkpoint persists.
    """
    generation = rotate() if rotate is not None else 0  # first: it may fail
    for segments in state.partitions.values():
        if segments and not segments[-1].sealed:
            if segments[-1].num_rows:
                segments[-1].seal()
            else:
                segments.pop().close()
    state.needs_checkpoint = False
    return Frozen(
        partitions={name: list(segs) for name, segs in state.partitions.items()},
        indexes=list(state.indexes.values()),
        next_segment_id=state.next_segment_id,
        next_auto_id=state.next_auto_id,
        wal_generation=generation,
    )


def merge_unbuilt(state: CollectionState) -> None:
    """Repack each partition's last sealed segments whose graphs are not built
    yet, with its growing segment, into as few full segments as their rows fill
    (write lock held).

    A checkpoint inside a write seals the growing segment without building its
    graph (``Segment.seal``), so a bulk load is cut wherever the log filled up.
    Before the graphs are built, putting the pieces back together costs a copy
    of their rows and wastes no graph work, and a search then walks one graph
    per ``segment_rows`` rows, not one per checkpoint. A segment whose graph a
    search has built stays as it is.
    """
    for name, segments in state.partitions.items():
        growing = segments[-1] if segments and not segments[-1].sealed else None
        run: list[Segment] = []
        for seg in reversed(segments[:-1] if growing is not None else segments):
            if not seg.graph_pending:
                break
            run.insert(0, seg)
        rows = sum(seg.num_live for seg in run) + (growing.num_rows if growing else 0)
        if math.ceil(rows / state.segment_rows) >= len(run) + (growing is not None):
            continue  # as few segments as it can be already
        state.partitions[name] = [s for s in segments if all(s is not r for r in run)]
        for seg in run:
            _move_rows(state, name, seg)


def _move_rows(state: CollectionState, name: str, seg: Segment) -> None:
    """Re-insert a segment's live rows at the end of partition ``name`` (into
    its growing segment), a chunk at a time, and release the segment."""
    live = np.flatnonzero(seg.live_mask())
    for lo in range(0, len(live), MOVE_CHUNK_ROWS):
        state.insert(seg.rows_at(live[lo : lo + MOVE_CHUNK_ROWS]), name, moved=True)
    seg.close()


def worth_compacting(state: CollectionState) -> bool:
    """Whether some segment is deleted enough to be rewritten after a write."""
    return any(
        seg.num_deleted >= AUTO_COMPACT_MIN_ROWS
        and seg.num_deleted >= AUTO_COMPACT_RATIO * seg.num_rows
        for segments in state.partitions.values()
        for seg in segments
    )


def compact(state: CollectionState, min_ratio: float, merge_small: bool) -> None:
    """Rewrite segments without their deleted rows (write lock held).

    Args:
        state: the collection's state.
        min_ratio: rewrite a segment whose deleted share reaches this.
        merge_small: also merge sealed segments under a quarter of
            ``segment_rows`` within each partition.
    """
    for name in list(state.partitions):
        _compact_partition(state, name, min_ratio, merge_small)


def _compact_partition(
    state: CollectionState, name: str, min_ratio: float, merge_small: bool
) -> None:
    old = state.partitions[name]
    small = state.segment_rows // 4

    def rewrite(seg: Segment) -> bool:
        if seg.num_deleted and seg.num_deleted >= min_ratio * seg.num_rows:
            return True
        return merge_small and seg.sealed and seg.num_live < small and len(old) > 1

    redo = [s for s in old if rewrite(s)]
    if not redo or (len(redo) == 1 and not redo[0].num_deleted):
        return  # nothing to drop, nothing to merge with
    state.partitions[name] = [s for s in old if s not in redo]
    for seg in redo:
        _move_rows(state, name, seg)


class Checkpoints:
    """When a collection's state goes to disk, and how: one checkpoint or
    compaction at a time, the state frozen under the collection's write lock
    (a moment), the files written outside it while searches go on (the store's
    write lock is held from the freeze until the manifest is written: writes,
    from any process, wait; an explicit flush builds its graphs before that).

    Args:
        state: the collection's state.
        storage: its files (None for a memory store: freezes only).
        writing: the collection's write lock (checks it is open and writable).
        reading: its read lock.
        interruptible: marks the collection closed if a change is cut short.
    """

    def __init__(
        self,
        state: CollectionState,
        storage: CollectionStorage | None,
        writing: Callable[[], AbstractContextManager[None]],
        reading: AbstractContextManager[None],
        interruptible: Callable[[], AbstractContextManager[None]],
    ):
        self._state = state
        self._storage = storage
        self._writing = writing
        self._reading = reading
        self._interruptible = interruptible
        self._lock = threading.Lock()  # one checkpoint or compaction at a time

    def flush(self, build: bool = True) -> None:
        """Freeze, then persist (see ``Collection.flush``).

        Args:
            build: also merge the segments whose graphs are not built yet
                (``merge_unbuilt``) and build every graph, under the read lock,
                before the files are written: an explicit flush leaves the
                collection fast to search. A checkpoint inside a write
                (``after_write``) only writes rows.

        Raises:
            StorageError: the files could not be written.
        """
        self._checkpoint((lambda: merge_unbuilt(self._state)) if build else (lambda: None), build)

    def compact(self, min_ratio: float, merge_small: bool, build: bool = True) -> None:
        """Compact in memory and freeze under the write lock, then persist
        (``build``: as for ``flush``)."""
        self._checkpoint(lambda: compact(self._state, min_ratio, merge_small), build)

    def _checkpoint(self, change: Callable[[], None], build: bool) -> None:
        """Change the segments (moving rows between them), freeze and persist.

        With ``build``, the change is made and the graphs are built first, with
        the store's lock released for the build: at a million rows it takes
        minutes, and every writer of the store (other collections, other
        processes) would wait for it. The change is then made again with the
        lock held, where it finds nothing left to do unless rows came meanwhile,
        and the freeze's build covers only those rows.
        """
        with self._lock:
            if build:
                with self._writing(), self._interruptible():  # whole or closed
                    change()
                self._build_graphs(None)
            with self._store_writing():
                with self._writing():
                    with self._interruptible():  # rows move between segments: whole or closed
                        change()
                    frozen = self._freeze()  # may fail on a full disk: not an interruption
                if build:
                    self._build_graphs(frozen)
                if self._storage is not None:
                    self._storage.persist(frozen)

    def _build_graphs(self, frozen: Frozen | None) -> None:
        """Build every graph of the frozen segments (None: the collection's)."""
        with self._reading:  # as a search would: deletes wait, searches go on
            partitions = self._state.partitions if frozen is None else frozen.partitions
            for segments in list(partitions.values()):
                for seg in segments:
                    seg.build_graphs()

    def _store_writing(self) -> AbstractContextManager[None]:
        """The store's write lock, held from the freeze until the manifest is
        written: no other process logs into the generation being folded in or
        checkpoints meanwhile. Searches go on; other writers wait."""
        return self._storage.store.writing() if self._storage is not None else nullcontext()

    def after_write(self, checkpoint: bool = False) -> None:
        """Housekeeping after an acknowledged write: compact segments that are
        mostly deleted, checkpoint if a segment filled up or the log grew large
        (or at once, with ``checkpoint``: after a replay at open).

        The write is logged and applied whatever happens here, so a failed
        checkpoint (a full disk) is logged, not raised as if the write had
        failed; it is retried after the next write, and ``flush()`` raises it.
        """
        try:
            if checkpoint:
                self.flush(build=False)
                return
            with self._reading:
                mostly_deleted = worth_compacting(self._state)
            if mostly_deleted:
                self.compact(AUTO_COMPACT_RATIO, merge_small=False, build=False)
            elif self._storage is not None and (
                self._state.needs_checkpoint
                or self._storage.wal_bytes() > self._storage.max_wal_bytes
            ):
                self.flush(build=False)
        except StorageError as exc:
            self._state.needs_checkpoint = True
            log.warning("collection %r: %s (retried after the next write)", self._state.name, exc)

    def _freeze(self) -> Frozen:
        rotate = self._storage.rotate if self._storage is not None else None
        return freeze(self._state, rotate)


__all__ = [
    "AUTO_COMPACT_MIN_ROWS",
    "AUTO_COMPACT_RATIO",
    "Checkpoints",
    "compact",
    "freeze",
    "merge_unbuilt",
    "worth_compacting",
]
