"""pymilvus's ORM ``Collection`` (and its ``Index``) on a Kestrel connection.

``Collection(name, schema)`` creates a collection as Milvus does: without an
index until ``create_index``, and not loaded until ``load()``; Kestrel's
engine would serve it at once, but a program written for Milvus must fail
here where it would fail there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import CollectionAPI
from ..index_spec import Index as KestrelIndex
from ..names import DEFAULT_PARTITION
from . import _ops
from ._data import batch_of
from ._session import Session
from .connections import DEFAULT_ALIAS, connections
from .exceptions import (
    IndexNotExistException,
    MilvusException,
    PartitionAlreadyExistException,
    SchemaNotReadyException,
    milvus_errors,
)
from .iterators import SearchIterator
from .partition import Partition
from .results import MutationResult, QueryIterator, SearchResult
from .schema import CollectionSchema, FieldSchema, index_of

NOT_EMBEDDED = "is a Milvus cluster feature that the embedded engine does not have"


def index_params_of(index: KestrelIndex) -> dict[str, Any]:
    """Milvus's index parameter dict for a Kestrel index."""
    out: dict[str, Any] = {"index_type": index.index_type}
    if index.metric is not None:
        out["metric_type"] = index.metric.value
    out["params"] = dict(index.params)
    return out


