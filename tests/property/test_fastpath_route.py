"""The fast path's cached route against the general path, across every kind of write.

A search of every partition, unfiltered, on a collection with one segment big
enough for its graph to be walked without planning keeps where it went
(``fastpath._Route``: the segment's graph and its keys) and goes there directly
while the collection's lock shows no write since (``RWLock.version``). Hypothesis
draws a sequence of writes (inserts, deletes, upserts, flushes, compactions, a
second partition, an index change, another client's writes that this one follows)
and after each the fast answer must equal the general one bit for bit, and hold
no deleted key: a route kept past a write that changed what it points at fails.
"""

from __future__ import annotations

import itertools
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import planner

DIM = 6
ROWS = planner.WALK_ABOVE + 150  # one segment, just big enough to be walked
OPS = ["insert", "delete", "upsert", "flush", "compact", "partition", "reindex", "other"]


def rows(keys: list[int], seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"id": keys, "vector": rng.standard_normal((len(keys), DIM)).astype(np.float32)}


def answers(col: vs.Collection, data: np.ndarray, **kwargs) -> tuple[list, list]:
    """(fast, general) hits of one call, each hit its key and its distance's bits."""
    found = []
    for enabled in (True, False):
        col._fast.enabled = enabled
        try:
            hits = col.search(data, **kwargs)
        finally:
            col._fast.enabled = True
        found.append([[(h.id, struct.pack("<d", h.distance)) for h in row] for row in hits])
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
                    assert {key for row in fast for key, _ in row} <= live

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
