"""The public ``Collection``: validation and locking over segments.

Reads (get, query, count, search) share a readers-writer lock; writes hold it
alone. Every write validates its whole batch before touching anything, so a
failed call leaves the collection exactly as it was.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._rwlock import RWLock
from .bm25 import TermStats
from .checks import DEFAULT_PARTITION, check_hybrid, check_query_counts
from .errors import (
    ClosedError,
    DataError,
    DuplicateKeyError,
    FilterTypeError,
    IndexConfigError,
    PartitionNotFoundError,
    ReadOnlyError,
    StorageError,
)
from .functions import BM25
from .ranking import Ranker
from .routes import Router, fuse
from .rows import RowBatch, check_pk, prepare_rows
from .schema import Index, Schema, validate_name
from .search import MAX_TOPK, AnnRequest, SegmentHits, check_window, merge_hits, rows_to_hits
from .segment import Segment, output_entity_fields
from .types import Hit, Metric

if TYPE_CHECKING:
    from .expr import Expr
    from .storage.store import CollectionStorage

FILTER_CACHE_SIZE = 256  # compiled, schema-checked filters kept per collection
AUTO_COMPACT_RATIO = 0.2  # a segment this much deleted is rewritten after a write ...
AUTO_COMPACT_MIN_ROWS = 1000  # ... once it has at least this many deleted rows
DEFAULT_SEGMENT_ROWS = 1_000_000

PrimaryKey = int | str


class Collection:
    """A set of rows with one schema, split into partitions.

    Get one from ``Client.create_collection`` or ``Client.get_collection``; do
    not construct it directly.

    Example:
        >>> col = db.create_collection("docs", dimension=4)
        >>> col.insert([{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4], "lang": "en"}])
        [1]
        >>> col.search(data=[[0.1, 0.2, 0.3, 0.4]], limit=1)[0][0].id
        1
    """

    def __init__(
        self,
        name: str,
        schema: Schema,
        indexes: Iterable[Index],
        *,
        storage: CollectionStorage | None = None,
        read_only: bool = False,
        segment_rows: int = DEFAULT_SEGMENT_ROWS,
    ):
        self._name = name
        self._schema = schema
        self._pk_name = schema.primary.name
        self._empty_batch = Segment(0, DEFAULT_PARTITION, schema, {}).column_batch()
        self._filters: OrderedDict[tuple[str | Expr, str], Expr] = OrderedDict()
        # BM25 statistics over every live row of the collection, per BM25 field
        self._term_stats = {
            fn.output: TermStats() for fn in schema.functions if isinstance(fn, BM25)
        }
        self._router = Router(schema, self._metric, self._term_stats)
        self._indexes: dict[str, Index] = {i.field: i for i in indexes}
        self._storage = storage
        self._read_only = read_only
        self._segment_rows = segment_rows
        self._lock = RWLock()
        self._closed = False
        self._interrupted = False  # a write was cut short: never persist this state
        self._partitions: dict[str, list[Segment]] = {DEFAULT_PARTITION: []}
        self._locations: dict[Any, tuple[Segment, int]] = {}
        self._next_segment_id = 1
        self._next_auto_id = time.time_ns() // 1000
        self._auto_id_lock = threading.Lock()
        self._filters_lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()  # one checkpoint or compaction at a time
        self._needs_checkpoint = False

    # ------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        return self._name

    @property
    def schema(self) -> Schema:
        return self._schema

    @property
    def closed(self) -> bool:
        """Whether the collection was closed (its client closed, or it was dropped)."""
        return self._closed

    @property
    def indexes(self) -> list[Index]:
        return list(self._indexes.values())

    def __repr__(self) -> str:
        return f"Collection({self._name!r})"

    def __len__(self) -> int:
        return self.count()

    # ---------------------------------------------------------------- locking
    @contextmanager
    def _reading(self) -> Iterator[None]:
        with self._lock.read:
            self._check_open()
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        if self._read_only:
            raise ReadOnlyError(f"collection {self._name!r} is open read-only")
        with self._lock.write:
            self._check_open()
            yield

    def _check_open(self) -> None:
        if self._interrupted:
            raise ClosedError(
                f"collection {self._name!r} was closed when a write was interrupted halfway; "
                "reopen the store: its write-ahead log has every logged write"
            )
        if self._closed:
            raise ClosedError(f"collection {self._name!r} is closed or was dropped")

    def _restore(
        self, partitions: dict[str, list[Segment]], next_segment_id: int, next_auto_id: int
    ) -> None:
        """Install segments read from disk (called once, before first use)."""
        self._partitions = {DEFAULT_PARTITION: [], **partitions}
        for segments in self._partitions.values():
            for seg in segments:
                live = seg.live_mask()
                offsets = np.flatnonzero(live)
                for offset, key in zip(offsets.tolist(), seg.pks[live].tolist(), strict=True):
                    self._locations[key] = (seg, offset)
                self._count_terms(seg, offsets, +1)
        self._next_segment_id = next_segment_id
        self._next_auto_id = max(self._next_auto_id, next_auto_id)

    def _close(self) -> None:
        with self._lock.write:
            self._closed = True
            if self._storage is not None:
                self._storage.close()
            for segments in self._partitions.values():
                for seg in segments:
                    seg.close()
            self._partitions = {}  # give the memory back even if handles linger
            self._locations = {}

    # ------------------------------------------------------------- partitions
    def create_partition(self, name: str) -> None:
        """Create a partition (no-op if it exists).

        Raises:
            InvalidNameError: the name breaks the naming rule.
        """
        validate_name(name, "partition")
        with self._writing():
            if name not in self._partitions:
                self._commit({"op": "create_partition", "name": name})

    def drop_partition(self, name: str) -> None:
        """Drop a partition and every row in it.

        Raises:
            PartitionNotFoundError: no such partition.
            DataError: ``_default`` cannot be dropped.
        """
        with self._writing():
            self._partition(name)  # raises if missing
            if name == DEFAULT_PARTITION:
                raise DataError("the _default partition cannot be dropped")
            self._commit({"op": "drop_partition", "name": name})

    def has_partition(self, name: str) -> bool:
        with self._reading():
            return name in self._partitions

    def list_partitions(self) -> list[str]:
        """Partition names, ``_default`` first."""
        with self._reading():
            return list(self._partitions)

    def _partition(self, name: str) -> list[Segment]:
        try:
            return self._partitions[name]
        except KeyError:
            raise PartitionNotFoundError(
                f"collection {self._name!r} has no partition {name!r}"
            ) from None

    def _segments(self, partitions: Sequence[str] | str | None) -> list[Segment]:
        """The segments of these partitions; None or an empty list means all (as Milvus)."""
        if isinstance(partitions, str):
            names: Sequence[str] = [partitions]
        elif not partitions:
            names = list(self._partitions)
        else:
            names = list(partitions)
        out: list[Segment] = []
        for name in names:
            out.extend(self._partition(name))
        return out

    # ----------------------------------------------------------------- writes
    def insert(
        self,
        rows: Iterable[Mapping[str, Any]] | Mapping[str, Any],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows; every primary key must be new.

        Args:
            rows: a list of dicts (or one dict) following the schema.
            partition: the partition to insert into.
            progress: show a progress bar while a TextEmbedding function embeds
                the rows' text (None: for large batches on a terminal).

        Returns:
            The primary keys, in row order (generated ones for auto_id).

        Raises:
            DataError: a row does not fit the schema (names row and field).
            DimensionMismatchError: a vector has the wrong dimension.
            DuplicateKeyError: a key repeats in the batch or already exists
                (use ``upsert`` to replace rows).
            PartitionNotFoundError: no such partition.
        """
        batch = prepare_rows(self._schema, rows, progress)
        with self._writing():
            self._partition(partition)
            pk = self._schema.primary
            if pk.auto_id:
                batch.set_pks(self._take_auto_ids(batch.num_rows), pk.name)
            else:
                for i, key in enumerate(batch.pks):
                    if key in self._locations:
                        raise DuplicateKeyError(
                            f"row {i}: primary key {key!r} already exists; use upsert() to "
                            "replace a row"
                        )
            if batch.num_rows:
                self._commit({"op": "insert", "partition": partition, "batch": batch})
        self._maybe_checkpoint()
        return list(batch.pks)

    def upsert(
        self,
        rows: Iterable[Mapping[str, Any]] | Mapping[str, Any],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows, replacing any row that has the same primary key.

        A replaced row is removed from whatever partition held it.

        Returns:
            The primary keys, in row order.

        Raises:
            The same errors as ``insert``, but never for an existing key.
            DataError: on auto_id collections, upsert needs the keys.
        """
        if self._schema.primary.auto_id:
            raise DataError(
                f"collection {self._name!r} generates its primary keys (auto_id); "
                "upsert needs rows with keys: delete and insert instead"
            )
        batch = prepare_rows(self._schema, rows, progress)
        with self._writing():
            self._partition(partition)
            if batch.num_rows:
                self._commit({"op": "upsert", "partition": partition, "batch": batch})
        self._maybe_checkpoint()
        return list(batch.pks)

    def delete(
        self,
        ids: Sequence[PrimaryKey] | PrimaryKey | None = None,
        filter: str | Expr | None = None,
        *,
        filter_params: Mapping[str, Any] | None = None,
        partition: str | None = None,
    ) -> int:
        """Delete rows by primary key or by filter expression.

        Args:
            ids: keys to delete; keys that do not exist are ignored.
            filter: a filter expression (``"views < 10"``), or a tree of
                ``vectorstore.expr`` nodes (what adapters build: no string building).
            filter_params: values for ``{name}`` placeholders in the filter.
            partition: restrict the delete to one partition.

        Returns:
            The number of rows deleted.

        Raises:
            DataError: neither or both of ``ids`` and ``filter`` given.
            FilterSyntaxError, FilterTypeError: a bad filter.
        """
        if (ids is None) == (filter is None):
            raise DataError("delete() takes either ids= or filter=")
        keys: list[PrimaryKey] = []
        if ids is not None:
            id_list = [ids] if isinstance(ids, (int, str, np.integer)) else list(ids)
            keys = [check_pk(self._schema, v, f"ids[{i}]") for i, v in enumerate(id_list)]
        compiled = self._compile(filter, filter_params) if filter is not None else None
        with self._writing():
            segments = self._segments(partition)
            if compiled is not None:
                for seg in segments:
                    keys.extend(seg.pks[seg.select(compiled).rows].tolist())
            elif partition is not None:
                wanted = {id(s) for s in segments}
                keys = [
                    k for k in keys if k in self._locations and id(self._locations[k][0]) in wanted
                ]
            keys = list(dict.fromkeys(k for k in keys if k in self._locations))
            if keys:
                self._commit({"op": "delete", "ids": keys})
        self._maybe_checkpoint()
        return len(keys)

    def _take_auto_ids(self, n: int) -> list[int]:
        with self._auto_id_lock:
            start = max(self._next_auto_id, time.time_ns() // 1000)
            self._next_auto_id = start + n
        return list(range(start, start + n))

    # ------------------------------------------------------ applying writes
    def _commit(self, record: dict[str, Any]) -> None:
        """Log a validated write (durable per the store's mode), then apply it."""
        if self._storage is not None:
            self._storage.log(record)
        with self._interruptible():
            self._apply(record)

    @contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Memory changes that must happen whole. If one is cut short (Ctrl-C, an
        error deep in a library), the collection is closed at once, so that no
        checkpoint writes the half-changed state: reopening the store replays
        the write-ahead log, which has every write that was logged."""
        try:
            yield
        except BaseException:
            self._interrupted = True
            self._closed = True
            raise

    def _apply(self, record: dict[str, Any]) -> None:
        """Apply one write to memory (write lock held). WAL replay calls this too."""
        op = record["op"]
        if op in ("insert", "upsert"):
            batch: RowBatch = record["batch"]
            if op == "upsert":
                self._delete_pks(batch.pks)
            elif self._schema.primary.auto_id and batch.num_rows:
                self._next_auto_id = max(self._next_auto_id, max(batch.pks) + 1)
            self._apply_insert(batch, record["partition"])
        elif op == "delete":
            self._delete_pks(record["ids"])
        elif op == "create_partition":
            self._partitions.setdefault(record["name"], [])
        elif op == "drop_partition":
            for seg in self._partitions.pop(record["name"], []):
                live = seg.live_mask()
                for pk in seg.pks[live].tolist():
                    del self._locations[pk]
                self._count_terms(seg, np.flatnonzero(live), -1)
                seg.close()
        elif op in ("create_index", "drop_index"):
            if op == "create_index":
                spec = Index.from_dict(record["index"])
            else:
                spec = Index(record["field"], "FLAT", self._indexes[record["field"]].metric)
            self._indexes[spec.field] = spec
            for seg in self._segments(None):
                seg.set_index(spec.field, spec)
        else:
            raise StorageError(f"collection {self._name!r}: unknown logged operation {op!r}")

    def _apply_insert(self, batch: RowBatch, partition: str, moved: bool = False) -> None:
        """Append a validated batch whose keys are all absent (write lock held).

        ``moved``: compaction re-inserting live rows (the statistics hold them).
        """
        segments = self._partitions[partition]
        done = 0
        while done < batch.num_rows:
            if not segments or segments[-1].sealed or segments[-1].num_rows >= self._segment_rows:
                if segments and not segments[-1].sealed:
                    segments[-1].sealed = True  # full: persisted by the next checkpoint
                    self._needs_checkpoint = True
                segments.append(self._new_segment(partition))
            seg = segments[-1]
            take = min(batch.num_rows - done, self._segment_rows - seg.num_rows)
            part = (
                batch if (done == 0 and take == batch.num_rows) else batch.slice(done, done + take)
            )
            start = seg.append(part)
            if not moved:
                self._count_terms(seg, np.arange(start, start + take), +1)
            for offset, key in enumerate(part.pks, start):
                self._locations[key] = (seg, offset)
            done += take

    def _delete_pks(self, keys: Iterable[PrimaryKey]) -> None:
        by_segment: dict[int, tuple[Segment, list[int]]] = {}
        for key in keys:
            loc = self._locations.pop(key, None)
            if loc is not None:
                by_segment.setdefault(id(loc[0]), (loc[0], []))[1].append(loc[1])
        for seg, offsets in by_segment.values():
            rows = np.asarray(offsets, dtype=np.int64)
            self._count_terms(seg, rows, -1)
            seg.delete(rows)

    def _count_terms(self, seg: Segment, offsets: np.ndarray, sign: int) -> None:
        """Add (+1) or remove (-1) rows from the BM25 statistics."""
        if len(offsets) == 0:
            return
        for name, stats in self._term_stats.items():
            terms, lengths = seg.sparse[name].terms_of(offsets)
            (stats.add if sign > 0 else stats.remove)(terms, lengths)

    def _new_segment(self, partition: str) -> Segment:
        # Read-only replicas keep replayed vectors in memory: the spill files'
        # names belong to the writer.
        spill = (
            self._storage.spill_dir() if self._storage is not None and not self._read_only else None
        )
        seg = Segment(self._next_segment_id, partition, self._schema, self._indexes, spill)
        self._next_segment_id += 1
        return seg

    # ------------------------------------------------------------------ reads
    def get(
        self,
        ids: Sequence[PrimaryKey] | PrimaryKey,
        output_fields: Sequence[str] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows by primary key, in the order asked; missing keys are skipped.

        Args:
            ids: one key or a list of keys.
            output_fields: fields to return (default: every scalar field and
                dynamic key; ``["*"]`` adds vectors).
            partitions: only look in these partitions.

        Returns:
            One dict per found row.
        """
        id_list = [ids] if isinstance(ids, (int, str, np.integer)) else list(ids)
        keys = [check_pk(self._schema, v, f"ids[{i}]") for i, v in enumerate(id_list)]
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=True)
        with self._reading():
            allowed = None if partitions is None else {id(s) for s in self._segments(partitions)}
            out = []
            for key in keys:
                loc = self._locations.get(key)
                if loc is not None and (allowed is None or id(loc[0]) in allowed):
                    out.extend(loc[0].entities([loc[1]], fields, dynamic))
            return out

    def query(
        self,
        filter: str | Expr = "",
        output_fields: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, Any] | None = None,
        ids: Sequence[PrimaryKey] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows that pass a filter, in storage order.

        Args:
            filter: a filter expression (or ``vectorstore.expr`` tree); empty
                means every row.
            output_fields: as for ``get``.
            limit: at most this many rows (default: all).
            offset: skip this many matching rows first.
            partitions: only these partitions.
            filter_params: values for ``{name}`` placeholders.
            ids: restrict to these primary keys (like ``get`` with a filter).

        Raises:
            FilterSyntaxError, FilterTypeError: a bad filter.
            DataError: a negative limit or offset.
        """
        check_window(limit, offset, cap=None)
        compiled = self._compile(filter, filter_params) if filter else None
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=True)
        key_set = None
        if ids is not None:
            if isinstance(ids, (int, str, np.integer)):  # one key, as delete() takes it
                ids = [ids]
            key_set = {check_pk(self._schema, v, f"ids[{i}]") for i, v in enumerate(ids)}
        with self._reading():
            out: list[dict[str, Any]] = []
            skip = offset
            for seg in self._segments(partitions):
                rows = seg.select(compiled).rows
                if key_set is not None:
                    pks = seg.pks[rows].tolist()
                    rows = rows[np.fromiter((k in key_set for k in pks), bool, len(rows))]
                if skip:
                    taken = min(skip, len(rows))
                    rows, skip = rows[taken:], skip - taken
                if limit is not None:
                    rows = rows[: limit - len(out)]
                out.extend(seg.entities(rows, fields, dynamic))
                if limit is not None and len(out) >= limit:
                    break
            return out

    def count(
        self,
        filter: str | Expr = "",
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, Any] | None = None,
    ) -> int:
        """The number of live rows, optionally passing a filter."""
        compiled = self._compile(filter, filter_params) if filter else None
        with self._reading():
            segments = self._segments(partitions)
            if compiled is None:
                return sum(s.num_live for s in segments)
            return sum(len(s.select(compiled).rows) for s in segments)

    def search(
        self,
        data: Any,
        anns_field: str | None = None,
        limit: int = 10,
        filter: str | Expr = "",
        *,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, Any] | None = None,
        partitions: Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        group_by_field: str | None = None,
        group_size: int = 1,
    ) -> list[list[Hit]]:
        """Nearest rows to each query.

        Args:
            data: query vectors (a list of vectors, a 2-D array, or one vector);
                on a sparse field ``{index: weight}`` dicts (or scipy rows); on a
                BM25 field, or a field a TextEmbedding fills, query texts.
            anns_field: the vector field (optional when there is only one).
            limit: hits per query (1..16384 with offset); with ``group_by_field``,
                groups per query.
            filter: a filter expression (or ``vectorstore.expr`` tree) hits must pass.
            offset: skip this many best hits (or groups) first (paging).
            output_fields: fields in each hit's entity (default none but the key).
            search_params: ``{"ef": 128}`` for HNSW, ``{"drop_ratio_search": 0.2}``
                for sparse fields (also nested as ``{"params": {...}}``);
                ``radius`` and ``range_filter`` for a range search (see
                ``search.search_params``); ``metric_type`` if given must match.
            partitions: only these partitions.
            filter_params: values for ``{name}`` placeholders.
            group_by_field: return the best hits grouped by this scalar field's
                value ("the best chunk per document"): ``limit`` groups of up to
                ``group_size`` hits, group after group.
            group_size: hits per group (default 1).

        Returns:
            One list of ``Hit`` per query, best first, with Milvus distances
            (BM25 fields: the BM25 score).

        Raises:
            DimensionMismatchError, DataError: bad queries or arguments.
            IndexConfigError: bad search parameters.
            FilterSyntaxError, FilterTypeError: a bad filter.
            EmbeddingError: the embedding provider failed on query text.
        """
        check_window(limit, offset, cap=MAX_TOPK)
        route = self._router.route(data, anns_field, search_params, limit + offset)
        group = self._router.group_field(group_by_field, group_size)
        compiled = self._compile(filter, filter_params) if filter else None
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=False)
        taken = self._lock.acquire_read()
        try:
            self._check_open()
            segments = [s for s in self._segments(partitions) if s.num_live]
            if group is None and route.params.radius is None:
                parts = self._router.run(route, limit + offset, compiled, segments)
                metric = route.metric
                return merge_hits(
                    parts, route.q, offset, limit, metric, self._pk_name, fields, dynamic
                )
            parts, rows = self._router.collect(
                route, compiled, segments, offset, limit, group, group_size
            )
            return rows_to_hits(parts, rows, self._pk_name, fields, dynamic)
        finally:
            if taken:
                self._lock.release_read()

    def hybrid_search(
        self,
        reqs: Sequence[AnnRequest],
        ranker: Ranker,
        limit: int = 10,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[list[Hit]]:
        """Several searches (dense, sparse, BM25), fused into one ranking.

        Each ``AnnRequest`` runs its own search (its own field, limit, filter
        and parameters) over one consistent view of the collection; the ranker
        fuses their lists per query (Milvus's RRF and weighted semantics, see
        ``vectorstore.ranking``).

        Args:
            reqs: the routes; every one has the same number of queries.
            ranker: ``RRFRanker(k)`` or ``WeightedRanker(*weights)`` (one weight
                per request).
            limit, offset: the window of fused hits per query.
            output_fields: fields in each hit's entity.
            partitions: only these partitions.

        Returns:
            One list of ``Hit`` per query, best first; ``distance`` is the fused score.

        Raises:
            DataError: no requests, a ranker that does not fit them, or requests
                with different numbers of queries; and every error of ``search``.

        Example:
            >>> col.hybrid_search(
            ...     [vs.AnnRequest(data=[vec], anns_field="dense", limit=20),
            ...      vs.AnnRequest(data=["what is rust"], anns_field="sparse", limit=20)],
            ...     ranker=vs.RRFRanker(60), limit=5, output_fields=["text"])
        """
        reqs = check_hybrid(reqs, ranker, limit, offset)
        routes = [self._router.route(r.data, r.anns_field, r.search_params, r.limit) for r in reqs]
        check_query_counts([route.q for route in routes])
        filters = [self._compile(r.filter, r.filter_params) if r.filter else None for r in reqs]
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=False)
        taken = self._lock.acquire_read()
        try:
            self._check_open()
            segments = [s for s in self._segments(partitions) if s.num_live]
            found = [
                self._router.collect(route, compiled, segments, 0, req.limit)[1]
                for route, req, compiled in zip(routes, reqs, filters, strict=True)
            ]
            rows = fuse(found, [r.metric for r in routes], ranker, offset, limit)
            parts: list[SegmentHits] = [(seg, rows[1], rows[2]) for seg in segments]
            return rows_to_hits(parts, rows, self._pk_name, fields, dynamic)
        finally:
            if taken:
                self._lock.release_read()

    # ---------------------------------------------------------- search helpers
    def _metric(self, field: str) -> Metric:
        spec = self._indexes.get(field)
        return spec.metric if spec is not None else Metric.COSINE

    def _compile(self, text: str | Expr | None, params: Mapping[str, Any] | None) -> Expr:
        """A filter (text, or a tree built by an adapter) bound and type-checked, cached."""
        from .expr import Expr as ExprNode
        from .expr import bind, compile_filter, evaluate, to_text

        if not isinstance(text, (str, ExprNode)):
            raise DataError(f"filter must be a string or an expression tree, got {text!r}")
        # repr, not ==, keys the cache: 1 == True, but `x == 1` and `x == true` differ.
        # (Trees compare their literals type-exactly, so they key it as they are.)
        key = (text, repr(sorted(params.items())) if params else "")
        compiled = self._filters.get(key)
        if compiled is not None:
            return compiled
        compiled = compile_filter(text, params) if isinstance(text, str) else bind(text, params)
        # Type-check against the schema now, not only when some segment has rows:
        # an unknown field or an ill-typed comparison fails even on an empty collection.
        try:
            evaluate(compiled, self._empty_batch)
        except FilterTypeError as exc:
            shown = text if isinstance(text, str) else to_text(text)
            raise FilterTypeError(
                f"{exc} in filter {shown!r}", expression=shown, position=exc.position
            ) from None
        with self._filters_lock:
            self._filters[key] = compiled
            while len(self._filters) > FILTER_CACHE_SIZE:
                self._filters.popitem(last=False)
        return compiled

    # ---------------------------------------------------------------- indexes
    def create_index(
        self,
        field: str | Index,
        index_type: str = "AUTOINDEX",
        metric: str | None = None,
        **params: Any,
    ) -> None:
        """(Re)build the index of a vector field over every segment.

        Args:
            field: the field name, or an ``Index``.
            index_type, metric, params: as for ``Index`` (AUTOINDEX: HNSW for
                dense fields, the inverted index for sparse ones; the metric
                defaults to COSINE, or IP / BM25 for sparse fields).

        Raises:
            IndexConfigError: not a vector field, or a type, metric or parameter
                that does not suit it.
        """
        spec = field if isinstance(field, Index) else Index(field, index_type, metric, **params)
        spec = spec.fit(self._schema)
        with self._writing():
            self._commit({"op": "create_index", "index": spec.to_dict()})

    def drop_index(self, field: str) -> None:
        """Drop a dense field's index; searches on it become exact (FLAT) until rebuilt.

        Raises:
            IndexConfigError: no index on that field, or a sparse field (whose
                inverted index is part of its storage).
        """
        with self._writing():
            if field not in self._indexes:
                raise IndexConfigError(f"field {field!r} has no index")
            if self._indexes[field].index_type == "SPARSE_INVERTED_INDEX":
                raise IndexConfigError(f"sparse field {field!r} always keeps its inverted index")
            self._commit({"op": "drop_index", "field": field})

    # ------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Name, schema, indexes and partitions as plain data."""
        with self._reading():
            return {
                "name": self._name,
                "schema": self._schema.to_dict(),
                "indexes": [i.to_dict() for i in self._indexes.values()],
                "partitions": list(self._partitions),
            }

    def stats(self) -> dict[str, Any]:
        """Row counts and segment layout."""
        with self._reading():
            segments = self._segments(None)
            return {
                "row_count": sum(s.num_live for s in segments),
                "deleted_rows": sum(s.num_deleted for s in segments),
                "segments": len(segments),
                "sealed_segments": sum(s.sealed for s in segments),
                "partitions": {
                    p: sum(s.num_live for s in segs) for p, segs in self._partitions.items()
                },
            }

    def flush(self) -> None:
        """Seal growing segments and make everything written so far durable.

        On a path store this is a checkpoint: growing segments are frozen under
        the write lock (a moment), then their files, the tombstones and the
        manifest are written while searches and writes go on; the write-ahead
        log is then trimmed.
        """
        self._check_open()
        with self._checkpoint_lock:
            with self._writing():
                frozen = self._freeze()
            if self._storage is not None:
                self._storage.persist(frozen)

    def _freeze(self) -> Frozen:
        """Seal every growing segment and start a new log generation (write lock held)."""
        for segments in self._partitions.values():
            if segments and not segments[-1].sealed:
                if segments[-1].num_rows:
                    segments[-1].sealed = True
                else:
                    segments.pop().close()
        self._needs_checkpoint = False
        return Frozen(
            partitions={name: list(segs) for name, segs in self._partitions.items()},
            indexes=list(self._indexes.values()),
            next_segment_id=self._next_segment_id,
            next_auto_id=self._next_auto_id,
            wal_generation=self._storage.rotate() if self._storage is not None else 0,
        )

    def _maybe_checkpoint(self) -> None:
        """After a write: compact segments that are mostly deleted; checkpoint if a
        segment filled up or the log grew large."""
        with self._lock.read:
            compact = any(_worth_compacting(s) for segs in self._partitions.values() for s in segs)
        if compact:
            self._compact(AUTO_COMPACT_RATIO, merge_small=False)
        elif self._storage is not None and (
            self._needs_checkpoint or self._storage.wal_bytes() > self._storage.max_wal_bytes
        ):
            self.flush()

    def compact(self) -> None:
        """Rewrite segments without their deleted rows and merge small ones, giving
        disk and memory back (index entries of deleted rows go too).

        Also runs by itself after writes, on segments whose deleted rows pass
        ``AUTO_COMPACT_RATIO`` of their rows. Crash-safe: old files are removed
        only after the manifest naming the new ones is durable.
        """
        self._compact(0.0, merge_small=True)

    def _compact(self, min_ratio: float, merge_small: bool) -> None:
        self._check_open()
        with self._checkpoint_lock:
            with self._writing(), self._interruptible():
                for name in list(self._partitions):
                    self._compact_partition(name, min_ratio, merge_small)
                frozen = self._freeze()
            if self._storage is not None:
                self._storage.persist(frozen)

    def _compact_partition(self, name: str, min_ratio: float, merge_small: bool) -> None:
        old = self._partitions[name]
        small = self._segment_rows // 4

        def rewrite(seg: Segment) -> bool:
            if seg.num_deleted and seg.num_deleted >= min_ratio * seg.num_rows:
                return True
            return merge_small and seg.sealed and seg.num_live < small and len(old) > 1

        redo = [s for s in old if rewrite(s)]
        if not redo or (len(redo) == 1 and not redo[0].num_deleted):
            return  # nothing to drop, nothing to merge with
        self._partitions[name] = [s for s in old if s not in redo]
        for seg in redo:
            live = np.flatnonzero(seg.live_mask())
            if len(live):
                rows = seg.rows_at(live)
                for key in rows.pks:
                    self._locations.pop(key, None)
                self._apply_insert(rows, name, moved=True)
            seg.close()


@dataclass(frozen=True)
class Frozen:
    """A collection's state as of a checkpoint's freeze: what persist writes."""

    partitions: dict[str, list[Segment]]
    indexes: list[Index]
    next_segment_id: int
    next_auto_id: int
    wal_generation: int


def _worth_compacting(seg: Segment) -> bool:
    return (
        seg.num_deleted >= AUTO_COMPACT_MIN_ROWS
        and seg.num_deleted >= AUTO_COMPACT_RATIO * seg.num_rows
    )


__all__ = ["DEFAULT_PARTITION", "Collection"]