class Index:
    """An index of a collection, as pymilvus's ORM describes one."""

    def __init__(
        self,
        collection: Collection,
        field_name: str,
        index_params: dict[str, Any],
        index_name: str = "",
        construct_only: bool = False,
        **kwargs: Any,
    ):
        self._collection = collection
        self._field_name = field_name
        self._index_params = dict(index_params)
        self._index_name = index_name or field_name
        if not construct_only:
            collection.create_index(field_name, index_params, index_name=index_name)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._index_params)

    @property
    def collection_name(self) -> str:
        return self._collection.name

    @property
    def field_name(self) -> str:
        return self._field_name

    @property
    def index_name(self) -> str:
        return self._index_name

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self._collection.name,
            "field": self._field_name,
            "index_name": self._index_name,
            "index_param": self.params,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Index) and self.to_dict() == other.to_dict()

    def drop(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._collection.drop_index(index_name=self._index_name)


class Collection:
    """``Collection(name, schema=None, using="default", **kwargs)``: the
    collection ``name`` on the connection ``using``, created from ``schema`` if
    it does not exist (Kestrel is always strongly consistent, so every
    ``consistency_level`` is met)."""

    def __init__(
        self,
        name: str,
        schema: CollectionSchema | None = None,
        using: str = DEFAULT_ALIAS,
        **kwargs: Any,
    ):
        self._name = name
        self._using = using
        self._session: Session = connections._fetch(using)
        db = self._session.client
        if milvus_errors(db.has_collection)(name):
            existing = CollectionSchema.from_schema(self._kestrel.schema)
            if schema is not None:
                if not isinstance(schema, CollectionSchema):
                    raise SchemaNotReadyException(
                        message="Schema type must be schema.CollectionSchema."
                    )
                if schema != existing:
                    raise SchemaNotReadyException(
                        message="The collection already exist, but the schema is not the same "
                        "as the schema passed in."
                    )
            self._schema = schema or existing
            return
        if schema is None:
            raise SchemaNotReadyException(
                message=f"Collection '{name}' not exist, or you can pass in schema to create one."
            )
        if not isinstance(schema, CollectionSchema):
            raise SchemaNotReadyException(message="Schema type must be schema.CollectionSchema.")
        milvus_errors(db.create_collection)(name, schema=schema.to_schema())
        self._session.released.add(name)
        self._session.unindexed.add(name)
        self._schema = schema

    # --------------------------------------------------------- properties
    @property
    def _kestrel(self) -> CollectionAPI:
        col: CollectionAPI = milvus_errors(self._session.client.get_collection)(self._name)
        return col

    def _exists(self) -> None:
        """Raise Milvus's error if the collection was dropped meanwhile."""
        self._kestrel  # noqa: B018

    @property
    def _col(self) -> CollectionAPI:
        """The Kestrel collection, for a read: it must be loaded."""
        col = self._kestrel
        _ops.check_loaded(self._session, self._name)
        return col

    def __repr__(self) -> str:
        return f"<Collection>:\n-------------\n<name>: {self._name}\n<schema>: {self._schema}\n"

    @property
    def name(self) -> str:
        return self._name

    @property
    def schema(self) -> CollectionSchema:
        return self._schema

    @property
    def description(self) -> str:
        return self._schema.description

    @property
    def primary_field(self) -> FieldSchema | None:
        return self._schema.primary_field

    @property
    def aliases(self) -> list[str]:
        return []

    @property
    def num_shards(self) -> int:
        return 1

    @property
    @milvus_errors
    def num_entities(self) -> int:
        """The rows in the collection (Kestrel's count is exact at once: no
        ``flush`` needed, and deleted rows are not counted)."""
        return self._kestrel.count()

    @property
    def is_empty(self) -> bool:
        return self.num_entities == 0

    def describe(self, timeout: float | None = None) -> dict[str, Any]:
        return {
            "collection_name": self._name,
            "description": self.description,
            "auto_id": self._schema.auto_id,
            "num_shards": 1,
            "fields": [
                {"name": f.name, "type": f.dtype, "params": f.params} for f in self._schema.fields
            ],
            "enable_dynamic_field": self._schema.enable_dynamic_field,
            "consistency_level": 0,
        }

    # ------------------------------------------------------ lifecycle
    @milvus_errors
    def flush(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._kestrel.flush()

    @milvus_errors
    def drop(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._session.client.drop_collection(self._name)
        self._session.forget(self._name)

    def load(
        self,
        partition_names: list[str] | None = None,
        replica_number: int | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Mark the collection loaded (Kestrel's always are); like Milvus, refused
        before an index exists."""
        if replica_number not in (None, 0, 1):
            raise MilvusException(message=f"replica_number {replica_number} {NOT_EMBEDDED}")
        self._exists()
        _ops.check_indexed(self._session, self._name)
        self._session.released.discard(self._name)

    def release(self, timeout: float | None = None, **kwargs: Any) -> None:
        self._exists()
        self._session.released.add(self._name)

    # ------------------------------------------------------------ writes
    @milvus_errors
    def insert(
        self,
        data: Any,
        partition_name: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> MutationResult:
        """Rows (dicts), columns (one list per field, in the schema's order) or a
        pandas DataFrame."""
        col = self._kestrel
        rows, n = batch_of(data, col.schema)
        keys = col.insert(rows, partition=partition_name or DEFAULT_PARTITION) if n else []
        return MutationResult(keys, insert_count=len(keys))

    @milvus_errors
    def upsert(
        self,
        data: Any,
        partition_name: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> MutationResult:
        col = self._kestrel
        rows, n = batch_of(data, col.schema, upsert=True)
        keys = col.upsert(rows, partition=partition_name or DEFAULT_PARTITION) if n else []
        return MutationResult(keys, upsert_count=len(keys))

    @milvus_errors
    def delete(
        self,
        expr: str,
        partition_name: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> MutationResult:
        """Delete the rows ``expr`` matches: a filter expression, as Milvus takes
        it (``"id in [1, 2]"``), never a key. ``delete_count`` counts the rows
        deleted, as a Milvus server does."""
        n = _ops.delete_matching(self._kestrel, expr, partition_name, kwargs)
        return MutationResult(delete_count=n)

    # ------------------------------------------------------------- reads
    @milvus_errors
    def search(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any],
        limit: int,
        expr: str | None = None,
        partition_names: list[str] | None = None,
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
            partition_names,
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
        partition_names: list[str] | None = None,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        round_decimal: int = -1,
        **kwargs: Any,
    ) -> SearchResult:
        hits = _ops.hybrid(
            self._col, reqs, rerank, limit, output_fields, partition_names, kwargs.get("offset", 0)
        )
        return SearchResult(hits)

    @milvus_errors
    def query(
        self,
        expr: str,
        output_fields: list[str] | None = None,
        partition_names: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        return _ops.query(self._col, expr, output_fields, partition_names, **kwargs)

    @milvus_errors
    def search_iterator(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any],
        batch_size: int = 1000,
        limit: int = -1,
        expr: str | None = None,
        partition_names: list[str] | None = None,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        round_decimal: int = -1,
        **kwargs: Any,
    ) -> SearchIterator:
        """The hits of one query vector, nearest first, ``batch_size`` per ``next()``."""
        return SearchIterator(
            self._col,
            data,
            anns_field,
            batch_size,
            limit,
            expr or "",
            output_fields,
            dict(param or {}),
            partition_names,
            round_decimal,
        )

    @milvus_errors
    def query_iterator(
        self,
        batch_size: int = 1000,
        limit: int = -1,
        expr: str | None = None,
        output_fields: list[str] | None = None,
        partition_names: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> QueryIterator:
        return QueryIterator.over(
            self._col, batch_size, limit, expr or "", output_fields, partition_names, kwargs
        )

    # -------------------------------------------------------- partitions
    @property
    def partitions(self) -> list[Partition]:
        names = milvus_errors(self._kestrel.list_partitions)()
        return [Partition(self, n, construct_only=True) for n in names]

    def partition(self, partition_name: str, **kwargs: Any) -> Partition | None:
        if not self.has_partition(partition_name):
            return None
        return Partition(self, partition_name, construct_only=True)

    def create_partition(
        self, partition_name: str, description: str = "", **kwargs: Any
    ) -> Partition:
        if self.has_partition(partition_name):
            raise PartitionAlreadyExistException(message="Partition already exist.")
        return Partition(self, partition_name, description)

    @milvus_errors
    def has_partition(
        self, partition_name: str, timeout: float | None = None, **kwargs: Any
    ) -> bool:
        return self._kestrel.has_partition(partition_name)

    @milvus_errors
    def drop_partition(
        self, partition_name: str, timeout: float | None = None, **kwargs: Any
    ) -> None:
        self._kestrel.drop_partition(partition_name)

    # ----------------------------------------------------------- indexes
    def _indexes(self) -> list[KestrelIndex]:
        """The indexes Milvus would list: Kestrel gives every vector field one
        from the start, which a collection created here does not show until
        ``create_index`` (or after ``drop_index``)."""
        found: list[KestrelIndex] = milvus_errors(lambda: self._kestrel.indexes)()
        if self._name in self._session.unindexed:
            return [i for i in found if i.is_scalar]
        return found

    @property
    def indexes(self) -> list[Index]:
        return [
            Index(self, i.field, index_params_of(i), construct_only=True) for i in self._indexes()
        ]

    def index(self, **kwargs: Any) -> Index:
        """The index named ``index_name`` (Milvus names an index after its field),
        or the only one."""
        name = kwargs.get("index_name", "")
        found = [i for i in self.indexes if not name or i.index_name == name]
        if len(found) > 1:
            raise MilvusException(
                message="there are multiple indexes, please specify the index_name"
            )
        if not found:
            raise IndexNotExistException(message="Index doesn't exist.")
        return found[0]

    def has_index(self, timeout: float | None = None, **kwargs: Any) -> bool:
        name = kwargs.get("index_name", "")
        return any(not name or i.index_name == name for i in self.indexes)

    @milvus_errors
    def create_index(
        self,
        field_name: str,
        index_params: dict[str, Any] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        """``index_params``: Milvus's dict (``index_type``, ``metric_type``,
        ``params``; ``efConstruction`` or ``ef_construction``)."""
        given = dict(index_params or {})
        index = index_of(
            field_name,
            given.get("index_type", ""),
            given.get("metric_type"),
            given.get("params"),
        )
        self._kestrel.create_index(index)
        self._session.unindexed.discard(self._name)

    def drop_index(self, timeout: float | None = None, **kwargs: Any) -> None:
        index = self.index(**kwargs)
        if self._name not in self._session.released:
            raise MilvusException(  # Milvus's code and words
                6, "index cannot be dropped on loaded collection; call release() first"
            )
        col = self._kestrel
        dropped = next(i for i in col.indexes if i.field == index.field_name)
        milvus_errors(col.drop_index)(index.field_name)
        if not dropped.is_scalar:  # Kestrel searches the field exactly (FLAT) now
            self._session.unindexed.add(self._name)

    # ------------------------------------------------------- maintenance
    @milvus_errors
    def compact(
        self, is_clustering: bool | None = False, timeout: float | None = None, **kwargs: Any
    ) -> None:
        """Compact now (synchronously: the state is then ``Completed``)."""
        self._kestrel.compact()

    def get_compaction_state(self, timeout: float | None = None, **kwargs: Any) -> str:
        return "Completed"

    def wait_for_compaction_completed(self, timeout: float | None = None, **kwargs: Any) -> str:
        return "Completed"

    def get_replicas(self, timeout: float | None = None, **kwargs: Any) -> Any:
        raise MilvusException(message=f"get_replicas {NOT_EMBEDDED}")


__all__ = ["Collection", "Index", "index_params_of"]
