"""Collections: names, quick setup, creating one that exists (same or other schema
and indexes), indexes refused at create, has / list / drop / describe, and rename."""

from __future__ import annotations

import pytest
from helpers.tiny_schema import VEC, base_fields, vec

import vectorstore as vs

DT = vs.DataType

# ------------------------------------------------------------------ names
BAD_NAMES = ["", "../x", "a/b", "a\\b", ".", "..", "x" * 256, "1abc", "a b", "a.b", "a-b", "é"]
GOOD_NAMES = ["a", "_x", "A1_b", "x" * 255]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_everywhere(db, name):
    with pytest.raises(vs.InvalidNameError):
        db.create_collection(name, dimension=4)
    with pytest.raises(vs.InvalidNameError):
        vs.Field(name, DT.INT64)
    col = db.create_collection("ok", dimension=4)
    with pytest.raises(vs.InvalidNameError):
        col.create_partition(name)
    assert db.list_collections() == ["ok"]
    assert col.list_partitions() == ["_default"]


@pytest.mark.parametrize("name", [None, 3, b"abc"])
def test_non_string_names(db, name):
    with pytest.raises(vs.InvalidNameError):
        db.create_collection(name, dimension=4)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(db, reopen, name):
    col = db.create_collection(name, dimension=4)
    col.create_partition(name)
    col.insert({"id": 1, "vector": VEC}, partition=name)
    db = reopen(db)
    assert db.has_collection(name)
    col = db.get_collection(name)
    assert col.list_partitions() == ["_default", name]
    assert col.get(1)[0]["id"] == 1


# ---------------------------------------------------------------- indexes
@pytest.mark.parametrize(
    "indexes",
    [
        [vs.Index("nope", "FLAT")],
        [vs.Index("id", "FLAT")],  # not a vector field
        [vs.Index("vector", "FLAT"), vs.Index("vector", "HNSW")],
    ],
)
def test_bad_indexes_at_create(db, indexes):
    schema = vs.Schema(base_fields())
    with pytest.raises(vs.IndexConfigError):
        db.create_collection("c", schema=schema, indexes=indexes)
    assert db.list_collections() == []


# ------------------------------------------------------------ quick setup
def test_quick_setup(db, reopen):
    col = db.create_collection("docs", dimension=8, metric="L2")
    schema = col.schema
    assert schema.primary.name == "id" and schema.primary.dtype is DT.INT64
    assert not schema.primary.auto_id
    assert schema["vector"].dim == 8
    assert schema.enable_dynamic_field
    [index] = col.indexes
    assert (index.field, index.index_type, index.metric) == ("vector", "HNSW", vs.Metric.L2)
    db = reopen(db)
    col = db.get_collection("docs")
    assert col.schema.to_dict() == schema.to_dict()
    assert [i.to_dict() for i in col.indexes] == [index.to_dict()]


def test_quick_setup_string_ids(db):
    col = db.create_collection("docs", dimension=4, id_type="str")
    assert col.schema.primary.dtype is DT.VARCHAR
    with pytest.raises(vs.SchemaError):
        db.create_collection("other", dimension=4, id_type="str", auto_id=True)
    with pytest.raises(vs.SchemaError):
        db.create_collection("other", dimension=4, id_type="uuid")
    assert db.list_collections() == ["docs"]


def test_create_needs_exactly_one_of_dimension_and_schema(db):
    with pytest.raises(vs.SchemaError):
        db.create_collection("c")
    with pytest.raises(vs.SchemaError):
        db.create_collection("c", dimension=4, schema=vs.Schema(base_fields()))
    with pytest.raises(vs.SchemaError):
        db.create_collection("c", dimension=0)
    assert db.list_collections() == []


def test_create_with_partitions(db):
    col = db.create_collection("c", dimension=4, partitions=["a", "b"])
    assert col.list_partitions() == ["_default", "a", "b"]


# ------------------------------------------------- create existing / drop / list
def test_create_identical_returns_the_existing_collection(db, reopen):
    col = db.create_collection("c", dimension=4)
    col.insert({"id": 1, "vector": VEC})
    again = db.create_collection("c", dimension=4)
    assert again.get(1)[0]["id"] == 1
    db = reopen(db)
    again = db.create_collection("c", dimension=4)
    assert again.count() == 1


def test_create_identical_full_schema_with_indexes(db, reopen):
    schema = vs.Schema(base_fields(vs.Field("t", DT.VARCHAR, max_length=5)))
    indexes = [vs.Index("vector", "FLAT", metric="L2")]
    db.create_collection("c", schema=schema, indexes=indexes).insert(
        {"id": 1, "vector": VEC, "t": "x"}
    )
    db = reopen(db)
    col = db.create_collection("c", schema=schema, indexes=indexes)
    assert col.count() == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dimension": 8},
        {"dimension": 4, "id_type": "str"},
        {"dimension": 4, "vector_field": "embedding"},
        {"dimension": 4, "auto_id": True},
        {"schema": vs.Schema(base_fields())},  # dynamic fields off
    ],
)
def test_create_existing_with_other_schema(db, reopen, snapshot, kwargs):
    col = db.create_collection("c", dimension=4)
    col.insert({"id": 1, "vector": VEC})
    before = snapshot(col)
    with pytest.raises(vs.CollectionExistsError):
        db.create_collection("c", **kwargs)
    assert snapshot(col) == before
    db = reopen(db)
    with pytest.raises(vs.CollectionExistsError):
        db.create_collection("c", **kwargs)
    assert snapshot(db.get_collection("c")) == before


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dimension": 4, "metric": "L2"},
        {"dimension": 4, "indexes": [vs.Index("vector", "FLAT", metric="COSINE")]},
        {"dimension": 4, "indexes": [vs.Index("vector", "HNSW", metric="IP")]},
        {"dimension": 4, "indexes": [vs.Index("vector", "HNSW", metric="COSINE", M=32)]},
    ],
)
def test_create_existing_with_other_index(db, reopen, snapshot, kwargs):
    col = db.create_collection("c", dimension=4, metric="COSINE")
    col.insert({"id": 1, "vector": VEC})
    before = snapshot(col), [i.to_dict() for i in col.indexes]
    with pytest.raises(vs.CollectionExistsError):
        db.create_collection("c", **kwargs)
    db = reopen(db)
    col = db.get_collection("c")
    assert (snapshot(col), [i.to_dict() for i in col.indexes]) == before
    with pytest.raises(vs.CollectionExistsError):
        db.create_collection("c", **kwargs)


