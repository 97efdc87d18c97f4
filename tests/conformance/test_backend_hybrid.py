"""Sparse vectors, BM25, range, group-by, text_match and hybrid search, checked
against plain-Python references written from the contract (not from the code).

Every reference here recomputes from the raw rows: dense distances in float64
(L2 squared, IP, COSINE), sparse inner products over shared dimensions (rows
sharing none are not hits), ``drop_ratio_search`` as "keep the len -
int(ratio * len) largest |weights|", RRF and weighted fusion as Milvus defines
them, range windows, group-by, and text_match with an own tokenizer (and
snowballstemmer for "english"). Comparisons are by score wherever rows may tie.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from helpers.hybrid_reference import (
    _STEM,
    METRIC_OF,
    assert_window,
    bm25_scores,
    dense_distances,
    drop_small,
    english_tokens,
    larger_first,
    ranked,
    ref_rrf,
    ref_weighted,
    sparse_ip,
    standard_tokens,
)
from lite_differences import (
    ANALYZERS,
    BM25_STATS,
    BM25_STATS_TIMING,
    DROP_RATIO,
    EMPTY_SPARSE,
    FLOAT32_SCORES,
    GROUP_BY,
    NOT_NULL,
    PARTITION_GHOST,
    RANGE,
)

import vectorstore as vs

DT = vs.DataType
DIM = 8
VOCAB = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
CATS = ["x", "y", "z", "w"]

# ------------------------------------------------------------------ references


# ------------------------------------------------------------------ the dataset


def full_schema(text_analyzer: str = "standard") -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer=text_analyzer, nullable=True),
            vs.Field("title", DT.VARCHAR, nullable=True),
            vs.Field("doc", DT.INT64),
            vs.Field("cat", DT.VARCHAR),
            vs.Field("flag", DT.BOOL),
            vs.Field("n", DT.INT64, nullable=True),
            vs.Field("price", DT.DOUBLE),
            vs.Field("meta", DT.JSON),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("dl2", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("dip", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25(input="text", output="bm")],
    )


def full_indexes(index_type: str = "FLAT") -> list[vs.Index]:
    return [
        vs.Index("dense", index_type, "COSINE"),
        vs.Index("dl2", index_type, "L2"),
        vs.Index("dip", index_type, "IP"),
    ]


class Data:
    """Rows kept by id, and brute-force searches over them."""

    def __init__(self, seed: int, n: int):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.rows: dict[int, dict[str, Any]] = {}
        self.partition: dict[int, str] = {}
        for i in range(n):
            self.rows[i] = self.make_row(i)

    def make_row(self, i: int) -> dict[str, Any]:
        rng = self.rng
        nnz = int(rng.integers(1, 7))
        dims = rng.choice(40, size=nnz, replace=False)
        words = rng.choice(VOCAB, size=int(rng.integers(0, 8))).tolist()
        text = None if rng.random() < 0.08 else " ".join(words)
        return {
            "id": i,
            "text": text,
            "title": None if rng.random() < 0.1 else " ".join(rng.choice(VOCAB, size=3)),
            "doc": int(rng.integers(0, 25)),
            "cat": str(rng.choice(CATS)),
            "flag": bool(rng.random() < 0.5),
            "n": None if rng.random() < 0.2 else int(rng.integers(0, 10)),
            "price": float(rng.normal()),
            "meta": {"k": int(rng.integers(0, 3))},
            "dense": rng.normal(size=DIM).astype(np.float32).tolist(),
            "dl2": rng.normal(size=DIM).astype(np.float32).tolist(),
            "dip": rng.normal(size=DIM).astype(np.float32).tolist(),
            "sp": {int(d): float(rng.uniform(0.05, 2.0)) for d in dims},
        }

    def insert_into(self, col: vs.Collection, partitions: Sequence[str] = ("_default",)):
        keys = list(self.rows)
        for j, part in enumerate(partitions):
            chunk = keys[j :: len(partitions)]
            col.insert([self.rows[k] for k in chunk], partition=part)
            for k in chunk:
                self.partition[k] = part

    def ids(self, keep: Callable[[dict], bool] | None = None, partitions=None) -> list[int]:
        return [
            k
            for k, r in self.rows.items()
            if (keep is None or keep(r))
            and (partitions is None or self.partition.get(k, "_default") in partitions)
        ]

    def scores(self, field: str, query: Any, keep=None, partitions=None) -> dict[int, float]:
        """Reference distance of every candidate row for one query."""
        ids = self.ids(keep, partitions)
        if field in ("dense", "dl2", "dip"):
            mat = np.array([self.rows[k][field] for k in ids], dtype=np.float32)
            if not ids:
                return {}
            d = dense_distances(METRIC_OF[field], np.asarray(query, np.float32), mat)
            return dict(zip(ids, d.tolist(), strict=True))
        if field == "sp":
            out = {}
            for k in ids:
                s = sparse_ip(query, self.rows[k]["sp"])
                if s is not None:
                    out[k] = s
            return out
        assert field == "bm"
        all_scores = bm25_scores({k: r["text"] for k, r in self.rows.items()}, query)
        return {k: v for k, v in all_scores.items() if k in set(ids)}

    def query_for(self, field: str) -> Any:
        rng = self.rng
        if field in ("dense", "dl2", "dip"):
            return rng.normal(size=DIM).astype(np.float32).tolist()
        if field == "sp":
            dims = rng.choice(40, size=int(rng.integers(2, 8)), replace=False)
            return {int(d): float(rng.uniform(0.1, 3.0)) for d in dims}
        return " ".join(rng.choice(VOCAB, size=int(rng.integers(1, 4))).tolist())


def tol(field: str) -> dict[str, float]:
    # dense distances are float32 sums: compare loosely; sparse ones exactly-ish
    return {"rtol": 1e-4, "atol": 1e-4} if field in ("dense", "dl2", "dip") else {}


@pytest.fixture
def loaded(stores):
    """A 300-row collection over two partitions and small segments."""
    db = stores.connect(segment_rows=64)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes("FLAT"))
    col.create_partition("p")
    data = Data(seed=11, n=300)
    data.insert_into(col, ("_default", "p"))
    return db, col, data


# =====================================================================
# 1. sparse IP search vs brute force
# =====================================================================


@pytest.mark.parametrize("limit", [1, 7, 50])
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_ip_matches_brute_force(loaded, limit):
    _, col, data = loaded
    queries = [data.query_for("sp") for _ in range(6)]
    hits = col.search(queries, anns_field="sp", limit=limit)
    for q, got in zip(queries, hits, strict=True):
        assert_window(got, data.scores("sp", q), 0, limit, what=f"sp {q}")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_ip_filters_partitions_and_offset(loaded):
    _, col, data = loaded
    q = data.query_for("sp")
    got = col.search([q], anns_field="sp", limit=10, filter='cat in ["x", "y"] and doc > 5')[0]
    keep = lambda r: r["cat"] in ("x", "y") and r["doc"] > 5  # noqa: E731
    assert_window(got, data.scores("sp", q, keep=keep), 0, 10, what="filtered")
    got = col.search([q], anns_field="sp", limit=10, partitions=["p"])[0]
    assert_window(got, data.scores("sp", q, partitions={"p"}), 0, 10, what="partition p")
    got = col.search([q], anns_field="sp", limit=5, offset=4, filter="flag == true")[0]
    keep = lambda r: r["flag"]  # noqa: E731
    assert_window(got, data.scores("sp", q, keep=keep), 4, 5, what="offset")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_rows_sharing_no_term_are_not_returned(loaded):
    _, col, data = loaded
    assert col.search([{999: 1.0}], anns_field="sp", limit=10) == [[]]
    q = {0: 1.0, 999: 5.0}
    got = col.search([q], anns_field="sp", limit=300)[0]
    want = data.scores("sp", q)
    assert {h.id for h in got} == set(want)
    assert all(0 in data.rows[h.id]["sp"] for h in got)
    # a radius below every score still returns only rows that share a term
    got = col.search([q], anns_field="sp", limit=300, search_params={"radius": -1.0})[0]
    assert {h.id for h in got} == set(want)
    assert col.search([{}], anns_field="sp", limit=5) == [[]]


@pytest.mark.parametrize(
    "ratio", [0.0, *(pytest.param(r, marks=DROP_RATIO) for r in (0.2, 0.5, 0.75, 0.99))]
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_drop_ratio_search_matches_reference(loaded, ratio):
    _, col, data = loaded
    rng = np.random.default_rng(5)
    for _ in range(5):
        dims = rng.choice(40, size=int(rng.integers(1, 10)), replace=False)
        # distinct magnitudes: which weights are "smallest" is well defined
        weights = rng.permutation(np.arange(1, len(dims) + 1)) * 0.37
        q = {int(d): float(w) for d, w in zip(dims, weights, strict=True)}
        got = col.search(
            [q], anns_field="sp", limit=20, search_params={"drop_ratio_search": ratio}
        )[0]
        assert_window(got, data.scores("sp", drop_small(q, ratio)), 0, 20, what=f"{ratio} {q}")


@DROP_RATIO
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_drop_ratio_search_nested_params_form(loaded):
    _, col, data = loaded
    q = {1: 0.1, 2: 5.0, 3: 0.2, 4: 4.0}
    got = col.search(
        [q], anns_field="sp", limit=30, search_params={"params": {"drop_ratio_search": 0.5}}
    )[0]
    assert_window(got, data.scores("sp", {2: 5.0, 4: 4.0}), 0, 30, what="nested")


@PARTITION_GHOST
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_through_writes_flush_compact_reopen(stores):
    db = stores.connect(segment_rows=16)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    col.create_partition("p")
    data = Data(seed=3, n=120)
    data.insert_into(col, ("_default", "p"))
    queries = [data.query_for("sp") for _ in range(4)]

    def check(what: str) -> None:
        hits = col.search(queries, anns_field="sp", limit=15)
        for q, got in zip(queries, hits, strict=True):
            assert_window(got, data.scores("sp", q), 0, 15, what=what)

    check("inserted")
    col.delete(ids=list(range(0, 120, 3)))
    for k in range(0, 120, 3):
        del data.rows[k]
    check("deleted")
    col.flush()
    fresh = [data.make_row(k) for k in range(100, 140)]
    col.upsert(fresh, partition="p")
    for r in fresh:
        data.rows[r["id"]] = r
        data.partition[r["id"]] = "p"
    check("upserted")
    col.compact()
    check("compacted")
    col.drop_partition("p")
    for k in [k for k in data.rows if data.partition.get(k) == "p"]:
        del data.rows[k]
    check("partition dropped")
    db = stores.reopen(db)
    col = db.get_collection("c")
    check("reopened")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_sparse_output_field_round_trips(loaded):
    _, col, data = loaded
    q = data.query_for("sp")
    got = col.search([q], anns_field="sp", limit=3, output_fields=["sp", "cat"])[0]
    for h in got:
        want = {d: float(np.float32(w)) for d, w in data.rows[h.id]["sp"].items()}
        assert h.entity["sp"] == want
        assert h.entity["cat"] == data.rows[h.id]["cat"]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_rows_insert_and_query(stores):
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    m = sparse.csr_matrix(np.array([[0, 1.0, 0, 2.0], [3.0, 0, 0, 0], [0, 0, 4.0, 1.0]]))
    col.insert([{"id": i, "sp": m.getrow(i)} for i in range(3)])
    col.insert([{"id": 3, "sp": sparse.csr_array(np.array([[0, 0, 0, 5.0]]))}])
    got = col.get([0, 3], output_fields=["sp"])
    assert [g["sp"] for g in got] == [{1: 1.0, 3: 2.0}, {3: 5.0}]
    q = sparse.csr_matrix(np.array([[0, 0, 1.0, 1.0]]))
    hits = col.search(q, anns_field="sp", limit=10)[0]
    assert [(h.id, h.distance) for h in hits] == [(3, 5.0), (2, 5.0), (0, 2.0)] or [
        (h.id, h.distance) for h in hits
    ] == [(2, 5.0), (3, 5.0), (0, 2.0)]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_sparse_array_matrix_as_queries(stores):
    """A 2-D scipy sparse *array* (csr_array, scipy's current API) holds one
    query per row, like a csr_matrix."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    col.insert([{"id": 0, "sp": {0: 1.0}}, {"id": 1, "sp": {1: 2.0}}])
    queries = sparse.csr_array(np.array([[1.0, 0], [0, 1.0]]))
    hits = col.search(queries, anns_field="sp", limit=5)
    assert [[(h.id, h.distance) for h in q] for q in hits] == [[(0, 1.0)], [(1, 2.0)]]


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_coo_row_with_duplicate_entries_sums_them(stores):
    """scipy semantics: duplicate (row, col) entries of a COO matrix add up."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    row = sparse.coo_matrix(([1.0, 2.0], ([0, 0], [5, 5])), shape=(1, 10))
    assert row.toarray()[0, 5] == 3.0
    col.insert([{"id": 0, "sp": row}])
    assert col.get(0, output_fields=["sp"])[0]["sp"] == {5: 3.0}


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_scipy_multi_row_matrix_is_not_one_sparse_row(stores):
    """A 2-row matrix given as one row's vector is bad input, not a merged row."""
    sparse = pytest.importorskip("scipy.sparse")
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    two = sparse.csr_matrix(np.array([[1.0, 0], [0, 2.0]]))
    with pytest.raises(vs.DataError):
        col.insert([{"id": 0, "sp": two}])
    assert col.count() == 0


# =====================================================================
# 2. BM25 through the collection (the property file covers write sequences)
# =====================================================================


@BM25_STATS
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_bm25_search_matches_reference(loaded):
    _, col, data = loaded
    for _ in range(5):
        q = data.query_for("bm")
        got = col.search([q], anns_field="bm", limit=12)[0]
        assert_window(got, data.scores("bm", q), 0, 12, what=q)
        got = col.search([q], anns_field="bm", limit=5, partitions=["p"], filter="doc < 12")[0]
        keep = lambda r: r["doc"] < 12  # noqa: E731
        assert_window(got, data.scores("bm", q, keep, {"p"}), 0, 5, what=f"{q} filtered")


@ANALYZERS
@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_bm25_with_english_analyzer_dict_config(stores):
    """Milvus analyzer_params as a dict; survives a reopen (kept in the manifest)."""
    db = stores.connect(segment_rows=3)
    params = {
        "tokenizer": "standard",
        "filter": [
            "lowercase",
            {"type": "stop", "stop_words": ["_english_"]},
            {"type": "stemmer", "language": "english"},
        ],
    }
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer=params),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "bm", k1=1.5, b=0.5)],
    )
    col = db.create_collection("c", schema=schema)
    texts = {
        1: "Running runners run",
        2: "The runs of the river",
        3: "Connections connect connected things",
        4: "A is for apple",
        5: "the the the",
    }
    col.insert([{"id": k, "text": t} for k, t in texts.items()])
    for _ in range(2):
        for q in ("running", "connecting rivers", "the apple"):
            got = col.search([q], anns_field="bm", limit=10)[0]
            want = bm25_scores(texts, q, 1.5, 0.5, tokens=english_tokens)
            assert_window(got, want, 0, 10, what=q)
        db = stores.reopen(db)
        col = db.get_collection("c")


