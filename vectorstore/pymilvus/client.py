"""``MilvusClient``: pymilvus's client API over Kestrel's (embedded, or a Milvus
server through Kestrel's Milvus backend).

Names, arguments and result shapes follow pymilvus (2.5/2.6); each method
translates its arguments to the contract (``vectorstore.api``) and the answer
back. Where Milvus Lite and a Milvus server disagree, the server is followed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import CollectionAPI as Collection
from ..index_spec import Index
from ..names import DEFAULT_PARTITION
from . import _ops
from ._session import Session, close_session, open_session, server_version
from .exceptions import MilvusException, ParamError, milvus_errors
from .iterators import SearchIterator
from .results import Hits, LoadState, OmitZeroDict, QueryIterator
from .schema import CollectionSchema, IndexParams


class MilvusClient:
    """pymilvus's ``MilvusClient`` on Kestrel.

    Args:
        uri: ``":memory:"``; a path (a Kestrel store there; a Milvus Lite style
            ``"./milvus_demo.db"`` names a store folder); or ``http(s)://host:port``
            for a Milvus server (Kestrel's Milvus backend).
        user, password, token, db_name, timeout: for a Milvus server.
    """

    def __init__(
        self,
        uri: str = "http://localhost:19530",
        user: str = "",
        password: str = "",
        db_name: str = "",
        token: str = "",
        timeout: float | None = None,
        **kwargs: Any,
    ):
        remote = uri.startswith(("http://", "https://", "tcp://"))
        options: dict[str, Any] = {}
        if remote:
            options = {"token": token, "db_name": db_name or None, "timeout": timeout}
            if user:
                options.update(user=user, password=password)
            options = {k: v for k, v in options.items() if v not in (None, "")}
        self._session: Session = open_session(uri, options)
        self._db = self._session.client
        self._released = self._session.released
        self._closed = False

    # ------------------------------------------------------------ helpers
    def _col(self, name: str, loaded: bool = False) -> Collection:
        if not isinstance(name, str) or not name:
            raise ParamError(message=f"collection_name must be a non-empty str, got {name!r}")
        col: Collection = milvus_errors(self._db.get_collection)(name)
        if loaded:
            _ops.check_loaded(self._session, name)
        return col

    @staticmethod
    def create_schema(**kwargs: Any) -> CollectionSchema:
        return CollectionSchema(**kwargs)

    @staticmethod
    def prepare_index_params(field_name: str = "", **kwargs: Any) -> IndexParams:
        return IndexParams(field_name, **kwargs)

    # -------------------------------------------------------- collections
    @milvus_errors
    def create_collection(
        self,
        collection_name: str,
        dimension: int | None = None,
        primary_field_name: str = "id",
        id_type: str = "int",
        vector_field_name: str = "vector",
        metric_type: str = "COSINE",
        auto_id: bool = False,
        timeout: float | None = None,
        schema: CollectionSchema | None = None,
        index_params: IndexParams | None = None,
        **kwargs: Any,
    ) -> None:
        """Quick setup (``dimension``: an ``id`` key, a ``vector`` field, dynamic
        fields) or a ``schema`` with ``index_params``. A collection created from a
        schema without index parameters is not loaded until ``create_index`` and
        ``load_collection``, as on Milvus."""
        if schema is None:
            if dimension is None:
                raise ParamError(message="create_collection needs dimension or schema")
            id_kind = str(getattr(id_type, "name", id_type)).lower()
            self._db.create_collection(
                collection_name,
                dimension,
                metric=metric_type,
                primary_field=primary_field_name,
                id_type="str" if id_kind in ("string", "str", "varchar") else "int",
                vector_field=vector_field_name,
                auto_id=auto_id,
            )
            self._session.forget(collection_name)
            return
        indexes = index_params.to_indexes() if index_params is not None else []
        self._db.create_collection(collection_name, schema=schema.to_schema(), indexes=indexes)
        self._session.forget(collection_name)
        if index_params is None:
            self._released.add(collection_name)
            self._session.unindexed.add(collection_name)

    @milvus_errors
    def has_collection(self, collection_name: str, **kwargs: Any) -> bool:
        return self._db.has_collection(collection_name)

    @milvus_errors
    def list_collections(self, **kwargs: Any) -> list[str]:
        return self._db.list_collections()

    @milvus_errors
    def drop_collection(self, collection_name: str, **kwargs: Any) -> None:
        if self._db.has_collection(collection_name):  # Milvus: dropping nothing is fine
            self._db.drop_collection(collection_name)
        self._session.forget(collection_name)

    @milvus_errors
    def rename_collection(
        self, old_name: str, new_name: str, target_db: str = "", **kwargs: Any
    ) -> None:
        if target_db not in ("", "default"):
            raise MilvusException(
                message=f"moving a collection to database {target_db!r} is not supported"
            )
        self._db.rename_collection(old_name, new_name)
        self._session.renamed(old_name, new_name)

    @milvus_errors
    def describe_collection(self, collection_name: str, **kwargs: Any) -> dict[str, Any]:
        col = self._col(collection_name)
        schema = col.schema
        fields = []
        for i, f in enumerate(schema.fields):
            params: dict[str, Any] = {}
            for key in ("max_length", "dim", "max_capacity"):
                if getattr(f, key) is not None:
                    params[key] = getattr(f, key)
            d: dict[str, Any] = {
                "field_id": 100 + i,
                "name": f.name,
                "description": f.description,
                "type": f.dtype,
                "params": params,
            }
            if f.element_type is not None:
                d["element_type"] = f.element_type
            if f.is_primary:
                d["is_primary"] = True
            if f.auto_id:
                d["auto_id"] = True
            if f.nullable:
                d["nullable"] = True
            if f.default_value is not None:
                d["default_value"] = f.default_value
            fields.append(d)
        return {
            "collection_name": collection_name,
            "auto_id": schema.primary.auto_id,
            "num_shards": 1,
            "description": schema.description,
            "fields": fields,
            "functions": [
                {
                    "name": fn.name,
                    "type": "BM25",
                    "input_field_names": list(fn.inputs),
                    "output_field_names": [fn.output],
                }
                for fn in schema.functions
            ],
            "aliases": [],
            "consistency_level": 0,
            "consistency_level_name": "Strong",
            "properties": {},
            "num_partitions": len(col.list_partitions()),
            "enable_dynamic_field": schema.enable_dynamic_field,
        }

    @milvus_errors
    def get_collection_stats(self, collection_name: str, **kwargs: Any) -> dict[str, int]:
        return {"row_count": self._col(collection_name).count()}

    # ---------------------------------------------------------- load state
    def load_collection(self, collection_name: str, **kwargs: Any) -> None:
        self._col(collection_name)
        _ops.check_indexed(self._session, collection_name)
        self._released.discard(collection_name)

    def release_collection(self, collection_name: str, **kwargs: Any) -> None:
        self._col(collection_name)
        self._released.add(collection_name)

    def get_load_state(
        self, collection_name: str, partition_name: str = "", **kwargs: Any
    ) -> dict[str, LoadState]:
        if not self._db.has_collection(collection_name):
            return {"state": LoadState.NotExist}
        released = collection_name in self._released
        return {"state": LoadState.NotLoad if released else LoadState.Loaded}

    def refresh_load(self, collection_name: str, **kwargs: Any) -> None:
        self._col(collection_name)

    # ---------------------------------------------------------- partitions
    @milvus_errors
    def create_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        self._col(collection_name).create_partition(partition_name)

    @milvus_errors
    def drop_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> None:
        self._col(collection_name).drop_partition(partition_name)

    @milvus_errors
    def has_partition(self, collection_name: str, partition_name: str, **kwargs: Any) -> bool:
        return self._col(collection_name).has_partition(partition_name)

    @milvus_errors
    def list_partitions(self, collection_name: str, **kwargs: Any) -> list[str]:
        return self._col(collection_name).list_partitions()

    def load_partitions(self, collection_name: str, partition_names: Any, **kwargs: Any) -> None:
        self._col(collection_name)

    def release_partitions(self, collection_name: str, partition_names: Any, **kwargs: Any) -> None:
        self._col(collection_name)

    # ------------------------------------------------------------- indexes
    @milvus_errors
    def create_index(self, collection_name: str, index_params: IndexParams, **kwargs: Any) -> None:
        col = self._col(collection_name)
        for index in index_params.to_indexes():
            col.create_index(index)
            if not index.is_scalar:
                self._session.unindexed.discard(collection_name)

    @milvus_errors
    def list_indexes(self, collection_name: str, field_name: str = "", **kwargs: Any) -> list[str]:
        # Milvus names an index after its field unless told otherwise; Kestrel
        # keeps one index per field, named so
        return [
            i.field
            for i in self._indexed(collection_name)
            if i.field == field_name or not field_name
        ]

    def _indexed(self, collection_name: str) -> list[Index]:
        # a FLAT index is listed, as Milvus lists one (Kestrel cannot tell it from a
        # dense index dropped with drop_index, which leaves the field FLAT); the
        # vector indexes Kestrel gave a collection created without index
        # parameters are not, as Milvus has none until create_index
        found = list(self._col(collection_name).indexes)
        if collection_name in self._session.unindexed:
            return [i for i in found if i.is_scalar]
        return found

    @milvus_errors
    def describe_index(
        self, collection_name: str, index_name: str, **kwargs: Any
    ) -> dict[str, Any]:
        found = {i.field: i for i in self._indexed(collection_name)}
        index = found.get(index_name)
        if index is None:
            raise MilvusException(700, f"index not found[indexName={index_name}]")
        out: dict[str, Any] = {"index_type": index.index_type}
        if index.metric is not None:
            out["metric_type"] = index.metric.value
        out.update({k: v for k, v in index.params.items()})
        out.update(field_name=index.field, index_name=index.field, state="Finished")
        return out

    @milvus_errors
    def drop_index(self, collection_name: str, index_name: str, **kwargs: Any) -> None:
        self._col(collection_name).drop_index(index_name)

    # -------------------------------------------------------------- writes
    @milvus_errors
    def insert(
        self,
        collection_name: str,
        data: dict[str, Any] | list[dict[str, Any]],
        timeout: float | None = None,
        partition_name: str | None = "",
        **kwargs: Any,
    ) -> OmitZeroDict:
        """``{"insert_count", "ids"}`` (and ``cost`` 0, printed only when not zero)."""
        return self._write("insert", collection_name, data, partition_name)

    @milvus_errors
    def upsert(
        self,
        collection_name: str,
        data: dict[str, Any] | list[dict[str, Any]],
        timeout: float | None = None,
        partition_name: str | None = "",
        **kwargs: Any,
    ) -> OmitZeroDict:
        """``{"upsert_count", "ids"}`` as ``insert``."""
        return self._write("upsert", collection_name, data, partition_name)

    def _write(
        self, method: str, collection_name: str, data: Any, partition_name: str | None
    ) -> OmitZeroDict:
        rows = [data] if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise TypeError(
                "wrong type of argument 'data',expected 'Dict' or list of 'Dict', "
                f"got '{type(data).__name__}'"
            )
        col = self._col(collection_name)
        if not rows:
            return OmitZeroDict({f"{method}_count": 0, "ids": []})
        write = col.insert if method == "insert" else col.upsert
        ids = write(rows, partition=partition_name or DEFAULT_PARTITION)
        return OmitZeroDict({f"{method}_count": len(ids), "ids": ids, "cost": 0})

    @milvus_errors
    def delete(
        self,
        collection_name: str,
        ids: Any = None,
        timeout: float | None = None,
        filter: str | None = None,
        partition_name: str | None = None,
        **kwargs: Any,
    ) -> OmitZeroDict:
        """Delete by ``ids`` or ``filter``; ``{"delete_count": n}`` as a Milvus
        server answers (n: the rows deleted; Milvus Lite returns the keys asked)."""
        pks = _ops.one_or_list(ids)
        if filter and pks:
            raise ParamError(
                message="Ambiguous filter parameter, only one deletion condition can be specified."
            )
        col = self._col(collection_name)
        partition = partition_name or None
        params = kwargs.get("filter_params")
        if pks:
            count = col.delete(ids=pks, partition=partition)
        else:
            count = col.delete(filter=filter or "", filter_params=params, partition=partition)
        return OmitZeroDict(delete_count=count, cost=0)

    # --------------------------------------------------------------- reads
    @milvus_errors
    def get(
        self,
        collection_name: str,
        ids: Any,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        partition_names: list[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        col = self._col(collection_name, loaded=True)
        pks = _ops.one_or_list(ids)
        if not pks:
            return []
        return col.get(pks, output_fields=output_fields or ["*"], partitions=partition_names)

    @milvus_errors
    def query(
        self,
        collection_name: str,
        filter: str = "",
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        ids: Any = None,
        partition_names: list[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        if filter and ids is not None:
            raise ParamError(
                message="Ambiguous parameter, either ids or filter should be specified, "
                "cannot support both."
            )
        col = self._col(collection_name, loaded=True)
        return _ops.query(col, filter, output_fields, partition_names, ids=ids, **kwargs)

    @milvus_errors
    def query_iterator(
        self,
        collection_name: str,
        batch_size: int = 1000,
        limit: int = -1,
        filter: str = "",
        output_fields: list[str] | None = None,
        partition_names: list[str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> QueryIterator:
        """Every row passing ``filter`` (``limit`` -1: all; ``offset`` skips), in
        primary-key order, ``batch_size`` rows per ``next()``."""
        col = self._col(collection_name, loaded=True)
        return QueryIterator.over(
            col, batch_size, limit, filter or "", output_fields, partition_names, kwargs
        )

    @milvus_errors
    def search(
        self,
        collection_name: str,
        data: Any = None,
        filter: str = "",
        limit: int = 10,
        output_fields: list[str] | None = None,
        search_params: dict[str, Any] | None = None,
        timeout: float | None = None,
        partition_names: list[str] | None = None,
        anns_field: str | None = None,
        **kwargs: Any,
    ) -> list[Hits]:
        col = self._col(collection_name, loaded=True)
        return _ops.search(
            col,
            data,
            anns_field,
            search_params,
            limit,
            filter,
            output_fields,
            partition_names,
            **kwargs,
        )

    @milvus_errors
    def search_iterator(
        self,
        collection_name: str,
        data: Any,
        batch_size: int = 1000,
        filter: str | None = None,
        limit: int = -1,
        output_fields: list[str] | None = None,
        search_params: dict[str, Any] | None = None,
        timeout: float | None = None,
        partition_names: list[str] | None = None,
        anns_field: str | None = None,
        round_decimal: int = -1,
        **kwargs: Any,
    ) -> SearchIterator:
        """The hits of one query vector, nearest first, ``batch_size`` per
        ``next()`` until ``limit`` (-1: every row) or the collection runs out."""
        col = self._col(collection_name, loaded=True)
        return SearchIterator(
            col,
            data,
            anns_field,
            batch_size,
            limit,
            filter or "",
            output_fields,
            dict(search_params or {}),
            partition_names,
            round_decimal,
        )

    @milvus_errors
    def hybrid_search(
        self,
        collection_name: str,
        reqs: Sequence[Any],
        ranker: Any,
        limit: int = 10,
        output_fields: list[str] | None = None,
        timeout: float | None = None,
        partition_names: list[str] | None = None,
        **kwargs: Any,
    ) -> list[Hits]:
        col = self._col(collection_name, loaded=True)
        return _ops.hybrid(
            col, reqs, ranker, limit, output_fields, partition_names, kwargs.get("offset", 0)
        )

    # --------------------------------------------------------- maintenance
    @milvus_errors
    def flush(self, collection_name: str, **kwargs: Any) -> None:
        self._col(collection_name).flush()

    @milvus_errors
    def compact(self, collection_name: str, **kwargs: Any) -> int:
        """Compact now (synchronously); returns a job id as Milvus does."""
        self._col(collection_name).compact()
        return 0

    def get_server_version(self, **kwargs: Any) -> str:
        """Kestrel's version embedded; the server's through the Milvus backend."""
        return server_version(self._session)

    def close(self) -> None:
        """Let go of the store (closed when no other client of this process holds it)."""
        if not self._closed:
            self._closed = True
            close_session(self._session)


__all__ = ["MilvusClient"]
