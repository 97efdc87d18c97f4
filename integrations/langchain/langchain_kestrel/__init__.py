"""LangChain integration for Kestrel (``vectorstore``): ``KestrelVectorStore``.

Example:
    >>> from langchain_kestrel import KestrelVectorStore
    >>> store = KestrelVectorStore(embedding=embeddings, uri="./kestrel_data")
    >>> store.add_texts(["Kestrels hover while hunting"], [{"topic": "birds"}])
    >>> store.as_retriever(search_type="hybrid").invoke("hovering birds")
"""

from .filters import FilterDictError, FilterType, to_expr
from .retrievers import KestrelRetriever
from .schema import FieldNames, MetadataError
from .scoring import HybridMode
from .vectorstores import KestrelVectorStore

__all__ = [
    "FieldNames",
    "FilterDictError",
    "FilterType",
    "HybridMode",
    "KestrelRetriever",
    "KestrelVectorStore",
    "MetadataError",
    "to_expr",
]
