"""Writing a graph file through hnswlib's own file, read back in chunks.

The saver no longer asks hnswlib for ``__getstate__`` (a copy of the whole
level-0 block in memory while a segment is sealed): hnswlib writes its file
from C++, and ``hnswlib_file`` reads it back a chunk of elements at a time.
Real hnswlib throughout; ``__getstate__`` is the reference the parse is
checked against.
"""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.columns import VectorFile
from vectorstore.index import hnsw_file
from vectorstore.index.hnsw import HnswIndex
from vectorstore.index.hnswlib_file import HnswlibFile
from vectorstore.types import Metric


def built(n: int, dim: int, m: int, seed: int = 0) -> tuple[HnswIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    index = HnswIndex(dim, Metric.COSINE, M=m, ef_construction=40, capacity=max(n, 1))
    order = rng.permutation(n)
    index.add(np.ascontiguousarray(vectors[order]), order.astype(np.int64))
    index.mark_deleted(np.arange(0, n, 5))
    return index, vectors


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 400), m=st.integers(2, 10), step=st.integers(1, 97))
def test_the_parse_gives_what_getstate_gives(tmp_path_factory, n, m, step):
    index, _ = built(n, 4, m, seed=n)
    path = str(tmp_path_factory.mktemp("h") / "x.hnsw")
    index._index.save_index(path)
    state = index._index.__getstate__()[0]
    source = HnswlibFile(path)
    size = int(state["size_data_per_element"])
    assert source.count == n and source.size == size
    for name in ("max_level", "enterpoint_node", "M", "ef_construction", "label_offset"):
        assert source.header[name] == state[name], name
    assert source.header["mult"] == state["mult"]
    blocks = [block for _, block in source.level0(step)]
    level0 = np.concatenate(blocks) if blocks else np.zeros((0, size), np.uint8)
    assert level0.tobytes() == np.asarray(state["data_level0"]).tobytes()[: n * size]
    levels, upper = source.upper(int(state["size_links_per_element"]))
    assert np.array_equal(levels, np.asarray(state["element_levels"])[:n])
    assert upper.tobytes() == np.asarray(state["link_lists"]).tobytes()


def test_saving_holds_a_chunk_not_the_level0_block(tmp_path, monkeypatch):
    """tracemalloc sees numpy's allocations: ``__getstate__`` alone would
    allocate the whole block (here ~10 MB); the streamed save a chunk of it."""
    index, vectors = built(10_000, 256, 4)
    block = index._index.__getstate__()[0]["data_level0"].nbytes
    monkeypatch.setattr(hnsw_file, "_CHUNK_BYTES", 256 << 10)
    np.save(tmp_path / "v.vec.npy", vectors)
    rows = VectorFile(str(tmp_path / "v.vec.npy"))
    tracemalloc.start()
    try:
        index.save(str(tmp_path / "v-1.hgraph"), rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < block / 4, (peak, block)
    back = HnswIndex.load(str(tmp_path / "v-1.hgraph"), rows, Metric.COSINE)
    queries = vectors[:5]
    for one, other in zip(index.search(queries, 5, 30), back.search(queries, 5, 30), strict=True):
        assert one.tobytes() == other.tobytes()
    assert not os.path.exists(str(tmp_path / "v-1.hgraph.hnswlib"))


@pytest.mark.parametrize("cut", ["header", "level0", "upper", "torn"])
def test_a_short_hnswlib_file_is_an_os_error_and_leaves_no_scratch(tmp_path, monkeypatch, cut):
    """hnswlib does not check its writes: on a full disk its file is short.
    The saver notices (an OSError, which a checkpoint reports as a
    StorageError and retries) and removes the scratch file."""
    index, vectors = built(300, 8, 4)
    real_save = index._index.save_index
    size = index._index.__getstate__()[0]["size_data_per_element"]
    keep = {"header": 50, "level0": 96 + 100 * size, "upper": 96 + 300 * size + 8, "torn": -1}

    def short_save(path: str) -> None:
        real_save(path)
        length = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(keep[cut] if keep[cut] > 0 else length - 2)

    class Wrapped:
        dim, ef = index._index.dim, index._index.ef

        def save_index(self, path: str) -> None:
            short_save(path)

    target = str(tmp_path / "v-1.hgraph")
    with pytest.raises(OSError, match="hnswlib"):
        hnsw_file.save_graph(Wrapped(), target, vectors, "cosine")  # type: ignore[arg-type]
    assert not os.path.exists(target + ".hnswlib")
