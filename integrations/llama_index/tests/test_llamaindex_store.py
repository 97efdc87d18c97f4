"""KestrelVectorStore: construction, node round trip, writes, every query mode,
similarities per metric, async variants and errors."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import (
    BaseNode,
    Document,
    ImageNode,
    IndexNode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import StoreFactory

import vectorstore as vs

Mode = VectorStoreQueryMode

TEXTS = {
    "rust": "Rust is a systems programming language with memory safety",
    "python": "Python is a dynamic programming language for scripting",
    "falcon": "The peregrine falcon is the fastest bird in a dive",
    "owl": "Owls are birds that hunt at night",
    "tea": "Green tea is brewed from the leaves of the tea plant",
}


def text_nodes(dim: int = 4) -> list[TextNode]:
    rng = np.random.default_rng(7)
    return [
        TextNode(
            text=text,
            id_=name,
            embedding=rng.normal(size=dim).tolist(),
            metadata={"topic": name, "len": len(text)},
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{name}")},
        )
        for name, text in TEXTS.items()
    ]


def query(store: KestrelVectorStore, **kwargs: Any) -> tuple[list[str], list[float]]:
    store_kwargs = kwargs.pop("store_kwargs", {})
    result = store.query(VectorStoreQuery(**kwargs), **store_kwargs)
    assert result.ids is not None and result.similarities is not None
    assert result.nodes is not None and [n.node_id for n in result.nodes] == result.ids
    return result.ids, result.similarities


# ---------------------------------------------------------------- construction


def test_dimension_comes_from_the_first_nodes(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.client is None
    assert query(store, query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2) == ([], [])
    store.add(text_nodes(dim=3))
    assert isinstance(store.client, vs.Collection)
    assert store.dim == 3 and store.metric == "COSINE"
    assert store.client.count() == len(TEXTS)


def test_dimension_given_creates_the_collection(make_store: StoreFactory) -> None:
    store = make_store(dim=4, collection_name="docs", metric="l2")
    assert store.client is not None and store.client.name == "docs"
    assert store.metric == "L2"
    with pytest.raises(ValueError, match="dimension"):
        store.add([TextNode(text="x", id_="x", embedding=[1.0, 2.0])])


def test_path_stores_share_one_client(make_store: StoreFactory) -> None:
    first = make_store("disk", dim=4)
    second = make_store("disk")  # the same path, in the same process
    assert second.dim == 4 and second.client is first.client  # one client: one collection


def test_existing_client_and_collection(make_store: StoreFactory) -> None:
    db = vs.connect(":memory:")
    try:
        store = make_store(client=db, collection_name="mine")
        store.add(text_nodes())
        again = make_store(collection=db.get_collection("mine"))
        assert again.db is None and again.dim == 4 and again.collection_name == "mine"
        assert len(again.get_nodes()) == len(TEXTS)
        again.close()  # does not close a client it did not open
        assert not db.closed
    finally:
        db.close()


def test_existing_collection_is_checked(make_store: StoreFactory) -> None:
    db = vs.connect(":memory:")
    try:
        db.create_collection("plain", dimension=4)
        with pytest.raises(ValueError, match="not a LlamaIndex collection"):
            make_store(client=db, collection_name="plain")
        make_store(client=db, collection_name="li", dim=4)
        with pytest.raises(ValueError, match="dimension 4, not 8"):
            make_store(client=db, collection_name="li", dim=8)
        with pytest.raises(ValueError, match="metric COSINE, not IP"):
            make_store(client=db, collection_name="li", metric="IP")
    finally:
        db.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "HAMMING"}, r"metric must be one of .*got 'HAMMING'"),
        ({"hybrid_ranker": "best"}, r"hybrid_ranker must be one of .*got 'best'"),
        ({"default_alpha": 1.5}, r"default_alpha must be a number in \[0, 1\], got 1.5"),
        ({"mmr_prefetch_factor": 0.5}, r"mmr_prefetch_factor must be >= 1, got 0.5"),
        ({"uri": None}, r"pass uri=, client= or collection="),
        ({"client": object(), "collection": object()}, r"pass client= or collection=, not both"),
    ],
)
def test_bad_options(options: dict[str, Any], message: str) -> None:
    # the adapter raises a plain ValueError for its own options (not a Kestrel error)
    with pytest.raises(ValueError, match=message):
        KestrelVectorStore(**options)


def test_serialises_its_settings(make_store: StoreFactory) -> None:
    store = make_store(dim=4, metric="IP", hybrid_ranker="rrf")
    data = store.to_dict()
    assert data["class_name"] == "KestrelVectorStore"
    assert data["metric"] == "IP" and data["dim"] == 4 and data["hybrid_ranker"] == "rrf"


# ------------------------------------------------------------------ round trip


def test_nodes_round_trip(make_store: StoreFactory, store_kind: str) -> None:
    parent = RelatedNodeInfo(node_id="parent", metadata={"level": 1})
    nodes: list[BaseNode] = [
        TextNode(
            text="a text node",
            id_="t",
            embedding=[0.5, 0.25, 0.0, 1.0],
            metadata={"author": "Ann", "tags": ["x", "y"], "nested": {"a": [1, 2]}, "n": None},
            excluded_llm_metadata_keys=["tags"],
            relationships={
                NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1"),
                NodeRelationship.PARENT: parent,
                NodeRelationship.NEXT: RelatedNodeInfo(node_id="i"),
            },
            start_char_idx=3,
            end_char_idx=14,
        ),
        IndexNode(text="an index node", id_="i", embedding=[0.0, 1.0, 0.0, 0.0], index_id="sub"),
        ImageNode(text="an image caption", id_="img", embedding=[1.0, 0.0, 0.0, 0.0]),
        Document(text="a whole document", id_="d", embedding=[0.0, 0.0, 1.0, 0.0]),
    ]
    store = make_store(store_kind)
    assert store.add(nodes) == ["t", "i", "img", "d"]
    got = store.get_nodes(node_ids=["d", "img", "missing", "i", "t"])
    # metadata_dict_to_node turns a Document into a TextNode (in every other
    # LlamaIndex store); this one keeps it a Document
    assert [type(n) for n in got] == [Document, ImageNode, IndexNode, TextNode]
    for original, back in zip(reversed(nodes), got, strict=True):
        assert back == original
        assert back.node_id == original.node_id
        assert back.get_content() == original.get_content()
        assert back.embedding == original.embedding
        assert back.ref_doc_id == original.ref_doc_id
        assert back.relationships == original.relationships
        assert back.metadata == original.metadata
    hit = store.query(VectorStoreQuery(query_embedding=[0.5, 0.25, 0.0, 1.0]))
    assert hit.nodes is not None and hit.nodes[0].embedding is None  # no vectors in results
    assert hit.nodes[0].get_content() == "a text node"
    assert hit.nodes[0].ref_doc_id == "doc-1"


def test_add_replaces_and_dedupes(make_store: StoreFactory) -> None:
    store = make_store()
    first = TextNode(text="old", id_="n", embedding=[1.0, 0.0], metadata={"v": 1})
    store.add([first])
    twice = [
        TextNode(text="newer", id_="n", embedding=[0.0, 1.0], metadata={"v": 2}),
        TextNode(text="newest", id_="n", embedding=[0.0, 1.0], metadata={"v": 3}),
    ]
    assert store.add(twice) == ["n", "n"]
    (node,) = store.get_nodes()
    assert node.get_content() == "newest" and node.metadata == {"v": 3}
    assert store.add([]) == []


def test_add_errors_leave_the_store_unchanged(make_store: StoreFactory) -> None:
    store = make_store()
    store.add([TextNode(text="ok", id_="ok", embedding=[1.0, 0.0])])
    with pytest.raises(ValueError, match="no embedding"):
        store.add([TextNode(text="x", id_="x")])
    too_long = TextNode(text="x" * 70_000, id_="long", embedding=[1.0, 0.0])
    with pytest.raises(ValueError, match="max_length"):
        store.add([TextNode(text="fine", id_="fine", embedding=[1.0, 0.0]), too_long])
    assert [n.node_id for n in store.get_nodes()] == ["ok"]


# --------------------------------------------------------------------- deletes


def test_delete_by_ref_doc_and_nodes(make_store: StoreFactory, store_kind: str) -> None:
    store = make_store(store_kind)
    store.add(text_nodes())
    store.delete("doc-owl")
    store.delete("no-such-doc")
    assert "owl" not in {n.node_id for n in store.get_nodes()}
    store.delete_nodes(
        ["rust", "tea"], filters=MetadataFilters.from_dicts([{"key": "topic", "value": "tea"}])
    )
    assert {n.node_id for n in store.get_nodes()} == {"rust", "python", "falcon"}
    store.delete_nodes(
        filters=MetadataFilters.from_dicts([{"key": "len", "operator": ">", "value": 52}])
    )
    assert {n.node_id for n in store.get_nodes()} == {"falcon"}
    store.delete_nodes([])  # an empty list deletes nothing
    with pytest.raises(ValueError, match="clear"):
        store.delete_nodes()
    with pytest.raises(ValueError, match="clear"):
        store.delete_nodes(filters=MetadataFilters(filters=[]))
    store.clear()
    assert store.get_nodes() == [] and store.client is not None and store.client.count() == 0
    store.add(text_nodes())  # still usable after clear
    assert len(store.get_nodes()) == len(TEXTS)


def test_get_nodes(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.get_nodes() == []
    store.add(text_nodes())
    assert store.get_nodes(node_ids=[]) == []
    filters = MetadataFilters.from_dicts(
        [{"key": "topic", "operator": "in", "value": ["owl", "tea"]}]
    )
    assert {n.node_id for n in store.get_nodes(filters=filters)} == {"owl", "tea"}
    assert [n.node_id for n in store.get_nodes(["tea", "rust"], filters)] == ["tea"]


# ----------------------------------------------------------------- query modes


def test_node_ids_and_doc_ids_restrict_unless_empty(make_store: StoreFactory) -> None:
    store = make_store()
    store.add(text_nodes())
    q = [1.0, 0.0, 0.0, 0.0]
    everything, _ = query(store, query_embedding=q, similarity_top_k=10)
    assert set(everything) == set(TEXTS)
    assert (
        query(store, query_embedding=q, similarity_top_k=10, node_ids=[], doc_ids=[])[0]
        == everything
    )
    assert set(
        query(store, query_embedding=q, similarity_top_k=10, node_ids=["owl", "tea"])[0]
    ) == {"owl", "tea"}
    got, _ = query(
        store,
        query_embedding=q,
        similarity_top_k=10,
        doc_ids=["doc-rust", "doc-tea"],
        node_ids=["tea", "owl"],
    )
    assert got == ["tea"]


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_similarities_per_metric(make_store: StoreFactory, metric: str) -> None:
    """Higher is better, and a (query, node) pair scores the same in any query."""
    store = make_store(metric=metric)
    nodes = text_nodes()
    store.add(nodes)
    vectors = {
        n.node_id: np.asarray(n.embedding, dtype=np.float32).astype(np.float64) for n in nodes
    }

    def expected(q: np.ndarray, v: np.ndarray) -> float:
        if metric == "COSINE":
            return float(q @ v / (np.linalg.norm(q) * np.linalg.norm(v)))
        if metric == "IP":
            return float(q @ v)
        return 1.0 - float(np.linalg.norm(q - v)) / math.sqrt(2.0)  # as langchain_kestrel

    for q in (np.array([1.0, 0.5, -0.5, 0.0]), np.array([-2.0, 0.1, 0.3, 1.0])):
        ids, sims = query(store, query_embedding=q.tolist(), similarity_top_k=len(TEXTS))
        assert sims == sorted(sims, reverse=True)
        assert sims == pytest.approx([expected(q, vectors[i]) for i in ids], rel=1e-4, abs=1e-5)
        best = sorted(TEXTS, key=lambda i: -expected(q, vectors[i]))
        assert ids == best


def bm25_store(make_store: StoreFactory, **options: Any) -> KestrelVectorStore:
    store = make_store(**options)
    store.add(text_nodes())
    return store


@pytest.mark.parametrize("mode", [Mode.SPARSE, Mode.TEXT_SEARCH])
def test_text_modes_are_bm25(make_store: StoreFactory, mode: VectorStoreQueryMode) -> None:
    store = bm25_store(make_store)
    ids, sims = query(store, mode=mode, query_str="programming language", similarity_top_k=1)
    assert ids[0] in {"rust", "python"} and len(ids) == 1 and sims[0] > 0
    ids, sims = query(
        store, mode=mode, query_str="programming language", similarity_top_k=1, sparse_top_k=5
    )
    assert set(ids) == {"rust", "python"}  # only rows holding a query term
    # the raw BM25 score, as the engine reports it
    hits = store.client.search(["programming language"], anns_field="sparse", limit=2)[0]  # type: ignore[union-attr]
    assert sims == pytest.approx([h.distance for h in hits])
    filters = MetadataFilters.from_dicts([{"key": "topic", "value": "python"}])
    assert query(store, mode=mode, query_str="programming", filters=filters, sparse_top_k=5)[0] == [
        "python"
    ]


def test_hybrid_alpha_weighs_dense_against_bm25(make_store: StoreFactory) -> None:
    store = bm25_store(make_store)
    nodes = {n.node_id: n for n in text_nodes()}
    q = nodes["tea"].embedding  # dense says "tea", words say "falcon bird"
    common = {
        "query_embedding": q,
        "query_str": "falcon bird",
        "similarity_top_k": 5,
        "sparse_top_k": 5,
    }
    dense_only, dense_sims = query(store, mode=Mode.HYBRID, alpha=1.0, **common)
    assert dense_only == query(store, query_embedding=q, similarity_top_k=5)[0]
    # alpha = 1: the score is Milvus's normalised cosine, (1 + cos) / 2
    cosines = query(store, query_embedding=q, similarity_top_k=5)[1]
    assert dense_sims == pytest.approx([(1 + c) / 2 for c in cosines])
    words_only, word_sims = query(store, mode=Mode.HYBRID, alpha=0.0, **common)
    bm25_ids, bm25 = query(store, mode=Mode.TEXT_SEARCH, query_str="falcon bird", sparse_top_k=5)
    assert bm25_ids == ["falcon"]  # "birds" is another word to the standard analyzer
    assert words_only[: len(bm25_ids)] == bm25_ids
    assert word_sims[: len(bm25)] == pytest.approx([2 * math.atan(s) / math.pi for s in bm25])
    assert word_sims[len(bm25) :] == [0.0] * (len(word_sims) - len(bm25))  # dense-only rows
    mixed, _ = query(store, mode=Mode.HYBRID, alpha=0.5, **common)
    assert mixed[0] in {"tea", "falcon"}
    default, _ = query(store, mode=Mode.HYBRID, **common)  # default_alpha = 0.5
    assert default == mixed


def test_hybrid_top_k_and_sparse_top_k(make_store: StoreFactory) -> None:
    store = bm25_store(make_store)
    q = [0.0, 0.0, 0.0, 1.0]
    ids, _ = query(
        store,
        mode=Mode.HYBRID,
        query_embedding=q,
        query_str="tea",
        similarity_top_k=1,
        sparse_top_k=1,
        hybrid_top_k=5,
    )
    assert ids == ["python", "tea"]  # the dense top 1 and the BM25 top 1, fused
    ids, _ = query(
        store,
        mode=Mode.HYBRID,
        query_embedding=q,
        query_str="tea",
        similarity_top_k=5,
        hybrid_top_k=2,
    )
    assert len(ids) == 2
    ids, _ = query(store, mode=Mode.HYBRID, query_embedding=q, query_str="tea", similarity_top_k=3)
    assert len(ids) == 3  # hybrid_top_k defaults to similarity_top_k


def test_hybrid_rrf(make_store: StoreFactory) -> None:
    common: dict[str, Any] = {
        "mode": Mode.HYBRID,
        "query_embedding": [0.0, 0.0, 0.0, 1.0],
        "query_str": "falcon",
        "similarity_top_k": 3,
    }
    store = bm25_store(make_store, hybrid_ranker="rrf", rrf_k=10)
    ids, sims = query(store, **common)
    dense = query(store, query_embedding=common["query_embedding"], similarity_top_k=3)[0]
    words = query(store, mode=Mode.TEXT_SEARCH, query_str="falcon", similarity_top_k=3)[0]
    expected: dict[str, float] = {}
    for route in (dense, words):
        for rank, node_id in enumerate(route, start=1):
            # RRF, on the [0, 1] scale: times (k + 1) / routes
            expected[node_id] = expected.get(node_id, 0.0) + (1 / (10 + rank)) * 11 / 2
    assert dict(zip(ids, sims, strict=True)) == pytest.approx({i: expected[i] for i in ids})
    assert ids == sorted(expected, key=lambda i: -expected[i])[:3]
    # per query, through a retriever's vector_store_kwargs
    weighted = bm25_store(make_store)
    assert query(weighted, store_kwargs={"hybrid_ranker": "rrf", "rrf_k": 10}, **common) == (
        ids,
        sims,
    )


def test_mmr_uses_the_llama_index_helper(
    make_store: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make_store()
    nodes = [
        TextNode(text="a", id_="a", embedding=[1.0, 0.0]),
        TextNode(text="a2", id_="a2", embedding=[0.99, 0.05]),
        TextNode(text="b", id_="b", embedding=[0.6, 0.8]),
    ]
    store.add(nodes)
    q = [1.0, 0.0]
    plain, _ = query(store, query_embedding=q, similarity_top_k=2)
    assert plain == ["a", "a2"]
    diverse, sims = query(
        store, mode=Mode.MMR, query_embedding=q, similarity_top_k=2, mmr_threshold=0.3
    )
    assert diverse == ["a", "b"]
    cos = query(store, query_embedding=q, similarity_top_k=3)
    assert sims == pytest.approx([dict(zip(*cos, strict=True))[i] for i in diverse])
    relevance_only, _ = query(
        store, mode=Mode.MMR, query_embedding=q, similarity_top_k=2, mmr_threshold=1.0
    )
    assert relevance_only == plain
    # mmr_threshold may also come as a store kwarg, as SimpleVectorStore reads it
    assert (
        query(
            store,
            mode=Mode.MMR,
            query_embedding=q,
            similarity_top_k=2,
            store_kwargs={"mmr_threshold": 0.3},
        )[0]
        == diverse
    )
    import llama_index.vector_stores.kestrel.queries as queries

    calls = []
    real = queries.get_top_k_mmr_embeddings

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(queries, "get_top_k_mmr_embeddings", spy)
    query(
        store,
        mode=Mode.MMR,
        query_embedding=q,
        similarity_top_k=1,
        store_kwargs={"mmr_prefetch_k": 2},
    )
    assert len(calls) == 1 and len(calls[0]["embedding_ids"]) == 2


def test_unsupported_modes_and_missing_inputs(make_store: StoreFactory) -> None:
    store = bm25_store(make_store)
    for mode in (Mode.SVM, Mode.SEMANTIC_HYBRID, Mode.LINEAR_REGRESSION):
        with pytest.raises(
            ValueError, match="supported modes: default, mmr, sparse, text_search, hybrid"
        ):
            store.query(VectorStoreQuery(query_embedding=[1.0] * 4, mode=mode))
    with pytest.raises(ValueError, match="query_embedding"):
        store.query(VectorStoreQuery(query_str="x"))
    with pytest.raises(ValueError, match="query_str"):
        store.query(VectorStoreQuery(mode=Mode.TEXT_SEARCH))
    with pytest.raises(ValueError, match="alpha"):
        store.query(
            VectorStoreQuery(mode=Mode.HYBRID, query_embedding=[1.0] * 4, query_str="x", alpha=2.0)
        )
    no_bm25 = make_store(enable_bm25=False, collection_name="dense_only")
    no_bm25.add(text_nodes())
    assert no_bm25.client is not None and "sparse" not in {
        f.name for f in no_bm25.client.schema.fields
    }
    with pytest.raises(ValueError, match="enable_bm25=False"):
        no_bm25.query(VectorStoreQuery(mode=Mode.SPARSE, query_str="x"))
    assert query(no_bm25, query_embedding=[1.0] * 4, similarity_top_k=1)[0]


# ----------------------------------------------------------------------- async


def test_async_variants(make_store: StoreFactory) -> None:
    store = make_store()
    nodes = text_nodes()

    async def scenario() -> None:
        assert await store.async_add(nodes) == [n.node_id for n in nodes]
        result = await store.aquery(VectorStoreQuery(query_embedding=nodes[0].embedding))
        assert result.ids == [nodes[0].node_id]
        assert len(await store.aget_nodes()) == len(nodes)
        await store.adelete("doc-rust")
        await store.adelete_nodes(["owl"])
        assert {n.node_id for n in await store.aget_nodes()} == {"python", "falcon", "tea"}
        # concurrent queries run in worker threads
        results = await asyncio.gather(
            *(store.aquery(VectorStoreQuery(query_embedding=n.embedding)) for n in nodes)
        )
        assert all(r.ids for r in results)
        await store.aclear()
        assert await store.aget_nodes() == []

    asyncio.run(scenario())


def test_reopen_a_path_store(make_store: StoreFactory) -> None:
    store = make_store("disk")
    store.add(text_nodes())
    store.delete("doc-tea")
    store.close()
    again = make_store("disk")
    assert again.dim == 4 and again.metric == "COSINE" and again.enable_bm25
    assert {n.node_id for n in again.get_nodes()} == set(TEXTS) - {"tea"}
    assert query(again, mode=Mode.TEXT_SEARCH, query_str="falcon")[0] == ["falcon"]


def test_a_read_only_store_without_the_collection_says_so(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    writer = KestrelVectorStore(uri=path, collection_name="docs")
    writer.add(text_nodes())
    writer.close()
    read_only = {"read_only": True}
    with pytest.raises(vs.CollectionNotFoundError, match=r"'dcos' does not exist.*\['docs'\]"):
        KestrelVectorStore(uri=path, collection_name="dcos", connect_options=read_only)
    reader = KestrelVectorStore(uri=path, collection_name="docs", connect_options=read_only)
    assert len(reader.get_nodes()) == len(TEXTS)
    reader.close()


OTHER_PROCESS = """
import sys
from llama_index.core.schema import TextNode
from llama_index.vector_stores.kestrel import KestrelVectorStore
store = KestrelVectorStore(uri=sys.argv[1], collection_name="docs")
store.add([TextNode(id_="child", text="from the other process", embedding=[1.0, 0, 0, 0])])
print("added", flush=True)
sys.stdin.readline()  # the parent adds a node meanwhile
print(sorted(n.node_id for n in store.get_nodes(node_ids=["child", "parent"])), flush=True)
store.close()
"""


def test_two_stores_in_two_processes_on_one_path_both_write(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    writer = KestrelVectorStore(uri=path, collection_name="docs")
    writer.add(text_nodes())
    writer.close()
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "added"
        mine = KestrelVectorStore(uri=path, collection_name="docs")
        assert [n.node_id for n in mine.get_nodes(node_ids=["child"])] == ["child"]
        mine.add([TextNode(id_="parent", text="from the parent", embedding=[0, 1.0, 0, 0])])
        other.stdin.write("go\n")
        other.stdin.flush()
        assert other.stdout.readline().strip() == "['child', 'parent']"
        mine.close()
        reader = KestrelVectorStore(
            uri=path, collection_name="docs", connect_options={"read_only": True}
        )
        assert len(reader.get_nodes()) == len(TEXTS) + 2
        reader.close()
    finally:
        other.communicate(timeout=60)
    assert other.returncode == 0
