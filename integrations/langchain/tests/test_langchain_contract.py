"""Independent contract tests of the LangChain adapter (QA suite).

Written from the contract (issue text, README, DESIGN.md, docstrings) and
langchain-core's own reference store (``InMemoryVectorStore``), not from the
adapter's code: dict filters are checked against a plain-Python evaluator of the
documented semantics, scores against hand-computed values.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import threading
import uuid
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from kestrel_lc_fakes import langchain_relevance
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_kestrel import FieldNames, FilterDictError, KestrelVectorStore, MetadataError

import vectorstore as vs

# ------------------------------------------------------------------ helpers


class WordEmbeddings(Embeddings):
    """Hashed bag of words (lower case), L2-normalised; never the zero vector."""

    dim = 64

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            vec[zlib.crc32(word.encode("utf-8", "surrogatepass")) % (self.dim - 1) + 1] += 1.0
        vec[0] += 0.05
        norm = math.sqrt(sum(x * x for x in vec))
        return [x / norm for x in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self._vector(text)


class Fixed(Embeddings):
    """Fixed vectors for fixed texts (exact scores)."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(self.table[t]) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return list(self.table[text])


UNIT = {
    "x": [1.0, 0.0, 0.0],
    "xy": [0.6, 0.8, 0.0],
    "y": [0.0, 1.0, 0.0],
    "-x": [-1.0, 0.0, 0.0],
    "q": [2.0, 0.0, 0.0],  # a query that is not unit length
    "near": [0.99, 0.141, 0.0],
}


@pytest.fixture
def made() -> Iterator[list[KestrelVectorStore]]:
    stores: list[KestrelVectorStore] = []
    yield stores
    for store in stores:
        store.close()


def new(
    made: list[KestrelVectorStore], embedding: Embeddings | None = None, **kwargs: Any
) -> KestrelVectorStore:
    store = KestrelVectorStore(embedding or WordEmbeddings(), **kwargs)
    made.append(store)
    return store


def unit_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    store = new(made, Fixed(UNIT), **kwargs)
    store.add_texts(["x", "xy", "y", "-x"], ids=["x", "xy", "y", "-x"])
    return store


