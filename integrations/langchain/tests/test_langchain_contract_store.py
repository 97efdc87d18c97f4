"""Independent contract tests of the LangChain adapter (QA suite): building a
store (memory, a path, a client or collection, ``from_texts``), writes and ids,
metadata round trips, and both adapters on one path.

Written from the contract (issue text, README, DESIGN.md, docstrings) and
langchain-core's own reference store (``InMemoryVectorStore``), not from the
adapter's code.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kestrel_lc_fakes import UNIT, TableEmbeddings, WordEmbeddings, ids_of, new, unit_store
from langchain_core.documents import Document
from langchain_kestrel import KestrelVectorStore, MetadataError

import vectorstore as vs

# ------------------------------------------------------------ construction


def test_memory_stores_are_private_and_dimension_creates_at_once(
    made: list[KestrelVectorStore],
) -> None:
    a = new(made)
    b = new(made)
    a.add_texts(["hello"], ids=["h"])
    assert b.get_by_ids(["h"]) == [] and b.similarity_search("hello") == []
    assert new(made).collection is None
    eager = new(made, dimension=WordEmbeddings.dim)
    assert eager.collection is not None and eager.similarity_search("x") == []


def test_path_store_reopens_with_data_metric_partition_and_types(
    tmp_path: Path, made: list[KestrelVectorStore]
) -> None:
    uri = tmp_path / "db"
    opts = {"segment_rows": 2, "durability": "none"}  # seal segments: the disk format
    meta = {
        "f": 1.0,
        "i": 1,
        "big": 2**63 - 1,
        "mixed": [1, "1", 1.5, None, True],
        "nested": {"a": {"b": []}},
        "ключ": "значение",
    }
    first = KestrelVectorStore(
        TableEmbeddings(UNIT), uri=uri, metric="L2", partition="p", connect_options=opts
    )
    first.add_texts(["x", "xy", "y"], [meta, {}, {"n": 3}], ids=["x", "xy", "y"])
    assert first.collection is not None
    first.collection.flush()
    first.close()
    again = new(made, TableEmbeddings(UNIT), uri=str(uri), partition="p", connect_options=opts)
    assert again.metric is vs.Metric.L2
    (doc,) = again.get_by_ids(["x"])
    assert doc.metadata == meta
    assert type(doc.metadata["f"]) is float and type(doc.metadata["i"]) is int
    assert [(d.id, s) for d, s in again.similarity_search_with_score("x", k=1)] == [("x", 0.0)]
    with pytest.raises(vs.ConfigError, match="uses metric L2, not IP"):
        new(made, TableEmbeddings(UNIT), uri=str(uri), metric="IP", connect_options=opts)
    with pytest.raises(vs.ConfigError, match="holds 3-dimensional vectors, not 7"):
        new(made, TableEmbeddings(UNIT), uri=str(uri), dimension=7, connect_options=opts)


def test_two_instances_on_one_path_share_data_without_close(
    tmp_path: Path, made: list[KestrelVectorStore]
) -> None:
    uri = str(tmp_path / "db")
    a = new(made, uri=uri)
    b = new(made, uri=uri)  # built before the collection exists
    a.add_texts(["the kestrel hovers"], ids=["k"])
    assert ids_of(b.similarity_search("kestrel")) == ["k"]
    b.add_texts(["an owl"], ids=["o"])
    assert sorted(ids_of(a.get_by_ids(["o", "k"]))) == ["k", "o"]


def test_client_and_collection_arguments(made: list[KestrelVectorStore]) -> None:
    db = vs.connect(":memory:")
    try:
        a = new(made, client=db, collection_name="docs")
        a.add_texts(["kestrel"], [{"a": 1}], ids=["k"])
        b = new(made, client=db, collection_name="docs")
        assert ids_of(b.get_by_ids(["k"])) == ["k"]
        c = new(made, collection=db.get_collection("docs"))
        assert c.similarity_search("kestrel", k=1)[0].metadata == {"a": 1}
        c.close()
        b.close()  # neither closes a client it was given
        assert ids_of(a.get_by_ids(["k"])) == ["k"]
        with pytest.raises(ValueError, match="pass one of uri=, client= or collection="):
            KestrelVectorStore(WordEmbeddings(), uri=":memory:", client=db)
    finally:
        db.close()


def test_from_texts_and_from_documents_sync_and_async(
    tmp_path: Path, made: list[KestrelVectorStore]
) -> None:
    uri = str(tmp_path / "db")
    emb = WordEmbeddings()
    s1 = KestrelVectorStore.from_texts(["kestrel"], emb, [{"n": 1}], ids=["t1"], uri=uri)
    made.append(s1)
    docs = [Document("owl", id="d1", metadata={"n": 2}), Document("hawk", metadata={"n": 3})]
    s2 = KestrelVectorStore.from_documents(docs, emb, uri=uri)  # existing collection: kept
    made.append(s2)
    got = s2.get_by_ids(["t1", "d1"])
    assert [(d.id, d.page_content, d.metadata) for d in got] == [
        ("t1", "kestrel", {"n": 1}),
        ("d1", "owl", {"n": 2}),
    ]
    assert s2.collection is not None and s2.collection.count() == 3

    async def run() -> tuple[KestrelVectorStore, KestrelVectorStore]:
        a = await KestrelVectorStore.afrom_texts(["mars"], emb, ids=["a1"])
        b = await KestrelVectorStore.afrom_documents([Document("soup", id="a2")], emb)
        return a, b

    a, b = asyncio.run(run())
    made.extend([a, b])
    assert ids_of(a.get_by_ids(["a1"])) == ["a1"] and ids_of(b.get_by_ids(["a2"])) == ["a2"]


def test_index_and_search_params(made: list[KestrelVectorStore]) -> None:
    flat = unit_store(made, index_params={"index_type": "FLAT"}, search_params={})
    assert ids_of(flat.similarity_search("x", k=2)) == ["x", "xy"]
    hnsw = unit_store(
        made,
        index_params={"index_type": "HNSW", "M": 8, "ef_construction": 64},
        search_params={"ef": 32},
    )
    assert ids_of(hnsw.similarity_search("x", k=2, search_params={"ef": 64})) == ["x", "xy"]


# ------------------------------------------------------------------ writes


def test_ids_given_from_documents_generated_in_input_order(
    made: list[KestrelVectorStore],
) -> None:
    store = new(made)
    ids = store.add_documents(
        [
            Document("one", id="b"),
            Document("two"),
            Document("three", id="a"),
            Document("four"),
        ]
    )
    assert ids[0] == "b" and ids[2] == "a"
    assert len(set(ids)) == 4 and all(uuid.UUID(i) for i in (ids[1], ids[3]))
    assert [d.page_content for d in store.get_by_ids(ids)] == ["one", "two", "three", "four"]
    assert store.add_documents([Document("five", id="ignored")], ids=["wins"]) == ["wins"]
    assert store.get_by_ids(["ignored"]) == []
    assert asyncio.run(store.aadd_documents([Document("six", id="as")])) == ["as"]


def test_readding_overwrites_text_metadata_and_vector(made: list[KestrelVectorStore]) -> None:
    store = new(made, TableEmbeddings(UNIT))
    store.add_texts(["x"], [{"v": "old", "gone": 1}], ids=["doc"])
    store.add_texts(["y"], [{"v": "new"}], ids=["doc"])
    assert store.get_by_ids(["doc"]) == [
        Document(id="doc", page_content="y", metadata={"v": "new"})
    ]
    ((doc, score),) = store.similarity_search_with_score("y", k=5)
    assert doc.id == "doc" and score == pytest.approx(1.0)


def test_duplicate_ids_in_one_call(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    assert store.add_texts(
        ["first", "other", "last"], [{"n": 1}, {}, {"n": 3}], ids=["d", "e", "d"]
    ) == ["d", "e", "d"]
    assert store.get_by_ids(["d"]) == [Document(id="d", page_content="last", metadata={"n": 3})]
    assert store.collection is not None and store.collection.count() == 2


def test_number_like_ids_are_distinct_strings(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    keys = ["1", "01", "1.0", "-1", " 1", "1e3", "0x1", "True"]
    store.add_texts([f"text {k}" for k in keys], ids=keys)
    got = store.get_by_ids(list(reversed(keys)))
    assert ids_of(got) == list(reversed(keys))
    assert all(type(d.id) is str for d in store.similarity_search("text", k=20))
    store.delete(["01", "missing"])
    assert sorted(ids_of(store.get_by_ids(keys))) == sorted(k for k in keys if k != "01")


def test_a_string_of_ids_is_not_split_into_characters(made: list[KestrelVectorStore]) -> None:
    """A str of ids is one id: ``delete("ab")`` / ``get_by_ids("ab")`` act on the id
    "ab", never on "a" and "b" (langchain-core's InMemoryVectorStore leaves them alone)."""
    store = new(made)
    store.add_texts(["a", "b", "ab"], ids=["a", "b", "ab"])
    assert ids_of(store.get_by_ids("ab")) == ["ab"]
    assert store.delete("ab") is True  # type: ignore[arg-type]
    assert ids_of(store.get_by_ids(["a", "b", "ab"])) == ["a", "b"]


def test_batches_keep_input_order_and_last_duplicate_wins(
    made: list[KestrelVectorStore],
) -> None:
    store = new(made)
    texts = ["t0", "t1", "t2", "t3", "t4"]
    ids = store.add_texts(
        texts, [{"i": i} for i in range(5)], ids=["a", "b", "a", "c", "b"], batch_size=2
    )
    assert ids == ["a", "b", "a", "c", "b"]
    got = {d.id: (d.page_content, d.metadata["i"]) for d in store.get_by_ids(["a", "b", "c"])}
    assert got == {"a": ("t2", 2), "b": ("t4", 4), "c": ("t3", 3)}
    generated = store.add_texts([f"g{i}" for i in range(7)], batch_size=3)
    assert [d.page_content for d in store.get_by_ids(generated)] == [f"g{i}" for i in range(7)]


def test_embeddings_returning_a_numpy_matrix(made: list[KestrelVectorStore]) -> None:
    """``model.encode(texts)`` hands back a 2-D ndarray; langchain-core's
    InMemoryVectorStore takes it, so should this store."""

    class MatrixEmbeddings(WordEmbeddings):
        def embed_documents(self, texts: list[str]) -> Any:
            return np.asarray([self._vector(t) for t in texts], dtype=np.float32)

    store = new(made, MatrixEmbeddings())
    assert store.add_texts(["kestrel", "owl"], ids=["k", "o"]) == ["k", "o"]
    assert ids_of(store.similarity_search("kestrel", k=1)) == ["k"]


def test_empty_inputs(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    assert store.add_texts([]) == []
    assert store.delete([]) is True and store.delete(["nope"]) is True
    assert store.get_by_ids([]) == [] and store.similarity_search("x") == []
    assert store.max_marginal_relevance_search("x") == []
    store.add_texts(["", "x"], ids=["empty", "x"])
    assert store.get_by_ids(["empty"]) == [Document(id="empty", page_content="", metadata={})]
    assert asyncio.run(store.adelete([])) is True


def test_text_limits_and_unicode(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    texts = {"max": "a" * 65535, "emoji": "🦅" * 65535, "mixed": "Ünïcødé — 中文\x00\t\n"}
    store.add_texts(list(texts.values()), ids=list(texts))
    assert {d.id: d.page_content for d in store.get_by_ids(list(texts))} == texts
    with pytest.raises(ValueError, match=r"65535|65,535|max_length"):
        store.add_texts(["fine", "b" * 65536], ids=["fine", "big"])
    assert store.get_by_ids(["fine", "big"]) == []  # nothing of that call is written


def test_lone_surrogates_do_not_brick_a_path_store(tmp_path: Path) -> None:
    """Text from ``json.loads('"\\ud800"')`` or ``errors="surrogateescape"`` holds lone
    surrogates, which are not valid Unicode. A path store rejects them up front (our
    DataError, a ValueError, naming the field) and writes nothing, so it still closes
    and reopens: never accepts them and then fails to close and to reopen."""
    uri = str(tmp_path / "db")
    bad = json.loads('"broken \\ud800 text"')
    store = KestrelVectorStore(WordEmbeddings(), uri=uri)
    store.add_texts(["good text"], [{"ok": True}], ids=["good"])
    with pytest.raises(vs.DataError, match="field 'text': text holds a lone surrogate"):
        store.add_texts([bad], [{"note": bad}], ids=["bad"])
    with pytest.raises(vs.DataError, match="field 'metadata': text holds a lone surrogate"):
        store.add_texts(["fine text"], [{"note": bad}], ids=["bad"])
    assert store.collection is not None and store.collection.count() == 1
    store.close()
    again = KestrelVectorStore(WordEmbeddings(), uri=uri)
    try:
        assert ids_of(again.get_by_ids(["good", "bad"])) == ["good"]
        assert again.collection is not None and again.collection.count() == 1
    finally:
        again.close()


def test_metadata_round_trips_and_never_collides(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    meta = {
        "id": "metadata id",
        "text": "metadata text",
        "vector": [1, 2],
        "metadata": {"m": 1},
        "nested": {"a": [1, "x", 2.5, None, True, {"b": []}]},
        "ünï.cødé": "κλειδί",
        "q\"u'o[t]e.s": 1,
        "big": 2**63 - 1,
        "neg": -(2**63),
        "f": 1.0,
        "i": 1,
        "empty": {},
        "el": [],
        "none": None,
        "t": True,
        "tiny": 5e-324,
    }
    store.add_texts(["the kestrel"], [meta], ids=["m"])
    for doc in (
        store.get_by_ids(["m"])[0],
        store.similarity_search("kestrel", k=1)[0],
        store.max_marginal_relevance_search("kestrel", k=1)[0],
        store.similarity_search("kestrel", k=1, hybrid="rrf")[0],
    ):
        assert (doc.id, doc.page_content, doc.metadata) == ("m", "the kestrel", meta)
        assert [type(v) for v in doc.metadata.values()] == [type(v) for v in meta.values()]


def test_bad_metadata_writes_nothing(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    for bad in ({"t": (1, 2)}, {"n": float("nan")}, {"big": 2**64}, {1: "int key"}):
        with pytest.raises(MetadataError):
            store.add_texts(["ok", "bad"], [{}, bad], ids=["ok", "bad"])
    assert store.get_by_ids(["ok", "bad"]) == []


# ----------------------------------------------------- both adapters, one path


def test_langchain_and_llamaindex_share_one_path(tmp_path: Path) -> None:
    # the other adapter is another distribution: run where both are installed (the repo's run)
    pytest.importorskip("llama_index.vector_stores.kestrel")
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery
    from llama_index.vector_stores.kestrel import KestrelVectorStore as LlamaStore

    uri = str(tmp_path / "db")
    lc = KestrelVectorStore(WordEmbeddings(), uri=uri)
    li = LlamaStore(uri=uri, collection_name="li")
    try:
        lc.add_texts(["the kestrel"], ids=["k"])
        li.add([TextNode(id_="n", text="node", embedding=[1.0, 0.0])])
        assert lc.client is not None and li.db is not None
        assert lc.client.get_collection("li") is li.db.get_collection("li")  # one client
        assert ids_of(lc.similarity_search("kestrel")) == ["k"]
        assert li.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == ["n"]
        lc.close()  # documented: gives back lc's share; li's keeps the client open
        assert li.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == ["n"]
        li.close()  # the last share: the client closes
        lc2 = KestrelVectorStore(WordEmbeddings(), uri=uri)
        li2 = LlamaStore(uri=uri, collection_name="li")
        assert ids_of(lc2.get_by_ids(["k"])) == ["k"]
        assert li2.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == ["n"]
        lc2.close()
        li2.close()
    finally:
        lc.close()
        li.close()