@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_bm25_custom_stop_words_option(stores):
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer={"type": "standard", "stop_words": ["foo"]}),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    texts = {1: "Foo bar", 2: "bar baz FOO foo", 3: "baz"}
    col.insert([{"id": k, "text": t} for k, t in texts.items()])

    def toks(t):
        return [w for w in standard_tokens(t) if w != "foo"]

    assert col.search(["foo"], anns_field="bm", limit=5) == [[]]
    got = col.search(["bar baz"], anns_field="bm", limit=5)[0]
    assert_window(got, bm25_scores(texts, "bar baz", tokens=toks), 0, 5)


# =====================================================================
# 3. fusion
# =====================================================================


@pytest.fixture
def tiny(stores):
    """Four rows whose route results are worked out by hand."""
    db = stores.connect(segment_rows=2)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("tag", DT.VARCHAR),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=2),
            vs.Field("dl2", DT.FLOAT_VECTOR, dim=2),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        ]
    )
    col = db.create_collection(
        "t",
        schema=schema,
        indexes=[vs.Index("dense", "FLAT", "COSINE"), vs.Index("dl2", "FLAT", "L2")],
    )
    col.create_partition("q")
    col.insert(
        [
            {"id": 1, "tag": "a", "dense": [1, 0], "dl2": [0, 0], "sp": {1: 1.0}},
            {"id": 2, "tag": "b", "dense": [0.6, 0.8], "dl2": [1, 0], "sp": {1: 0.5, 2: 1.0}},
        ]
    )
    col.insert(
        [
            {"id": 3, "tag": "a", "dense": [0, 1], "dl2": [2, 0], "sp": {2: 2.0}},
            {"id": 4, "tag": "b", "dense": [-1, 0], "dl2": [3, 0], "sp": {3: 1.0}},
        ],
        partition="q",
    )
    return db, col


