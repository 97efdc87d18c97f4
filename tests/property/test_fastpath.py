"""The fast search path against the general one, bit for bit, on the same collection.

``Collection.search`` answers the common search (dense vectors, no group-by or
range) through ``vectorstore.fastpath``; switching ``col._fast.enabled`` off
sends the very same call down the general path (``routes.Router``). Hypothesis
varies the data (metrics, HNSW or exact, several sealed segments and a growing
one, deleted rows, partitions) and the call (query count, limit, offset, ef,
output fields, partitions, filter), and the two answers must be equal hit for
hit: same keys, same distances to the last bit, same entities, same order.
"""

from __future__ import annotations

import functools
import math
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.hitlist import HitList
from vectorstore.search import MAX_TOPK

DT = vs.DataType
DIM = 6
OUTPUTS = [None, [], ["n"], ["tag", "n"], ["*"], ["color"], ["vector"], ["id", "n"]]
PARTITIONS = [None, ["_default"], ["p"], ["_default", "p"], "p"]
FILTERS = ["", "n > 40", "n < 5", 'tag == "b"', "n > 1000"]


def bits(hits: list[list[vs.Hit]]) -> list[list[tuple]]:
    """Each hit with its distance as its exact bit pattern."""
    return [
        [(h.id, struct.pack("<d", h.distance), type(h.distance), h.entity) for h in row]
        for row in hits
    ]


def columns(hits: list[vs.Hits]) -> list[tuple[list, list[bytes]]]:
    """Each row's ``ids`` and ``distances`` (as bit patterns); every row is a ``Hits``."""
    assert all(isinstance(row, vs.Hits) for row in hits)
    return [(row.ids, [struct.pack("<d", d) for d in row.distances]) for row in hits]


def items(hits: list[list[vs.Hit]]) -> list[tuple[list, list[bytes]]]:
    """The same read from the hits themselves."""
    return [([h.id for h in row], [struct.pack("<d", h.distance) for h in row]) for row in hits]


def both(col: vs.Collection, *args, **kwargs) -> tuple[list[list[vs.Hit]], list[list[vs.Hit]]]:
    """(fast answer, general answer) of one call."""
    col._fast.enabled = True
    fast = col.search(*args, **kwargs)
    col._fast.enabled = False
    try:
        general = col.search(*args, **kwargs)
    finally:
        col._fast.enabled = True
    return fast, general


