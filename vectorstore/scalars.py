"""Checks of single scalar values against a field's type: ints in range, finite
floats, valid Unicode text, JSON that is JSON, arrays within their capacity.

Used by row validation (``rows``) and by ``schema`` for default values; it
depends on neither, so neither imports the other for it.
"""

from __future__ import annotations

import json
import math
from typing import Any, Protocol

import numpy as np

from .errors import DataError
from .types import DataType, int_range

FLOAT32_MAX = float(np.finfo(np.float32).max)


class ScalarField(Protocol):
    """What a scalar check reads of a field (``schema.Field`` has it)."""

    @property
    def name(self) -> str: ...
    @property
    def dtype(self) -> DataType: ...
    @property
    def element_type(self) -> DataType | None: ...
    @property
    def max_length(self) -> int | None: ...
    @property
    def max_capacity(self) -> int | None: ...


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# JSON nested deeper than this is refused. Reading it back recurses once a level
# (json.loads, copy_value) within the interpreter's limit of 1,000 frames, shared with
# the caller's: a value nested ~500 deep used to be stored, acknowledged and then
# fail every query that returned it (and ~980 deep, the reopen).
MAX_JSON_DEPTH = 256


def copy_json(value: Any, where: str) -> Any:
    """A deep copy of a JSON value; NaN/inf, non-JSON types, text that is not
    valid Unicode (lone surrogates, which no file can store) and nesting past
    ``MAX_JSON_DEPTH`` are errors."""
    try:
        text = json.dumps(value, allow_nan=False, default=_json_default, ensure_ascii=False)
        text.encode("utf-8")
        copied = json.loads(text)
        if len(text) > 2 * MAX_JSON_DEPTH and _depth(copied) > MAX_JSON_DEPTH:
            raise RecursionError  # (each level takes two characters at least)
        return copied
    except RecursionError:
        raise DataError(f"{where}: JSON nested too deeply") from None
    except UnicodeEncodeError:
        raise DataError(f"{where}: text holds a lone surrogate (not valid Unicode)") from None
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: not a JSON value ({exc})") from None


def copy_value(value: Any) -> Any:
    """A structural copy of a JSON-like value (dicts and lists copied, scalars shared).
    Plain loops: one frame a level (a comprehension is a frame of its own), and a
    call only for nested containers."""
    if isinstance(value, dict):
        copied: dict[str, Any] = {}
        for k, v in value.items():
            copied[k] = copy_value(v) if isinstance(v, (dict, list)) else v
        return copied
    if isinstance(value, list):
        items = []
        for v in value:
            items.append(copy_value(v) if isinstance(v, (dict, list)) else v)
        return items
    return value


def _depth(value: Any) -> int:
    """How deep lists and dicts nest in a parsed JSON value (a scalar: 0)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            todo.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def check_scalar(field: ScalarField, value: Any, where: str = "") -> Any:
    """Check one non-null scalar value against ``field`` and return it normalised.

    Raises:
        DataError: wrong type, out of range, NaN/inf, too long, too many elements.
    """
    where = where or f"field {field.name!r}"
    dt = field.dtype
    if dt is DataType.ARRAY:
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise DataError(f"{where}: expected a list, got {type(value).__name__}")
        if field.max_capacity is not None and len(value) > field.max_capacity:
            raise DataError(
                f"{where}: {len(value)} elements exceed max_capacity {field.max_capacity}"
            )
        assert field.element_type is not None
        return [
            _check_plain(field.element_type, v, f"{where}[{i}]", field.max_length)
            for i, v in enumerate(value)
        ]
    if dt is DataType.JSON:
        return copy_json(value, where)
    return _check_plain(dt, value, where, field.max_length)


def _check_plain(dt: DataType, value: Any, where: str, max_length: int | None) -> Any:
    if dt is DataType.BOOL:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise DataError(f"{where}: expected a bool, got {type(value).__name__}")
    if dt.is_integer:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
            lo, hi = int_range(dt)
            if not lo <= int(value) <= hi:
                raise DataError(f"{where}: {value} is out of range for {dt.name}")
            return int(value)
        raise DataError(f"{where}: expected an integer ({dt.name}), got {type(value).__name__}")
    if dt.is_float:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)
        ):
            try:
                f = float(value)
            except OverflowError:  # an int past float range, e.g. 10**400
                raise DataError(f"{where}: {value!r} is not a finite {dt.name}") from None
            if not math.isfinite(f) or (dt is DataType.FLOAT and abs(f) > FLOAT32_MAX):
                raise DataError(f"{where}: {value!r} is not a finite {dt.name}")
            return f
        raise DataError(f"{where}: expected a number ({dt.name}), got {type(value).__name__}")
    if dt is DataType.VARCHAR:
        if not isinstance(value, str):
            raise DataError(f"{where}: expected a string, got {type(value).__name__}")
        if max_length is not None and len(value) > max_length:
            raise DataError(f"{where}: {len(value)} characters exceed max_length {max_length}")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise DataError(
                    f"{where}: text holds a lone surrogate (not valid Unicode)"
                ) from None
        return value
    raise DataError(f"{where}: unsupported scalar type {dt.name}")  # pragma: no cover


__all__ = [
    "FLOAT32_MAX",
    "MAX_JSON_DEPTH",
    "ScalarField",
    "check_scalar",
    "copy_json",
    "copy_value",
]
