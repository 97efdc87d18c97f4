"""Memory that grows with what a call needs, not with the segment.

The growing segment's graph is built from spilled rows read in chunks. A path
store keeps a growing segment's exact vectors in a spill file
(``columns.FileColumn``), so they cost page cache, not RSS. The graph's build
reads every one of them; through the file's memory map each page it touched
would join the process's RSS, beside hnswlib's own copy of the same vectors
(at 1M x 128 that was 512 MB of the peak). It reads them with plain reads,
a chunk at a time.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from helpers.search_reference import exact

import vectorstore as vs
from vectorstore import segment as segment_mod
from vectorstore import selection as selection_mod
from vectorstore.columns import FileColumn


def test_the_build_reads_spilled_rows_in_chunks_without_mapping_them(tmp_path, monkeypatch):
    dim, n = 8, 2500
    monkeypatch.setattr(segment_mod, "INDEX_CHUNK_BYTES", 4 * dim * 300)  # chunks of 300 rows
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    with vs.connect(str(tmp_path / "store")) as db:
        col = db.create_collection("c", dimension=dim, metric="L2")
        for lo in range(0, n, 1000):
            col.insert({"id": np.arange(lo, min(lo + 1000, n)), "vector": vectors[lo : lo + 1000]})
        col.delete(filter="id in [5, 700, 2400]")
        (seg,) = col._state.partitions["_default"]
        spilled = seg.vectors["vector"]
        assert isinstance(spilled, FileColumn) and not spilled.in_memory
        queries = vectors[[0, 5, 299, 300, 1999, 2499]]
        hits = col.search(queries, limit=5, search_params={"ef": 400})
        assert seg._indexed == n  # the search built the graph over every row
        assert spilled._map is None  # ... and never mapped the spill file for it
        live = np.setdiff1d(np.arange(n), [5, 700, 2400])
        dist = ((queries[:, None, :] - vectors[live][None, :, :]) ** 2).sum(-1)
        exact = live[np.argsort(dist, axis=1)[:, :5]]
        assert [[h.id for h in row] for row in hits] == exact.tolist()
        assert (
            col.get(ids=[2499], output_fields=["vector"])[0]["vector"] == vectors[2499].tolist()
        )  # rows intact


def test_sealing_allocates_chunks_not_the_segments_vectors(tmp_path):
    """A flush builds the graph over the spilled rows, then writes the segment and
    its graph file: numpy's working memory for it is a few chunks (the build's
    ``INDEX_CHUNK_BYTES``, the graph file's ``_CHUNK_BYTES`` times its temporaries),
    not a copy of the 20 MB of vectors (with chunks of 32 MB and 4 MB it was 22 MB
    at 100k x 128: the peak of the whole build). hnswlib's own graph is not traced."""
    n, dim = 40_000, 128  # 20 MB of vectors
    data = np.random.default_rng(6).standard_normal((n, dim)).astype(np.float32)
    with vs.connect(str(tmp_path / "store")) as db:
        col = db.create_collection("c", dimension=dim)
        col.insert({"id": np.arange(n), "vector": data})
        tracemalloc.start()
        try:
            col.flush()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < data.nbytes / 2, (peak, data.nbytes)
        hits = col.search(data[:3], limit=1)
        assert [row[0].id for row in hits] == [0, 1, 2]


def test_a_filtered_exact_search_allocates_for_its_rows_not_the_segments():
    """COSINE exact search normalises the passing rows. It used to look their norms
    up in a cache of the whole segment's, whose first fill allocated a temporary
    of every vector (512 MB at 1M x 128); tracemalloc sees numpy's allocations."""
    n, dim = 100_000, 64  # 25.6 MB of vectors
    rng = np.random.default_rng(4)
    data = rng.standard_normal((n, dim)).astype(np.float32)
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("n", vs.DataType.INT64),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=dim),
        ]
    )
    col = vs.connect(":memory:").create_collection(
        "c", schema=schema, indexes=[vs.Index("vector", "FLAT", "COSINE")]
    )
    col.insert({"id": np.arange(n), "n": np.arange(n) % 100, "vector": data})
    col.flush()
    query = data[:1] + np.float32(0.01)
    tracemalloc.start()
    try:
        hits = col.search(query, limit=5, filter="n == 7")  # 1 % of the rows pass
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < data.nbytes / 8, (peak, data.nbytes)
    passing = np.flatnonzero(np.arange(n) % 100 == 7)
    unit = data[passing] / np.linalg.norm(data[passing], axis=1)[:, None]
    best = passing[np.argsort(-(unit @ (query[0] / np.linalg.norm(query[0]))))[:5]]
    assert [h.id for h in hits[0]] == best.tolist()


