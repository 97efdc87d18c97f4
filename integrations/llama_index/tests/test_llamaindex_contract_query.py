"""Independent contract tests of the LlamaIndex adapter (QA suite): dense
queries and similarities per metric, MMR, BM25 text search and hybrid fusion,
async and threaded use, and a ``VectorStoreIndex`` over the store.

Written from the contract (issue text, DESIGN.md, the adapter's docstrings) and
llama-index-core's own semantics, not from the adapter's implementation:
similarities against hand-computed values, modes against each other.
"""

from __future__ import annotations

import asyncio
import math
import threading
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import UNIT, StoreFactory, WordEmbedding, flt, group, ids_of, node, q

Op = FilterOperator
Mode = VectorStoreQueryMode


def unit_store(make_store: StoreFactory, **kwargs: Any) -> KestrelVectorStore:
    """A store holding the UNIT vectors, each under its name."""
    store = make_store(**kwargs)
    store.add([node(k, f"text {k}", v) for k, v in UNIT.items()])
    return store


# ------------------------------------------------------------ dense queries


def test_k_larger_than_store_and_zero(make_store: StoreFactory) -> None:
    store = unit_store(make_store)
    assert len(store.query(q(UNIT["x"], k=50)).ids) == len(UNIT)
    assert store.query(q(UNIT["x"], k=0)).ids == []  # as SimpleVectorStore: nothing asked


def test_k_above_engine_cap_on_a_small_store(make_store: StoreFactory) -> None:
    """k larger than the store returns every node, even when k is above 16384."""
    store = unit_store(make_store)
    assert len(store.query(q(UNIT["x"], k=20_000)).ids) == len(UNIT)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("COSINE", {"x": 1.0, "xy": 0.6, "y": 0.0, "z": 0.0, "-x": -1.0}),
        ("IP", {"x": 2.0, "xy": 1.2, "y": 0.0, "z": 0.0, "-x": -2.0}),
        (  # 1 - (Euclidean distance) / sqrt(2): langchain-core's relevance, as langchain_kestrel
            "L2",
            {
                k: 1 - math.sqrt((v[0] - 2) ** 2 + v[1] ** 2 + v[2] ** 2) / math.sqrt(2)
                for k, v in UNIT.items()
            },
        ),
    ],
)
def test_similarities_per_metric(
    make_store: StoreFactory, metric: str, expected: dict[str, float]
) -> None:
    store = unit_store(make_store, metric=metric)
    query = [2.0, 0.0, 0.0]  # not unit length: IP and L2 differ from COSINE
    res = store.query(q(query, k=5))
    assert dict(zip(res.ids, res.similarities, strict=True)) == pytest.approx(expected, abs=1e-5)
    assert res.similarities == sorted(res.similarities, reverse=True)


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_similarities_comparable_across_queries(make_store: StoreFactory, metric: str) -> None:
    """An exact match scores higher than a poor match of another query."""
    store = unit_store(make_store, metric=metric)
    exact = store.query(q(UNIT["y"], k=1)).similarities[0]
    poor = store.query(q([0.0, -1.0, 0.0], k=1)).similarities[0]
    assert exact > poor


