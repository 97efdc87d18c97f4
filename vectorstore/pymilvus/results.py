"""What pymilvus's client returns, reproduced: load states, mutation results,
search hits keyed by the primary field, and the query iterator."""

from __future__ import annotations

import enum
from typing import Any

from ..api import CollectionAPI as Collection
from ..types import Hit
from .exceptions import milvus_errors


class LoadState(enum.IntEnum):
    """pymilvus's load states. Kestrel always holds a collection ready; the state
    is kept so programs that release, load and wait behave as on Milvus."""

    NotExist = 0
    NotLoad = 1
    Loading = 2
    Loaded = 3

    def __repr__(self) -> str:
        return f"<LoadState: {self.name}>"

    __str__ = __repr__


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

    @milvus_errors
    def next(self) -> list[dict[str, Any]]:
        batch = self._keys[self._at : self._at + self._batch_size]
        self._at += len(batch)
        if not batch:
            return []
        return self._col.get(batch, output_fields=self._fields, partitions=self._partitions)

    def close(self) -> None:
        self._keys = []


def hits_of(found: list[list[Hit]], pk_name: str) -> list[Hits]:
    """Kestrel's hits as pymilvus's (one ``Hits`` per query)."""
    return [Hits(MilvusHit(h, pk_name) for h in row) for row in found]


__all__ = ["Hits", "LoadState", "MilvusHit", "OmitZeroDict", "QueryIterator", "hits_of"]
