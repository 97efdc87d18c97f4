"""The fast path's cached route against the general path, across every kind of write.

A search of every partition, unfiltered, on a collection with one segment big
enough for its graph to be walked without planning keeps where it went
(``fastpath._Route``: the segment's graph and its keys) and goes there directly
until the next write section begins (``RWLock.on_write`` drops it). Hypothesis
draws a sequence of writes (inserts, deletes, upserts, flushes, compactions, a
second partition, an index change, another client's writes that this one follows)
and after each the fast answer must equal the general one bit for bit, and hold
no deleted key: a route kept past a write that changed what it points at fails.
The other tests hold each of the route's conditions to the general path, and
check that a dropped route frees what it held.
"""

from __future__ import annotations

import gc
import itertools
import struct
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import planner
from vectorstore.index import hnsw

DIM = 6
ROWS = planner.WALK_ABOVE + 150  # one segment, just big enough to be walked
OPS = ["insert", "delete", "upsert", "flush", "compact", "partition", "reindex", "other"]


def rows(keys: list[int], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"id": keys, "vector": rng.standard_normal((len(keys), DIM)).astype(np.float32)}


def answers(col: vs.Collection, data: np.ndarray, **kwargs) -> tuple[list, list]:
    """(fast, general) hits of one call: each hit's key, distance bits and entity."""
    found = []
    for enabled in (True, False):
        col._fast.enabled = enabled
        try:
            hits = col.search(data, **kwargs)
        finally:
            col._fast.enabled = True
        found.append(
            [[(h.id, struct.pack("<d", h.distance), h.entity) for h in row] for row in hits]
        )
    return found[0], found[1]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    metric=st.sampled_from(["COSINE", "L2"]),
    ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_a_route_is_followed_only_while_nothing_is_written(tmp_path_factory, metric, ops, seed):
    path = tmp_path_factory.mktemp("route") / "s"
    db = vs.connect(path)
    other = None
    try:
        graph = vs.Index("vector", "HNSW", metric=metric, M=8, ef_construction=40)
        col = db.create_collection("c", dimension=DIM, metric=metric, indexes=[graph])
        live = set(range(ROWS))
        col.insert(rows(sorted(live), seed))
        fresh = itertools.count(ROWS)
        rng = np.random.default_rng(seed)
        queries = rng.standard_normal((2, DIM)).astype(np.float32)

        def check() -> None:
            for data in (queries[:1], queries):
                for kwargs in ({"limit": 10}, {"limit": 5, "search_params": {"ef": 40}}):
                    fast, general = answers(col, data, **kwargs)
                    assert fast == general, (ops, kwargs)
                    assert {key for row in fast for key, _, _ in row} <= live

        check()
        assert col._fast._route is not None  # the route is made, and followed below
        for step, op in enumerate(ops):
            some = sorted(rng.choice(sorted(live), size=40, replace=False).tolist())
            if op == "insert":
                new = [next(fresh) for _ in range(40)]
                col.insert(rows(new, seed + step))
                live.update(new)
            elif op == "delete":
                col.delete(ids=some)
                live.difference_update(some)
            elif op == "upsert":
                col.upsert(rows(some, seed + step))
            elif op == "flush":
                col.flush()
            elif op == "compact":
                col.compact()
            elif op == "partition":  # a second segment: the route no longer applies
                if not col.has_partition("p"):
                    col.create_partition("p")
                new = [next(fresh) for _ in range(5)]
                col.insert(rows(new, seed + step), partition="p")
                live.update(new)
            elif op == "reindex":
                col.drop_index("vector")
                col.create_index("vector", "HNSW", metric=metric, M=12, ef_construction=30)
            else:  # another client of the same store writes; this one follows
                other = other or vs.connect(path)
                theirs = other.get_collection("c")
                new = [next(fresh) for _ in range(30)]
                theirs.insert(rows(new, seed + step))
                theirs.delete(ids=some[:10])
                live.update(new)
                live.difference_update(some[:10])
            check()
    finally:
        if other is not None:
            other.close()
        db.close()


