"""pymilvus's ORM ``Partition``: a collection's partition, with the reads and
writes of ``Collection`` limited to it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..api import CollectionAPI
from . import _ops
from ._data import batch_of
from ._session import Session
from .connections import DEFAULT_ALIAS, connections
from .exceptions import MilvusException, milvus_errors
from .results import MutationResult, SearchResult


class Partition:
    """``Partition(collection, name, description="")``: the partition ``name``
    of ``collection`` (a ``Collection`` or its name), created if missing."""

    def __init__(
        self,
        collection: Any,
        name: str,
        description: str = "",
        construct_only: bool = False,
        **kwargs: Any,
    ):
        if isinstance(collection, str):
            self._collection_name = collection
            using = kwargs.get("using", DEFAULT_ALIAS)
        elif hasattr(collection, "name") and hasattr(collection, "_using"):
            self._collection_name = collection.name
            using = collection._using
        else:
            raise MilvusException(
                message="Collection must be of type pymilvus.Collection or String"
            )
        self._session: Session = connections._fetch(using)
        self._name = name
        self._description = description
        if not construct_only:
            col = self._kestrel
            if not milvus_errors(col.has_partition)(name):
                milvus_errors(col.create_partition)(name)

    def __repr__(self) -> str:
        return json.dumps(
            {
                "name": self._name,
                "collection_name": self._collection_name,
                "description": self._description,
            },
            separators=(",", ":"),
        )

    @property
    def _kestrel(self) -> CollectionAPI:
        get = milvus_errors(self._session.client.get_collection)
        col: CollectionAPI = get(self._collection_name)
        return col

    @property
    def _col(self) -> CollectionAPI:
        col = self._kestrel
        _ops.check_loaded(self._session, self._collection_name)
        return col

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str:
        return self._description

    @property
    @milvus_errors
    def num_entities(self) -> int:
        return self._kestrel.count(partitions=[self._name])

    @property
    def is_empty(self) -> bool:
        return self.num_entities == 0

    @milvus_errors
    def flush(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._kestrel.flush()

    @milvus_errors
    def drop(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._kestrel.drop_partition(self._name)

    def load(
        self, replica_number: int | None = None, timeout: float | None = None, **kwargs: Any
    ) -> None:
        """Partitions load with their collection (Kestrel's are always loaded)."""
        _ops.check_indexed(self._session, self._collection_name)
        self._session.released.discard(self._collection_name)

    def release(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._session.released.add(self._collection_name)

    @milvus_errors
    def insert(self, data: Any, timeout: float | None = None, **kwargs: Any) -> MutationResult:
        col = self._kestrel
        rows, n = batch_of(data, col.schema)
        keys = col.insert(rows, partition=self._name) if n else []
        return MutationResult(keys, insert_count=len(keys))

    @milvus_errors
    def upsert(self, data: Any, timeout: float | None = None, **kwargs: Any) -> MutationResult:
        col = self._kestrel
        rows, n = batch_of(data, col.schema, upsert=True)
        keys = col.upsert(rows, partition=self._name) if n else []
        return MutationResult(keys, upsert_count=len(keys))

    @milvus_errors
    def delete(self, expr: str, timeout: float | None = None, **kwargs: Any) -> MutationResult:
        n = _ops.delete_matching(self._kestrel, expr, self._name, kwargs)
        return MutationResult(delete_count=n)

    @milvus_errors
    def search(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any],
        limit: int,
        expr: str | None = None,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        round_decimal: int = -1,
        **kwargs: Any,
    ) -> SearchResult:
        hits = _ops.search(
            self._col,
            data,
            anns_field,
            param,
            limit,
            expr,
            output_fields,
            [self._name],
            round_decimal=round_decimal,
            **kwargs,
        )
        return SearchResult(hits)

    @milvus_errors
    def hybrid_search(
        self,
        reqs: Sequence[Any],
        rerank: Any,
        limit: int,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> SearchResult:
        hits = _ops.hybrid(self._col, reqs, rerank, limit, output_fields, [self._name])
        return SearchResult(hits)

    @milvus_errors
    def query(
        self,
        expr: str,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        return _ops.query(self._col, expr, output_fields, [self._name], **kwargs)


__all__ = ["Partition"]