def ids_of(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


CORPUS = {
    "k1": "the kestrel hovers above the field",
    "k2": "a kestrel and an owl share the old barn",
    "c1": "error E1234 crashes the rust compiler",
    "c2": "the rust compiler is fast and safe",
    "s1": "mars rover probe E1234 landed",
    "f1": "soup recipe with bread and cheese",
}


def corpus_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    store = new(made, **kwargs)
    store.add_texts(
        list(CORPUS.values()),
        [{"group": "code" if k.startswith("c") else "other", "key": k} for k in CORPUS],
        ids=list(CORPUS),
    )
    return store


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
        Fixed(UNIT), uri=uri, metric="L2", partition="p", connect_options=opts
    )
    first.add_texts(["x", "xy", "y"], [meta, {}, {"n": 3}], ids=["x", "xy", "y"])
    assert first.collection is not None
    first.collection.flush()
    first.close()
    again = new(made, Fixed(UNIT), uri=str(uri), partition="p", connect_options=opts)
    assert again.metric is vs.Metric.L2
    (doc,) = again.get_by_ids(["x"])
    assert doc.metadata == meta
    assert type(doc.metadata["f"]) is float and type(doc.metadata["i"]) is int
    assert [(d.id, s) for d, s in again.similarity_search_with_score("x", k=1)] == [("x", 0.0)]
    with pytest.raises(vs.ConfigError):
        new(made, Fixed(UNIT), uri=str(uri), metric="IP", connect_options=opts)
    with pytest.raises(vs.ConfigError):
        new(made, Fixed(UNIT), uri=str(uri), dimension=7, connect_options=opts)


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
    store = new(made, Fixed(UNIT))
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
    """``delete("ab")`` / ``get_by_ids("ab")`` must not act on the ids "a" and "b"
    (langchain-core's InMemoryVectorStore leaves them alone)."""
    store = new(made)
    store.add_texts(["a", "b", "ab"], ids=["a", "b", "ab"])
    assert "a" not in ids_of(store.get_by_ids("ab"))
    with contextlib.suppress(TypeError, ValueError):
        store.delete("ab")  # type: ignore[arg-type]
    assert sorted(ids_of(store.get_by_ids(["a", "b"]))) == ["a", "b"]


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
    surrogates. A path store must reject it up front (a ValueError) or store it
    durably: never accept it and then fail to close and to reopen."""
    uri = str(tmp_path / "db")
    bad = json.loads('"broken \\ud800 text"')
    store = KestrelVectorStore(WordEmbeddings(), uri=uri)
    store.add_texts(["good text"], [{"ok": True}], ids=["good"])
    try:
        store.add_texts([bad], [{"note": bad}], ids=["bad"])
        accepted = True
    except ValueError:
        accepted = False
    try:
        store.close()
        close_error = None
    except Exception as exc:
        close_error = exc
    assert close_error is None, f"close() failed after the write was acknowledged: {close_error!r}"
    again = KestrelVectorStore(WordEmbeddings(), uri=uri)
    try:
        assert ids_of(again.get_by_ids(["good"])) == ["good"]
        if accepted:
            assert again.get_by_ids(["bad"]) == [
                Document(id="bad", page_content=bad, metadata={"note": bad})
            ]
    finally:
        with contextlib.suppress(Exception):
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
    store = new(made, Fixed(UNIT))
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
    with pytest.raises(vs.ConfigError):
        store.similarity_search("kestrel", hybrid="rrf")


# ------------------------------------------------------------------ filters

FILTER_DATA: dict[str, dict[str, Any]] = {
    "d01": {"int": 1, "float": 1.5, "str": "apple", "tags": ["a", "b"], "flag": True},
    "d02": {"int": 2, "float": 2.0, "str": "banana", "tags": ["b"], "flag": False},
    "d03": {"int": 3, "float": -1.0, "str": "cherry", "tags": [], "flag": None},
    "d04": {"int": 10, "str": "", "tags": ["c", "a"]},
    "d05": {"float": 1.0, "str": "50% off_sale", "tags": ["a", 1]},
    "d06": {"int": None, "str": None, "tags": None},
    "d07": {},
    "d08": {"int": 2**53 + 1, "str": 'say "hi" \\ there', "tags": ["x_y"]},
    "d09": {"int": -5, "str": "Ünïcødé", "nested": {"a": 1}},
    "d10": {"int": 1.0, "str": "1", "a.b": "dot", 'q"k': "quote", "br[0]": "b", "ключ": "v"},
    "d11": {"int": "1", "str": 1, "flag": 1, "tags": "a"},
    "d12": {"int": 2**63 - 1, "str": "b", "tags": [["a"]], "flag": "true"},
}

_MISSING = object()


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def _eq(a: Any, b: Any) -> bool:
    return a is not _MISSING and _kind(a) == _kind(b) != "other" and a == b


def _cmp(op: str, a: Any, b: Any) -> bool:
    if a is _MISSING or _kind(a) != _kind(b) or _kind(a) not in ("num", "str"):
        return False
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]


def _empty(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, list):
        return all(_empty(x) for x in v)
    if isinstance(v, dict):
        return all(_empty(x) for x in v.values())
    return False


def _op(op: str, arg: Any, value: Any) -> bool:
    if op == "$eq":
        return _eq(value, arg)
    if op == "$ne":
        return not _eq(value, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _cmp(op, value, arg)
    if op == "$in":
        return any(_eq(value, a) for a in arg)
    if op == "$nin":
        return not any(_eq(value, a) for a in arg)
    if op == "$exists":
        return (value is not _MISSING and not _empty(value)) == arg
    if op == "$contains":
        return isinstance(value, list) and any(_eq(x, arg) for x in value)
    if op == "$not":
        return not all(_op(o, a, value) for o, a in arg.items())
    raise AssertionError(op)


def _holds(flt: dict[str, Any], meta: dict[str, Any]) -> bool:
    """The README's semantics of a filter dict, in plain Python."""
    for key, arg in flt.items():
        if key == "$and":
            ok = all(_holds(f, meta) for f in arg)
        elif key == "$or":
            ok = any(_holds(f, meta) for f in arg)
        elif key == "$not":
            ok = not _holds(arg, meta)
        else:
            value = meta.get(key, _MISSING)
            if isinstance(arg, dict):
                ok = all(_op(o, a, value) for o, a in arg.items())
            else:
                ok = _eq(value, arg)
        if not ok:
            return False
    return True


