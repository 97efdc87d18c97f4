"""``KestrelRetriever``: LangChain's vector store retriever plus a ``"hybrid"`` search type."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

from langchain_core.callbacks.manager import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.vectorstores import VectorStoreRetriever

__all__ = ["KestrelRetriever"]


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
