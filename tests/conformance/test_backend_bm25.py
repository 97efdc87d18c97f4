"""BM25 search on every backend, against the plain-Python BM25 reference computed
from the raw texts (tests/property/test_bm25_reference.py covers write
sequences): analyzers given as Milvus dicts and stop-word options, two BM25
functions on one text, ``drop_ratio_search`` on query weights, and exact scores
after concurrent writes and searches."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hybrid_data import (
    VOCAB,
    Data,
)
from helpers.hybrid_reference import (
    assert_window,
    bm25_scores,
    english_tokens,
    standard_tokens,
)
from lite_differences import (
    ANALYZERS,
    BM25_STATS,
    BM25_STATS_TIMING,
    DROP_RATIO,
)

import vectorstore as vs

DT = vs.DataType


@BM25_STATS
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_bm25_search_matches_reference(hybrid_loaded):
    _, col, data = hybrid_loaded
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
