"""Kestrel: an embedded, Milvus-style vector database.

Example:
    >>> import vectorstore as vs
    >>> db = vs.connect("./kestrel_data")            # or ":memory:"
    >>> col = db.create_collection("docs", dimension=384)
    >>> col.insert([{"id": 1, "vector": [...], "text": "hello"}])
    >>> col.search(data=[query_vector], limit=5, filter='text like "he%"')

``connect`` returns the contract, ``ClientAPI`` (collections: ``CollectionAPI``),
whichever backend the URI picks; ``Client`` and ``Collection`` are the embedded
engine's implementation of it.
"""

from .api import ClientAPI, CollectionAPI
from .checks import DEFAULT_PARTITION, PrimaryKey
from .client import Client
from .collection import Collection
from .connect import connect, shared_client
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
from .index_spec import Index
from .ranking import Ranker, RRFRanker, WeightedRanker
from .ranking import normalize as normalize_score
from .schema import Field, Schema
from .search import MAX_TOPK, AnnRequest
from .types import DataType, Hit, Hits, Metric

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
    "MAX_TOPK",
    "AnnRequest",
    "Client",
    "ClientAPI",
    "ClosedError",
    "Collection",
    "CollectionAPI",
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
    "Hits",
    "Index",
    "IndexConfigError",
    "InvalidNameError",
    "LockedError",
    "Metric",
    "MissingDependencyError",
    "NotSupportedError",
    "PartitionNotFoundError",
    "PrimaryKey",
    "RRFRanker",
    "Ranker",
    "ReadOnlyError",
    "Schema",
    "SchemaError",
    "StorageError",
    "TextEmbedding",
    "VectorStoreError",
    "WeightedRanker",
    "__version__",
    "connect",
    "normalize_score",
    "shared_client",
]