def test_each_condition_of_the_route_is_the_general_paths():
    """With a route made, each search it must not serve gets the general answer:
    a filter, named partitions, another vector field, entity fields, k up to the
    live rows, a beam wider than them."""
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("n", vs.DataType.INT64),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=DIM),
            vs.Field("other", vs.DataType.FLOAT_VECTOR, dim=DIM),
        ]
    )
    graphs = [
        vs.Index(f, "HNSW", m, M=8, ef_construction=40)
        for f, m in [("vector", "L2"), ("other", "IP")]
    ]
    n = planner.WALK_ABOVE + 40
    db = vs.connect()
    col = db.create_collection("c", schema=schema, indexes=graphs)
    rng = np.random.default_rng(3)
    data = {f: rng.standard_normal((n, DIM)).astype(np.float32) for f in ("vector", "other")}
    col.insert({"id": list(range(n)), "n": list(range(n)), **data})
    col.create_partition("p")
    q = rng.standard_normal((1, DIM)).astype(np.float32)
    col.search(q, limit=5, anns_field="vector")
    route = col._fast._route
    assert route is not None and route.field == "vector"
    cases = [
        {"limit": 5, "filter": "n < 20"},
        {"limit": 5, "partitions": ["_default"]},
        {"limit": 5, "partitions": ["p"]},
        {"limit": 5, "anns_field": "other"},
        {"limit": 5, "output_fields": ["n"]},
        {"limit": n - 1},
        {"limit": n},  # k == live rows: planned (exact)
        {"limit": 3, "search_params": {"ef": n + 50}},
    ]
    for kwargs in cases:
        col._fast._route = route  # the first search's route, before each case
        fast, general = answers(col, q, **{"anns_field": "vector", **kwargs})
        assert fast == general, kwargs
    db.close()


def test_a_route_is_dropped_when_a_write_begins_and_frees_the_graph(tmp_path):
    db = vs.connect(tmp_path / "s")
    col = db.create_collection("c", dimension=DIM)
    col.insert(rows(list(range(ROWS)), 1))
    col.flush()  # sealed and saved: the keys are a map of the segment's file
    data = np.ones((1, DIM), dtype=np.float32)
    col.search(data, limit=3)
    assert col._fast._route is not None
    col.delete(ids=[0])
    assert col._fast._route is None
    col.search(data, limit=3)
    graph = weakref.ref(col._fast._route.graph)
    col.drop_index("vector")
    col.search(data, limit=3)  # exact now: no route
    gc.collect()
    assert col._fast._route is None and graph() is None
    db.close()


def test_a_graph_that_cannot_answer_is_not_routed_to_until_a_write(monkeypatch):
    """When hnswlib cannot return k rows (too many deleted), the route is dropped
    and not made again: each later search walks the graph as the segment's own
    search does, not once more through the route."""
    db = vs.connect()
    col = db.create_collection("c", dimension=DIM)
    col.insert(rows(list(range(ROWS)), 2))
    data = np.ones((1, DIM), dtype=np.float32)
    col.search(data, limit=3)  # the route is made
    walks = []

    def incomplete(self, queries, k, ef):
        walks.append(k)
        raise hnsw.IncompleteSearchError("too few rows reachable")

    with monkeypatch.context() as m:
        m.setattr(hnsw.HnswIndex, "search", incomplete)
        first = col.search(data, limit=3)  # the route's walk, then the segment's two
        assert len(walks) == 3 and col._fast._route is None
        again = col.search(data, limit=3)  # the segment's two only
        assert len(walks) == 5 and col._fast._route is None
    assert [h.ids for h in first] == [h.ids for h in again]  # (exact search answered)
    col.insert(rows([ROWS], 3))  # a write: the graph may answer again
    col.search(data, limit=3)
    assert col._fast._route is not None
    db.close()


def test_a_closed_collection_is_not_searched_through_its_route(tmp_path):
    db = vs.connect(tmp_path / "s")
    col = db.create_collection("c", dimension=DIM)
    col.insert(rows(list(range(ROWS)), 1))
    data = np.ones((1, DIM), dtype=np.float32)
    assert len(col.search(data, limit=3)[0]) == 3
    assert col._fast._route is not None
    db.close()
    with pytest.raises(vs.ClosedError):
        col.search(data, limit=3)