def _pairs(hits: list[vs.Hit]) -> list[tuple[Any, float]]:
    return [(h.id, h.distance) for h in hits]


@FLOAT32_SCORES
@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_rrf_hand_computed(tiny):
    _, col = tiny
    # dense [1,0], COSINE, limit 3: 1 (1.0), 2 (0.6), 3 (0.0)
    # sparse {2: 1}: 3 (2.0), 2 (1.0); rows 1 and 4 share no term
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=3),
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=3),
    ]
    got = col.hybrid_search(reqs, ranker=vs.RRFRanker(k=60), limit=10)[0]
    want = [(3, 1 / 63 + 1 / 61), (2, 2 / 62), (1, 1 / 61)]
    assert [h.id for h in got] == [3, 2, 1]
    assert [h.distance for h in got] == pytest.approx([s for _, s in want], rel=1e-12)
    # other k; a window
    got = col.hybrid_search(reqs, ranker=vs.RRFRanker(k=1), limit=2, offset=1)[0]
    # k=1: 1: 1/2, 2: 1/3 + 1/3, 3: 1/4 + 1/2  -> 3 (.75), 2 (.667), 1 (.5)
    assert _pairs(got) == [(2, pytest.approx(2 / 3)), (1, pytest.approx(0.5))]


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_hand_computed_cosine_ip(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=3),
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=3),
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.7, 0.3), limit=10)[0]
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    want = {1: 0.7 * 1.0, 2: 0.7 * 0.8 + 0.3 * ip(1.0), 3: 0.7 * 0.5 + 0.3 * ip(2.0)}
    assert [h.id for h in got] == [2, 1, 3]
    for h in got:
        assert h.distance == pytest.approx(want[h.id], rel=1e-6)
    raw = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.7, 0.3, norm_score=False), limit=10)
    want_raw = {1: 0.7, 2: 0.7 * 0.6 + 0.3 * 1.0, 3: 0.7 * 0.0 + 0.3 * 2.0}
    assert [h.id for h in raw[0]] == [2, 1, 3]
    for h in raw[0]:
        assert h.distance == pytest.approx(want_raw[h.id], rel=1e-6, abs=1e-7)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_hand_computed_l2(tiny):
    _, col = tiny
    # dl2 query [0,0]: squared L2 distances 1: 0, 2: 1, 3: 4, 4: 9
    reqs = [
        vs.AnnRequest(data=[[0.0, 0.0]], anns_field="dl2", limit=4),
        vs.AnnRequest(data=[{3: 1.0, 1: 0.25}], anns_field="sp", limit=4),
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(1.0, 0.5), limit=10)[0]
    l2 = lambda d: 1 - 2 * math.atan(d) / math.pi  # noqa: E731
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    want = {
        1: l2(0) + 0.5 * ip(0.25),
        2: l2(1) + 0.5 * ip(0.125),
        3: l2(4),
        4: l2(9) + 0.5 * ip(1.0),
    }
    assert_window(got, want, 0, 10, rtol=1e-6)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_weighted_zero_weight_and_missing_rows(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=1),  # only row 1
        vs.AnnRequest(data=[{2: 1.0}], anns_field="sp", limit=5),  # rows 3, 2
    ]
    got = col.hybrid_search(reqs, ranker=vs.WeightedRanker(0.0, 1.0), limit=10)[0]
    ip = lambda s: 0.5 + math.atan(s) / math.pi  # noqa: E731
    assert _pairs(got) == [
        (3, pytest.approx(ip(2.0))),
        (2, pytest.approx(ip(1.0))),
        (1, pytest.approx(0.0, abs=1e-12)),
    ]


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_filters_per_request_partitions_output_fields(tiny):
    _, col = tiny
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=4, filter='tag == "b"'),
        vs.AnnRequest(
            data=[{1: 1.0, 2: 1.0, 3: 1.0}],
            anns_field="sp",
            limit=4,
            filter="id >= {lo}",
            filter_params={"lo": 3},
        ),
    ]
    # dense (tag b): 2 (0.6), 4 (-1.0); sparse (id >= 3): 3 (2.0), 4 (1.0)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, output_fields=["tag", "sp"])[0]
    want = ref_rrf([[2, 4], [3, 4]], 10)
    assert_window(got, want, 0, 10, rtol=1e-12)
    assert {h.id: h.entity for h in got} == {
        2: {"tag": "b", "sp": {1: 0.5, 2: 1.0}},
        3: {"tag": "a", "sp": {2: 2.0}},
        4: {"tag": "b", "sp": {3: 1.0}},
    }
    assert got[0]["tag"] == got[0].entity["tag"]
    # partitions: only "q" (rows 3 and 4)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, partitions=["q"])[0]
    assert_window(got, ref_rrf([[4], [3, 4]], 10), 0, 10, rtol=1e-12)
    got = col.hybrid_search(reqs, vs.RRFRanker(10), limit=10, partitions=["_default"])[0]
    assert_window(got, ref_rrf([[2], []], 10), 0, 10, rtol=1e-12)


@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_on_empty_partition_and_no_matches(tiny):
    _, col = tiny
    col.create_partition("empty")
    reqs = [
        vs.AnnRequest(data=[[1.0, 0.0]], anns_field="dense", limit=4),
        vs.AnnRequest(data=[{77: 1.0}], anns_field="sp", limit=4),
    ]
    assert col.hybrid_search(reqs, vs.RRFRanker(), limit=3, partitions=["empty"]) == [[]]
    got = col.hybrid_search(reqs, vs.WeightedRanker(0.5, 0.5), limit=10)[0]
    want = ref_weighted(
        [[(1, 1.0), (2, 0.6), (3, 0.0), (4, -1.0)], []], ["COSINE", "IP"], [0.5, 0.5]
    )
    assert_window(got, want, 0, 10, rtol=1e-6, atol=1e-6)