def build(
    metric: str,
    index: str,
    rows: int,
    str_keys: bool,
    segment_rows: int,
    seed: int,
    deleted: float,
    two_partitions: bool = True,
) -> vs.Collection:
    rng = np.random.default_rng(seed)
    pk = (
        vs.Field("id", DT.VARCHAR, is_primary=True, max_length=16)
        if str_keys
        else vs.Field("id", DT.INT64, is_primary=True)
    )
    schema = vs.Schema(
        [
            pk,
            vs.Field("vector", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("n", DT.INT64, nullable=True),
            vs.Field("tag", DT.VARCHAR, max_length=8),
        ],
        enable_dynamic_field=True,
    )
    if index == "HNSW":
        spec = vs.Index("vector", "HNSW", metric=metric, M=8, ef_construction=40)
    elif index.startswith("IVF_"):
        spec = vs.Index("vector", index, metric=metric, nlist=16)
    else:
        spec = vs.Index("vector", "FLAT", metric=metric)
    db = vs.connect(":memory:", segment_rows=segment_rows)
    col = db.create_collection("c", schema=schema, indexes=[spec])
    col.create_partition("p")
    # few distinct values: ties in distance, which the merge must order the same way
    base = rng.integers(-3, 4, size=(rows, DIM)).astype(np.float32)
    base[rng.random(rows) < 0.5] += rng.standard_normal((DIM,)).astype(np.float32)
    keys = [f"k{i}" if str_keys else i for i in range(rows)]
    for start in range(0, rows, 97):
        batch = [
            {
                "id": keys[i],
                "vector": base[i],
                "n": None if i % 7 == 0 else i % 50,
                "tag": "ab"[i % 2],
                **({"color": i % 3} if i % 2 else {}),
            }
            for i in range(start, min(start + 97, rows))
        ]
        col.insert(batch, partition="p" if start % 2 and two_partitions else "_default")
    gone = [k for k in keys if rng.random() < deleted]
    if gone:
        col.delete(ids=gone)
    return col


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    metric=st.sampled_from(["COSINE", "IP", "L2"]),
    index=st.sampled_from(["HNSW", "FLAT"]),
    rows=st.integers(0, 400),
    str_keys=st.booleans(),
    segment_rows=st.sampled_from([60, 150, 10_000]),
    seed=st.integers(0, 2**16),
    deleted=st.sampled_from([0.0, 0.1, 0.6]),
    calls=st.lists(
        st.tuples(
            st.integers(1, 3),  # queries
            st.integers(1, 25),  # limit
            st.sampled_from([0, 0, 3]),  # offset
            st.sampled_from([None, {"ef": 1}, {"ef": 16}, {"params": {"ef": 64}}]),
            st.sampled_from(OUTPUTS),
            st.sampled_from(PARTITIONS),
            st.sampled_from(FILTERS),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_fast_path_equals_general_path(
    metric, index, rows, str_keys, segment_rows, seed, deleted, calls
):
    col = build(metric, index, rows, str_keys, segment_rows, seed, deleted)
    rng = np.random.default_rng(seed + 1)
    for q, limit, offset, params, output, partitions, filt in calls:
        data = rng.integers(-3, 4, size=(q, DIM)).astype(np.float32)
        kwargs = dict(
            limit=limit,
            offset=offset,
            search_params=params,
            output_fields=output,
            partitions=partitions,
            filter=filt,
        )
        fast, general = both(col, data, **kwargs)
        assert columns(fast) == columns(general)  # read first: before anything fills
        assert bits(fast) == bits(general)
        assert columns(fast) == columns(general) == items(general)
        assert fast == general and general == fast
        if any(len(row) for row in general):
            assert all(type(row) is HitList for row in fast)  # the fast path answered
        # the same call with the queries as lists (the adapters' form)
        fast, general = both(col, data.tolist(), **kwargs)
        assert bits(fast) == bits(general)


@functools.cache
def prepared(layout: str, metric: str) -> vs.Collection:
    """``"big"``: sealed HNSW segments big enough for the graph (the planner searches
    small ones exactly), a growing one per partition, deleted rows. ``"single"``:
    one sealed HNSW segment (the commonest layout), with deleted rows."""
    if layout == "big":
        return build(metric, "HNSW", 5200, False, 2500, 7, 0.05)
    col = build(metric, "HNSW", 3000, True, 10_000, 8, 0.05, two_partitions=False)
    col.flush()
    assert len(col._state.segments(None)) == 1
    return col


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    q=st.integers(1, 6),
    limit=st.integers(1, 40),
    offset=st.sampled_from([0, 2]),
    ef=st.sampled_from([None, 1, 10, 64]),
    output=st.sampled_from(OUTPUTS),
    partitions=st.sampled_from(PARTITIONS),
    filt=st.sampled_from(FILTERS),
    layout=st.sampled_from(["big", "single"]),
    metric=st.sampled_from(["COSINE", "IP", "L2"]),
)
def test_fast_path_equals_general_path_on_hnsw_graphs(
    seed, q, limit, offset, ef, output, partitions, filt, layout, metric
):
    col = prepared(layout, metric)
    data = np.random.default_rng(seed).standard_normal((q, DIM)).astype(np.float32)
    fast, general = both(
        col,
        data,
        limit=limit,
        offset=offset,
        search_params=None if ef is None else {"ef": ef},
        output_fields=output,
        partitions=partitions,
        filter=filt,
    )
    assert bits(fast) == bits(general)
    if any(len(row) for row in general):
        assert all(type(row) is HitList for row in fast)


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_one_hnsw_segment_unfiltered_is_the_graph(metric):
    """The commonest case (one sealed HNSW segment, keys only) reads hnswlib's
    answer as it is: keys and distances of knn_query on the segment's graph."""
    single = prepared("single", metric)
    (seg,) = single._state.segments(None)
    data = np.random.default_rng(3).standard_normal((4, DIM)).astype(np.float32)
    hits = single.search(data, limit=10, search_params={"ef": 50})
    labels, dist = seg.indexes["vector"].search(data, 10, 50)
    assert [[h.id for h in row] for row in hits] == seg.pks[labels].tolist()
    assert [[h.distance for h in row] for row in hits] == dist.tolist()


@pytest.mark.parametrize("index", ["IVF_FLAT", "IVF_SQ8"])
def test_fast_path_equals_general_path_on_ivf(index):
    """IVF segments (trained when sealed) and a growing one, deleted rows."""
    col = build("L2", index, 2600, False, 1200, 5, 0.05)
    rng = np.random.default_rng(9)
    for params in (None, {"nprobe": 2}, {"nprobe": 16, "refine_k": 3}):
        for output, partitions in ((None, None), (["n", "color"], ["p"]), (None, ["_default"])):
            data = rng.standard_normal((3, DIM)).astype(np.float32)
            fast, general = both(
                col,
                data,
                limit=7,
                search_params=params,
                output_fields=output,
                partitions=partitions,
            )
            assert bits(fast) == bits(general)
            assert all(type(row) is HitList for row in fast)


def test_errors_are_the_general_paths():
    col = build("COSINE", "HNSW", 50, False, 10_000, 1, 0.0)
    good = np.ones((1, DIM), dtype=np.float32)
    cases = [
        dict(data=good, search_params={"ef": 0}),
        dict(data=good, search_params={"ef": 64.0}),
        dict(data=good, search_params={"ef": True}),
        dict(data=good, search_params={"nprobe": 4}),
        dict(data=good, search_params={"metric_type": "L2"}),
        dict(data=good, output_fields=["nope"], anns_field="nope"),
        dict(data=good, filter="n >"),
        dict(data=good, filter="nope > 1 and"),
        dict(data=np.full((1, DIM), math.nan, dtype=np.float32)),
        dict(data=np.ones((1, DIM + 1), dtype=np.float32)),
        dict(data=[[1.0] * DIM, [1.0] * (DIM - 1)]),
        dict(data="some text"),
        dict(data=[]),
        dict(data=good, partitions=["nope"]),
        dict(data=good, output_fields="n"),
        dict(data=good, group_size=2),
        dict(data=good, anns_field=["vector"]),
        # limit and offset: plans for 1 and 0 are cached below, and keys hold them by value
        dict(data=good, limit=True),
        dict(data=good, limit=1.0),
        dict(data=good, limit=0),
        dict(data=good, offset=False, limit=1),
        dict(data=good, offset=-1),
        dict(data=good, offset=1, limit=MAX_TOPK),
    ]
    col.search(good, limit=1)
    col.search(good, limit=1, offset=0)
    for case in cases:
        found = []
        for enabled in (True, False):
            col._fast.enabled = enabled
            with pytest.raises(vs.VectorStoreError) as info:
                col.search(**case)
            found.append((type(info.value), str(info.value)))
        col._fast.enabled = True
        assert found[0] == found[1], case


@pytest.mark.parametrize(
    "window", [{"limit": 0}, {"limit": True}, {"limit": 1.0}, {"offset": -1}, {"offset": MAX_TOPK}]
)
def test_a_bad_window_is_reported_before_the_store_is_read(tmp_path, window):
    """``limit``/``offset`` are checked before anything is read, on either path: a
    closed path store reports them as a memory store does, not as closed."""
    db = vs.connect(tmp_path / "s")
    col = db.create_collection("c", dimension=DIM)
    good = np.ones((1, DIM), dtype=np.float32)
    col.insert({"id": [1, 2], "vector": np.ones((2, DIM), dtype=np.float32)})
    col.search(good, limit=1)  # (a plan is cached)
    db.close()
    for enabled in (True, False):
        col._fast.enabled = enabled
        with pytest.raises(vs.DataError, match=r"limit|offset"):
            col.search(good, **window)


def test_a_cached_plan_follows_the_index():
    """A plan remembered for one index is not used once the index changes."""
    col = build("COSINE", "HNSW", 300, False, 10_000, 2, 0.0)
    data = np.random.default_rng(0).standard_normal((2, DIM)).astype(np.float32)
    before = col.search(data, limit=5, search_params={"ef": 32})
    col.create_index("vector", "HNSW", metric="L2", M=8, ef_construction=40)
    fast, general = both(col, data, limit=5, search_params={"ef": 32})
    assert bits(fast) == bits(general)
    assert [h.distance for h in fast[0]] != [h.distance for h in before[0]]
    col.drop_index("vector")  # exact search, COSINE
    fast, general = both(col, data, limit=5, search_params={"ef": 32})
    assert bits(fast) == bits(general)


def test_hits_are_read_as_the_search_saw_them():
    """Rows written or deleted after a search do not change its hits when read later."""
    col = build("L2", "HNSW", 200, False, 10_000, 4, 0.0)
    data = np.zeros((1, DIM), dtype=np.float32)
    hits = col.search(data, limit=5, output_fields=["n"])
    expected = col.search(data, limit=5, output_fields=["n"])[0].filled()
    col.delete(ids=[h.id for h in expected])
    col.flush()
    col.compact()
    assert hits[0] == expected
