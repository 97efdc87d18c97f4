"""``KestrelRetriever``: LangChain's vector store retriever plus a ``"hybrid"`` search type."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks.manager import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever

__all__ = ["KestrelRetriever", "RetrieverMethods"]


class KestrelRetriever(VectorStoreRetriever):
    """A ``VectorStoreRetriever`` that also knows ``search_type="hybrid"``.

    ``"similarity"``, ``"similarity_score_threshold"`` and ``"mmr"`` behave as in
    langchain-core (and follow the store's default mode, dense or hybrid);
    ``"hybrid"`` runs ``similarity_search(query, hybrid=True, **search_kwargs)``:
    dense + BM25 fused by the store's ranker, else RRF. ``search_kwargs`` may set
    ``hybrid="weighted"`` or a ``ranker`` for this retriever.

    Example:
        >>> retriever = store.as_retriever(
        ...     search_type="hybrid",
        ...     search_kwargs={"k": 5, "ranker": vs.WeightedRanker(0.7, 0.3)})
        >>> retriever.invoke("what is rust?")
    """

    allowed_search_types: ClassVar[Collection[str]] = (
        "similarity",
        "similarity_score_threshold",
        "mmr",
        "hybrid",
    )

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        if self.search_type != "hybrid":
            return super()._get_relevant_documents(query, run_manager=run_manager, **kwargs)
        options = {"hybrid": True, **self.search_kwargs, **kwargs}
        return self.vectorstore.similarity_search(query, **options)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        **kwargs: Any,
    ) -> list[Document]:
        if self.search_type != "hybrid":
            return await super()._aget_relevant_documents(query, run_manager=run_manager, **kwargs)
        options = {"hybrid": True, **self.search_kwargs, **kwargs}
        return await self.vectorstore.asimilarity_search(query, **options)


class RetrieverMethods(VectorStore):
    """``search`` by type name and ``as_retriever``, with the ``"hybrid"`` type
    (mixed into ``KestrelVectorStore``, before ``VectorStore``)."""

    def search(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Search by type name: langchain-core's types, plus ``"hybrid"``.

        Args:
            query: the query text.
            search_type: ``"similarity"``, ``"similarity_score_threshold"``,
                ``"mmr"`` or ``"hybrid"`` (``similarity_search(..., hybrid=True)``).
            **kwargs: the search method's keyword arguments.

        Returns:
            The documents.

        Raises:
            ValueError: an unknown search type; the errors of the search method.
        """
        if search_type == "hybrid":
            return self.similarity_search(query, **{"hybrid": True, **kwargs})
        return super().search(query, search_type, **kwargs)

    async def asearch(self, query: str, search_type: str, **kwargs: Any) -> list[Document]:
        """Async ``search``.

        Args:
            query, search_type, kwargs: as for ``search``.

        Returns:
            The documents.
        """
        if search_type == "hybrid":
            return await self.asimilarity_search(query, **{"hybrid": True, **kwargs})
        return await super().asearch(query, search_type, **kwargs)

    def as_retriever(self, **kwargs: Any) -> KestrelRetriever:
        """A retriever over this store.

        Args:
            **kwargs: ``search_type``: ``"similarity"`` (default),
                ``"similarity_score_threshold"``, ``"mmr"`` or ``"hybrid"`` (dense
                + BM25; the store's fusion, else RRF); ``search_kwargs``: keyword
                arguments of the search (``k``, ``filter``, ``score_threshold``,
                ``fetch_k``, ``lambda_mult``, ``hybrid``, ``ranker``,
                ``partition``...); ``tags``, ``metadata`` as for any retriever.

        Returns:
            A ``KestrelRetriever``.

        Raises:
            ValueError: an unknown search type, or ``similarity_score_threshold``
                without a float ``score_threshold``.
        """
        tags = kwargs.pop("tags", None) or [*self._get_retriever_tags()]
        return KestrelRetriever(vectorstore=self, tags=tags, **kwargs)