@NOT_NULL
@BM25_STATS
@pytest.mark.parametrize(
    "fields",
    [("dense", "bm"), ("dl2", "sp"), ("dip", "bm", "sp"), ("dense", "dl2", "dip", "sp", "bm")],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_hybrid_matches_reference_fusion_on_random_data(loaded, fields):
    """Each route brute-forced; RRF and weighted fused by the reference; several
    queries, windows, per-request filters and partitions."""
    _, col, data = loaded
    q = 3
    filters = {
        "dense": "doc < 20",
        "dl2": "",
        "dip": 'cat != "x"',
        "sp": 'not text_match(text, "alpha")',
        "bm": "flag == true",
    }
    keeps = {
        "dense": lambda r: r["doc"] < 20,
        "dl2": None,
        "dip": lambda r: r["cat"] != "x",
        "sp": lambda r: ref_text_match(r["text"], "alpha", standard_tokens) is False,
        "bm": lambda r: r["flag"],
    }
    limits = {"dense": 15, "dl2": 8, "dip": 20, "sp": 10, "bm": 12}
    queries = {f: [data.query_for(f) for _ in range(q)] for f in fields}
    reqs = [
        vs.AnnRequest(data=queries[f], anns_field=f, limit=limits[f], filter=filters[f])
        for f in fields
    ]
    weights = [round(0.9 - 0.2 * i, 2) for i in range(len(fields))]
    for partitions in (None, ["p"]):
        parts = None if partitions is None else set(partitions)
        # each route on its own, against brute force
        routes: list[list[list[tuple[int, float]]]] = []
        for f in fields:
            got = col.search(
                queries[f],
                anns_field=f,
                limit=limits[f],
                filter=filters[f],
                partitions=partitions,
            )
            per_query = []
            for qi in range(q):
                want = data.scores(f, queries[f][qi], keeps[f], parts)
                assert_window(got[qi], want, 0, limits[f], larger_first(f), **tol(f), what=f)
                per_query.append(_pairs(got[qi]))
            routes.append(per_query)
        for offset, limit in ((0, 10), (3, 4), (0, 100)):
            rrf = col.hybrid_search(
                reqs, vs.RRFRanker(k=20), limit=limit, offset=offset, partitions=partitions
            )
            wtd = col.hybrid_search(
                reqs,
                vs.WeightedRanker(*weights),
                limit=limit,
                offset=offset,
                partitions=partitions,
            )
            for qi in range(q):
                lists = [r[qi] for r in routes]
                want = ref_rrf([[k for k, _ in lst] for lst in lists], 20)
                assert_window(rrf[qi], want, offset, limit, rtol=1e-9, what="rrf")
                want = ref_weighted(lists, [METRIC_OF[f] for f in fields], weights)
                assert_window(wtd[qi], want, offset, limit, rtol=1e-5, atol=1e-5, what="wtd")


# =====================================================================
# 4. range search and group-by vs brute force
# =====================================================================


def range_scores(scores: dict[int, float], metric: str, radius: float, rf: float | None):
    if metric == "L2":
        return {k: d for k, d in scores.items() if d < radius and (rf is None or d >= rf)}
    return {k: d for k, d in scores.items() if d > radius and (rf is None or d <= rf)}


def range_bounds(scores: dict[int, float], metric: str, skip: int, span: int):
    """A (radius, range_filter) pair that excludes about the best ``skip`` rows and
    lets about ``span`` through; both bounds lie halfway between two distinct
    distances, so no row sits on a bound (BM25 scores tie often)."""
    values = sorted(set(scores.values()), reverse=metric != "L2")
    inner = (values[skip - 1] + values[skip]) / 2 if skip else None
    outer = (values[skip + span - 1] + values[skip + span]) / 2
    return outer, inner


def range_query(data: Data, field: str) -> Any:
    """A query whose scores have enough distinct values for every ``skip``: on BM25 a
    1-3 word query ties most rows (a handful of distinct scores), so it asks for six
    to ten of the ten words."""
    if field == "bm":
        words = data.rng.permutation(VOCAB)[: int(data.rng.integers(6, 11))]
        return " ".join(words.tolist())
    return data.query_for(field)


NOT_MULTIPLE_OF_3 = f"doc not in {list(range(0, 25, 3))}"  # doc % 3 != 0 (doc < 25)


# Milvus Lite passes on the dense and sparse fields and finds nothing (or too much)
# on BM25, with and without range_filter
@pytest.mark.parametrize("field", ["dense", "dl2", "dip", "sp", pytest.param("bm", marks=RANGE)])
@pytest.mark.parametrize("skip", [0, 1, 40])
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_range_search_matches_brute_force(loaded, field, skip):
    _, col, data = loaded
    metric = METRIC_OF[field]
    checked = 0
    for attempt in range(3):
        q = range_query(data, field)
        scores = data.scores(field, q)
        distinct = len(set(scores.values()))
        assert distinct >= skip + 30, f"{field} attempt {attempt}: {distinct} distinct scores"
        radius, rf = range_bounds(scores, metric, skip, 25)
        params = {"radius": radius}
        if rf is not None:
            params["range_filter"] = rf
        want = range_scores(scores, metric, radius, rf)
        assert len(want) >= 20, f"{field} {params}: {len(want)} rows in range"
        for offset, limit in ((0, 10), (5, 10), (0, 100)):
            got = col.search(
                [q], anns_field=field, limit=limit, offset=offset, search_params=params
            )[0]
            assert_window(
                got,
                want,
                offset,
                limit,
                larger_first(field),
                **tol(field),
                what=f"{field} {params} {offset}/{limit}",
            )
        # with a filter and a partition too
        keep = lambda r: r["doc"] % 3 != 0  # noqa: E731
        got = col.search(
            [q],
            anns_field=field,
            limit=10,
            search_params=params,
            filter=NOT_MULTIPLE_OF_3,
            partitions=["p"],
        )[0]
        want = range_scores(data.scores(field, q, keep, {"p"}), metric, radius, rf)
        assert want, f"{field} {params}: nothing in range after the filter"
        assert_window(got, want, 0, 10, larger_first(field), **tol(field), what="filtered")
        checked += 1
    assert checked == 3


@EMPTY_SPARSE
@pytest.mark.needs_milvus("2.4", "several vector fields and sparse vectors")
def test_range_bounds_are_exact(stores):
    """L2: range_filter <= d < radius; IP/COSINE: radius < d <= range_filter."""
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("l2", DT.FLOAT_VECTOR, dim=2),
            vs.Field("ip", DT.FLOAT_VECTOR, dim=2),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        ]
    )
    col = db.create_collection(
        "c", schema=schema, indexes=[vs.Index("l2", "FLAT", "L2"), vs.Index("ip", "FLAT", "IP")]
    )
    # squared L2 from the origin: 0 1 2 4 5 8 9 10; IP with [1, 0] and sparse IP = i
    grid = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1)]
    col.insert([{"id": i, "l2": grid[i], "ip": [i, 0], "sp": {0: float(i)}} for i in range(8)])
    got = col.search(
        [[0, 0]], anns_field="l2", limit=10, search_params={"radius": 5.0, "range_filter": 2.0}
    )[0]
    assert [(h.id, h.distance) for h in got] == [(2, 2.0), (3, 4.0)]
    got = col.search(
        [[1, 0]], anns_field="ip", limit=10, search_params={"radius": 2.0, "range_filter": 5.0}
    )[0]
    assert [h.id for h in got] == [5, 4, 3]
    got = col.search(
        [{0: 1.0}], anns_field="sp", limit=10, search_params={"radius": 2.0, "range_filter": 5.0}
    )[0]
    assert [h.id for h in got] == [5, 4, 3]
    got = col.search([[1, 0]], anns_field="ip", limit=2, search_params={"radius": 5.0})[0]
    assert [h.id for h in got] == [7, 6]


