"""``KestrelVectorStore``: a LangChain ``VectorStore`` over a Kestrel collection.

The adapter translates and never re-implements: LangChain calls become
``CollectionAPI.upsert / delete / get / search / hybrid_search`` (``_core``), filter
dicts become ``vectorstore.expr`` trees (``filters``), scores are the engine's,
relevance follows langchain-core's functions per metric (``scoring``), and MMR
is langchain-core's ``maximal_marginal_relevance``. The LangChain ``Embeddings`` embed texts here
(``aembed_*`` in async calls; engine calls then run in an executor), so the
collection stores plain vectors and reopens without the embedding object.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from typing_extensions import Self

import vectorstore as vs

from ._async import AsyncMethods
from ._core import DEFAULT_BATCH_SIZE, Batch, SearchOptions, StoreCore, no_extra, parse_metric
from .filters import FilterType
from .retrievers import RetrieverMethods
from .schema import FieldNames
from .scoring import HybridMode, Ranker

__all__ = ["KestrelVectorStore"]

MEMORY = ":memory:"


class KestrelVectorStore(AsyncMethods, RetrieverMethods, VectorStore):
    """A LangChain vector store on Kestrel: dense, BM25 and hybrid retrieval.

    Documents live in one collection (see ``langchain_kestrel.schema`` for the
    fields): ``Document.id`` is the VARCHAR primary key, ``page_content`` the
    ``text`` field (analysed for BM25), the embedding the ``vector`` field and
    ``metadata`` a JSON field that round-trips exactly (values that JSON cannot
    hold raise ``MetadataError``). Adding a document whose id exists replaces it.

    Args:
        embedding: the LangChain ``Embeddings`` (its ``aembed_*`` serve async calls).
        uri: ``":memory:"`` (the default: a new, private in-memory store) or a
            directory path for a durable store. Path stores are opened through
            ``vectorstore.shared_client``: every store on one path in a process
            shares one client (one writer per store).
        collection_name: the collection to use or create.
        client: an open ``vectorstore.ClientAPI`` (any backend) to use instead of ``uri``.
        collection: an open ``vectorstore.CollectionAPI`` (any backend) to use instead.
        connect_options: options for ``vectorstore.connect`` (``durability``...).
        metric: ``"COSINE"`` (default), ``"IP"`` or ``"L2"`` for a new
            collection; for an existing one it must match (None: take its own).
        index_params: the vector index of a new collection, e.g.
            ``{"index_type": "HNSW", "M": 32, "ef_construction": 200}`` or
            ``{"index_type": "FLAT"}``.
        search_params: default dense search parameters, e.g. ``{"ef": 256}``.
        partition: write to, read from and delete in this partition only
            (created when needed).
        hybrid: the default search: None (dense), ``"rrf"`` or ``"weighted"``
            (dense + BM25, fused by ``RRFRanker(60)`` / ``WeightedRanker(0.5, 0.5)``).
        ranker: the default fusion (an ``RRFRanker`` or ``WeightedRanker`` whose
            weights are ``(dense, bm25)``); implies hybrid search.
        analyzer: the text field's analyzer for a new collection
            (``"standard"``, ``"english"``, a Milvus-style dict); None: none.
            On a Milvus server older than 2.5 (no BM25, no analyzers), pass
            ``field_names=FieldNames(sparse=None), analyzer=None``: dense
            search works.
        dimension: the embedding dimension, to create the collection now;
            otherwise it is learned from the first texts added.
        relevance_score_fn: maps a dense score to a relevance (default:
            langchain-core's function of the metric, see ``langchain_kestrel.scoring``:
            the cosine similarity for COSINE).
        field_names: the collection's field names (``FieldNames``).
        drop_old: drop the collection first (default: an existing one is
            opened with its data).

    Raises:
        ValueError: contradictory arguments (``client`` with ``uri``...).
        vectorstore.ConfigError: an existing collection without the fields
            needed, or with another metric or dimension.
        vectorstore.CollectionNotFoundError: a read-only store without
            ``collection_name`` (the message lists its collections).
        vectorstore.LockedError: a write waited longer than ``lock_timeout``
            (``connect_options``, 30 s) while other processes wrote the store.
        vectorstore.VectorStoreError: the errors of ``connect``.

    Example:
        >>> from langchain_kestrel import KestrelVectorStore
        >>> store = KestrelVectorStore(embedding=embeddings, uri="./kestrel_data",
        ...                            hybrid="rrf")
        >>> store.add_texts(["Rust is fast", "Python is easy"], [{"lang": "rs"}, {"lang": "py"}])
        >>> store.similarity_search("fast language", k=1, filter={"lang": "rs"})
    """

    def __init__(
        self,
        embedding: Embeddings,
        *,
        uri: str | os.PathLike[str] | None = None,
        collection_name: str = "langchain",
        client: vs.ClientAPI | None = None,
        collection: vs.CollectionAPI | None = None,
        connect_options: Mapping[str, Any] | None = None,
        metric: str | None = None,
        index_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        partition: str | None = None,
        hybrid: HybridMode | None = None,
        ranker: Ranker | None = None,
        analyzer: str | Mapping[str, Any] | None = "standard",
        dimension: int | None = None,
        relevance_score_fn: Callable[[float], float] | None = None,
        field_names: FieldNames | None = None,
        drop_old: bool = False,
    ) -> None:
        if sum(x is not None for x in (uri, client, collection)) > 1:
            raise ValueError("pass one of uri=, client= or collection=")
        if collection is not None and drop_old:
            raise ValueError("drop_old needs uri= or client=, not collection=")
        if (client is not None or collection is not None) and connect_options:
            raise ValueError("connect_options apply to uri=, not to an open client or collection")
        self._embedding = embedding
        self._core = StoreCore(  # checks the options before anything is opened
            field_names or FieldNames(),
            client=client,
            name=collection_name if collection is None else collection.name,
            metric=parse_metric(metric),
            index_params=index_params or {},
            search_params=search_params or {},
            partition=partition,
            hybrid=hybrid,
            ranker=ranker,
            analyzer=analyzer,
            dimension=dimension,
            relevance_fn=relevance_score_fn,
        )
        self._owns_client = collection is None and client is None
        if self._owns_client:
            client = _open(MEMORY if uri is None else uri, connect_options or {})
            self._core.client = client
        if collection is not None:
            self._core.attach(collection)
            return
        assert client is not None
        try:
            if drop_old:
                client.drop_collection(collection_name)
            if client.has_collection(collection_name):
                self._core.attach(client.get_collection(collection_name))
            elif client.read_only:  # nothing could ever be read: a misspelt name, most likely
                raise vs.CollectionNotFoundError(
                    f"collection {collection_name!r} does not exist in {client.uri}, which is "
                    f"open read-only (so it is not created); its collections: "
                    f"{sorted(client.list_collections())}: pass one as collection_name="
                )
            elif dimension is not None:
                self._core.ensure(dimension)
        except BaseException:
            if self._owns_client:  # give back the share of a store that never was
                client.close()
            raise

    # ------------------------------------------------------------ properties
    @property
    def embeddings(self) -> Embeddings:
        """The LangChain ``Embeddings`` this store embeds texts and queries with."""
        return self._embedding

    @property
    def client(self) -> vs.ClientAPI | None:
        """The Kestrel client (None when built from ``collection=``)."""
        return self._core.client

    @property
    def collection(self) -> vs.CollectionAPI | None:
        """The Kestrel collection (None until the first texts fix its dimension)."""
        return self._core.current()

    @property
    def metric(self) -> vs.Metric:
        """The dense metric: COSINE, IP or L2."""
        return self._core.metric

    @property
    def hybrid(self) -> HybridMode | None:
        """The store's default search mode: None (dense), ``"rrf"`` or ``"weighted"``."""
        return self._core.hybrid

    # ------------------------------------------------------------ lifecycle
    def delete_collection(self) -> None:
        """Drop the collection and all its documents; the store starts empty again.

        Raises:
            vectorstore.ConfigError: the store was built from ``collection=``.
        """
        self._core.drop()

    def close(self) -> None:
        """Close the client if this store opened it (``uri=``); idempotent.

        A path store holds a share of the process's client of that path
        (``vectorstore.shared_client``): this gives back its share, and the
        client closes with the last one, so other stores on the path keep
        working. Clients passed as ``client=`` are left open.
        """
        client = self._core.client
        if self._owns_client and client is not None:
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- writes
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        partition: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Embed texts and add them; an existing id is replaced (upsert).

        Args:
            texts: the texts (``page_content``).
            metadatas: one metadata dict per text (JSON values only).
            ids: one id per text; a missing (None or empty) id gets a uuid4 string.
            partition: the partition to write to (default: the store's).
            batch_size: texts embedded and written per engine call. Input is
                checked whole first; each batch is then one atomic upsert, so an
                embedding or engine error in a later batch leaves earlier ones written.
            **kwargs: none are accepted.

        Returns:
            The ids, in the order of ``texts``. When an id repeats, the last
            text with it wins.

        Raises:
            ValueError: ``metadatas`` or ``ids`` of another length, a non-str id.
            MetadataError: a metadata value JSON cannot hold exactly.
            vectorstore.DataError: a text longer than 65,535 characters, vectors
                of the wrong dimension.
        """
        no_extra(kwargs, "add_texts")
        batch = Batch.of(texts, metadatas, ids, batch_size)
        for part in batch.parts():
            self._core.write(part, self._embedding.embed_documents(part.texts), partition)
        return batch.ids

    def delete(
        self,
        ids: list[str] | None = None,
        *,
        filter: FilterType | None = None,
        filter_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Delete documents by id (missing ids are ignored) or by filter.

        Args:
            ids: the ids to delete.
            filter: instead of ids: delete every document passing this filter
                (an expression string, a filter dict or an expression tree).
            filter_params: values for ``{name}`` placeholders in the filter.
            **kwargs: none are accepted.

        Returns:
            True.

        Raises:
            ValueError: neither or both of ``ids`` and ``filter``.
            FilterDictError, vectorstore.FilterSyntaxError: a bad filter.
        """
        no_extra(kwargs, "delete")
        self._core.delete(ids, filter, filter_params)
        return True

    # ----------------------------------------------------------------- reads
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order asked; missing ids are skipped.

        Args:
            ids: the ids.

        Returns:
            The documents found, each with its ``id`` set.
        """
        return self._core.get(ids)

    # ---------------------------------------------------------------- search
    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        """The relevance function of dense scores (see ``langchain_kestrel.scoring``)."""
        return self._core.dense_relevance()

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        filter: FilterType | None = None,
        *,
        hybrid: HybridMode | bool | None = None,
        ranker: Ranker | None = None,
        fetch_k: int | None = None,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents nearest to the query, best first.

        Args:
            query: the query text.
            k: how many documents.
            filter: an expression string (``'metadata["year"] > 2020'``), a
                Mongo/Chroma-style dict (``{"year": {"$gt": 2020}}``) or an
                expression tree (see ``langchain_kestrel.filters``).
            hybrid: None (the store's default), False (dense only), True (the
                store's fusion, else RRF), ``"rrf"`` or ``"weighted"``: dense +
                BM25 over the text, fused.
            ranker: the fusion of this call (implies hybrid).
            fetch_k: candidates each route of a hybrid search brings
                (default ``max(2 * k, 20)``).
            partition: a partition or list of them (default: the store's).
            filter_params: values for ``{name}`` placeholders in a filter string.
            search_params: dense search parameters (``{"ef": 256}``).
            **kwargs: none are accepted.

        Returns:
            The documents, each with its ``id`` set.

        Raises:
            FilterDictError, vectorstore.FilterSyntaxError,
                vectorstore.FilterTypeError: a bad filter.
            ValueError: a bad hybrid/ranker combination.
            vectorstore.ConfigError: hybrid search on a collection without BM25.
        """
        no_extra(kwargs, "similarity_search")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        vector = self._embedding.embed_query(query)
        return [doc for doc, _ in self._core.scored(vector, query, k, opts)]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: FilterType | None = None,
        *,
        hybrid: HybridMode | bool | None = None,
        ranker: Ranker | None = None,
        fetch_k: int | None = None,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Like ``similarity_search``, with each document's score.

        Args:
            query, k, filter, hybrid, ranker, fetch_k, partition, filter_params,
                search_params, kwargs: as for ``similarity_search``.

        Returns:
            ``(document, score)`` pairs, best first. The score is the engine's:
            COSINE similarity, inner product (IP), squared L2 distance (L2:
            smaller is closer), or the fused score of a hybrid search.

        Raises:
            The errors of ``similarity_search``.
        """
        no_extra(kwargs, "similarity_search_with_score")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        return self._core.scored(self._embedding.embed_query(query), query, k, opts)

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """``(document, relevance)`` pairs (see ``langchain_kestrel.scoring``); kwargs as
        for ``similarity_search``."""
        opts = SearchOptions.parse(kwargs, "similarity_search_with_relevance_scores")
        return self._core.relevance(self._embedding.embed_query(query), query, k, opts)

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: FilterType | None = None,
        *,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` documents nearest to a vector (dense search: no text, no BM25).

        Args:
            embedding: the query vector.
            k, filter, partition, filter_params, search_params, kwargs: as for
                ``similarity_search``.

        Returns:
            The documents, best first.

        Raises:
            The errors of ``similarity_search``; vectorstore.DimensionMismatchError.
        """
        no_extra(kwargs, "similarity_search_by_vector")
        opts = SearchOptions(filter, filter_params, partition, search_params)
        return [doc for doc, _ in self._core.scored(embedding, None, k, opts)]

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: FilterType | None = None,
        *,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Like ``similarity_search_by_vector``, with each document's score.

        Args:
            embedding, k, filter, partition, filter_params, search_params, kwargs:
                as for ``similarity_search_by_vector``.

        Returns:
            ``(document, score)`` pairs, best first (scores as in
            ``similarity_search_with_score``).
        """
        no_extra(kwargs, "similarity_search_with_score_by_vector")
        return self._core.scored(
            embedding, None, k, SearchOptions(filter, filter_params, partition, search_params)
        )

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterType | None = None,
        *,
        hybrid: HybridMode | bool | None = None,
        ranker: Ranker | None = None,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Documents by maximal marginal relevance: close to the query, diverse.

        ``fetch_k`` candidates come from a dense (or, with ``hybrid``, a hybrid)
        search; langchain-core's ``maximal_marginal_relevance`` picks ``k`` of them
        by their stored vectors.

        Args:
            query: the query text.
            k: how many documents.
            fetch_k: how many candidates.
            lambda_mult: 1 for relevance only, 0 for diversity only.
            filter, hybrid, ranker, partition, filter_params, search_params,
                kwargs: as for ``similarity_search``.

        Returns:
            The documents, in MMR order.

        Raises:
            The errors of ``similarity_search``.
        """
        no_extra(kwargs, "max_marginal_relevance_search")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        vector = self._embedding.embed_query(query)
        return self._core.mmr(vector, query, k, fetch_k, lambda_mult, opts)

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterType | None = None,
        *,
        partition: str | Sequence[str] | None = None,
        filter_params: Mapping[str, Any] | None = None,
        search_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR from a query vector (dense candidates).

        Args:
            embedding: the query vector.
            k, fetch_k, lambda_mult, filter, partition, filter_params,
                search_params, kwargs: as for ``max_marginal_relevance_search``.

        Returns:
            The documents, in MMR order.
        """
        no_extra(kwargs, "max_marginal_relevance_search_by_vector")
        opts = SearchOptions(filter, filter_params, partition, search_params)
        return self._core.mmr(embedding, None, k, fetch_k, lambda_mult, opts)

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """A store (new, or an existing collection keeping its data) with these texts added.

        Args:
            texts: the texts.
            embedding: the LangChain ``Embeddings``.
            metadatas: one metadata dict per text.
            ids: one id per text (generated where missing).
            batch_size: as for ``add_texts``.
            **kwargs: the constructor's keyword arguments (``uri``,
                ``collection_name``, ``metric``, ``hybrid``...).

        Returns:
            The store.

        Raises:
            The errors of the constructor and of ``add_texts``.
        """
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids, batch_size=batch_size)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> Self:
        """Async ``from_texts``: opening in an executor, then ``aadd_texts``.

        Args:
            texts, embedding, metadatas, ids, batch_size, kwargs: as for ``from_texts``.

        Returns:
            The store.
        """
        store = await run_in_executor(None, lambda: cls(embedding, **kwargs))
        await store.aadd_texts(texts, metadatas, ids=ids, batch_size=batch_size)
        return store


def _open(uri: str | os.PathLike[str], options: Mapping[str, Any]) -> vs.ClientAPI:
    """The shared client of ``uri`` (other processes may write the same store:
    each call sees what they acknowledged before it)."""
    return vs.shared_client(uri, **options)
