"""The async half of ``KestrelVectorStore``.

Each method embeds with the ``Embeddings``' own async methods (``aembed_documents``,
``aembed_query``) and then runs the engine call (a write, a search) in the
default executor through langchain-core's ``run_in_executor``, which keeps the
caller's context. The engine is thread-safe and releases the GIL while it
searches, so the event loop never blocks on disk or index work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor

from ._core import DEFAULT_BATCH_SIZE, Batch, SearchOptions, StoreCore, no_extra
from .filters import FilterType
from .scoring import HybridMode, Ranker

__all__ = ["AsyncMethods"]


class AsyncMethods:
    """Native async versions of the store's methods (mixed into ``KestrelVectorStore``)."""

    _embedding: Embeddings
    _core: StoreCore

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        partition: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        **kwargs: Any,
    ) -> list[str]:
        """Async ``add_texts``: ``aembed_documents``, then the write in an executor.

        Args:
            texts, metadatas, ids, partition, batch_size, kwargs: as for ``add_texts``.

        Returns:
            The ids, in the order of ``texts``.

        Raises:
            The errors of ``add_texts``.
        """
        no_extra(kwargs, "aadd_texts")
        batch = Batch.of(texts, metadatas, ids, batch_size)
        for part in batch.parts():
            vectors = await self._embedding.aembed_documents(part.texts)
            await run_in_executor(None, self._core.write, part, vectors, partition)
        return batch.ids

    async def adelete(
        self,
        ids: list[str] | None = None,
        *,
        filter: FilterType | None = None,
        filter_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> bool:
        """Async ``delete`` (the engine call runs in an executor).

        Args:
            ids, filter, filter_params, kwargs: as for ``delete``.

        Returns:
            True.

        Raises:
            The errors of ``delete``.
        """
        no_extra(kwargs, "adelete")
        await run_in_executor(None, self._core.delete, ids, filter, filter_params)
        return True

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Async ``get_by_ids`` (the engine call runs in an executor).

        Args:
            ids: the ids.

        Returns:
            The documents found.
        """
        return await run_in_executor(None, self._core.get, ids)

    async def asimilarity_search(
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
        """Async ``similarity_search``: ``aembed_query``, then the search in an executor.

        Args:
            query, k, filter, hybrid, ranker, fetch_k, partition, filter_params,
                search_params, kwargs: as for ``similarity_search``.

        Returns:
            The documents, best first.

        Raises:
            The errors of ``similarity_search``.
        """
        no_extra(kwargs, "asimilarity_search")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        vector = await self._embedding.aembed_query(query)
        scored = await run_in_executor(None, self._core.scored, vector, query, k, opts)
        return [doc for doc, _ in scored]

    async def asimilarity_search_with_score(
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
        """Async ``similarity_search_with_score``.

        Args:
            query, k, filter, hybrid, ranker, fetch_k, partition, filter_params,
                search_params, kwargs: as for ``similarity_search``.

        Returns:
            ``(document, score)`` pairs, best first.

        Raises:
            The errors of ``similarity_search``.
        """
        no_extra(kwargs, "asimilarity_search_with_score")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        vector = await self._embedding.aembed_query(query)
        return await run_in_executor(None, self._core.scored, vector, query, k, opts)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Async ``_similarity_search_with_relevance_scores``."""
        opts = SearchOptions.parse(kwargs, "asimilarity_search_with_relevance_scores")
        vector = await self._embedding.aembed_query(query)
        return await run_in_executor(None, self._core.relevance, vector, query, k, opts)

    async def asimilarity_search_by_vector(
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
        """Async ``similarity_search_by_vector`` (the search runs in an executor).

        Args:
            embedding, k, filter, partition, filter_params, search_params, kwargs:
                as for ``similarity_search_by_vector``.

        Returns:
            The documents, best first.
        """
        no_extra(kwargs, "asimilarity_search_by_vector")
        opts = SearchOptions(filter, filter_params, partition, search_params)
        scored = await run_in_executor(None, self._core.scored, embedding, None, k, opts)
        return [doc for doc, _ in scored]

    async def amax_marginal_relevance_search(
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
        """Async ``max_marginal_relevance_search``.

        Args:
            query, k, fetch_k, lambda_mult, filter, hybrid, ranker, partition,
                filter_params, search_params, kwargs: as for
                ``max_marginal_relevance_search``.

        Returns:
            The documents, in MMR order.
        """
        no_extra(kwargs, "amax_marginal_relevance_search")
        opts = SearchOptions(
            filter, filter_params, partition, search_params, hybrid, ranker, fetch_k
        )
        vector = await self._embedding.aembed_query(query)
        return await run_in_executor(
            None, self._core.mmr, vector, query, k, fetch_k, lambda_mult, opts
        )

    async def amax_marginal_relevance_search_by_vector(
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
        """Async ``max_marginal_relevance_search_by_vector`` (runs in an executor).

        Args:
            embedding, k, fetch_k, lambda_mult, filter, partition, filter_params,
                search_params, kwargs: as for ``max_marginal_relevance_search_by_vector``.

        Returns:
            The documents, in MMR order.
        """
        no_extra(kwargs, "amax_marginal_relevance_search_by_vector")
        opts = SearchOptions(filter, filter_params, partition, search_params)
        return await run_in_executor(
            None, self._core.mmr, embedding, None, k, fetch_k, lambda_mult, opts
        )