@RANGE
def test_range_search_hnsw_large(stores):
    """HNSW (more rows than the exact-search limit): every hit is in range with
    its true distance, best first, and recall against brute force is high,
    also when range_filter excludes the 300 best rows."""
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=DIM)]
    )
    rng = np.random.default_rng(21)
    x = rng.normal(size=(3000, DIM)).astype(np.float32)
    for metric in ("L2", "COSINE", "IP"):
        name = f"c{metric}"
        col = db.create_collection(name, schema=schema, indexes=[vs.Index("v", "HNSW", metric)])
        col.insert([{"id": i, "v": x[i]} for i in range(len(x))])
        for _ in range(3):
            q = rng.normal(size=DIM).astype(np.float32)
            scores = dict(enumerate(dense_distances(metric, q, x).tolist()))
            radius, rf = range_bounds(scores, metric, 300, 200)
            want = range_scores(scores, metric, radius, rf)
            got = col.search(
                [q],
                anns_field="v",
                limit=50,
                search_params={"radius": radius, "range_filter": rf, "ef": 256},
            )[0]
            assert len(got) == 50
            for h in got:
                assert h.id in want, f"{metric}: {h.id} ({h.distance}) out of range"
                assert h.distance == pytest.approx(want[h.id], rel=1e-4, abs=1e-4)
            dist = [h.distance for h in got]
            assert dist == sorted(dist, reverse=metric != "L2")
            best = {k for k, _ in ranked(want, metric != "L2")[:50]}
            recall = len(best & {h.id for h in got}) / 50
            assert recall >= 0.9, f"{metric}: recall {recall}"


def assert_groups(
    hits: list[vs.Hit],
    scores: dict[int, float],
    key_of: Callable[[int], Any],
    limit: int,
    size: int,
    offset: int,
    field: str,
    what: str = "",
) -> None:
    """Hits are ``limit`` groups (after skipping ``offset``), consecutive, ordered
    by their best hit, each holding its group's best ``size`` rows. Compared by
    score, so tied rows or tied groups may come in any order."""
    t = tol(field) or {"rtol": 1e-5, "atol": 1e-6}

    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=t["rtol"], abs_tol=t["atol"])

    larger = larger_first(field)
    members: dict[Any, list[float]] = {}
    for k, d in ranked(scores, larger):
        members.setdefault(key_of(k), []).append(d)
    best = sorted((v[0] for v in members.values()), reverse=larger)[offset : offset + limit]
    got: list[tuple[Any, list[vs.Hit]]] = []
    for h in hits:
        assert h.id in scores, f"{what}: {h.id} is not a candidate"
        assert close(h.distance, scores[h.id]), f"{what}: {h.id}: {h.distance} != {scores[h.id]}"
        g = key_of(h.id)
        if got and got[-1][0] == g:
            got[-1][1].append(h)
        else:
            assert g not in [x[0] for x in got], f"{what}: group {g!r} split: {_pairs(hits)}"
            got.append((g, [h]))
    shown = [(g, _pairs(hs)) for g, hs in got]
    assert len(got) == len(best), f"{what}: {len(got)} groups, expected {len(best)}: {shown}"
    for (g, hs), b in zip(got, best, strict=True):
        dist = [h.distance for h in hs]
        want = members[g][:size]
        assert len(dist) == len(want), f"{what}: group {g!r} has {dist}, expected {want}"
        assert all(close(x, y) for x, y in zip(dist, want, strict=True)), (
            f"{what}: group {g!r} has {dist}, its best are {want}"
        )
        assert close(dist[0], b), f"{what}: groups out of order: {shown}; bests {best}"


@pytest.mark.parametrize(
    "field", ["dense", "dl2", "dip", "sp", pytest.param("bm", marks=BM25_STATS)]
)
@pytest.mark.parametrize(
    ("group_field", "limit", "size", "offset"),
    [
        pytest.param("doc", 5, 2, 0, marks=GROUP_BY),  # 25 groups: some fall short on Milvus
        pytest.param("doc", 4, 3, 2, marks=GROUP_BY),
        ("cat", 3, 4, 0),
        ("flag", 3, 2, 0),
        ("cat", 2, 1, 1),
    ],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_matches_brute_force(loaded, field, group_field, limit, size, offset):
    _, col, data = loaded
    key_of = lambda k: data.rows[k][group_field]  # noqa: E731
    for _ in range(3):
        q = data.query_for(field)
        got = col.search(
            [q],
            anns_field=field,
            limit=limit,
            offset=offset,
            group_by_field=group_field,
            group_size=size,
        )[0]
        scores = data.scores(field, q)
        assert_groups(got, scores, key_of, limit, size, offset, field, f"{field} {group_field}")
        # with a filter and a partition
        keep = lambda r: r["price"] > -0.5  # noqa: E731
        got = col.search(
            [q],
            anns_field=field,
            limit=limit,
            offset=offset,
            group_by_field=group_field,
            group_size=size,
            filter="price > -0.5",
            partitions=["_default"],
        )[0]
        scores = data.scores(field, q, keep, {"_default"})
        assert_groups(got, scores, key_of, limit, size, offset, field, "filtered")


@GROUP_BY
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_with_range(loaded):
    _, col, data = loaded
    key_of = lambda k: data.rows[k]["doc"]  # noqa: E731
    q = data.query_for("dl2")
    scores = data.scores("dl2", q)
    radius, rf = range_bounds(scores, "L2", 20, 60)
    got = col.search(
        [q],
        anns_field="dl2",
        limit=4,
        group_by_field="doc",
        group_size=2,
        search_params={"radius": radius, "range_filter": rf},
    )[0]
    want = range_scores(scores, "L2", radius, rf)
    assert_groups(got, want, key_of, 4, 2, 0, "dl2", "group + range")


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_nullable_field_and_output_fields(loaded):
    """Rows whose group value is null form one group (and are returned)."""
    _, col, data = loaded
    key_of = lambda k: data.rows[k]["n"]  # noqa: E731
    q = data.query_for("dense")
    got = col.search(
        [q],
        anns_field="dense",
        limit=11,
        group_by_field="n",
        group_size=2,
        output_fields=["n", "doc"],
    )[0]
    assert_groups(got, data.scores("dense", q), key_of, 11, 2, 0, "dense", "nullable group")
    assert any(h.entity["n"] is None for h in got)
    for h in got:
        assert h.entity == {"n": data.rows[h.id]["n"], "doc": data.rows[h.id]["doc"]}


@pytest.mark.needs_milvus("2.5", "group_size")
def test_group_by_hnsw_large(stores):
    db = stores.connect()
    rng = np.random.default_rng(4)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("doc", DT.INT64),
            vs.Field("v", DT.FLOAT_VECTOR, dim=DIM),
        ]
    )
    col = db.create_collection("g", schema=schema, indexes=[vs.Index("v", "HNSW", "COSINE")])
    x = rng.normal(size=(3000, DIM)).astype(np.float32)
    docs = rng.integers(0, 400, size=3000)
    col.insert([{"id": i, "doc": int(docs[i]), "v": x[i]} for i in range(3000)])
    for _ in range(3):
        q = rng.normal(size=DIM).astype(np.float32)
        scores = dict(enumerate(dense_distances("COSINE", q, x).tolist()))
        got = col.search(
            [q],
            anns_field="v",
            limit=10,
            group_by_field="doc",
            group_size=3,
            search_params={"ef": 512},
        )[0]
        best: dict[int, float] = {}
        for k, d in ranked(scores):
            best.setdefault(int(docs[k]), d)
        want_keys = [g for g, _ in ranked(best)[:10]]
        got_keys = list(dict.fromkeys(int(docs[h.id]) for h in got))
        assert len(got_keys) == 10
        assert len(set(got_keys) & set(want_keys)) >= 9
        per = Counter(int(docs[h.id]) for h in got)
        assert all(per[g] <= 3 for g in per)
        for h in got:
            assert h.distance == pytest.approx(scores[h.id], abs=1e-4)


