"""The calls ``MilvusClient`` and the ORM share: search, query and the checks
Milvus makes before them, translated to Kestrel's collection API."""

from __future__ import annotations

from typing import Any

from ..api import CollectionAPI as Collection
from ..search import AnnRequest
from ._session import Session
from .exceptions import (
    COLLECTION_NOT_LOADED,
    INDEX_NOT_FOUND,
    INVALID_PARAMETER,
    MilvusException,
    ParamError,
)
from .results import Hits, hits_of

COUNT = "count(*)"


def one_or_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_loaded(session: Session, name: str) -> None:
    """Milvus reads only loaded collections (Kestrel's are always ready: the
    state is pymilvus's, kept so programs that forget ``load`` fail here too)."""
    if name in session.released:
        raise MilvusException(
            COLLECTION_NOT_LOADED,
            f"collection not loaded[collection={name}]: call load() / load_collection() first",
        )


def check_indexed(session: Session, name: str) -> None:
    """Milvus loads only indexed collections."""
    if name in session.unindexed:
        raise MilvusException(
            INDEX_NOT_FOUND,
            f"index not found[collection={name}]: create an index on the vector field first",
        )


def search(
    col: Collection,
    data: Any,
    anns_field: str | None,
    param: dict[str, Any] | None,
    limit: int,
    expr: str | None,
    output_fields: list[str] | None,
    partition_names: list[str] | None,
    **kwargs: Any,
) -> list[Hits]:
    """A search as Milvus runs it; ``param`` is Milvus's search parameter dict
    (``metric_type``, ``params``, ``offset``)."""
    params = dict(param or {})
    offset = kwargs.get("offset", params.pop("offset", 0))
    found = col.search(
        data,
        anns_field=anns_field or None,
        limit=limit,
        filter=expr or "",
        offset=offset or 0,
        output_fields=output_fields,
        search_params=params,
        partitions=partition_names,
        filter_params=kwargs.get("filter_params") or kwargs.get("expr_params"),
        group_by_field=kwargs.get("group_by_field"),
        group_size=kwargs.get("group_size") or 1,
    )
    hits = hits_of(found, col.schema.primary.name, output_fields)
    decimals = kwargs.get("round_decimal", -1)
    if isinstance(decimals, int) and decimals >= 0:
        for row in hits:
            for hit in row:
                hit["distance"] = round(hit.distance, decimals)
    return hits


def hybrid(
    col: Collection,
    reqs: Any,
    ranker: Any,
    limit: int,
    output_fields: list[str] | None,
    partition_names: list[str] | None,
    offset: int = 0,
) -> list[Hits]:
    """A hybrid search of pymilvus's ``AnnSearchRequest``s (or Kestrel's)."""
    requests = [r if isinstance(r, AnnRequest) else r.to_request() for r in reqs]
    found = col.hybrid_search(
        requests,
        ranker,
        limit=limit,
        offset=offset,
        output_fields=output_fields,
        partitions=partition_names,
    )
    return hits_of(found, col.schema.primary.name, output_fields)


def delete_matching(col: Collection, expr: Any, partition: str | None, kwargs: Any) -> int:
    """The ORM's ``delete(expr)``: a filter expression (never a key), as Milvus takes it."""
    if not isinstance(expr, str) or not expr.strip():
        raise ParamError(message=f"delete needs a filter expression, got {expr!r}")
    params = kwargs.get("expr_params") or kwargs.get("filter_params")
    return col.delete(filter=expr, filter_params=params, partition=partition)


def query(
    col: Collection,
    expr: str,
    output_fields: list[str] | None,
    partition_names: list[str] | None,
    ids: Any = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """A query as Milvus runs it, ``count(*)`` included. A query with neither a
    filter nor a limit is refused, as a Milvus server refuses it (Milvus Lite
    returns every row): use ``query_iterator`` to read a whole collection."""
    params = kwargs.get("filter_params") or kwargs.get("expr_params")
    fields = list(output_fields or ["*"])
    limit, offset = kwargs.get("limit"), kwargs.get("offset", 0) or 0
    if COUNT in fields:
        if len(fields) > 1:
            raise ParamError(message="count(*) cannot be combined with other output fields")
        pks = one_or_list(ids)
        if pks:
            pk = col.schema.primary.name
            return [{COUNT: len(col.get(pks, output_fields=[pk], partitions=partition_names))}]
        n = col.count(filter=expr or "", filter_params=params, partitions=partition_names)
        return [{COUNT: n}]
    if ids is not None:
        rows = col.get(one_or_list(ids), output_fields=fields, partitions=partition_names)
        return rows[offset : None if limit is None else offset + limit]
    if not expr and limit is None:
        raise MilvusException(
            INVALID_PARAMETER,
            "empty expression should be used with limit: pass a filter or a limit "
            "(query_iterator reads a whole collection)",
        )
    return col.query(
        filter=expr or "",
        output_fields=fields,
        limit=limit,
        offset=offset,
        partitions=partition_names,
        filter_params=params,
    )


__all__ = [
    "COUNT",
    "check_indexed",
    "check_loaded",
    "delete_matching",
    "hybrid",
    "one_or_list",
    "query",
    "search",
]
