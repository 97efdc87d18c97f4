"""The public ``Collection``: validation and locking over a ``CollectionState``.

Reads share a readers-writer lock; writes hold it alone (and, on a path store,
the store's write lock). Every write validates its whole batch first, then logs
one typed record (``storage.records``) and applies it to the state, so a failed
call leaves the collection as it was. Other processes' writes are caught up
with first (``follow``); checkpoints and compaction are in ``maintenance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import follow, maintenance
from .checks import check_hybrid, check_query_counts
from .errors import (
    DataError,
    IndexConfigError,
)
from .expr import Expr
from .expr.check import FilterChecker
from .fastpath import FastSearch
from .guard import Guard
from .index_spec import Index
from .ranking import Ranker
from .routes import Router
from .rows import PrimaryKey, check_keys, prepare_rows
from .schema import Schema, output_entity_fields, validate_name
from .search import MAX_TOPK, AnnRequest, check_window
from .state import DEFAULT_PARTITION, DEFAULT_SEGMENT_ROWS, CollectionState
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
from .types import Hits

if TYPE_CHECKING:
    from .storage.collection_files import CollectionStorage


class Collection(Guard):
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
        self._schema = schema
        self._pk_name = schema.primary.name
        self._filters = FilterChecker(schema.field_types(), schema.enable_dynamic_field)
        # read-only: growing vectors stay in memory (the store may not be writable)
        spill = storage.spill_dir() if storage is not None and not read_only else None
        state = CollectionState(name, schema, indexes, segment_rows=segment_rows, spill_dir=spill)
        super().__init__(name, state, storage, read_only)
        self._router = Router(schema, self._state.indexes.get, self._state.term_stats)
        self._wrote = False  # this handle logged a write (close() then checkpoints)
        self._fast = FastSearch(
            self._state, self._router, self._lock, self._follow, self._check_open, self._compile
        )
        self._lock.on_write = self._fast.forget_route
        self._checkpoints = maintenance.Checkpoints(
            self._state, storage, self._writing, self._lock.read, self._interruptible
        )

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
        return list(self._state.indexes.values())

    def __repr__(self) -> str:
        return f"Collection({self._name!r})"

    def __len__(self) -> int:
        return self.count()

    # ------------------------------------------------------------------ state
    def _recover(self) -> int:
        """Read segments from disk and replay the log over them (once, before
        first use); returns how many logged writes were replayed."""
        return follow.load(self._state, self._storage) if self._storage is not None else 0

    @property
    def _needs_checkpoint(self) -> bool:
        return self._state.needs_checkpoint

    def _close(self) -> None:
        with self._lock.write:
            self._closed = True
            try:
                if self._storage is not None:
                    self._storage.close()  # may raise: a final fsync failed
            finally:
                self._state.close()

    def _rename(self, new: str, commit: Callable[[], None]) -> None:  # after a durable commit
        with self._writing():
            commit()
            self._name = self._state.name = new
            if self._storage is not None:
                self._storage.renamed(new)

    # ------------------------------------------------------------- partitions
    def create_partition(self, name: str) -> None:
        """Create a partition (no-op if it exists).

        Raises:
            InvalidNameError: the name breaks the naming rule.
        """
        validate_name(name, "partition")
        with self._writing():
            if name not in self._state.partitions:
                self._commit(CreatePartition(name))

    def drop_partition(self, name: str) -> None:
        """Drop a partition and every row in it.

        Raises:
            PartitionNotFoundError: no such partition.
            DataError: ``_default`` cannot be dropped.
        """
        with self._writing():
            self._state.partition(name)  # raises if missing
            if name == DEFAULT_PARTITION:
                raise DataError("the _default partition cannot be dropped")
            self._commit(DropPartition(name))

    def has_partition(self, name: str) -> bool:
        with self._reading():
            return name in self._state.partitions

    def list_partitions(self) -> list[str]:
        """Partition names, ``_default`` first."""
        with self._reading():
            return list(self._state.partitions)

    # ----------------------------------------------------------------- writes
    def insert(
        self,
        rows: Iterable[Mapping[str, object]] | Mapping[str, object],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows; every primary key must be new.

        Args:
            rows: a list of dicts (or one dict) following the schema; or the
                batch as columns: a dict of columns (lists or numpy arrays, one
                per field), a pandas DataFrame or a pyarrow Table, checked the
                same way (numeric columns and vectors with numpy).
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
            self._state.partition(partition)
            if self._schema.primary.auto_id:
                batch.set_pks(self._state.take_auto_ids(batch.num_rows), self._pk_name)
            else:
                self._state.check_new_keys(batch.pks)
            if batch.num_rows:
                self._commit(Insert(partition, batch))
        self._after_write()
        return list(batch.pks)

    def upsert(
        self,
        rows: Iterable[Mapping[str, object]] | Mapping[str, object],
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
            self._state.partition(partition)
            if batch.num_rows:
                self._commit(Upsert(partition, batch))
        self._after_write()
        return list(batch.pks)

    def delete(
        self,
        ids: Sequence[PrimaryKey] | PrimaryKey | None = None,
        filter: str | Expr | None = None,
        *,
        filter_params: Mapping[str, object] | None = None,
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
            keys = check_keys(self._schema, ids)
        compiled = self._compile(filter, filter_params) if filter is not None else None
        with self._writing():
            keys = self._state.live_keys(keys, compiled, partition)
            if keys:
                self._commit(Delete(keys))
        self._after_write()
        return len(keys)

    # ------------------------------------------------------ applying writes
    def _commit(self, record: Record) -> None:
        """Log a validated write (durable per the store's mode), then apply it."""
        if self._storage is not None:
            self._storage.log(record)
            self._wrote = True
        with self._interruptible():
            self._state.apply(record)

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
        keys = check_keys(self._schema, ids)
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=True)
        with self._reading():
            return self._state.get(keys, partitions, (fields, dynamic))

    def query(
        self,
        filter: str | Expr = "",
        output_fields: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, object] | None = None,
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
            key_set = set(check_keys(self._schema, ids))
        with self._reading():
            segments = self._state.segments(partitions)
            return self._state.scan(segments, compiled, key_set, (offset, limit), (fields, dynamic))

    def count(
        self,
        filter: str | Expr = "",
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, object] | None = None,
    ) -> int:
        """The number of live rows, optionally passing a filter."""
        compiled = self._compile(filter, filter_params) if filter else None
        with self._reading():
            return self._state.count(partitions, compiled)

    def search(
        self,
        data: Any,
        anns_field: str | None = None,
        limit: int = 10,
        filter: str | Expr = "",
        *,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        search_params: Mapping[str, object] | None = None,
        partitions: Sequence[str] | None = None,
        filter_params: Mapping[str, object] | None = None,
        group_by_field: str | None = None,
        group_size: int = 1,
    ) -> list[Hits]:
        """Nearest rows to each query; ``CollectionAPI.search`` documents every
        argument, the result and the errors. Every segment is searched under one
        read lock: HNSW, exact or filtered per segment (``planner``), range and
        group-by searches exact. Dense vector searches without group-by or range
        take ``fastpath`` (the same hits, ``Hit`` objects made when looked at).
        """
        found = self._fast.search(
            data, anns_field, limit, filter, offset, output_fields, search_params, partitions,
            filter_params, group_by_field, group_size,
        )  # fmt: skip
        if found is not None:
            return found
        check_window(limit, offset, cap=MAX_TOPK)  # (the fast path checks it per shape)
        self._follow()
        route = self._router.route(data, anns_field, search_params, limit + offset)
        group = self._router.group_field(group_by_field, group_size)
        compiled = self._compile(filter, filter_params) if filter else None
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=False)
        taken = self._lock.acquire_read()  # not a `with`: this path is timed per call
        try:
            self._check_open()
            segments = [s for s in self._state.segments(partitions) if s.num_live]
            return self._router.search(
                route, compiled, segments, (offset, limit), (group, group_size), (fields, dynamic)
            )
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
    ) -> list[Hits]:
        """Several searches (dense, sparse, BM25) fused into one ranking;
        ``CollectionAPI.hybrid_search`` documents every argument. Each
        ``AnnRequest`` runs its own search (field, limit, filter, parameters)
        over one consistent view of the collection; the ranker fuses their
        lists per query (Milvus's RRF and weighted semantics, ``ranking``).

        Example:
            >>> col.hybrid_search(
            ...     [vs.AnnRequest(data=[vec], anns_field="dense", limit=20),
            ...      vs.AnnRequest(data=["what is rust"], anns_field="sparse", limit=20)],
            ...     ranker=vs.RRFRanker(60), limit=5, output_fields=["text"])
        """
        reqs = check_hybrid(reqs, ranker, limit, offset)
        self._follow()
        routes = [self._router.route(r.data, r.anns_field, r.search_params, r.limit) for r in reqs]
        check_query_counts([route.q for route in routes])
        filters = [self._compile(r.filter, r.filter_params) if r.filter else None for r in reqs]
        fields, dynamic = output_entity_fields(self._schema, output_fields, default_all=False)
        taken = self._lock.acquire_read()
        try:
            self._check_open()
            segments = [s for s in self._state.segments(partitions) if s.num_live]
            planned = [(rt, f, r.limit) for rt, f, r in zip(routes, filters, reqs, strict=True)]
            return self._router.hybrid(
                planned, segments, ranker, (offset, limit), (fields, dynamic)
            )
        finally:
            if taken:
                self._lock.release_read()

    # ---------------------------------------------------------- search helpers
    def _compile(self, text: str | Expr, params: Mapping[str, object] | None) -> Expr:
        """A filter (text, or a tree built by an adapter) bound and type-checked, cached."""
        return self._filters.compile(text, params)

    # ---------------------------------------------------------------- indexes
    def create_index(
        self,
        field: str | Index,
        index_type: str = "AUTOINDEX",
        metric: str | None = None,
        **params: Any,
    ) -> None:
        """(Re)build the index of a field over every segment (a scalar index is
        built on sealed segments; growing ones are scanned).

        Args:
            field: the field name, or an ``Index``.
            index_type, metric, params: as for ``Index`` (AUTOINDEX: HNSW for
                dense fields, the inverted index for sparse ones; the metric
                defaults to COSINE, or IP / BM25 for sparse fields).

        Raises:
            IndexConfigError: no such field, or a type, metric or parameter
                that does not suit it.
        """
        spec = field if isinstance(field, Index) else Index(field, index_type, metric, **params)
        spec = spec.fit(self._schema)
        with self._writing():
            self._commit(CreateIndex(spec))

    def drop_index(self, field: str) -> None:
        """Drop a field's index: searches on a dense field become exact (FLAT)
        until rebuilt; filters on a scalar field scan it.

        Raises:
            IndexConfigError: no index on that field, or a sparse field (whose
                inverted index is part of its storage).
        """
        with self._writing():
            indexes = self._state.indexes
            if field not in indexes:
                raise IndexConfigError(f"field {field!r} has no index")
            indexes[field].after_drop()  # raises for a sparse field
            self._commit(DropIndex(field))

    # ------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Name, schema, indexes and partitions as plain data."""
        with self._reading():
            return {
                "name": self._name,
                "schema": self._schema.to_dict(),
                "indexes": [i.to_dict() for i in self._state.indexes.values()],
                "partitions": list(self._state.partitions),
            }

    def stats(self) -> dict[str, Any]:
        """Row counts and segment layout."""
        with self._reading():
            return self._state.stats()

    def flush(self) -> None:
        """Seal growing segments and make everything written so far durable.

        On a path store this is a checkpoint (``maintenance``): the state is
        frozen under the write lock (a moment), then the files and the manifest
        are written while searches go on, and the log is trimmed. First, the
        segments that checkpoints inside writes sealed without a graph are
        repacked into full ones and every HNSW graph is built
        (``maintenance.merge_unbuilt``), so the collection is fast to search.

        Raises:
            StorageError: the checkpoint failed (every write is still in the log).
        """
        self._check_open()
        self._checkpoints.flush()

    def compact(self) -> None:
        """Rewrite segments without their deleted rows and merge small ones, giving
        disk and memory back. Also runs by itself after writes on segments past
        ``maintenance.AUTO_COMPACT_RATIO`` deleted. Crash-safe: old files go only
        after the manifest naming the new ones is durable.
        """
        self._check_open()
        self._checkpoints.compact(0.0, merge_small=True)

    def _after_write(self, checkpoint: bool = False) -> None:
        self._checkpoints.after_write(checkpoint)


__all__ = ["DEFAULT_PARTITION", "Collection"]