def test_has_list_drop(db, reopen):
    assert db.list_collections() == []
    for name in ["b", "a", "c"]:
        db.create_collection(name, dimension=4)
    assert db.list_collections() == ["a", "b", "c"]
    assert db.has_collection("a") and not db.has_collection("zz")
    db.drop_collection("b")
    db.drop_collection("never_existed")  # no-op
    assert db.list_collections() == ["a", "c"]
    db = reopen(db)
    assert db.list_collections() == ["a", "c"]
    assert not db.has_collection("b")
    with pytest.raises(vs.CollectionNotFoundError):
        db.get_collection("b")
    with pytest.raises(KeyError):  # CollectionNotFoundError is a KeyError too
        db.get_collection("b")


def test_drop_then_recreate_is_empty(db, reopen):
    col = db.create_collection("c", dimension=4)
    col.create_partition("p")
    col.insert([{"id": i, "vector": vec(i)} for i in range(10)])
    col.flush()
    db.drop_collection("c")
    with pytest.raises(vs.ClosedError):
        col.count()
    col = db.create_collection("c", dimension=8)
    assert col.count() == 0
    assert col.list_partitions() == ["_default"]
    assert col.get(list(range(10))) == []
    db = reopen(db)
    col = db.get_collection("c")
    assert col.count() == 0 and col.schema["vector"].dim == 8


def test_describe(db):
    col = db.create_collection("c", dimension=4, metric="IP", partitions=["p"])
    d = col.describe()
    assert d["name"] == "c"
    assert d["schema"] == col.schema.to_dict()
    assert d["indexes"] == [
        {
            "field": "vector",
            "index_type": "HNSW",
            "metric": "IP",
            "params": {"M": 16, "ef_construction": 200},
        }
    ]
    assert d["partitions"] == ["_default", "p"]


# ----------------------------------------------------------------- rename
def test_rename_collection_keeps_data_and_handles(db, reopen):
    col = db.create_collection("old", dimension=4)
    col.create_partition("p")
    col.insert([{"id": i, "vector": vec(i), "n": i} for i in range(5)], partition="p")
    db.rename_collection("old", "new")
    assert db.list_collections() == ["new"]
    assert not db.has_collection("old")
    assert col.name == "new"  # this client's handle follows the rename
    col.insert({"id": 9, "vector": vec(9)})
    # the old name is free again, and its data does not mix with the renamed one
    other = db.create_collection("old", dimension=4)
    other.insert({"id": 100, "vector": vec(1)})
    db = reopen(db)
    renamed = db.get_collection("new")
    assert sorted(r["id"] for r in renamed.query(output_fields=["id"])) == [0, 1, 2, 3, 4, 9]
    assert renamed.list_partitions() == ["_default", "p"]
    assert renamed.search([vec(3)], limit=1)[0][0].id == 3
    assert [r["id"] for r in db.get_collection("old").query(output_fields=["id"])] == [100]
    db.rename_collection("new", "back")  # and again, after reopening
    db = reopen(db)
    assert db.list_collections() == ["back", "old"]
    assert db.get_collection("back").count() == 6


def test_rename_collection_refusals_change_nothing(db):
    db.create_collection("a", dimension=4).insert({"id": 1, "vector": VEC})
    db.create_collection("b", dimension=4)
    with pytest.raises(vs.CollectionNotFoundError):
        db.rename_collection("nope", "c")
    with pytest.raises(vs.CollectionExistsError):
        db.rename_collection("a", "b")
    with pytest.raises(vs.InvalidNameError):
        db.rename_collection("a", "../escape")
    assert db.list_collections() == ["a", "b"]
    assert db.get_collection("a").count() == 1


def test_drop_after_rename_removes_the_data(db, reopen):
    db.create_collection("a", dimension=4).insert({"id": 1, "vector": VEC})
    db.rename_collection("a", "b")
    db.drop_collection("b")
    db.create_collection("a", dimension=4)
    db = reopen(db)
    assert db.list_collections() == ["a"]
    assert db.get_collection("a").count() == 0


def test_stats_have_one_shape_on_every_backend(db):
    """The same keys everywhere; the segment layout's figures are all numbers (the
    embedded engine) or all None (a backend that does not expose them)."""
    from vectorstore.types import LAYOUT_STATS

    col = db.create_collection("c", dimension=3)
    col.insert([{"id": i, "vector": [1.0, float(i), 0.0]} for i in range(5)])
    stats = col.stats()
    assert set(stats) == {"row_count", "partitions", *LAYOUT_STATS}
    assert stats["row_count"] == 5 and stats["partitions"] == {"_default": 5}
    layout = [stats[k] for k in LAYOUT_STATS]
    assert all(type(v) is int for v in layout) or all(v is None for v in layout), layout
