"""Reading rows from JSONL, CSV and Parquet files for ``kestrel import``.

Sources yield ``Record``s (a row's raw values and its line or row number);
``RowConverter`` turns them into rows for ``insert`` by the collection's schema.

CSV cells are typed by the schema when the column is a declared field (INT:
integer literals; FLOAT/DOUBLE: numbers; BOOL: true/false/1/0/yes/no;
VARCHAR: the text as is; JSON, ARRAY and vectors: JSON text) and otherwise by
``infer_cell``: a cell that is a JSON number, ``true``/``false``, an array or
an object is parsed as JSON, anything else stays text (so ``007``, ``1,5``,
``NaN`` and ``null`` stay text). An empty cell is a missing value.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import click

from ..schema import DYNAMIC_FIELD, Field, Schema
from ..types import DataType
from ._common import CliError
from .formats import JSON_TYPES, default_delimiter, pyarrow_modules

_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_JSON_INT = re.compile(r"-?[0-9]+\Z")
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass
class Record:
    """One row as read: raw values and its 1-based position in the file."""

    position: int
    values: dict[str, Any]
    text_cells: bool = False  # CSV: every value is the cell's text


class Source:
    """A file of rows, read record by record (the importer batches them).

    Attributes:
        label: the file name used in messages.
        unit: ``"line"`` (JSONL, CSV) or ``"row"`` (Parquet).
        total: the progress bar's total (bytes or rows), if known.
    """

    unit = "line"

    def __init__(self, label: str):
        self.label = label
        self.total: int | None = None

    def records(self) -> Iterator[Record]:  # pragma: no cover - overridden
        """Every record, in file order."""
        raise NotImplementedError

    def progress(self) -> int:
        """How far reading got, in the unit of ``total`` (bytes or rows)."""
        return 0

    def close(self) -> None:
        """Release the file."""

    def where(self, position: int) -> str:
        """``"data.jsonl line 7"``."""
        return f"{self.label} {self.unit} {position}"

    def fail(self, position: int, message: str) -> CliError:
        """An error naming the file and the position."""
        return CliError(f"{self.where(position)}: {message}")


class _TextSource(Source):
    """JSONL and CSV: text read through a byte counter for the progress bar."""

    def __init__(self, path: str):
        super().__init__("stdin" if path == "-" else path)
        self._raw: IO[bytes]
        if path == "-":
            self._raw = sys.stdin.buffer
        else:
            self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
            self.total = os.fstat(self._raw.fileno()).st_size
        binary: IO[bytes] = self._raw
        if path.endswith(".gz"):
            binary = gzip.GzipFile(fileobj=self._raw)  # type: ignore[assignment]
        self.text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")

    def progress(self) -> int:
        try:
            return self._raw.tell() if self.total is not None else 0
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self.label != "stdin":
            self.text.close()
            self._raw.close()  # a GzipFile does not close the file it reads

    def _lines(self) -> Iterator[str]:
        try:
            yield from self.text
        except UnicodeDecodeError as exc:
            raise CliError(f"{self.label}: not UTF-8 text ({exc.reason})") from None
        except (OSError, EOFError) as exc:  # gzip: bad or truncated data
            raise CliError(f"{self.label}: cannot be read ({exc})") from None


class JsonlSource(_TextSource):
    """One JSON object per line; blank lines are skipped."""

    def records(self) -> Iterator[Record]:
        for number, line in enumerate(self._lines(), 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                message = f"invalid JSON ({exc.msg} at column {exc.pos + 1})"
                raise self.fail(number, message) from None
            if not isinstance(value, dict):
                raise self.fail(number, f"expected a JSON object, got {_json_kind(value)}")
            yield Record(number, value)


class CsvSource(_TextSource):
    """A header line, then one row per record (quoted cells may span lines)."""

    def __init__(self, path: str, delimiter: str | None):
        super().__init__(path)
        self.delimiter = delimiter or default_delimiter(path)

    def records(self) -> Iterator[Record]:
        reader = csv.reader(self._lines(), delimiter=self.delimiter, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            duplicated = sorted({h for h in header if header.count(h) > 1})
            if duplicated or "" in header:
                problem = f"repeats {duplicated}" if duplicated else "has an empty column name"
                raise self.fail(1, f"the header {problem}")
            end = reader.line_num
            for cells in reader:
                start, end = end + 1, reader.line_num
                if not cells or cells == [""]:
                    continue
                if len(cells) != len(header):
                    raise self.fail(
                        start, f"{len(cells)} cells, but the header has {len(header)} columns"
                    )
                yield Record(start, dict(zip(header, cells, strict=True)), text_cells=True)
        except csv.Error as exc:
            raise self.fail(reader.line_num, f"malformed CSV ({exc})") from None


class ParquetSource(Source):
    """A Parquet file, read in record batches."""

    unit = "row"

    def __init__(self, path: str, batch_size: int):
        super().__init__(path)
        if path == "-":
            raise click.UsageError("Parquet cannot be read from stdin; give a file")
        _, pq = pyarrow_modules()
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow.ArrowException and friends
            raise CliError(f"{path}: not a readable Parquet file ({exc})") from None
        self.total = int(self._file.metadata.num_rows)
        self._batch_size = batch_size
        self._done = 0

    def records(self) -> Iterator[Record]:
        try:
            for batch in self._file.iter_batches(batch_size=self._batch_size):
                for values in batch.to_pylist():
                    self._done += 1
                    yield Record(self._done, values)
        except Exception as exc:  # a damaged row group
            raise self.fail(self._done + 1, f"cannot be read ({exc})") from None

    def progress(self) -> int:
        return self._done

    def close(self) -> None:
        self._file.close()


def open_source(path: str, fmt: str, *, batch_size: int, delimiter: str | None) -> Source:
    """A ``Source`` for ``path`` (``-``: stdin) in format ``fmt``."""
    if fmt == "parquet":
        return ParquetSource(path, batch_size)
    if fmt == "csv":
        return CsvSource(path, delimiter)
    return JsonlSource(path)


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


# ---------------------------------------------------------------- conversion
def infer_cell(text: str) -> Any:
    """A CSV cell of a column that is not a declared field.

    JSON numbers, ``true``, ``false``, arrays and objects are parsed as JSON;
    anything else (``007``, ``1,5``, ``NaN``, ``null``, words) stays text.
    """
    stripped = text.strip()
    if stripped in ("true", "false"):
        return stripped == "true"
    if _JSON_NUMBER.match(stripped):
        return int(stripped) if _JSON_INT.match(stripped) else float(stripped)
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return text
    return text


def typed_cell(f: Field, text: str) -> Any:
    """A CSV cell of declared field ``f``, by its type.

    Raises:
        ValueError: the cell does not hold a value of that type (the message
            says what was expected).
    """
    dt = f.dtype
    stripped = text.strip()
    if dt.is_integer:
        if not _INTEGER.match(stripped):
            raise ValueError(f"expected an integer, got {text!r}")
        return int(stripped)
    if dt.is_float:
        try:
            return float(stripped)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if dt is DataType.BOOL:
        lowered = stripped.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise ValueError(f"expected true/false (or 1/0, yes/no), got {text!r}")
    if dt in JSON_TYPES:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected JSON text ({exc.msg} at column {exc.colno})") from None
    return text  # VARCHAR


@dataclass
class RowConverter:
    """Turns records into rows for ``insert`` by a collection's schema.

    Args:
        schema: the collection's schema.
        renames: file column -> field (``--id-field`` and friends).
    """

    schema: Schema
    renames: Mapping[str, str] = field(default_factory=dict)

    def row(self, record: Record, source: Source) -> dict[str, Any]:
        """The insert row of ``record``.

        Raises:
            CliError: a value cannot be converted (names the position and column).
        """
        values = record.values
        if self.renames:
            values = dict(values)
            for column, target in self.renames.items():
                if column in values:
                    if target in values:
                        raise source.fail(
                            record.position, f"has both {column!r} and {target!r} (its field)"
                        )
                    values[target] = values.pop(column)
        out: dict[str, Any] = {}
        for key, value in values.items():
            f = self.schema.get(key)
            try:
                if key == DYNAMIC_FIELD:
                    self._merge_meta(out, value, values)
                    continue
                if record.text_cells:
                    converted = self._cell(f, value)
                    if converted is _MISSING:
                        continue
                elif value is None and f is None and self._columnar(source):
                    continue  # a null cell of an undeclared column: no such key
                else:
                    converted = self._value(f, value, source)
            except ValueError as exc:
                raise source.fail(record.position, f"column {key!r}: {exc}") from None
            if f is not None and f.dtype is DataType.SPARSE_FLOAT_VECTOR:
                converted = _sparse_keys(converted)
            out[key] = converted
        return out

    def _cell(self, f: Field | None, text: str) -> Any:
        if text == "":
            if f is not None and f.dtype is DataType.VARCHAR and not f.nullable:
                return "" if f.default_value is None else _MISSING
            return _MISSING
        return infer_cell(text) if f is None else typed_cell(f, text)

    @staticmethod
    def _columnar(source: Source) -> bool:
        return isinstance(source, ParquetSource)

    def _value(self, f: Field | None, value: Any, source: Source) -> Any:
        if f is None or value is None:
            return value
        if isinstance(value, str) and f.dtype in JSON_TYPES and self._columnar(source):
            try:  # Parquet carries JSON, sparse vectors (and Milvus's $meta) as JSON text
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected JSON text ({exc.msg})") from None
        return value

    def _merge_meta(self, out: dict[str, Any], value: Any, values: Mapping[str, Any]) -> None:
        if value is None:
            return
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON object ({exc.msg})") from None
        if not isinstance(value, Mapping):
            raise ValueError("expected an object of dynamic fields")
        for key, item in value.items():
            if key in values:
                raise ValueError(f"dynamic field {key!r} is also a column")
            out[key] = item


_MISSING: Any = object()


def _sparse_keys(value: Any) -> Any:
    """A sparse vector from JSON, whose keys are strings: ``{"12": 0.5}`` -> ``{12: 0.5}``
    (keys that are not digits, and values that are not objects, are left to the engine)."""
    if not isinstance(value, Mapping):
        return value
    return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()}


__all__ = [
    "CsvSource",
    "JsonlSource",
    "ParquetSource",
    "Record",
    "RowConverter",
    "Source",
    "infer_cell",
    "open_source",
    "typed_cell",
]
