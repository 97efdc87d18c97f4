"""Sealed segment folders: columns as ``.npy`` (memory-mapped on open), text,
JSON and arrays as JSON lines, the tombstone bitmap, and the indexes (the HNSW
graph, faiss's IVF, the sort order of a scalar index).

The HNSW graph file (``<field>-<version>.hgraph``, see ``index/hnsw_file.py``)
holds hnswlib's links without its copy of the vectors, which are rebuilt from
``<field>.vec.npy`` on open: each vector is on disk once. Stores written before
it hold hnswlib's own file (``.hnsw``, links and vectors); those still open,
and the next rewrite of that index writes a graph file.

No file can carry Python objects: every one is plain ``.npy`` records (loaded
with ``allow_pickle=False`` or checked to hold numbers), JSON, or hnswlib's own
index format.
"""

from __future__ import annotations

import io
import os
import shutil
import zlib
from typing import Any

import numpy as np

from ..columns import Column, FileColumn, MappedColumn, VectorFile
from ..errors import StorageError
from ..index.hnsw import HnswIndex
from ..index.ivf import IvfIndex
from ..index.scalar import ScalarIndex
from ..index.sparse import SparseColumn
from ..index_spec import Index
from ..rows import dynamic_column, object_column
from ..schema import Schema
from ..segment import Segment
from .files import (
    atomic_write,
    fsync_dir,
    fsync_file,
    read_jsonl,
    remove_garbage,
    write_jsonl,
    write_npy,
)

DYNAMIC = "dynamic-fields.jsonl"
SPARSE_PARTS = ("indptr", "indices", "values")  # CSR: <field>.sparse.<part>.npy
# Files a checkpoint may replace (tombstones, graphs rebuilt by create_index) get a
# new name each time, "-<version>"; a "-" can never be part of a field name, so
# these never collide with column files, and the manifest names the current ones.


def tombstones_name(version: int) -> str:
    return f"tombstones-{version}.npy"


GRAPH = ".hgraph"  # an HNSW graph without its vectors (index/hnsw_file.py)
HNSWLIB = ".hnsw"  # hnswlib's own save_index file (links and vectors), before GRAPH
INDEX_SUFFIXES = (GRAPH, HNSWLIB, ".ivf", ".sidx")


def index_name(field: str, version: int, index: HnswIndex | IvfIndex | ScalarIndex) -> str:
    if isinstance(index, HnswIndex):
        return f"{field}-{version}{GRAPH}"
    return f"{field}-{version}{'.ivf' if isinstance(index, IvfIndex) else '.sidx'}"


def write_segment(seg: Segment, folder: str, version: int) -> dict[str, Any]:
    """Write a segment's files into ``folder`` (created) and return its manifest entry.

    Every file and the folder itself are fsynced before this returns, so a
    manifest naming them can be written next. Numeric and vector columns are
    swapped for memory-mapped views of the files just written, so sealing gives
    their memory back.
    """
    shutil.rmtree(folder, ignore_errors=True)  # leftovers of a checkpoint that crashed
    os.makedirs(folder)
    for name, col in seg.columns.items():
        if col.view.dtype == object:
            write_jsonl(os.path.join(folder, f"{name}.jsonl"), col.view.tolist())
        else:
            path = os.path.join(folder, f"{name}.npy")
            write_npy(path, col.view)
            seg.columns[name] = Column(None, data=_mapped(path))
    for name, col in seg.nulls.items():
        write_npy(os.path.join(folder, f"{name}.nulls.npy"), col.view)
    if seg.dynamic is not None:
        write_jsonl(os.path.join(folder, DYNAMIC), seg.dynamic.view.tolist())
    for name, vec_col in list(seg.vectors.items()):
        path = os.path.join(folder, f"{name}.vec.npy")
        if isinstance(vec_col, FileColumn):
            vec_col.save_npy(path)  # streamed: never mapped whole into memory
            # not closed here: a search may still read it; its finalizer deletes it
        else:
            write_npy(path, vec_col.view)
        seg.vectors[name] = MappedColumn(VectorFile(path))
    for name, sparse in seg.sparse.items():
        mapped = []
        for part, array in zip(SPARSE_PARTS, sparse.csr, strict=True):
            path = os.path.join(folder, f"{name}.sparse.{part}.npy")
            write_npy(path, array)
            mapped.append(_mapped(path))
        seg.sparse[name] = SparseColumn(mapped[0], mapped[1], mapped[2])
    files = {name: file_crc(os.path.join(folder, name)) for name in sorted(os.listdir(folder))}
    entry = {"partition": seg.partition, "rows": seg.num_rows, "files": files}
    seg.index_dirty = set(seg.indexes) | set(seg.scalar_indexes)
    write_indexes(seg, folder, entry, version)
    write_tombstones(seg, folder, entry, version)
    fsync_dir(folder)
    fsync_dir(os.path.dirname(folder))
    seg.persisted = True
    return entry


