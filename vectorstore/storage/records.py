"""Write operations as WAL payloads, and back.

A record is a dict ``{"op": ..., ...}``; insert and upsert records carry a
validated ``RowBatch``. Numeric columns and vectors travel as raw buffers,
strings/JSON/arrays/dynamic keys in the JSON header (they are JSON values by
construction).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rows import RowBatch, object_column
from .wal import decode, encode

_BATCH_OPS = ("insert", "upsert")


def encode_record(record: dict[str, Any]) -> bytes:
    """The payload of one write operation."""
    if record["op"] not in _BATCH_OPS:
        return encode(record, [])
    batch: RowBatch = record["batch"]
    buffers: list[np.ndarray] = []

    def buf(array: np.ndarray) -> int:
        buffers.append(array)
        return len(buffers) - 1

    scalars: dict[str, Any] = {}
    for name, col in batch.scalars.items():
        scalars[name] = col.tolist() if col.dtype.kind == "O" else {"buf": buf(col)}
    header = {
        "op": record["op"],
        "partition": record["partition"],
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


def decode_record(payload: bytes, pk_field: str) -> dict[str, Any]:
    """Inverse of ``encode_record``."""
    header, buffers = decode(payload)
    if header["op"] not in _BATCH_OPS:
        return header
    scalars: dict[str, np.ndarray] = {}
    for name, col in header["scalars"].items():
        scalars[name] = buffers[col["buf"]] if isinstance(col, dict) else object_column(col)
    batch = RowBatch(
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
    return {"op": header["op"], "partition": header["partition"], "batch": batch}
