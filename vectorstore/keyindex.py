"""Where a primary key lives inside one segment, without a Python object per row.

A collection must answer "which row holds key k?" for every insert (is it new?),
upsert and delete (which row goes?) and ``get``. A dict from key to row holds a
key object, a value and a slot per row: about 130 MB at a million rows, more than
the keys themselves by ten times. A segment instead keeps its keys sorted in a
numpy array beside their row offsets (16 bytes a row for INT64 keys), and a
small dict for the rows appended since it last sorted them.

Rows the index has not seen yet (appended since the last lookup) are taken in at
the next lookup: a few go into the dict; once those outnumber a quarter of the
sorted rows, the live rows are sorted again, so the work stays a constant
factor over a bulk load and a single-row insert costs a dict store.

Deleted rows stay in the index until the next sort; every answer is checked
against the segment's tombstones. A key is live in one row at most, and a row
re-inserted after a delete is newer than the one the sorted part holds, so the
dict is asked first.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

RESORT_MIN_ROWS = 2048  # unsorted rows under this (or a quarter of the sorted) stay in the dict
FEW_KEYS = 8  # up to this many keys are looked up one by one (numpy's per-call cost is higher)


class KeyIndex:
    """The live rows of one segment by primary key.

    The caller passes the segment's key column and tombstones to every lookup;
    the index keeps only what it derived from them. Lookups may come from
    several readers at once: taking in new rows is done under a lock.
    """

    def __init__(self) -> None:
        self._keys: np.ndarray | None = None  # sorted keys of the rows sorted so far
        self._rows = np.empty(0, np.int64)  # their offsets, in the same order
        self._recent: dict[Any, int] = {}  # rows appended since, key -> offset
        self._seen = 0  # rows taken in (sorted or recent)
        self._lock = threading.Lock()

    def find(self, keys: Sequence[Any], pks: np.ndarray, deleted: np.ndarray) -> np.ndarray:
        """The offsets of the live rows that hold ``keys``, -1 where none does.

        Args:
            keys: keys of the primary field's type (checked by the caller).
            pks: the segment's key column, one per row.
            deleted: its tombstones, one per row.
        """
        if len(pks) == 0 or len(keys) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        self._take_in(pks, deleted)
        if len(keys) <= FEW_KEYS:
            return np.array([self._find_one(key, deleted) for key in keys], dtype=np.int64)
        out = np.full(len(keys), -1, dtype=np.int64)
        sorted_keys = self._keys
        if sorted_keys is not None and len(sorted_keys):
            wanted = np.asarray(keys, dtype=pks.dtype) if pks.dtype != object else _objects(keys)
            pos = np.searchsorted(sorted_keys, wanted)
            pos[pos == len(sorted_keys)] = 0
            rows = self._rows[pos]
            hit = (sorted_keys[pos] == wanted) & ~deleted[rows]
            out[hit] = rows[hit]
        if self._recent:
            recent = self._recent
            for i, key in enumerate(keys):
                row = recent.get(key)
                if row is not None and not deleted[row]:
                    out[i] = row
        return out

    def _find_one(self, key: Any, deleted: np.ndarray) -> int:
        row = self._recent.get(key)
        if row is not None and not deleted[row]:
            return row
        sorted_keys = self._keys
        if sorted_keys is not None:
            pos = int(sorted_keys.searchsorted(key))
            if pos < len(sorted_keys) and sorted_keys[pos] == key:
                row = int(self._rows[pos])
                if not deleted[row]:
                    return row
        return -1

    def _take_in(self, pks: np.ndarray, deleted: np.ndarray) -> None:
        """Index the rows appended since the last lookup."""
        n = len(pks)
        if self._seen == n:
            return
        with self._lock:
            if self._seen == n:
                return
            unsorted = len(self._recent) + n - self._seen
            sorted_rows = 0 if self._keys is None else len(self._keys)
            if unsorted < max(RESORT_MIN_ROWS, sorted_rows // 4):
                start = self._seen
                for offset, key in enumerate(pks[start:n].tolist(), start):
                    self._recent[key] = offset
            else:
                self._sort(pks[:n], deleted[:n])
            self._seen = n

    def _sort(self, pks: np.ndarray, deleted: np.ndarray) -> None:
        """Sort every live row's key (dropping the deleted ones and the dict)."""
        rows = np.flatnonzero(~deleted)
        keys = pks[rows]
        order = np.argsort(keys, kind="stable")
        self._keys, self._rows = keys[order], rows[order]
        self._recent = {}


def _objects(keys: Sequence[Any]) -> np.ndarray:
    """An object array of ``keys`` (``np.asarray`` would make strings fixed-width)."""
    out = np.empty(len(keys), dtype=object)
    out[:] = list(keys)
    return out


__all__ = ["RESORT_MIN_ROWS", "KeyIndex"]
