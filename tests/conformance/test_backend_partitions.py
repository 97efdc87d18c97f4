"""Partitions: create / list / has / drop, and every read restricted to them."""

from __future__ import annotations

import pytest
from lite_differences import MODULO, PARTITION_GHOST

import vectorstore as vs


def vec(i: int) -> list[float]:
    return [float(i % 7), float(i % 5), 1.0, float(i) / 100]


def rows(ids, **extra):
    return [{"id": i, "vector": vec(i), "n": i, **extra} for i in ids]


@pytest.fixture
def col(db):
    c = db.create_collection("c", dimension=4, metric="L2")
    c.create_partition("a")
    c.create_partition("b")
    c.insert(rows(range(0, 10)))
    c.insert(rows(range(10, 20), part="a"), partition="a")
    c.insert(rows(range(20, 30), part="b"), partition="b")
    return c


def ids_of(found) -> list:
    return sorted(r["id"] for r in found)


def test_create_list_has_drop(db, reopen):
    col = db.create_collection("c", dimension=4)
    assert col.list_partitions() == ["_default"]
    assert col.has_partition("_default") and not col.has_partition("a")
    col.create_partition("a")
    col.create_partition("b")
    col.create_partition("a")  # exists: no-op
    assert col.list_partitions() == ["_default", "a", "b"]
    assert col.describe()["partitions"] == ["_default", "a", "b"]
    db = reopen(db)
    col = db.get_collection("c")
    assert col.list_partitions() == ["_default", "a", "b"]  # empty partitions persist too
    col.drop_partition("a")
    assert col.list_partitions() == ["_default", "b"]
    assert not col.has_partition("a")
    db = reopen(db)
    assert db.get_collection("c").list_partitions() == ["_default", "b"]


def test_reads_restricted_to_partitions(col):
    assert col.count() == 30
    assert col.count(partitions=["a"]) == 10
    assert col.count(partitions=["a", "b"]) == 20
    assert col.count(partitions=["_default"]) == 10
    assert ids_of(col.query(partitions=["b"])) == list(range(20, 30))
    assert ids_of(col.query(partitions=["_default", "b"])) == [*range(10), *range(20, 30)]
    assert ids_of(col.get([1, 11, 21, 99], partitions=["a"])) == [11]
    assert ids_of(col.get([1, 11, 21], partitions=["a", "_default"])) == [1, 11]
    assert ids_of(col.get([1, 11, 21])) == [1, 11, 21]
    assert col.get([11])[0]["part"] == "a"
    assert col.query(partitions=["a"], limit=3, offset=2) == col.query(partitions=["a"])[2:5]
    stats = col.stats()["partitions"]
    assert stats == {"_default": 10, "a": 10, "b": 10}


def test_search_restricted_to_partitions(col):
    q = [vec(25)]
    [hits] = col.search(q, limit=30)
    assert len(hits) == 30 and hits[0].id == 25
    [hits] = col.search(q, limit=30, partitions=["a"])
    assert sorted(h.id for h in hits) == list(range(10, 20))
    [hits] = col.search(q, limit=5, partitions=["_default", "a"])
    assert all(h.id < 20 for h in hits) and len(hits) == 5
    [hits] = col.search(q, limit=1, partitions=["b"])
    assert hits[0].id == 25


def test_drop_partition_drops_its_rows(db, reopen, col, snapshot):
    col.flush()
    col.insert(rows(range(30, 35)), partition="a")  # a growing segment too
    col.drop_partition("a")
    assert col.count() == 20
    assert col.get(list(range(10, 20)) + list(range(30, 35))) == []
    assert all(h.id not in range(10, 20) for h in col.search([vec(12)], limit=30)[0])
    assert col.delete(ids=list(range(10, 20))) == 0
    # their ids are free again (insert, not upsert)
    col.insert(rows(range(10, 15)))
    col.create_partition("a")
    assert col.count(partitions=["a"]) == 0
    col.insert(rows(range(15, 20)), partition="a")
    assert col.count() == 30
    rows_before, count_before, parts_before = snapshot(col)
    db = reopen(db)
    col = db.get_collection("c")
    rows_after, count_after, parts_after = snapshot(col)
    assert (rows_after, count_after) == (rows_before, count_before)
    assert sorted(parts_after) == sorted(parts_before)  # order: see the test below
    assert col.count(partitions=["a"]) == 5
    assert ids_of(col.get(list(range(10, 20)), partitions=["_default"])) == list(range(10, 15))


def test_dropped_partition_stays_dropped_after_reopen(db, reopen, col):
    col.flush()
    col.drop_partition("b")
    db = reopen(db)
    col = db.get_collection("c")
    assert col.list_partitions() == ["_default", "a"]
    assert col.count() == 20
    assert col.get(list(range(20, 30))) == []
    col.insert(rows(range(20, 30)))
    assert col.count() == 30


