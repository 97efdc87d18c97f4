"""The HNSW graph file: hnswlib's index without its copy of the vectors.

hnswlib's own ``save_index`` writes every vector inside the graph's level-0
block, next to each element's links and label, and a segment keeps the same
vectors exactly in ``<field>.vec.npy`` (what ``get()`` and exact search read):
every vector stored twice. This file holds everything but those vector bytes;
loading puts the rows of ``.vec.npy`` back where hnswlib keeps them (through
each element's label: hnswlib's internal ids need not follow the labels) and
hands the whole to hnswlib's own ``__setstate__``, so the index loaded is the
one saved, byte for byte.

COSINE: hnswlib stores vectors normalised (its C++ ``normalize_vector``: a
float32 sum of squares in order, then each element times ``1 / (sqrt(sum) +
1e-30)``). How the compiler built that sum decides the last bits: hnswlib
0.8.0 as pip built it here, from source, behaves as if it squares 8 elements at
a time and adds them one by one, and adds the ``dim % 8`` left over with fused
multiply-adds (measured, not read from its build flags).
``normalize_like_hnswlib(rows, fused_from)`` computes the sum that way (plain
adds before column ``fused_from``, fused ones from it), which reproduces
hnswlib's bytes exactly for every dimension tried. Nothing relies on it: the
saver picks the ``fused_from`` that matches hnswlib's bytes best on a sample,
records it, compares what the loader will rebuild with hnswlib's bytes for
every row, and stores the rows that differ as a patch (empty here; a build of
hnswlib that sums another way gets a bigger file, never a different index).

Layout: a sequence of standard ``.npy`` records, each padded to 64 bytes so
every array is aligned, read back with ``allow_pickle=False`` semantics (the
dtype of every record is checked before use, so no record can hold objects):

1. ``meta`` int64: ``_META`` names, in order;
2. ``mult`` float64 (1,): hnswlib's level multiplier, kept exactly;
3. ``links`` uint8 (count, offset_data): each element's level-0 link list;
4. ``labels`` uint64 (count,): each element's label (a row of the segment);
5. ``levels`` uint8 (count,): each element's top level (hnswlib's int32: a
   level is ``-ln(uniform) / ln(M)``, under 60 for any M >= 2);
6. ``upper`` uint8: the link lists of levels >= 1, element after element;
7. ``patch_ids`` int64 (k,) and ``patch_rows`` float32 (k, dim): stored
   vectors the rebuild cannot reproduce, by internal id.

Checksums: like every segment file, the manifest holds its CRC32 and the
segment's files are checked against it before anything is read. The loader
still validates every size, offset and link id against the rest, so a file that
does not belong to its segment is a ``StorageError``, never a crash in hnswlib.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from typing import IO, TypeAlias

import hnswlib
import numpy as np

from ..columns import VectorFile
from ..errors import StorageError
from .hnswlib_file import HnswlibFile

FORMAT_VERSION = 1
_META = (
    "format",
    "metric",
    "fused_from",
    "dim",
    "count",
    "M",
    "ef_construction",
    "ef",
    "seed",
    "max_level",
    "enterpoint_node",
    "ep_added",
    "has_deletions",
    "size_data_per_element",
    "offset_data",
    "label_offset",
    "size_links_per_element",
)
_METRICS = ("l2", "ip", "cosine")  # hnswlib space names, by their code in the file
_ALIGN = 64
_CHUNK_BYTES = 1 << 20  # read and compared at a time by a save or load (~5x that in temporaries)
_SAMPLE = 4096  # rows on which the saver picks how to normalise
_SEED = 100  # the random seed every HnswIndex is built with (hnswlib keeps it, unused once built)
_DELETE_MARK = 1  # hnswlib's mark of a deleted element: bit 0 of byte 2 of its level-0 links
_POPULATE = getattr(mmap, "MAP_POPULATE", None)  # Linux only
_BLOCK = 2048  # rows whose squares are summed at a time (they stay in cache)


Vectors: TypeAlias = np.ndarray | VectorFile  # a segment's exact vectors, by row


def normalize_like_hnswlib(rows: np.ndarray, fused_from: int) -> np.ndarray:
    """Rows normalised as hnswlib's ``normalize_vector`` does it, in float32.

    Args:
        rows: float32 (n, dim).
        fused_from: the first column whose square is added with a fused
            multiply-add (one rounding, not two); ``dim``: none is.
    """
    norm = np.zeros(len(rows), dtype=np.float32)
    for lo in range(0, len(rows) if fused_from else 0, _BLOCK):
        # one float32 rounding per square and per add, in column order; columns
        # of a transposed block are contiguous (3-4x np.cumsum along the rows)
        plain = rows[lo : lo + _BLOCK, :fused_from]
        columns = np.ascontiguousarray((plain * plain).T)
        total = columns[0].copy()
        for column in columns[1:]:
            total += column
        norm[lo : lo + _BLOCK] = total
    for i in range(fused_from, rows.shape[1]):
        # a float32 square is exact in float64, so this rounds once to float32
        # (but for a rare double rounding: the saver's patch takes those rows)
        column = rows[:, i].astype(np.float64)
        norm = (column * column + norm).astype(np.float32)
    inverse = np.float32(1.0) / (np.sqrt(norm) + np.float32(1e-30))
    out: np.ndarray = rows * inverse[:, None]
    return out


def save_graph(index: hnswlib.Index, path: str, vectors: Vectors, space: str) -> None:
    """Write ``index`` to ``path`` without its vectors.

    Args:
        index: an hnswlib index whose labels are the rows of ``vectors``.
        path: the file to write (not fsynced: the caller does it).
        vectors: float32 (rows, dim), the rows the loader will be given (an
            array or a ``VectorFile``).
        space: hnswlib's space name ("l2", "ip" or "cosine").

    Memory: hnswlib writes its own file beside ``path`` from C++
    (``save_index``), which is read back a chunk of elements at a time
    (``hnswlib_file``) and deleted; ``__getstate__`` would copy the whole
    level-0 block into memory instead. Beyond a chunk, this holds the labels
    and the upper-level links (about 1/M of the graph).

    Raises:
        StorageError: the index does not fit ``vectors`` or hnswlib's layout.
        OSError: a file could not be written or read back (a full disk).
    """
    scratch = path + ".hnswlib"
    try:
        index.save_index(scratch)
        _save_from(HnswlibFile(scratch), index, path, vectors, space)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(scratch)


def _save_from(
    source: HnswlibFile, index: hnswlib.Index, path: str, vectors: Vectors, space: str
) -> None:
    """``save_graph``'s work, from hnswlib's file of ``index``."""
    head = {k: int(v) for k, v in source.header.items() if k != "mult"}
    count, dim = source.count, int(index.dim)
    size, start, stop = head["size_data_per_element"], head["offset_data"], head["label_offset"]
    if head["offset_level0"] != 0 or stop - start != 4 * dim or size != stop + 8:
        raise StorageError(f"cannot write {path}: hnswlib's element layout is not the one expected")
    not_rows = f"cannot write {path}: the graph's labels are not the segment's rows"
    if count != len(vectors):
        raise StorageError(not_rows)
    size_links = 4 + 4 * head["max_M"]  # hnswlib's size_links_per_element
    levels, upper = source.upper(size_links)
    if count and levels.max() > 255:
        raise StorageError(f"cannot write {path}: a graph level is over 255")
    meta = {
        **{k: head[k] for k in _META if k in head},
        "format": FORMAT_VERSION,
        "metric": _METRICS.index(space),
        "dim": dim,
        "count": count,
        "ef": int(index.ef),
        "seed": _SEED,
        "ep_added": int(count > 0),
        "has_deletions": 0,  # set below, from the elements' delete marks
        "size_links_per_element": size_links,
        "fused_from": dim,
    }
    labels = np.empty(count, dtype=np.uint64)
    patch_ids, patch_rows = [], []
    with open(path, "wb") as f:
        _write(f, np.zeros(len(_META), dtype=np.int64))  # the meta record, rewritten last
        _write(f, np.array([source.header["mult"]], dtype=np.float64))
        _write_header(f, np.dtype(np.uint8), (count, start))
        for lo, block in source.level0(max(1, _CHUNK_BYTES // size)):
            own = np.ascontiguousarray(block[:, stop:]).view(np.uint64).reshape(-1)
            if len(own) and int(own.max()) >= count:
                raise StorageError(not_rows)
            labels[lo : lo + len(own)] = own
            f.write(np.ascontiguousarray(block[:, :start]).data)
            meta["has_deletions"] |= int((block[:, 2] & _DELETE_MARK).any())
            stored, rows = block[:, start:stop], _take(vectors, own)
            if lo == 0 and space == "cosine":
                meta["fused_from"] = _pick_fused_from(rows[:_SAMPLE], stored[:_SAMPLE])
            differ = np.flatnonzero((stored != _as_stored(rows, space, meta["fused_from"])).any(1))
            patch_ids.append(differ + lo)
            patch_rows.append(np.ascontiguousarray(stored[differ]).view(np.float32))
        f.write(b"\0" * (-f.tell() % _ALIGN))
        if not _is_permutation(labels, count):
            raise StorageError(not_rows)
        _write(f, labels)
        _write(f, levels.astype(np.uint8))
        _write(f, upper)
        _write(f, np.concatenate(patch_ids) if patch_ids else np.zeros(0, np.int64))
        _write(f, np.concatenate(patch_rows) if patch_rows else np.zeros((0, dim), np.float32))
        f.seek(0)
        _write(f, np.array([meta[k] for k in _META], dtype=np.int64))


def load_graph(path: str, vectors: Vectors, space: str) -> hnswlib.Index:
    """Read a file written by ``save_graph`` and rebuild the hnswlib index.

    Args:
        path: the graph file.
        vectors: float32 (rows, dim): the segment's exact vectors, by row (an
            array or a ``VectorFile``, read a chunk at a time, in file order).
        space: hnswlib's space name; must be the one the file was saved with.

    Returns:
        The index, byte for byte the one saved (same level-0 block), but for
        its capacity: exactly its rows (a sealed segment's graph takes no more;
        hnswlib keeps a lock, a level and a visited mark per slot, used or not).

    Memory: the graph file is memory-mapped while this runs; the one copy
    made is the level-0 block handed to hnswlib (links, vector and label of
    every row: ``count * size_data_per_element`` bytes), freed once hnswlib
    has copied it into the index. So the peak is the index plus that block
    (plus the graph file's pages and a chunk of rows).

    Raises:
        StorageError: the file is missing, truncated, damaged, or does not fit
            ``vectors`` (row count, dimension, metric), naming the file.
    """
    try:
        with open(path, "rb") as f:
            records = _read_all(f, path)
    except FileNotFoundError:
        raise StorageError(f"index file {path} is missing") from None
    except (OSError, ValueError) as exc:
        raise StorageError(f"index file {path} is damaged: {exc}") from None
    meta_arr, mult, links, labels, levels, upper, patch_ids, patch_rows = records
    if meta_arr.shape != (len(_META),) or meta_arr.dtype != np.int64:
        raise StorageError(f"index file {path} is not a Kestrel graph file")
    meta = dict(zip(_META, (int(v) for v in meta_arr), strict=True))
    if meta["format"] != FORMAT_VERSION:
        raise StorageError(
            f"index file {path} has graph format {meta['format']}, which this version of "
            "Kestrel cannot read; upgrade Kestrel"
        )
    count, dim = meta["count"], meta["dim"]
    problem = _misfit(meta, vectors, space)
    if problem is None:
        problem = _check_arrays(meta, mult, links, labels, levels, upper, patch_ids, patch_rows)
    if problem is not None:
        raise StorageError(f"index file {path} does not fit its segment: {problem}")
    size, start, stop = meta["size_data_per_element"], meta["offset_data"], meta["label_offset"]
    raw = _scratch(count, size)  # the one copy: hnswlib copies it in
    level0 = raw.view(np.int8)
    raw[:, :start] = links
    raw[:, stop:] = labels.view(np.uint8).reshape(count, 8)
    ids = _internal_ids(labels)
    for lo, rows in _rebuilt(vectors, space, meta["fused_from"]):
        raw[ids[lo : lo + len(rows)], start:stop] = rows
    raw[patch_ids, start:stop] = patch_rows.view(np.uint8).reshape(len(patch_ids), 4 * dim)
    fresh = hnswlib.Index(space=space, dim=dim)  # for this machine's default thread count
    params = {
        "ser_version": 1,
        "space": space,
        "dim": dim,
        "index_inited": True,
        "ep_added": bool(meta["ep_added"]),
        "normalize": space == "cosine",
        "num_threads": fresh.num_threads,
        "seed": meta["seed"],
        "offset_level0": 0,
        "max_elements": max(count, 1),  # see load_graph's docstring
        "cur_element_count": count,
        "size_data_per_element": size,
        "label_offset": stop,
        "offset_data": start,
        "max_level": meta["max_level"],
        "enterpoint_node": meta["enterpoint_node"],
        "max_M": meta["M"],
        "max_M0": 2 * meta["M"],
        "M": meta["M"],
        "mult": float(mult[0]),
        "ef_construction": meta["ef_construction"],
        "ef": meta["ef"],
        "has_deletions": bool(meta["has_deletions"]),
        "size_links_per_element": meta["size_links_per_element"],
        "label_lookup_external": labels,
        "label_lookup_internal": np.arange(count, dtype=np.uint32),
        "element_levels": levels.astype(np.int32),
        "data_level0": level0.reshape(-1),
        "link_lists": upper.view(np.int8),
    }
    try:
        return hnswlib.Index(params)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise StorageError(f"index file {path} cannot be read: {exc}") from None


# ------------------------------------------------------------------ helpers
def _rebuilt(vectors: Vectors, space: str, fused_from: int) -> Iterator[tuple[int, np.ndarray]]:
    """The vector bytes hnswlib holds for the segment's rows, as the loader
    rebuilds them: ``(first row, uint8 (rows, 4 * dim))``, rows read in file
    order a chunk at a time."""
    step = max(1, _CHUNK_BYTES // (4 * max(int(vectors.shape[1]), 1)))
    for lo in range(0, len(vectors), step):
        yield lo, _as_stored(vectors[lo : lo + step], space, fused_from)


def _as_stored(rows: np.ndarray, space: str, fused_from: int) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if space == "cosine":
        rows = normalize_like_hnswlib(rows, fused_from)
    return rows.view(np.uint8)


def _scratch(rows: int, width: int) -> np.ndarray:
    """A zeroed uint8 (rows, width) array in an anonymous mapping of its own,
    its pages made at once where the system can (Linux's ``MAP_POPULATE``).

    numpy asks the kernel to back large arrays with transparent huge pages, and
    where it must compact memory to find them (``defrag = madvise``, the kernel's
    default) that stalls: 650 MB took 0.07 to 1.4 s to fill here. Mapped
    without that advice, it takes 0.42 s in page faults, or 0.22 s populated up
    front (every byte is written next anyway)."""
    size = max(rows * width, 1)
    try:
        if _POPULATE is None:
            buffer = mmap.mmap(-1, size)
        else:
            flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _POPULATE
            buffer = mmap.mmap(-1, size, flags=flags)
    except OSError as exc:  # out of memory, as np.empty would have said
        raise MemoryError(f"cannot map {size} bytes for a graph's level-0 block: {exc}") from exc
    return np.frombuffer(buffer, dtype=np.uint8, count=rows * width).reshape(rows, width)


def _internal_ids(labels: np.ndarray) -> np.ndarray:
    """hnswlib's internal id of each row (labels: a permutation of the rows)."""
    ids = np.empty(len(labels), dtype=np.intp)
    ids[labels.astype(np.intp)] = np.arange(len(labels))
    return ids


def _take(vectors: Vectors, rows: np.ndarray) -> np.ndarray:
    """``vectors[rows]`` for an array or a ``VectorFile``."""
    if isinstance(vectors, VectorFile):
        return vectors.take(rows)
    picked: np.ndarray = vectors[rows.astype(np.intp)]
    return picked


def _pick_fused_from(sample: np.ndarray, held: np.ndarray) -> int:
    """How hnswlib's build sums squares, judged on a few rows (``held``:
    hnswlib's bytes of the rows ``sample``): the ``fused_from`` whose
    normalisation matches the most rows (the first that matches them all),
    among plain adds throughout, fused adds throughout, and fused adds for the
    remainder after a multiple of 4, 8 or 16 columns."""
    dim = int(sample.shape[1])
    best, best_misses = dim, len(held) + 1
    for fused_from in dict.fromkeys((dim, dim // 8 * 8, dim // 16 * 16, dim // 4 * 4, 0)):
        rebuilt = _as_stored(sample, "cosine", fused_from)
        misses = int((rebuilt != held).any(axis=1).sum())
        if misses < best_misses:
            best, best_misses = fused_from, misses
        if misses == 0:
            break
    return best


def _is_permutation(labels: np.ndarray, n: int) -> bool:
    if len(labels) != n:
        return False
    if n == 0:
        return True
    if int(labels.max()) >= n:
        return False
    return bool((np.bincount(labels.astype(np.intp), minlength=n) == 1).all())


def _misfit(meta: dict[str, int], vectors: Vectors, space: str) -> str | None:
    """Why the file cannot be this segment's graph (None: it can)."""
    if meta["metric"] not in range(len(_METRICS)) or _METRICS[meta["metric"]] != space:
        return f"its metric is not {space!r}"
    if vectors.ndim != 2 or meta["dim"] != vectors.shape[1]:
        return f"its dimension {meta['dim']} is not the field's {vectors.shape[1:]}"
    if not 0 <= meta["fused_from"] <= meta["dim"]:
        return "its normalisation is out of range"
    if meta["count"] != len(vectors):
        return f"it holds {meta['count']} rows, the segment {len(vectors)}"
    return None


def _check_arrays(
    meta: dict[str, int],
    mult: np.ndarray,
    links: np.ndarray,
    labels: np.ndarray,
    levels: np.ndarray,
    upper: np.ndarray,
    patch_ids: np.ndarray,
    patch_rows: np.ndarray,
) -> str | None:
    """Every size and id hnswlib would trust (it copies and follows them unchecked)."""
    count, dim, m = meta["count"], meta["dim"], meta["M"]
    link0, link_up = 4 + 8 * m, 4 + 4 * m  # hnswlib: maxM0 = 2M ids plus a header word
    if not 2 <= m <= 10_000 or meta["size_links_per_element"] != link_up:
        return "its degree M is out of range"
    if (meta["offset_data"], meta["label_offset"], meta["size_data_per_element"]) != (
        link0,
        link0 + 4 * dim,
        link0 + 4 * dim + 8,
    ):
        return "its element layout does not match M and the dimension"
    shapes = [
        (mult, np.float64, (1,)),
        (links, np.uint8, (count, link0)),
        (labels, np.uint64, (count,)),
        (levels, np.uint8, (count,)),
        (upper, np.uint8, upper.shape[:1]),
        (patch_ids, np.int64, patch_ids.shape[:1]),
        (patch_rows, np.float32, (len(patch_ids), dim)),
    ]
    if any(a.dtype != dtype or a.shape != shape for a, dtype, shape in shapes):
        return "an array has the wrong type or shape"
    if not _is_permutation(labels, count):
        return "its labels are not the segment's rows"
    if len(patch_ids) and (patch_ids.min() < 0 or patch_ids.max() >= count):
        return "a patched row is out of range"
    if count == 0:
        return None if len(upper) == 0 else "it has links but no rows"
    top = meta["max_level"]
    if levels.max() != top or not 0 <= meta["enterpoint_node"] < count:
        return "its levels or entry point are out of range"
    if levels[meta["enterpoint_node"]] != top:
        return "its entry point is not on the top level"
    if len(upper) != int(levels.astype(np.int64).sum()) * link_up:
        return "its upper-level links have the wrong length"
    level0 = links.view(np.uint32).reshape(count, -1)
    if not _links_ok(level0, 2 * m, levels, None):
        return "a level-0 link is out of range"
    # element i holds one list for each of its levels 1..levels[i], in order
    per_element = levels.astype(np.int64)
    first = np.repeat(np.cumsum(per_element) - per_element, per_element)
    list_level = np.arange(len(first)) - first + 1
    if not _links_ok(upper.view(np.uint32).reshape(-1, m + 1), m, levels, list_level):
        return "an upper-level link is out of range"
    return None


def _links_ok(
    lists: np.ndarray, max_links: int, levels: np.ndarray, level: np.ndarray | None
) -> bool:
    """Whether every link list (header word: the count in its low 16 bits, then
    the ids) holds at most ``max_links`` ids, each of an element that exists
    and reaches the list's level (hnswlib follows them unchecked).

    ``level``: each list's level; None for level 0, which every element reaches.
    There, when every slot, used or not, names an element, so does every link:
    one pass over the lists instead of gathering the used slots (at 1M rows,
    0.045 s against 0.2)."""
    if len(lists) == 0:
        return True
    sizes = (lists[:, 0] & 0xFFFF).astype(np.int64)
    if sizes.max() > max_links:
        return False
    slots = lists[:, 1:]
    if level is None and int(slots.max()) < len(levels):
        return True
    used = np.arange(slots.shape[1]) < sizes[:, None]
    ids = slots[used]
    if not (ids < len(levels)).all():
        return False
    if level is None:
        return True
    wanted = np.broadcast_to(level[:, None], used.shape)[used]
    return bool((levels[ids] >= wanted).all())


def _write(f: IO[bytes], array: np.ndarray) -> None:
    """One ``.npy`` record, then zeros up to the next 64-byte boundary."""
    np.lib.format.write_array(f, array, allow_pickle=False)
    f.write(b"\0" * (-f.tell() % _ALIGN))


def _write_header(f: IO[bytes], dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """The header of a ``.npy`` record whose data the caller writes next."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_2_0(f, header)


def _read_all(f: IO[bytes], path: str) -> list[np.ndarray]:
    """The 8 records of a graph file, each memory-mapped (empty ones in memory)."""
    end = os.fstat(f.fileno()).st_size
    out = []
    for _ in range(8):
        shape, fortran, dtype = _read_header(f)
        if fortran or dtype.hasobject or dtype.kind not in "iuf":
            raise ValueError("a record is not a plain numeric array")
        offset = f.tell()
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if offset + nbytes > end:
            raise ValueError("the file is truncated")
        if nbytes:
            out.append(np.memmap(path, dtype, "r", offset, shape).view(np.ndarray))
        else:
            out.append(np.zeros(shape, dtype))
        f.seek(offset + nbytes + (-(offset + nbytes) % _ALIGN))
    if f.tell() != end:
        raise ValueError("its length does not match its records")
    return out


def _read_header(f: IO[bytes]) -> tuple[tuple[int, ...], bool, np.dtype]:
    """One ``.npy`` record header: numpy's parser, whose errors on damaged bytes
    range from ValueError to tokenize's TokenError, all made a ValueError."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy record version {version}")
    except Exception as exc:
        raise ValueError(f"a record header cannot be read ({exc})") from None
    shape, fortran, dtype = header
    return tuple(shape), bool(fortran), dtype
