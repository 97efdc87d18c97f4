"""``MilvusCollection``: Kestrel's ``CollectionAPI`` over one Milvus collection.

Every method keeps the embedded engine's name, arguments, return shape and
errors. What is cheap to check stays on the client, with the engine's own
code: rows (``rows.prepare_rows``), search arguments and query embedding
(``routes.Router``), filter types (``expr``), output fields. ``TextEmbedding``
runs here; BM25 runs on Milvus (rows never carry its field). Differences that
remain are listed in the README's "Scaling out" section.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..checks import DEFAULT_PARTITION, PrimaryKey, check_hybrid, check_query_counts
from ..errors import (
    ClosedError,
    DataError,
    DuplicateKeyError,
    IndexConfigError,
    ReadOnlyError,
    VectorStoreError,
)
from ..expr import Expr, parse
from ..index_spec import Index
from ..ranking import Ranker
from ..routes import Router
from ..rows import RowBatch, check_keys, prepare_rows
from ..schema import Schema, validate_name
from ..search import MAX_TOPK, AnnRequest, Route, check_window
from ..types import LAYOUT_STATS, Hits
from . import _milvus_query as mq
from . import _milvus_reads as reads
from ._milvus_conn import MilvusConnection
from ._milvus_rows import FilterChecker, check_lite_json, chunks, plain, wire_rows
from ._milvus_version import NEWER_FIX, ROWS_FIX, Feature, check_index, row_gaps, search_gaps


class MilvusCollection:
    """A Milvus collection with Kestrel's ``CollectionAPI`` (``vectorstore.api``).

    Get one from ``vs.connect("http://...")`` (or ``"milvus-lite://..."``) and
    ``create_collection`` / ``get_collection``; do not construct it directly.
    Every method is its own: none runs the embedded engine.
    """

    def __init__(
        self,
        conn: MilvusConnection,
        name: str,
        schema: Schema,
        indexes: Iterable[Index],
        identity: int | None = None,
    ):
        self.identity = identity  # Milvus's collection id, when it gives one
        self._conn = conn
        self._pm = conn.pm
        self._lite = conn.lite
        self._server = conn.server
        self._name = name
        self._schema = schema
        self._pk_name = schema.primary.name
        self._indexes: dict[str, Index] = {i.field: i for i in indexes}
        self._router = Router(schema, lambda field: self._indexes.get(field), {})
        self._checker = FilterChecker(schema)
        self._partitions = reads.Partitions(name, self._rpc)
        self._read_only = conn.read_only
        self._closed = False
        self._index_lock = threading.Lock()  # one index change at a time

    # ------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The collection's name."""
        return self._name

    @property
    def schema(self) -> Schema:
        """The collection's schema."""
        return self._schema

    @property
    def closed(self) -> bool:
        """Whether the collection was closed (its client closed, or it was dropped)."""
        return self._closed or self._conn.closed

    @property
    def indexes(self) -> list[Index]:
        """The index of every vector field."""
        return list(self._indexes.values())

    def __repr__(self) -> str:
        return f"MilvusCollection({self._name!r}, {self._conn.uri!r})"

    def __len__(self) -> int:
        return self.count()

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError(f"collection {self._name!r} is closed or was dropped")

    def _check_write(self) -> None:
        if self._read_only:
            raise ReadOnlyError(f"collection {self._name!r} is open read-only")
        self._check_open()

    def _close(self) -> None:
        self._closed = True

    def _rpc(
        self,
        method: str,
        *args: Any,
        default: type[VectorStoreError] = DataError,
        filters: Sequence[mq.Filter] = (),
        **kwargs: Any,
    ) -> Any:
        """Call ``MilvusClient.<method>(collection, ...)`` with Kestrel's errors."""
        self._check_open()
        sent = tuple(f.sent for f in filters if f.text)
        return self._conn.call(
            method,
            self._name,
            *args,
            default=default,
            filters_sent=sent,
            filter_schema=self._schema,
            **kwargs,
        )

    def _read(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A read at the client's consistency level (Strong: read your writes)."""
        kwargs.setdefault("consistency_level", self._conn.consistency_level)
        return self._rpc(method, *args, **kwargs)

    def _adopt_indexes(self, indexes: Iterable[Index]) -> None:
        """Take the index list Milvus describes now (another client may have changed it)."""
        with self._index_lock:
            self._indexes = {i.field: i for i in indexes}

    # ------------------------------------------------------------- partitions
    def create_partition(self, name: str) -> None:
        """Create a partition (no-op if it exists).

        Raises:
            InvalidNameError: the name breaks the naming rule.
        """
        validate_name(name, "partition")
        self._check_write()
        if name not in self._partitions.names():
            try:
                self._rpc("create_partition", name)
            except VectorStoreError:
                if name not in self._partitions.names():  # not a race: a failure
                    raise
        self._partitions.known.add(name)

    def drop_partition(self, name: str) -> None:
        """Drop a partition and every row in it.

        Raises:
            PartitionNotFoundError: no such partition.
            DataError: ``_default`` cannot be dropped.
        """
        self._check_write()
        self._partitions.require([name])
        if name == DEFAULT_PARTITION:
            raise DataError("the _default partition cannot be dropped")
        if not self._lite:  # a Milvus server drops released partitions only (Lite has no release)
            self._rpc("release_partitions", [name])
        self._rpc("drop_partition", name)
        self._partitions.known.discard(name)

    def has_partition(self, name: str) -> bool:
        """Whether the partition exists."""
        return bool(name in self._partitions.names())

    def list_partitions(self) -> list[str]:
        """Partition names, ``_default`` first."""
        return self._partitions.names()

    # ----------------------------------------------------------------- writes
    def insert(
        self,
        rows: Iterable[Mapping[str, object]] | Mapping[str, object],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows; every primary key must be new.

        The keys are checked with a query first: on a Milvus server another
        client may insert the same key between that check and the write (the
        check is not atomic there). A batch larger than one request (about 16
        MiB) is written request by request.

        Returns:
            The primary keys, in row order (Milvus's generated ones for auto_id).

        Raises:
            DataError, DimensionMismatchError: a row does not fit the schema.
            DuplicateKeyError: a key repeats in the batch or already exists.
            PartitionNotFoundError: no such partition.
            EmbeddingError: the TextEmbedding provider failed.
        """
        batch = prepare_rows(self._schema, rows, progress)
        self._check_batch(batch)
        self._check_write()
        self._partitions.require([partition])
        auto = self._schema.primary.auto_id
        if not auto and batch.num_rows:
            existing = self._existing(batch.pks, None)
            for i, key in enumerate(batch.pks):
                if key in existing:
                    raise DuplicateKeyError(
                        f"row {i}: primary key {key!r} already exists; use upsert() to "
                        "replace a row"
                    )
        ids: list[PrimaryKey] = []
        for chunk in chunks(self._schema, wire_rows(self._schema, batch)):
            done = self._rpc("insert", chunk, partition_name=partition)
            ids.extend(done["ids"])
        return [plain(k) for k in ids] if auto else list(batch.pks)

    def upsert(
        self,
        rows: Iterable[Mapping[str, object]] | Mapping[str, object],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows, replacing any row that has the same primary key.

        A replaced row is removed from whatever partition held it (rows of
        these keys in other partitions are deleted first).

        Raises:
            The errors of ``insert``, but never for an existing key.
            DataError: on auto_id collections, upsert needs the keys.
        """
        if self._schema.primary.auto_id:
            raise DataError(
                f"collection {self._name!r} generates its primary keys (auto_id); "
                "upsert needs rows with keys: delete and insert instead"
            )
        batch = prepare_rows(self._schema, rows, progress)
        self._check_batch(batch)
        self._check_write()
        self._partitions.require([partition])
        if not batch.num_rows:
            return []
        others = [p for p in self._partitions.names() if p != partition]
        if others:
            elsewhere = self._existing(batch.pks, others)
            if elsewhere:
                self._delete_keys(sorted(elsewhere, key=str), None)
        for chunk in chunks(self._schema, wire_rows(self._schema, batch)):
            self._rpc("upsert", chunk, partition_name=partition)
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

        Returns:
            The number of rows deleted (keys that do not exist are not counted;
            on a Milvus server a filter delete reports Milvus's count).

        Raises:
            DataError: neither or both of ``ids`` and ``filter`` given.
            FilterSyntaxError, FilterTypeError: a bad filter (an empty one too:
                it never means every row).
            PartitionNotFoundError: no such partition.
        """
        if (ids is None) == (filter is None):
            raise DataError("delete() takes either ids= or filter=")
        keys: list[PrimaryKey] = []
        flt = mq.NO_FILTER
        if ids is not None:
            keys = check_keys(self._schema, ids)
        else:
            if isinstance(filter, str) and not filter.strip():
                parse(filter)  # raises: an empty delete filter never means every row
            flt = self._filter(filter, filter_params)
        self._check_write()
        parts = self._partitions.require(partition)
        if ids is not None:
            found = self._existing(list(dict.fromkeys(keys)), parts)
            targets = [k for k in dict.fromkeys(keys) if k in found]
            self._delete_keys(targets, partition)
            return len(targets)
        if self._lite:  # Milvus Lite's delete count is the keys asked, not found: look first
            targets = [r[self._pk_name] for r in self._fetch(flt, self._pk_only(), None, 0, parts)]
            self._delete_keys(targets, partition)
            return len(targets)
        done = self._rpc("delete", partition_name=partition, filters=[flt], **flt.kwargs())
        return int(done.get("delete_count", 0)) if isinstance(done, Mapping) else len(done)

    def _check_batch(self, batch: RowBatch) -> None:
        """Refuse, before sending, rows this Milvus cannot store."""
        if self._lite:
            check_lite_json(self._schema, batch)
        subject = f"write to collection {self._name!r}"
        self._server.require(subject, row_gaps(self._schema, batch), ROWS_FIX)

    def _delete_keys(self, keys: Sequence[PrimaryKey], partition: str | None) -> None:
        for start in range(0, len(keys), reads.KEY_BATCH):
            chunk = list(keys[start : start + reads.KEY_BATCH])
            self._rpc("delete", ids=chunk, partition_name=partition)

    def _filter(self, given: str | Expr | None, params: Mapping[str, object] | None) -> mq.Filter:
        """A filter for Milvus (see ``render_filter``), type-checked by Kestrel first."""
        flt = mq.render_filter(given, params, self._server, self._pk_name)
        if flt.text and given is not None:
            self._checker.check(given, params)
        return flt

    def _existing(
        self, keys: Sequence[PrimaryKey], partitions: list[str] | None
    ) -> set[PrimaryKey]:
        """Which of ``keys`` exist (in ``partitions``, None: anywhere)."""
        return reads.existing(self._read, self._schema, keys, partitions, server=self._server)

    # ------------------------------------------------------------------ reads
    def get(
        self,
        ids: Sequence[PrimaryKey] | PrimaryKey,
        output_fields: Sequence[str] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows by primary key, in the order asked; missing keys are skipped."""
        keys = check_keys(self._schema, ids)
        out = mq.output(self._schema, output_fields, default_all=True)
        self._check_open()
        parts = self._partitions.require(partitions)
        distinct = list(dict.fromkeys(keys))
        by_key: dict[PrimaryKey, dict[str, Any]] = {}
        for start in range(0, len(distinct), reads.KEY_BATCH):
            chunk = distinct[start : start + reads.KEY_BATCH]
            flt = mq.keys_filter(self._pk_name, chunk, self._server)
            rows = self._read(
                "query",
                output_fields=list(out.request),
                partition_names=parts,
                limit=len(chunk),
                **flt.kwargs(),
            )
            for raw in rows:
                row = out.row(raw)
                by_key[row[self._pk_name]] = row
        return [dict(by_key[k]) for k in keys if k in by_key]

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
        """Rows that pass a filter, in Milvus's order (primary key order when paged).

        Raises:
            FilterSyntaxError, FilterTypeError: a bad filter.
            DataError: a negative limit or offset.
        """
        check_window(limit, offset, cap=None)
        flt = self._filter(filter, filter_params)
        out = mq.output(self._schema, output_fields, default_all=True)
        if ids is not None:
            keys = check_keys(self._schema, ids)
            if not keys:
                return []
            flt = mq.both(mq.keys_filter(self._pk_name, keys, self._server), flt)
        self._check_open()
        parts = self._partitions.require(partitions)
        return self._fetch(flt, out, limit, offset, parts)

    def count(
        self,
        filter: str | Expr = "",
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, object] | None = None,
    ) -> int:
        """The number of live rows, optionally passing a filter."""
        flt = self._filter(filter, filter_params)
        self._check_open()
        parts = self._partitions.require(partitions)
        if self._lite and parts:  # Milvus Lite's count(*) ignores partitions
            return len(self._fetch(flt, self._pk_only(), None, 0, parts))
        rows = self._read(
            "query",
            output_fields=["count(*)"],
            partition_names=parts,
            filters=[flt],
            **flt.kwargs(),
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def _pk_only(self) -> mq.Output:
        return mq.output(self._schema, [self._pk_name], default_all=False)

    def _fetch(
        self,
        flt: mq.Filter,
        out: mq.Output,
        limit: int | None,
        offset: int,
        parts: list[str] | None,
    ) -> list[dict[str, Any]]:
        """Rows passing ``flt`` in a window (``reads.fetch``)."""
        window = reads.Window(limit, offset, parts)
        return reads.fetch(self._read, self._pk_name, flt, out, window, server=self._server)

    # ------------------------------------------------------------------ search
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
        """Nearest rows to each query (see ``Collection.search``); Milvus searches.

        Query text is embedded here for a TextEmbedding field and sent as text
        for a BM25 field (Milvus scores it). Distances follow Milvus, as the
        engine's do.

        Raises:
            The errors of ``Collection.search``; ``NotSupportedError`` for what
            this Milvus cannot do (e.g. ``drop_ratio_search`` on Milvus Lite).
        """
        check_window(limit, offset, cap=MAX_TOPK)
        route = self._router.route(data, anns_field, search_params, limit + offset)
        group = self._router.group_field(group_by_field, group_size)
        self._server.require("run this search", search_gaps(group, group_size), NEWER_FIX)
        flt = self._filter(filter, filter_params)
        out = mq.output(self._schema, output_fields, default_all=False)
        parts = self._partitions.require(partitions)
        kwargs: dict[str, Any] = {"offset": offset} if offset else {}
        if group is not None:
            kwargs.update(group_by_field=group, group_size=group_size)
        result = self._read(
            "search",
            data=mq.query_data(self._schema, route, data),
            anns_field=route.field,
            limit=limit,
            output_fields=list(out.request),
            search_params=self._search_params(route),
            partition_names=parts,
            filters=[flt],
            **flt.kwargs(),
            **kwargs,
        )
        return mq.to_hits(result, out, route.metric)

    def hybrid_search(
        self,
        reqs: Sequence[AnnRequest],
        ranker: Ranker,
        limit: int = 10,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[Hits]:
        """Several searches fused into one ranking by Milvus's ``hybrid_search``
        (RRF and weighted fusion have the same semantics on both backends)."""
        reqs = check_hybrid(reqs, ranker, limit, offset)
        gap = (Feature.HYBRID_SEARCH, f"collection {self._name!r} is searched by hybrid_search")
        self._server.require("run this search", [gap], NEWER_FIX)
        routes = [self._router.route(r.data, r.anns_field, r.search_params, r.limit) for r in reqs]
        check_query_counts([route.q for route in routes])
        filters = [self._filter(r.filter, r.filter_params) for r in reqs]
        out = mq.output(self._schema, output_fields, default_all=False)
        parts = self._partitions.require(partitions)
        requests = [
            self._pm.AnnSearchRequest(
                data=mq.query_data(self._schema, route, req.data),
                anns_field=route.field,
                param=self._search_params(route),
                limit=req.limit,
                expr=flt.text or None,
                expr_params=flt.params,
            )
            for route, req, flt in zip(routes, reqs, filters, strict=True)
        ]
        kwargs: dict[str, Any] = {"offset": offset} if offset else {}
        result = self._read(
            "hybrid_search",
            requests,
            mq.milvus_ranker(self._pm, ranker),
            limit=limit,
            output_fields=list(out.request),
            partition_names=parts,
            filters=filters,
            **kwargs,
        )
        return mq.to_hits(result, out, None)

    def _search_params(self, route: Route) -> dict[str, Any]:
        index = self._indexes[route.field]
        return mq.search_params(route.params, route.metric, index.index_type, self._lite)

    # ---------------------------------------------------------------- indexes
    def create_index(
        self,
        field: str | Index,
        index_type: str = "AUTOINDEX",
        metric: str | None = None,
        **params: Any,
    ) -> None:
        """(Re)build the index of a field (vector, or scalar for filters).

        Milvus rebuilds an index on a released collection: the collection is
        released, its index dropped and created again, then loaded; searches
        of other clients fail meanwhile. If the new index fails, the old one
        is put back.

        Raises:
            IndexConfigError: not a vector field, or a type, metric or parameter
                that does not suit it (or that Milvus refuses).
        """
        spec = field if isinstance(field, Index) else Index(field, index_type, metric, **params)
        spec = spec.fit(self._schema)
        check_index(self._server, self._schema, spec)
        self._check_write()
        with self._index_lock:
            self._conn.replace_index(self._name, self._schema, self._indexes, spec)

    def drop_index(self, field: str) -> None:
        """Drop a field's index. Milvus cannot search a field without an index,
        so, as on the embedded engine, searches on a dense field become exact:
        its index is replaced by FLAT with the same metric. A scalar field's
        index is dropped (filters on it scan).

        Raises:
            IndexConfigError: no index on that field, or a sparse field.
        """
        self._check_write()
        if field not in self._indexes:
            raise IndexConfigError(f"field {field!r} has no index")
        after = self._indexes[field].after_drop()
        with self._index_lock:
            if after is None:
                self._conn.drop_scalar_index(self._name, self._schema, self._indexes, field)
            else:
                self._conn.replace_index(self._name, self._schema, self._indexes, after)

    # ------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Name, schema, indexes and partitions as plain data."""
        return {
            "name": self._name,
            "schema": self._schema.to_dict(),
            "indexes": [i.to_dict() for i in self._indexes.values()],
            "partitions": self.list_partitions(),
        }

    def stats(self) -> dict[str, Any]:
        """Row counts. Milvus does not expose Kestrel's segment layout here:
        the ``LAYOUT_STATS`` figures are None."""
        partitions = self.list_partitions()
        return {
            "row_count": self.count(),
            **dict.fromkeys(LAYOUT_STATS),
            "partitions": {p: self.count(partitions=[p]) for p in partitions},
        }

    def flush(self) -> None:
        """Ask Milvus to seal and persist growing segments (Milvus's ``flush``)."""
        self._rpc("flush")

    def compact(self) -> None:
        """Ask Milvus to compact (asynchronous on a server: it returns at once)."""
        self._rpc("compact")


__all__ = ["MilvusCollection"]
