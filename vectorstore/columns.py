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

from .errors import StorageError
from .types import DataType

log = logging.getLogger("vectorstore.columns")

_READ_THROUGH = 16 << 10  # a gap this short between rows wanted is read, not skipped
_SPAN = 4 << 20  # the most bytes one read takes when rows are gathered
_PREADV = getattr(os, "preadv", None)  # not on Windows: rows are read through the map there


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

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at ``rows`` (all < len), in that order: a copy."""
        picked: np.ndarray = self._data[rows]
        return picked

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
        if self._memory is not None or _PREADV is None:
            return self.view[lo:hi]
        out = np.empty((hi - lo, self._dim), dtype=np.float32)
        if len(out):
            _read_into(self._file.fileno(), out, lo * out[0].nbytes, self.path)
        return out

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at ``rows`` (all < len), in that order: a copy read from the
        file without mapping it (``VectorFile.take`` says why)."""
        if self._memory is not None or _PREADV is None:
            picked: np.ndarray = self.view[rows]
            return picked
        out = np.empty((len(rows), self._dim), dtype=np.float32)
        _gather(self._file.fileno(), 0, np.asarray(rows, dtype=np.intp), out, self.path)
        return out

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


class VectorFile:
    """The rows of a 2-D ``.npy`` file, read-only: ``map`` memory-maps them,
    ``[lo:hi]`` and ``take`` read them with plain reads.

    Work that reads rows once and keeps or hands on a copy (a graph's build,
    load and save, IVF training, compaction, a filter's gathered rows, kept by
    its selection) reads them: pages touched through the map stay in the
    process's RSS beside that copy, and Linux maps a whole page-cache folio (up
    to 2 MB) at a fault, so 1,000 scattered rows of a 512 MB file mapped 473 MB
    of it. A read costs 1-4 us per scattered row, the map's faults less: searches
    that come back to the same rows (re-ranking, vectors asked for as output,
    a selection too big to keep) use the map.

    The file is stamped (device, inode, size, mtime) before it is mapped. A
    read finds it by name: where the name is gone or names another file (another
    process dropped or compacted the segment), the rows come from the map,
    which still holds the file opened here; a file changed in place raises.
    """

    def __init__(self, path: str):
        self.path = path
        try:
            self._stamp = _stamp(os.stat(path))
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise StorageError(f"segment file {path} is missing") from None
        except (OSError, ValueError) as exc:
            raise StorageError(f"segment file {path} is damaged: {exc}") from None
        self.shape: tuple[int, ...] = mapped.shape
        self.ndim = mapped.ndim
        self.dtype = mapped.dtype
        self._offset = int(mapped.offset)
        # A plain ndarray view of the map: np.memmap's Python-level __getitem__
        # would tax every search; the view keeps the mapping alive.
        self.map: np.ndarray = mapped.view(np.ndarray)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        """Rows ``lo:hi`` (a slice with step 1), a copy."""
        lo, hi, _ = rows.indices(self.shape[0])
        out = np.empty((max(hi - lo, 0), *self.shape[1:]), dtype=self.dtype)
        fd = self._open() if len(out) else None
        if fd is None:
            out[...] = self.map[lo:hi]
            return out
        try:
            _read_into(fd, out, self._offset + lo * out[0].nbytes, self.path)
        finally:
            os.close(fd)
        return out

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at ``rows`` (all < len), in that order, a copy: one read per
        run of rows near each other (see ``_gather``)."""
        rows = np.asarray(rows, dtype=np.intp)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        fd = self._open() if len(rows) else None
        if fd is None:
            out[...] = self.map[rows]
            return out
        try:
            _gather(fd, self._offset, rows, out, self.path)
        finally:
            os.close(fd)
        return out

    def _open(self) -> int | None:
        """A descriptor of the mapped file, or None: read the map."""
        if _PREADV is None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"segment file {self.path} cannot be read: {exc}") from None
        stamp = _stamp(os.fstat(fd))
        if stamp == self._stamp:
            return fd
        os.close(fd)
        if stamp[:2] != self._stamp[:2]:
            return None  # the name now names another file; the map holds ours
        raise StorageError(
            f"segment file {self.path} was changed in place since it was opened "
            "(Kestrel never rewrites one): restore it from a backup"
        )


class MappedColumn(Column):
    """A sealed segment's vectors: ``view`` is the ``.npy`` file's memory map;
    ``rows`` and ``take`` read the file (``VectorFile`` says when each is used)."""

    __slots__ = ("file",)

    def __init__(self, file: VectorFile):
        super().__init__(None, data=file.map)
        self.file = file

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo .. hi - 1``, a copy read from the file."""
        return self.file[lo:hi]

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self.file.take(rows)


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _gather(fd: int, offset: int, rows: np.ndarray, out: np.ndarray, path: str) -> None:
    """``out[i]`` = row ``rows[i]`` of the C-ordered rows of ``out``'s shape and
    dtype stored in ``fd`` from byte ``offset`` on.

    One read per run of rows near each other: a gap of up to ``_READ_THROUGH``
    bytes is read through (cheaper than another call), and no read passes
    ``_SPAN`` bytes. Consecutive rows asked for in order are read straight into
    ``out``; a read call costs 1-4 us here, so a gather of n scattered rows
    costs about that times n.
    """
    if len(rows) == 0:
        return
    width = out[0].nbytes
    order = None if (np.diff(rows) > 0).all() else np.argsort(rows, kind="stable")
    ranked = rows if order is None else rows[order]
    apart = np.diff(ranked) > max(1, _READ_THROUGH // width)
    apart |= np.diff(ranked // max(1, _SPAN // width)) != 0
    ends = np.append(np.flatnonzero(apart) + 1, len(ranked))
    starts = np.append(0, ends[:-1])
    spans = zip(
        starts.tolist(),
        ends.tolist(),
        ranked[starts].tolist(),
        (ranked[ends - 1] + 1).tolist(),
        strict=True,
    )
    for a, b, lo, hi in spans:
        if order is None and hi - lo == b - a:  # rows lo .. hi - 1, all wanted
            _read_into(fd, out[a:b], offset + lo * width, path)
            continue
        block = np.empty((hi - lo, *out.shape[1:]), dtype=out.dtype)
        _read_into(fd, block, offset + lo * width, path)
        if order is None:
            out[a:b] = block[ranked[a:b] - lo]
        else:
            out[order[a:b]] = block[ranked[a:b] - lo]


def _read_into(fd: int, out: np.ndarray, offset: int, path: str) -> None:
    """Fill the C-contiguous ``out`` from byte ``offset`` of ``fd``."""
    assert _PREADV is not None
    view = out.data.cast("B")
    done = 0
    try:
        while done < len(view):
            got = _PREADV(fd, [view[done:]], offset + done)
            if got == 0:
                raise StorageError(f"segment file {path} ended early")
            done += got
    except OSError as exc:
        raise StorageError(f"segment file {path} cannot be read: {exc}") from None


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