def test_node_ids_and_doc_ids_restrict_and_empty_lists_do_not(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    src = NodeRelationship.SOURCE
    store.add(
        [
            TextNode(
                id_=f"{d}{i}",
                text=f"{d} {i}",
                embedding=[1.0, i / 10],
                metadata={"i": i},
                relationships={src: RelatedNodeInfo(node_id=d)},
            )
            for d in ("A", "B")
            for i in range(4)
        ]
    )
    everything = sorted(store.query(q([1.0, 0.0], k=20)).ids)
    assert len(everything) == 8
    assert sorted(store.query(q([1.0, 0.0], k=20, node_ids=[], doc_ids=[])).ids) == everything
    assert sorted(store.query(q([1.0, 0.0], k=20, doc_ids=["B"])).ids) == ["B0", "B1", "B2", "B3"]
    both = q([1.0, 0.0], k=20, doc_ids=["B"], filters=group(flt("i", Op.GTE, 2)))
    assert sorted(store.query(both).ids) == ["B2", "B3"]
    ids = q([1.0, 0.0], k=20, node_ids=["A1", "B1", "zz"], doc_ids=["B"])
    assert store.query(ids).ids == ["B1"]


def test_unsupported_modes_are_clear_errors(make_store: StoreFactory) -> None:
    store = unit_store(make_store)
    for mode in (Mode.SVM, Mode.LOGISTIC_REGRESSION, Mode.LINEAR_REGRESSION, Mode.SEMANTIC_HYBRID):
        with pytest.raises(ValueError, match=mode.value):
            store.query(q(UNIT["x"], query_str="text", mode=mode))


# ------------------------------------------------------------------- MMR


def test_mmr_threshold_one_is_plain_similarity(make_store: StoreFactory) -> None:
    store = make_store()
    vecs = {"a": [1.0, 0.0], "a2": [0.99, 0.141], "b": [0.6, 0.8], "c": [0.0, 1.0]}
    store.add([node(k, k, v) for k, v in vecs.items()])
    dense = store.query(q([1.0, 0.0], k=3)).ids
    mmr = store.query(q([1.0, 0.0], k=3, mode=Mode.MMR, mmr_threshold=1.0)).ids
    assert mmr == dense == ["a", "a2", "b"]
    diverse = store.query(q([1.0, 0.0], k=2, mode=Mode.MMR, mmr_threshold=0.1)).ids
    assert diverse[0] == "a" and diverse[1] != "a2"
    # the threshold also comes through the retriever's vector_store_kwargs
    alt = store.query(q([1.0, 0.0], k=2, mode=Mode.MMR), mmr_threshold=0.1).ids
    assert alt == diverse


def test_mmr_respects_filters_and_k(make_store: StoreFactory) -> None:
    store = make_store()
    store.add(
        [
            node(f"n{i}", f"t{i}", [1.0, i / 10], parity=("odd", "even")[i % 2 == 0])
            for i in range(10)
        ]
    )
    even = group(flt("parity", Op.EQ, "even"))
    res = store.query(q([1.0, 0.0], k=3, mode=Mode.MMR, filters=even))
    assert len(res.ids) == 3
    assert all(int(i[1:]) % 2 == 0 for i in res.ids)
    assert len(res.similarities) == 3


# ------------------------------------------------------------ BM25 / hybrid

CORPUS = {
    "k1": ("The kestrel hovers over the field", [1.0, 0.0, 0.0]),
    "k2": ("A kestrel and an owl share the barn", [0.9, 0.3, 0.0]),
    "c1": ("Error E1234 crashes the rust compiler", [0.0, 1.0, 0.0]),
    "c2": ("The rust compiler is fast", [0.1, 0.9, 0.1]),
    "s1": ("Mars and the E1234 probe", [0.0, 0.1, 1.0]),
    "f1": ("Soup recipe with owl-shaped bread", [0.3, 0.0, 0.7]),
}


def corpus_store(make_store: StoreFactory, **kwargs: Any) -> KestrelVectorStore:
    store = make_store(**kwargs)
    store.add(
        [
            node(k, text, emb, group="code" if k.startswith("c") else "other")
            for k, (text, emb) in CORPUS.items()
        ]
    )
    return store


def test_text_search_and_sparse_use_bm25(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    for mode in (Mode.TEXT_SEARCH, Mode.SPARSE):
        res = store.query(VectorStoreQuery(query_str="E1234", similarity_top_k=5, mode=mode))
        assert sorted(res.ids) == ["c1", "s1"]
        assert all(s > 0 for s in res.similarities)
        top1 = VectorStoreQuery(
            query_str="kestrel owl", similarity_top_k=5, sparse_top_k=1, mode=mode
        )
        assert store.query(top1).ids == ["k2"]


def test_text_search_with_filters(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    res = store.query(
        VectorStoreQuery(
            query_str="E1234",
            similarity_top_k=5,
            mode=Mode.TEXT_SEARCH,
            filters=group(flt("group", Op.EQ, "code")),
        )
    )
    assert res.ids == ["c1"]


def test_hybrid_alpha_extremes_match_single_routes(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    emb = [0.0, 1.0, 0.0]
    dense = store.query(q(emb, k=2)).ids
    text = store.query(
        VectorStoreQuery(query_str="kestrel", similarity_top_k=2, mode=Mode.TEXT_SEARCH)
    ).ids
    only_dense = store.query(q(emb, k=2, query_str="kestrel", mode=Mode.HYBRID, alpha=1.0))
    assert only_dense.ids == dense
    only_text = store.query(q(emb, k=2, query_str="kestrel", mode=Mode.HYBRID, alpha=0.0))
    assert only_text.ids == text
    assert only_text.similarities == sorted(only_text.similarities, reverse=True)


def test_hybrid_top_k_and_sparse_top_k_are_honoured(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    base = {"query_str": "E1234 kestrel", "mode": Mode.HYBRID, "alpha": 0.5}
    # LlamaIndex's convention: similarity_top_k dense candidates, sparse_top_k
    # (default: similarity_top_k) BM25 candidates, hybrid_top_k fused results
    many = store.query(q([1.0, 0.0, 0.0], k=3, sparse_top_k=3, hybrid_top_k=4, **base))
    assert len(many.ids) == 4
    assert len(store.query(q([1.0, 0.0, 0.0], k=3, **base)).ids) == 3
    # dense top 1 (k1) + BM25 top 1: at most two distinct candidates
    few = store.query(q([1.0, 0.0, 0.0], k=1, sparse_top_k=1, hybrid_top_k=6, **base))
    assert few.ids == ["k1", "s1"]


def test_hybrid_rrf_and_filters(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    query = q(
        [0.0, 0.0, 1.0],
        k=3,
        query_str="E1234",
        mode=Mode.HYBRID,
        filters=group(flt("group", Op.EQ, "code")),
    )
    res = store.query(query, hybrid_ranker="rrf")
    # dense (filtered): c2 then c1; BM25 (filtered): c1 only
    assert res.ids == ["c1", "c2"]
    # the fused RRF score on the [0, 1] scale: times (k + 1) / routes (1: first in both)
    assert res.similarities == pytest.approx([(1 / 62 + 1 / 61) * 61 / 2, 0.5], rel=1e-6)
    rrf_store = corpus_store(make_store, hybrid_ranker="rrf", rrf_k=10)
    bm25 = rrf_store.query(
        VectorStoreQuery(query_str="E1234", similarity_top_k=5, mode=Mode.TEXT_SEARCH)
    ).ids
    top = rrf_store.query(
        q([0.0, 1.0, 0.0], k=1, sparse_top_k=5, query_str="E1234", mode=Mode.HYBRID)
    )
    # c1: dense rank 1, BM25 rank bm25.index("c1") + 1; RRF with the store's k=10
    assert top.ids == ["c1"]
    assert top.similarities[0] == pytest.approx((1 / 11 + 1 / (11 + bm25.index("c1"))) * 11 / 2)


def test_hybrid_bad_alpha_and_missing_inputs(make_store: StoreFactory) -> None:
    store = corpus_store(make_store)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 1.5"):
        store.query(q([1.0, 0.0, 0.0], query_str="x", mode=Mode.HYBRID, alpha=1.5))
    with pytest.raises(ValueError, match="query mode 'hybrid' needs a query_str"):
        store.query(q([1.0, 0.0, 0.0], mode=Mode.HYBRID))
    with pytest.raises(ValueError, match="query mode 'text_search' needs a query_str"):
        store.query(VectorStoreQuery(similarity_top_k=2, mode=Mode.TEXT_SEARCH))
    plain = make_store(enable_bm25=False)
    plain.add([node("a", "alpha", [1.0, 0.0])])
    with pytest.raises(ValueError, match="BM25"):
        plain.query(VectorStoreQuery(query_str="alpha", similarity_top_k=1, mode=Mode.TEXT_SEARCH))


# ------------------------------------------------------- async / threads


def test_async_methods_under_gather(make_store: StoreFactory) -> None:
    store = make_store(dim=2)

    async def run() -> list[Any]:
        await asyncio.gather(
            *[store.async_add([node(f"n{i}", f"text {i}", [1.0, i / 50], i=i)]) for i in range(40)]
        )
        return await asyncio.gather(
            *[store.aquery(q([1.0, 0.0], k=5)) for _ in range(10)],
            store.aget_nodes(["n1", "n2"]),
            store.adelete_nodes(["n3"]),
            store.aquery(
                VectorStoreQuery(query_str="text", similarity_top_k=3, mode=Mode.TEXT_SEARCH)
            ),
        )

    results = asyncio.run(run())
    assert all(len(r.ids) == 5 for r in results[:10])
    assert ids_of(results[10]) == ["n1", "n2"]
    assert len(results[12].ids) == 3
    assert len(store.get_nodes()) == 39


def test_threads_add_while_querying(tmp_path: Path, make_store: StoreFactory) -> None:
    store = make_store(uri=str(tmp_path / "db"), connect_options={"durability": "none"})
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(50):
                store.add([node(f"w{w}-{i}", f"writer {w} item {i}", [1.0, w + i / 100])])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        seen = 0
        try:
            for _ in range(60):
                res = store.query(q([1.0, 0.0], k=5))
                assert len(res.ids) == len(set(res.ids)) <= 5
                # no node has "missing": every node written so far passes, each once,
                # and a later read never sees fewer (the writers only add)
                got = ids_of(store.get_nodes(filters=group(flt("missing", Op.IS_EMPTY, None))))
                assert seen <= len(got) == len(set(got)) <= 200
                seen = len(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.get_nodes()) == 200


# --------------------------------------------------------- VectorStoreIndex


def test_index_insert_delete_and_refresh(make_store: StoreFactory) -> None:
    store = make_store()
    index = VectorStoreIndex.from_documents(
        [Document(id_="A", text="Kestrels hover."), Document(id_="B", text="Rust compiles.")],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WordEmbedding(),
    )

    def docs() -> dict[str, str]:
        return {n.ref_doc_id or "": n.text for n in store.get_nodes()}

    assert docs() == {"A": "Kestrels hover.", "B": "Rust compiles."}
    index.insert(Document(id_="C", text="Mars is red."))
    assert set(docs()) == {"A", "B", "C"}
    index.delete_ref_doc("A")
    assert set(docs()) == {"B", "C"}
    refreshed = index.refresh_ref_docs(
        [
            Document(id_="B", text="Rust compiles fast."),
            Document(id_="C", text="Mars is red."),
            Document(id_="D", text="Owl soup."),
        ]
    )
    assert refreshed == [True, False, True]
    assert docs() == {"B": "Rust compiles fast.", "C": "Mars is red.", "D": "Owl soup."}
    retriever = index.as_retriever(similarity_top_k=1)
    assert retriever.retrieve("rust")[0].node.ref_doc_id == "B"
    hybrid = index.as_retriever(similarity_top_k=1, vector_store_query_mode="hybrid", alpha=0.0)
    assert hybrid.retrieve("owl")[0].node.ref_doc_id == "D"

    async def run() -> list[Any]:
        await index.ainsert(Document(id_="E", text="Python snakes."))
        await index.adelete_ref_doc("C")
        return await index.as_retriever(similarity_top_k=1).aretrieve("python")

    (hit,) = asyncio.run(run())
    assert hit.node.ref_doc_id == "E"
    assert set(docs()) == {"B", "D", "E"}
