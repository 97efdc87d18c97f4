"""Writing ``query`` rows as JSONL, CSV or Parquet for ``kestrel export``."""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from ..schema import DYNAMIC_FIELD, Field
from ..types import DataType
from ._common import dumps
from .formats import JSON_TYPES, pyarrow_modules


def shortest_float32(values: Any) -> np.ndarray:
    """float32 values as the float64 with the shortest decimal form that reads back
    as the same float32 (``0.1f`` -> ``0.1``, not ``0.10000000149011612``).

    Vectorised: for 1 to 9 significant digits, every value not yet done is
    rounded and kept where it reads back exactly; the rest keep their exact
    float64 value (always correct, only longer).

    Args:
        values: an array (any shape) or nested lists of numbers.

    Returns:
        A float64 array of the same shape; ``float32(out) == float32(values)``.
    """
    x = np.ascontiguousarray(values, dtype=np.float32)
    out = x.astype(np.float64)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    todo = np.flatnonzero(np.isfinite(flat_x) & (flat_x != 0))
    magnitude = np.floor(np.log10(np.abs(flat_out[todo])))
    for digits in range(1, 10):
        if not todo.size:
            break
        exact = flat_out[todo]
        places = digits - 1 - magnitude
        scale = 10.0 ** np.abs(places)
        with np.errstate(over="ignore", invalid="ignore"):
            rounded = np.where(
                places >= 0, np.round(exact * scale) / scale, np.round(exact / scale) * scale
            )
            good = rounded.astype(np.float32) == flat_x[todo]
        flat_out[todo[good]] = rounded[good]
        todo, magnitude = todo[~good], magnitude[~good]
    return out


@dataclass
class Columns:
    """What an export writes: its columns and how each is encoded.

    Attributes:
        fields: declared fields to write, in order (primary key first).
        dynamic: dynamic keys to write as columns (CSV, or named by ``--fields``).
        meta: write every other dynamic key too (JSONL: top-level keys;
            Parquet: one ``$meta`` column of JSON text; CSV: the columns found).
    """

    fields: list[Field]
    dynamic: list[str]
    meta: bool

    @property
    def sparse(self) -> list[str]:
        """Sparse vector fields (float32 weights)."""
        return [f.name for f in self.fields if f.dtype is DataType.SPARSE_FLOAT_VECTOR]

    @property
    def float32(self) -> list[str]:
        """Fields held as float32: dense vectors and FLOAT scalars."""
        return [f.name for f in self.fields if f.dtype in (DataType.FLOAT_VECTOR, DataType.FLOAT)]


def tidy_rows(rows: list[dict[str, Any]], columns: Columns) -> list[dict[str, Any]]:
    """Rows as written: the columns in order, then other dynamic keys sorted (the
    engine keeps no order for them: sorting makes every export of the same data
    the same file); float32 values (vectors, FLOAT fields) in their shortest
    exact decimal form."""
    order = [f.name for f in columns.fields] + columns.dynamic
    known = set(order)
    out = []
    for row in rows:
        tidy = {name: row[name] for name in order if name in row}
        tidy.update((key, row[key]) for key in sorted(row.keys() - known))
        out.append(tidy)
    for name in columns.float32:
        present = [row for row in out if row.get(name) is not None]
        if present:
            short = shortest_float32([row[name] for row in present]).tolist()
            for row, vector in zip(present, short, strict=True):
                row[name] = vector
    for name in columns.sparse:
        for row in out:
            weights = row.get(name)
            if weights:
                short = shortest_float32(list(weights.values())).tolist()
                row[name] = dict(zip(weights, short, strict=True))
    return out


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _csv_text(value: Any) -> str:
    """A cell: text as is, numbers and true/false as JSON, lists and objects as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return _compact_json(value)
    return dumps(value)


class Writer:
    """Writes pages of exported rows to a binary stream."""

    def __init__(self, stream: IO[bytes], columns: Columns):
        self.stream = stream
        self.columns = columns

    def write(self, rows: list[dict[str, Any]]) -> None:  # pragma: no cover - overridden
        """Write one page of rows."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file (not the stream)."""


