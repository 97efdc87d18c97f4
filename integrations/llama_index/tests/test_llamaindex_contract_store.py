"""Independent contract tests of the LlamaIndex adapter (QA suite): building a
store, writing nodes, their exact round trip, and deletes.

Written from the contract (issue text, DESIGN.md, the adapter's docstrings) and
llama-index-core's own semantics, not from the adapter's implementation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import StorageContext, VectorStoreIndex
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
from llama_index.core.vector_stores.types import FilterOperator
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import UNIT, StoreFactory, WordEmbedding, flt, group, ids_of, node, q

import vectorstore as vs

Op = FilterOperator


def dump(n: BaseNode) -> dict[str, Any]:
    """A node's fields, its embedding left out."""
    data = n.model_dump()
    data.pop("embedding", None)
    return data


def rich_node() -> TextNode:
    """A node using every field a TextNode has, and awkward metadata."""
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


# ------------------------------------------------------------- construction


def test_dim_is_learned_from_first_nodes_and_enforced(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.client is None  # nothing created before the dimension is known
    assert store.add([node("a", "alpha", [1.0, 0.0, 0.0, 0.0])]) == ["a"]
    assert store.client is not None and store.dim == 4
    with pytest.raises(vs.DimensionMismatchError, match="vector has 2 dimensions, the field has 4"):
        store.add([node("b", "beta", [1.0, 0.0])])
    assert ids_of(store.get_nodes()) == ["a"]


def test_dim_given_creates_collection_at_once(make_store: StoreFactory) -> None:
    store = make_store(dim=3, metric="ip")
    assert store.client is not None
    assert store.metric == "IP"
    assert store.query(q(UNIT["x"])).ids == []


def test_memory_stores_are_private(make_store: StoreFactory) -> None:
    a = make_store()
    b = make_store()
    a.add([node("a", "alpha", [1.0, 0.0])])
    assert b.get_nodes() == []
    assert b.query(q([1.0, 0.0])).ids == []


def test_path_store_reopens_with_its_data_metric_and_dim(
    tmp_path: Path, make_store: StoreFactory
) -> None:
    uri = str(tmp_path / "db")
    first = KestrelVectorStore(uri=uri, collection_name="c", metric="L2")
    first.add([node(k, f"text {k}", v, key=k) for k, v in UNIT.items()])
    first.close()
    again = make_store(uri=uri, collection_name="c")
    assert (again.metric, again.dim) == ("L2", 3)
    res = again.query(q(UNIT["x"], k=2))
    assert res.ids == ["x", "xy"]
    assert res.nodes[0].metadata == {"key": "x"}
    with pytest.raises(ValueError, match="collection 'c' has dimension 3, not 5"):
        make_store(uri=uri, collection_name="c", dim=5)
    with pytest.raises(ValueError, match="collection 'c' uses metric L2, not COSINE"):
        make_store(uri=uri, collection_name="c", metric="COSINE")


def test_sealed_segments_reopen_with_nodes_and_filters(tmp_path: Path) -> None:
    uri = str(tmp_path / "db")
    opts = {"segment_rows": 2, "durability": "none"}
    originals = [rich_node()] + [
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


def test_collections_of_the_other_adapter_are_refused(make_store: StoreFactory) -> None:
    # the other adapter is another distribution: run where both are installed (the repo's run)
    pytest.importorskip("langchain_kestrel")
    from langchain_core.embeddings import FakeEmbeddings
    from langchain_kestrel import KestrelVectorStore as LangChainStore

    db = vs.connect(":memory:")
    try:
        lc = LangChainStore(FakeEmbeddings(size=4), client=db, collection_name="lc")
        lc.add_texts(["hello"], ids=["h"])
        with pytest.raises(ValueError, match="lc"):
            make_store(client=db, collection_name="lc")
        li = make_store(client=db, collection_name="li")
        li.add([node("n", "node", [1.0, 0.0])])
        with pytest.raises(
            vs.ConfigError, match="collection 'li' cannot back a KestrelVectorStore"
        ):
            LangChainStore(FakeEmbeddings(size=2), client=db, collection_name="li")
    finally:
        db.close()


def test_client_and_collection_arguments(make_store: StoreFactory) -> None:
    db = vs.connect(":memory:")
    try:
        a = make_store(client=db, collection_name="shared")
        a.add([node("a", "alpha", [1.0, 0.0])])
        b = make_store(client=db, collection_name="shared")
        assert ids_of(b.get_nodes()) == ["a"]
        c = make_store(collection=db.get_collection("shared"))
        assert c.query(q([1.0, 0.0])).ids == ["a"]
        c.close()  # a store given a client/collection leaves it open
        assert db.has_collection("shared")
        assert ids_of(a.get_nodes()) == ["a"]
    finally:
        db.close()


def test_store_built_before_collection_exists_sees_it(
    tmp_path: Path, make_store: StoreFactory
) -> None:
    """Two stores on one path and collection, built before any data: the second
    one's writes must be visible to the first (it is the same collection)."""
    uri = str(tmp_path / "db")
    early = make_store(uri=uri, collection_name="lazy")
    other = make_store(uri=uri, collection_name="lazy")
    other.add([node("a", "alpha kestrel", [1.0, 0.0])])
    assert ids_of(other.get_nodes()) == ["a"]
    assert early.query(q([1.0, 0.0])).ids == ["a"]
    assert ids_of(early.get_nodes()) == ["a"]


def test_closing_a_path_store_leaves_the_others_on_the_path_open(
    tmp_path: Path, make_store: StoreFactory
) -> None:
    """Documented: path stores share one client, each holding a share of it;
    closing one gives back its share only, and the last one closes the client."""
    uri = str(tmp_path / "db")
    a = KestrelVectorStore(uri=uri, collection_name="a")
    b = KestrelVectorStore(uri=uri, collection_name="b")
    a.add([node("a", "alpha", [1.0, 0.0])])
    b.add([node("b", "beta", [0.0, 1.0])])
    assert b.db.get_collection("a") is a.db.get_collection("a")  # one client underneath
    a.close()
    assert b.query(q([0.0, 1.0])).ids == ["b"]  # b's share keeps it open
    collection = b.db.get_collection("b")
    b.close()
    assert collection.closed  # the last share closed the client
    reopened = make_store(uri=uri, collection_name="b")
    assert reopened.query(q([0.0, 1.0])).ids == ["b"]


# ----------------------------------------------------------------- writes


def test_add_empty_and_duplicate_ids_in_one_call(make_store: StoreFactory) -> None:
    store = make_store()
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


def test_readding_a_node_overwrites_it(make_store: StoreFactory) -> None:
    store = make_store()
    store.add([node("n", "old text", [1.0, 0.0], v="old")])
    store.add([node("n", "new text", [0.0, 1.0], v="new")])
    (got,) = store.get_nodes()
    assert (got.text, got.metadata, got.embedding) == ("new text", {"v": "new"}, [0.0, 1.0])
    assert store.query(q([0.0, 1.0], k=1)).similarities == [pytest.approx(1.0)]


def test_ids_that_look_like_numbers_stay_distinct(make_store: StoreFactory) -> None:
    store = make_store()
    keys = ["1", "01", "1.0", "-1", " 1", "1e3", "true"]
    store.add([node(k, f"text {i}", [1.0, float(i)]) for i, k in enumerate(keys)])
    assert ids_of(store.get_nodes(list(reversed(keys)))) == list(reversed(keys))
    store.delete_nodes(["01"])
    assert sorted(ids_of(store.get_nodes())) == sorted(k for k in keys if k != "01")


def test_text_limits_and_unicode(make_store: StoreFactory) -> None:
    store = make_store()
    texts = {"max": "a" * 65535, "emoji": "🦅" * 65535, "mixed": "Ünïcødé — 中文 \x00 tab\t"}
    store.add([node(k, t, [1.0, float(i)]) for i, (k, t) in enumerate(texts.items())])
    assert {n.node_id: n.text for n in store.get_nodes()} == texts
    with pytest.raises(ValueError, match=r"65535|65,535|max_length"):
        store.add([node("ok", "fine", [1.0, 0.0]), node("big", "b" * 65536, [1.0, 0.0])])
    assert store.get_nodes(["ok", "big"]) == []  # the batch lands whole or not at all


def test_lone_surrogates_do_not_brick_a_path_store(tmp_path: Path) -> None:
    """Text or metadata holding a lone surrogate (``json.loads('"\\ud800"')``) is
    not valid Unicode: ``add`` rejects it up front (our DataError, a ValueError,
    naming the field) and writes nothing, so the store still closes and reopens;
    it is never acknowledged and then impossible to close and reopen."""
    uri = str(tmp_path / "db")
    bad = json.loads('"broken \\ud800 text"')
    store = KestrelVectorStore(uri=uri)
    store.add([node("good", "good text", [1.0, 0.0])])
    with pytest.raises(vs.DataError, match="field 'text': text holds a lone surrogate"):
        store.add([node("bad", bad, [0.0, 1.0], note=bad)])
    with pytest.raises(vs.DataError, match="field 'metadata': text holds a lone surrogate"):
        store.add([node("bad", "fine text", [0.0, 1.0], note=bad)])
    assert ids_of(store.get_nodes()) == ["good"]
    store.close()
    again = KestrelVectorStore(uri=uri)
    try:
        assert ids_of(again.get_nodes()) == ["good"]
    finally:
        again.close()


def test_node_without_embedding_is_a_clear_error(make_store: StoreFactory) -> None:
    store = make_store()
    with pytest.raises(ValueError, match="embedding"):
        store.add([TextNode(id_="n", text="no vector")])


# ------------------------------------------------------------- round trips


def test_nodes_round_trip_exactly(make_store: StoreFactory) -> None:
    store = make_store()
    originals: list[BaseNode] = [
        rich_node(),
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


def test_document_nodes_keep_their_type(make_store: StoreFactory) -> None:
    """A Document added as a node comes back a Document (node type round trip)."""
    store = make_store()
    doc = Document(id_="doc", text="a whole document", embedding=[1.0, 0.0], metadata={"k": 1})
    store.add([doc])
    (got,) = store.get_nodes(["doc"])
    assert type(got) is Document
    assert (got.text, got.metadata, got.node_id) == ("a whole document", {"k": 1}, "doc")


def test_chunked_document_relationships_survive(make_store: StoreFactory) -> None:
    store = make_store()
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


def test_delete_by_ref_doc_id(make_store: StoreFactory) -> None:
    store = make_store()
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


def test_delete_nodes_by_ids_filters_and_both(make_store: StoreFactory) -> None:
    store = make_store()
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


def test_node_ids_given_as_a_string_are_not_split(make_store: StoreFactory) -> None:
    """A str of node ids is one id: ``get_nodes("ab")`` finds and
    ``delete_nodes("ab")`` deletes the node "ab", not the nodes "a" and "b"."""
    store = make_store()
    store.add([node(k, k, [1.0, float(i)]) for i, k in enumerate(["a", "b", "ab"])])
    assert ids_of(store.get_nodes("ab")) == ["ab"]  # type: ignore[arg-type]
    store.delete_nodes("ab")  # type: ignore[arg-type]
    assert sorted(ids_of(store.get_nodes())) == ["a", "b"]
    assert store.get_nodes("ab") == []  # type: ignore[arg-type]


def test_clear_then_reuse(make_store: StoreFactory) -> None:
    store = make_store()
    store.clear()  # nothing yet: fine
    store.add([node("a", "alpha", [1.0, 0.0])])
    store.clear()
    assert store.get_nodes() == [] and store.query(q([1.0, 0.0])).ids == []
    store.add([node("b", "beta", [0.0, 1.0])])
    assert ids_of(store.get_nodes()) == ["b"]
    asyncio.run(store.aclear())
    assert store.get_nodes() == []
