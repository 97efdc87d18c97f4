"""What pymilvus's client returns, reproduced: load states, mutation results,
search hits keyed by the primary field, and the query iterator."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from ..api import CollectionAPI as Collection
from ..types import Hit
from .exceptions import ParamError, milvus_errors


class LoadState(enum.IntEnum):
    """pymilvus's load states. Kestrel always holds a collection ready; the state
    is kept so programs that release, load and wait behave as on Milvus."""

    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self) -> str:
        return f"<LoadState: {self.name}>"

    def __str__(self) -> str:
        return self.name


class OmitZeroDict(dict):
    """pymilvus's mutation result: a dict whose printed form omits zero values
    (``cost``); ``==`` and ``[]`` see every key."""

    def __str__(self) -> str:
        return str({k: v for k, v in self.items() if v or k.endswith("_count")})

    def __repr__(self) -> str:
        return str(dict(self))


class MilvusHit(dict):
    """One hit as pymilvus returns it: the dict ``{<key field>, "distance", "entity"}``,
    where ``hit["color"]``, ``hit.get("color")`` and ``hit.color`` also read an
    output field, ``hit.id`` / ``hit.pk``, ``hit.distance`` / ``hit.score`` and
    ``hit.fields`` (the entity) are attributes, and ``hit.entity`` is the hit
    itself (pymilvus's ORM patch), so ``hit.entity.get("color")`` works."""

    def __init__(self, hit: Hit, pk_name: str):
        super().__init__({pk_name: hit.id, "distance": float(hit.distance), "entity": hit.entity})
        self._pk_name = pk_name

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            return super().__getitem__("entity")[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def id(self) -> Any:
        return super().__getitem__(self._pk_name)

    pk = id

    @property
    def distance(self) -> float:
        return float(super().__getitem__("distance"))

    score = distance

    @property
    def entity(self) -> MilvusHit:
        return self

    @property
    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = super().__getitem__("entity")
        return fields

    def to_dict(self) -> dict[str, Any]:
        return self


class Hits(list):
    """The hits of one query (a list of ``MilvusHit``), with ``ids`` and ``distances``."""

    @property
    def ids(self) -> list[Any]:
        return [h.id for h in self]

    @property
    def distances(self) -> list[float]:
        return [h.distance for h in self]


class SearchResult(list):
    """The ORM's search result: one ``Hits`` per query (``recalls`` and ``extra``
    as pymilvus has them; Kestrel reports neither)."""

    def __init__(self, hits: list[Hits]):
        super().__init__(hits)
        self.recalls: list[float] | None = None
        self.extra: dict[str, Any] = {}

    def __str__(self) -> str:
        more = f" ... and {len(self) - 10} results remaining" if len(self) > 10 else ""
        return f"data: {list(self[:10])}{more}"

    __repr__ = __str__


class MutationResult:
    """What the ORM's ``insert`` / ``upsert`` / ``delete`` return."""

    def __init__(
        self,
        primary_keys: list[Any] | None = None,
        insert_count: int = 0,
        delete_count: int = 0,
        upsert_count: int = 0,
    ):
        self.primary_keys = list(primary_keys or [])
        self.insert_count = insert_count
        self.delete_count = delete_count
        self.upsert_count = upsert_count
        self.timestamp = 0
        self.cost = 0
        self.err_count = 0
        self.err_index: list[int] = []

    @property
    def succ_count(self) -> int:
        return self.insert_count + self.upsert_count

    @property
    def succ_index(self) -> list[int]:
        return list(range(self.succ_count))

    def __str__(self) -> str:
        # pymilvus's own text (its closing parenthesis is printed only with a cost)
        return (
            f"(insert count: {self.insert_count}, delete count: {self.delete_count}, "
            f"upsert count: {self.upsert_count}, timestamp: {self.timestamp}, "
            f"success count: {self.succ_count}, err count: {self.err_count}"
        )

    __repr__ = __str__


class QueryIterator:
    """Rows passing a filter, ``batch_size`` at a time in primary-key order, as
    pymilvus's: call ``next()`` until it returns ``[]``, then ``close()``. The
    matching keys are taken when it is created; rows deleted since are skipped.
    No 16,384-row ceiling: this is how to read a whole collection."""

    def __init__(
        self,
        col: Collection,
        batch_size: int,
        keys: list[Any],
        output_fields: list[str],
        partitions: list[str] | None,
    ):
        self._col = col
        self._batch_size = batch_size
        self._keys = keys
        self._fields = output_fields
        self._partitions = partitions
        self._at = 0

    @classmethod
    def over(
        cls,
        col: Collection,
        batch_size: int,
        limit: int | None,
        expr: str,
        output_fields: list[str] | None,
        partitions: list[str] | None,
        kwargs: dict[str, Any],
    ) -> QueryIterator:
        """Every row of ``col`` passing ``expr`` (``limit`` -1: all; ``offset``
        in ``kwargs`` skips), in primary-key order."""
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ParamError(message=f"batch_size must be a positive integer, got {batch_size!r}")
        pk = col.schema.primary.name
        params = kwargs.get("filter_params") or kwargs.get("expr_params")
        found = col.query(
            filter=expr, output_fields=[pk], partitions=partitions, filter_params=params
        )
        keys = sorted(r[pk] for r in found)
        offset = int(kwargs.get("offset", 0) or 0)
        keys = keys[offset:] if limit is None or limit < 0 else keys[offset : offset + limit]
        return cls(col, batch_size, keys, list(output_fields or ["*"]), partitions)

    @milvus_errors
    def next(self) -> list[dict[str, Any]]:
        batch = self._keys[self._at : self._at + self._batch_size]
        self._at += len(batch)
        if not batch:
            return []
        return self._col.get(batch, output_fields=self._fields, partitions=self._partitions)

    def close(self) -> None:
        self._keys = []


def hits_of(
    found: Sequence[Sequence[Hit]], pk_name: str, output_fields: list[str] | None = None
) -> list[Hits]:
    """Kestrel's hits as pymilvus's (one ``Hits`` per query). Milvus puts the key
    in the entity too when the output fields name it (or ``*``)."""
    hits = [Hits(MilvusHit(h, pk_name) for h in row) for row in found]
    if output_fields and (pk_name in output_fields or "*" in output_fields):
        for row in hits:
            for hit in row:
                hit["entity"] = {pk_name: hit.id, **hit.fields}
    return hits


__all__ = [
    "Hits",
    "LoadState",
    "MilvusHit",
    "MutationResult",
    "OmitZeroDict",
    "QueryIterator",
    "SearchResult",
    "hits_of",
]