class JsonlWriter(Writer):
    """One JSON object per line; dynamic keys are top-level keys."""

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.stream.write("".join(dumps(row) + "\n" for row in rows).encode("utf-8"))


class CsvWriter(Writer):
    """A header of the declared fields and dynamic keys, then one line per row."""

    def __init__(self, stream: IO[bytes], columns: Columns, delimiter: str):
        super().__init__(stream, columns)
        self._text = codecs.getwriter("utf-8")(stream)
        names = [f.name for f in columns.fields] + columns.dynamic
        # declared JSON, ARRAY and vector fields: always JSON text (a JSON string too)
        json_typed = {f.name for f in columns.fields if f.dtype in JSON_TYPES}
        self._cells = [(name, _compact_json if name in json_typed else _csv_text) for name in names]
        self._csv = csv.writer(self._text, delimiter=delimiter, lineterminator="\n")
        self._csv.writerow(names)

    def write(self, rows: list[dict[str, Any]]) -> None:
        self._csv.writerows(
            ["" if row.get(name) is None else encode(row[name]) for name, encode in self._cells]
            for row in rows
        )


class ParquetWriter(Writer):
    """Typed columns from the schema; JSON fields and sparse vectors as JSON text;
    dynamic keys in one ``$meta`` column of JSON objects (Milvus's layout)."""

    def __init__(self, stream: IO[bytes], columns: Columns):
        super().__init__(stream, columns)
        pa, pq = pyarrow_modules()
        self._pa = pa
        fields = [pa.field(f.name, _arrow_type(pa, f), nullable=f.nullable) for f in columns.fields]
        self._meta = columns.meta or bool(columns.dynamic)
        if self._meta:
            fields.append(pa.field(DYNAMIC_FIELD, pa.string()))
        self._schema = pa.schema(fields)
        self._declared = [f.name for f in columns.fields]
        self._text_fields = [
            f.name
            for f in columns.fields
            if f.dtype in (DataType.JSON, DataType.SPARSE_FLOAT_VECTOR)
        ]
        self._writer = pq.ParquetWriter(stream, self._schema)

    def write(self, rows: list[dict[str, Any]]) -> None:
        prepared = []
        for row in rows:
            out = {name: row.get(name) for name in self._declared}
            for name in self._text_fields:
                if out[name] is not None:
                    out[name] = dumps(out[name])
            if self._meta:
                extra = {k: v for k, v in row.items() if k not in out}
                out[DYNAMIC_FIELD] = dumps(extra) if extra else None
            prepared.append(out)
        self._writer.write_table(self._pa.Table.from_pylist(prepared, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


def _arrow_type(pa: Any, f: Field) -> Any:
    simple: dict[DataType, Callable[[], Any]] = {
        DataType.BOOL: pa.bool_,
        DataType.INT8: pa.int8,
        DataType.INT16: pa.int16,
        DataType.INT32: pa.int32,
        DataType.INT64: pa.int64,
        DataType.FLOAT: pa.float32,
        DataType.DOUBLE: pa.float64,
        DataType.VARCHAR: pa.string,
    }
    if f.dtype in simple:
        return simple[f.dtype]()
    if f.dtype is DataType.FLOAT_VECTOR:
        return pa.list_(pa.float32())
    if f.dtype is DataType.ARRAY:
        assert f.element_type is not None
        return pa.list_(simple[f.element_type]())
    return pa.string()  # JSON and sparse vectors: JSON text


def open_writer(fmt: str, stream: IO[bytes], columns: Columns, delimiter: str | None) -> Writer:
    """The writer of format ``fmt`` over ``stream``."""
    if fmt == "parquet":
        return ParquetWriter(stream, columns)
    if fmt == "csv":
        return CsvWriter(stream, columns, delimiter or ",")
    return JsonlWriter(stream, columns)


def stdout_is_terminal() -> bool:
    """Whether standard output is an interactive terminal."""
    return sys.stdout.isatty()


__all__ = [
    "Columns",
    "CsvWriter",
    "JsonlWriter",
    "ParquetWriter",
    "Writer",
    "open_writer",
    "shortest_float32",
    "stdout_is_terminal",
    "tidy_rows",
]
