"""Bad input: every case raises the documented error and changes nothing.

"Nothing changed" is a full snapshot (every row with every field, the count and
the partitions) taken before and after; on the disk store it is also compared
after a close and reopen, so a failed write cannot have reached the files either.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import vectorstore as vs

DT = vs.DataType

DIM = 4


def vec(i: int) -> list[float]:
    return [math.sin(i), math.cos(i), float(i % 5) / 5, 1.0]


def good(i: int, **extra: Any) -> dict[str, Any]:
    """A valid row of ``SCHEMA`` and ``PLAIN`` (every field given)."""
    optional = {"score": 0.25, "small": 0, "flag": False, "tags": [], "meta": {}}
    return {"id": i, "vector": vec(i), "title": f"t{i}", "views": i, **optional, **extra}


SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=DIM),
        vs.Field("title", DT.VARCHAR, max_length=8),
        vs.Field("views", DT.INT32),
        vs.Field("score", DT.FLOAT, nullable=True),
        vs.Field("small", DT.INT8, nullable=True),
        vs.Field("flag", DT.BOOL, nullable=True),
        vs.Field(
            "tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=3, max_length=5, nullable=True
        ),
        vs.Field("meta", DT.JSON, nullable=True),
    ],
    enable_dynamic_field=False,
)
# SCHEMA without nullable fields, for a Milvus server before 2.5
PLAIN = vs.Schema(
    [dataclasses.replace(f, nullable=False) for f in SCHEMA.fields], enable_dynamic_field=False
)


def create(db: vs.Client, name: str, **options: Any) -> vs.Collection:
    """A collection of ``SCHEMA``, or of ``PLAIN`` where Milvus has no nullable fields."""
    try:
        return db.create_collection(name, schema=SCHEMA, **options)
    except vs.NotSupportedError:
        return db.create_collection(name, schema=PLAIN, **options)


@pytest.fixture
def col(db):
    """A collection with flushed and growing rows in two partitions."""
    c = create(db, "c", indexes=[vs.Index("vector", "FLAT", "L2")])
    c.create_partition("p")
    c.insert([good(i, tags=["a"], meta={"k": i}) for i in range(10)])
    c.insert([good(i, score=0.5) for i in range(10, 15)], partition="p")
    c.flush()
    c.insert([good(i) for i in range(15, 20)])
    if c.schema["score"].nullable:  # nulls too, where they exist
        c.insert([{"id": i, "vector": vec(i), "title": "n", "views": 0} for i in (20, 21)])
    c.delete(ids=[3, 12])
    return c


def check_unchanged(
    stores, db, col, snapshot, action: Callable[[vs.Collection], Any], error: type[BaseException]
) -> BaseException:
    before = snapshot(col)
    with pytest.raises(error) as info:
        action(col)
    assert snapshot(col) == before
    if stores.durable:
        db = stores.reopen(db)
        assert snapshot(db.get_collection("c")) == before
    return info.value


def case(id_: str, action: Callable[[vs.Collection], Any], error: type[BaseException]) -> Any:
    return pytest.param(action, error, id=id_)


ROW_CASES = [
    # wrong dimension
    case(
        "dim-short",
        lambda c: c.insert([good(100), {**good(101), "vector": [1.0] * 3}]),
        vs.DimensionMismatchError,
    ),
    case(
        "dim-long",
        lambda c: c.insert({**good(100), "vector": [1.0] * 5}),
        vs.DimensionMismatchError,
    ),
    case(
        "dim-upsert",
        lambda c: c.upsert([good(1), {**good(2), "vector": [1.0] * 3}]),
        vs.DimensionMismatchError,
    ),
    case("dim-empty", lambda c: c.insert({**good(100), "vector": []}), vs.DataError),
    case("vector-2d", lambda c: c.insert({**good(100), "vector": [[1.0] * 4]}), vs.DataError),
    case("vector-str", lambda c: c.insert({**good(100), "vector": "abcd"}), vs.DataError),
    case("vector-none", lambda c: c.insert({**good(100), "vector": None}), vs.DataError),
    case("vector-missing", lambda c: c.insert({"id": 100, "title": "x", "views": 1}), vs.DataError),
    # NaN / inf
    case(
        "vector-nan",
        lambda c: c.insert([good(100), {**good(101), "vector": [np.nan, 0, 0, 0]}]),
        vs.DataError,
    ),
    case("vector-inf", lambda c: c.upsert({**good(1), "vector": [0, np.inf, 0, 0]}), vs.DataError),
    case(
        "vector-ninf", lambda c: c.insert({**good(100), "vector": [0, 0, -np.inf, 0]}), vs.DataError
    ),
    case(
        "vector-f32-overflow",
        lambda c: c.insert({**good(100), "vector": [1e39, 0, 0, 0]}),
        vs.DataError,
    ),
    case("float-nan", lambda c: c.insert(good(100, score=float("nan"))), vs.DataError),
    case("float-inf", lambda c: c.upsert(good(1, score=float("inf"))), vs.DataError),
    case("float-f32-overflow", lambda c: c.insert(good(100, score=1e39)), vs.DataError),
    case("json-nan", lambda c: c.insert(good(100, meta={"x": float("nan")})), vs.DataError),
    # wrong scalar types
    case("int-from-str", lambda c: c.insert({**good(100), "views": "12"}), vs.DataError),
    case("int-from-float", lambda c: c.insert({**good(100), "views": 1.5}), vs.DataError),
    case("int-from-bool", lambda c: c.insert({**good(100), "views": True}), vs.DataError),
    case("int32-overflow", lambda c: c.insert({**good(100), "views": 2**31}), vs.DataError),
    case("int8-overflow", lambda c: c.insert(good(100, small=128)), vs.DataError),
    case("int8-underflow", lambda c: c.upsert(good(1, small=-129)), vs.DataError),
    case("str-from-int", lambda c: c.insert({**good(100), "title": 5}), vs.DataError),
    case("bool-from-int", lambda c: c.insert(good(100, flag=1)), vs.DataError),
    case("float-from-str", lambda c: c.insert(good(100, score="1.0")), vs.DataError),
    case("array-from-str", lambda c: c.insert(good(100, tags="abc")), vs.DataError),
    case("array-element-type", lambda c: c.insert(good(100, tags=["a", 1])), vs.DataError),
    case("array-capacity", lambda c: c.insert(good(100, tags=["a", "b", "c", "d"])), vs.DataError),
    case("json-not-json", lambda c: c.insert(good(100, meta={"s": {1, 2}})), vs.DataError),
    case("json-bytes", lambda c: c.insert(good(100, meta=b"raw")), vs.DataError),
    # over-long strings
    case("varchar-too-long", lambda c: c.insert({**good(100), "title": "x" * 9}), vs.DataError),
    case(
        "varchar-too-long-upsert", lambda c: c.upsert({**good(1), "title": "é" * 9}), vs.DataError
    ),
    case("array-element-too-long", lambda c: c.insert(good(100, tags=["abcdef"])), vs.DataError),
    # primary keys
    case(
        "pk-missing",
        lambda c: c.insert({k: v for k, v in good(100).items() if k != "id"}),
        vs.DataError,
    ),
    case("pk-none", lambda c: c.insert({**good(100), "id": None}), vs.DataError),
    case("pk-str", lambda c: c.insert({**good(100), "id": "100"}), vs.DataError),
    case("pk-float", lambda c: c.insert({**good(100), "id": 100.0}), vs.DataError),
    case("pk-bool", lambda c: c.insert({**good(100), "id": True}), vs.DataError),
    case("pk-overflow", lambda c: c.insert({**good(100), "id": 2**63}), vs.DataError),
    case(
        "dup-in-batch", lambda c: c.insert([good(100), good(101), good(100)]), vs.DuplicateKeyError
    ),
    case("dup-in-upsert-batch", lambda c: c.upsert([good(1), good(1)]), vs.DuplicateKeyError),
    case("existing-id", lambda c: c.insert([good(100), good(5)]), vs.DuplicateKeyError),
    case("existing-id-flushed", lambda c: c.insert(good(0)), vs.DuplicateKeyError),
    case("existing-id-other-partition", lambda c: c.insert(good(11)), vs.DuplicateKeyError),
    case(
        "existing-id-into-partition",
        lambda c: c.insert(good(1), partition="p"),
        vs.DuplicateKeyError,
    ),
    # other row problems
    case("unknown-field", lambda c: c.insert([good(100), good(101, color="red")]), vs.DataError),
    case(
        "missing-required",
        lambda c: c.insert({"id": 100, "vector": vec(1), "views": 1}),
        vs.DataError,
    ),
    case("row-not-dict", lambda c: c.insert([good(100), [1, 2]]), vs.DataError),
    case("rows-a-string", lambda c: c.insert("rows"), vs.DataError),
    case("rows-an-int", lambda c: c.insert(5), vs.DataError),
    case(
        "unknown-partition",
        lambda c: c.insert(good(100), partition="nope"),
        vs.PartitionNotFoundError,
    ),
    case(
        "unknown-partition-upsert",
        lambda c: c.upsert(good(1), partition="nope"),
        vs.PartitionNotFoundError,
    ),
]


@pytest.mark.parametrize("action, error", ROW_CASES)
def test_bad_rows(stores, db, col, snapshot, action, error):
    check_unchanged(stores, db, col, snapshot, action, error)


def test_existing_id_error_points_to_upsert(stores, db, col, snapshot):
    err = check_unchanged(
        stores, db, col, snapshot, lambda c: c.insert(good(5)), vs.DuplicateKeyError
    )
    assert "upsert" in str(err)
    assert isinstance(err, ValueError)


def test_error_message_names_row_and_field(col):
    with pytest.raises(vs.DataError) as info:
        col.insert([good(100), good(101), {**good(102), "title": 7}])
    assert "row 2" in str(info.value) and "title" in str(info.value)


def test_deleted_id_can_be_inserted_again(col):
    col.insert(good(3))  # deleted in the fixture
    assert [r["id"] for r in col.get([3])] == [3]


# ------------------------------------------------------------ other calls
OTHER_CASES = [
    case("delete-neither", lambda c: c.delete(), vs.DataError),
    case("delete-both", lambda c: c.delete(ids=[1], filter="views > 0"), vs.DataError),
    case("delete-bad-id-type", lambda c: c.delete(ids=[1, "x"]), vs.DataError),
    case("delete-bad-id-float", lambda c: c.delete(ids=[1, 2.0]), vs.DataError),
    case(
        "delete-unknown-partition",
        lambda c: c.delete(ids=[1], partition="nope"),
        vs.PartitionNotFoundError,
    ),
    case("get-bad-id", lambda c: c.get([1, "x"]), vs.DataError),
    case(
        "get-unknown-partition",
        lambda c: c.get([1], partitions=["nope"]),
        vs.PartitionNotFoundError,
    ),
    case("query-unknown-output", lambda c: c.query(output_fields=["color"]), vs.DataError),
    case("query-negative-limit", lambda c: c.query(limit=-1), vs.DataError),
    case("query-negative-offset", lambda c: c.query(offset=-1), vs.DataError),
    case(
        "query-unknown-partition", lambda c: c.query(partitions=["nope"]), vs.PartitionNotFoundError
    ),
    case(
        "count-unknown-partition", lambda c: c.count(partitions=["nope"]), vs.PartitionNotFoundError
    ),
    case("drop-default-partition", lambda c: c.drop_partition("_default"), vs.DataError),
    case("drop-unknown-partition", lambda c: c.drop_partition("nope"), vs.PartitionNotFoundError),
    case("create-index-on-scalar", lambda c: c.create_index("views", "HNSW"), vs.IndexConfigError),
    case(
        "create-index-unknown-field", lambda c: c.create_index("nope", "FLAT"), vs.IndexConfigError
    ),
    case(
        "create-index-bad-param",
        lambda c: c.create_index("vector", "HNSW", M=1000),
        vs.IndexConfigError,
    ),
    case("drop-index-none", lambda c: c.drop_index("views"), vs.IndexConfigError),
]


@pytest.mark.parametrize("action, error", OTHER_CASES)
def test_bad_calls(stores, db, col, snapshot, action, error):
    check_unchanged(stores, db, col, snapshot, action, error)


def test_search_and_index_unchanged_after_bad_create_index(col):
    before = col.search([vec(1)], limit=5)
    with pytest.raises(vs.IndexConfigError):
        col.create_index("vector", "HNSW", M=1000)
    assert [i.to_dict() for i in col.indexes] == [vs.Index("vector", "FLAT", "L2").to_dict()]
    assert col.search([vec(1)], limit=5) == before


# --------------------------------------------------------------- search
Q = [vec(1)]
SEARCH_CASES = [
    case("ef-zero", lambda c: c.search(Q, search_params={"ef": 0}), vs.IndexConfigError),
    case("ef-str", lambda c: c.search(Q, search_params={"ef": "64"}), vs.IndexConfigError),
    case("ef-huge", lambda c: c.search(Q, search_params={"ef": 10**6}), vs.IndexConfigError),
    case("ef-bool", lambda c: c.search(Q, search_params={"ef": True}), vs.IndexConfigError),
    case(
        "ef-nested-bad",
        lambda c: c.search(Q, search_params={"params": {"ef": -1}}),
        vs.IndexConfigError,
    ),
    case("unknown-param", lambda c: c.search(Q, search_params={"nprobe": 8}), vs.IndexConfigError),
    case(
        "metric-mismatch",
        lambda c: c.search(Q, search_params={"metric_type": "IP"}),
        vs.IndexConfigError,
    ),
    case("limit-zero", lambda c: c.search(Q, limit=0), vs.DataError),
    case("limit-negative", lambda c: c.search(Q, limit=-3), vs.DataError),
    case("limit-bool", lambda c: c.search(Q, limit=True), vs.DataError),
    case("limit-float", lambda c: c.search(Q, limit=2.0), vs.DataError),
    case("limit-too-big", lambda c: c.search(Q, limit=16385), vs.DataError),
    case(
        "limit-plus-offset-too-big", lambda c: c.search(Q, limit=16000, offset=1000), vs.DataError
    ),
    case("offset-negative", lambda c: c.search(Q, offset=-1), vs.DataError),
    case("query-dim", lambda c: c.search([[1.0, 2.0]]), vs.DimensionMismatchError),
    case("query-dim-batch", lambda c: c.search([vec(1), [1.0] * 5]), vs.DataError),
    case("query-nan", lambda c: c.search([[np.nan, 0, 0, 0]]), vs.DataError),
    case("query-inf", lambda c: c.search([vec(1), [np.inf, 0, 0, 0]]), vs.DataError),
    case("query-empty", lambda c: c.search([]), vs.DataError),
    case("query-not-numeric", lambda c: c.search([["a", "b", "c", "d"]]), vs.DataError),
    case("query-text", lambda c: c.search(["some text"]), vs.NotSupportedError),
    case("anns-unknown", lambda c: c.search(Q, anns_field="nope"), vs.DataError),
    case("anns-scalar", lambda c: c.search(Q, anns_field="views"), vs.DataError),
    case(
        "search-unknown-partition",
        lambda c: c.search(Q, partitions=["nope"]),
        vs.PartitionNotFoundError,
    ),
    case("search-unknown-output", lambda c: c.search(Q, output_fields=["color"]), vs.DataError),
]


@pytest.mark.parametrize("action, error", SEARCH_CASES)
def test_bad_search(stores, db, col, snapshot, action, error):
    check_unchanged(stores, db, col, snapshot, action, error)


def test_search_limit_at_the_cap_is_fine(col):
    assert len(col.search(Q, limit=16384)[0]) == col.count()
    assert len(col.search(Q, limit=16000, offset=384)[0]) == 0


# -------------------------------------------------------------- filters
BAD_FILTERS = [
    "views >",
    "views > > 3",
    "(views > 3",
    "views > 3)",
    "views = 3",
    'title == "unterminated',
    "views > 3 and",
    "and views > 3",
    "views in [1, 2",
    "@@@",
    "views > 3; drop",
    "__import__('os').system('true')",
]


@pytest.mark.parametrize("expr", BAD_FILTERS)
@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, e: c.query(filter=e), id="query"),
        pytest.param(lambda c, e: c.count(filter=e), id="count"),
        pytest.param(lambda c, e: c.delete(filter=e), id="delete"),
        pytest.param(lambda c, e: c.search(Q, filter=e), id="search"),
    ],
)
def test_bad_filter_expressions(stores, db, col, snapshot, expr, call):
    err = check_unchanged(stores, db, col, snapshot, lambda c: call(c, expr), vs.FilterSyntaxError)
    assert isinstance(err, ValueError)


def test_filter_syntax_error_names_the_position(col):
    with pytest.raises(vs.FilterSyntaxError) as info:
        col.query(filter="views > 3 and and title == 'x'")
    assert info.value.position is not None
    assert 0 <= info.value.position <= len("views > 3 and and title == 'x'")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.query(filter=5), id="query-int"),
        pytest.param(lambda c: c.delete(filter=["views > 1"]), id="delete-list"),
        pytest.param(lambda c: c.count(filter=b"views > 1"), id="count-bytes"),
    ],
)
def test_non_string_filter(stores, db, col, snapshot, call):
    check_unchanged(stores, db, col, snapshot, call, vs.DataError)


def test_delete_with_an_empty_filter_deletes_nothing(stores, db, col, snapshot):
    """Milvus refuses an empty delete expression; it must never mean "every row"."""
    check_unchanged(stores, db, col, snapshot, lambda c: c.delete(filter=""), vs.FilterSyntaxError)


# ------------------------------------------------- closed / dropped handles
def test_closed_client(stores, db, col, snapshot):
    before = snapshot(col)
    db.close()
    db.close()  # idempotent
    for call in (
        lambda: col.insert(good(100)),
        lambda: col.upsert(good(1)),
        lambda: col.delete(ids=[1]),
        lambda: col.get([1]),
        lambda: col.query(),
        lambda: col.count(),
        lambda: col.search(Q),
        lambda: col.flush(),
        lambda: col.compact(),
        lambda: col.create_partition("q"),
        lambda: col.drop_partition("p"),
        lambda: col.list_partitions(),
        lambda: col.create_index("vector", "FLAT", "L2"),
        lambda: db.create_collection("d", dimension=4),
        lambda: db.get_collection("c"),
        lambda: db.has_collection("c"),
        lambda: db.list_collections(),
        lambda: db.drop_collection("c"),
    ):
        with pytest.raises(vs.ClosedError):
            call()
    if stores.durable:
        db = stores.connect()
        assert db.list_collections() == ["c"]
        assert snapshot(db.get_collection("c")) == before


def test_closed_error_is_a_runtime_error(db, col):
    db.close()
    with pytest.raises(RuntimeError):
        col.count()


def test_dropped_collection_handle(stores, db, col, snapshot):
    other = db.create_collection("other", dimension=DIM)
    other.insert({"id": 1, "vector": vec(1)})
    other_before = snapshot(other)
    db.drop_collection("c")
    for call in (
        lambda: col.insert(good(100)),
        lambda: col.upsert(good(1)),
        lambda: col.delete(ids=[1]),
        lambda: col.get([1]),
        lambda: col.query(),
        lambda: col.count(),
        lambda: col.search(Q),
        lambda: col.flush(),
        lambda: col.create_partition("q"),
    ):
        with pytest.raises(vs.ClosedError):
            call()
    fresh = create(db, "c")
    with pytest.raises(vs.ClosedError):  # the old handle stays dead
        col.insert(good(100))
    assert fresh.count() == 0
    assert snapshot(other) == other_before
    if stores.durable:
        db = stores.reopen(db)
        assert db.list_collections() == ["c", "other"]
        assert db.get_collection("c").count() == 0
        assert snapshot(db.get_collection("other")) == other_before


# ------------------------------------------------------------------ names
BAD_NAMES = ["../x", "a/b", "", "x" * 256, ".", "..", "/abs", "a\x00b", "~", "c/../../x"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_could_escape_the_data_directory(stores, db, col, snapshot, tmp_path, name):
    def listing() -> list[str]:
        return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))

    files = listing()
    before = snapshot(col)
    with pytest.raises(vs.InvalidNameError):
        db.create_collection(name, dimension=DIM)
    with pytest.raises(vs.InvalidNameError):
        col.create_partition(name)
    assert db.list_collections() == ["c"]
    assert snapshot(col) == before
    assert listing() == files
    assert not (tmp_path.parent / "x").exists()
    if stores.durable:
        db = stores.reopen(db)
        assert db.list_collections() == ["c"]
        assert snapshot(db.get_collection("c")) == before


def test_partition_name_check_before_lookup(db, col):
    """Reading through a bad partition name is a not-found, never a path."""
    with pytest.raises(vs.PartitionNotFoundError):
        col.count(partitions=["../x"])
    with pytest.raises(vs.PartitionNotFoundError):
        col.insert(good(100), partition="../x")


def test_ill_typed_filters_raise_filter_type_error(col, snapshot):
    before = snapshot(col)
    for expr in ("nope > 1", "views == 'x'", "title > 3", "vector > 1"):
        for call in (
            lambda e: col.query(filter=e),
            lambda e: col.count(filter=e),
            lambda e: col.delete(filter=e),
            lambda e: col.search(Q, filter=e),
        ):
            with pytest.raises(vs.FilterTypeError) as info:
                call(expr)
            assert isinstance(info.value, ValueError)
    assert snapshot(col) == before


def test_ill_typed_filters_raise_without_data(db):
    col = create(db, "empty")
    col.create_partition("p")
    calls = {
        "query": lambda e: col.query(filter=e),
        "count": lambda e: col.count(filter=e),
        "delete": lambda e: col.delete(filter=e),
        "search": lambda e: col.search(Q, filter=e),
        "query-empty-partition": lambda e: col.query(filter=e, partitions=["p"]),
    }
    silent = []

    def probe(state: str) -> None:
        for expr in ("nope > 1", "views == 'x'"):
            for name, call in calls.items():
                try:
                    call(expr)
                except vs.FilterTypeError:
                    continue
                silent.append((state, name, expr))

    probe("empty")
    col.insert(good(1))
    col.insert(good(2), partition="p")
    col.delete(ids=[1, 2])
    probe("all rows deleted")
    assert silent == []


def test_lone_surrogates_are_rejected_before_anything_is_written(stores) -> None:  # type: ignore[no-untyped-def]
    # Text scraped from PDFs can hold lone surrogates; no file can store them, so
    # accepting one made every later checkpoint (and so every reopen) fail.
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.VARCHAR, is_primary=True, max_length=64),
            vs.Field("text", vs.DataType.VARCHAR),
            vs.Field("meta", vs.DataType.JSON),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=2),
        ],
        enable_dynamic_field=True,
    )
    col = db.create_collection("s", schema=schema)
    bad = "broken \ud800 text"
    good = {"id": "a", "text": "ok", "meta": {}, "vector": [1.0, 0.0]}
    col.insert([good])
    for row in (
        {**good, "id": "b", "text": bad},
        {**good, "id": bad},
        {**good, "id": "c", "meta": {"k": [bad]}},
        {**good, "id": "d", "meta": {bad: 1}},
        {**good, "id": "e", "extra": bad},
    ):
        with pytest.raises(vs.DataError, match="surrogate"):
            col.insert([good | {"id": "z"}, row])
    assert col.count() == 1
    db = stores.reopen(db)
    assert db.get_collection("s").count() == 1
