"""Write operations as typed records, and their write-ahead log payloads.

Every write a collection accepts is one of the records below: the collection
logs it (``encode_record``), then applies it to its state; opening a store
decodes the log (``decode_record``) and applies the same records again. The
storage layer only moves records between memory and disk: it never applies
them.

Insert and upsert records carry a validated ``RowBatch``: numeric columns and
vectors travel as raw buffers, strings/JSON/arrays/dynamic keys in the JSON
header (they are JSON values by construction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StorageError
from ..index_spec import Index
from ..rows import RowBatch, object_column
from .wal import Payload, decode, encode

PrimaryKey = int | str


@dataclass(frozen=True)
class Insert:
    """New rows (every key absent) into a partition."""

    partition: str
    batch: RowBatch


@dataclass(frozen=True)
class Upsert:
    """Rows that replace any row with the same key, wherever it is."""

    partition: str
    batch: RowBatch


@dataclass(frozen=True)
class Delete:
    """Rows removed by key (every key present when logged)."""

    ids: list[PrimaryKey]


@dataclass(frozen=True)
class CreatePartition:
    name: str


@dataclass(frozen=True)
class DropPartition:
    name: str


@dataclass(frozen=True)
class CreateIndex:
    """A field's index (re)built over every segment."""

    index: Index


@dataclass(frozen=True)
class DropIndex:
    """A dense field's index dropped: exact search until rebuilt."""

    field: str


Record = Insert | Upsert | Delete | CreatePartition | DropPartition | CreateIndex | DropIndex


def encode_record(record: Record) -> Payload:
    """The payload of one write operation.

    Raises:
        StorageError: not a record type (a programming error, caught before logging).
    """
    if isinstance(record, (Insert, Upsert)):
        op = "insert" if isinstance(record, Insert) else "upsert"
        return _encode_batch(op, record.partition, record.batch)
    if isinstance(record, Delete):
        return encode({"op": "delete", "ids": list(record.ids)}, [])
    if isinstance(record, CreatePartition):
        return encode({"op": "create_partition", "name": record.name}, [])
    if isinstance(record, DropPartition):
        return encode({"op": "drop_partition", "name": record.name}, [])
    if isinstance(record, CreateIndex):
        return encode({"op": "create_index", "index": record.index.to_dict()}, [])
    if isinstance(record, DropIndex):
        return encode({"op": "drop_index", "field": record.field}, [])
    raise StorageError(f"cannot log {record!r}: not a write record")


def decode_record(payload: bytes, pk_field: str) -> Record:
    """Inverse of ``encode_record``.

    Raises:
        StorageError: an operation this version does not know, or a malformed header.
    """
    header, buffers = decode(payload)
    op = header.get("op")
    try:
        if op in ("insert", "upsert"):
            batch = _decode_batch(header, buffers, pk_field)
            kind = Insert if op == "insert" else Upsert
            return kind(_text(header["partition"]), batch)
        if op == "delete":
            return Delete(list(header["ids"]))
        if op == "create_partition":
            return CreatePartition(_text(header["name"]))
        if op == "drop_partition":
            return DropPartition(_text(header["name"]))
        if op == "create_index":
            return CreateIndex(Index.from_dict(header["index"]))
        if op == "drop_index":
            return DropIndex(_text(header["field"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(f"a logged {op!r} record is malformed: {exc!r}") from None
    raise StorageError(f"unknown logged operation {op!r}")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _encode_batch(op: str, partition: str, batch: RowBatch) -> Payload:
    buffers: list[np.ndarray] = []

    def buf(array: np.ndarray) -> int:
        buffers.append(array)
        return len(buffers) - 1

    scalars: dict[str, Any] = {}
    for name, col in batch.scalars.items():
        scalars[name] = col.tolist() if col.dtype.kind == "O" else {"buf": buf(col)}
    header = {
        "op": op,
        "partition": partition,
        "n": batch.num_rows,
        "scalars": scalars,
        "nulls": {name: buf(mask) for name, mask in batch.nulls.items()},
        "vectors": {name: buf(vectors) for name, vectors in batch.vectors.items()},
        "sparse": {
            name: [[[k, v] for k, v in row.items()] for row in rows]
            for name, rows in batch.sparse.items()
        },
        "dynamic": batch.dynamic,
    }
    return encode(header, buffers)


def _decode_batch(header: dict[str, Any], buffers: list[np.ndarray], pk_field: str) -> RowBatch:
    scalars: dict[str, np.ndarray] = {}
    for name, col in header["scalars"].items():
        scalars[name] = buffers[col["buf"]] if isinstance(col, dict) else object_column(col)
    return RowBatch(
        num_rows=header["n"],
        pks=scalars[pk_field].tolist(),
        scalars=scalars,
        nulls={name: buffers[i] for name, i in header["nulls"].items()},
        vectors={name: buffers[i] for name, i in header["vectors"].items()},
        sparse={
            name: [{int(k): float(v) for k, v in row} for row in rows]
            for name, rows in header["sparse"].items()
        },
        dynamic=header["dynamic"],
    )


__all__ = [
    "CreateIndex",
    "CreatePartition",
    "Delete",
    "DropIndex",
    "DropPartition",
    "Insert",
    "Record",
    "Upsert",
    "decode_record",
    "encode_record",
]