@pytest.mark.parametrize("metric", ["COSINE", "L2", "IP"])
def test_exact_search_over_a_selection_too_big_to_keep_reads_it_in_chunks(metric, monkeypatch):
    """Half the rows pass and are too many to keep gathered: exact search scores
    them a chunk at a time (when the planner prices it lower, or after the graph
    came back short), so its memory is a chunk's, and its answer exact search's
    (numpy over every passing row at once)."""
    monkeypatch.setattr(selection_mod, "SUBSET_MAX_BYTES", 4 * 16 * 1000)  # 1,000 rows
    monkeypatch.setattr(selection_mod, "CHUNK_BYTES", 4 * 16 * 700)  # chunks of 700 rows
    n, dim = 6000, 16
    rng = np.random.default_rng(9)
    data = (rng.standard_normal((n, dim)) * rng.uniform(0.5, 2, (n, 1))).astype(np.float32)
    col = vs.connect(":memory:").create_collection(
        "c", dimension=dim, indexes=[vs.Index("vector", "FLAT", metric)]
    )
    col.insert({"id": np.arange(n), "vector": data, "n": np.arange(n) % 2})
    queries = rng.standard_normal((3, dim)).astype(np.float32)
    gathered = []
    real = selection_mod.flat.ip_rows

    def spy(sub, metric, centre=None):  # type: ignore[no-untyped-def]
        gathered.append(len(sub))
        return real(sub, metric, centre)

    monkeypatch.setattr(selection_mod.flat, "ip_rows", spy)
    hits = col.search(queries, limit=7, filter="n == 1")
    # (L2 gathers a chunk and widens it: two copies in CHUNK_BYTES)
    step = 700 if metric != "L2" else 700 * dim // (2 * dim + 1)
    assert gathered and max(gathered) == step and sum(gathered) == n // 2
    passing = np.flatnonzero(np.arange(n) % 2 == 1)
    rows, _ = exact(queries, data[passing], metric, 7)
    assert [[h.id for h in row] for row in hits] == passing[rows].tolist()


def test_an_l2_selection_counts_its_norm_column_against_the_limit(monkeypatch):
    """L2 rows are kept as ``[v, -|v|^2]``: dim + 1 floats a row. A selection that
    fits the limit at dim floats a row but not at dim + 1 is not kept under L2 (it
    is scored a chunk at a time), and is kept under COSINE."""
    n, dim = 4000, 16
    monkeypatch.setattr(selection_mod, "SUBSET_MAX_BYTES", 4 * dim * 1000)  # 1,000 rows of dim
    rng = np.random.default_rng(4)
    data = rng.standard_normal((n, dim)).astype(np.float32)
    for metric in ("L2", "COSINE"):
        col = vs.connect(":memory:").create_collection(
            "c", dimension=dim, indexes=[vs.Index("vector", "FLAT", metric)]
        )
        col.insert({"id": np.arange(n), "vector": data, "n": np.arange(n) % 4})
        hits = col.search(data[:1], limit=3, filter="n == 0")  # 1,000 rows pass
        seg = col._state.partitions["_default"][0]
        kept = sum(s.cached_bytes for s in seg._selections.values())
        assert kept == (0 if metric == "L2" else 1000 * dim * 4), (metric, kept)
        assert seg._subset_bytes == kept
        assert hits[0][0].id == 0  # (row 0 passes and is the query itself)