def write_indexes(seg: Segment, folder: str, entry: dict[str, Any], version: int) -> None:
    """Write the indexes rebuilt since the segment's files were written, under new names."""
    files: dict[str, int] = entry["files"]
    pending = set()  # graphs not built yet: written by a checkpoint after they are
    for name in sorted(seg.index_dirty):
        for old in [f for f in files if f.startswith(f"{name}-") and f.endswith(INDEX_SUFFIXES)]:
            del files[old]  # the file itself goes once the manifest no longer names it
        index = seg.indexes[name] if name in seg.indexes else seg.scalar_indexes.get(name)
        if index is None:
            continue  # FLAT, IVF on too few rows, or dropped
        file = index_name(name, version, index)
        path = os.path.join(folder, file)
        if isinstance(index, HnswIndex):
            with seg.graphs_settled() as complete:
                if not complete:
                    pending.add(name)
                    continue
                index.save(path, _vector_file(seg, name))  # rows read, not mapped
        else:
            index.save(path)
        fsync_file(path)
        files[file] = file_crc(path)
    fsync_dir(folder)
    seg.index_dirty = pending


def write_tombstones(seg: Segment, folder: str, entry: dict[str, Any], version: int) -> None:
    """Write the tombstone bitmap under a new name (the old one stays until the
    manifest stops naming it)."""
    count = seg.num_deleted  # deletes may land while we write: persist what we saw
    packed = np.packbits(seg.deleted.view)
    buf = io.BytesIO()
    np.save(buf, packed, allow_pickle=False)
    data = buf.getvalue()
    atomic_write(os.path.join(folder, tombstones_name(version)), data)
    files: dict[str, int] = entry["files"]
    for old in [f for f in files if f.startswith("tombstones-")]:
        del files[old]
    files[tombstones_name(version)] = zlib.crc32(data)
    seg.persisted_deleted = count


def remove_unlisted(folder: str, files: dict[str, int]) -> None:
    """Delete a segment's files the manifest no longer names (after it is durable)."""
    for name in os.listdir(folder):
        if name not in files:
            remove_garbage(os.path.join(folder, name))


