"""Graphs built by a search or a flush, not by the write that filled the log.

A checkpoint inside a write (the log grew past ``max_wal_bytes``, or a segment
filled up) seals the growing segment and writes its rows, but does not build
its HNSW graph: at 1M x 128 that build took 226 s inside one ``insert`` call.
The first search that walks it builds it, or an explicit ``flush()``, which
first folds the segments still without a graph back into one (a copy of rows,
no graph work lost): a bulk load ends as one segment, however often the log
filled up.
Checked against exact search and against the rows inserted.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from helpers.durability import image

import vectorstore as vs
from vectorstore.segment import Segment

DIM = 8


def vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def bulk_store(path: Path, n: int, batch: int = 300, **kw: Any) -> tuple[vs.Client, np.ndarray]:
    """A store whose log fills up every ~2 batches (so checkpoints seal often)."""
    db = vs.connect(path, max_wal_bytes=20_000, **kw)
    col = db.create_collection("c", dimension=DIM, metric="L2")
    data = vectors(n)
    for lo in range(0, n, batch):
        col.insert({"id": np.arange(lo, min(lo + batch, n)), "vector": data[lo : lo + batch]})
    return db, data


def segments(col: vs.Collection) -> list[Any]:
    return list(col._state.partitions["_default"])


def graph_files(path: Path) -> list[Path]:
    return sorted(path.glob("c/seg_*/vector-*.hgraph"))


def exact_ids(data: np.ndarray, live: np.ndarray, queries: np.ndarray, k: int) -> list[list[int]]:
    dist = ((queries[:, None, :] - data[live][None, :, :]) ** 2).sum(-1)
    return live[np.argsort(dist, axis=1, kind="stable")[:, :k]].tolist()


def hit_ids(col: vs.Collection, queries: np.ndarray, k: int) -> list[list[int]]:
    found = col.search(queries, limit=k, search_params={"ef": 500})
    return [[int(h.id) for h in row] for row in found]


def test_a_checkpoint_inside_a_write_writes_rows_and_builds_no_graph(tmp_path):
    db, data = bulk_store(tmp_path / "s", 3000)
    col = db.get_collection("c")
    sealed = [seg for seg in segments(col) if seg.sealed]
    assert len(sealed) >= 2, "the log filled up more than once"
    assert all(seg.persisted and seg.graph_pending for seg in sealed)
    assert all(len(seg.indexes["vector"]) == 0 for seg in sealed)  # no graph work yet
    assert not graph_files(tmp_path / "s")
    queries = data[[0, 1500, 2999]] + np.float32(0.01)
    assert hit_ids(col, queries, 5) == exact_ids(data, np.arange(3000), queries, 5)
    # segments this small are scanned whole (planner.exact_limit): still no graph
    assert all(seg.graph_pending for seg in sealed)
    db.close()


def test_a_search_builds_the_graph_only_when_it_uses_it(tmp_path):
    """A filtered search the planner answers exactly builds no graph (at 1M
    rows that would be minutes spent for nothing); an unfiltered one does."""
    db = vs.connect(tmp_path / "s")
    col = db.create_collection("c", dimension=DIM, metric="L2")
    data = vectors(5000)
    col.insert({"id": np.arange(5000), "vector": data, "n": np.arange(5000) % 100})
    (seg,) = segments(col)
    queries = vectors(3, seed=4)
    found = col.search(queries, limit=5, filter="n < 2", search_params={"ef": 500})
    passing = np.flatnonzero(np.arange(5000) % 100 < 2)
    assert [[int(h.id) for h in row] for row in found] == exact_ids(data, passing, queries, 5)
    assert seg.graph_pending and len(seg.indexes["vector"]) == 0
    assert hit_ids(col, queries, 5) == exact_ids(data, np.arange(5000), queries, 5)
    assert not seg.graph_pending and len(seg.indexes["vector"]) == 5000
    db.close()


def test_flush_folds_the_graphless_segments_into_one_and_builds_its_graph(tmp_path):
    db, data = bulk_store(tmp_path / "s", 3000)
    col = db.get_collection("c")
    assert len(segments(col)) >= 3
    col.delete(ids=list(range(0, 3000, 7)))  # deletes in sealed and growing segments
    col.flush()
    (seg,) = segments(col)
    assert seg.sealed and not seg.graph_pending and seg.num_deleted == 0
    assert len(graph_files(tmp_path / "s")) == 1
    live = np.array([i for i in range(3000) if i % 7])
    queries = data[[3, 1501, 2998]] + np.float32(0.01)
    assert hit_ids(col, queries, 5) == exact_ids(data, live, queries, 5)
    got = col.get(ids=[1, 2999, 7], output_fields=["vector"])
    assert {r["id"]: r["vector"] for r in got} == {
        1: data[1].tolist(),
        2999: data[2999].tolist(),
    }
    db.close()
    with vs.connect(tmp_path / "s") as again:
        col = again.get_collection("c")
        assert col.count() == len(live) and len(segments(col)) == 1
        assert hit_ids(col, queries, 5) == exact_ids(data, live, queries, 5)


def test_a_segment_a_search_built_the_graph_of_is_not_folded(tmp_path):
    db, _ = bulk_store(tmp_path / "s", 1200)
    col = db.get_collection("c")
    for seg in segments(col):  # as a search walking them would (these are small: none does)
        seg.build_graphs()
    built = [seg.id for seg in segments(col) if seg.sealed]
    assert built
    col.insert({"id": np.arange(5000, 5300), "vector": vectors(300, seed=1)})
    col.flush()
    assert [seg.id for seg in segments(col)][: len(built)] == built
    db.close()


def test_folding_stops_at_the_segment_limit(tmp_path):
    db, _ = bulk_store(tmp_path / "s", 3000, segment_rows=1000)
    col = db.get_collection("c")
    col.flush()
    assert sorted(seg.num_rows for seg in segments(col)) == [1000, 1000, 1000]
    assert not any(seg.graph_pending for seg in segments(col))
    db.close()


def test_a_crash_before_the_graph_was_built_reopens_and_searches_right(tmp_path):
    """The manifest names segments without graph files: opening builds nothing,
    searches answer right (these small segments are scanned), and the next
    flush builds and writes the graphs."""
    db, data = bulk_store(tmp_path / "s", 3000)
    crash = image(tmp_path / "s", tmp_path / "crash")  # the writer never flushed
    db.close()
    with vs.connect(crash) as again:
        col = again.get_collection("c")
        assert col.count() == 3000
        assert all(seg.graph_pending for seg in segments(col) if seg.sealed)
        queries = data[[10, 2000]] + np.float32(0.01)
        assert hit_ids(col, queries, 4) == exact_ids(data, np.arange(3000), queries, 4)
        col.delete(ids=[10])
        col.flush()
        assert len(graph_files(crash)) == len(segments(col))
    with vs.connect(crash, read_only=True) as reader:
        col = reader.get_collection("c")
        assert not any(seg.graph_pending for seg in segments(col))  # read from the files
        live = np.array([i for i in range(3000) if i != 10])
        assert hit_ids(col, queries, 4) == exact_ids(data, live, queries, 4)


def two_field_store(path: Path, n: int = 3000) -> tuple[vs.Client, np.ndarray, np.ndarray]:
    """Two HNSW fields, bulk-loaded so that checkpoints seal graphless segments."""
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("a", vs.DataType.FLOAT_VECTOR, dim=DIM),
            vs.Field("b", vs.DataType.FLOAT_VECTOR, dim=DIM),
        ]
    )
    db = vs.connect(path, max_wal_bytes=30_000)
    indexes = [vs.Index("a", "HNSW", "L2"), vs.Index("b", "HNSW", "L2")]
    col = db.create_collection("c", schema=schema, indexes=indexes)
    a, b = vectors(n, seed=1), vectors(n, seed=2)
    for lo in range(0, n, 300):
        col.insert({"id": np.arange(lo, lo + 300), "a": a[lo : lo + 300], "b": b[lo : lo + 300]})
    return db, a, b


def test_an_index_change_on_one_field_leaves_the_other_graphs_deferred(tmp_path):
    """The graphs of a segment hold the same rows. Dropping or rebuilding one
    field's index once marked the others built while they were still empty:
    searches fell back to exact, and every checkpoint then failed to save them."""
    db, _, b = two_field_store(tmp_path / "s")
    col = db.get_collection("c")
    assert all(seg.graph_pending for seg in segments(col) if seg.sealed)
    col.drop_index("b")
    col.create_index("b", "HNSW", "L2", M=8)
    assert all(seg.graph_pending for seg in segments(col))  # still to build, not "built"
    col.flush()  # repacks, builds both graphs, writes them
    (seg,) = segments(col)
    assert not seg.graph_pending
    assert len(seg.indexes["a"]) == len(seg.indexes["b"]) == 3000
    db.close()
    with vs.connect(tmp_path / "s") as again:
        col = again.get_collection("c")
        queries = b[[7, 2500]] + np.float32(0.01)
        found = col.search(queries, anns_field="b", limit=4, search_params={"ef": 400})
        assert [[int(h.id) for h in row] for row in found] == exact_ids(
            b, np.arange(3000), queries, 4
        )


def test_a_new_index_on_a_searched_segment_is_built_at_once(tmp_path):
    db, a, _ = two_field_store(tmp_path / "s", n=1200)
    col = db.get_collection("c")
    for seg in segments(col):  # as a search walking them would (these are small: none does)
        seg.build_graphs()
    col.create_index("a", "HNSW", "L2", M=12)  # rebuilt over the rows the others hold
    assert not any(seg.graph_pending for seg in segments(col))
    assert all(len(seg.indexes["a"]) == seg.num_rows for seg in segments(col))
    queries = a[[3, 1100]] + np.float32(0.01)
    found = col.search(queries, anns_field="a", limit=4, search_params={"ef": 400})
    assert [[int(h.id) for h in row] for row in found] == exact_ids(a, np.arange(1200), queries, 4)
    db.close()


def test_writers_of_the_store_go_on_while_a_flush_builds_graphs(tmp_path, monkeypatch):
    """The graph build is a flush's long part (minutes at 1M rows). It runs
    before the store's write lock is taken, so a write to another collection
    of the store (or from another process) does not wait for it. The build is
    held here until that write is done: were the lock held, the write would
    wait for the build and the flush would never finish its build."""
    db, data = bulk_store(tmp_path / "s", 2000)
    other = db.create_collection("other", dimension=DIM)
    started, written = threading.Event(), threading.Event()
    write_waited = []
    build = Segment.build_graphs

    def held_build(seg: Segment) -> None:
        if seg.graph_pending and not started.is_set():
            started.set()
            write_waited.append(not written.wait(10))
        build(seg)

    monkeypatch.setattr(Segment, "build_graphs", held_build)
    flusher = threading.Thread(target=db.get_collection("c").flush)
    flusher.start()
    assert started.wait(30)
    other.insert({"id": np.arange(5), "vector": vectors(5, seed=1)})
    written.set()
    flusher.join(60)
    assert write_waited == [False], "the write waited for the graph build"
    col = db.get_collection("c")
    assert not any(seg.graph_pending for seg in segments(col))
    db.close()
    with vs.connect(tmp_path / "s") as db:
        assert db.get_collection("other").count() == 5
        col = db.get_collection("c")
        assert col.count() == 2000 and len(graph_files(tmp_path / "s")) == len(segments(col))
        queries = vectors(5, seed=2)
        assert hit_ids(col, queries, 5) == exact_ids(data, np.arange(2000), queries, 5)


def test_stats_count_the_rows_waiting_for_a_graph(tmp_path):
    """``stats()["unindexed_rows"]``: live rows no graph holds yet. A search that
    walks a segment's graph takes its rows in (segments small enough to scan
    are not walked), a flush takes every row in; deleted rows are not counted.
    FLAT: always 0."""
    db, data = bulk_store(tmp_path / "s", 3_000)  # small segments (the log fills often)
    col = db.get_collection("c")
    col.delete(ids=list(range(0, 3_000, 7)))
    live = 3_000 - len(range(0, 3_000, 7))
    assert col.stats()["unindexed_rows"] == live
    col.search(data[:1], limit=3)  # each segment is scanned: no graph walked
    assert all(s.num_live <= 2_000 for s in segments(col))
    assert col.stats()["unindexed_rows"] == live
    col.flush()
    assert col.stats()["unindexed_rows"] == 0
    big = db.create_collection("big", dimension=DIM, metric="L2")
    big.insert({"id": np.arange(2_500), "vector": vectors(2_500, seed=2)})
    big.delete(ids=[0, 1, 2])
    assert big.stats()["unindexed_rows"] == 2_497  # one growing segment, no graph yet
    big.search(data[:1], limit=3)  # 2,497 live rows: past the scan limit, the graph is walked
    assert big.stats()["unindexed_rows"] == 0
    big.insert({"id": [5_000, 5_001], "vector": data[:2]})
    big.delete(ids=[5_001])
    assert big.stats()["unindexed_rows"] == 1
    flat = db.create_collection("f", dimension=DIM, indexes=[vs.Index("vector", "FLAT", "L2")])
    flat.insert({"id": np.arange(10), "vector": data[:10]})
    assert flat.stats()["unindexed_rows"] == 0
    db.close()


def test_pymilvus_waits_for_the_graphs_by_building_them(tmp_path):
    """``utility.index_building_progress`` reports the rows waiting for a graph;
    ``wait_for_index_building_complete`` builds them (a flush), as a Milvus user
    expects before the first search, also for rows another client wrote."""
    from vectorstore import pymilvus as pm

    db, _ = bulk_store(tmp_path / "s", 10)
    db.close()  # (a close flushes: the 10 rows are in a graph)
    pm.connections.connect("w", uri=str(tmp_path / "s"))
    try:
        pm.Collection("c", using="w").insert(
            [list(range(100, 2_600)), vectors(2_500, seed=1).tolist()]
        )
        before = pm.utility.index_building_progress("c", using="w")
        assert before == {
            "total_rows": 2_510,
            "indexed_rows": 10,
            "pending_index_rows": 2_500,
            "state": "InProgress",
        }
        assert pm.utility.wait_for_index_building_complete("c", using="w") is True
        after = pm.utility.index_building_progress("c", using="w")
        assert after["indexed_rows"] == 2_510 and after["state"] == "Finished"
    finally:
        pm.connections.disconnect("w")
    db = vs.connect(tmp_path / "s")  # another writer, with a row in its log only
    db.get_collection("c").insert({"id": [9_000], "vector": vectors(1)})
    pm.connections.connect("r", uri=str(tmp_path / "s"))
    try:
        assert pm.utility.index_building_progress("c", using="r")["pending_index_rows"] == 1
        assert pm.utility.wait_for_index_building_complete("c", using="r") is True
        assert pm.utility.index_building_progress("c", using="r")["state"] == "Finished"
    finally:
        pm.connections.disconnect("r")
        db.close()
