"""Writes and checks on the client: rows for pymilvus, request sizes, filter types.

Pure helpers used by ``MilvusCollection``: rows arrive validated by the
engine's ``rows.prepare_rows`` and leave as pymilvus row dicts; filters are
type-checked with the engine's own evaluator before any request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import DataError, FilterSyntaxError, IndexConfigError
from ..expr import Expr, parse
from ..expr.check import FilterChecker as SchemaFilters
from ..functions import BM25
from ..rows import RowBatch
from ..schema import Schema
from ..types import DataType

INSERT_BYTES = 16 << 20  # rows per insert request: about this many bytes (gRPC limit: 64 MiB)
INDEX_WAIT_S = 600.0


def check_lite_json(schema: Schema, batch: RowBatch) -> None:
    """Milvus Lite keeps only objects and arrays in a JSON field: it refuses a bare
    number or bool, and takes a bare string that it then cannot read back. Refuse
    all three before sending anything.

    Raises:
        DataError: a JSON field holds a string, number or bool.
    """
    for f in schema.scalar_fields:
        if f.dtype is not DataType.JSON:
            continue
        for i, value in enumerate(batch.scalars[f.name].tolist()):
            if value is not None and not isinstance(value, (dict, list)):
                raise DataError(
                    f"row {i}, field {f.name!r}: Milvus Lite stores only objects and arrays "
                    f"in a JSON field, not a {type(value).__name__} (Milvus servers from 2.4 do)"
                )


def wire_rows(schema: Schema, batch: RowBatch) -> list[dict[str, Any]]:
    """A validated batch as pymilvus rows: no BM25 output (Milvus computes it),
    no auto_id key, nulls as None, JSON as JSON text, dynamic keys at the top level."""
    bm25 = {fn.output for fn in schema.functions if isinstance(fn, BM25)}
    names: list[str] = []
    columns: list[list[Any]] = []
    for f in schema.fields:
        if f.auto_id or f.name in bm25:
            continue
        if f.name in batch.vectors:
            values: list[Any] = batch.vectors[f.name].tolist()
        elif f.name in batch.sparse:
            values = list(batch.sparse[f.name])
        else:
            values = batch.scalars[f.name].tolist()
            if f.dtype is DataType.JSON:  # pymilvus reads a str as JSON text: "a" stays a string
                values = [json.dumps(v) for v in values]
            null = batch.nulls.get(f.name)
            if null is not None:
                values = [None if z else v for v, z in zip(values, null.tolist(), strict=True)]
        names.append(f.name)
        columns.append(values)
    out = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    if not columns:
        out = [{} for _ in range(batch.num_rows)]
    if batch.dynamic is not None:
        for row, extra in zip(out, batch.dynamic, strict=True):
            row.update(extra)
    return out


def chunks(schema: Schema, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows split into requests of about ``INSERT_BYTES`` (a rough size estimate)."""
    if not rows:
        return []
    per_row = max(1, _estimate_bytes(rows[0], schema))
    size = max(1, min(len(rows), INSERT_BYTES // per_row))
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def _estimate_bytes(row: Mapping[str, Any], schema: Schema) -> int:
    """A rough wire size of one row (vectors dominate; text and JSON by length)."""
    size = 64
    for key, value in row.items():
        f = schema.get(key)
        if f is not None and f.dtype is DataType.FLOAT_VECTOR:
            size += 4 * (f.dim or 0)
        elif isinstance(value, str):
            size += len(value.encode("utf-8", "replace")) + 8
        elif isinstance(value, (dict, list)):
            size += 16 * len(value) + len(repr(value))
        else:
            size += 16
    return size


def plain(value: Any) -> Any:
    """A numpy scalar from pymilvus as a Python one."""
    return value.item() if isinstance(value, np.generic) else value


def wait_until(ready: Callable[[], bool], what: str, timeout: float = INDEX_WAIT_S) -> None:
    """Poll ``ready`` with a short, growing sleep until it is true.

    Raises:
        IndexConfigError: still not ready after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while not ready():
        if time.monotonic() > deadline:
            raise IndexConfigError(f"Milvus did not finish {what} within {timeout:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


class FilterChecker:
    """Type-checks filters against a schema, as the embedded engine does before
    it reads anything (``expr.check``, the same checker): an unknown field
    (without dynamic fields) or an ill-typed comparison raises
    ``FilterTypeError`` even on an empty collection. Text Kestrel cannot parse
    is left to Milvus (its error is classified later)."""

    def __init__(self, schema: Schema):
        self._checker = SchemaFilters(schema.field_types(), schema.enable_dynamic_field)

    def check(self, given: str | Expr, params: Mapping[str, object] | None) -> None:
        """Raise ``FilterTypeError`` (or a template's ``FilterSyntaxError``) for a bad filter."""
        if isinstance(given, str):
            try:
                parse(given)
            except FilterSyntaxError:
                return  # Milvus decides
        self._checker.compile(given, params)


__all__ = ["FilterChecker", "check_lite_json", "chunks", "plain", "wait_until", "wire_rows"]
