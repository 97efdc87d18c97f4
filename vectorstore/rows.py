"""Validation of incoming rows against a schema, into columns.

``prepare_rows`` checks a whole batch before anything is written: a batch that
fails leaves the collection exactly as it was. Values are copied (JSON through a
JSON round trip), so a caller mutating its dicts afterwards changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .column_input import as_columns, column_length, is_columnar
from .errors import DataError, DimensionMismatchError, DuplicateKeyError
from .functions import FunctionType
from .scalars import FLOAT32_MAX, check_scalar, copy_json
from .schema import DYNAMIC_FIELD, Field, Schema
from .types import DataType, int_range

PrimaryKey = int | str
_NUMERIC = "iuf"  # numpy kinds a vector may be given as (not bool, str, object)


# The dynamic keys of every row that has none: one dict, shared by batches and
# stored columns (segments hand out copies, and no stored row's dict is ever
# changed in place), so a million keyless rows cost no million empty dicts.
NO_KEYS: dict[str, Any] = {}


@dataclass
class RowBatch:
    """A validated batch, column by column.

    Attributes:
        num_rows: rows in the batch.
        pks: primary keys in row order (None for rows awaiting an auto id).
        scalars: every scalar field (the primary key too) as a column.
        nulls: nullable fields that hold at least one null -> mask (True = null).
        vectors: FLOAT_VECTOR fields -> float32 array of shape (num_rows, dim).
        sparse: SPARSE_FLOAT_VECTOR fields -> list of {index: weight} dicts.
        dynamic: undeclared keys per row, or None when dynamic fields are off.
    """

    num_rows: int
    pks: list[Any]
    scalars: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray]
    vectors: dict[str, np.ndarray]
    sparse: dict[str, list[dict[int, float]]]
    dynamic: list[dict[str, Any]] | None

    def slice(self, start: int, stop: int) -> RowBatch:
        """Rows ``start:stop`` as a batch of their own (views, no copies)."""
        return RowBatch(
            num_rows=stop - start,
            pks=self.pks[start:stop],
            scalars={k: v[start:stop] for k, v in self.scalars.items()},
            nulls={k: v[start:stop] for k, v in self.nulls.items()},
            vectors={k: v[start:stop] for k, v in self.vectors.items()},
            sparse={k: v[start:stop] for k, v in self.sparse.items()},
            dynamic=None if self.dynamic is None else self.dynamic[start:stop],
        )

    def set_pks(self, pks: Sequence[int], field_name: str) -> None:
        """Fill generated primary keys (auto_id)."""
        self.pks = list(pks)
        self.scalars[field_name] = np.asarray(pks, dtype=np.int64)


def check_vectors(field: Field, values: Sequence[Any], row_base: int = 0) -> np.ndarray:
    """Stack dense vectors into float32 (n, dim), checking shape and finiteness.

    Raises:
        DimensionMismatchError: a vector has the wrong number of dimensions.
        DataError: a vector is not numeric, or holds NaN/inf.
    """
    dim = field.dim
    assert dim is not None
    if len(values) == 0:
        return np.empty((0, dim), dtype=np.float32)
    try:
        # numbers only: numpy would turn "1" or True into 1.0 if asked for float32
        raw = np.asarray(values)
        with np.errstate(over="ignore"):  # overflow to inf is reported below, as ours
            arr = raw.astype(np.float32, copy=False)
        ok = raw.dtype.kind in _NUMERIC and arr.ndim == 2 and arr.shape[1] == dim
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:  # find the culprit for a precise message
        for i, v in enumerate(values):
            where = f"row {row_base + i}, field {field.name!r}"
            try:
                one = np.asarray(v)
            except (TypeError, ValueError, OverflowError):
                raise DataError(f"{where}: expected a vector of {dim} numbers") from None
            if one.dtype.kind not in _NUMERIC:
                raise DataError(
                    f"{where}: expected a vector of {dim} numbers, got {one.dtype.name} values"
                )
            if one.ndim != 1:
                raise DataError(f"{where}: expected a flat vector, got shape {one.shape}")
            if one.shape[0] != dim:
                raise DimensionMismatchError(
                    f"{where}: vector has {one.shape[0]} dimensions, the field has {dim}"
                )
        raise DataError(f"field {field.name!r}: expected vectors of {dim} numbers")
    if not np.isfinite(arr).all():
        bad = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise DataError(f"row {row_base + bad}, field {field.name!r}: vector holds NaN or inf")
    arr = np.ascontiguousarray(arr)
    given: Any = values  # an array, or rows that asarray stacked into a new one
    if not arr.flags.owndata or (isinstance(given, np.ndarray) and np.may_share_memory(arr, given)):
        # The caller's memory (a float32 matrix is used as given): a copy, so the
        # batch is what was passed, whatever the caller's threads write to it
        # while it is logged (the log's CRC is taken before its bytes are written).
        arr = arr.copy()
    return arr


def check_sparse(field: Field, value: Any, where: str) -> dict[int, float]:
    """Check one sparse vector ``{index: weight}`` (or a one-row scipy sparse matrix
    or array, whose duplicate entries add up as scipy's own arithmetic does)."""
    if hasattr(value, "tocsr"):  # scipy.sparse
        if len(value.shape) == 2 and value.shape[0] != 1:
            raise DataError(f"{where}: a sparse vector is one row, got shape {value.shape}")
        csr = value.tocsr().copy()  # (a 1-D sparse array becomes one row too)
        csr.sum_duplicates()
        value = dict(zip(csr.indices.tolist(), csr.data.tolist(), strict=True))
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: expected a sparse vector {{index: weight}}")
    out: dict[int, float] = {}
    for k, v in value.items():
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 0 <= k < 2**32 - 1:
            raise DataError(f"{where}: sparse index {k!r} must be an integer in [0, 2^32-1)")
        number = isinstance(v, (int, float, np.integer, np.floating))
        try:
            weight = float(v) if number and not isinstance(v, (bool, np.bool_)) else math.nan
        except OverflowError:  # an int past float range
            weight = math.inf
        if not math.isfinite(weight) or abs(weight) > FLOAT32_MAX:
            raise DataError(f"{where}: sparse weight at {k} must be a finite float32 number")
        out[int(k)] = weight
    return out


def prepare_rows(schema: Schema, rows: Any, progress: bool | None = None) -> RowBatch:
    """Validate ``rows`` against ``schema`` and return them as columns.

    Args:
        schema: the collection's schema.
        rows: a list of dicts (or one dict); or a column batch (a dict of
            columns, a pandas DataFrame, a pyarrow Table: see
            ``column_input``), checked the same way, numeric columns with numpy.
        progress: show a progress bar while embedding text (None: when the
            batch is large and stderr is a terminal).

    Returns:
        The validated ``RowBatch``; ``pks`` holds None for auto_id collections.

    Raises:
        DataError: a row is not a dict, misses a required field, has an unknown
            field (without dynamic fields) or a bad value; the message names the
            row and the field.
        DimensionMismatchError: a vector of the wrong size.
        DuplicateKeyError: the same primary key twice in the batch.
    """
    if is_columnar(schema, rows):
        return prepare_columns(schema, as_columns(rows), progress)
    if isinstance(rows, Mapping):
        rows = [rows]
    elif isinstance(rows, (str, bytes)) or not isinstance(rows, Iterable):
        raise DataError("rows must be a list of dicts")
    rows = list(rows)
    n = len(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(f"row {i}: expected a dict, got {type(row).__name__}")
    pk_field = schema.primary
    declared = set(schema.names)
    dynamic: list[dict[str, Any]] | None = [] if schema.enable_dynamic_field else None

    # Unknown keys and auto ids first: the cheapest checks give the clearest errors.
    for i, row in enumerate(rows):
        extra = [k for k in row if k not in declared]  # in the row's order
        if pk_field.auto_id and row.get(pk_field.name) is not None:
            raise DataError(f"row {i}: {pk_field.name!r} is generated (auto_id); do not pass it")
        if dynamic is None:
            if extra:
                raise DataError(
                    f"row {i}: unknown field(s) {sorted(map(str, extra))}; declare them or "
                    "enable dynamic fields"
                )
        else:
            if DYNAMIC_FIELD in extra:
                raise DataError(f"row {i}: {DYNAMIC_FIELD!r} is reserved")
            dynamic.append({k: row[k] for k in extra} if extra else NO_KEYS)
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema.fields}
    return _batch(schema, n, columns, dynamic, progress)


def prepare_columns(
    schema: Schema, columns: dict[str, Any], progress: bool | None = None
) -> RowBatch:
    """Validate a batch given as columns (see ``column_input``): the same checks
    and errors as for rows, the row named by its position."""
    n = column_length(columns)
    pk_field = schema.primary
    declared = set(schema.names)
    extra = [k for k in columns if k not in declared]
    if pk_field.auto_id and pk_field.name in columns:
        given = [i for i, v in enumerate(columns[pk_field.name]) if v is not None]
        if given:
            raise DataError(
                f"row {given[0]}: {pk_field.name!r} is generated (auto_id); do not pass it"
            )
    dynamic: list[dict[str, Any]] | None = None
    if not schema.enable_dynamic_field:
        if extra:
            raise DataError(
                f"unknown field(s) {sorted(extra)}; declare them or enable dynamic fields"
            )
    else:
        if DYNAMIC_FIELD in extra:
            raise DataError(f"{DYNAMIC_FIELD!r} is reserved")
        values = [_values(columns[k]) for k in extra]
        dynamic = (
            [
                {k: v for k, v in zip(extra, row, strict=True) if v is not None}
                for row in zip(*values, strict=True)
            ]
            if extra
            else [NO_KEYS] * n
        )
    absent = [None] * n
    given_columns = {f.name: columns.get(f.name, absent) for f in schema.fields}
    return _batch(schema, n, given_columns, dynamic, progress)


def _values(column: Any) -> list[Any]:
    tolist = getattr(column, "tolist", None)
    return list(tolist()) if callable(tolist) else list(column)


def _batch(
    schema: Schema,
    n: int,
    columns: dict[str, Any],
    dynamic: list[dict[str, Any]] | None,
    progress: bool | None,
) -> RowBatch:
    """Check every field's column and build the batch (rows and columns alike)."""
    if dynamic is not None and any(dynamic):
        for i, d in enumerate(dynamic):
            for k in d:
                if not isinstance(k, str):
                    raise DataError(f"row {i}: dynamic field names must be strings, got {k!r}")
        dynamic = [
            copy_json(d, f"row {i}, dynamic fields") if d else NO_KEYS
            for i, d in enumerate(dynamic)
        ]

    pk_field = schema.primary
    scalars: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    vectors: dict[str, np.ndarray] = {}
    sparse: dict[str, list[dict[int, float]]] = {}
    pks: list[Any] = [None] * n

    computed = schema.functions_by_output
    for f in schema.fields:
        if f.auto_id or f.name in computed:
            continue
        raw = columns[f.name]
        if f.dtype is DataType.FLOAT_VECTOR:
            if not (isinstance(raw, np.ndarray) and raw.ndim == 2):
                missing = [i for i, v in enumerate(raw) if v is None]
                if missing:
                    raise DataError(f"row {missing[0]}: vector field {f.name!r} is missing")
            vectors[f.name] = check_vectors(f, raw)
            continue
        if f.dtype is DataType.SPARSE_FLOAT_VECTOR:
            out_sparse = []
            for i, v in enumerate(raw):
                if v is None:
                    raise DataError(f"row {i}: vector field {f.name!r} is missing")
                out_sparse.append(check_sparse(f, v, f"row {i}, field {f.name!r}"))
            sparse[f.name] = out_sparse
            continue
        fast = _numeric_column(f, raw)
        if fast is not None:
            scalars[f.name] = fast
            if f.is_primary:
                pks = fast.tolist()
            continue
        if isinstance(raw, np.ndarray):  # checked value by value, as Python values
            raw = raw.tolist()
        values: list[Any] = []
        null_rows: list[int] = []
        for i, v in enumerate(raw):
            if v is None:
                if f.default_value is not None:
                    v = f.default_value
                elif f.nullable:
                    null_rows.append(i)
                    values.append(None)
                    continue
                else:
                    raise DataError(f"row {i}: field {f.name!r} is missing (and not nullable)")
            values.append(check_scalar(f, v, f"row {i}, field {f.name!r}"))
        scalars[f.name] = _to_column(f.dtype, values, null_rows)
        if null_rows:
            mask = np.zeros(n, dtype=bool)
            mask[null_rows] = True
            nulls[f.name] = mask
        if f.is_primary:
            pks = values

    for name, fn in computed.items():
        text = scalars[fn.input]
        given = list(columns[name])
        if fn.kind is FunctionType.BM25:
            for i, v in enumerate(given):
                if v is not None:
                    raise DataError(
                        f"row {i}: field {name!r} is computed by BM25 from {fn.input!r}; "
                        "do not pass it"
                    )
            analyzer = schema.analyzer(fn.input)
            sparse[name] = [analyzer.term_counts(t) for t in text.tolist()]
        else:
            vectors[name] = embed_missing(schema[name], fn, given, text.tolist(), progress)

    if not pk_field.auto_id:
        if len(set(pks)) != n:
            seen: set[Any] = set()
            for i, pk in enumerate(pks):
                if pk in seen:
                    raise DuplicateKeyError(f"row {i}: primary key {pk!r} repeats in this batch")
                seen.add(pk)
        if pk_field.dtype is DataType.VARCHAR:
            for i, pk in enumerate(pks):
                if pk == "":
                    raise DataError(f"row {i}: primary key must not be empty")
    return RowBatch(n, pks, scalars, nulls, vectors, sparse, dynamic)


def _numeric_column(field: Field, raw: Any) -> np.ndarray | None:
    """A numeric numpy column checked as a whole (the checks of ``check_scalar``,
    vectorised); None when it is not one, or when some value fails (the value by
    value path then names the row)."""
    if not isinstance(raw, np.ndarray) or raw.ndim != 1:
        return None
    dt, kind = field.dtype, raw.dtype.kind
    if dt is DataType.BOOL:
        return raw.astype(bool) if kind == "b" else None
    if dt.is_integer and kind in "iu":
        lo, hi = int_range(dt)
        if len(raw) and (int(raw.min()) < lo or int(raw.max()) > hi):
            return None
        return raw.astype(dt.numpy_dtype)
    if dt.is_float and kind in "iuf":
        with np.errstate(over="ignore", invalid="ignore"):
            values = raw.astype(np.float64)
            ok = bool(np.isfinite(values).all())
            if dt is DataType.FLOAT:
                ok = ok and bool((np.abs(values) <= FLOAT32_MAX).all())
        return values.astype(dt.numpy_dtype) if ok else None
    return None


def embed_missing(
    field: Field, fn: Any, given: list[Any], texts: list[Any], progress: bool | None = None
) -> np.ndarray:
    """The vectors of a TextEmbedding output: the rows' own, else their text embedded
    (each distinct text once)."""
    todo = [i for i, v in enumerate(given) if v is None]
    for i in todo:
        if not isinstance(texts[i], str):
            raise DataError(
                f"row {i}: needs {fn.input!r} text (or its own {field.name!r} vector) to embed"
            )
    if todo:
        distinct = list(dict.fromkeys(texts[i] for i in todo))
        made = fn.embed_documents(distinct, field.dim, progress)
        by_text = dict(zip(distinct, made, strict=True))
        for i in todo:
            given[i] = by_text[texts[i]]
    return check_vectors(field, given)


def _to_column(dt: DataType, values: list[Any], null_rows: list[int]) -> np.ndarray:
    np_dtype = dt.numpy_dtype
    if np_dtype.kind == "O":
        return object_column(values)
    if null_rows:
        filler: Any = False if dt is DataType.BOOL else 0
        values = [filler if v is None else v for v in values]
    return np.asarray(values, dtype=np_dtype)


def dynamic_column(values: Sequence[dict[str, Any]]) -> np.ndarray:
    """The dynamic-field column: ``object_column``, with every row that has no
    dynamic keys holding the one ``NO_KEYS`` (8 bytes a row instead of an empty
    dict each)."""
    col = np.empty(len(values), dtype=object)
    col.fill(NO_KEYS)
    for i, v in enumerate(values):
        if v or type(v) is not dict:  # (anything but an empty dict is kept as it is)
            col[i] = v
    return col


def object_column(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values`` (lists stay elements, never a 2-D array)."""
    col = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        col[i] = v
    return col


def check_pk(schema: Schema, value: Any, where: str = "id") -> PrimaryKey:
    """Check one primary key value (for ``get`` / ``delete`` arguments)."""
    pk = schema.primary
    if pk.dtype is DataType.INT64:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            return int(value)
        raise DataError(f"{where}: primary key {value!r} is not an integer")
    if isinstance(value, str):
        return value
    raise DataError(f"{where}: primary key {value!r} is not a string")


def check_keys(schema: Schema, ids: Any) -> list[PrimaryKey]:
    """One key or a list of keys (``get`` / ``delete`` / ``query`` arguments), checked.

    Raises:
        DataError: ``ids`` is neither a key nor an iterable of keys (None, a
            dict...), or a key has the wrong type.
    """
    if isinstance(ids, (int, str, np.integer)):
        ids = [ids]
    elif isinstance(ids, (Mapping, bytes)) or not isinstance(ids, Iterable):
        raise DataError(f"ids must be a primary key or a list of keys, got {ids!r}")
    return [check_pk(schema, v, f"ids[{i}]") for i, v in enumerate(ids)]
