"""Searches, inserts, gets and counts from several threads at once.

No timing assertions: the test only checks that nothing raises, that every read
sees a consistent collection, and that the final state is exactly what was written.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import vectorstore as vs

DIM = 16
THREADS = 6
ROUNDS = 40
BATCH = 7
PRELOADED = 5_000


def vectors_for(ids: list[int]) -> np.ndarray:
    return np.stack([np.random.default_rng(i).normal(size=DIM) for i in ids]).astype(np.float32)


def run_threads(worker: Callable[[int], None], n: int) -> None:
    """``worker(0) .. worker(n - 1)`` in threads started together; re-raises the
    first failure, and fails if a thread hangs (a deadlock)."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(w: int) -> None:
        try:
            barrier.wait()
            worker(w)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("metric", ["COSINE", "L2"])
def test_concurrent_search_insert_get_count(stores, metric):
    # The first segment (4,000 rows) is big enough for the planner to search its HNSW
    # graph; the rest stay small and exact. Thread 0's flushes seal segments mid-run.
    db = stores.connect(segment_rows=4_000)
    col = db.create_collection(
        "c", dimension=DIM, indexes=[vs.Index("vector", "HNSW", metric, M=8, ef_construction=64)]
    )
    col.create_partition("p")
    pre = list(range(PRELOADED))
    pre_vectors = vectors_for(pre)
    col.insert([{"id": i, "vector": pre_vectors[i], "w": -1} for i in pre])

    inserted: list[list[int]] = [[] for _ in range(THREADS)]

    def worker(w: int) -> None:
        rng = np.random.default_rng(100 + w)
        for r in range(ROUNDS):
            op = (r + w) % 5
            if op in (0, 1):  # insert distinct ids
                ids = [1_000_000 * (w + 1) + r * BATCH + j for j in range(BATCH)]
                vecs = vectors_for(ids)
                part = "p" if r % 3 == 0 else "_default"
                assert (
                    col.insert(
                        [{"id": i, "vector": v, "w": w} for i, v in zip(ids, vecs, strict=True)],
                        partition=part,
                    )
                    == ids
                )
                inserted[w].extend(ids)
                # my own writes are visible to me at once
                assert [g["id"] for g in col.get(ids)] == ids
            elif op == 2:  # search, sometimes for my own last row
                if inserted[w]:
                    mine = inserted[w][-1]
                    [[hit]] = col.search(vectors_for([mine]), limit=1, output_fields=["w"])
                    assert hit.id == mine and hit.entity["w"] == w
                queries = rng.normal(size=(3, DIM)).astype(np.float32)
                hits = col.search(queries, limit=10, search_params={"ef": 16 + 8 * w})
                assert len(hits) == 3 and all(len(h) == 10 for h in hits)
                for row in hits:
                    d = [h.distance for h in row]
                    assert d == sorted(d, reverse=metric != "L2")
                    assert len({h.id for h in row}) == 10
            elif op == 3:  # get preloaded and own rows
                some = rng.choice(PRELOADED, size=5, replace=False).tolist()
                assert sorted(g["id"] for g in col.get(some)) == sorted(some)
                if inserted[w]:
                    assert len(col.get(inserted[w])) == len(inserted[w])
            else:  # count never goes down and never exceeds what could exist
                c = col.count()
                assert PRELOADED + len(inserted[w]) <= c
                assert c <= PRELOADED + THREADS * ROUNDS * BATCH
                if w == 0 and r % 10 == 4:
                    col.flush()

    run_threads(worker, THREADS)

    all_new = [i for ids in inserted for i in ids]
    assert len(all_new) == len(set(all_new))
    assert col.count() == PRELOADED + len(all_new)
    got = col.get(all_new, output_fields=["*"])
    assert [g["id"] for g in got] == all_new
    np.testing.assert_allclose([g["vector"] for g in got], vectors_for(all_new), rtol=1e-6)
    for w, ids in enumerate(inserted):
        assert {g["w"] for g in col.get(ids)} <= {w}
    expected_p = sum(
        BATCH for w in range(THREADS) for r in range(ROUNDS) if (r + w) % 5 in (0, 1) and r % 3 == 0
    )
    assert col.count(partitions=["p"]) == expected_p
    db = stores.reopen(db)
    col = db.get_collection("c")
    assert col.count() == PRELOADED + len(all_new)
    assert len(col.get(all_new)) == len(all_new)


def test_concurrent_writers_and_deleters(stores):
    """Upserts and deletes of disjoint key ranges from several threads."""
    db = stores.connect(segment_rows=64)
    col = db.create_collection("c", dimension=4)
    final: dict[int, int] = {}
    lock = threading.Lock()

    def worker(w: int) -> None:
        base = w * 10_000
        mine: dict[int, int] = {}
        for r in range(60):
            key = base + r % 25
            if r % 4 == 3:
                assert col.delete(ids=[key]) == (1 if key in mine else 0)
                mine.pop(key, None)
            else:
                col.upsert({"id": key, "vector": [1.0, float(r), 0.0, float(w)], "r": r})
                mine[key] = r
            if r % 20 == 19:
                col.compact()
        with lock:
            final.update(mine)

    run_threads(worker, 4)
    assert col.count() == len(final)
    got = {g["id"]: g["r"] for g in col.query()}
    assert got == final


def test_searches_follow_other_threads_writes_on_one_segment(stores):
    """One segment big enough for its graph: searches take the fast path's cached
    route (``fastpath._Route``) between writes. Each thread inserts rows and then
    must find its last one, and deletes some and must no longer find them, while
    the others write and search."""
    db = stores.connect(segment_rows=100_000)
    col = db.create_collection(
        "c", dimension=DIM, indexes=[vs.Index("vector", "HNSW", "L2", M=8, ef_construction=64)]
    )
    col.insert({"id": list(range(PRELOADED)), "vector": vectors_for(list(range(PRELOADED)))})
    col.search(vectors_for([0]), limit=1)
    assert col._fast._route is not None

    def worker(w: int) -> None:
        for r in range(ROUNDS):
            ids = [1_000_000 * (w + 1) + r * BATCH + j for j in range(BATCH)]
            col.insert({"id": ids, "vector": vectors_for(ids)})
            [[hit]] = col.search(vectors_for(ids[-1:]), limit=1)
            assert hit.id == ids[-1] and hit.distance == 0.0
            if r % 2:
                col.delete(ids=ids[-1:])
                [hits] = col.search(vectors_for(ids[-1:]), limit=3)
                assert ids[-1] not in hits.ids

    run_threads(worker, THREADS)
    assert len(col._state.segments(None)) == 1  # (the layout the route is for)
    assert col.count() == PRELOADED + THREADS * ROUNDS * BATCH - THREADS * ROUNDS // 2
