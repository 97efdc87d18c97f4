"""The backend contract: ``ClientAPI`` and ``CollectionAPI``.

What ``vs.connect`` returns, whatever the URI: the embedded engine
(``vectorstore.client.Client`` and ``vectorstore.collection.Collection``) and
the Milvus backend (``vectorstore.backends.milvus.MilvusBackendClient`` and
``MilvusCollection``) both implement these Protocols, structurally: neither
backend subclasses the other, nor the Protocols (this module is the layer above
them). The adapters (``langchain_kestrel``, ``llama_index.vector_stores.kestrel``)
are typed against it, as qdrant-client's callers are against ``QdrantBase`` and
LanceDB's against ``Table``.

Both Protocols are ``runtime_checkable``: ``isinstance(db, vs.ClientAPI)``
checks that the members exist (not their signatures; ``tests/unit/
test_contract.py`` does that).

Example:
    >>> import vectorstore as vs
    >>> def count_all(db: vs.ClientAPI) -> int:
    ...     return sum(db.get_collection(n).count() for n in db.list_collections())
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from .checks import DEFAULT_PARTITION, PrimaryKey
from .expr import Expr
from .index_spec import Index
from .ranking import Ranker
from .schema import Schema
from .search import AnnRequest
from .types import Hits

if TYPE_CHECKING:
    from .embeddings.base import EmbeddingProvider


@runtime_checkable
class CollectionAPI(Protocol):
    """A collection: rows with one schema, in partitions, searchable.

    Every method is thread-safe. Semantics follow Milvus (see the README): hit
    ``distance`` is the metric's raw value, filters are Milvus expressions.
    """

    @property
    def name(self) -> str:
        """The collection's name."""
        ...

    @property
    def schema(self) -> Schema:
        """The collection's schema."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the collection was closed (its client closed, or it was dropped)."""
        ...

    @property
    def indexes(self) -> list[Index]:
        """The index of every vector field."""
        ...

    def __len__(self) -> int:
        """The number of live rows (``count()``)."""
        ...

    # ------------------------------------------------------------- partitions
    def create_partition(self, name: str) -> None:
        """Create a partition (no-op if it exists).

        Raises:
            InvalidNameError: the name breaks the naming rule.
        """
        ...

    def drop_partition(self, name: str) -> None:
        """Drop a partition and every row in it.

        Raises:
            PartitionNotFoundError: no such partition.
            DataError: ``_default`` cannot be dropped.
        """
        ...

    def has_partition(self, name: str) -> bool:
        """Whether the partition exists."""
        ...

    def list_partitions(self) -> list[str]:
        """Partition names, ``_default`` first."""
        ...

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
            DataError, DimensionMismatchError: a row does not fit the schema.
            DuplicateKeyError: a key repeats in the batch or already exists.
            PartitionNotFoundError: no such partition.
            EmbeddingError: the TextEmbedding provider failed.
        """
        ...

    def upsert(
        self,
        rows: Iterable[Mapping[str, object]] | Mapping[str, object],
        partition: str = DEFAULT_PARTITION,
        *,
        progress: bool | None = None,
    ) -> list[PrimaryKey]:
        """Insert rows, replacing any row that has the same primary key (in any partition).

        Returns:
            The primary keys, in row order.

        Raises:
            The errors of ``insert``, but never for an existing key.
            DataError: on auto_id collections, upsert needs the keys.
        """
        ...

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
            filter: a filter expression, or a ``vectorstore.expr`` tree.
            filter_params: values for ``{name}`` placeholders in the filter.
            partition: restrict the delete to one partition.

        Returns:
            The number of rows deleted.

        Raises:
            DataError: neither or both of ``ids`` and ``filter`` given.
            FilterSyntaxError, FilterTypeError: a bad filter.
            PartitionNotFoundError: no such partition.
        """
        ...

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
        ...

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
        """Rows that pass a filter.

        Args:
            filter: a filter expression (or ``vectorstore.expr`` tree); empty
                means every row.
            output_fields: as for ``get``.
            limit, offset: the window of matching rows (default: all).
            partitions: only these partitions.
            filter_params: values for ``{name}`` placeholders.
            ids: restrict to these primary keys.

        Returns:
            One dict per row.

        Raises:
            FilterSyntaxError, FilterTypeError: a bad filter.
            DataError: a negative limit or offset.
        """
        ...

    def count(
        self,
        filter: str | Expr = "",
        partitions: Sequence[str] | None = None,
        *,
        filter_params: Mapping[str, object] | None = None,
    ) -> int:
        """The number of live rows, optionally passing a filter.

        Raises:
            FilterSyntaxError, FilterTypeError: a bad filter.
        """
        ...

    # ----------------------------------------------------------------- search
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
            One ``Hits`` per query (a list of ``Hit``, with pymilvus's ``ids``
            and ``distances``), best first, with Milvus distances (BM25 fields:
            the BM25 score).

        Raises:
            DimensionMismatchError, DataError: bad queries or arguments.
            IndexConfigError: bad search parameters.
            FilterSyntaxError, FilterTypeError: a bad filter.
            EmbeddingError: the embedding provider failed on query text.
        """
        ...

    def hybrid_search(
        self,
        reqs: Sequence[AnnRequest],
        ranker: Ranker,
        limit: int = 10,
        offset: int = 0,
        output_fields: Sequence[str] | None = None,
        partitions: Sequence[str] | None = None,
    ) -> list[Hits]:
        """Several searches fused into one ranking (RRF or weighted, as Milvus).

        Args:
            reqs: the routes (``AnnRequest``); every one has the same number of queries.
            ranker: ``RRFRanker(k)`` or ``WeightedRanker(*weights)``.
            limit, offset: the window of fused hits per query.
            output_fields: fields in each hit's entity.
            partitions: only these partitions.

        Returns:
            One ``Hits`` per query, best first; ``distance`` is the fused score.

        Raises:
            DataError: no requests, a ranker that does not fit them, or requests
                with different numbers of queries; and every error of ``search``.
        """
        ...

    # ---------------------------------------------------------------- indexes
    def create_index(
        self,
        field: str | Index,
        index_type: str = "AUTOINDEX",
        metric: str | None = None,
        **params: Any,
    ) -> None:
        """(Re)build the index of a field: a vector index, or a scalar index
        (INVERTED, STL_SORT, Trie, BITMAP) that filters on the field use.

        Args:
            field: the field name, or an ``Index``.
            index_type, metric, params: as for ``Index``.

        Raises:
            IndexConfigError: no such field, or a type, metric or parameter
                that does not suit it.
        """
        ...

    def drop_index(self, field: str) -> None:
        """Drop a field's index: searches on a dense field become exact (FLAT);
        filters on a scalar field scan it.

        Raises:
            IndexConfigError: no index on that field, or a sparse field.
        """
        ...

    # ------------------------------------------------------------ description
    def describe(self) -> dict[str, Any]:
        """Name, schema, indexes and partitions as plain data."""
        ...

    def stats(self) -> dict[str, Any]:
        """Row counts (``row_count``, ``partitions``) and segment layout
        (``deleted_rows``, ``segments``, ``sealed_segments``, and
        ``unindexed_rows``: live rows not in an HNSW graph yet, which the next
        search that walks the graph or ``flush()`` adds; None where the backend
        does not expose them)."""
        ...

    def flush(self) -> None:
        """Make everything written so far durable (seal growing segments) and
        ready to search (the embedded engine builds every HNSW graph)."""
        ...

    def compact(self) -> None:
        """Give the space of deleted rows back (merge small segments)."""
        ...


@runtime_checkable
class ClientAPI(Protocol):
    """A handle on one store: its collections. Create with ``vs.connect()``.

    Every method is thread-safe; use it as a context manager or call ``close()``.
    """

    @property
    def uri(self) -> str:
        """The URI or path the client was opened with."""
        ...

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        ...

    @property
    def read_only(self) -> bool:
        """Whether the client was opened with ``read_only=True`` (writes are refused)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def create_collection(
        self,
        name: str,
        dimension: int | None = None,
        *,
        schema: Schema | None = None,
        indexes: Iterable[Index] | None = None,
        metric: str = "COSINE",
        primary_field: str = "id",
        id_type: str = "int",
        vector_field: str = "vector",
        auto_id: bool = False,
        partitions: Sequence[str] = (),
        embedding: EmbeddingProvider | None = None,
        text_field: str = "text",
    ) -> CollectionAPI:
        """Create a collection, or return the existing one if it is identical.

        Args:
            name: collection name (letters, digits, ``_``; at most 255).
            dimension: vector dimension for the quick setup (an ``id`` key, a
                ``vector`` field, dynamic fields).
            schema: a full schema (instead of ``dimension``).
            indexes: index definitions (every other vector field gets HNSW).
            metric: default metric: ``"COSINE"``, ``"IP"`` or ``"L2"``.
            primary_field, id_type, vector_field, auto_id: quick-setup names.
            partitions: partitions to create besides ``_default``.
            embedding: a provider for the quick setup's text field.
            text_field: the quick setup's text field name (with ``embedding``).

        Returns:
            The collection.

        Raises:
            InvalidNameError: a bad name.
            SchemaError, IndexConfigError: a bad schema or index.
            CollectionExistsError: the name exists with another schema or indexes.
        """
        ...

    def get_collection(
        self, name: str, *, embedding: EmbeddingProvider | None = None
    ) -> CollectionAPI:
        """The collection called ``name``.

        Args:
            name: the collection.
            embedding: the provider of its ``TextEmbedding`` function; without
                it a reopened collection rebuilds the provider from its stored
                config, which may not choose a host, a key variable or remote code.

        Raises:
            CollectionNotFoundError: no such collection.
            ConfigError: ``embedding`` is not the kind of provider stored.
        """
        ...

    def has_collection(self, name: str) -> bool:
        """Whether a collection called ``name`` exists."""
        ...

    def list_collections(self) -> list[str]:
        """Collection names, sorted."""
        ...

    def drop_collection(self, name: str) -> None:
        """Drop a collection and its data (no-op if it does not exist).

        Handles on it raise ``ClosedError`` afterwards.
        """
        ...

    def rename_collection(self, old: str, new: str) -> None:
        """Rename a collection; this client's handles on it take the new name.

        Raises:
            CollectionNotFoundError: no collection ``old``.
            CollectionExistsError: ``new`` exists already.
            InvalidNameError: ``new`` breaks the naming rule.
        """
        ...

    def refresh(self) -> None:
        """Read-only clients: catch up with what writers committed since opening."""
        ...

    def close(self) -> None:
        """Flush and release everything. Idempotent."""
        ...


__all__ = ["ClientAPI", "CollectionAPI"]
