"""KestrelVectorStore beyond the standard suite: ids, metadata, scores, MMR, hybrid, retrievers."""

from __future__ import annotations

import asyncio
import datetime
import uuid
import warnings
from typing import Any

import numpy as np
import pytest
from kestrel_lc_fakes import TOPICS, ConceptEmbeddings, TableEmbeddings, ids_of, langchain_relevance
from langchain_core.documents import Document
from langchain_kestrel import KestrelRetriever, KestrelVectorStore, MetadataError

import vectorstore as vs

# ------------------------------------------------------------------ helpers


def concept_store(**kwargs: Any) -> KestrelVectorStore:
    return KestrelVectorStore(embedding=ConceptEmbeddings(TOPICS), **kwargs)


# ------------------------------------------------------------------ ids


def test_ids_generated_given_and_from_documents() -> None:
    store = concept_store()
    generated = store.add_texts(["falcon wings", "python code"])
    assert all(str(uuid.UUID(i, version=4)) == i for i in generated)
    assert store.add_texts(["mars orbit"], ids=["m"]) == ["m"]
    docs = [Document(page_content="owl", id="o"), Document(page_content="bread")]
    ids = store.add_documents(docs)
    assert ids[0] == "o" and uuid.UUID(ids[1])
    # ids= wins over Document.id
    assert store.add_documents([Document(page_content="soup", id="x")], ids=["y"]) == ["y"]
    assert store.get_by_ids(["x"]) == []
    got = store.get_by_ids(["y", "missing", "o", "m"])
    assert ids_of(got) == ["y", "o", "m"]  # in the order asked, missing skipped
    assert got[0] == Document(id="y", page_content="soup", metadata={})
    assert docs[1].id is None  # the input is not mutated


def test_readding_an_id_replaces_it_and_the_last_duplicate_wins() -> None:
    store = concept_store()
    store.add_texts(["falcon", "rust"], [{"v": 1}, {"v": 2}], ids=["a", "b"])
    ids = store.add_texts(["owl", "hawk"], [{"v": 3}, {"v": 4}], ids=["a", "a"])
    assert ids == ["a", "a"]
    assert store.get_by_ids(["a"]) == [Document(id="a", page_content="hawk", metadata={"v": 4})]
    assert store.collection is not None and store.collection.count() == 2


