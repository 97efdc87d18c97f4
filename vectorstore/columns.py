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

A batch may also carry scalar indexes (``ScalarLookup``) of some fields: the
evaluator answers the comparisons they can answer from them, and scans for the
rest, with the same result either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .types import DataType

log = logging.getLogger("vectorstore.columns")


@dataclass(frozen=True)
class FieldType:
    """What the evaluator needs to know of a declared field."""

    dtype: DataType
    element_type: DataType | None = None  # for ARRAY fields
    nullable: bool = False


class ScalarLookup(Protocol):
    """A scalar index of one field, as the filter evaluator uses it (see
    ``index.scalar.ScalarIndex``). Each method returns the row offsets that
    match (possibly repeated), or None when the index cannot answer exactly."""

    def compare(self, op: str, value: Any) -> np.ndarray | None: ...

    def between(
        self, lo: Any, lo_inclusive: bool, hi: Any, hi_inclusive: bool
    ) -> np.ndarray | None: ...

    def isin(self, values: Sequence[Any]) -> np.ndarray | None: ...

    def prefix(self, text: str) -> np.ndarray | None: ...

    def contains(self, needles: Sequence[Any], mode: str) -> np.ndarray | None: ...


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
        indexes: field name -> scalar index over these rows, for the fields
            that have one.
    """

    num_rows: int
    types: Mapping[str, FieldType]
    values: Mapping[str, np.ndarray]
    nulls: Mapping[str, np.ndarray] = field(default_factory=dict)
    dynamic: np.ndarray | None = None
    text_match: Callable[[str, str], np.ndarray] | None = None
    indexes: Mapping[str, ScalarLookup] = field(default_factory=dict)


class Column:
    """An append-only numpy column that grows by doubling.

    ``view`` is the filled part: a view, not a copy.
    """

    __slots__ = ("_data", "_n")

    def __init__(self, dtype: Any, tail: tuple[int, ...] = (), data: np.ndarray | None = None):
        if data is None:
            data = np.empty((0, *tail), dtype=dtype)
        self._data = data
        self._n = len(data)

    def __len__(self) -> int:
        return self._n

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._n]

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo .. hi - 1`` (a view)."""
        return self._data[lo:hi]

    def append(self, values: np.ndarray) -> None:
        end = self._n + len(values)
        if end > len(self._data):
            capacity = max(end, 2 * len(self._data), 64)
            grown = np.empty((capacity, *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : end] = values
        self._n = end


class FileColumn:
    """An append-only 2-D float32 column kept in a file, not in process memory.

    Growing segments of path stores keep their exact vectors here (the index
    holds its own copy for search), so a large growing segment costs page
    cache, not RSS. ``view`` memory-maps the rows written so far.

    Appending never fails for lack of disk: the rows are already in the
    write-ahead log when they get here, so if the file cannot take them (a
    full disk, an I/O error) the column moves its rows into memory and stays
    there until the segment is sealed.
    """

    __slots__ = ("__weakref__", "_dim", "_file", "_finalizer", "_map", "_memory", "_n", "path")

    def __init__(self, path: str, dim: int):
        self.path = path
        self._dim = dim
        self._n = 0
        self._map: np.ndarray | None = None
        self._memory: Column | None = None
        self._file: Any = None
        try:
            self._file = open(path, "w+b")  # noqa: SIM115 - closed by the finalizer
        except OSError as exc:
            self._memory = Column(np.float32, (dim,))
            log.warning("cannot spill vectors to %s (%s); keeping them in memory", path, exc)
        # Closed and deleted when dropped (close()) or once no search holds it any
        # more after sealing replaced it: a search may still be reading it.
        self._finalizer = weakref.finalize(self, _discard, self._file, path)

    def __len__(self) -> int:
        return self._n

    @property
    def in_memory(self) -> bool:
        """Whether the rows moved into memory (the file could not take them)."""
        return self._memory is not None

    @property
    def view(self) -> np.ndarray:
        if self._memory is not None:
            return self._memory.view
        if self._map is None or len(self._map) != self._n:
            if self._n == 0:
                return np.empty((0, self._dim), dtype=np.float32)
            self._map = np.memmap(self._file, np.float32, "r", shape=(self._n, self._dim))
        return self._map

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo .. hi - 1`` (< len), a copy read from the file without
        mapping it: the graph's build reads every row once, and mapped pages
        it touched would count in the process's RSS beside hnswlib's copy."""
        if self._memory is not None:
            return self._memory.view[lo:hi]
        size = 4 * self._dim
        data = os.pread(self._file.fileno(), (hi - lo) * size, lo * size)
        return np.frombuffer(data, dtype=np.float32).reshape(hi - lo, self._dim)

    def append(self, values: np.ndarray) -> None:
        rows = np.ascontiguousarray(values, dtype=np.float32)
        if self._memory is None:
            try:
                self._file.write(rows.reshape(-1).view(np.uint8).data)  # (no copy)
                self._file.flush()
            except OSError as exc:
                self._move_to_memory(exc)
        if self._memory is not None:
            self._memory.append(rows)
        self._n += len(rows)

    def _move_to_memory(self, cause: OSError) -> None:
        """Read the rows written so far back into memory and drop the file."""
        size = self._n * self._dim * 4
        with open(self.path, "rb") as f:  # every earlier append was flushed whole
            done = np.frombuffer(f.read(size), dtype=np.float32).reshape(self._n, self._dim)
        self._memory = Column(np.float32, (self._dim,), data=done.copy())
        self._map = None
        log.warning(
            "cannot spill vectors to %s (%s); keeping this segment's vectors in memory",
            self.path,
            cause,
        )
        self._finalizer()  # the file is no longer needed: give its space back

    def save_npy(self, path: str) -> None:
        """Write the rows as a ``.npy`` file by streaming the raw file (no mapping).

        Reads through a handle of its own: searches running meanwhile call
        ``view``, and np.memmap moves the shared handle's position to the end.
        """
        header = {"descr": "<f4", "fortran_order": False, "shape": (self._n, self._dim)}
        with open(path, "wb") as out:
            np.lib.format.write_array_header_1_0(out, header)
            if self._memory is not None:
                out.write(self._memory.view.tobytes())
            else:
                with open(self.path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())

    def close(self) -> None:
        """Unmap, close and delete the file now (its rows are being dropped)."""
        self._map = None
        self._memory = None
        self._finalizer()


def _discard(file: Any, path: str) -> None:
    if file is not None:
        with contextlib.suppress(OSError):  # a failed flush of a full disk's buffer
            file.close()
    # Windows cannot delete a file a live memory map still holds (a search's
    # view): the file then stays until the store is next opened for writing,
    # which removes every growing_* file. POSIX removes it at once.
    busy = (PermissionError,) if os.name == "nt" else ()
    with contextlib.suppress(FileNotFoundError, *busy):
        os.remove(path)