def file_crc(path: str) -> int:
    """CRC32 of a file, read in 1 MiB chunks."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def verify_files(folder: str, files: dict[str, int]) -> None:
    """Check every file of a segment against its manifest checksum.

    Raises:
        StorageError: a file is missing or its content changed, naming it.
    """
    for name, expected in files.items():
        path = os.path.join(folder, name)
        try:
            actual = file_crc(path)
        except FileNotFoundError:
            raise StorageError(f"segment file {path} is missing") from None
        if actual != expected:
            raise StorageError(
                f"segment file {path} is damaged: its checksum does not match the manifest"
            )


def read_segment(
    folder: str,
    segment_id: int,
    entry: dict[str, Any],
    schema: Schema,
    indexes: dict[str, Index],
) -> Segment:
    """Open a sealed segment written by ``write_segment``.

    Raises:
        StorageError: a file is missing or unreadable (the message names it).
    """
    n = int(entry["rows"])
    verify_files(folder, entry["files"])
    seg = Segment(segment_id, entry["partition"], schema, {})
    seg.sealed = True
    seg.persisted = True
    for f in schema.scalar_fields:
        if f.dtype.numpy_dtype.kind == "O":
            values = _load(folder, f"{f.name}.jsonl", n, jsonl=True)
            seg.columns[f.name] = Column(None, data=object_column(values))
        else:
            data = _load(folder, f"{f.name}.npy", n)
            _expect(data, folder, f"{f.name}.npy", f.dtype.numpy_dtype, ())
            seg.columns[f.name] = Column(None, data=data)
    for name in seg.nulls:
        seg.nulls[name] = Column(None, data=np.array(_load(folder, f"{name}.nulls.npy", n)))
    if seg.dynamic is not None:
        seg.dynamic = Column(None, data=dynamic_column(_load(folder, DYNAMIC, n, jsonl=True)))
    for name in seg.vectors:
        file = VectorFile(os.path.join(folder, f"{name}.vec.npy"))
        _expect(file.map, folder, f"{name}.vec.npy", np.dtype(np.float32), (schema[name].dim,))
        if len(file) != n:
            raise StorageError(f"segment file {file.path} holds {len(file)} rows, expected {n}")
        seg.vectors[name] = MappedColumn(file)
    for name in seg.sparse:
        indptr, indices, values = (
            _load(folder, f"{name}.sparse.{part}.npy", None) for part in SPARSE_PARTS
        )
        if len(indptr) != n + 1 or len(indices) != len(values) or indptr[-1] != len(indices):
            raise StorageError(f"sparse files of {name!r} in {folder} do not fit together")
        seg.sparse[name] = SparseColumn(indptr, indices, values)
    files: dict[str, int] = entry["files"]
    packed = _load(folder, _current(files, "tombstones-", ".npy"), None)
    deleted = np.unpackbits(np.asarray(packed), count=n).astype(bool)
    seg.deleted = Column(None, data=deleted)
    seg.num_deleted = int(deleted.sum())
    seg.persisted_deleted = seg.num_deleted
    seg.index_specs = dict(indexes)
    unbuilt = any(  # the graphs of all fields are built together
        spec.index_type == "HNSW" and not _names(files, f"{name}-", (GRAPH, HNSWLIB))
        for name, spec in indexes.items()
    )
    for name, spec in indexes.items():
        index: HnswIndex | IvfIndex
        if spec.is_scalar:
            seg.scalar_indexes[name] = _read_scalar_index(seg, folder, files, name)
            continue
        if spec.index_type == "HNSW":
            dim = schema[name].dim
            assert dim is not None
            if unbuilt:  # sealed by a checkpoint inside a write: the first search builds it
                seg.defer_graph(name)
                continue
            path = os.path.join(folder, _current(files, f"{name}-", (GRAPH, HNSWLIB)))
            if path.endswith(GRAPH):  # rows read from the file, as above
                index = HnswIndex.load(path, _vector_file(seg, name), spec.vector_metric)
            else:
                index = HnswIndex.load_hnswlib(path, dim, spec.vector_metric)
            index.mark_deleted(np.flatnonzero(deleted))
        elif spec.index_type.startswith("IVF_"):
            found = [f for f in files if f.startswith(f"{name}-") and f.endswith(".ivf")]
            if not found:
                continue  # too few rows for one when it was sealed: exact search
            path = os.path.join(folder, _current(files, f"{name}-", ".ivf"))
            index = IvfIndex.load(path, spec.vector_metric, spec.index_type)
        else:
            continue
        if len(index) != n:
            raise StorageError(f"index file {path} holds {len(index)} rows, not {n}")
        seg.indexes[name] = index
    if not unbuilt:
        seg.graphs_hold(n)  # every graph is on disk
    return seg


def _read_scalar_index(seg: Segment, folder: str, files: dict[str, int], name: str) -> ScalarIndex:
    """A scalar index from its file, or built now if the segment has none yet
    (written by the next checkpoint)."""
    if not any(f.startswith(f"{name}-") and f.endswith(".sidx") for f in files):
        seg.index_dirty.add(name)
        return seg.build_scalar_index(name)
    path = os.path.join(folder, _current(files, f"{name}-", ".sidx"))
    null = seg.nulls[name].view if name in seg.nulls else None
    return ScalarIndex.load(path, seg.columns[name].view, null, seg.schema[name].dtype)


def _vector_file(seg: Segment, name: str) -> VectorFile:
    """The ``.vec.npy`` file a sealed segment's vector column was opened from
    (its graph is saved and rebuilt from the file's rows, read, not mapped)."""
    column = seg.vectors[name]
    assert isinstance(column, MappedColumn), "a sealed segment's vectors are its file's"
    return column.file


def _expect(
    data: np.ndarray, folder: str, name: str, dtype: np.dtype, tail: tuple[int | None, ...]
) -> None:
    """A column file must hold what the schema says (an edited manifest, a
    file swapped in by hand): never an error deep inside a search."""
    if data.dtype != dtype or data.shape[1:] != tail:
        raise StorageError(
            f"segment file {os.path.join(folder, name)} holds {data.dtype} values of shape "
            f"{data.shape[1:]}, but the schema says {dtype} of shape {tail}"
        )


def _names(files: dict[str, int], prefix: str, suffix: str | tuple[str, ...]) -> list[str]:
    return [f for f in files if f.startswith(prefix) and f.endswith(suffix)]


def _current(files: dict[str, int], prefix: str, suffix: str | tuple[str, ...]) -> str:
    """The one file of a versioned kind the manifest names."""
    found = _names(files, prefix, suffix)
    if len(found) != 1:
        kind = suffix if isinstance(suffix, str) else "|".join(suffix)
        raise StorageError(f"segment manifest names {len(found)} files {prefix}*{kind}")
    return found[0]


def _mapped(path: str) -> np.ndarray:
    """A file written by write_npy, memory-mapped read-only, as a plain ndarray."""
    mapped: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    return mapped


def _load(folder: str, name: str, n: int | None, jsonl: bool = False) -> Any:
    path = os.path.join(folder, name)
    try:
        if jsonl:
            data = read_jsonl(path)
        else:
            # A plain ndarray view of the map: np.memmap's Python-level __getitem__
            # would tax every search; the view keeps the mapping alive.
            data = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    except FileNotFoundError:
        raise StorageError(f"segment file {path} is missing") from None
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"segment file {path} is damaged: {exc}") from None
    except RecursionError:  # JSON nested past what this interpreter can read back
        raise StorageError(f"segment file {path} holds JSON nested too deeply") from None
    if n is not None and len(data) != n:
        raise StorageError(f"segment file {path} holds {len(data)} rows, expected {n}")
    return data
