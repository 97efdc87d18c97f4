"""Both adapters on every backend: a LangChain store and a LlamaIndex store built
on an open client (``client=db``), so the same calls go through the embedded
engine and through the Milvus backend (Milvus Lite) alike: add, search with
filters (dict/``MetadataFilters`` and expressions), hybrid BM25 search, get and
delete. Each runs with the adapters' defaults (BM25 and an analyzer: Milvus 2.5+)
and dense-only, the way to use them on an older Milvus server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")
# the adapters' own test helpers (deterministic embeddings), beside their distributions
for _helpers in ("langchain", "llama_index"):
    _path = str(Path(__file__).resolve().parents[2] / "integrations" / _helpers / "tests")
    if _path not in sys.path:
        sys.path.insert(0, _path)

from kestrel_lc_fakes import TOPICS, ConceptEmbeddings, langchain_relevance  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_kestrel import FieldNames  # noqa: E402
from langchain_kestrel import KestrelVectorStore as LangChainStore  # noqa: E402
from llama_index.core.schema import TextNode  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore as LlamaStore  # noqa: E402
from llamaindex_testkit import BagOfWordsEmbedding  # noqa: E402

import vectorstore as vs  # noqa: E402

TEXTS = [
    ("falcon wings and feathers", {"kind": "bird", "year": 2019, "tags": ["sky"]}),
    ("the hawk hunts with sharp wings", {"kind": "bird", "year": 2021, "tags": ["sky", "hunt"]}),
    ("python code compiles", {"kind": "code", "year": 2020, "tags": []}),
    ("rust code runs fast", {"kind": "code", "year": 2023, "tags": ["fast"]}),
    ("error E1234 in the rust build", {"kind": "code", "year": 2024, "tags": ["bug"]}),
]


BM25 = [
    pytest.param(True, id="bm25", marks=pytest.mark.needs_milvus("2.5", "BM25 and analyzers")),
    pytest.param(False, id="dense-only"),
]


def ids_of(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


@pytest.mark.parametrize("bm25", BM25)
def test_langchain_store(db: vs.Client, bm25: bool) -> None:
    options: dict[str, Any] = {"hybrid": "rrf"}
    if not bm25:
        options = {"field_names": FieldNames(sparse=None), "analyzer": None}
    store = LangChainStore(
        embedding=ConceptEmbeddings(TOPICS), client=db, collection_name="lc", **options
    )
    ids = store.add_texts([t for t, _ in TEXTS], [m for _, m in TEXTS], ids=list("abcde"))
    assert ids == list("abcde")
    assert store.add_texts(["falcon again"], [{"kind": "bird", "year": 2025}], ids=["a"]) == ["a"]
    assert ids_of(store.get_by_ids(["e", "missing", "a"])) == ["e", "a"]
    assert store.get_by_ids(["a"])[0].page_content == "falcon again"

    found = store.similarity_search("bird wings", k=2, hybrid=None)
    assert {d.metadata["kind"] for d in found} == {"bird"}
    found = store.similarity_search("code", k=5, filter={"year": {"$gte": 2021}}, hybrid=None)
    assert sorted(ids_of(found)) == ["a", "b", "d", "e"]
    found = store.similarity_search(
        "code", k=5, filter={"kind": {"$in": ["code"]}, "year": {"$lt": 2024}}, hybrid=None
    )
    assert sorted(ids_of(found)) == ["c", "d"]
    found = store.similarity_search("anything", k=5, filter='metadata["kind"] == "bird"')
    assert sorted(ids_of(found)) == ["a", "b"]
    found = store.similarity_search("anything", k=5, filter='kind == "bird" and year < 2025')
    assert ids_of(found) == ["b"]  # bare names that are not fields are metadata keys
    scored = store.similarity_search_with_relevance_scores("rust code", k=3, hybrid=None)
    assert all(0.0 <= s <= 1.0 for _, s in scored)
    if bm25:  # BM25 finds the product code the dense embedding cannot see
        hybrid = store.similarity_search("E1234", k=1, hybrid="rrf")
        assert ids_of(hybrid) == ["e"]
    else:
        with pytest.raises(vs.ConfigError, match="BM25"):
            store.similarity_search("E1234", k=1, hybrid="rrf")
    mmr = store.max_marginal_relevance_search("wings", k=2, fetch_k=5)
    assert len(mmr) == 2

    assert store.delete(["a", "zz"]) is True
    assert store.delete(filter={"kind": "code", "year": {"$gt": 2022}}) is True
    assert sorted(ids_of(store.get_by_ids(list("abcde")))) == ["b", "c"]


def _node(i: int, text: str, meta: dict[str, Any], doc: str) -> TextNode:
    node = TextNode(id_=f"n{i}", text=text, metadata=meta)
    node.relationships = {}
    node.embedding = BagOfWordsEmbedding()._vector(text)
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc)
    return node


def _query(store: LlamaStore, text: str, k: int = 5, **kwargs: Any) -> list[str]:
    query = VectorStoreQuery(
        query_embedding=BagOfWordsEmbedding()._vector(text),
        query_str=text,
        similarity_top_k=k,
        **kwargs,
    )
    result = store.query(query)
    return list(result.ids or [])


@pytest.mark.parametrize("bm25", BM25)
def test_llamaindex_store(db: vs.Client, bm25: bool) -> None:
    if bm25:
        store = LlamaStore(client=db, collection_name="li")
    else:
        store = LlamaStore(client=db, collection_name="li", enable_bm25=False, analyzer=None)
    nodes = [
        _node(i, text, {"kind": meta["kind"], "year": meta["year"]}, f"doc{i % 2}")
        for i, (text, meta) in enumerate(TEXTS)
    ]
    assert store.add(nodes) == [n.node_id for n in nodes]
    assert _query(store, "hawk wings", k=1) == ["n1"]
    eq = MetadataFilters(filters=[MetadataFilter(key="kind", value="code")])
    assert sorted(_query(store, "code", filters=eq)) == ["n2", "n3", "n4"]
    ranged = MetadataFilters(
        filters=[
            MetadataFilter(key="year", value=2020, operator=FilterOperator.GT),
            MetadataFilter(key="kind", value=["bird"], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.OR,
    )
    assert sorted(_query(store, "code", filters=ranged)) == ["n0", "n1", "n3", "n4"]
    if bm25:
        found = _query(store, "E1234", k=1, mode=VectorStoreQueryMode.TEXT_SEARCH)
        assert found == ["n4"]
        hybrid = _query(store, "E1234 rust", k=2, mode=VectorStoreQueryMode.HYBRID, alpha=0.5)
        assert hybrid[0] == "n4"
    else:
        with pytest.raises(ValueError, match="enable_bm25"):
            _query(store, "E1234", k=1, mode=VectorStoreQueryMode.TEXT_SEARCH)

    store.delete("doc0")  # n0, n2, n4
    assert sorted(_query(store, "code wings")) == ["n1", "n3"]
    store.delete_nodes(["n3"])
    assert _query(store, "code wings") == ["n1"]
    store.clear()
    assert _query(store, "code wings") == []


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_both_adapters_give_langchain_cores_relevance_for_the_same_hit(
    db: vs.Client, metric: str
) -> None:
    """The same documents and query vectors in both adapters: every hit's LangChain
    relevance is langchain-core's own function of the metric, and the LlamaIndex
    similarity of that hit is the same number."""
    emb = ConceptEmbeddings(TOPICS)
    dense_only: dict[str, Any] = {"analyzer": None}
    lc = LangChainStore(
        embedding=emb,
        client=db,
        collection_name=f"lc_{metric.lower()}",
        metric=metric,
        field_names=FieldNames(sparse=None),
        **dense_only,
    )
    li = LlamaStore(
        client=db,
        collection_name=f"li_{metric.lower()}",
        metric=metric,
        enable_bm25=False,
        **dense_only,
    )
    texts = [t for t, _ in TEXTS]
    keys = [f"d{i}" for i in range(len(texts))]
    lc.add_texts(texts, ids=keys)
    vectors = emb.embed_documents(texts)
    li.add(
        [TextNode(id_=k, text=t, embedding=v) for k, t, v in zip(keys, texts, vectors, strict=True)]
    )
    for question in ("bird wings", "rust code", "fast falcon"):
        scored = lc.similarity_search_with_score(question, k=len(texts))
        relevant = lc.similarity_search_with_relevance_scores(question, k=len(texts))
        assert ids_of([d for d, _ in relevant]) == ids_of([d for d, _ in scored])
        found = li.query(
            VectorStoreQuery(query_embedding=emb.embed_query(question), similarity_top_k=10)
        )
        similarity = dict(zip(found.ids or [], found.similarities or [], strict=True))
        assert set(similarity) == set(keys)
        for (doc, score), (_, rel) in zip(scored, relevant, strict=True):
            assert rel == pytest.approx(langchain_relevance(metric, score), abs=1e-9)
            assert similarity[doc.id] == pytest.approx(rel, abs=1e-6)


@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_both_adapters_give_the_same_hybrid_relevance(db: vs.Client) -> None:
    """RRF over the same dense and BM25 routes: a hit's LangChain relevance and
    its LlamaIndex similarity are the same number in [0, 1] (1: first in both)."""
    emb = ConceptEmbeddings(TOPICS)
    lc = LangChainStore(embedding=emb, client=db, collection_name="lc_h", hybrid="rrf")
    li = LlamaStore(client=db, collection_name="li_h", hybrid_ranker="rrf", rrf_k=60)
    texts = [t for t, _ in TEXTS]
    keys = [f"d{i}" for i in range(len(texts))]
    lc.add_texts(texts, ids=keys)
    vectors = emb.embed_documents(texts)
    li.add(
        [TextNode(id_=k, text=t, embedding=v) for k, t, v in zip(keys, texts, vectors, strict=True)]
    )
    n = len(texts)
    for question in ("hawk wings", "rust code", "error E1234"):
        relevant = lc.similarity_search_with_relevance_scores(question, k=n)
        found = li.query(
            VectorStoreQuery(
                query_embedding=emb.embed_query(question),
                query_str=question,
                mode=VectorStoreQueryMode.HYBRID,
                similarity_top_k=n,
                sparse_top_k=n,
                hybrid_top_k=n,
            )
        )
        similarity = dict(zip(found.ids or [], found.similarities or [], strict=True))
        assert [d.id for d, _ in relevant] == list(similarity)
        for doc, rel in relevant:
            assert 0.0 <= rel <= 1.0
            assert similarity[doc.id] == pytest.approx(rel, abs=1e-9)
