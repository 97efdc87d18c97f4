"""End to end: VectorStoreIndex over KestrelVectorStore with a deterministic
bag-of-words embedding, a retriever in every mode, deletes, and reopening."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import BagOfWordsEmbedding, StoreFactory

DOCS = [
    Document(
        id_="falcon",
        text="The peregrine falcon is the fastest bird; it hunts by diving at great speed.",
        metadata={"topic": "birds", "year": 2019},
    ),
    Document(
        id_="owl",
        text="The barn owl hunts mice at night and flies almost silently.",
        metadata={"topic": "birds", "year": 2021},
    ),
    Document(
        id_="rust",
        text="Rust is a systems programming language that guarantees memory safety.",
        metadata={"topic": "programming", "year": 2015},
    ),
    Document(
        id_="python",
        text="Python is a programming language loved for scripting and data science.",
        metadata={"topic": "programming", "year": 1991},
    ),
    Document(
        id_="tea",
        text="Green tea is brewed from the leaves of the tea plant and served hot.",
        metadata={"topic": "food", "year": 2020},
    ),
]


def build(store: KestrelVectorStore, embed: BagOfWordsEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(
        DOCS,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
    )


def sources(index: VectorStoreIndex, question: str, **retriever: object) -> list[str]:
    found = index.as_retriever(**retriever).retrieve(question)
    assert all(n.score is not None for n in found)
    scores = [n.score for n in found]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    return [str(n.node.ref_doc_id) for n in found]


@pytest.fixture
def index(
    make_store: StoreFactory, store_kind: str, embed_model: BagOfWordsEmbedding
) -> VectorStoreIndex:
    return build(make_store(store_kind), embed_model)


def test_default_retrieval(index: VectorStoreIndex) -> None:
    assert sources(index, "which bird is the fastest?", similarity_top_k=1) == ["falcon"]
    assert sources(index, "memory safety in systems programming", similarity_top_k=1) == ["rust"]
    top2 = sources(index, "programming language", similarity_top_k=2)
    assert set(top2) == {"rust", "python"}


def test_every_mode(index: VectorStoreIndex) -> None:
    question = "owl hunting at night"
    for mode in ("default", "mmr", "sparse", "text_search", "hybrid"):
        got = sources(index, question, similarity_top_k=2, vector_store_query_mode=mode)
        assert got[0] == "owl", mode
    rrf = sources(
        index,
        question,
        similarity_top_k=2,
        vector_store_query_mode="hybrid",
        vector_store_kwargs={"hybrid_ranker": "rrf"},
    )
    assert rrf[0] == "owl"
    words = sources(index, "tea leaves", vector_store_query_mode="text_search", sparse_top_k=5)
    assert words == ["tea"]  # BM25 finds only rows holding a query word


def test_filters_and_doc_ids(index: VectorStoreIndex) -> None:
    birds = MetadataFilters(filters=[MetadataFilter(key="topic", value="birds")])
    assert set(sources(index, "programming", similarity_top_k=5, filters=birds)) == {
        "falcon",
        "owl",
    }
    recent = MetadataFilters(
        filters=[MetadataFilter(key="year", operator=FilterOperator.GTE, value=2020)]
    )
    assert set(sources(index, "anything", similarity_top_k=5, filters=recent)) == {"owl", "tea"}
    assert sources(index, "bird", similarity_top_k=5, doc_ids=["tea", "rust"])[0] in {
        "tea",
        "rust",
    }


def test_delete_ref_doc_and_insert(index: VectorStoreIndex) -> None:
    index.delete_ref_doc("falcon")
    assert "falcon" not in sources(index, "fastest bird", similarity_top_k=5)
    index.insert(Document(id_="eagle", text="The golden eagle is a fast bird of prey."))
    assert sources(index, "fast bird of prey", similarity_top_k=1) == ["eagle"]
    node = TextNode(id_="extra", text="Sourdough bread needs a starter.", embedding=None)
    index.insert_nodes([node])
    assert sources(index, "sourdough bread starter", similarity_top_k=1) == ["None"]
    index.delete_nodes(["extra"])
    assert "None" not in sources(index, "sourdough bread starter", similarity_top_k=5)


def test_async_retrieval(make_store: StoreFactory, embed_model: BagOfWordsEmbedding) -> None:
    store = make_store()

    async def scenario() -> list[str]:
        index = VectorStoreIndex.from_documents(
            DOCS,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=embed_model,
            use_async=True,
        )
        found = await index.as_retriever(similarity_top_k=1).aretrieve("barn owl")
        return [str(n.node.ref_doc_id) for n in found]

    assert asyncio.run(scenario()) == ["owl"]


def test_from_vector_store_after_reopening(
    make_store: StoreFactory, embed_model: BagOfWordsEmbedding, tmp_path: Path
) -> None:
    first = make_store("disk", collection_name="kb")
    build(first, embed_model)
    first.close()  # closes the process's shared client of the path
    reopened = make_store("disk", collection_name="kb")
    assert reopened.dim == embed_model.dim
    index = VectorStoreIndex.from_vector_store(reopened, embed_model=embed_model)
    assert sources(index, "which bird is the fastest?", similarity_top_k=1) == ["falcon"]
    found = index.as_retriever(similarity_top_k=1).retrieve("green tea")
    assert found[0].node.metadata == {"topic": "food", "year": 2020}
    assert "Green tea" in found[0].node.get_content()
    assert sources(index, "hunts", vector_store_query_mode="hybrid", similarity_top_k=2)