def test_add_texts_checks_lengths_and_id_types() -> None:
    store = concept_store()
    with pytest.raises(ValueError, match="metadatas"):
        store.add_texts(["a", "b"], [{}])
    with pytest.raises(ValueError, match="ids"):
        store.add_texts(["a"], ids=["1", "2"])
    with pytest.raises(ValueError, match=r"ids\[0\] must be a str"):
        store.add_texts(["a"], ids=[1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.add_texts(["a"], colour="red")
    assert store.add_texts([]) == [] and store.collection is None


def test_delete_by_ids_and_filter() -> None:
    store = concept_store()
    store.add_texts(["a", "b", "c", "d"], [{"n": i} for i in range(4)], ids=list("abcd"))
    assert store.delete(["a", "zz"]) is True
    assert store.delete([]) is True
    assert store.delete(filter={"n": {"$gte": 2}}) is True
    assert ids_of(store.get_by_ids(list("abcd"))) == ["b"]
    with pytest.raises(ValueError, match="ids= or filter="):
        store.delete()
    with pytest.raises(ValueError, match="ids= or filter="):
        store.delete(["b"], filter={"n": 1})
    assert asyncio.run(store.adelete(filter='metadata["n"] == 1')) is True
    assert store.get_by_ids(["b"]) == []


def test_empty_store_before_its_collection_exists() -> None:
    store = concept_store()
    assert store.collection is None
    assert store.similarity_search("falcon") == []
    assert store.max_marginal_relevance_search("falcon") == []
    assert store.similarity_search_with_relevance_scores("falcon") == []
    assert store.get_by_ids(["a"]) == [] and store.delete(["a"]) is True


# ------------------------------------------------------------------ metadata


EXACT = {
    "id": 7,
    "text": "not the page content",
    "int": 3,
    "float": 1.0,
    "neg": -2.5,
    "big": 2**62,
    "bool": True,
    "none": None,
    "str": 'héllo "quoted" \n ✓',
    "list": [1, 2.0, "x", None, [True]],
    "nested": {"a": {"b": [1, {"c": 0.5}]}, "empty": {}},
    "empty_list": [],
}


def test_metadata_round_trips_exactly() -> None:
    store = concept_store()
    store.add_documents([Document(page_content="falcon", metadata=EXACT, id="m")])
    for doc in (
        store.get_by_ids(["m"])[0],
        store.similarity_search("falcon", k=1)[0],
        store.max_marginal_relevance_search("falcon", k=1)[0],
    ):
        assert doc.id == "m" and doc.page_content == "falcon"
        assert doc.metadata == EXACT
        assert type(doc.metadata["int"]) is int and type(doc.metadata["float"]) is float
        assert type(doc.metadata["id"]) is int and type(doc.metadata["big"]) is int
        assert type(doc.metadata["list"][1]) is float
    # the returned dicts are copies
    store.get_by_ids(["m"])[0].metadata["nested"]["a"] = "changed"
    assert store.get_by_ids(["m"])[0].metadata == EXACT


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (datetime.datetime(2024, 1, 1), "datetime is not a JSON value"),
        ((1, 2), "tuple is not a JSON value"),
        ({1, 2}, "set is not a JSON value"),
        (b"raw", "bytes is not a JSON value"),
        (np.float32(1.5), "float32 is not a JSON value"),
        (np.float64(1.5), "float64 is not a JSON value"),
        (float("nan"), "is not a JSON number"),
        (2**63, "int64"),
        ({1: "a"}, "JSON keys are strings"),
        ([{"deep": datetime.date(2024, 1, 1)}], "date is not a JSON value"),
    ],
)
def test_non_json_metadata_is_a_clear_error(value: Any, message: str) -> None:
    store = concept_store()
    store.add_texts(["falcon"], ids=["keep"])
    with pytest.raises(MetadataError, match=message) as info:
        store.add_texts(["owl", "hawk"], [{"ok": 1}, {"bad": value}])
    assert "metadatas[1]['bad']" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, vs.VectorStoreError)
    assert store.collection is not None and store.collection.count() == 1  # nothing written


def test_none_metadata_is_empty() -> None:
    store = concept_store()
    store.add_texts(["falcon"], [None], ids=["a"])  # type: ignore[list-item]
    assert store.get_by_ids(["a"])[0].metadata == {}


# ------------------------------------------------------------------ scores and relevance

VECTORS = {
    "q": [3.0, 0.0, 0.0],
    "near": [2.0, 1.0, 0.0],
    "mid": [1.0, 2.0, 1.0],
    "far": [-3.0, 1.0, 0.5],
    "huge": [40.0, 1.0, 0.0],
}


