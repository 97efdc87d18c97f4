"""Independent contract tests of the LlamaIndex adapter (QA suite).

Written from the contract (issue text, DESIGN.md, the adapter's docstrings) and
llama-index-core's own semantics, not from the adapter's implementation: filters
are checked against ``build_metadata_filter_fn`` (SimpleVectorStore's evaluator),
similarities against hand-computed values, modes against each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
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
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.vector_stores.kestrel import KestrelVectorStore

import vectorstore as vs

Op = FilterOperator
Cond = FilterCondition
Mode = VectorStoreQueryMode


# ------------------------------------------------------------------ helpers


class WordEmbedding(BaseEmbedding):
    """One dimension per known word (plus an "other" one), L2-normalised."""

    words: tuple[str, ...] = ("kestrel", "owl", "rust", "python", "mars", "soup")

    @classmethod
    def class_name(cls) -> str:
        return "QAWordEmbedding"

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * (len(self.words) + 1)
        for raw in text.lower().replace(".", " ").replace(",", " ").split():
            word = raw.rstrip("s") if raw.rstrip("s") in self.words else raw
            vec[self.words.index(word) if word in self.words else -1] += 1.0
        vec[-1] += 0.05
        norm = math.sqrt(sum(x * x for x in vec))
        return [x / norm for x in vec]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[KestrelVectorStore]]:
    """Stores a test builds; path stores are closed at the end."""
    made: list[KestrelVectorStore] = []
    yield made
    for store in made:
        store.close()


def new(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    store = KestrelVectorStore(**kwargs)
    made.append(store)
    return store


def node(node_id: str, text: str, emb: list[float], **metadata: Any) -> TextNode:
    return TextNode(id_=node_id, text=text, embedding=emb, metadata=metadata)


def q(emb: list[float] | None = None, k: int = 10, **kwargs: Any) -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=emb, similarity_top_k=k, **kwargs)


def flt(key: str, op: FilterOperator, value: Any) -> MetadataFilter:
    return MetadataFilter(key=key, operator=op, value=value)


def group(*items: Any, condition: FilterCondition = Cond.AND) -> MetadataFilters:
    return MetadataFilters(filters=list(items), condition=condition)


def ids_of(nodes: list[BaseNode]) -> list[str]:
    return [n.node_id for n in nodes]


def dump(n: BaseNode) -> dict[str, Any]:
    data = n.model_dump()
    data.pop("embedding", None)
    return data


UNIT = {
    "x": [1.0, 0.0, 0.0],
    "xy": [0.6, 0.8, 0.0],
    "y": [0.0, 1.0, 0.0],
    "z": [0.0, 0.0, 1.0],
    "-x": [-1.0, 0.0, 0.0],
}


def unit_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    store = new(made, **kwargs)
    store.add([node(k, f"text {k}", v) for k, v in UNIT.items()])
    return store


# ------------------------------------------------------------- construction


def test_dim_is_learned_from_first_nodes_and_enforced(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    assert store.client is None  # nothing created before the dimension is known
    assert store.add([node("a", "alpha", [1.0, 0.0, 0.0, 0.0])]) == ["a"]
    assert store.client is not None and store.dim == 4
    with pytest.raises(vs.DimensionMismatchError, match="vector has 2 dimensions, the field has 4"):
        store.add([node("b", "beta", [1.0, 0.0])])
    assert ids_of(store.get_nodes()) == ["a"]


def test_dim_given_creates_collection_at_once(stores: list[KestrelVectorStore]) -> None:
    store = new(stores, dim=3, metric="ip")
    assert store.client is not None
    assert store.metric == "IP"
    assert store.query(q(UNIT["x"])).ids == []


def test_memory_stores_are_private(stores: list[KestrelVectorStore]) -> None:
    a = new(stores)
    b = new(stores)
    a.add([node("a", "alpha", [1.0, 0.0])])
    assert b.get_nodes() == []
    assert b.query(q([1.0, 0.0])).ids == []


def test_path_store_reopens_with_its_data_metric_and_dim(
    tmp_path: Path, stores: list[KestrelVectorStore]
) -> None:
    uri = str(tmp_path / "db")
    first = KestrelVectorStore(uri=uri, collection_name="c", metric="L2")
    first.add([node(k, f"text {k}", v, key=k) for k, v in UNIT.items()])
    first.close()
    again = new(stores, uri=uri, collection_name="c")
    assert (again.metric, again.dim) == ("L2", 3)
    res = again.query(q(UNIT["x"], k=2))
    assert res.ids == ["x", "xy"]
    assert res.nodes[0].metadata == {"key": "x"}
    with pytest.raises(ValueError, match="collection 'c' has dimension 3, not 5"):
        new(stores, uri=uri, collection_name="c", dim=5)
    with pytest.raises(ValueError, match="collection 'c' uses metric L2, not COSINE"):
        new(stores, uri=uri, collection_name="c", metric="COSINE")


def test_sealed_segments_reopen_with_nodes_and_filters(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    opts = {"segment_rows": 2, "durability": "none"}
    originals = [_rich_node()] + [
        node(f"n{i}", f"text {i}", [0.0, 1.0, float(i)], s=f"Value-{i}", i=i, f=float(i))
        for i in range(5)
    ]
    store = KestrelVectorStore(uri=uri, connect_options=opts)
    store.add(originals)
    store.close()
    again = KestrelVectorStore(uri=uri, connect_options=opts)
    try:
        by_id = {n.node_id: n for n in again.get_nodes()}
        assert set(by_id) == {n.node_id for n in originals}
        for want in originals:
            assert dump(by_id[want.node_id]) == dump(want)
        insensitive = group(flt("s", Op.TEXT_MATCH_INSENSITIVE, "value-3"))
        assert ids_of(again.get_nodes(filters=insensitive)) == ["n3"]
        floats = group(flt("f", Op.EQ, 2), flt("i", Op.IN, [2, 4]))
        assert ids_of(again.get_nodes(filters=floats)) == ["n2"]
    finally:
        again.close()


def test_collections_of_the_other_adapter_are_refused(stores: list[KestrelVectorStore]) -> None:
    # the other adapter is another distribution: run where both are installed (the repo's run)
    pytest.importorskip("langchain_kestrel")
    from langchain_core.embeddings import FakeEmbeddings
    from langchain_kestrel import KestrelVectorStore as LangChainStore

    db = vs.connect(":memory:")
    try:
        lc = LangChainStore(FakeEmbeddings(size=4), client=db, collection_name="lc")
        lc.add_texts(["hello"], ids=["h"])
        with pytest.raises(ValueError, match="lc"):
            new(stores, client=db, collection_name="lc")
        li = new(stores, client=db, collection_name="li")
        li.add([node("n", "node", [1.0, 0.0])])
        with pytest.raises(vs.ConfigError):
            LangChainStore(FakeEmbeddings(size=2), client=db, collection_name="li")
    finally:
        db.close()


def test_client_and_collection_arguments(stores: list[KestrelVectorStore]) -> None:
    db = vs.connect(":memory:")
    try:
        a = new(stores, client=db, collection_name="shared")
        a.add([node("a", "alpha", [1.0, 0.0])])
        b = new(stores, client=db, collection_name="shared")
        assert ids_of(b.get_nodes()) == ["a"]
        c = new(stores, collection=db.get_collection("shared"))
        assert c.query(q([1.0, 0.0])).ids == ["a"]
        c.close()  # a store given a client/collection leaves it open
        assert db.has_collection("shared")
        assert ids_of(a.get_nodes()) == ["a"]
    finally:
        db.close()


def test_store_built_before_collection_exists_sees_it(
    tmp_path: Path, stores: list[KestrelVectorStore]
) -> None:
    """Two stores on one path and collection, built before any data: the second
    one's writes must be visible to the first (it is the same collection)."""
    uri = str(tmp_path / "db")
    early = new(stores, uri=uri, collection_name="lazy")
    other = new(stores, uri=uri, collection_name="lazy")
    other.add([node("a", "alpha kestrel", [1.0, 0.0])])
    assert ids_of(other.get_nodes()) == ["a"]
    assert early.query(q([1.0, 0.0])).ids == ["a"]
    assert ids_of(early.get_nodes()) == ["a"]