# =====================================================================
# 5. text_match vs a plain-Python reference
# =====================================================================


def ref_text_match(text: str | None, words: str, tokens) -> bool | None:
    if text is None:
        return None  # unknown: neither text_match nor not text_match
    return bool(set(tokens(text)) & set(tokens(words)))


@NOT_NULL
@pytest.mark.parametrize("field", ["text", "title"])  # BM25 input, plain VARCHAR
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_standard_matches_reference(loaded, field):
    _, col, data = loaded
    for words in ("alpha", "beta gamma", "ALPHA, Kappa!", "nothing", "", "eta eta iota"):
        want = {k for k, r in data.rows.items() if ref_text_match(r[field], words, standard_tokens)}
        got = col.query(f"text_match({field}, {words!r})".replace("'", '"'), output_fields=["id"])
        assert {r["id"] for r in got} == want, words
        neg = {
            k
            for k, r in data.rows.items()
            if ref_text_match(r[field], words, standard_tokens) is False
        }
        got = col.query(f'not text_match({field}, "{words}")', output_fields=["id"])
        assert {r["id"] for r in got} == neg, f"not {words}"
        # combined with other filters, and as a search filter
        expr = f'text_match({field}, "{words}") and doc > 10 or cat == "w" and flag'
        want2 = {
            k
            for k, r in data.rows.items()
            if (ref_text_match(r[field], words, standard_tokens) and r["doc"] > 10)
            or (r["cat"] == "w" and r["flag"])
        }
        assert {r["id"] for r in col.query(expr, output_fields=["id"])} == want2, expr
        assert col.count(filter=expr) == len(want2)
        hits = col.search([[1.0] * DIM], anns_field="dense", limit=300, filter=expr)[0]
        assert {h.id for h in hits} == want2


@pytest.mark.needs_milvus("2.5", "text_match on a nullable analyzed field")
def test_text_match_after_writes_flush_and_reopen(stores):
    db = stores.connect(segment_rows=5)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("title", DT.VARCHAR, nullable=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    col = db.create_collection("c", schema=schema, indexes=[vs.Index("v", "FLAT", "L2")])
    rows = {i: f"w{i % 4} common" if i % 7 else None for i in range(23)}
    col.insert([{"id": k, "title": t, "v": [0, 0]} for k, t in rows.items()])

    def check(what):
        for words in ("w1", "w2 w3", "common", "W0"):
            want = {k for k, t in rows.items() if ref_text_match(t, words, standard_tokens)}
            got = {r["id"] for r in col.query(f'text_match(title, "{words}")')}
            assert got == want, f"{what}: {words}"

    check("inserted")
    col.flush()
    more = {i: f"w{i % 4} rare" for i in range(23, 31)}
    col.insert([{"id": k, "title": t, "v": [0, 0]} for k, t in more.items()])
    rows.update(more)
    check("grown after a flush")
    col.upsert([{"id": 1, "title": "w3", "v": [0, 0]}])
    rows[1] = "w3"
    col.delete(ids=[2, 3])
    del rows[2], rows[3]
    check("upsert + delete")
    db = stores.reopen(db)
    col = db.get_collection("c")
    check("reopened")


@ANALYZERS
@pytest.mark.needs_milvus("2.5", "text_match on a nullable analyzed field")
def test_text_match_english_analyzer(stores):
    db = stores.connect(segment_rows=4)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer="english", nullable=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    col = db.create_collection("c", schema=schema, indexes=[vs.Index("v", "FLAT", "L2")])
    texts = {
        1: "The runner is running",
        2: "runs",
        3: "Flowers and flowing rivers",
        4: None,
        5: "the and of",
        6: "Connected connections",
        7: "generously generous generation",
    }
    col.insert([{"id": k, "body": t, "v": [0, 0]} for k, t in texts.items()])
    for words in ("run", "running ran", "flower", "the", "connect", "generations", "River"):
        want = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens)}
        got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
        assert got == want, words
        neg = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens) is False}
        got = {r["id"] for r in col.query(f'not text_match(body, "{words}")')}
        assert got == neg, f"not {words}"
    db = stores.reopen(db)
    col = db.get_collection("c")
    assert {r["id"] for r in col.query('text_match(body, "running")')} == {1, 2}


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_with_filter_params_and_bad_uses(loaded):
    _, col, data = loaded
    want = {k for k, r in data.rows.items() if ref_text_match(r["text"], "zeta", standard_tokens)}
    got = col.query("text_match(text, {w})", filter_params={"w": "zeta"}, output_fields=["id"])
    assert {r["id"] for r in got} == want
    with pytest.raises(vs.FilterTypeError):
        col.query('text_match(doc, "alpha")')
    with pytest.raises(vs.FilterTypeError):
        col.query("text_match(text, 3)")
    with pytest.raises((vs.FilterTypeError, vs.FilterSyntaxError)):
        col.query('text_match(nosuch, "alpha")')


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_does_not_confuse_distinct_words(stores):
    """'plumless' and 'buckeroo' are different words (they share a CRC-32)."""
    db = stores.connect()
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    data = Data(seed=1, n=2)
    rows = list(data.rows.values())
    rows[0]["text"], rows[1]["text"] = "plumless", "buckeroo"
    col.insert(rows)
    assert {r["id"] for r in col.query('text_match(text, "plumless")')} == {rows[0]["id"]}
    hits = col.search(["plumless"], anns_field="bm", limit=10)[0]
    assert [h.id for h in hits] == [rows[0]["id"]]


# =====================================================================
# 6. bad input: our errors, and the store exactly as it was
# =====================================================================


def state(col: vs.Collection) -> Any:
    rows = col.query(output_fields=["*"])
    rows.sort(key=lambda r: r["id"])
    s = col.search(["alpha beta"], anns_field="bm", limit=5)
    d = col.search([[0.5] * DIM], anns_field="dense", limit=5)
    p = col.search([{1: 1.0, 2: 1.0}], anns_field="sp", limit=5)
    return col.count(), rows, _pairs(s[0]), _pairs(d[0]), _pairs(p[0]), col.list_partitions()


