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
from .client import MilvusClient
from .exceptions import (
    CollectionNotExistException,
    DataNotMatchException,
    DataTypeNotMatchException,
    MilvusException,
    ParamError,
    PrimaryKeyException,
    SchemaNotReadyException,
)
from .requests import AnnSearchRequest
from .results import Hits, LoadState, MilvusHit, OmitZeroDict, QueryIterator
from .schema import CollectionSchema, FieldSchema, Function, FunctionType, IndexParams

__all__ = [
    "AnnSearchRequest",
    "CollectionNotExistException",
    "CollectionSchema",
    "DataNotMatchException",
    "DataType",
    "DataTypeNotMatchException",
    "FieldSchema",
    "Function",
    "FunctionType",
    "Hits",
    "IndexParams",
    "LoadState",
    "MilvusClient",
    "MilvusException",
    "MilvusHit",
    "OmitZeroDict",
    "ParamError",
    "PrimaryKeyException",
    "QueryIterator",
    "RRFRanker",
    "SchemaNotReadyException",
    "WeightedRanker",
]
