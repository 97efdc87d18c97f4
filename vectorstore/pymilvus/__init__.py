"""pymilvus's API on Kestrel: ``from vectorstore.pymilvus import MilvusClient``
where a program said ``from pymilvus import MilvusClient``.

The names, arguments, results and exceptions follow pymilvus; each call is
translated to Kestrel's own API (``vectorstore.api``), so it runs on the
embedded engine, or on a Milvus server through Kestrel's Milvus backend.
See the README's "Porting pymilvus code" for what is and is not covered.
"""

from __future__ import annotations

from ..ranking import RRFRanker, WeightedRanker
from ..types import DataType
from . import utility
from .client import MilvusClient
from .collection import Collection, Index
from .connections import Connections, connections
from .exceptions import (
    CollectionNotExistException,
    ConnectionConfigException,
    ConnectionNotExistException,
    DataNotMatchException,
    DataTypeNotMatchException,
    DataTypeNotSupportException,
    IndexNotExistException,
    MilvusException,
    ParamError,
    PartitionAlreadyExistException,
    PrimaryKeyException,
    SchemaNotReadyException,
)
from .iterators import SearchIterator
from .partition import Partition
from .requests import AnnSearchRequest
from .results import (
    Hits,
    LoadState,
    MilvusHit,
    MutationResult,
    OmitZeroDict,
    QueryIterator,
    SearchResult,
)
from .schema import CollectionSchema, FieldSchema, Function, FunctionType, IndexParams
from .utility import (
    drop_collection,
    has_collection,
    has_partition,
    index_building_progress,
    list_collections,
    loading_progress,
    wait_for_index_building_complete,
    wait_for_loading_complete,
)

Hit = MilvusHit  # pymilvus's name for one hit

__all__ = [
    "AnnSearchRequest",
    "Collection",
    "CollectionNotExistException",
    "CollectionSchema",
    "ConnectionConfigException",
    "ConnectionNotExistException",
    "Connections",
    "DataNotMatchException",
    "DataType",
    "DataTypeNotMatchException",
    "DataTypeNotSupportException",
    "FieldSchema",
    "Function",
    "FunctionType",
    "Hit",
    "Hits",
    "Index",
    "IndexNotExistException",
    "IndexParams",
    "LoadState",
    "MilvusClient",
    "MilvusException",
    "MilvusHit",
    "MutationResult",
    "OmitZeroDict",
    "ParamError",
    "Partition",
    "PartitionAlreadyExistException",
    "PrimaryKeyException",
    "QueryIterator",
    "RRFRanker",
    "SchemaNotReadyException",
    "SearchIterator",
    "SearchResult",
    "WeightedRanker",
    "connections",
    "drop_collection",
    "has_collection",
    "has_partition",
    "index_building_progress",
    "list_collections",
    "loading_progress",
    "utility",
    "wait_for_index_building_complete",
    "wait_for_loading_complete",
]