def raw(metric: str, a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a), np.asarray(b)
    if metric == "COSINE":
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))
    if metric == "IP":
        return float(x @ y)
    return float(((x - y) ** 2).sum())


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_scores_and_relevance_per_metric(metric: str) -> None:
    store = KestrelVectorStore(embedding=TableEmbeddings(VECTORS), metric=metric)
    names = ["near", "mid", "far", "huge"]
    store.add_texts(names, ids=names)
    assert store.metric.value == metric
    scored = store.similarity_search_with_score("q", k=4)
    expected = {n: raw(metric, VECTORS["q"], VECTORS[n]) for n in names}
    larger_first = metric != "L2"
    order = sorted(names, key=lambda n: -expected[n] if larger_first else expected[n])
    assert ids_of([d for d, _ in scored]) == order
    for doc, score in scored:
        assert score == pytest.approx(expected[doc.id], rel=1e-5, abs=1e-5)
    with warnings.catch_warnings():  # far (and all of L2's) are outside [0, 1]
        warnings.simplefilter("ignore", UserWarning)
        relevant = store.similarity_search_with_relevance_scores("q", k=4)
    assert ids_of([d for d, _ in relevant]) == order
    rel = [r for _, r in relevant]
    assert rel == sorted(rel, reverse=True)
    for (_, r), (_, s) in zip(relevant, scored, strict=True):
        # langchain-core's own function of the metric; IP past 1 keeps the inner product
        expected = s if metric == "IP" and s >= 1 else langchain_relevance(metric, s)
        assert r == pytest.approx(expected, abs=1e-9)
    # a threshold keeps the relevant ones only
    cut = rel[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kept = store.similarity_search_with_relevance_scores("q", k=4, score_threshold=cut)
        assert ids_of([d for d, _ in kept]) == order[:2]
        again = asyncio.run(store.asimilarity_search_with_relevance_scores("q", k=4))
    assert again == relevant


def test_custom_relevance_function() -> None:
    store = KestrelVectorStore(
        embedding=TableEmbeddings(VECTORS), metric="L2", relevance_score_fn=lambda d: 1 / (1 + d)
    )
    store.add_texts(["near"], ids=["near"])
    [(_, r)] = store.similarity_search_with_relevance_scores("q", k=1)
    assert r == pytest.approx(1 / (1 + raw("L2", VECTORS["q"], VECTORS["near"])))


def test_bad_metric_and_hybrid_arguments() -> None:
    with pytest.raises(ValueError, match="metric"):
        concept_store(metric="BM25")
    with pytest.raises(ValueError, match="hybrid"):
        concept_store(hybrid="best")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ranker"):
        concept_store(ranker="rrf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one of"):
        concept_store(uri=":memory:", client=vs.connect())


# ------------------------------------------------------------------ MMR

MMR_VECTORS = {
    "q": [0.9, 0.436, 0.0],
    "A": [1.0, 0.0, 0.0],
    "A2": [1.0, 0.05, 0.0],  # a near-duplicate of A
    "C": [0.5, 0.866, 0.0],
    "Z": [0.0, 0.0, 1.0],
}


def test_mmr_skips_a_near_duplicate_for_a_diverse_document() -> None:
    emb = TableEmbeddings(MMR_VECTORS)
    store = KestrelVectorStore(embedding=emb)
    store.add_texts(["A", "A2", "C", "Z"], ids=["A", "A2", "C", "Z"])
    assert ids_of(store.similarity_search("q", k=2)) == ["A2", "A"]
    assert ids_of(store.max_marginal_relevance_search("q", k=2, fetch_k=4)) == ["A2", "C"]
    # lambda_mult=1 is plain relevance
    assert ids_of(store.max_marginal_relevance_search("q", k=2, lambda_mult=1.0)) == ["A2", "A"]
    by_vector = store.max_marginal_relevance_search_by_vector(MMR_VECTORS["q"], k=2)
    assert ids_of(by_vector) == ["A2", "C"]
    assert ids_of(asyncio.run(store.amax_marginal_relevance_search("q", k=2))) == ["A2", "C"]
    assert ids_of(
        asyncio.run(store.amax_marginal_relevance_search_by_vector(MMR_VECTORS["q"], k=2))
    ) == ["A2", "C"]
    # fetch_k bounds the candidates; a filter applies to them
    assert ids_of(store.max_marginal_relevance_search("q", k=2, fetch_k=2)) == ["A2", "A"]
    assert ids_of(store.max_marginal_relevance_search("q", k=2, filter='id != "C"', fetch_k=4)) == [
        "A2",
        "Z",
    ]


# ------------------------------------------------------------------ hybrid

HYBRID_DOCS = {
    "f1": "the server had an outage last night",
    "f2": "a broken disk caused the failure",
    "f3": "fault in the power supply",
    "kw": "zxq42 module",
    "b1": "a falcon has strong wings",
}


def hybrid_store(**kwargs: Any) -> KestrelVectorStore:
    store = concept_store(**kwargs)
    store.add_texts(list(HYBRID_DOCS.values()), ids=list(HYBRID_DOCS))
    return store


QUERY = "zxq42 crashes"  # "crashes" is a failure word; "zxq42" is outside every concept


def test_hybrid_finds_a_keyword_only_match_that_dense_misses() -> None:
    store = hybrid_store()
    dense = ids_of(store.similarity_search(QUERY, k=2))
    assert "kw" not in dense and set(dense) <= {"f1", "f2", "f3"}
    for mode in ("rrf", "weighted"):
        assert ids_of(store.similarity_search(QUERY, k=2, hybrid=mode))[0] == "kw"
    assert ids_of(store.similarity_search(QUERY, k=2, ranker=vs.RRFRanker(k=10)))[0] == "kw"
    # a ranker that only listens to the dense route behaves like dense search
    dense_only = store.similarity_search(QUERY, k=2, ranker=vs.WeightedRanker(1.0, 0.0))
    assert ids_of(dense_only) == dense
    # filters and partitions reach both routes
    assert "kw" not in ids_of(
        store.similarity_search(QUERY, k=2, hybrid="rrf", filter='id != "kw"')
    )


def test_hybrid_store_default_and_per_call_override() -> None:
    store = hybrid_store(hybrid="rrf")
    assert store.hybrid == "rrf"
    assert ids_of(store.similarity_search(QUERY, k=2))[0] == "kw"
    assert "kw" not in ids_of(store.similarity_search(QUERY, k=2, hybrid=False))
    # search by vector has no text: dense, unless hybrid is asked for explicitly
    vector = store.embeddings.embed_query(QUERY)
    assert "kw" not in ids_of(store.similarity_search_by_vector(vector, k=2))
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.similarity_search_by_vector(vector, k=2, hybrid=True)
    with pytest.raises(ValueError, match="does not match"):
        store.similarity_search(QUERY, hybrid="rrf", ranker=vs.WeightedRanker(0.5, 0.5))
    with pytest.raises(ValueError, match="no ranker"):
        store.similarity_search(QUERY, hybrid=False, ranker=vs.RRFRanker())
    weighted = hybrid_store(ranker=vs.WeightedRanker(0.3, 0.7))
    assert ids_of(weighted.similarity_search(QUERY, k=1)) == ["kw"]


def test_hybrid_scores_and_relevance() -> None:
    store = hybrid_store()
    rrf = store.similarity_search_with_score(QUERY, k=5, hybrid="rrf")
    assert rrf[0][0].id == "kw"
    dense_rank = ids_of(store.similarity_search(QUERY, k=5)).index("kw") + 1
    assert dense_rank > 2
    assert rrf[0][1] == pytest.approx(1 / 61 + 1 / (60 + dense_rank))  # BM25 ranks it first
    relevant = store.similarity_search_with_relevance_scores(QUERY, k=5, hybrid="rrf")
    assert [r for _, r in relevant] == pytest.approx([s * 61 / 2 for _, s in rrf])
    weighted = store.similarity_search_with_relevance_scores(
        QUERY, k=5, ranker=vs.WeightedRanker(0.2, 0.6)
    )
    scores = store.similarity_search_with_score(QUERY, k=5, ranker=vs.WeightedRanker(0.2, 0.6))
    assert [r for _, r in weighted] == pytest.approx([s / 0.8 for _, s in scores])
    assert all(0 <= r <= 1 for _, r in relevant + weighted)


def test_hybrid_mmr() -> None:
    # MMR ranks by the stored vectors; hybrid search chooses its candidates
    store = hybrid_store()
    dense = store.max_marginal_relevance_search(QUERY, k=2, fetch_k=2)
    assert "kw" not in ids_of(dense)
    hybrid = store.max_marginal_relevance_search(QUERY, k=2, fetch_k=2, hybrid="rrf")
    assert "kw" in ids_of(hybrid)


def test_hybrid_needs_a_bm25_field() -> None:
    from langchain_kestrel import FieldNames

    store = concept_store(field_names=FieldNames(sparse=None))
    store.add_texts(["falcon"])
    assert store.similarity_search("falcon", k=1)
    with pytest.raises(vs.ConfigError, match="BM25"):
        store.similarity_search("falcon", hybrid="rrf")
    assert store.collection is not None
    with pytest.raises(vs.ConfigError, match="BM25"):
        concept_store(collection=store.collection, hybrid="rrf")


# ------------------------------------------------------------------ retrievers


def test_retriever_modes() -> None:
    store = hybrid_store()
    store.add_texts(["falcon wings", "falcon feathers"], ids=["b2", "b3"])
    similar = store.as_retriever(search_kwargs={"k": 2})
    assert isinstance(similar, KestrelRetriever)
    assert "kw" not in ids_of(similar.invoke(QUERY))
    hybrid = store.as_retriever(search_type="hybrid", search_kwargs={"k": 2})
    assert ids_of(hybrid.invoke(QUERY))[0] == "kw"
    assert ids_of(asyncio.run(hybrid.ainvoke(QUERY)))[0] == "kw"
    weighted = store.as_retriever(
        search_type="hybrid", search_kwargs={"k": 1, "ranker": vs.WeightedRanker(0.5, 0.5)}
    )
    assert ids_of(weighted.invoke(QUERY)) == ["kw"]
    threshold = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"k": 10, "score_threshold": 0.9},
    )
    found = threshold.invoke("falcon")
    assert found and set(ids_of(found)) <= {"b1", "b2", "b3"}
    assert asyncio.run(threshold.ainvoke("falcon")) == found
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 2, "fetch_k": 10})
    assert len(mmr.invoke("falcon")) == 2
    filtered = store.as_retriever(search_kwargs={"k": 5, "filter": {"$not": {"x": 1}}})
    assert len(filtered.invoke("falcon")) == 5
    with pytest.raises(ValueError, match="search_type"):
        store.as_retriever(search_type="fuzzy")
    # VectorStore.search knows the same types
    assert ids_of(store.search(QUERY, "hybrid", k=1)) == ["kw"]
    assert ids_of(asyncio.run(store.asearch(QUERY, "hybrid", k=1))) == ["kw"]
    assert "kw" not in ids_of(store.search(QUERY, "similarity", k=2))
    assert len(store.search("falcon", "mmr", k=2)) == 2
    # a store whose default is hybrid makes "similarity" retrievers hybrid too
    default_hybrid = hybrid_store(hybrid="rrf")
    assert ids_of(default_hybrid.as_retriever(search_kwargs={"k": 1}).invoke(QUERY)) == ["kw"]


