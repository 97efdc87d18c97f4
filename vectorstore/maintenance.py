"""Checkpoints and compaction: the work that reshapes a collection's segments.

These functions change a ``CollectionState`` and are called by the
``Collection`` with its write lock held (``freeze``, ``compact``); writing the
frozen state to disk (``storage.store.CollectionStorage.persist``) happens
after the lock is released, while searches and writes go on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .segment import Segment
from .state import CollectionState
from .storage.store import Frozen

AUTO_COMPACT_RATIO = 0.2  # a segment this much deleted is rewritten after a write ...
AUTO_COMPACT_MIN_ROWS = 1000  # ... once it has at least this many deleted rows


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
                segments[-1].sealed = True
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
        live = np.flatnonzero(seg.live_mask())
        if len(live):
            rows = seg.rows_at(live)
            for key in rows.pks:
                state.locations.pop(key, None)
            state.insert(rows, name, moved=True)
        seg.close()


__all__ = ["AUTO_COMPACT_MIN_ROWS", "AUTO_COMPACT_RATIO", "compact", "freeze", "worth_compacting"]
