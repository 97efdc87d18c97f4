"""pymilvus's ways of passing data to ``insert`` / ``upsert``, as Kestrel batches.

pymilvus takes a row (dict), rows (a list of dicts), columns (a list with one
list or array per field, in the schema's order) or a pandas DataFrame. Columns
become Kestrel's column batch (a dict of columns, checked with numpy); every
check of values (types, dimensions, NaN, duplicate keys) stays Kestrel's, all
or nothing. ``batch_of`` returns the batch and its number of rows.
"""

from __future__ import annotations

from typing import Any

from ..schema import Schema
from .exceptions import DataNotMatchException, DataTypeNotSupportException, ParamError


def column_fields(schema: Schema, upsert: bool) -> list[str]:
    """The fields a column-format batch gives, in order: every declared field
    but function outputs, and (for ``insert``) an auto_id primary key."""
    outputs = set(schema.functions_by_output)
    return [
        f.name
        for f in schema.fields
        if f.name not in outputs and not (f.is_primary and f.auto_id and not upsert)
    ]


def batch_of(data: Any, schema: Schema, upsert: bool = False) -> tuple[Any, int]:
    """``data`` in any of pymilvus's forms, as rows or columns for Kestrel."""
    if isinstance(data, dict):
        return [data], 1
    if _is_dataframe(data):
        return _dataframe_columns(data, schema, upsert)
    if not isinstance(data, (list, tuple)):
        raise DataTypeNotSupportException(
            message="The type of data should be List, pd.DataFrame or Dict"
        )
    if not data or isinstance(data[0], dict):
        if any(not isinstance(r, dict) for r in data):
            raise DataTypeNotSupportException(message="every row of the data must be a dict")
        return list(data), len(data)
    return _columns(list(data), schema, upsert)


def _columns(columns: list[Any], schema: Schema, upsert: bool) -> tuple[dict[str, Any], int]:
    names = column_fields(schema, upsert)
    if len(columns) != len(names):
        raise DataNotMatchException(
            message=f"The data doesn't match with schema fields, expect {len(names)} list, "
            f"got {len(columns)}"
        )
    for name, column in zip(names, columns, strict=True):
        if isinstance(column, (str, bytes, dict)) or not hasattr(column, "__len__"):
            raise DataTypeNotSupportException(
                message=f"The data should be a list of list: field {name!r} got "
                f"{type(column).__name__}"
            )
    sizes = {name: len(column) for name, column in zip(names, columns, strict=True)}
    n = sizes[names[0]]
    for name, size in sizes.items():
        if size != n:
            raise ParamError(
                message=f"Field data size misaligned for field [{name}]: got size=[{size}], "
                f"alignment size=[{n}]"
            )
    return dict(zip(names, columns, strict=True)), n


def _is_dataframe(data: Any) -> bool:
    return type(data).__name__ == "DataFrame" and hasattr(data, "to_dict")


def _dataframe_columns(frame: Any, schema: Schema, upsert: bool) -> tuple[dict[str, Any], int]:
    pk = schema.primary
    columns = [str(c) for c in frame.columns]
    if pk.auto_id and not upsert and pk.name in columns:
        if not frame[pk.name].isnull().all():
            raise DataNotMatchException(
                message=f"Expect no data for auto_id primary field: {pk.name}"
            )
        columns.remove(pk.name)
    names = column_fields(schema, upsert)
    if columns != names:
        raise DataNotMatchException(
            message=f"The fields don't match with schema fields, expected: {names}, got {columns}"
        )
    return _columns([_series(frame[c]) for c in names], schema, upsert)


def _series(series: Any) -> Any:
    """A DataFrame column: numbers as a numpy array, anything else as a list."""
    return series.to_numpy() if series.dtype.kind in "biuf" else series.tolist()


__all__ = ["batch_of", "column_fields"]
