"""``HitList`` behaves as the ``list`` of its hits in every way a caller can look."""

from __future__ import annotations

import copy
import json
import pickle
import threading

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.hitlist import HitList, source
from vectorstore.types import Hit, Hits

IDS = np.array([[7, 3, 9, -1], [1, 2, 3, 4]], dtype=np.int64)
OFFS = np.array([[0, 1, 2, -1], [0, 1, 2, 3]], dtype=np.int64)  # -1: an empty slot
DIST = np.array([[0.5, 0.25, 0.125, 0.0], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32)


def lazy(row: int = 0, entities: np.ndarray | None = None) -> HitList:
    return HitList(source(IDS, DIST, OFFS, entities), row)


def plain(row: int = 0) -> list[Hit]:
    n = 3 if row == 0 else 4
    return [Hit(int(i), float(d), {}) for i, d in zip(IDS[row][:n], DIST[row][:n], strict=True)]


def test_reads_like_the_list():
    expected = plain()
    assert isinstance(lazy(), list)
    empty = HitList(source(IDS[:, :0], DIST[:, :0], OFFS[:, :0], None), 0)
    assert len(lazy()) == 3 and bool(lazy()) and not empty and empty == []
    assert lazy()[0] == expected[0] and lazy()[-1] == expected[-1]
    assert lazy()[1:] == expected[1:] and type(lazy()[1:]) is list
    assert list(lazy()) == expected and [h.id for h in lazy()] == [7, 3, 9]
    assert list(reversed(lazy())) == expected[::-1]
    assert expected[1] in lazy() and Hit(99, 0.0, {}) not in lazy()
    assert lazy().index(expected[2]) == 2 and lazy().count(expected[0]) == 1
    assert repr(lazy()) == repr(expected) and str(lazy()) == str(expected)
    assert type(lazy()[0].distance) is float and lazy()[0].entity == {}
    with pytest.raises(IndexError):
        lazy()[3]  # the empty slot is not a hit


def test_compares_like_the_list():
    assert lazy() == plain() and plain() == lazy()
    assert lazy(1) == lazy(1) and lazy(0) != lazy(1)
    assert (plain(1) != lazy(1)) is False and (lazy(1) != plain(1)) is False
    assert lazy() != plain(1) and plain(1) != lazy()
    assert lazy() != [*plain(), Hit(1, 0.0, {})]
    assert lazy() != tuple(plain())


def test_combines_like_the_list():
    assert lazy() + lazy(1) == plain() + plain(1)
    assert plain(1) + lazy() == plain(1) + plain()
    assert lazy() * 2 == plain() * 2 and 2 * lazy() == 2 * plain()
    row = lazy()
    row += plain(1)
    assert row == plain() + plain(1)
    assert sorted(lazy(), key=lambda h: h.distance) == sorted(plain(), key=lambda h: h.distance)
    assert [*lazy(), *lazy(1)] == plain() + plain(1)


def test_mutates_like_the_list():
    for method, args in [
        ("append", (Hit(5, 1.0, {}),)),
        ("extend", (plain(1),)),
        ("insert", (0, Hit(5, 1.0, {}))),
        ("pop", ()),
        ("remove", (plain()[1],)),
        ("reverse", ()),
        ("clear", ()),
        ("sort", ()),
    ]:
        row, expected = lazy(), plain()
        if method == "sort":  # hits do not order; sort by key
            args, kwargs = (), {"key": lambda h: h.id}
        else:
            kwargs = {}
        assert getattr(row, method)(*args, **kwargs) == getattr(expected, method)(*args, **kwargs)
        assert row == expected, method
    row, expected = lazy(), plain()
    row[0] = expected[0] = Hit(1, 1.0, {})
    del row[1], expected[1]
    assert row == expected


def test_copies_and_pickles_as_the_list():
    for copied in (pickle.loads(pickle.dumps(lazy())), copy.copy(lazy()), copy.deepcopy(lazy())):
        assert type(copied) is Hits and copied == plain() and copied.ids == [7, 3, 9]
    for copied in (lazy().copy(), lazy().filled()):  # as list.copy does on any list
        assert type(copied) is list and copied == plain()
    result = [lazy(), lazy(1)]
    assert pickle.loads(pickle.dumps(result)) == [plain(), plain(1)]


@pytest.mark.parametrize("keys", [IDS, IDS.astype(str).astype(object)])
def test_ids_and_distances_read_the_arrays(keys: np.ndarray):
    """``ids`` / ``distances`` (pymilvus's ``Hits``) without making a ``Hit``,
    empty slots left out, each a new list, whatever was read before."""
    for row in (0, 1):
        hits = HitList(source(keys, DIST, OFFS, None), row)
        n = 3 if row == 0 else 4
        expected_ids = keys[row][:n].tolist()
        expected_dist = DIST[row][:n].tolist()
        assert hits.ids == expected_ids and hits.distances == expected_dist
        assert hits._source is not None  # nothing was filled
        hits.ids.append("mine")  # a new list each time
        assert hits.ids == expected_ids
        assert [h.id for h in hits] == expected_ids  # filled: read from the hits
        assert hits.ids == expected_ids and hits.distances == expected_dist
    shared = source(keys, DIST, OFFS, None)
    first, second = HitList(shared, 0), HitList(shared, 1)
    assert len(first) == 3  # converts every row of the search to lists once
    assert second._source is not None and second.ids == keys[1].tolist()
    assert type(second.distances[0]) is float and type(first.distances[0]) is float


def test_plain_hits_read_their_items():
    hits = Hits(plain(1))
    assert hits.ids == [1, 2, 3, 4] and hits.distances == [1.0, 2.0, 3.0, 4.0]
    assert Hits().ids == [] and Hits().distances == []


def test_json_and_numpy_see_the_hits():
    dumped = json.dumps([lazy()], default=lambda h: h.to_dict())
    assert json.loads(dumped) == [[h.to_dict() for h in plain()]]
    assert np.array([h.distance for h in lazy()]).tolist() == [0.5, 0.25, 0.125]
    assert len(np.array(lazy(), dtype=object)) == 3


def test_entities_ride_along():
    ents = np.empty(IDS.shape, dtype=object)
    ents[0, :3] = [{"a": 1}, None, {"b": 2}]
    row = lazy(0, ents)
    assert [h.entity for h in row] == [{"a": 1}, {}, {"b": 2}]


def test_threads_fill_it_once():
    for _ in range(50):
        row = lazy(1)
        seen: list[int] = []
        barrier = threading.Barrier(4)

        def read(
            row: HitList = row, seen: list[int] = seen, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait()
            seen.append(len(row))

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [4, 4, 4, 4] and row == plain(1)


def test_search_results_are_hit_lists():
    db = vs.connect(":memory:")
    col = db.create_collection("c", dimension=2, metric="L2")
    col.insert([{"id": i, "vector": [float(i), 0.0]} for i in range(5)])
    hits = col.search([[0.0, 0.0], [4.0, 0.0]], limit=2)
    assert all(type(row) is HitList for row in hits)
    assert hits == [
        [Hit(0, 0.0, {}), Hit(1, 1.0, {})],
        [Hit(4, 0.0, {}), Hit(3, 1.0, {})],
    ]
