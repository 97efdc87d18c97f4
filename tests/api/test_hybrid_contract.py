"""Sparse vectors, BM25, range, group-by, text_match and hybrid search, checked
against plain-Python references written from the contract (not from the code).

Every reference here recomputes from the raw rows: dense distances in float64
(L2 squared, IP, COSINE), sparse inner products over shared dimensions (rows
sharing none are not hits), ``drop_ratio_search`` as "keep the len -
int(ratio * len) largest |weights|", RRF and weighted fusion as Milvus defines
them, range windows, group-by, and text_match with an own tokenizer (and
snowballstemmer for "english"). Comparisons are by score wherever rows may tie.

Here: the pure ranking functions, argument checks that need no store, and the
embedded engine's auto-compaction. The searches run on every backend in
``tests/conformance/``: ``test_backend_sparse.py``, ``test_backend_bm25.py``,
``test_backend_text_match.py``, ``test_backend_range_search.py``,
``test_backend_group_by.py``, ``test_backend_hybrid_search.py`` and
``test_backend_hybrid_bad_input.py``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from helpers.hybrid_reference import (
    assert_window,
    bm25_scores,
    ranked,
    ref_rrf,
    ref_weighted,
)

import vectorstore as vs
from vectorstore import ranking

DT = vs.DataType
# ------------------------------------------------------------------ references


# ------------------------------------------------------------------ the dataset


# =====================================================================
# 1. sparse IP search vs brute force
# =====================================================================


# =====================================================================
# 2. BM25 through the collection (the property file covers write sequences)
# =====================================================================


# =====================================================================
# 3. fusion
# =====================================================================


def test_ranking_pure_functions_do_not_mutate_inputs():
    routes = [["a", "b", "c"], ("c", "d")]
    before = copy.deepcopy(routes)
    out = ranking.rrf(routes, k=60)
    assert routes == before
    assert dict(out) == pytest.approx(ref_rrf(before, 60))
    pairs = [[("a", 0.9), ("b", 0.1)], (("b", 3.0), ("c", 0.5))]
    metrics = ["COSINE", "L2"]
    weights = [0.4, 0.6]
    snap = copy.deepcopy((pairs, metrics, weights))
    out = ranking.weighted(pairs, metrics, weights)
    assert (pairs, metrics, weights) == snap
    assert dict(out) == pytest.approx(ref_weighted(snap[0], metrics, weights))
    assert [k for k, _ in out] == [k for k, _ in ranked(dict(out))]
    bm = ranking.weighted([[("x", 2.0)]], ["BM25"], [1.0])
    assert bm == [("x", pytest.approx(2 * math.atan(2.0) / math.pi))]


# =====================================================================
# 4. range search and group-by vs brute force
# =====================================================================


# =====================================================================
# 5. text_match vs a plain-Python reference
# =====================================================================


# =====================================================================
# 6. bad input: our errors, and the store exactly as it was
# =====================================================================


@pytest.mark.parametrize(
    "make",
    [
        lambda: vs.WeightedRanker(1.5),
        lambda: vs.WeightedRanker(-0.1, 0.5),
        lambda: vs.WeightedRanker(float("nan")),
        lambda: vs.WeightedRanker(),
        lambda: vs.WeightedRanker(True),
        lambda: vs.RRFRanker(k=0),
        lambda: vs.RRFRanker(k=-5),
        lambda: vs.AnnRequest(data=[[0.0]], anns_field="dense", limit=0),
        lambda: vs.AnnRequest(data=[[0.0]], anns_field="dense", limit=16385),
    ],
)
def test_bad_rankers_and_requests(make):
    with pytest.raises(vs.DataError):
        make()


@pytest.mark.parametrize(
    ("error", "make"),
    [
        (vs.SchemaError, lambda: vs.Field("t", DT.VARCHAR, analyzer="klingon")),
        (vs.SchemaError, lambda: vs.Field("t", DT.VARCHAR, analyzer={"type": "klingon"})),
        (vs.SchemaError, lambda: vs.Field("t", DT.VARCHAR, analyzer={"tokenizer": "klingon"})),
        (vs.SchemaError, lambda: vs.Field("t", DT.VARCHAR, analyzer={"filter": ["nope"]})),
        (vs.SchemaError, lambda: vs.Field("t", DT.VARCHAR, analyzer={"bogus": 1})),
        (
            vs.SchemaError,
            lambda: vs.Field(
                "t", DT.VARCHAR, analyzer={"filter": [{"type": "stemmer", "language": "klingon"}]}
            ),
        ),
        (vs.SchemaError, lambda: vs.Field("t", DT.INT64, analyzer="standard")),
        (
            vs.SchemaError,
            lambda: vs.Schema(
                [
                    vs.Field("id", DT.INT64, is_primary=True),
                    vs.Field("t", DT.INT64),
                    vs.Field("s", DT.SPARSE_FLOAT_VECTOR),
                ],
                functions=[vs.BM25("t", "s")],
            ),
        ),
        (
            vs.SchemaError,
            lambda: vs.Schema(
                [
                    vs.Field("id", DT.INT64, is_primary=True),
                    vs.Field("t", DT.VARCHAR),
                    vs.Field("s", DT.FLOAT_VECTOR, dim=2),
                ],
                functions=[vs.BM25("t", "s")],
            ),
        ),
        (
            vs.SchemaError,
            lambda: vs.Schema(
                [
                    vs.Field("id", DT.INT64, is_primary=True),
                    vs.Field("t", DT.VARCHAR),
                    vs.Field("s", DT.SPARSE_FLOAT_VECTOR),
                ],
                functions=[vs.BM25("missing", "s")],
            ),
        ),
        (vs.SchemaError, lambda: vs.BM25("t", "s", k1=-1.0)),
        (vs.SchemaError, lambda: vs.BM25("t", "s", b=1.5)),
    ],
)
def test_bad_schemas(error, make):
    with pytest.raises(error):
        make()


# =====================================================================
# 7. more corners
# =====================================================================


def test_auto_compaction_keeps_bm25_exact(stores):
    """Deleting most of a segment compacts it by itself; statistics stay exact."""
    db = stores.connect(segment_rows=2000)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    texts = {i: " ".join(rng.choice(words, size=int(rng.integers(1, 10)))) for i in range(4500)}
    col.insert([{"id": k, "text": t} for k, t in texts.items()])
    assert col.delete(filter="id < 2600") == 2600
    for k in range(2600):
        del texts[k]
    assert col.stats()["deleted_rows"] == 0  # compacted
    for q in ("w1 w2 w3", "w29"):
        got = col.search([q], anns_field="bm", limit=20)[0]
        assert_window(got, bm25_scores(texts, q), 0, 20, what=q)
    db = stores.reopen(db)
    col = db.get_collection("c")
    got = col.search(["w1 w2 w3"], anns_field="bm", limit=20)[0]
    assert_window(got, bm25_scores(texts, "w1 w2 w3"), 0, 20, what="reopened")
