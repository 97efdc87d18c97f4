"""A read-only columnar view of rows: what filters are evaluated over.

Segments hand one of these to the filter evaluator. It holds references (or
views), never copies, so building one is O(number of fields).

Column conventions (per declared scalar field):
- BOOL / INT8..INT64 / FLOAT / DOUBLE: a numpy array of ``DataType.numpy_dtype``;
  a null slot holds 0 / False and is marked in ``nulls``.
- VARCHAR: an object array of ``str`` (``None`` where null).
- JSON: an object array of parsed JSON values (dict, list, str, int, float, bool,
  or ``None`` where the field is null).
- ARRAY: an object array of Python lists (``None`` where null).
Vector fields are not part of a ``ColumnBatch``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .types import DataType


@dataclass(frozen=True)
class FieldType:
    """What the evaluator needs to know of a declared field."""

    dtype: DataType
    element_type: DataType | None = None  # for ARRAY fields
    nullable: bool = False


@dataclass(frozen=True)
class ColumnBatch:
    """Rows ``0 .. num_rows-1`` of a segment, column by column.

    Attributes:
        num_rows: number of rows in every column.
        types: declared scalar fields (vector fields excluded) by name.
        values: field name -> column (see the module docstring).
        nulls: field name -> bool mask, True where the value is null. A field
            absent from this mapping has no nulls.
        dynamic: object array of dicts (one per row) holding the keys that are
            not declared fields, or None when the schema has no dynamic field.
        text_match: ``(field, words) -> mask`` of the rows whose analysed text
            holds any of the analysed words (None: no row matches).
    """

    num_rows: int
    types: Mapping[str, FieldType]
    values: Mapping[str, np.ndarray]
    nulls: Mapping[str, np.ndarray] = field(default_factory=dict)
    dynamic: np.ndarray | None = None
    text_match: Callable[[str, str], np.ndarray] | None = None
