"""Kestrel: an embedded, Milvus-style vector database.

Example:
    >>> import vectorstore as vs
    >>> db = vs.connect("./kestrel_data")            # or ":memory:"
    >>> col = db.create_collection("docs", dimension=384)
    >>> col.insert([{"id": 1, "vector": [...], "text": "hello"}])
    >>> col.search(data=[query_vector], limit=5, filter='text like "he%"')
"""

from .client import Client, connect, shared_client
from .collection import DEFAULT_PARTITION, Collection
from .errors import (
    ClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    DataError,
    DimensionMismatchError,
    DuplicateKeyError,
    EmbeddingError,
    FilterSyntaxError,
    FilterTypeError,
    IndexConfigError,
    InvalidNameError,
    LockedError,
    MissingDependencyError,
    NotSupportedError,
    PartitionNotFoundError,
    ReadOnlyError,
    SchemaError,
    StorageError,
    VectorStoreError,
)
from .functions import BM25, TextEmbedding
from .ranking import RRFRanker, WeightedRanker
from .schema import Field, Index, Schema
from .search import AnnRequest
from .types import DataType, Hit, Metric

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # ``vs.embeddings`` without importing provider code at ``import vectorstore``
    if name == "embeddings":
        import importlib

        return importlib.import_module(".embeddings", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BM25",
    "DEFAULT_PARTITION",
    "AnnRequest",
    "Client",
    "ClosedError",
    "Collection",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConfigError",
    "DataError",
    "DataType",
    "DimensionMismatchError",
    "DuplicateKeyError",
    "EmbeddingError",
    "Field",
    "FilterSyntaxError",
    "FilterTypeError",
    "Hit",
    "Index",
    "IndexConfigError",
    "InvalidNameError",
    "LockedError",
    "Metric",
    "MissingDependencyError",
    "NotSupportedError",
    "PartitionNotFoundError",
    "RRFRanker",
    "ReadOnlyError",
    "Schema",
    "SchemaError",
    "StorageError",
    "TextEmbedding",
    "VectorStoreError",
    "WeightedRanker",
    "__version__",
    "connect",
    "shared_client",
]