def test_default_cannot_be_dropped(col, snapshot):
    before = snapshot(col)
    with pytest.raises(vs.DataError):
        col.drop_partition("_default")
    assert snapshot(col) == before
    assert vs.DEFAULT_PARTITION == "_default"


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.insert(rows([100]), partition="zz"), id="insert"),
        pytest.param(lambda c: c.upsert(rows([1]), partition="zz"), id="upsert"),
        pytest.param(lambda c: c.delete(ids=[1], partition="zz"), id="delete"),
        pytest.param(lambda c: c.get([1], partitions=["zz"]), id="get"),
        pytest.param(lambda c: c.get([1], partitions=["a", "zz"]), id="get-second"),
        pytest.param(lambda c: c.query(partitions=["zz"]), id="query"),
        pytest.param(lambda c: c.count(partitions=["zz"]), id="count"),
        pytest.param(lambda c: c.search([vec(1)], partitions=["zz"]), id="search"),
        pytest.param(lambda c: c.drop_partition("zz"), id="drop"),
    ],
)
def test_unknown_partition(col, snapshot, call):
    before = snapshot(col)
    with pytest.raises(vs.PartitionNotFoundError) as info:
        call(col)
    assert isinstance(info.value, KeyError)
    assert "zz" in str(info.value)
    assert snapshot(col) == before


@PARTITION_GHOST
def test_upsert_moves_a_row_to_the_target_partition(db, reopen, col):
    col.flush()
    col.upsert(rows([11], moved=True), partition="b")
    assert col.count(partitions=["a"]) == 9
    assert col.count(partitions=["b"]) == 11
    assert col.get([11], partitions=["a"]) == []
    assert col.get([11], partitions=["b"])[0]["moved"] is True
    col.upsert(rows([11]))  # default partition
    assert col.count(partitions=["b"]) == 10
    assert col.count() == 30
    db = reopen(db)
    col = db.get_collection("c")
    assert col.count(partitions=["_default"]) == 11
    assert col.get([11], partitions=["_default"])[0].get("moved") is None


def test_delete_restricted_to_a_partition(col):
    assert col.delete(ids=[1, 11, 21], partition="a") == 1
    assert ids_of(col.get([1, 11, 21])) == [1, 21]
    assert col.delete(ids=[1, 11, 21]) == 2
    assert col.count() == 27


@MODULO
def test_modulo_filters_restricted_to_partitions(col):
    assert ids_of(col.query(filter="n % 2 == 0", partitions=["b"])) == list(range(20, 30, 2))


def test_filters_restricted_to_partitions(col):
    """Written as every backend runs them (the % case is above), so Milvus Lite's
    partitions are checked too."""
    assert col.count(filter="n >= 5", partitions=["a"]) == 10
    assert col.count(filter="n >= 15", partitions=["a", "b"]) == 15
    evens = list(range(0, 30, 2))
    assert ids_of(col.query(filter=f"n in {evens}", partitions=["b"])) == list(range(20, 30, 2))
    [hits] = col.search([vec(3)], limit=30, filter="n > 12", partitions=["a"])
    assert sorted(h.id for h in hits) == list(range(13, 20))
    assert col.delete(filter="n < 25", partition="b") == 5
    assert col.count(partitions=["b"]) == 5
    assert col.count() == 25


def test_create_partition_on_read_paths_is_isolated(db):
    """Two collections' partitions are independent."""
    a = db.create_collection("a", dimension=4)
    b = db.create_collection("b", dimension=4)
    a.create_partition("p")
    assert b.list_partitions() == ["_default"]
    with pytest.raises(vs.PartitionNotFoundError):
        b.insert(rows([1]), partition="p")


def test_unbounded_reads_return_every_row_across_partitions_and_segments(stores):
    """More rows than one Milvus page (4,096), in several partitions and segments
    whose keys interleave: a read without a limit returns each row once. (A
    server ends a page early where a segment runs out; reading stopped there.)"""
    db = stores.connect(segment_rows=1000)
    col = db.create_collection("paged", dimension=2, metric="L2")
    col.create_partition("p")
    keys = {"_default": list(range(0, 9000, 2)), "p": list(range(1, 9000, 2))}
    for part, ks in keys.items():
        for half in (ks[: len(ks) // 2], ks[len(ks) // 2 :]):
            col.insert([{"id": k, "vector": [float(k % 7), 1.0], "n": k % 3} for k in half], part)
            col.flush()
    everything = sorted(keys["_default"] + keys["p"])
    got = [r["id"] for r in col.query(output_fields=["id"])]
    assert sorted(got) == everything and len(got) == len(set(got))
    got = [r["id"] for r in col.query(filter="n == 1", output_fields=["id"])]
    assert sorted(got) == [k for k in everything if k % 3 == 1]
    got = [r["id"] for r in col.query(output_fields=["id"], partitions=["p"])]
    assert sorted(got) == keys["p"]
    got = [r["id"] for r in col.query(output_fields=["id"], offset=4100)]
    assert len(got) == len(everything) - 4100 and set(got) <= set(everything)
    assert col.count() == len(everything)