DICT_FILTERS: list[dict[str, Any]] = [
    {"int": 1},
    {"int": 1.0},
    {"int": "1"},
    {"int": {"$eq": 2**53 + 1}},
    {"int": {"$gt": 2**53}},
    {"int": {"$gte": 2**63 - 1}},
    {"int": {"$ne": 1}},
    {"int": {"$gt": 1, "$lte": 10}},
    {"int": {"$lt": 0}},
    {"float": {"$gte": 1}},
    {"float": 1},
    {"str": "apple"},
    {"str": {"$gt": "b"}},
    {"str": {"$lte": "apple"}},
    {"str": {"$ne": "apple"}},
    {"str": 'say "hi" \\ there'},
    {"str": "50% off_sale"},
    {"str": {"$in": ["apple", "", "Ünïcødé", "1"]}},
    {"str": {"$nin": ["apple", ""]}},
    {"int": {"$in": [1, 10, 99]}},
    {"int": {"$in": []}},
    {"int": {"$nin": []}},
    {"flag": True},
    {"flag": False},
    {"flag": {"$ne": True}},
    {"flag": {"$in": [True, 1]}},
    {"tags": {"$contains": "a"}},
    {"tags": {"$contains": 1}},
    {"tags": {"$not": {"$contains": "a"}}},
    {"tags": {"$exists": True}},
    {"tags": {"$exists": False}},
    {"str": {"$exists": True}},
    {"int": {"$exists": False}},
    {"flag": {"$exists": True}},
    {"int": {"$not": {"$gt": 2}}},
    {"missing": {"$ne": 1}},
    {"missing": {"$nin": [1]}},
    {"missing": {"$not": {"$eq": 1}}},
    {"a.b": "dot"},
    {'q"k': "quote"},
    {"br[0]": "b"},
    {"ключ": "v"},
    {"int": 1, "str": "apple"},
    {"$and": [{"int": {"$gte": 1}}, {"tags": {"$contains": "a"}}]},
    {"$or": [{"int": 2}, {"str": "cherry"}, {"flag": True}]},
    {"$not": {"$or": [{"int": {"$lt": 3}}, {"str": ""}]}},
    {"$and": [{"$or": [{"int": 1}, {"int": 10}]}, {"$not": {"str": "apple"}}]},
    {"$or": [{"$and": [{"float": {"$gt": 0}}, {"tags": {"$exists": True}}]}, {"int": -5}]},
]


@pytest.fixture(scope="module")
def filter_store() -> Iterator[KestrelVectorStore]:
    store = KestrelVectorStore(WordEmbeddings())
    store.add_texts(
        [f"doc {k}" for k in FILTER_DATA], list(FILTER_DATA.values()), ids=list(FILTER_DATA)
    )
    yield store
    store.close()


