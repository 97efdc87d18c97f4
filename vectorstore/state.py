"""A collection's mutable state, and the one place writes change it.

``CollectionState`` holds the partitions (each a list of segments, the last
one possibly growing), where every live key is, the BM25 term statistics and
the indexes. ``apply(record)`` changes it by one validated write record
(``storage.records``); a live write and a write replayed from the log take the
same path, so recovery cannot drift from what was acknowledged.

The state does no locking and no validation: the ``Collection`` validates a
write whole, holds its write lock, logs the record, then applies it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .bm25 import TermStats
from .errors import DuplicateKeyError, PartitionNotFoundError
from .expr import Expr
from .functions import BM25
from .index_spec import Index
from .names import DEFAULT_PARTITION
from .rows import PrimaryKey, RowBatch
from .schema import Schema
from .segment import Segment
from .storage.records import (
    CreateIndex,
    CreatePartition,
    Delete,
    DropIndex,
    DropPartition,
    Insert,
    Record,
    Upsert,
)
from .types import Metric

DEFAULT_SEGMENT_ROWS = 1_000_000


class CollectionState:
    """Partitions, key locations, term statistics and indexes of one collection.

    Args:
        name: the collection's name (for messages).
        schema: the collection's schema.
        indexes: one ``Index`` per indexed field.
        segment_rows: rows per segment before it is sealed.
        spill_dir: where growing segments keep their vectors (None: memory).
    """

    def __init__(
        self,
        name: str,
        schema: Schema,
        indexes: Iterable[Index],
        *,
        segment_rows: int = DEFAULT_SEGMENT_ROWS,
        spill_dir: str | None = None,
    ):
        self.name = name
        self.schema = schema
        self.indexes: dict[str, Index] = {i.field: i for i in indexes}
        self.segment_rows = segment_rows
        self.spill_dir = spill_dir
        # BM25 statistics over every live row of the collection, per BM25 field
        self.term_stats = {
            fn.output: TermStats() for fn in schema.functions if isinstance(fn, BM25)
        }
        self.partitions: dict[str, list[Segment]] = {DEFAULT_PARTITION: []}
        self.next_segment_id = 1
        self.next_auto_id = time.time_ns() // 1000
        self.needs_checkpoint = False  # a segment filled up: seal it to disk soon
        self._auto_id_lock = threading.Lock()  # next_auto_id is read and moved as one step

    # ------------------------------------------------------------- opening
    def restore(
        self, partitions: Mapping[str, list[Segment]], next_segment_id: int, next_auto_id: int
    ) -> None:
        """Install segments read from disk (once, before any record is applied)."""
        self.partitions = {DEFAULT_PARTITION: [], **partitions}
        for segments in self.partitions.values():
            for seg in segments:
                self._count_terms(seg, np.flatnonzero(seg.live_mask()), +1)
        self.next_segment_id = next_segment_id
        self.next_auto_id = max(self.next_auto_id, next_auto_id)

    def replay(self, records: Iterable[Record]) -> int:
        """Apply logged records in order (recovery); returns how many."""
        count = 0
        for record in records:
            self.apply(record)
            count += 1
        return count

    def adopt(self, other: CollectionState) -> None:
        """Take over the contents of ``other``, a state rebuilt from the store's
        files (``follow``), closing this state's segments ``other`` does not hold.
        The dicts a ``Router`` holds (indexes, term statistics) stay the same objects."""
        theirs = {id(seg) for segments in other.partitions.values() for seg in segments}
        self.close(keep=[s for segs in self.partitions.values() for s in segs if id(s) in theirs])
        self.partitions = other.partitions
        self.indexes.clear()
        self.indexes.update(other.indexes)
        self.term_stats.clear()
        self.term_stats.update(other.term_stats)
        self.next_segment_id = other.next_segment_id
        self.next_auto_id = max(self.next_auto_id, other.next_auto_id)
        self.needs_checkpoint = other.needs_checkpoint

    def close(self, keep: Iterable[Segment] = ()) -> None:
        """Close every segment but those in ``keep`` (they live on elsewhere)."""
        kept = {id(seg) for seg in keep}
        for segments in self.partitions.values():
            for seg in segments:
                if id(seg) not in kept:
                    seg.close()
        self.partitions = {}  # give the memory back even if handles linger

    # ---------------------------------------------------------------- reads
    def metric(self, field: str) -> Metric:
        """The metric a field is searched with (its index's; COSINE if none)."""
        spec = self.indexes.get(field)
        return spec.vector_metric if spec is not None else Metric.COSINE

    def partition(self, name: str) -> list[Segment]:
        """The segments of one partition.

        Raises:
            PartitionNotFoundError: no such partition.
        """
        try:
            return self.partitions[name]
        except KeyError:
            raise PartitionNotFoundError(
                f"collection {self.name!r} has no partition {name!r}"
            ) from None

    def segments(self, partitions: Sequence[str] | str | None) -> list[Segment]:
        """The segments of these partitions; None or an empty list means all (as Milvus).

        Raises:
            PartitionNotFoundError: one of them does not exist.
        """
        if isinstance(partitions, str):
            names: Sequence[str] = [partitions]
        elif not partitions:
            names = list(self.partitions)
        else:
            names = list(partitions)
        out: list[Segment] = []
        for name in names:
            out.extend(self.partition(name))
        return out

    def scan(
        self,
        segments: list[Segment],
        compiled: Expr | None,
        keys: set[PrimaryKey] | None,
        window: tuple[int, int | None],
        output: tuple[list[str], str | list[str]],
    ) -> list[dict[str, Any]]:
        """Rows of ``segments`` that pass ``compiled`` (and have one of ``keys``),
        in storage order, ``window`` = ``(offset, limit)``, as entity dicts."""
        (skip, limit), (fields, dynamic) = window, output
        out: list[dict[str, Any]] = []
        for seg in segments:
            rows = seg.select(compiled).rows
            if keys is not None:
                pks = seg.pks[rows].tolist()
                rows = rows[np.fromiter((k in keys for k in pks), bool, len(rows))]
            if skip:
                taken = min(skip, len(rows))
                rows, skip = rows[taken:], skip - taken
            if limit is not None:
                rows = rows[: limit - len(out)]
            out.extend(seg.entities(rows, fields, dynamic))
            if limit is not None and len(out) >= limit:
                break
        return out

    def get(
        self,
        keys: Sequence[PrimaryKey],
        partitions: Sequence[str] | None,
        output: tuple[list[str], str | list[str]],
    ) -> list[dict[str, Any]]:
        """The rows of these keys, in order, missing (or elsewhere) ones skipped."""
        found: list[dict[str, Any] | None] = [None] * len(keys)
        for seg, at, rows in self.find(keys, self.segments(partitions)):
            for i, entity in zip(at.tolist(), seg.entities(rows, *output), strict=True):
                found[i] = entity
        return [entity for entity in found if entity is not None]

    def count(self, partitions: Sequence[str] | None, compiled: Expr | None) -> int:
        """Live rows of these partitions that pass ``compiled``."""
        segments = self.segments(partitions)
        if compiled is None:
            return sum(s.num_live for s in segments)
        return sum(len(s.select(compiled).rows) for s in segments)

    def live_keys(
        self, keys: list[PrimaryKey], compiled: Expr | None, partition: str | None
    ) -> list[PrimaryKey]:
        """What a delete removes: ``keys`` (or the rows passing ``compiled``) that
        are live, within ``partition`` if given; each once."""
        segments = self.segments(partition)
        live = [False] * len(keys)
        for _seg, at, _rows in self.find(keys, segments):
            for i in at.tolist():
                live[i] = True
        found = [key for key, is_live in zip(keys, live, strict=True) if is_live]
        if compiled is not None:
            for seg in segments:
                found.extend(seg.pks[seg.select(compiled).rows].tolist())
        return list(dict.fromkeys(found))

    def find(
        self, keys: Sequence[PrimaryKey], segments: list[Segment]
    ) -> list[tuple[Segment, np.ndarray, np.ndarray]]:
        """Where the live rows of ``keys`` are among ``segments``: for each
        segment holding some, their positions in ``keys`` and their offsets."""
        if len(keys) == 1:  # get(id), delete(ids=[id]), a one-row insert: the common calls
            for seg in segments:
                row = seg.find(keys)
                if row[0] >= 0:
                    return [(seg, np.zeros(1, dtype=np.int64), row)]
            return []
        out = []
        pending = np.arange(len(keys))
        for seg in segments:
            if not len(pending):
                break
            asked = keys if len(pending) == len(keys) else [keys[i] for i in pending.tolist()]
            rows = seg.find(asked)
            hit = rows >= 0
            if hit.any():
                out.append((seg, pending[hit], rows[hit]))
                pending = pending[~hit]
        return out

    def stats(self) -> dict[str, Any]:
        """Row counts and segment layout."""
        segments = self.segments(None)
        return {
            "row_count": sum(s.num_live for s in segments),
            "deleted_rows": sum(s.num_deleted for s in segments),
            "segments": len(segments),
            "sealed_segments": sum(s.sealed for s in segments),
            "unindexed_rows": sum(s.unindexed_rows() for s in segments),
            "partitions": {p: sum(s.num_live for s in segs) for p, segs in self.partitions.items()},
        }

    # --------------------------------------------------------------- writes
    def check_new_keys(self, keys: Sequence[PrimaryKey]) -> None:
        """Raise ``DuplicateKeyError`` for the first key that is live already."""
        found = self.find(keys, self.segments(None))
        if found:
            i = min(int(at[0]) for _seg, at, _rows in found)
            raise DuplicateKeyError(
                f"row {i}: primary key {keys[i]!r} already exists; use upsert() to replace a row"
            )

    def take_auto_ids(self, n: int) -> list[int]:
        """Reserve ``n`` generated keys (microseconds since the epoch, increasing)."""
        with self._auto_id_lock:
            start = max(self.next_auto_id, time.time_ns() // 1000)
            self.next_auto_id = start + n
        return list(range(start, start + n))

    def apply(self, record: Record) -> None:
        """Apply one validated write record (the caller holds the write lock)."""
        if isinstance(record, Insert):
            if self.schema.primary.auto_id and record.batch.num_rows:
                self.next_auto_id = max(self.next_auto_id, max(record.batch.pks) + 1)
            self.insert(record.batch, record.partition)
        elif isinstance(record, Upsert):
            self.delete(record.batch.pks)
            self.insert(record.batch, record.partition)
        elif isinstance(record, Delete):
            self.delete(record.ids)
        elif isinstance(record, CreatePartition):
            self.partitions.setdefault(record.name, [])
        elif isinstance(record, DropPartition):
            for seg in self.partitions.pop(record.name, []):
                self._count_terms(seg, np.flatnonzero(seg.live_mask()), -1)
                seg.close()
        elif isinstance(record, CreateIndex):
            self._set_index(record.index)
        elif isinstance(record, DropIndex):
            after = self.indexes[record.field].after_drop()
            if after is not None:  # a dense field: searched exactly (FLAT)
                self._set_index(after)
            else:  # a scalar field: filters scan it again
                del self.indexes[record.field]
                for seg in self.segments(None):
                    seg.drop_scalar_index(record.field)

    def _set_index(self, spec: Index) -> None:
        self.indexes[spec.field] = spec
        for seg in self.segments(None):
            seg.set_index(spec.field, spec)

    def insert(self, batch: RowBatch, partition: str, moved: bool = False) -> None:
        """Append a validated batch whose keys are all absent.

        ``moved``: compaction re-inserting live rows (the statistics hold them).
        """
        segments = self.partitions[partition]
        done = 0
        while done < batch.num_rows:
            if not segments or segments[-1].sealed or segments[-1].num_rows >= self.segment_rows:
                if segments and not segments[-1].sealed:
                    segments[-1].seal()  # full: persisted by the next checkpoint
                    self.needs_checkpoint = True
                segments.append(self._new_segment(partition))
            seg = segments[-1]
            take = min(batch.num_rows - done, self.segment_rows - seg.num_rows)
            part = (
                batch if (done == 0 and take == batch.num_rows) else batch.slice(done, done + take)
            )
            start = seg.append(part)
            if not moved:
                self._count_terms(seg, np.arange(start, start + take), +1)
            done += take

    def delete(self, keys: Iterable[PrimaryKey]) -> None:
        """Tombstone the rows of these keys (absent keys are skipped)."""
        for seg, _at, offsets in self.find(list(keys), self.segments(None)):
            rows = offsets if len(offsets) == 1 else np.unique(offsets)  # a key twice: one row
            self._count_terms(seg, rows, -1)
            seg.delete(rows)

    def _count_terms(self, seg: Segment, offsets: np.ndarray, sign: int) -> None:
        """Add (+1) or remove (-1) rows from the BM25 statistics."""
        if len(offsets) == 0:
            return
        for name, stats in self.term_stats.items():
            terms, lengths = seg.sparse[name].terms_of(offsets)
            (stats.add if sign > 0 else stats.remove)(terms, lengths)

    def _new_segment(self, partition: str) -> Segment:
        seg = Segment(self.next_segment_id, partition, self.schema, self.indexes, self.spill_dir)
        self.next_segment_id += 1
        return seg


__all__ = ["DEFAULT_PARTITION", "DEFAULT_SEGMENT_ROWS", "CollectionState"]
