"""LlamaIndex vector store on Kestrel, the embedded Milvus-style vector database.

Example:
    >>> from llama_index.core import StorageContext, VectorStoreIndex
    >>> from llama_index.vector_stores.kestrel import KestrelVectorStore
    >>> store = KestrelVectorStore(uri="./kestrel_data", collection_name="docs")
    >>> index = VectorStoreIndex.from_documents(
    ...     documents, storage_context=StorageContext.from_defaults(vector_store=store))
    >>> index.as_retriever(similarity_top_k=3).retrieve("what is rust?")
"""

from .base import DEFAULT_COLLECTION, SUPPORTED_MODES, KestrelVectorStore
from .filters import metadata_filters_to_expr

__all__ = [
    "DEFAULT_COLLECTION",
    "SUPPORTED_MODES",
    "KestrelVectorStore",
    "metadata_filters_to_expr",
]
