"""Independent contract tests of the LangChain adapter (QA suite): similarity
search and its scores per metric, relevance and thresholds, MMR, hybrid search,
partitions, and async and threaded use.

Written from the contract (issue text, README, DESIGN.md, docstrings) and
langchain-core's own reference store (``InMemoryVectorStore``), not from the
adapter's code: scores against hand-computed values and langchain-core's own
relevance functions.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from kestrel_lc_fakes import (
    UNIT,
    TableEmbeddings,
    WordEmbeddings,
    ids_of,
    langchain_relevance,
    new,
    unit_store,
)
from langchain_core.documents import Document
from langchain_kestrel import FieldNames, KestrelVectorStore

import vectorstore as vs

CORPUS = {
    "k1": "the kestrel hovers above the field",
    "k2": "a kestrel and an owl share the old barn",
    "c1": "error E1234 crashes the rust compiler",
    "c2": "the rust compiler is fast and safe",
    "s1": "mars rover probe E1234 landed",
    "f1": "soup recipe with bread and cheese",
}


def corpus_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    """A store of CORPUS, metadata ``group`` ("code" for the c* texts) and ``key``."""
    store = new(made, **kwargs)
    store.add_texts(
        list(CORPUS.values()),
        [{"group": "code" if k.startswith("c") else "other", "key": k} for k in CORPUS],
        ids=list(CORPUS),
    )
    return store


# ------------------------------------------------------------------ search


def test_k_larger_than_store_and_k_zero(made: list[KestrelVectorStore]) -> None:
    """As langchain-core's InMemoryVectorStore: k=0 finds nothing, a k larger than
    the store finds everything."""
    store = unit_store(made)
    assert len(store.similarity_search("x", k=50)) == 4
    assert len(store.max_marginal_relevance_search("x", k=50, fetch_k=60)) == 4
    assert store.max_marginal_relevance_search("x", k=0) == []
    assert store.similarity_search("x", k=0) == []
    assert store.similarity_search_with_score("x", k=0) == []


def test_k_above_the_engine_cap_on_a_small_store(made: list[KestrelVectorStore]) -> None:
    store = unit_store(made)
    assert len(store.similarity_search("x", k=20_000)) == 4


def test_every_result_has_its_id(made: list[KestrelVectorStore]) -> None:
    store = corpus_store(made)
    vec = WordEmbeddings().embed_query("kestrel")
    results: list[list[Document]] = [
        store.similarity_search("kestrel"),
        [d for d, _ in store.similarity_search_with_score("kestrel")],
        [d for d, _ in store.similarity_search_with_relevance_scores("kestrel")],
        store.similarity_search_by_vector(vec),
        [d for d, _ in store.similarity_search_with_score_by_vector(vec)],
        store.max_marginal_relevance_search("kestrel"),
        store.max_marginal_relevance_search_by_vector(vec),
        store.similarity_search("kestrel", hybrid="rrf"),
        store.as_retriever(search_type="hybrid").invoke("kestrel"),
        asyncio.run(store.asimilarity_search("kestrel")),
        asyncio.run(store.amax_marginal_relevance_search("kestrel")),
    ]
    for docs in results:
        assert docs and all(d.id in CORPUS and CORPUS[d.id] == d.page_content for d in docs)
        assert all(d.metadata["key"] == d.id for d in docs)


@pytest.mark.parametrize(
    ("metric", "scores"),
    [
        ("COSINE", [1.0, 0.6, 0.0, -1.0]),
        ("IP", [2.0, 1.2, 0.0, -2.0]),
        ("L2", [1.0, 1.96 + 0.64, 5.0, 9.0]),
    ],
)
def test_scores_and_relevance_per_metric(
    made: list[KestrelVectorStore], metric: str, scores: list[float]
) -> None:
    store = unit_store(made, metric=metric)
    scored = store.similarity_search_with_score("q", k=4)
    assert ids_of([d for d, _ in scored]) == ["x", "xy", "y", "-x"]
    assert [s for _, s in scored] == pytest.approx(scores, abs=1e-5)
    with pytest.warns(UserWarning, match="Relevance scores must be between 0 and 1"):
        rel = store.similarity_search_with_relevance_scores("q", k=4)  # -x is below 0
    assert ids_of([d for d, _ in rel]) == ["x", "xy", "y", "-x"]
    for (_, r), (_, s) in zip(rel, scored, strict=True):
        # langchain-core's own function of the metric; IP past 1 keeps the inner product
        expected = s if metric == "IP" and s >= 1 else langchain_relevance(metric, s)
        assert r == pytest.approx(expected, abs=1e-9)
    assert [r for _, r in rel] == sorted((r for _, r in rel), reverse=True)


def test_score_threshold_semantics(made: list[KestrelVectorStore]) -> None:
    store = unit_store(made)  # COSINE: relevance is the cosine: x 1.0, xy 0.6, y 0.0, -x -1.0

    def found(threshold: float, **extra: Any) -> list[str | None]:
        retriever = store.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"k": 4, "score_threshold": threshold, **extra},
        )
        with warnings.catch_warnings():  # -x's relevance is below 0: langchain-core warns
            warnings.simplefilter("ignore", UserWarning)
            sync = ids_of(retriever.invoke("x"))
            assert ids_of(asyncio.run(retriever.ainvoke("x"))) == sync
        return sync

    assert found(-1.0) == ["x", "xy", "y", "-x"]
    assert found(0.0) == ["x", "xy", "y"]  # inclusive
    assert found(0.5) == ["x", "xy"]  # a threshold on the cosine, as langchain-chroma's
    assert found(0.61) == ["x"]
    assert found(1.0) == ["x"]
    assert found(0.5, filter={"$not": {"missing": 1}}) == ["x", "xy"]


def test_mmr_lambda_extremes(made: list[KestrelVectorStore]) -> None:
    store = new(made, TableEmbeddings(UNIT))
    store.add_texts(["x", "near", "xy", "y"], ids=["x", "near", "xy", "y"])
    plain = ids_of(store.similarity_search("x", k=3))
    assert plain == ["x", "near", "xy"]
    assert ids_of(store.max_marginal_relevance_search("x", k=3, lambda_mult=1.0)) == plain
    diverse = ids_of(store.max_marginal_relevance_search("x", k=2, lambda_mult=0.0))
    assert diverse == ["x", "y"]  # the best first, then the least similar to it
    by_vec = store.max_marginal_relevance_search_by_vector(UNIT["x"], k=2, lambda_mult=0.0)
    assert ids_of(by_vec) == diverse
    retriever = store.as_retriever(
        search_type="mmr", search_kwargs={"k": 2, "fetch_k": 4, "lambda_mult": 0.0}
    )
    assert ids_of(retriever.invoke("x")) == diverse
    assert ids_of(asyncio.run(retriever.ainvoke("x"))) == diverse
    assert len(store.max_marginal_relevance_search("x", k=3, fetch_k=1)) == 3


# ------------------------------------------------------------------ hybrid


def test_hybrid_finds_keywords_per_call_and_per_store(made: list[KestrelVectorStore]) -> None:
    store = corpus_store(made)
    hybrid = ids_of(store.similarity_search("E1234", k=2, hybrid="rrf"))
    assert sorted(hybrid) == ["c1", "s1"]
    assert sorted(ids_of(store.similarity_search("E1234", k=2, hybrid="weighted"))) == ["c1", "s1"]
    ranker = vs.WeightedRanker(0.0, 1.0)
    assert sorted(ids_of(store.similarity_search("E1234", k=2, ranker=ranker))) == ["c1", "s1"]
    default = corpus_store(made, hybrid="rrf")
    assert sorted(ids_of(default.similarity_search("E1234", k=2))) == ["c1", "s1"]
    dense = ids_of(default.similarity_search("E1234", k=6, hybrid=False))
    assert len(dense) == 6
    # by-vector searches on a hybrid store are dense
    vec = WordEmbeddings().embed_query("E1234")
    assert ids_of(default.similarity_search_by_vector(vec, k=6)) == dense
    with pytest.raises(ValueError, match="hybrid='rrf' does not match ranker WeightedRanker"):
        store.similarity_search("E1234", hybrid="rrf", ranker=vs.WeightedRanker(0.5, 0.5))


def test_hybrid_relevance_in_unit_interval(made: list[KestrelVectorStore]) -> None:
    store = corpus_store(made)
    for mode in ("rrf", "weighted"):
        rel = store.similarity_search_with_relevance_scores("rust compiler E1234", k=6, hybrid=mode)
        values = [r for _, r in rel]
        assert all(0.0 <= r <= 1.0 for r in values) and values == sorted(values, reverse=True)
    ((top, score),) = store.similarity_search_with_relevance_scores(
        "error E1234 crashes the rust compiler", k=1, hybrid="rrf"
    )
    assert top.id == "c1" and score == pytest.approx(1.0)  # first in both routes


def test_hybrid_with_filter_and_partition(made: list[KestrelVectorStore]) -> None:
    store = new(made, partition="p1")
    store.add_texts(
        ["alpha E1234", "beta E1234", "gamma"], [{"n": 1}, {"n": 2}, {"n": 1}], ids=["a", "b", "g"]
    )
    store.add_texts(
        ["delta E1234", "epsilon E1234"], [{"n": 1}, {"n": 2}], ids=["d", "e"], partition="p2"
    )
    for mode in ("rrf", "weighted"):
        own = ids_of(store.similarity_search("E1234", k=10, hybrid=mode, filter={"n": 1}))
        assert sorted(own) == ["a", "g"] and own[0] == "a"
        other = store.similarity_search("E1234", k=10, hybrid=mode, filter={"n": 1}, partition="p2")
        assert ids_of(other) == ["d"]
        both = store.similarity_search(
            "E1234", k=10, hybrid=mode, filter='metadata["n"] == 2', partition=["p1", "p2"]
        )
        assert sorted(ids_of(both)) == ["b", "e"]
    mmr = store.max_marginal_relevance_search(
        "E1234", k=5, hybrid=True, filter={"n": 2}, partition=["p1", "p2"]
    )
    assert sorted(ids_of(mmr)) == ["b", "e"]
    retriever = store.as_retriever(search_type="hybrid", search_kwargs={"k": 5, "filter": {"n": 2}})
    assert ids_of(retriever.invoke("E1234")) == ["b"]
    assert ids_of(asyncio.run(retriever.ainvoke("E1234"))) == ["b"]


def test_partition_scopes_reads_and_deletes(made: list[KestrelVectorStore]) -> None:
    db = vs.connect(":memory:")
    try:
        p1 = new(made, client=db, collection_name="c", partition="p1")
        p2 = new(made, client=db, collection_name="c", partition="p2")
        p1.add_texts(["one"], ids=["one"])
        p2.add_texts(["two"], ids=["two"])
        assert ids_of(p1.similarity_search("one two", k=5)) == ["one"]
        assert p1.get_by_ids(["two"]) == []
        p1.delete(["two"])
        p1.delete(filter={"$not": {"zz": 1}})
        assert ids_of(p2.get_by_ids(["two"])) == ["two"]
        assert p1.get_by_ids(["one"]) == []
    finally:
        db.close()


def test_hybrid_needs_bm25(made: list[KestrelVectorStore]) -> None:
    store = new(made, field_names=FieldNames(sparse=None))
    store.add_texts(["kestrel"], ids=["k"])
    assert ids_of(store.similarity_search("kestrel")) == ["k"]
    with pytest.raises(vs.ConfigError, match="hybrid search needs a BM25 sparse field") as info:
        store.similarity_search("kestrel", hybrid="rrf")
    assert "sparse=None" in str(info.value) and "'None'" not in str(info.value)


# ------------------------------------------------------- async / threads


def test_async_methods_under_gather(made: list[KestrelVectorStore]) -> None:
    store = new(made)

    async def run() -> list[Any]:
        added = await asyncio.gather(
            *[
                store.aadd_texts([f"kestrel number {i}"], [{"i": i}], ids=[f"k{i}"])
                for i in range(30)
            ]
        )
        assert added == [[f"k{i}"] for i in range(30)]
        return await asyncio.gather(
            *[store.asimilarity_search("kestrel", k=5) for _ in range(8)],
            store.asimilarity_search_with_score("kestrel", k=3, filter={"i": {"$lt": 3}}),
            store.asimilarity_search_with_relevance_scores("kestrel", k=3, hybrid="rrf"),
            store.amax_marginal_relevance_search("kestrel", k=3),
            store.asimilarity_search_by_vector(WordEmbeddings().embed_query("kestrel"), k=2),
            store.aget_by_ids(["k1", "k2"]),
            store.adelete(["k3"]),
            store.as_retriever(search_kwargs={"k": 2}).ainvoke("kestrel"),
        )

    results = asyncio.run(run())
    assert all(len(r) == 5 for r in results[:8])
    assert {d.id for d, _ in results[8]} == {"k0", "k1", "k2"}
    assert len(results[9]) == 3 and len(results[10]) == 3 and len(results[11]) == 2
    assert ids_of(results[12]) == ["k1", "k2"] and results[13] is True
    assert store.collection is not None and store.collection.count() == 29


def test_threads_add_while_searching(tmp_path: Path, made: list[KestrelVectorStore]) -> None:
    store = new(made, uri=str(tmp_path / "db"), connect_options={"durability": "none"})
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(50):
                store.add_texts([f"writer {w} kestrel {i}"], [{"w": w}], ids=[f"{w}-{i}"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(60):
                docs = store.similarity_search("kestrel", k=5, filter={"w": {"$gte": 0}})
                assert len({d.id for d in docs}) == len(docs) <= 5
                hybrid = store.similarity_search("kestrel", k=3, hybrid="rrf")
                assert len({d.id for d in hybrid}) == len(hybrid) <= 3
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.collection is not None and store.collection.count() == 200
