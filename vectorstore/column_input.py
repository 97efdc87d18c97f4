"""Column batches: what ``insert`` / ``upsert`` take besides rows.

A batch may be given column by column: a dict of columns (lists or numpy
arrays, one per field), a pandas ``DataFrame`` or a pyarrow ``Table``. Then
numeric columns and vectors are checked with numpy, with no Python object per
row. ``rows.prepare_rows`` tells the two forms apart with ``is_columnar``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import DataError
from .schema import Schema
from .types import DataType

_CONTAINERS = (DataType.JSON, DataType.ARRAY, DataType.SPARSE_FLOAT_VECTOR)


def _is_frame(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "columns")


def _is_table(data: Any) -> bool:
    return type(data).__name__ == "Table" and hasattr(data, "column_names")


def _listlike(value: Any) -> bool:
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim >= 1)


def is_columnar(schema: Schema, data: Any) -> bool:
    """Whether ``data`` is a column batch rather than rows.

    A DataFrame or an Arrow table always is. A dict is a batch of columns when
    one of its values could not be a row's: a list for a field that holds one
    value per row (a number, a bool, a string), or a 2-D value for a dense
    vector field. Anything else is a row, as before.
    """
    if _is_frame(data) or _is_table(data):
        return True
    if not isinstance(data, Mapping):
        return False
    for name, value in data.items():
        if name not in schema.names:
            continue
        field = schema[name]
        if field.dtype is DataType.FLOAT_VECTOR:
            if isinstance(value, np.ndarray):
                if value.ndim == 2:
                    return True
            elif _listlike(value) and len(value) and _listlike(value[0]):
                return True
        elif field.dtype not in _CONTAINERS and _listlike(value):
            return True
    return False


def as_columns(data: Any) -> dict[str, Any]:
    """The columns of a dict, DataFrame or Arrow table: numeric ones as numpy
    arrays (no copy where the source allows), vectors as 2-D arrays when they
    are uniform, the rest as lists of Python values (None for null)."""
    if _is_frame(data):
        out: dict[str, Any] = {}
        for c in data.columns:
            series = data[c]
            out[str(c)] = series.to_numpy() if series.dtype.kind in "biuf" else series.tolist()
        return out
    if _is_table(data):
        return {str(c): _arrow_column(data.column(c)) for c in data.column_names}
    out = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise DataError(f"column names must be strings, got {key!r}")
        if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
            raise DataError(
                f"column {key!r}: expected a list or array of values, got {type(value).__name__}"
            )
        out[key] = value
    return out


def _arrow_column(column: Any) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    kind = column.type
    if column.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return column.to_numpy()
    if column.null_count == 0 and pa.types.is_boolean(kind):
        return column.to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_list(kind) and column.null_count == 0:
        inner = kind.value_type
        if pa.types.is_floating(inner) or pa.types.is_integer(inner):
            flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
            if len(flat) == len(column) * kind.list_size:  # no null inside a vector
                return flat.reshape(len(column), kind.list_size)
    return column.to_pylist()


def column_length(columns: dict[str, Any]) -> int:
    """The number of rows; every column must have it."""
    sizes = {name: len(col) for name, col in columns.items()}
    if not sizes:
        raise DataError("a column batch needs at least one column")
    first, n = next(iter(sizes.items()))
    for name, size in sizes.items():
        if size != n:
            raise DataError(f"column {name!r} has {size} values, column {first!r} has {n}")
    return n


__all__ = ["as_columns", "column_length", "is_columnar"]
