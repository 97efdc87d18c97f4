"""A sealed segment's vectors read with plain reads (``columns.VectorFile``).

Work that reads rows once and keeps a copy (a filter's gathered rows, a graph's
build, compaction) reads the ``.vec.npy`` file instead of indexing its memory
map: pages touched through the map stay in the process's RSS, and Linux maps a
whole page-cache folio at a fault, so a few hundred scattered rows could map
the whole file. The reads must give what the map gives, whatever rows are
asked for, and must never read a file other than the one the segment opened.
"""

from __future__ import annotations

import os
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import columns
from vectorstore.columns import FileColumn, MappedColumn, VectorFile
from vectorstore.errors import StorageError


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_reads_give_what_the_map_gives(tmp_path_factory, data):
    n = data.draw(st.integers(1, 300), label="rows")
    dim = data.draw(st.integers(1, 9), label="dim")
    stored = np.random.default_rng(n * 10 + dim).standard_normal((n, dim)).astype(np.float32)
    path = str(tmp_path_factory.mktemp("v") / "v.vec.npy")
    np.save(path, stored)
    file = VectorFile(path)
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=60), label="take")
    if data.draw(st.booleans(), label="sorted"):
        rows = sorted(set(rows))  # what a selection asks for
    lo = data.draw(st.integers(0, n), label="lo")
    hi = data.draw(st.integers(lo, n), label="hi")
    width = 4 * dim
    with pytest.MonkeyPatch.context() as mp:  # runs split by gaps and by length
        mp.setattr(columns, "_READ_THROUGH", data.draw(st.sampled_from([1, width, 3 * width])))
        mp.setattr(columns, "_SPAN", data.draw(st.sampled_from([1, 2 * width, 1 << 20])))
        picked = file.take(np.array(rows, dtype=np.int64))
        sliced = file[lo:hi]
    assert picked.dtype == np.float32 and picked.shape == (len(rows), dim)
    assert picked.tobytes() == stored[rows].tobytes()
    assert sliced.tobytes() == stored[lo:hi].tobytes()
    picked[...] = 0  # copies: the caller may scale them in place
    assert np.array_equal(file.map, stored)


def test_spilled_rows_taken_match_the_map(tmp_path):
    column = FileColumn(str(tmp_path / "spill"), 3)
    stored = np.arange(3 * 500, dtype=np.float32).reshape(500, 3)
    column.append(stored[:200])
    column.append(stored[200:])
    for rows in (np.array([499, 0, 7, 8, 9, 250, 7]), np.arange(100, 300), np.zeros(0, int)):
        assert np.array_equal(column.take(rows), stored[rows])
    assert column._map is None  # read, not mapped
    column.close()


def test_a_gather_reads_a_bounded_span_at_a_time(tmp_path, monkeypatch):
    """Every other row of a 2.5 MB file, gaps read through: the rows are read
    ``_SPAN`` bytes at a time, not as one block of the whole file."""
    stored = np.arange(40_000 * 16, dtype=np.float32).reshape(40_000, 16)
    _, file = _sealed(tmp_path, stored)
    monkeypatch.setattr(columns, "_READ_THROUGH", 1 << 20)
    monkeypatch.setattr(columns, "_SPAN", 64 << 10)
    rows = np.arange(0, 40_000, 2)
    tracemalloc.start()
    try:
        picked = file.take(rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(picked, stored[rows])
    # the rows, a few index arrays of them, a span or two: not the 2.5 MB span of all
    assert peak < picked.nbytes + 4 * rows.nbytes + (128 << 10), (peak, picked.nbytes)


def _sealed(tmp_path, values: np.ndarray) -> tuple[str, VectorFile]:
    path = str(tmp_path / "vector.vec.npy")
    np.save(path, values)
    return path, VectorFile(path)


def test_a_removed_file_is_read_through_the_map(tmp_path):
    """Another process compacted or dropped the segment: its folder is gone,
    and this process's searches still read the rows it opened."""
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    path, file = _sealed(tmp_path, values)
    os.remove(path)
    assert np.array_equal(file.take(np.array([9, 1])), values[[9, 1]])
    assert np.array_equal(file[2:5], values[2:5])


def test_a_file_swapped_in_under_the_name_is_not_read(tmp_path):
    """A collection dropped and made again under the same name reuses the
    segment's path: the rows still come from the file this segment opened."""
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    path, file = _sealed(tmp_path, values)
    np.save(str(tmp_path / "other.npy"), -values)
    os.replace(str(tmp_path / "other.npy"), path)
    assert np.array_equal(file.take(np.array([3, 4])), values[[3, 4]])
    assert np.array_equal(file[0:10], values)


@pytest.mark.parametrize("change", ["truncated", "rewritten"])
def test_a_file_changed_in_place_is_refused(tmp_path, change):
    values = np.arange(40, dtype=np.float32).reshape(10, 4)
    path, file = _sealed(tmp_path, values)
    stat = os.stat(path)
    if change == "truncated":
        os.truncate(path, stat.st_size - 16)
    else:
        with open(path, "r+b") as f:
            f.seek(-16, os.SEEK_END)
            f.write(b"\xff" * 16)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    with pytest.raises(StorageError, match="changed in place"):
        file.take(np.array([0]))
    with pytest.raises(StorageError, match="changed in place"):
        file[0:1]


def _mapped_kb(path: str) -> int:
    """This process's resident pages of the mappings of ``path`` (smaps), KB."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and ":" in head[3]:  # a mapping's first line
                inside = len(head) > 5 and head[5] == path
            elif inside and head[0] == "Rss:":
                total += int(head[1])
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_a_narrow_filter_does_not_map_the_segments_vectors(tmp_path):
    """160 scattered rows of a 10 MB sealed segment: the filter's exact search
    reads 80 KB. Through the map it made most of the file resident (a fault
    maps 64 KB to 2 MB around the row, depending on the kernel)."""
    n, dim = 40_000, 64
    rng = np.random.default_rng(5)
    data = rng.standard_normal((n, dim)).astype(np.float32)
    with vs.connect(str(tmp_path / "store")) as db:
        col = db.create_collection("c", dimension=dim)  # COSINE; "n" a dynamic field
        col.insert({"id": np.arange(n), "n": np.arange(n) % 1000, "vector": data})
        col.flush()
        (seg,) = col._state.partitions["_default"]
        sealed = seg.vectors["vector"]
        assert isinstance(sealed, MappedColumn)
        before = _mapped_kb(sealed.file.path)
        hits = col.search(data[:3], limit=5, filter="n < 4")
        grown = _mapped_kb(sealed.file.path) - before
        assert grown < 64, f"{grown} KB of the vector file became resident"
        passing = np.flatnonzero(np.arange(n) % 1000 < 4)
        scores = (data[:3] / np.linalg.norm(data[:3], axis=1, keepdims=True)) @ (
            data[passing] / np.linalg.norm(data[passing], axis=1, keepdims=True)
        ).T
        best = passing[np.argsort(-scores, axis=1, kind="stable")[:, :5]]
        assert [[h.id for h in row] for row in hits] == best.tolist()
