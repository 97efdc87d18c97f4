"""Scalar indexes for filters (Milvus's INVERTED, STL_SORT, Trie, BITMAP), per sealed segment.

One structure serves every name Milvus gives: the segment's values in sorted
order beside the row offset each came from. For an ARRAY field every element is
an entry, with the row that holds it. Equality, ``in``, ranges on numbers and
strings, string prefixes and ``array_contains`` are binary searches over it that
answer with row offsets, never touching the column.

Null rows (and NaN, which a comparison never matches) have no entry: the filter
evaluator gives them their SQL meaning from the field's null mask, exactly as
when it scans. A lookup the index cannot answer exactly (an integer constant
outside int64, ``array_contains_all`` of nothing) returns None and the evaluator
scans instead, so an index changes only how fast a filter runs, never its answer.

Only the sort order is written to disk: the keys are gathered again from the
segment's columns when it is opened (a gather, not a sort).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import StorageError
from ..types import DataType

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _entries(values: np.ndarray, null: np.ndarray | None, dtype: DataType) -> tuple[Any, Any]:
    """Every value (ARRAY: every element) that can match, with the row it is in.

    Returns ``(keys, rows)``: keys as a numpy array (numbers, bools) or a list
    (strings), in row order.
    """
    n = len(values)
    if dtype is DataType.ARRAY:
        rows_list: list[int] = []
        keys_list: list[Any] = []
        for i, arr in enumerate(values):
            if type(arr) is list and (null is None or not null[i]):
                keys_list.extend(arr)
                rows_list.extend([i] * len(arr))
        rows = np.asarray(rows_list, dtype=np.int64)
        if keys_list and all(type(k) is str for k in keys_list):
            return keys_list, rows
        keys = np.asarray(keys_list)
        return _numeric_keys(keys, rows)
    if dtype is DataType.VARCHAR:
        keep = [i for i, v in enumerate(values) if type(v) is str and (null is None or not null[i])]
        rows = np.asarray(keep, dtype=np.int64)
        return [values[i] for i in keep], rows
    rows = np.arange(n, dtype=np.int64)
    keys = np.asarray(values)
    if null is not None:
        rows = rows[~null]
        keys = keys[~null]
    return _numeric_keys(keys, rows)


def _numeric_keys(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if keys.dtype.kind == "f":
        finite = ~np.isnan(keys)
        if not finite.all():
            keys, rows = keys[finite], rows[finite]
    elif keys.dtype.kind in "iu":
        keys = keys.astype(np.int64, copy=False)
    return keys, rows


class ScalarIndex:
    """Sorted (value, row) entries of one scalar field in one sealed segment.

    Build with ``ScalarIndex.build``; write ``order`` with ``save`` and read it
    back with ``ScalarIndex.load``.
    """

    __slots__ = ("_keys", "_rows", "num_rows", "order")

    def __init__(self, keys: Any, rows: np.ndarray, order: np.ndarray, num_rows: int):
        self.order = order  # the permutation that sorted the entries (what is saved)
        self._keys = keys  # sorted: numpy array, or list of str
        self._rows = rows  # row offset of each sorted entry
        self.num_rows = num_rows

    @classmethod
    def build(cls, values: np.ndarray, null: np.ndarray | None, dtype: DataType) -> ScalarIndex:
        keys, rows = _entries(values, null, dtype)
        if isinstance(keys, list):
            order = np.asarray(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
        else:
            order = np.argsort(keys, kind="stable").astype(np.int64)
        return cls._sorted(keys, rows, order, len(values))

    @classmethod
    def _sorted(cls, keys: Any, rows: np.ndarray, order: np.ndarray, n: int) -> ScalarIndex:
        if isinstance(keys, list):
            sorted_keys: Any = [keys[i] for i in order.tolist()]
        else:
            sorted_keys = keys[order]
        return cls(sorted_keys, rows[order], order, n)

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            np.save(f, self.order, allow_pickle=False)

    @classmethod
    def load(
        cls, path: str, values: np.ndarray, null: np.ndarray | None, dtype: DataType
    ) -> ScalarIndex:
        """Read the order written by ``save`` and gather the keys from the column.

        Raises:
            StorageError: the file does not fit the column (edited, or another's).
        """
        try:
            order = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            raise StorageError(f"index file {path} is missing") from None
        except (ValueError, OSError) as exc:
            raise StorageError(f"index file {path} is damaged: {exc}") from None
        keys, rows = _entries(values, null, dtype)
        m = len(rows)
        if (
            order.dtype != np.int64
            or order.shape != (m,)
            or (m and (order.min() < 0 or order.max() >= m))
            or np.bincount(order, minlength=m).max(initial=1) != 1
        ):
            raise StorageError(f"index file {path} does not fit its segment's column")
        return cls._sorted(keys, rows, order, len(values))

    # ----------------------------------------------------------------- lookups
    def _span(self, lo: Any, lo_side: str, hi: Any, hi_side: str) -> tuple[int, int]:
        """Positions [start, stop) of the sorted keys between two bounds (None: open)."""
        keys = self._keys
        if isinstance(keys, list):
            left = {"left": bisect.bisect_left, "right": bisect.bisect_right}
            start = 0 if lo is None else left[lo_side](keys, lo)
            stop = len(keys) if hi is None else left[hi_side](keys, hi)
        else:
            start = 0 if lo is None else int(np.searchsorted(keys, lo, lo_side))  # type: ignore[call-overload]
            stop = len(keys) if hi is None else int(np.searchsorted(keys, hi, hi_side))  # type: ignore[call-overload]
        return start, max(start, stop)

    def _usable(self, value: Any) -> bool:
        """Whether ``value`` can be looked up exactly as the scan would compare it."""
        if isinstance(self._keys, list):
            return type(value) is str
        if type(value) is str:
            return False
        if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            return False  # numpy would refuse it; the scan compares it exactly
        return not (isinstance(value, float) and value != value)  # NaN

    def compare(self, op: str, value: Any) -> np.ndarray | None:
        """Rows whose value satisfies ``value_of_row op value`` (``==``, ``<``, ``<=``,
        ``>``, ``>=``); None when the index cannot answer."""
        if not self._usable(value):
            return None
        if op == "==":
            start, stop = self._span(value, "left", value, "right")
        elif op == "<":
            start, stop = self._span(None, "", value, "left")
        elif op == "<=":
            start, stop = self._span(None, "", value, "right")
        elif op == ">":
            start, stop = self._span(value, "right", None, "")
        elif op == ">=":
            start, stop = self._span(value, "left", None, "")
        else:
            return None
        return self._rows[start:stop]

    def between(
        self, lo: Any, lo_inclusive: bool, hi: Any, hi_inclusive: bool
    ) -> np.ndarray | None:
        """Rows whose value lies between two bounds (one binary search each)."""
        if not (self._usable(lo) and self._usable(hi)):
            return None
        lo_side = "left" if lo_inclusive else "right"
        hi_side = "right" if hi_inclusive else "left"
        return self._rows[slice(*self._span(lo, lo_side, hi, hi_side))]

    def isin(self, values: Sequence[Any]) -> np.ndarray | None:
        """Rows whose value equals any of ``values``."""
        if not all(self._usable(v) for v in values):
            return None
        parts = [self._rows[slice(*self._span(v, "left", v, "right"))] for v in values]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def prefix(self, text: str) -> np.ndarray | None:
        """Rows whose string starts with ``text`` (strings sharing a prefix are one
        run of the sorted keys: from ``text`` up to ``text`` with its last
        character incremented)."""
        if not isinstance(self._keys, list) or not text or ord(text[-1]) == 0x10FFFF:
            return None
        upper = text[:-1] + chr(ord(text[-1]) + 1)
        return self._rows[slice(*self._span(text, "left", upper, "left"))]

    def contains(self, needles: Sequence[Any], mode: str) -> np.ndarray | None:
        """Rows of an ARRAY field holding one (``mode`` "one"/"any") or every
        (``"all"``) needle, as a mask-ready array of row offsets (may repeat)."""
        if mode != "all":
            return self.isin(needles)
        if not needles:
            return None  # every non-null row: the scan says so more cheaply
        distinct = list(dict.fromkeys(needles))  # "all" of [1, 1] is "all" of [1]
        counts = np.zeros(self.num_rows, dtype=np.int32)
        for needle in distinct:
            rows = self.isin([needle])
            if rows is None:
                return None
            counts[np.unique(rows)] += 1  # a row holding a needle twice counts once
        return np.flatnonzero(counts == len(distinct))


__all__ = ["ScalarIndex"]
