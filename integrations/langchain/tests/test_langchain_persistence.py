"""Path stores: reopening keeps documents and ids; stores on one path share a client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from kestrel_lc_fakes import TOPICS, ConceptEmbeddings
from langchain_core.documents import Document
from langchain_kestrel import KestrelVectorStore

import vectorstore as vs

DOCS = [
    Document(id="f", page_content="the falcon hunts", metadata={"n": 1, "x": 0.5, "id": "meta"}),
    Document(id="r", page_content="rust compiler bug", metadata={"n": 2, "tags": ["a", "b"]}),
    Document(id="m", page_content="mars orbit rocket", metadata={"nested": {"k": [1, 2]}}),
]


def open_store(path: Path, **kwargs: object) -> KestrelVectorStore:
    return KestrelVectorStore(embedding=ConceptEmbeddings(TOPICS), uri=str(path), **kwargs)  # type: ignore[arg-type]


def test_close_and_reopen_keeps_documents_ids_and_settings(tmp_path: Path) -> None:
    store = open_store(tmp_path, metric="IP", hybrid="rrf")
    assert store.add_documents(DOCS) == ["f", "r", "m"]
    generated = store.add_texts(["a kestrel hovers"], [{"n": 4}])
    store.close()
    assert store.client is not None and store.client.closed

    again = open_store(tmp_path)  # metric, dimension and BM25 come from the collection
    assert again.metric is vs.Metric.IP and again.collection is not None
    got = again.get_by_ids(["f", "r", "m", *generated])
    assert got == [
        *DOCS,
        Document(id=generated[0], page_content="a kestrel hovers", metadata={"n": 4}),
    ]
    assert again.similarity_search("falcon", k=1)[0].id == "f"
    assert again.similarity_search("rust", k=1, hybrid="rrf")[0].id == "r"
    again.add_texts(["soup recipe"], ids=["s"])
    again.delete(["r"])
    again.close()

    third = KestrelVectorStore.from_texts(
        ["bread"], ConceptEmbeddings(TOPICS), ids=["b"], uri=str(tmp_path)
    )  # from_texts on an existing collection keeps its data
    assert [d.id for d in third.get_by_ids(["f", "r", "m", "s", "b"])] == ["f", "m", "s", "b"]
    with pytest.raises(vs.ConfigError, match="metric"):
        open_store(tmp_path, metric="L2")
    with pytest.raises(vs.ConfigError, match="dimensional"):
        open_store(tmp_path, dimension=3)
    third.close()


def test_drop_old_starts_empty(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.add_documents(DOCS)
    fresh = open_store(tmp_path, drop_old=True)
    assert fresh.collection is None and fresh.get_by_ids(["f"]) == []
    fresh.close()


def test_two_stores_on_one_path_share_a_client(tmp_path: Path) -> None:
    a = open_store(tmp_path)
    b = open_store(tmp_path / ".")
    a.add_documents(DOCS)
    assert b.get_by_ids(["f"]) == [DOCS[0]]  # b picks up the collection a created
    assert a.collection is b.collection  # one client underneath: one copy in memory
    other = open_store(tmp_path, collection_name="notes")
    other.add_texts(["owl"], ids=["o"])
    assert a.get_by_ids(["o"]) == [] and other.get_by_ids(["o"])[0].page_content == "owl"
    with pytest.raises(vs.ConfigError, match="already open"):
        open_store(tmp_path, connect_options={"durability": "none"})
    collection = a.collection
    with a:
        pass  # closing one gives back its share only ...
    assert a.client is not None and a.client.closed
    assert b.client is not None and not b.client.closed and b.get_by_ids(["f"]) == [DOCS[0]]
    b.close()
    other.close()  # ... the last share closes the client
    assert collection is not None and collection.closed
    c = open_store(tmp_path)  # and the next store opens it again
    assert c.get_by_ids(["f", "o"]) == [DOCS[0]]
    c.close()


def test_memory_stores_are_separate_unless_given_one_client() -> None:
    emb = ConceptEmbeddings(TOPICS)
    a = KestrelVectorStore(embedding=emb)
    b = KestrelVectorStore(embedding=emb, uri=":memory:")
    a.add_texts(["falcon"], ids=["x"])
    assert b.get_by_ids(["x"]) == [] and a.client is not b.client
    c = KestrelVectorStore(embedding=emb, client=a.client)
    assert [d.id for d in c.get_by_ids(["x"])] == ["x"]
    assert a.collection is not None
    d = KestrelVectorStore(embedding=emb, collection=a.collection)
    assert d.client is None and [doc.id for doc in d.get_by_ids(["x"])] == ["x"]
    with pytest.raises(vs.ConfigError):
        d.delete_collection()
    c.delete_collection()
    assert c.collection is None and c.get_by_ids(["x"]) == []
    c.close()
    assert a.client is not None and not a.client.closed  # client= is not ours to close


def test_existing_collection_must_fit(tmp_path: Path) -> None:
    db = vs.connect()
    db.create_collection("quick", dimension=6, id_type="str")
    with pytest.raises(vs.ConfigError, match="text field 'text'"):
        KestrelVectorStore(embedding=ConceptEmbeddings(TOPICS), client=db, collection_name="quick")


OTHER_PROCESS = """
import sys
sys.path.insert(0, sys.argv[2])
from kestrel_lc_fakes import TOPICS, ConceptEmbeddings
from langchain_core.documents import Document
from langchain_kestrel import KestrelVectorStore
store = KestrelVectorStore(embedding=ConceptEmbeddings(TOPICS), uri=sys.argv[1],
                           collection_name="docs")
store.add_documents([Document(id="k", page_content="a kestrel hovers")])
print("added", flush=True)
sys.stdin.readline()  # the parent adds a document meanwhile
print(sorted(d.id or "" for d in store.get_by_ids(["k", "p"])), flush=True)
store.close()
"""


def test_two_stores_in_two_processes_on_one_path_both_write(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with open_store(path, collection_name="docs") as store:
        store.add_documents(DOCS)
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, str(path), str(Path(__file__).parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "added"
        with open_store(path, collection_name="docs") as mine:
            assert [d.id for d in mine.get_by_ids(["k"])] == ["k"]  # the other's write
            assert "k" in {d.id for d in mine.similarity_search("kestrel", k=2)}
            mine.add_documents([Document(id="p", page_content="mars orbit")])
            other.stdin.write("go\n")
            other.stdin.flush()
            assert other.stdout.readline().strip() == "['k', 'p']"  # and it sees mine
        reader = open_store(path, collection_name="docs", connect_options={"read_only": True})
        assert sorted(d.id or "" for d in reader.get_by_ids(["f", "k", "p"])) == ["f", "k", "p"]
        reader.close()
    finally:
        other.communicate(timeout=60)
    assert other.returncode == 0


def test_a_read_only_store_without_the_collection_says_so(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with open_store(path, collection_name="docs") as store:
        store.add_documents(DOCS)
    read_only = {"read_only": True}
    with pytest.raises(vs.CollectionNotFoundError, match=r"'dcos' does not exist.*\['docs'\]"):
        open_store(path, collection_name="dcos", connect_options=read_only)
    with open_store(path, collection_name="docs", connect_options=read_only) as reader:
        assert reader.similarity_search("falcon", k=1)[0].id == "f"
    with open_store(path, collection_name="other") as writer:  # a writer creates it later
        assert writer.similarity_search("falcon") == []