@pytest.mark.parametrize("flt", DICT_FILTERS, ids=[repr(f)[:60] for f in DICT_FILTERS])
def test_dict_filters_follow_documented_semantics(
    filter_store: KestrelVectorStore, flt: dict[str, Any]
) -> None:
    expected = {k for k, meta in FILTER_DATA.items() if _holds(flt, meta)}
    found = {d.id for d in filter_store.similarity_search("doc", k=50, filter=flt)}
    assert found == expected
    mmr = filter_store.max_marginal_relevance_search("doc", k=50, fetch_k=50, filter=flt)
    assert {d.id for d in mmr} == expected


def test_filter_reference_is_not_trivial() -> None:
    sizes = {len([k for k, m in FILTER_DATA.items() if _holds(f, m)]) for f in DICT_FILTERS}
    assert len(sizes) > 5 and 0 in sizes and len(FILTER_DATA) in sizes


@pytest.mark.parametrize(
    ("expr", "params", "expected"),
    [
        ('metadata["str"] == "say \\"hi\\" \\\\ there"', None, {"d08"}),
        ('metadata["str"] == {v}', {"v": 'say "hi" \\ there'}, {"d08"}),
        ('metadata["str"] like "50\\% off\\_%"', None, {"d05"}),
        ('metadata["str"] like "%\\_%"', None, {"d05"}),
        ('metadata["q\\"k"] == "quote"', None, {"d10"}),
        ('metadata["a.b"] == "dot"', None, {"d10"}),
        ('metadata["nested"]["a"] == 1', None, {"d09"}),
        ('id in ["d01", "d02"] and metadata["int"] > 1', None, {"d02"}),
        ('json_contains(metadata["tags"], "a")', None, {"d01", "d04", "d05"}),
        ('text_match(text, "d03")', None, {"d03"}),
    ],
)
def test_expression_strings_with_special_characters(
    filter_store: KestrelVectorStore, expr: str, params: dict[str, Any] | None, expected: set[str]
) -> None:
    found = filter_store.similarity_search("doc", k=50, filter=expr, filter_params=params)
    assert {d.id for d in found} == expected


def test_bad_filters_are_clear_errors(filter_store: KestrelVectorStore) -> None:
    with pytest.raises(FilterDictError, match=r"\$and"):
        filter_store.similarity_search("doc", filter={"$and": [{"int": 1}, {"int": {"$gt": []}}]})
    with pytest.raises(FilterDictError):
        filter_store.similarity_search("doc", filter={"int": {"$regex": "x"}})
    with pytest.raises(vs.FilterSyntaxError, match="expected a value, got end of input"):
        filter_store.similarity_search("doc", filter='metadata["int"] >')


def test_delete_by_filter(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    store.add_texts(["a", "b", "c"], [{"n": 1}, {"n": 2}, {}], ids=["a", "b", "c"])
    store.delete(filter={"n": {"$gte": 2}})
    store.delete(filter='metadata["n"] == {v}', filter_params={"v": 1})
    assert ids_of(store.get_by_ids(["a", "b", "c"])) == ["c"]


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
                store.similarity_search("kestrel", k=3, hybrid="rrf")
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
        assert li.db is lc.client  # one writer per store: the client is shared
        lc.add_texts(["the kestrel"], ids=["k"])
        li.add([TextNode(id_="n", text="node", embedding=[1.0, 0.0])])
        assert ids_of(lc.similarity_search("kestrel")) == ["k"]
        assert li.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == ["n"]
        lc.close()  # documented: closes the shared client for every store on the path
        with pytest.raises(vs.ClosedError, match="collection 'li' is closed"):
            li.query(VectorStoreQuery(query_embedding=[1.0, 0.0]))
        lc2 = KestrelVectorStore(WordEmbeddings(), uri=uri)
        li2 = LlamaStore(uri=uri, collection_name="li")
        assert ids_of(lc2.get_by_ids(["k"])) == ["k"]
        assert li2.query(VectorStoreQuery(query_embedding=[1.0, 0.0])).ids == ["n"]
        lc2.close()
        li2.close()
    finally:
        lc.close()
        li.close()