def _bad_calls(col: vs.Collection, data: Data):
    row = dict(data.make_row(1000))
    dq = [[0.1] * DIM]
    ok_dense = vs.AnnRequest(data=dq, anns_field="dense", limit=5)
    ok_bm = vs.AnnRequest(data=["alpha"], anns_field="bm", limit=5)
    return {
        "row brings the BM25 output": (vs.DataError, lambda: col.insert([{**row, "bm": {1: 1.0}}])),
        "upsert brings the BM25 output": (
            vs.DataError,
            lambda: col.upsert([{**data.rows[10], "bm": {1: 1.0}}]),
        ),
        "second row of a batch bad": (
            vs.DataError,
            lambda: col.insert([row, {**row, "id": 1001, "sp": {-1: 1.0}}]),
        ),
        "sparse weight NaN": (vs.DataError, lambda: col.insert([{**row, "sp": {1: float("nan")}}])),
        "sparse index too large": (vs.DataError, lambda: col.insert([{**row, "sp": {2**32: 1.0}}])),
        "sparse not a dict": (vs.DataError, lambda: col.insert([{**row, "sp": [1.0, 2.0]}])),
        "vector query on BM25 field": (
            vs.DataError,
            lambda: col.search([{1: 1.0}], anns_field="bm"),
        ),
        "dense query on BM25 field": (
            vs.DataError,
            lambda: col.search([[0.1] * DIM], anns_field="bm"),
        ),
        "text on a plain sparse field": (
            vs.DataError,
            lambda: col.search(["alpha"], anns_field="sp"),
        ),
        "text mixed with vectors": (
            vs.DataError,
            lambda: col.search(["alpha", {1: 1.0}], anns_field="bm"),
        ),
        "drop_ratio 1": (
            vs.IndexConfigError,
            lambda: col.search(
                [{1: 1.0}], anns_field="sp", search_params={"drop_ratio_search": 1.0}
            ),
        ),
        "drop_ratio negative": (
            vs.IndexConfigError,
            lambda: col.search(
                ["alpha"], anns_field="bm", search_params={"drop_ratio_search": -0.1}
            ),
        ),
        "drop_ratio on dense": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"drop_ratio_search": 0.1}),
        ),
        "ef on sparse": (
            vs.IndexConfigError,
            lambda: col.search([{1: 1.0}], anns_field="sp", search_params={"ef": 10}),
        ),
        "range_filter without radius": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"range_filter": 0.5}),
        ),
        "range_filter on the wrong side (L2)": (
            vs.IndexConfigError,
            lambda: col.search(
                dq, anns_field="dl2", search_params={"radius": 1.0, "range_filter": 2.0}
            ),
        ),
        "range_filter on the wrong side (BM25)": (
            vs.IndexConfigError,
            lambda: col.search(
                ["alpha"], anns_field="bm", search_params={"radius": 2.0, "range_filter": 1.0}
            ),
        ),
        "radius not a number": (
            vs.IndexConfigError,
            lambda: col.search(dq, anns_field="dense", search_params={"radius": "0.5"}),
        ),
        "metric_type mismatch": (
            vs.IndexConfigError,
            lambda: col.search(["alpha"], anns_field="bm", search_params={"metric_type": "IP"}),
        ),
        "group_size without group_by_field": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_size=2),
        ),
        "group_size 0": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="doc", group_size=0),
        ),
        "group by DOUBLE": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="price"),
        ),
        "group by JSON": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="meta"),
        ),
        "group by a vector": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="dl2"),
        ),
        "group by unknown field": (
            vs.DataError,
            lambda: col.search(dq, anns_field="dense", group_by_field="nope"),
        ),
        "weighted: too few weights": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense, ok_bm], vs.WeightedRanker(0.5)),
        ),
        "weighted: too many weights": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense, ok_bm], vs.WeightedRanker(0.5, 0.2, 0.3)),
        ),
        "requests with different query counts": (
            vs.DataError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=["a", "b"], anns_field="bm", limit=5)], vs.RRFRanker()
            ),
        ),
        "no requests": (vs.DataError, lambda: col.hybrid_search([], vs.RRFRanker())),
        "ranker not a ranker": (vs.DataError, lambda: col.hybrid_search([ok_dense], "rrf")),
        "bad request in a hybrid": (
            vs.DataError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=[{1: 1.0}], anns_field="bm")], vs.RRFRanker()
            ),
        ),
        "bad filter in a hybrid": (
            vs.FilterTypeError,
            lambda: col.hybrid_search(
                [ok_dense, vs.AnnRequest(data=["a"], anns_field="bm", filter='doc == "x"')],
                vs.RRFRanker(),
            ),
        ),
        "hybrid limit 0": (
            vs.DataError,
            lambda: col.hybrid_search([ok_dense], vs.RRFRanker(), limit=0),
        ),
        "text_match on an integer": (
            vs.FilterTypeError,
            lambda: col.delete(filter='text_match(doc, "alpha")'),
        ),
    }


@pytest.fixture
def guarded(stores):
    db = stores.connect(segment_rows=20)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    col.create_partition("p")
    data = Data(seed=9, n=60)
    data.insert_into(col, ("_default", "p"))
    col.flush()
    col.delete(ids=[0, 1, 2])
    for k in (0, 1, 2):
        del data.rows[k]
    return db, col, data


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_bad_input_raises_and_changes_nothing(guarded, stores):
    db, col, data = guarded
    before = state(col)
    failures = []
    for name, (error, call) in _bad_calls(col, data).items():
        try:
            call()
        except error:
            pass
        except Exception as exc:  # reported below, by case
            failures.append(f"{name}: raised {type(exc).__name__}: {exc}")
            continue
        else:
            failures.append(f"{name}: no error")
            continue
        if state(col) != before:
            failures.append(f"{name}: the store changed")
    assert not failures, "\n".join(failures)
    db = stores.reopen(db)
    assert state(db.get_collection("c")) == before


def test_bad_sparse_indexes_create_nothing(stores):
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("t", DT.VARCHAR),
            vs.Field("s", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("t", "bm")],
    )
    for index in (
        vs.Index("s", "SPARSE_INVERTED_INDEX", "L2"),
        vs.Index("s", "SPARSE_INVERTED_INDEX", "BM25"),
        vs.Index("bm", "SPARSE_INVERTED_INDEX", "IP"),
        vs.Index("s", "HNSW", "IP"),
    ):
        with pytest.raises(vs.IndexConfigError):
            db.create_collection("c", schema=schema, indexes=[index])
        assert db.list_collections() == []


# =====================================================================
# 7. more corners
# =====================================================================


@pytest.mark.needs_milvus("2.4", "sparse vectors")
def test_sparse_weight_beyond_float32_is_rejected(stores):
    """Sparse weights are stored as float32: 1e39 would become inf (and scores
    inf or NaN), so it is bad input, as it is for FLOAT and dense vectors."""
    db = stores.connect()
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("sp", DT.SPARSE_FLOAT_VECTOR)]
    )
    col = db.create_collection("c", schema=schema)
    col.insert([{"id": 0, "sp": {1: 1.0}}])
    with pytest.raises(vs.DataError):
        col.insert([{"id": 1, "sp": {1: 1e39}}])
    assert col.count() == 1
    hits = col.search([{1: 1.0}], anns_field="sp", limit=5)[0]
    assert _pairs(hits) == [(0, 1.0)]


@ANALYZERS
@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_english_analyzer_follows_milvus_filter_order(stores):
    """Milvus's "english" stems before it drops stop words: "its" -> "it",
    "theirs" -> "their", "willing" -> "will", "being" -> "be" are then stop
    words and match nothing; a schema moved to Milvus must behave the same."""
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer="english"),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("body", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    texts = {1: "its tail", 2: "theirs is willing", 3: "being here", 4: "it will be"}
    col.insert([{"id": k, "body": t} for k, t in texts.items()])
    for words in ("its", "willing", "being", "theirs", "tail"):
        want = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens)}
        got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
        assert got == want, words
    got = col.search(["its tail being"], anns_field="bm", limit=10)[0]
    assert_window(got, bm25_scores(texts, "its tail being", tokens=english_tokens), 0, 10)


