"""Search against a brute-force numpy reference, with Milvus's conventions.

COSINE and IP report the similarity (larger is closer); L2 reports the squared
Euclidean distance (smaller is closer). Reference distances are computed in
float64; the data is seeded random, so there are no ties and ids must match.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers.search_reference import DIM, METRICS, N, assert_matches, exact, fill, make_data
from lite_differences import BOOL_IS_INT, HNSW_DELETES, MODULO

import vectorstore as vs

DT = vs.DataType


@pytest.fixture(scope="module")
def data():
    return make_data()


# ------------------------------------------------------- exact vs reference
@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", METRICS)
def test_search_matches_numpy(db, reopen, data, metric, index_type):
    vectors, queries = data
    db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", index_type, metric)])
    col = db.get_collection("c")
    fill(col, vectors)
    ids = np.arange(N)
    hits = col.search(queries, limit=10)
    assert_matches(hits, ids, queries, vectors, metric, 10)
    for got in hits:
        dist = [h.distance for h in got]
        assert dist == sorted(dist, reverse=metric != "L2")
        assert all(type(h.id) is int and type(h.distance) is float for h in got)
    col.flush()
    db = reopen(db)
    assert_matches(
        db.get_collection("c").search(queries, limit=10), ids, queries, vectors, metric, 10
    )


@pytest.mark.parametrize("metric", METRICS)
def test_milvus_distance_conventions(db, metric):
    col = db.create_collection("c", dimension=3, indexes=[vs.Index("vector", "FLAT", metric)])
    col.insert(
        [
            {"id": 1, "vector": [3.0, 0.0, 0.0]},
            {"id": 2, "vector": [0.0, 2.0, 0.0]},
            {"id": 3, "vector": [-0.5, 0.0, 0.0]},
        ]
    )
    hits = col.search([[1.0, 0.0, 0.0]], limit=3)[0]
    got = {h.id: h.distance for h in hits}
    if metric == "L2":  # squared Euclidean, smaller is closer
        assert [h.id for h in hits] == [3, 1, 2]
        assert got == pytest.approx({1: 4.0, 2: 5.0, 3: 2.25})
    elif metric == "IP":  # raw inner product, larger is closer
        assert [h.id for h in hits] == [1, 2, 3]
        assert got == pytest.approx({1: 3.0, 2: 0.0, 3: -0.5}, abs=1e-6)
    else:  # cosine similarity, larger is closer
        assert [h.id for h in hits] == [1, 2, 3]
        assert got == pytest.approx({1: 1.0, 2: 0.0, 3: -1.0}, abs=1e-6)


@pytest.mark.parametrize("metric", METRICS)
def test_l2_order_and_self_match(db, data, metric):
    vectors, _ = data
    col = db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", "HNSW", metric)])
    fill(col, vectors)
    hits = col.search(vectors[:5], limit=1)
    best, best_dist = exact(vectors[:5], vectors, metric, 1)
    for i, [hit] in enumerate(hits):
        # IP's best need not be the vector itself: compare with exact search
        assert hit.id == (best[i][0] if metric == "IP" else i)
        assert hit.distance == pytest.approx(best_dist[i][0], rel=1e-4, abs=1e-4)
        if metric == "L2":
            assert hit.distance == pytest.approx(0.0, abs=1e-4)
        if metric == "COSINE":
            assert hit.distance == pytest.approx(1.0, abs=1e-5)


# ----------------------------------------------------------- limit / offset
@pytest.mark.parametrize("metric", METRICS)
def test_offset_pages_through_a_bigger_search(db, data, metric):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric=metric)
    fill(col, vectors)
    full = col.search(queries, limit=50)
    for offset in (0, 1, 10, 25, 39):
        page = col.search(queries, limit=10, offset=offset)
        for whole, part in zip(full, page, strict=True):
            assert [h.id for h in part] == [h.id for h in whole[offset : offset + 10]]
            assert [h.distance for h in part] == pytest.approx(
                [h.distance for h in whole[offset : offset + 10]]
            )


def test_limit_and_offset_past_the_end(db, data):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric="L2")
    fill(col, vectors[:30])
    assert [len(h) for h in col.search(queries[:2], limit=100)] == [30, 30]
    assert [len(h) for h in col.search(queries[:2], limit=10, offset=25)] == [5, 5]
    assert col.search(queries[:2], limit=10, offset=30) == [[], []]
    assert col.search(queries[:2], limit=10, offset=1000) == [[], []]


def test_empty_collection_and_single_vector(db, data):
    vectors, _ = data
    col = db.create_collection("c", dimension=DIM)
    assert col.search([vectors[0].tolist()], limit=5) == [[]]
    col.insert({"id": 1, "vector": vectors[1].tolist()})
    one = col.search(vectors[1].tolist(), limit=5)  # a single flat vector
    assert len(one) == 1 and [h.id for h in one[0]] == [1]
    as_array = col.search(vectors[1], limit=5)
    assert [h.id for h in as_array[0]] == [1]


# ------------------------------------------------------------ output fields
@pytest.fixture
def rich(db, data):
    """50 rows; ``views`` is null in every third where Milvus has nullable fields
    (2.5+), -1 there otherwise."""
    vectors, _ = data
    fields = [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=DIM),
        vs.Field("title", DT.VARCHAR, max_length=20),
        vs.Field("views", DT.INT64, nullable=True),
    ]
    indexes = [vs.Index("vector", "FLAT", "L2")]
    try:
        schema = vs.Schema(fields, enable_dynamic_field=True)
        col = db.create_collection("c", schema=schema, indexes=indexes)
    except vs.NotSupportedError:
        fields[-1] = vs.Field("views", DT.INT64)
        schema = vs.Schema(fields, enable_dynamic_field=True)
        col = db.create_collection("c", schema=schema, indexes=indexes)
    missing = None if col.schema["views"].nullable else -1
    col.insert(
        [
            {
                "id": i,
                "vector": vectors[i].tolist(),
                "title": f"t{i}",
                "views": missing if i % 3 == 0 else i,
                **({"color": "red"} if i % 2 else {}),
            }
            for i in range(50)
        ]
    )
    return col


def test_output_fields(rich, data):
    vectors, _ = data
    q = [vectors[7]]
    [[hit]] = rich.search(q, limit=1)
    assert hit.id == 7 and hit.entity == {}
    assert hit["id"] == 7 and hit["distance"] == hit.distance
    assert hit.to_dict() == {"id": 7, "distance": hit.distance, "entity": {}}

    [[hit]] = rich.search(q, limit=1, output_fields=["title"])
    assert hit.entity == {"title": "t7"} and hit["title"] == "t7"

    [[hit]] = rich.search(q, limit=1, output_fields=["views", "color", "missing_key"])
    assert hit.entity == {"views": 7, "color": "red"}

    [[hit]] = rich.search(q, limit=1, output_fields=["*"])
    assert set(hit.entity) == {"vector", "title", "views", "color"}
    assert hit.entity["vector"] == pytest.approx(vectors[7].tolist())
    assert hit.entity["title"] == "t7" and hit.entity["color"] == "red"

    [[hit]] = rich.search([vectors[6]], limit=1, output_fields=["views", "color"])
    assert hit.entity == {"views": None if rich.schema["views"].nullable else -1}


def test_output_fields_in_every_hit_of_a_batch(rich, data):
    _, queries = data
    hits = rich.search(queries[:4], limit=20, output_fields=["title", "color"])
    for row in hits:
        assert len(row) == 20
        for h in row:
            assert h.entity["title"] == f"t{h.id}"
            assert ("color" in h.entity) == (h.id % 2 == 1)


# -------------------------------------------------------------- partitions
@pytest.mark.parametrize("metric", METRICS)
def test_partitions_restrict_search(db, data, metric):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric=metric, partitions=["a", "b"])
    fill(col, vectors[:100], start=0, partition="a")
    fill(col, vectors[100:250], start=100, partition="b")
    fill(col, vectors[250:], start=250)
    ids = np.arange(N)
    a, b = slice(0, 100), slice(100, 250)
    assert_matches(
        col.search(queries, limit=10, partitions=["a"]), ids[a], queries, vectors[a], metric, 10
    )
    assert_matches(
        col.search(queries, limit=10, partitions=["b"]), ids[b], queries, vectors[b], metric, 10
    )
    both = np.r_[ids[a], ids[b]]
    assert_matches(
        col.search(queries, limit=10, partitions=["a", "b"]),
        both,
        queries,
        vectors[both],
        metric,
        10,
    )
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, metric, 10)


# --------------------------------------------------------------- deletes
@HNSW_DELETES
@pytest.mark.parametrize("metric", METRICS)
def test_deleted_rows_are_never_returned(db, reopen, data, metric):
    vectors, queries = data
    db.create_collection("c", dimension=DIM, metric=metric)
    col = db.get_collection("c")
    fill(col, vectors)
    col.flush()
    gone = list(range(0, N, 3)) + [int(h.id) for h in col.search(queries, limit=3)[0]]
    col.delete(ids=gone)
    keep = np.setdiff1d(np.arange(N), gone)
    assert_matches(col.search(queries, limit=15), keep, queries, vectors[keep], metric, 15)
    db = reopen(db)
    col = db.get_collection("c")
    assert_matches(col.search(queries, limit=15), keep, queries, vectors[keep], metric, 15)
    col.delete(ids=keep[:-5].tolist())
    hits = col.search(queries, limit=10)
    assert all(sorted(h.id for h in row) == sorted(keep[-5:].tolist()) for row in hits)


@pytest.fixture(scope="module")
def big():
    rng = np.random.default_rng(11)
    return rng.normal(size=(20_000, 8)).astype(np.float32), rng.normal(size=(40, 8)).astype(
        np.float32
    )


# ---------------------------------------------------------- multi-segment
def test_batch_of_queries_equals_one_by_one(db, data):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric="COSINE")
    fill(col, vectors)
    batch = col.search(queries, limit=10, output_fields=["n"])
    single = [col.search([q], limit=10, output_fields=["n"])[0] for q in queries]
    assert [[h.id for h in row] for row in batch] == [[h.id for h in row] for row in single]
    assert [[h.entity for h in row] for row in batch] == [[h.entity for h in row] for row in single]
    np.testing.assert_allclose(
        [[h.distance for h in row] for row in batch],
        [[h.distance for h in row] for row in single],
        rtol=1e-5,
    )


# ------------------------------------------------------------ search params
def test_search_params(db, data):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric="L2")
    fill(col, vectors)
    base = col.search(queries, limit=10)
    assert col.search(queries, limit=10, search_params={"ef": 64}) == base
    assert col.search(queries, limit=10, search_params={"ef": 5}) == base  # ef < limit is raised
    assert col.search(queries, limit=10, search_params={"params": {"ef": 100}}) == base
    assert col.search(queries, limit=10, search_params={"metric_type": "L2"}) == base
    assert col.search(queries, limit=10, search_params={"metric_type": "l2", "ef": 32}) == base
    assert col.search(queries, limit=10, search_params={}) == base
    for wrong in ("IP", "COSINE"):
        with pytest.raises(vs.IndexConfigError):
            col.search(queries, limit=10, search_params={"metric_type": wrong})


@pytest.mark.needs_milvus("2.4", "several vector fields")
def test_two_vector_fields(db, data):
    vectors, queries = data
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("a", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("b", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    col = db.create_collection(
        "c", schema=schema, indexes=[vs.Index("a", "FLAT", "L2"), vs.Index("b", "HNSW", "IP")]
    )
    col.insert([{"id": i, "a": vectors[i], "b": vectors[i][:2]} for i in range(N)])
    ids = np.arange(N)
    assert_matches(col.search(queries, anns_field="a", limit=5), ids, queries, vectors, "L2", 5)
    assert_matches(
        col.search(queries[:, :2], anns_field="b", limit=5),
        ids,
        queries[:, :2],
        vectors[:, :2],
        "IP",
        5,
    )
    with pytest.raises(vs.DataError):
        col.search(queries, limit=5)  # which field?
    with pytest.raises(vs.DimensionMismatchError):
        col.search(queries, anns_field="b", limit=5)


# ----------------------------------------------------- index switching
def test_create_and_drop_index_keep_results_right(db, reopen, data):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", "FLAT", "L2")])
    fill(col, vectors[:200])
    col.flush()
    fill(col, vectors[200:], start=200)  # one sealed and one growing segment
    ids = np.arange(N)
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, "L2", 10)

    col.create_index("vector", "HNSW", "L2", M=8, ef_construction=64)
    assert col.describe()["indexes"][0]["index_type"] == "HNSW"
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, "L2", 10)

    col.drop_index("vector")
    assert [i.index_type for i in col.indexes] == ["FLAT"]
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, "L2", 10)

    col.create_index(vs.Index("vector", "HNSW", metric="IP"))
    assert_matches(col.search(queries, limit=10), ids, queries, vectors, "IP", 10)
    with pytest.raises(vs.IndexConfigError):
        col.search(queries, limit=10, search_params={"metric_type": "L2"})

    col.delete(ids=list(range(0, N, 4)))
    keep = np.setdiff1d(ids, range(0, N, 4))
    col.create_index("vector", "FLAT", "COSINE")
    assert_matches(col.search(queries, limit=10), keep, queries, vectors[keep], "COSINE", 10)
    col.create_index("vector", "HNSW", "COSINE")
    assert_matches(col.search(queries, limit=10), keep, queries, vectors[keep], "COSINE", 10)
    db = reopen(db)
    col = db.get_collection("c")
    assert [(i.index_type, i.metric.value) for i in col.indexes] == [("HNSW", "COSINE")]
    assert_matches(col.search(queries, limit=10), keep, queries, vectors[keep], "COSINE", 10)


def test_dropped_index_survives_reopen(db, reopen, data):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric="IP")
    fill(col, vectors)
    col.flush()
    col.drop_index("vector")
    db = reopen(db)
    col = db.get_collection("c")
    assert [(i.index_type, i.metric.value) for i in col.indexes] == [("FLAT", "IP")]
    assert_matches(col.search(queries, limit=10), np.arange(N), queries, vectors, "IP", 10)


# ------------------------------------------------------------- filtered
@MODULO
@pytest.mark.parametrize("metric", METRICS)
def test_filtered_search_matches_numpy(db, data, metric):
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric=metric)
    fill(col, vectors)
    col.delete(ids=list(range(0, N, 7)))
    ids = np.arange(N)
    passing = ids[(ids % 3 == 1) & (ids % 7 != 0)]
    hits = col.search(queries, limit=10, filter="n % 3 == 1", output_fields=["n"])
    assert_matches(hits, passing, queries, vectors[passing], metric, 10)
    hits = col.search(queries, limit=10, filter="n < {v}", filter_params={"v": 50})
    few = ids[(ids < 50) & (ids % 7 != 0)]
    assert_matches(hits, few, queries, vectors[few], metric, 10)
    assert col.search(queries[:2], limit=10, filter="n < 0") == [[], []]


@pytest.mark.parametrize("metric", METRICS)
def test_filtered_search_matches_numpy_every_backend_runs(db, data, metric):
    """The same as above with the filters written as Milvus Lite runs them (no %),
    so that its searches are checked too, not stopped at the filter."""
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, metric=metric)
    fill(col, vectors)
    col.delete(ids=list(range(0, N, 7)))
    ids = np.arange(N)
    third = [int(i) for i in ids if i % 3 == 1]
    passing = ids[(ids % 3 == 1) & (ids % 7 != 0)]
    hits = col.search(queries, limit=10, filter=f"n in {third}", output_fields=["n"])
    assert_matches(hits, passing, queries, vectors[passing], metric, 10)
    assert all(h["n"] in third for per_query in hits for h in per_query)
    hits = col.search(queries, limit=10, filter="n < 50")
    few = ids[(ids < 50) & (ids % 7 != 0)]
    assert_matches(hits, few, queries, vectors[few], metric, 10)


@BOOL_IS_INT
@pytest.mark.parametrize("flushed", [False, True])
def test_filter_results_do_not_depend_on_query_history(db, flushed):
    col = db.create_collection("c", dimension=2, metric="L2")
    col.insert(
        [
            {"id": 1, "vector": [1.0, 0.0], "d": True, "meta": {"x": True}},
            {"id": 2, "vector": [0.0, 1.0], "d": 1, "meta": {"x": 1}},
        ]
    )
    if flushed:
        col.flush()

    def fresh(expr: str) -> list[int]:
        other = vs.connect(":memory:").create_collection("c", dimension=2)
        other.insert(col.query(output_fields=["*"]))
        return sorted(r["id"] for r in other.query(expr))

    for first, second in [
        ("d == true", "d == 1"),
        ('meta["x"] == true', 'meta["x"] == 1'),
        ("d in [true]", "d in [1]"),
    ]:
        want = fresh(second)
        col.query(first)  # warm the cache with the look-alike expression
        assert sorted(r["id"] for r in col.query(second)) == want, (first, second)
        assert col.count(second) == len(want)
        hits = col.search([[0.0, 1.0]], limit=5, filter=second)[0]
        assert sorted(h.id for h in hits) == want
    col.count("d == true")
    assert col.delete(filter="d == 1") == 1
    assert [r["id"] for r in col.query()] == [1]


@pytest.mark.parametrize("id_type", ["int", "str"])
def test_many_segments_query_paging_and_key_types(stores, data, id_type):
    vectors, queries = data
    db = stores.connect(segment_rows=16)
    col = db.create_collection("c", dimension=DIM, metric="L2", id_type=id_type)
    key = (lambda i: i) if id_type == "int" else (lambda i: f"k{i}")
    col.insert([{"id": key(i), "vector": vectors[i], "tags": [i]} for i in range(100)])
    col.delete(ids=[key(i) for i in range(0, 100, 3)])
    everything = col.query()
    assert len(everything) == col.count() == 66
    for offset in (0, 5, 15, 16, 40, 65, 66, 80):
        assert col.query(limit=7, offset=offset) == everything[offset : offset + 7]
    hits = col.search(queries[:3], limit=9, output_fields=["tags"])
    for row in hits:
        for h in row:
            assert type(h.id) is type(key(0))
            assert h.entity == {"tags": [int(str(h.id).lstrip("k"))]}


def test_filters_may_be_expression_trees(db: vs.Client) -> None:
    # What adapters pass: trees of vectorstore.expr nodes, no string building.
    from vectorstore.expr import Compare, Field, In, Literal, Param

    col = db.create_collection("trees", dimension=2)
    col.insert([{"id": i, "vector": [1.0, float(i)], "k": i % 3} for i in range(10)])
    tree = Compare("==", Field("k", dynamic=True), Literal(1))
    assert col.count(filter=tree) == col.count(filter="k == 1") == 3
    ids = In(Field("id"), Param("ids"))
    assert [r["id"] for r in col.query(filter=ids, filter_params={"ids": [1, 2, 3]})] == [1, 2, 3]
    hits = col.search([[1.0, 2.0]], limit=3, filter=tree)[0]
    assert {h.id for h in hits} <= {1, 4, 7} and len(hits) == 3
    with pytest.raises(vs.FilterTypeError, match="id"):
        col.count(filter=Compare(">", Field("id"), Literal("x")))
    with pytest.raises(vs.DataError, match="filter"):
        col.count(filter=42)  # type: ignore[arg-type]
    assert col.delete(filter=tree) == 3 and col.count() == 7


@pytest.mark.parametrize("id_type", [DT.INT64, DT.VARCHAR])
def test_search_with_a_key_not_named_id(db, id_type):
    """Hits carry the key whatever the primary field is called (pymilvus keys a
    Milvus hit by the field's name)."""
    key = vs.Field(
        "doc_id", id_type, is_primary=True, max_length=8 if id_type == DT.VARCHAR else None
    )
    schema = vs.Schema([key, vs.Field("v", DT.FLOAT_VECTOR, dim=2), vs.Field("n", DT.INT64)])
    col = db.create_collection("named", schema=schema)
    keys = [7, 3, 5] if id_type == DT.INT64 else ["g", "c", "e"]
    col.insert([{"doc_id": k, "v": [1.0, float(i)], "n": i} for i, k in enumerate(keys)])
    hits = col.search(
        [[1.0, 2.0]], limit=2, output_fields=["n"], search_params={"metric_type": "COSINE"}
    )
    assert [h.id for h in hits[0]] == [keys[2], keys[1]]
    assert [h.entity["n"] for h in hits[0]] == [2, 1]


def test_hits_carry_ids_and_distances(db, data):
    """Each query's hits are ``vs.Hits``: pymilvus's ``ids`` and ``distances``
    are the hits' own, in order, on every backend and search shape."""
    vectors, queries = data
    col = db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", "HNSW", "L2")])
    fill(col, vectors[:300])
    for kwargs in (
        {},
        {"filter": "n > 150"},
        {"output_fields": ["*"]},
        {"offset": 3},
        {"filter": "n < 2"},  # fewer rows than the limit
    ):
        found = col.search(queries[:3], limit=8, **kwargs)
        assert len(found) == 3
        for row in found:
            assert isinstance(row, vs.Hits) and isinstance(row, list)
            ids, distances = row.ids, row.distances
            assert ids == [h.id for h in row] and distances == [h.distance for h in row]
            assert len(ids) == (2 if kwargs.get("filter") == "n < 2" else 8), kwargs
