"""``KestrelVectorStore``: a LlamaIndex vector store over a Kestrel collection."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.bridge.pydantic import Field as PydanticField
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)

import vectorstore as vs
from vectorstore.expr import And, Compare, Expr, Field, Literal

from .connection import MEMORY, closed_on_failure, missing_collection, open_client
from .filters import TRUE, metadata_filters_to_expr
from .queries import (
    RANKERS,
    SUPPORTED_MODES,
    TEXT_MODES,
    capped,
    check_alpha,
    check_query,
    dense,
    hybrid,
    id_list,
    ids_in,
    index_metric,
    make_ranker,
    mmr,
    node_to_row,
    query_condition,
    row_to_node,
    similarity,
    text,
)
from .schema import (
    DOC_ID,
    EMBEDDING,
    ID,
    METADATA,
    METADATA_LOWER,
    NODE,
    TEXT,
    build_schema,
    check_schema,
)

__all__ = ["DEFAULT_COLLECTION", "SUPPORTED_MODES", "KestrelVectorStore"]

DEFAULT_COLLECTION = "llamaindex"

_METRICS = ("COSINE", "IP", "L2")
DENSE_ONLY = (
    "For dense-only queries on this server: "
    "KestrelVectorStore(..., enable_bm25=False, analyzer=None)."
)


class KestrelVectorStore(BasePydanticVectorStore):
    """LlamaIndex vector store backed by a Kestrel collection (embedded, no server).

    Nodes keep their text, metadata, relationships and type (through
    LlamaIndex's ``node_to_metadata_dict`` / ``metadata_dict_to_node``); the
    embedding goes in a dense vector field, and a BM25 function indexes the
    text for the SPARSE, TEXT_SEARCH and HYBRID query modes. Metadata filters
    become Kestrel filter trees (never strings), with LlamaIndex's meaning
    (see ``llama_index.vector_stores.kestrel.filters``).

    Similarities are higher-is-better and comparable across queries: the
    cosine similarity (COSINE), the inner product (IP), ``1 - sqrt(d) / sqrt(2)``
    for the squared Euclidean distance ``d`` (L2; langchain-core's Euclidean
    relevance, so a hit scores the same here and in ``langchain_kestrel``), the
    BM25 score (SPARSE, TEXT_SEARCH) and the fused score (HYBRID).

    Args:
        uri: ``":memory:"`` (a private in-memory store) or a directory path
            (a durable store, opened through ``vectorstore.shared_client`` so
            every store on that path in this process shares one client).
        collection_name: the collection to use or create.
        dim: the embedding dimension; when None it is taken from the existing
            collection or from the first nodes added.
        client: an open ``vectorstore.ClientAPI`` (any backend) to use instead of ``uri``.
        collection: an existing adapter ``vectorstore.CollectionAPI`` to use
            instead of ``uri`` / ``client`` / ``collection_name``.
        metric: ``"COSINE"`` (default for new collections), ``"IP"`` or ``"L2"``.
        index_type: the dense index of new collections (``"HNSW"``, ``"FLAT"``).
        index_params: index parameters (``{"M": 16, "ef_construction": 200}``).
        search_params: dense search parameters (``{"ef": 128}``).
        enable_bm25: give new collections a BM25-indexed sparse field.
        analyzer: the text analyzer of new collections (``"standard"``,
            ``"english"``, ``"whitespace"`` or a Milvus-style dict); None:
            none. On a Milvus server older than 2.5 (no BM25, no analyzers),
            pass ``enable_bm25=False, analyzer=None``: dense queries work.
        bm25_k1, bm25_b: BM25 parameters of new collections.
        hybrid_ranker: ``"weighted"`` (``alpha`` weighs dense against BM25) or
            ``"rrf"`` (reciprocal rank fusion; ``alpha`` is ignored).
        rrf_k: the RRF smoothing constant.
        default_alpha: the hybrid ``alpha`` when a query gives none
            (1 = dense only, 0 = BM25 only).
        mmr_prefetch_factor: MMR re-ranks ``similarity_top_k * factor`` candidates.
        connect_options: options for ``vectorstore.connect`` (``durability``...).

    Raises:
        ValueError: conflicting arguments, an option out of range, or an
            existing collection that does not have the adapter's layout or has
            another dimension or metric.
        vectorstore.LockedError: a write waited longer than ``lock_timeout``
            (``connect_options``, 30 s) while other processes wrote the store.
        vectorstore.CollectionNotFoundError: a read-only store without
            ``collection_name`` (the message lists its collections).

    Example:
        >>> from llama_index.core import StorageContext, VectorStoreIndex
        >>> store = KestrelVectorStore(uri="./kestrel_data", collection_name="docs")
        >>> index = VectorStoreIndex.from_documents(
        ...     documents, storage_context=StorageContext.from_defaults(vector_store=store))
        >>> index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5).retrieve("rust")
    """

    stores_text: bool = True
    flat_metadata: bool = False

    uri: str | None = MEMORY
    collection_name: str = DEFAULT_COLLECTION
    dim: int | None = None
    metric: str | None = None
    index_type: str = "HNSW"
    index_params: dict[str, Any] = PydanticField(default_factory=dict)
    search_params: dict[str, Any] = PydanticField(default_factory=dict)
    enable_bm25: bool = True
    analyzer: str | dict[str, Any] | None = "standard"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    hybrid_ranker: str = "weighted"
    rrf_k: float = 60.0
    default_alpha: float = 0.5
    mmr_prefetch_factor: float = 4.0

    _db: vs.ClientAPI | None = PrivateAttr(default=None)
    _collection: vs.CollectionAPI | None = PrivateAttr(default=None)
    _owns_client: bool = PrivateAttr(default=False)
    _lower: str | None = PrivateAttr(default=METADATA_LOWER)  # the lowercased copy's field
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        uri: str | os.PathLike[str] | None = MEMORY,
        collection_name: str = DEFAULT_COLLECTION,
        dim: int | None = None,
        *,
        client: vs.ClientAPI | None = None,
        collection: vs.CollectionAPI | None = None,
        metric: str | None = None,
        index_type: str = "HNSW",
        index_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        enable_bm25: bool = True,
        analyzer: str | Mapping[str, Any] | None = "standard",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        hybrid_ranker: str = "weighted",
        rrf_k: float = 60.0,
        default_alpha: float = 0.5,
        mmr_prefetch_factor: float = 4.0,
        connect_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if client is not None and collection is not None:
            raise ValueError("pass client= or collection=, not both")
        if metric is not None:
            metric = str(metric).upper()
            if metric not in _METRICS:
                raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
        if hybrid_ranker not in RANKERS:
            raise ValueError(f"hybrid_ranker must be one of {RANKERS}, got {hybrid_ranker!r}")
        check_alpha(default_alpha, "default_alpha")
        if not mmr_prefetch_factor >= 1:
            raise ValueError(f"mmr_prefetch_factor must be >= 1, got {mmr_prefetch_factor!r}")
        if collection is not None:
            uri = None
            collection_name = collection.name
        elif client is not None:
            uri = client.uri
        elif uri is None:
            raise ValueError("pass uri=, client= or collection=")
        fields: dict[str, Any] = {
            "uri": None if uri is None else os.fspath(uri),
            "collection_name": collection_name,
            "dim": dim,
            "metric": metric,
            "index_type": index_type,
            "index_params": dict(index_params or {}),
            "search_params": dict(search_params or {}),
            "enable_bm25": enable_bm25,
            "analyzer": analyzer if not isinstance(analyzer, Mapping) else dict(analyzer),
            "bm25_k1": bm25_k1,
            "bm25_b": bm25_b,
            "hybrid_ranker": hybrid_ranker,
            "rrf_k": rrf_k,
            "default_alpha": default_alpha,
            "mmr_prefetch_factor": mmr_prefetch_factor,
        }
        # pydantic validates the fields (mypy, without pydantic's plugin, cannot)
        super().__init__(**fields, **kwargs)
        if collection is not None:
            self._adopt(collection)
            return
        if client is None:
            assert self.uri is not None
            client = open_client(self.uri, dict(connect_options or {}))
            self._owns_client = True
        self._db = client
        with closed_on_failure(client, self._owns_client):
            if client.has_collection(collection_name):
                self._adopt(client.get_collection(collection_name))
            elif client.read_only:  # nothing could ever be read: a misspelt name, most likely
                raise missing_collection(client, collection_name)
            elif dim is not None:
                self._create(dim)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under.

        Returns:
            ``"KestrelVectorStore"``.
        """
        return "KestrelVectorStore"

    # ------------------------------------------------------------ properties
    @property
    def client(self) -> vs.CollectionAPI | None:
        """The Kestrel collection (a ``vectorstore.CollectionAPI``).

        Returns:
            The collection, or None until the first ``add`` creates it (when
            the dimension was not known at construction).
        """
        return self._current()

    @property
    def db(self) -> vs.ClientAPI | None:
        """The Kestrel client (a ``vectorstore.ClientAPI``) holding the collection.

        Returns:
            The client, or None when the store was built from ``collection=``.
        """
        return self._db

    def close(self) -> None:
        """Close the Kestrel client if this store opened it (``uri=``).

        A path store gives back its share of the path's ``vs.shared_client``;
        the last share closes it, so other stores on the path keep working.
        Writes are durable without ``close`` (each is logged before it returns).
        """
        if self._owns_client and self._db is not None:
            self._db.close()

    # ---------------------------------------------------------- collections
    def _adopt(self, collection: vs.CollectionAPI) -> None:
        dim, has_bm25, has_lower = check_schema(collection)
        metric = index_metric(collection)
        if self.dim is not None and self.dim != dim:
            raise ValueError(f"collection {collection.name!r} has dimension {dim}, not {self.dim}")
        if self.metric is not None and self.metric != metric:
            raise ValueError(
                f"collection {collection.name!r} uses metric {metric}, not {self.metric}"
            )
        self.dim, self.metric, self.enable_bm25 = dim, metric, has_bm25
        self._lower = METADATA_LOWER if has_lower else None
        self._collection = collection

    def _create(self, dim: int) -> vs.CollectionAPI:
        assert self._db is not None
        metric = self.metric or "COSINE"
        schema = build_schema(
            dim,
            enable_bm25=self.enable_bm25,
            analyzer=self.analyzer,
            bm25_k1=self.bm25_k1,
            bm25_b=self.bm25_b,
        )
        index = vs.Index(EMBEDDING, self.index_type, metric=metric, **self.index_params)
        try:
            collection = self._db.create_collection(
                self.collection_name, schema=schema, indexes=[index]
            )
        except vs.NotSupportedError as e:
            if not self.enable_bm25 and self.analyzer is None:
                raise
            raise vs.NotSupportedError(f"{e} {DENSE_ONLY}") from e
        self.metric = None  # _adopt checks the collection against what was asked
        self.dim = None
        self._adopt(collection)
        return collection

    def _current(self) -> vs.CollectionAPI | None:
        """The collection, adopting one that another store on the same client
        created after this store was built."""
        if self._collection is None and self._db is not None and not self._db.closed:
            with self._lock:
                if self._collection is None and self._db.has_collection(self.collection_name):
                    self._adopt(self._db.get_collection(self.collection_name))
        return self._collection

    def _ensure_collection(self, dim: int) -> vs.CollectionAPI:
        found = self._current()
        if found is not None:
            return found
        with self._lock:
            if self._collection is None:
                return self._create(dim)
            return self._collection

    # ---------------------------------------------------------------- writes
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Add nodes with embeddings, replacing nodes that have the same id.

        The batch is written in one call: it lands whole or not at all. A node
        id repeated in the batch keeps its last node.

        Args:
            nodes: nodes with their ``embedding`` set.
            add_kwargs: ignored.

        Returns:
            The node ids, in order.

        Raises:
            ValueError: a node has no embedding, an embedding of another
                dimension, a text over 65535 characters, or metadata that is
                not JSON (Kestrel's ``DataError`` / ``DimensionMismatchError``
                are ``ValueError``).
        """
        if not nodes:
            return []
        rows: dict[str, dict[str, Any]] = {}
        for node in nodes:
            rows[node.node_id] = node_to_row(self.flat_metadata, self._lower is not None, node)
        collection = self._current()
        if collection is None:
            collection = self._ensure_collection(len(next(iter(rows.values()))[EMBEDDING]))
        collection.upsert(list(rows.values()))
        return [node.node_id for node in nodes]

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """``add`` in a worker thread (the engine is synchronous and thread-safe).

        Args:
            nodes: nodes with their ``embedding`` set.
            kwargs: ignored.

        Returns:
            The node ids, in order.

        Raises:
            ValueError: as ``add``.
        """
        return await asyncio.to_thread(self.add, nodes, **kwargs)

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node whose source document (``ref_doc_id``) is ``ref_doc_id``.

        Args:
            ref_doc_id: the source document's id.
            delete_kwargs: ignored.
        """
        collection = self._current()
        if collection is not None:
            collection.delete(filter=Compare("==", Field(DOC_ID), Literal(ref_doc_id)))

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """``delete`` in a worker thread.

        Args:
            ref_doc_id: the source document's id.
            delete_kwargs: ignored.
        """
        await asyncio.to_thread(self.delete, ref_doc_id, **delete_kwargs)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete the nodes that have one of these ids and pass the filters.

        Args:
            node_ids: node ids (None: any id; an empty list deletes nothing).
            filters: metadata filters the deleted nodes pass (None: no condition).
            delete_kwargs: ignored.

        Raises:
            ValueError: neither ``node_ids`` nor a non-empty ``filters`` (use
                ``clear()`` to delete everything), or a bad filter.
        """
        condition = metadata_filters_to_expr(filters, METADATA, self._lower)
        if node_ids is None and condition is None:
            raise ValueError(
                "delete_nodes() needs node_ids or filters; use clear() to delete every node"
            )
        if node_ids is not None and not node_ids:
            return
        collection = self._current()
        if collection is None:
            return
        parts = [p for p in (ids_in(ID, node_ids), condition) if p is not None]
        collection.delete(filter=parts[0] if len(parts) == 1 else And(tuple(parts)))

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """``delete_nodes`` in a worker thread.

        Args:
            node_ids: node ids (None: any id; an empty list deletes nothing).
            filters: metadata filters the deleted nodes pass.
            delete_kwargs: ignored.

        Raises:
            ValueError: as ``delete_nodes``.
        """
        await asyncio.to_thread(self.delete_nodes, node_ids, filters, **delete_kwargs)

    def clear(self) -> None:
        """Delete every node (the collection, its schema and index stay)."""
        collection = self._current()
        if collection is not None:
            collection.delete(filter=TRUE)

    async def aclear(self) -> None:
        """``clear`` in a worker thread."""
        await asyncio.to_thread(self.clear)

    # ----------------------------------------------------------------- reads
    def get_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """Nodes by id and/or metadata filters, with their embeddings.

        Args:
            node_ids: node ids (None: any id; an empty list finds nothing).
                Found nodes come in this order; missing ids are skipped.
            filters: metadata filters the nodes pass (None: no condition).

        Returns:
            The nodes (every node when both arguments are None).

        Raises:
            ValueError: a bad filter.
        """
        condition = metadata_filters_to_expr(filters, METADATA, self._lower)
        collection = self._current()
        wanted = None if node_ids is None else id_list(node_ids)  # a str is one id
        if collection is None or (wanted is not None and not wanted):
            return []
        fields = [TEXT, NODE, EMBEDDING]
        rows = collection.query(
            filter=condition if condition is not None else "",
            output_fields=fields,
            ids=wanted,
        )
        if wanted is not None:
            rank = {node_id: i for i, node_id in reversed(list(enumerate(wanted)))}
            rows.sort(key=lambda row: rank[row[ID]])
        return [row_to_node(row, with_embedding=True) for row in rows]

    async def aget_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
    ) -> list[BaseNode]:
        """``get_nodes`` in a worker thread.

        Args:
            node_ids: node ids (None: any id).
            filters: metadata filters the nodes pass.

        Returns:
            The nodes.

        Raises:
            ValueError: a bad filter.
        """
        return await asyncio.to_thread(self.get_nodes, node_ids, filters)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Answer a LlamaIndex vector store query.

        Modes: DEFAULT (dense search on ``query_embedding``); MMR (dense
        candidates re-ranked by ``llama_index.core``'s MMR helper with
        ``mmr_threshold``); SPARSE and TEXT_SEARCH (BM25 on ``query_str``, top
        ``sparse_top_k`` or ``similarity_top_k``); HYBRID (dense top
        ``similarity_top_k`` and BM25 top ``sparse_top_k`` fused into
        ``hybrid_top_k``, by default ``similarity_top_k``). ``node_ids`` and
        ``doc_ids`` restrict the search (None or an empty list: no restriction),
        as do ``filters``.

        Args:
            query: the query.
            kwargs: per-query options (``vector_store_kwargs`` of a retriever):
                ``search_params`` (dense search), ``hybrid_ranker`` and
                ``rrf_k``, ``mmr_threshold``, ``mmr_prefetch_k`` or
                ``mmr_prefetch_factor``. Others are ignored.

        Returns:
            The nodes (with text, metadata and relationships; no embeddings),
            their ids and similarities (higher is better), best first.

        Raises:
            ValueError: an unsupported mode (the message lists the supported
                ones), a missing ``query_embedding`` or ``query_str``, a text
                mode on a collection without BM25, an ``alpha`` outside [0, 1]
                or a bad filter.
        """
        mode = check_query(query, self.enable_bm25)
        condition = query_condition(query, self._lower)
        collection = self._current()
        if collection is None or query.similarity_top_k <= 0:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        query = dataclasses.replace(  # the engine's cap; a store holds fewer rows than asked
            query,
            similarity_top_k=min(query.similarity_top_k, vs.MAX_TOPK),
            sparse_top_k=capped(query.sparse_top_k),
            hybrid_top_k=capped(query.hybrid_top_k),
        )
        if mode == VectorStoreQueryMode.MMR:
            return self._mmr(collection, query, condition, kwargs)
        filt: Expr | str = condition if condition is not None else ""
        search_params = kwargs.get("search_params", self.search_params)
        if mode == VectorStoreQueryMode.DEFAULT:
            score = functools.partial(similarity, self.metric or "COSINE")
            return dense(collection, query, filt, search_params, score)
        sparse_k = query.sparse_top_k or query.similarity_top_k
        if mode in TEXT_MODES:
            return text(collection, query, filt, sparse_k)
        return self._hybrid(collection, query, filt, sparse_k, kwargs)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """``query`` in a worker thread.

        Args:
            query: the query.
            kwargs: as for ``query``.

        Returns:
            As ``query``.

        Raises:
            ValueError: as ``query``.
        """
        return await asyncio.to_thread(self.query, query, **kwargs)

    # --------------------------------------------------------------- helpers
    def _mmr(
        self,
        collection: vs.CollectionAPI,
        query: VectorStoreQuery,
        condition: Expr | None,
        kwargs: Mapping[str, Any],
    ) -> VectorStoreQueryResult:
        factor = float(kwargs.get("mmr_prefetch_factor", self.mmr_prefetch_factor))
        search_params = kwargs.get("search_params", self.search_params)
        metric = self.metric or "COSINE"
        return mmr(collection, query, condition, metric, factor, search_params, kwargs)

    def _hybrid(
        self,
        collection: vs.CollectionAPI,
        query: VectorStoreQuery,
        filt: Expr | str,
        sparse_k: int,
        kwargs: Mapping[str, Any],
    ) -> VectorStoreQueryResult:
        name = kwargs.get("hybrid_ranker", self.hybrid_ranker)
        alpha = self.default_alpha if query.alpha is None else query.alpha
        ranker = make_ranker(name, kwargs.get("rrf_k", self.rrf_k), alpha)
        search_params = kwargs.get("search_params", self.search_params)
        return hybrid(collection, query, filt, sparse_k, ranker, search_params)