def _fold(token: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


@ANALYZERS
@pytest.mark.parametrize(
    ("analyzer", "tokens"),
    [
        ("whitespace", lambda t: t.split() if t else []),
        (
            {"tokenizer": "whitespace", "filter": ["lowercase"]},
            lambda t: t.lower().split() if t else [],
        ),
        (
            {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
            lambda t: [_fold(w) for w in standard_tokens(t)],
        ),
        (
            {"tokenizer": "standard", "filter": ["lowercase", {"type": "length", "max": 4}]},
            lambda t: [w for w in standard_tokens(t) if len(w) <= 4],
        ),
        (
            {"type": "english", "stop_words": ["fox"]},
            lambda t: [w for w in (_STEM.stemWord(x) for x in standard_tokens(t)) if w != "fox"],
        ),
    ],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_analyzer_options_drive_text_match_and_bm25(stores, analyzer, tokens):
    db = stores.connect(segment_rows=3)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer=analyzer),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("body", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    texts = {
        1: "Café au lait, the café",
        2: "naïve fox jumps over the lazy dog",
        3: "cafe Dog dogs",
        4: "quick brown fox",
        5: "Über über uber",
        6: "hello, world",
    }
    col.insert([{"id": k, "body": t} for k, t in texts.items()])
    for _ in range(2):
        for words in ("cafe", "Café", "dog fox", "über", "uber", "naive", "the", "hello,"):
            want = {k for k, t in texts.items() if set(tokens(t)) & set(tokens(words))}
            got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
            assert got == want, f"{analyzer}: {words}"
            hits = col.search([words], anns_field="bm", limit=10)[0]
            assert_window(hits, bm25_scores(texts, words, tokens=tokens), 0, 10, what=words)
        db = stores.reopen(db)
        col = db.get_collection("c")


@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_two_bm25_functions_on_one_text(stores):
    db = stores.connect(segment_rows=4)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("a", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("b", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "a"), vs.BM25("text", "b", k1=2.0, b=0.1)],
    )
    col = db.create_collection("c", schema=schema)
    data = Data(seed=2, n=40)
    texts = {k: r["text"] or "" for k, r in data.rows.items()}
    col.insert([{"id": k, "text": t} for k, t in texts.items()])
    col.delete(ids=[1, 2, 3])
    for k in (1, 2, 3):
        del texts[k]
    for q in ("alpha beta", "kappa kappa iota"):
        got = col.search([q], anns_field="a", limit=8)[0]
        assert_window(got, bm25_scores(texts, q), 0, 8, what="a")
        got = col.search([q], anns_field="b", limit=8)[0]
        assert_window(got, bm25_scores(texts, q, 2.0, 0.1), 0, 8, what="b")


@DROP_RATIO
@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_bm25_drop_ratio_drops_the_lowest_idf_terms(stores):
    """On a BM25 field the query weights are qtf * idf: drop_ratio_search ignores
    the smallest of them (every query term occurs in the corpus here)."""
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    # df: common 6, mid 3, rare 1 -> idf common < mid < rare
    texts = {
        1: "common",
        2: "common mid",
        3: "common mid",
        4: "common mid rare",
        5: "common",
        6: "common",
        7: "other",
    }
    col.insert([{"id": k, "text": t} for k, t in texts.items()])
    for ratio, kept in ((0.0, "common mid rare"), (0.34, "mid rare"), (0.67, "rare")):
        got = col.search(
            ["common mid rare"],
            anns_field="bm",
            limit=10,
            search_params={"drop_ratio_search": ratio},
        )[0]
        assert_window(got, bm25_scores(texts, kept), 0, 10, what=str(ratio))


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_range_search_several_queries(loaded):
    """One range over several queries: each query gets its own in-range rows
    (some many, some none), padded independently."""
    _, col, data = loaded
    queries = [data.query_for("dl2") for _ in range(5)]
    queries.append([50.0] * DIM)  # far from every row: nothing in range
    radius, rf = 6.0, 3.0
    got = col.search(
        queries,
        anns_field="dl2",
        limit=8,
        offset=2,
        search_params={"radius": radius, "range_filter": rf},
    )
    assert len(got) == len(queries)
    for q, hits in zip(queries, got, strict=True):
        want = range_scores(data.scores("dl2", q), "L2", radius, rf)
        assert_window(hits, want, 2, 8, larger_first=False, **tol("dl2"))
    assert got[-1] == []
    got = col.search(queries, anns_field="dip", limit=8, offset=300, search_params={"radius": 0.0})
    assert got == [[] for _ in queries]


@GROUP_BY
@BM25_STATS
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_group_by_several_queries_and_short_groups(loaded):
    _, col, data = loaded
    key_of = lambda k: data.rows[k]["cat"]  # noqa: E731
    queries = [data.query_for("dense") for _ in range(4)]
    # 10 groups asked, 4 exist; 50 rows per group asked, fewer exist after the filter
    got = col.search(
        queries,
        anns_field="dense",
        limit=10,
        group_by_field="cat",
        group_size=50,
        filter="doc == 3",
    )
    for q, hits in zip(queries, got, strict=True):
        scores = data.scores("dense", q, keep=lambda r: r["doc"] == 3)
        assert_groups(hits, scores, key_of, 10, 50, 0, "dense", "short groups")
    sparse_queries = [data.query_for("sp") for _ in range(4)]
    got = col.search(sparse_queries, anns_field="sp", limit=3, offset=10, group_by_field="cat")
    assert got == [[] for _ in sparse_queries]
    queries = [data.query_for("bm") for _ in range(3)]
    got = col.search(
        queries, anns_field="bm", limit=3, group_by_field="doc", group_size=2, offset=1
    )
    for q, hits in zip(queries, got, strict=True):
        scores = data.scores("bm", q)
        assert_groups(hits, scores, lambda k: data.rows[k]["doc"], 3, 2, 1, "bm", "bm groups")


@RANGE
@pytest.mark.needs_milvus("2.4", "hybrid search over sparse and several dense fields")
def test_hybrid_with_range_route_same_field_twice_and_one_vector(loaded):
    _, col, data = loaded
    q1, q2 = data.query_for("dense"), data.query_for("dense")
    s1 = data.scores("dense", q1)
    radius, rf = range_bounds(s1, "COSINE", 5, 30)
    reqs = [
        vs.AnnRequest(
            data=q1,
            anns_field="dense",
            limit=10,
            search_params={"radius": radius, "range_filter": rf},
        ),
        vs.AnnRequest(data=[q2], anns_field="dense", limit=10),
        vs.AnnRequest(data=[{999: 1.0}], anns_field="sp", limit=10),  # returns nothing
    ]
    got = col.hybrid_search(reqs, vs.WeightedRanker(0.5, 0.3, 1.0), limit=15)
    assert len(got) == 1
    r1 = ranked(range_scores(s1, "COSINE", radius, rf))[:10]
    r2 = ranked(data.scores("dense", q2))[:10]
    want = ref_weighted([r1, r2, []], ["COSINE", "COSINE", "IP"], [0.5, 0.3, 1.0])
    assert_window(got[0], want, 0, 15, rtol=1e-5, atol=1e-5)


@BM25_STATS_TIMING
@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_bm25_exact_after_concurrent_writes_and_searches(stores):
    """Writers (disjoint keys) and searchers run at once; searches never fail and
    every hit is a row that shares a query term; at the end the scores are exact."""
    import threading

    db = stores.connect(segment_rows=40)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    final: dict[int, str] = {}
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        rnd = np.random.default_rng(w)
        mine: dict[int, str] = {}
        try:
            for step in range(40):
                keys = [w * 1000 + int(k) for k in rnd.choice(80, size=5, replace=False)]
                texts = {k: " ".join(rnd.choice(VOCAB, size=int(rnd.integers(1, 6)))) for k in keys}
                col.upsert([{"id": k, "text": t} for k, t in texts.items()])
                mine.update(texts)
                if step % 3 == 0:
                    doomed = list(mine)[:2]
                    col.delete(ids=doomed)
                    for k in doomed:
                        del mine[k]
                if step % 20 == 19:
                    col.flush()
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
        with lock:
            final.update(mine)

    def searcher() -> None:
        try:
            while not stop.is_set():
                for h in col.search(["alpha beta"], anns_field="bm", limit=10)[0]:
                    assert h.distance > 0
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    searchers = [threading.Thread(target=searcher) for _ in range(2)]
    for t in writers + searchers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in searchers:
        t.join()
    assert not errors, errors[0]
    assert col.count() == len(final)
    for q in ("alpha beta", "kappa", "eta eta zeta"):
        got = col.search([q], anns_field="bm", limit=15)[0]
        assert_window(got, bm25_scores(final, q), 0, 15, what=q)
