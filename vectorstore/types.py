"""Plain value types shared by every layer: data types, metrics and hits."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np


class DataType(enum.IntEnum):
    """Field data types. The numbers are Milvus's, so schemas map one to one."""

    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    FLOAT = 10
    DOUBLE = 11
    VARCHAR = 21
    ARRAY = 22
    JSON = 23
    FLOAT_VECTOR = 101
    SPARSE_FLOAT_VECTOR = 104

    @property
    def is_vector(self) -> bool:
        return self in (DataType.FLOAT_VECTOR, DataType.SPARSE_FLOAT_VECTOR)

    @property
    def is_integer(self) -> bool:
        return self in _INT_RANGES

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT, DataType.DOUBLE)

    @property
    def is_numeric(self) -> bool:
        return self.is_integer or self.is_float

    @property
    def numpy_dtype(self) -> np.dtype[Any]:
        """The dtype of this type's column; ``object`` for VARCHAR/JSON/ARRAY."""
        dtype: np.dtype[Any] = np.dtype(_NUMPY_DTYPES.get(self, object))
        return dtype


_NUMPY_DTYPES: dict[DataType, Any] = {
    DataType.BOOL: np.bool_,
    DataType.INT8: np.int8,
    DataType.INT16: np.int16,
    DataType.INT32: np.int32,
    DataType.INT64: np.int64,
    DataType.FLOAT: np.float32,
    DataType.DOUBLE: np.float64,
}

_INT_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.INT8: (-(2**7), 2**7 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
}


def int_range(dtype: DataType) -> tuple[int, int]:
    """The inclusive (min, max) of an integer data type."""
    return _INT_RANGES[dtype]


class Metric(str, enum.Enum):
    """Distance metrics, with Milvus's conventions for the reported ``distance``.

    COSINE and IP: larger is closer. L2: squared Euclidean distance, smaller is
    closer. BM25 (sparse fields filled by a BM25 function): the BM25 score,
    larger is closer.
    """

    L2 = "L2"
    IP = "IP"
    COSINE = "COSINE"
    BM25 = "BM25"

    @property
    def larger_is_closer(self) -> bool:
        return self is not Metric.L2


class Hit(Mapping[str, Any]):
    """One search result: the primary key, the metric's raw distance, and fields.

    A hit reads like pymilvus's: ``hit.id``, ``hit.distance`` (``hit.score``), ``hit.entity`` or
    ``hit["id"]``, ``hit["distance"]``, ``hit["entity"]``; ``hit["text"]`` reads an
    output field directly.
    """

    __slots__ = ("distance", "entity", "id")

    def __init__(self, id: int | str, distance: float, entity: dict[str, Any]):
        self.id = id
        self.distance = distance
        self.entity = entity

    def __getitem__(self, key: str) -> Any:
        if key == "id":
            return self.id
        if key == "distance":
            return self.distance
        if key == "entity":
            return self.entity
        return self.entity[key]

    @property
    def score(self) -> float:
        """The distance (pymilvus's alias)."""
        return self.distance

    def __iter__(self) -> Iterator[str]:
        return iter(("id", "distance", "entity"))

    def __len__(self) -> int:
        return 3

    def to_dict(self) -> dict[str, Any]:
        """The hit as a plain dict ``{"id", "distance", "entity"}``."""
        return {"id": self.id, "distance": self.distance, "entity": dict(self.entity)}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Hit):
            return (self.id, self.distance, self.entity) == (other.id, other.distance, other.entity)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Hit(id={self.id!r}, distance={self.distance:.6g}, entity={self.entity!r})"


# ``stats()`` figures of the embedded engine's segment layout (None on a backend
# that does not expose them, as Milvus's).
LAYOUT_STATS = ("deleted_rows", "segments", "sealed_segments", "unindexed_rows")


class Hits(list[Hit]):
    """One query's hits, best first: a ``list`` of ``Hit``, plus pymilvus's
    ``ids`` and ``distances``.

    Each call returns a new list. A search's hits are read without building the
    ``Hit`` objects when only ``ids`` and ``distances`` are asked for (the fast
    search path's ``HitList``), so ``hits.ids`` is the cheap way to read keys.
    """

    __slots__ = ()

    @property
    def ids(self) -> list[int | str]:
        """The hits' primary keys, in order."""
        return [h.id for h in self]

    @property
    def distances(self) -> list[float]:
        """The hits' distances, in order."""
        return [h.distance for h in self]