# ------------------------------------------------------------------ async


def test_async_methods_embed_natively_and_match_sync() -> None:
    emb = ConceptEmbeddings(TOPICS)
    store = KestrelVectorStore(embedding=emb)

    async def run() -> None:
        ids = await store.aadd_texts(list(HYBRID_DOCS.values()), ids=list(HYBRID_DOCS))
        assert ids == list(HYBRID_DOCS)
        assert emb.calls["aembed_documents"] == 1 and emb.calls["embed_documents"] == 0
        assert await store.asimilarity_search(QUERY, k=3) == store.similarity_search(QUERY, k=3)
        assert await store.asimilarity_search_with_score(
            QUERY, k=3, hybrid="rrf"
        ) == store.similarity_search_with_score(QUERY, k=3, hybrid="rrf")
        vector = emb.embed_query(QUERY)
        assert await store.asimilarity_search_by_vector(
            vector, k=2
        ) == store.similarity_search_by_vector(vector, k=2)
        assert await store.aget_by_ids(["kw"]) == store.get_by_ids(["kw"])
        assert await store.adelete(["kw"]) is True
        assert await store.aget_by_ids(["kw"]) == []
        other = await KestrelVectorStore.afrom_texts(
            ["falcon"], emb, [{"a": 1}], ids=["x"], hybrid="rrf"
        )
        assert other.hybrid == "rrf" and await other.aget_by_ids(["x"]) == [
            Document(id="x", page_content="falcon", metadata={"a": 1})
        ]
        docs = [Document(page_content="owl", metadata={"b": 2}, id="o")]
        third = await KestrelVectorStore.afrom_documents(docs, emb)
        assert await third.aget_by_ids(["o"]) == docs

    asyncio.run(run())
    assert emb.calls["aembed_query"] >= 2