def test_closing_a_path_store_closes_the_shared_client(
    tmp_path: Path, stores: list[KestrelVectorStore]
) -> None:
    """Documented: path stores share one client; close() closes it for every holder,
    with a clear error, and a new store on the path gets the data back."""
    uri = str(tmp_path / "db")
    a = KestrelVectorStore(uri=uri, collection_name="a")
    b = KestrelVectorStore(uri=uri, collection_name="b")
    assert a.db is b.db
    a.add([node("a", "alpha", [1.0, 0.0])])
    b.add([node("b", "beta", [0.0, 1.0])])
    a.close()
    with pytest.raises(vs.ClosedError, match="collection 'b' is closed"):
        b.query(q([0.0, 1.0]))
    reopened = new(stores, uri=uri, collection_name="b")
    assert reopened.query(q([0.0, 1.0])).ids == ["b"]


# ----------------------------------------------------------------- writes


def test_add_empty_and_duplicate_ids_in_one_call(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    assert store.add([]) == []
    ids = store.add(
        [
            node("d", "first", [1.0, 0.0], v=1),
            node("e", "other", [0.0, 1.0]),
            node("d", "second", [0.0, 1.0], v=2),
        ]
    )
    assert ids == ["d", "e", "d"]
    got = store.get_nodes(["d"])
    assert [(n.text, n.metadata) for n in got] == [("second", {"v": 2})]
    assert len(store.get_nodes()) == 2


def test_readding_a_node_overwrites_it(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    store.add([node("n", "old text", [1.0, 0.0], v="old")])
    store.add([node("n", "new text", [0.0, 1.0], v="new")])
    (got,) = store.get_nodes()
    assert (got.text, got.metadata, got.embedding) == ("new text", {"v": "new"}, [0.0, 1.0])
    assert store.query(q([0.0, 1.0], k=1)).similarities == [pytest.approx(1.0)]


def test_ids_that_look_like_numbers_stay_distinct(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    keys = ["1", "01", "1.0", "-1", " 1", "1e3", "true"]
    store.add([node(k, f"text {i}", [1.0, float(i)]) for i, k in enumerate(keys)])
    assert ids_of(store.get_nodes(list(reversed(keys)))) == list(reversed(keys))
    store.delete_nodes(["01"])
    assert sorted(ids_of(store.get_nodes())) == sorted(k for k in keys if k != "01")


def test_text_limits_and_unicode(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    texts = {"max": "a" * 65535, "emoji": "🦅" * 65535, "mixed": "Ünïcødé — 中文 \x00 tab\t"}
    store.add([node(k, t, [1.0, float(i)]) for i, (k, t) in enumerate(texts.items())])
    assert {n.node_id: n.text for n in store.get_nodes()} == texts
    with pytest.raises(ValueError, match=r"65535|65,535|max_length"):
        store.add([node("ok", "fine", [1.0, 0.0]), node("big", "b" * 65536, [1.0, 0.0])])
    assert store.get_nodes(["ok", "big"]) == []  # the batch lands whole or not at all


def test_lone_surrogates_do_not_brick_a_path_store(tmp_path: Path) -> None:
    """Text or metadata holding a lone surrogate (``json.loads('"\\ud800"')``) must
    be rejected by ``add`` (a ValueError) or stored durably: never acknowledged
    and then impossible to close and reopen."""
    uri = str(tmp_path / "db")
    bad = json.loads('"broken \\ud800 text"')
    store = KestrelVectorStore(uri=uri)
    store.add([node("good", "good text", [1.0, 0.0])])
    try:
        store.add([node("bad", bad, [0.0, 1.0], note=bad)])
        accepted = True
    except ValueError:
        accepted = False
    try:
        store.close()
        close_error = None
    except Exception as exc:
        close_error = exc
    assert close_error is None, f"close() failed after add() was acknowledged: {close_error!r}"
    again = KestrelVectorStore(uri=uri)
    try:
        assert ids_of(again.get_nodes(["good"])) == ["good"]
        if accepted:
            (got,) = again.get_nodes(["bad"])
            assert (got.text, got.metadata) == (bad, {"note": bad})
    finally:
        with contextlib.suppress(Exception):
            again.close()


def test_node_without_embedding_is_a_clear_error(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    with pytest.raises(ValueError, match="embedding"):
        store.add([TextNode(id_="n", text="no vector")])


# ------------------------------------------------------------- round trips


def _rich_node() -> TextNode:
    rel = NodeRelationship
    return TextNode(
        id_="rich",
        text="héllo wörld 🦅",
        embedding=[1.0, 0.0, 0.0],
        metadata={
            "nested": {"a": [1, 2.5, "x", None, True]},
            "ключ": "значение",
            "float": 1.0,
            "big": 2**63 - 1,
            'we"ird.[key]': "v",
        },
        excluded_embed_metadata_keys=["float"],
        excluded_llm_metadata_keys=["nested"],
        start_char_idx=3,
        end_char_idx=17,
        text_template="{metadata_str}::{content}",
        metadata_template="{key}={value}",
        metadata_separator="; ",
        relationships={
            rel.SOURCE: RelatedNodeInfo(node_id="doc-1", metadata={"m": 1}),
            rel.PREVIOUS: RelatedNodeInfo(node_id="prev"),
            rel.NEXT: RelatedNodeInfo(node_id="next"),
            rel.PARENT: RelatedNodeInfo(node_id="parent"),
            rel.CHILD: [RelatedNodeInfo(node_id="c1"), RelatedNodeInfo(node_id="c2")],
        },
    )


def test_nodes_round_trip_exactly(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    originals: list[BaseNode] = [
        _rich_node(),
        IndexNode(id_="idx", text="an index node", index_id="sub", embedding=[0.0, 1.0, 0.0]),
        ImageNode(id_="img", text="an image", image="aGVsbG8=", embedding=[0.0, 0.0, 1.0]),
    ]
    store.add(originals)
    by_id = {n.node_id: n for n in originals}
    for got in store.get_nodes(list(by_id)):
        want = by_id[got.node_id]
        assert type(got) is type(want)
        assert dump(got) == dump(want)
        assert got.embedding == want.embedding
    result = store.query(q([1.0, 0.0, 0.0], k=3))
    assert result.ids == [n.node_id for n in result.nodes]
    for got in result.nodes:
        assert type(got) is type(by_id[got.node_id])
        assert dump(got) == dump(by_id[got.node_id])
    rich = store.get_nodes(["rich"])[0]
    assert rich.ref_doc_id == "doc-1"
    assert rich.metadata["float"] == 1.0 and type(rich.metadata["float"]) is float


def test_document_nodes_keep_their_type(stores: list[KestrelVectorStore]) -> None:
    """A Document added as a node comes back a Document (node type round trip)."""
    store = new(stores)
    doc = Document(id_="doc", text="a whole document", embedding=[1.0, 0.0], metadata={"k": 1})
    store.add([doc])
    (got,) = store.get_nodes(["doc"])
    assert type(got) is Document
    assert (got.text, got.metadata, got.node_id) == ("a whole document", {"k": 1}, "doc")


def test_chunked_document_relationships_survive(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    text = " ".join(f"Sentence number {i} is about kestrels and owls." for i in range(60))
    index = VectorStoreIndex.from_documents(
        [Document(id_="D", text=text, metadata={"src": "birds"})],
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=WordEmbedding(),
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0)],
    )
    assert index is not None
    chunks = sorted(store.get_nodes(), key=lambda n: n.start_char_idx or 0)
    assert len(chunks) > 3
    rel = NodeRelationship
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.relationships[rel.NEXT].node_id == nxt.node_id
        assert nxt.relationships[rel.PREVIOUS].node_id == prev.node_id
    for chunk in chunks:
        assert chunk.ref_doc_id == "D"
        assert chunk.metadata == {"src": "birds"}
        assert text[chunk.start_char_idx : chunk.end_char_idx] == chunk.text
    hits = store.query(q(WordEmbedding()._vector("owls"), k=len(chunks) + 5, doc_ids=["D"]))
    assert sorted(hits.ids) == sorted(ids_of(chunks))


# ----------------------------------------------------------------- deletes


def test_delete_by_ref_doc_id(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    rel = NodeRelationship.SOURCE
    nodes = [
        TextNode(
            id_=f"{d}-{i}",
            text=f"chunk {i}",
            embedding=[1.0, float(i)],
            relationships={rel: RelatedNodeInfo(node_id=d)},
        )
        for d in ("doc-a", "doc-b")
        for i in range(3)
    ]
    nodes.append(node("orphan", "no source", [0.0, 1.0]))
    store.add(nodes)
    store.delete("doc-a")
    store.delete("no-such-doc")
    assert sorted(ids_of(store.get_nodes())) == ["doc-b-0", "doc-b-1", "doc-b-2", "orphan"]
    asyncio.run(store.adelete("doc-b"))
    assert ids_of(store.get_nodes()) == ["orphan"]


def test_delete_nodes_by_ids_filters_and_both(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    store.add([node(f"n{i}", f"t{i}", [1.0, float(i)], i=i, even=i % 2 == 0) for i in range(6)])
    store.delete_nodes([])  # an empty list deletes nothing
    store.delete_nodes(["missing"])
    assert len(store.get_nodes()) == 6
    store.delete_nodes(filters=group(flt("i", Op.GTE, 4)))  # filters only
    assert sorted(ids_of(store.get_nodes())) == ["n0", "n1", "n2", "n3"]
    store.delete_nodes(["n0", "n1"], filters=group(flt("even", Op.EQ, "x")))
    assert len(store.get_nodes()) == 4  # ids AND filters: nothing passes both
    store.delete_nodes(["n0", "n1", "n2"], filters=group(flt("i", Op.LT, 2)))
    assert sorted(ids_of(store.get_nodes())) == ["n2", "n3"]
    with pytest.raises(ValueError, match=r"delete_nodes\(\) needs node_ids or filters"):
        store.delete_nodes()
    asyncio.run(store.adelete_nodes(["n2"]))
    assert ids_of(store.get_nodes()) == ["n3"]


def test_node_ids_given_as_a_string_are_not_split(stores: list[KestrelVectorStore]) -> None:
    """``delete_nodes("ab")`` must not delete the nodes "a" and "b"."""
    store = new(stores)
    store.add([node(k, k, [1.0, float(i)]) for i, k in enumerate(["a", "b", "ab"])])
    with contextlib.suppress(TypeError, ValueError):
        store.delete_nodes("ab")  # type: ignore[arg-type]
    left = sorted(ids_of(store.get_nodes()))
    assert left in (["a", "b"], ["a", "ab", "b"]), left


def test_clear_then_reuse(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
    store.clear()  # nothing yet: fine
    store.add([node("a", "alpha", [1.0, 0.0])])
    store.clear()
    assert store.get_nodes() == [] and store.query(q([1.0, 0.0])).ids == []
    store.add([node("b", "beta", [0.0, 1.0])])
    assert ids_of(store.get_nodes()) == ["b"]
    asyncio.run(store.aclear())
    assert store.get_nodes() == []


# ------------------------------------------------------------ dense queries


def test_k_larger_than_store_and_zero(stores: list[KestrelVectorStore]) -> None:
    store = unit_store(stores)
    assert len(store.query(q(UNIT["x"], k=50)).ids) == len(UNIT)
    assert store.query(q(UNIT["x"], k=0)).ids == []  # as SimpleVectorStore: nothing asked


def test_k_above_engine_cap_on_a_small_store(stores: list[KestrelVectorStore]) -> None:
    """k larger than the store returns every node, even when k is above 16384."""
    store = unit_store(stores)
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
    stores: list[KestrelVectorStore], metric: str, expected: dict[str, float]
) -> None:
    store = unit_store(stores, metric=metric)
    query = [2.0, 0.0, 0.0]  # not unit length: IP and L2 differ from COSINE
    res = store.query(q(query, k=5))
    assert dict(zip(res.ids, res.similarities, strict=True)) == pytest.approx(expected, abs=1e-5)
    assert res.similarities == sorted(res.similarities, reverse=True)


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_similarities_comparable_across_queries(
    stores: list[KestrelVectorStore], metric: str
) -> None:
    """An exact match scores higher than a poor match of another query."""
    store = unit_store(stores, metric=metric)
    exact = store.query(q(UNIT["y"], k=1)).similarities[0]
    poor = store.query(q([0.0, -1.0, 0.0], k=1)).similarities[0]
    assert exact > poor


def test_node_ids_and_doc_ids_restrict_and_empty_lists_do_not(
    stores: list[KestrelVectorStore],
) -> None:
    store = new(stores)
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


def test_unsupported_modes_are_clear_errors(stores: list[KestrelVectorStore]) -> None:
    store = unit_store(stores)
    for mode in (Mode.SVM, Mode.LOGISTIC_REGRESSION, Mode.LINEAR_REGRESSION, Mode.SEMANTIC_HYBRID):
        with pytest.raises(ValueError, match=mode.value):
            store.query(q(UNIT["x"], query_str="text", mode=mode))


# ------------------------------------------------------------------- MMR


def test_mmr_threshold_one_is_plain_similarity(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
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


def test_mmr_respects_filters_and_k(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
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


def corpus_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    store = new(made, **kwargs)
    store.add(
        [
            node(k, text, emb, group="code" if k.startswith("c") else "other")
            for k, (text, emb) in CORPUS.items()
        ]
    )
    return store


def test_text_search_and_sparse_use_bm25(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
    for mode in (Mode.TEXT_SEARCH, Mode.SPARSE):
        res = store.query(VectorStoreQuery(query_str="E1234", similarity_top_k=5, mode=mode))
        assert sorted(res.ids) == ["c1", "s1"]
        assert all(s > 0 for s in res.similarities)
        top1 = VectorStoreQuery(
            query_str="kestrel owl", similarity_top_k=5, sparse_top_k=1, mode=mode
        )
        assert store.query(top1).ids == ["k2"]


def test_text_search_with_filters(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
    res = store.query(
        VectorStoreQuery(
            query_str="E1234",
            similarity_top_k=5,
            mode=Mode.TEXT_SEARCH,
            filters=group(flt("group", Op.EQ, "code")),
        )
    )
    assert res.ids == ["c1"]


def test_hybrid_alpha_extremes_match_single_routes(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
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


def test_hybrid_top_k_and_sparse_top_k_are_honoured(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
    base = {"query_str": "E1234 kestrel", "mode": Mode.HYBRID, "alpha": 0.5}
    # LlamaIndex's convention: similarity_top_k dense candidates, sparse_top_k
    # (default: similarity_top_k) BM25 candidates, hybrid_top_k fused results
    many = store.query(q([1.0, 0.0, 0.0], k=3, sparse_top_k=3, hybrid_top_k=4, **base))
    assert len(many.ids) == 4
    assert len(store.query(q([1.0, 0.0, 0.0], k=3, **base)).ids) == 3
    # dense top 1 (k1) + BM25 top 1: at most two distinct candidates
    few = store.query(q([1.0, 0.0, 0.0], k=1, sparse_top_k=1, hybrid_top_k=6, **base))
    assert few.ids == ["k1", "s1"]


def test_hybrid_rrf_and_filters(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
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
    rrf_store = corpus_store(stores, hybrid_ranker="rrf", rrf_k=10)
    bm25 = rrf_store.query(
        VectorStoreQuery(query_str="E1234", similarity_top_k=5, mode=Mode.TEXT_SEARCH)
    ).ids
    top = rrf_store.query(
        q([0.0, 1.0, 0.0], k=1, sparse_top_k=5, query_str="E1234", mode=Mode.HYBRID)
    )
    # c1: dense rank 1, BM25 rank bm25.index("c1") + 1; RRF with the store's k=10
    assert top.ids == ["c1"]
    assert top.similarities[0] == pytest.approx((1 / 11 + 1 / (11 + bm25.index("c1"))) * 11 / 2)


def test_hybrid_bad_alpha_and_missing_inputs(stores: list[KestrelVectorStore]) -> None:
    store = corpus_store(stores)
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\], got 1.5"):
        store.query(q([1.0, 0.0, 0.0], query_str="x", mode=Mode.HYBRID, alpha=1.5))
    with pytest.raises(ValueError, match="query mode 'hybrid' needs a query_str"):
        store.query(q([1.0, 0.0, 0.0], mode=Mode.HYBRID))
    with pytest.raises(ValueError, match="query mode 'text_search' needs a query_str"):
        store.query(VectorStoreQuery(similarity_top_k=2, mode=Mode.TEXT_SEARCH))
    plain = new(stores, enable_bm25=False)
    plain.add([node("a", "alpha", [1.0, 0.0])])
    with pytest.raises(ValueError, match="BM25"):
        plain.query(VectorStoreQuery(query_str="alpha", similarity_top_k=1, mode=Mode.TEXT_SEARCH))


# ----------------------------------------------------------------- filters

FILTER_DATA: dict[str, dict[str, Any]] = {
    "n01": {"int": 1, "float": 1.5, "str": "apple pie", "tags": ["a", "b"], "nums": [1, 2, 3]},
    "n02": {"int": 2, "float": 2.0, "str": "Banana Split", "tags": ["b"], "nums": [2]},
    "n03": {"int": 3, "float": -1.0, "str": "cherry", "tags": [], "nums": []},
    "n04": {"int": 10, "str": "", "tags": ["c", "a"], "nums": [10, 20]},
    "n05": {"float": 1.0, "str": "50% off_sale", "tags": ["a"]},
    "n06": {"int": None, "str": None, "tags": None},
    "n07": {},
    "n08": {"int": 2**53 + 1, "str": "C:\\dir\\file", "tags": ["x_y", "50%"]},
    "n09": {"int": -5, "str": "Ünïcødé STRASSE", "mixed": [1, "1", 2.5]},
    "n10": {
        "int": 1.0,
        "str": "apple",
        "nested": {"a": 1},
        "a.b": "dotted",
        'q"uote': "it's",
        "br[0]": "bracket",
        "ключ": "значение",
    },
    "n11": {"int": 7, "str": "app%le", "tags": ["a", "b", "c"]},
    "n12": {"int": 8, "str": "a_b", "tags": ["ab"]},
    "n13": {"int": "1", "str": 1, "tags": [None], "zero": 0, "flag": True},
    "n14": {"int": 2**63 - 1, "tags": "a", "zero": 0.0, "flag": False, "nums": [2]},
}


def _reference(filters: MetadataFilters) -> set[str]:
    """LlamaIndex's meaning: SimpleVectorStore's evaluator per leaf (a TypeError
    there counts as "does not match", as the adapter documents), with and / or /
    not combining nested groups."""

    def leaf(item: MetadataFilter, meta: dict[str, Any]) -> bool:
        fn = build_metadata_filter_fn(lambda _: meta, MetadataFilters(filters=[item]))
        try:
            return bool(fn("x"))
        except TypeError:
            return False

    def holds(group_: MetadataFilters, meta: dict[str, Any]) -> bool:
        if not group_.filters:  # as at the top level: no filters, no restriction
            return True
        results = [
            holds(i, meta) if isinstance(i, MetadataFilters) else leaf(i, meta)
            for i in group_.filters
        ]
        cond = group_.condition or Cond.AND
        if cond == Cond.AND:
            return all(results)
        if cond == Cond.OR:
            return any(results)
        return not any(results)

    return {k for k, meta in FILTER_DATA.items() if holds(filters, meta)}


LEAVES: list[MetadataFilter] = [
    flt("int", Op.EQ, 1),
    flt("int", Op.EQ, 2**53 + 1),
    flt("int", Op.NE, 1),
    flt("int", Op.GT, 2),
    flt("int", Op.GT, 2**53),
    flt("int", Op.GTE, 2),
    flt("int", Op.LT, 2),
    flt("int", Op.LTE, 1.0),
    flt("float", Op.EQ, 1),
    flt("float", Op.GT, 1.25),
    flt("str", Op.EQ, "apple"),
    flt("str", Op.NE, "apple"),
    flt("str", Op.GT, "b"),
    flt("str", Op.LTE, "apple pie"),
    flt("int", Op.IN, [1, 7, 42]),
    flt("int", Op.NIN, [1, 7, 42]),
    flt("str", Op.IN, ["cherry", "a_b", ""]),
    flt("str", Op.NIN, ["cherry", "a_b"]),
    flt("float", Op.IN, [1.0, 2.0]),
    flt("tags", Op.CONTAINS, "a"),
    flt("str", Op.CONTAINS, "pp"),
    flt("nums", Op.CONTAINS, 2),
    flt("mixed", Op.CONTAINS, 1),
    flt("mixed", Op.CONTAINS, "1"),
    flt("tags", Op.ANY, ["c", "x_y"]),
    flt("tags", Op.ALL, ["a", "b"]),
    flt("nums", Op.ANY, [3, 20]),
    flt("nums", Op.ALL, [1, 2]),
    flt("str", Op.ANY, ["pie", "Split"]),
    flt("str", Op.ALL, ["app", "le"]),
    flt("str", Op.TEXT_MATCH, "app"),
    flt("str", Op.TEXT_MATCH, "50%"),
    flt("str", Op.TEXT_MATCH, "%"),
    flt("str", Op.TEXT_MATCH, "a_b"),
    flt("str", Op.TEXT_MATCH, "_"),
    flt("str", Op.TEXT_MATCH, "\\dir\\"),
    flt("str", Op.TEXT_MATCH, "Apple"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "APPLE"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "strasse"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "ÜNÏ"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "%"),
    flt("str", Op.IS_EMPTY, None),
    flt("tags", Op.IS_EMPTY, None),
    flt("int", Op.IS_EMPTY, None),
    flt("nums", Op.IS_EMPTY, None),
    flt("a.b", Op.EQ, "dotted"),
    flt('q"uote', Op.EQ, "it's"),
    flt("br[0]", Op.TEXT_MATCH, "brack"),
    flt("ключ", Op.EQ, "значение"),
    flt("missing", Op.NE, "x"),
    flt("missing", Op.NIN, ["x"]),
    flt("missing", Op.EQ, "x"),
    flt("missing", Op.IS_EMPTY, None),
    flt("tags", Op.IN, ["a", "b"]),
    flt("int", Op.EQ, "1"),
    flt("int", Op.EQ, 2**63 - 1),
    flt("int", Op.GTE, 2**63 - 2),
    flt("str", Op.GT, 0),
    flt("tags", Op.EQ, ["a", "b"]),
    flt("tags", Op.NE, ["a", "b"]),
    flt("tags", Op.ANY, ["a"]),
    flt("zero", Op.IS_EMPTY, None),
    flt("flag", Op.IS_EMPTY, None),
    flt("nums", Op.IN, [2]),
    flt("nums", Op.NIN, [2]),
    flt("nested", Op.TEXT_MATCH, "a"),
    flt("nested", Op.IS_EMPTY, None),
]


@pytest.fixture(scope="module")
def filter_store() -> Iterator[KestrelVectorStore]:
    store = KestrelVectorStore()
    store.add(
        [
            TextNode(id_=k, text=f"node {k}", embedding=[1.0, i / 10.0], metadata=meta)
            for i, (k, meta) in enumerate(FILTER_DATA.items())
        ]
    )
    yield store
    store.close()


def _label(item: MetadataFilter) -> str:
    return f"{item.key}-{item.operator.value}-{item.value!r}"


@pytest.mark.parametrize("item", LEAVES, ids=[_label(f) for f in LEAVES])
def test_each_filter_operator_matches_llamaindex(
    filter_store: KestrelVectorStore, item: MetadataFilter
) -> None:
    filters = group(item)
    expected = _reference(filters)
    assert set(ids_of(filter_store.get_nodes(filters=filters))) == expected
    hits = filter_store.query(q([1.0, 0.0], k=20, filters=filters))
    assert set(hits.ids) == expected


COMBINED: list[MetadataFilters] = [
    group(flt("int", Op.GT, 1), flt("str", Op.TEXT_MATCH, "a")),
    group(flt("int", Op.GT, 5), flt("tags", Op.CONTAINS, "a"), condition=Cond.OR),
    group(flt("int", Op.GT, 1), condition=Cond.NOT),
    group(flt("int", Op.EQ, 1), flt("str", Op.IS_EMPTY, None), condition=Cond.NOT),
    group(
        flt("tags", Op.CONTAINS, "a"),
        group(flt("int", Op.LT, 3), flt("str", Op.TEXT_MATCH, "%"), condition=Cond.OR),
    ),
    group(
        group(flt("int", Op.GTE, 7), condition=Cond.NOT),
        group(flt("float", Op.GT, 0), flt("nums", Op.IS_EMPTY, None), condition=Cond.OR),
        condition=Cond.OR,
    ),
    group(
        group(flt("str", Op.TEXT_MATCH_INSENSITIVE, "a"), flt("int", Op.NE, 2)),
        condition=Cond.NOT,
    ),
    group(condition=Cond.NOT),
    group(group(condition=Cond.OR), flt("int", Op.EQ, 1)),
]


@pytest.mark.parametrize("filters", COMBINED, ids=[str(i) for i in range(len(COMBINED))])
def test_filter_conditions_nest_like_llamaindex(
    filter_store: KestrelVectorStore, filters: MetadataFilters
) -> None:
    assert set(ids_of(filter_store.get_nodes(filters=filters))) == _reference(filters)


def test_filters_on_hybrid_and_doc_ids_together(filter_store: KestrelVectorStore) -> None:
    filters = group(flt("tags", Op.CONTAINS, "a"))
    res = filter_store.query(
        q(
            [1.0, 0.0],
            k=20,
            query_str="node",
            mode=Mode.HYBRID,
            filters=filters,
            node_ids=["n01", "n02", "n05", "n11"],
        )
    )
    assert sorted(res.ids) == ["n01", "n05", "n11"]


# ------------------------------------------------------- async / threads


def test_async_methods_under_gather(stores: list[KestrelVectorStore]) -> None:
    store = new(stores, dim=2)

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


def test_threads_add_while_querying(tmp_path: Path, stores: list[KestrelVectorStore]) -> None:
    store = new(stores, uri=str(tmp_path / "db"), connect_options={"durability": "none"})
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(50):
                store.add([node(f"w{w}-{i}", f"writer {w} item {i}", [1.0, w + i / 100])])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(60):
                res = store.query(q([1.0, 0.0], k=5))
                assert len(res.ids) == len(set(res.ids)) <= 5
                store.get_nodes(filters=group(flt("missing", Op.IS_EMPTY, None)))
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


def test_index_insert_delete_and_refresh(stores: list[KestrelVectorStore]) -> None:
    store = new(stores)
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