def test_from_texts_and_documents() -> None:
    emb = ConceptEmbeddings(TOPICS)
    store = KestrelVectorStore.from_texts(
        ["falcon", "rust"], emb, [{"k": 1}, {"k": 2}], ids=["a", "b"], metric="IP"
    )
    assert store.metric is vs.Metric.IP
    assert ids_of(store.similarity_search("falcon", k=1)) == ["a"]
    docs = [Document(page_content="mars", id="m")]
    store2 = KestrelVectorStore.from_documents(docs, emb, collection_name="other")
    assert store2.get_by_ids(["m"]) == [Document(id="m", page_content="mars", metadata={})]


# ------------------------------------------------------------------ partitions


def test_partitions_scope_a_store() -> None:
    db = vs.connect()
    emb = ConceptEmbeddings(TOPICS)
    team_a = KestrelVectorStore(embedding=emb, client=db, partition="team_a")
    team_b = KestrelVectorStore(embedding=emb, client=db, partition="team_b")
    everyone = KestrelVectorStore(embedding=emb, client=db)
    team_a.add_texts(["falcon wings"], ids=["a1"])
    team_b.add_texts(["falcon feathers"], ids=["b1"])
    assert ids_of(team_a.similarity_search("falcon", k=5)) == ["a1"]
    assert ids_of(team_b.get_by_ids(["a1", "b1"])) == ["b1"]
    assert set(ids_of(everyone.similarity_search("falcon", k=5))) == {"a1", "b1"}
    assert ids_of(everyone.similarity_search("falcon", k=5, partition="team_b")) == ["b1"]
    assert ids_of(everyone.similarity_search("falcon", k=5, partition=["team_a"])) == ["a1"]
    team_b.delete(["a1"])  # not in team_b's partition: kept
    assert ids_of(everyone.get_by_ids(["a1"])) == ["a1"]
    everyone.add_texts(["owl"], ids=["c1"], partition="team_a")
    assert set(ids_of(team_a.similarity_search("bird", k=5))) == {"a1", "c1"}
    assert sorted(db.get_collection("langchain").list_partitions()) == [
        "_default",
        "team_a",
        "team_b",
    ]


def test_index_and_search_params() -> None:
    store = concept_store(index_params={"index_type": "FLAT"}, dimension=len(TOPICS) + 1)
    assert store.collection is not None
    [index] = [i for i in store.collection.indexes if i.field == "vector"]
    assert index.index_type == "FLAT"
    store2 = concept_store(
        index_params={"index_type": "HNSW", "M": 8}, search_params={"ef": 64}, dimension=6
    )
    store2.add_texts(["falcon", "mars"], ids=["f", "m"])
    assert ids_of(store2.similarity_search("kestrel", k=1)) == ["f"]
    assert ids_of(store2.similarity_search("kestrel", k=1, search_params={"ef": 16})) == ["f"]
    with pytest.raises(vs.IndexConfigError):
        store2.similarity_search("kestrel", search_params={"nprobe": 3})


def test_concurrent_async_adds_create_one_collection() -> None:
    store = concept_store()

    async def run() -> list[list[str]]:
        batches = [[f"falcon {i} {j}" for j in range(5)] for i in range(8)]
        return await asyncio.gather(*(store.aadd_texts(b) for b in batches))

    ids = asyncio.run(run())
    assert len({i for batch in ids for i in batch}) == 40
    assert store.collection is not None and store.collection.count() == 40
