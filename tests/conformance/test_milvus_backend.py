"""The Milvus backend itself, on Milvus Lite: connecting, what it keeps in
Milvus, what it refuses, and that it is the whole API.

The behaviour it shares with the embedded engine is proven by the rest of
this directory; these are the backend's own promises.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

import vectorstore as vs
from vectorstore.backends.milvus import MilvusBackendClient, MilvusCollection
from vectorstore.embeddings import HashEmbedding

DT = vs.DataType


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return "milvus-lite://" + str(tmp_path / "lite" / "milvus.db")


@pytest.fixture
def db(uri: str) -> Iterator[vs.Client]:
    client = vs.connect(uri)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _quiet_pymilvus() -> Iterator[None]:
    # pymilvus logs every refused request at ERROR with a traceback
    logger = logging.getLogger("pymilvus")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def text_schema() -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.VARCHAR, is_primary=True, max_length=32),
            vs.Field("text", DT.VARCHAR, analyzer={"type": "standard", "stop_words": ["the"]}),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=32),
            vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[
            vs.BM25("text", "sparse", k1=1.4, b=0.7),
            vs.TextEmbedding("text", "dense", provider=HashEmbedding(32)),
        ],
        description="articles",
    )


# ------------------------------------------------------------------- connect
def test_connect_returns_the_same_api(db: vs.ClientAPI, uri: str) -> None:
    assert isinstance(db, vs.ClientAPI) and isinstance(db, MilvusBackendClient)
    assert db.uri == uri and "milvus-lite" in repr(db)
    col = db.create_collection("docs", dimension=4)
    assert isinstance(col, vs.CollectionAPI) and isinstance(col, MilvusCollection)
    assert db.list_collections() == ["docs"] and db.get_collection("docs") is col


@pytest.mark.parametrize("cls", [MilvusBackendClient, MilvusCollection])
def test_every_public_method_is_the_backends_own(cls: type) -> None:
    """Nothing falls through to the embedded engine's implementation (the whole
    contract, signatures included, is checked in tests/api/test_contract.py)."""
    assert not issubclass(cls, (vs.Client, vs.Collection))
    for base in cls.__mro__[1:]:
        assert base is object or base.__module__.startswith("vectorstore.backends"), base
    engine = vs.Client if cls is MilvusBackendClient else vs.Collection
    public = {n for n in dir(engine) if not n.startswith("_")} | {"__repr__"}
    for name in public:
        assert name in cls.__dict__, name
        mine, theirs = getattr(cls, name), getattr(engine, name)
        if callable(mine) and not isinstance(mine, property):
            ours = list(inspect.signature(mine).parameters)
            assert ours == list(inspect.signature(theirs).parameters), name


def test_connect_options(uri: str) -> None:
    with pytest.raises(TypeError, match="embedded"):
        vs.connect(uri, durability="batch")
    with pytest.raises(TypeError, match="unknown"):
        vs.connect(uri, colour="red")
    with pytest.raises(vs.ConfigError):
        vs.connect(uri, consistency_level="Sometimes")
    with pytest.raises(vs.ConfigError):
        vs.connect("milvus-lite://")


def test_read_only_client_refuses_writes(db: vs.Client, uri: str) -> None:
    db.create_collection("docs", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    with vs.connect(uri, read_only=True) as reader:
        col = reader.get_collection("docs")
        assert col.count() == 1 and col.get([1])[0]["id"] == 1
        with pytest.raises(vs.ReadOnlyError):
            col.insert({"id": 2, "vector": [0.0, 1.0]})
        with pytest.raises(vs.ReadOnlyError):
            reader.drop_collection("docs")


def test_closing_releases_the_file_for_a_new_client(uri: str) -> None:
    first = vs.connect(uri)
    first.create_collection("docs", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    second = vs.connect(uri)  # the same database: shares Milvus Lite's server
    first.close()
    assert second.get_collection("docs").count() == 1  # still served
    second.close()
    with vs.connect(uri) as third:  # a fresh server on the same file
        assert third.get_collection("docs").count() == 1


# ----------------------------------------------------------- kept in Milvus
def test_kestrel_schema_and_provider_config_survive_reopen(db: vs.Client, uri: str) -> None:
    schema = text_schema()
    col = db.create_collection("articles", schema=schema)
    col.insert([{"id": "a", "text": "the rust book"}, {"id": "b", "text": "python notes"}])
    db.close()
    with vs.connect(uri) as again:
        col = again.get_collection("articles")
        assert col.schema.to_dict() == schema.to_dict()  # provider config, analyzer, k1/b
        assert [i.to_dict() for i in col.indexes] == [
            i.to_dict() for i in again.create_collection("articles", schema=schema).indexes
        ]
        # the provider is rebuilt from its config: text in, text out
        assert col.search(["rust"], anns_field="dense", limit=1)[0][0].id == "a"
        assert col.search(["rust"], anns_field="sparse", limit=1)[0][0].id == "a"
        props = again.milvus.describe_collection("articles")["properties"]  # type: ignore[attr-defined]
        assert '"provider": {"dimension": 32, "name": "hash"}' in props["kestrel"]


def test_bm25_output_is_computed_by_milvus_and_never_returned(db: vs.Client) -> None:
    col = db.create_collection("articles", schema=text_schema())
    with pytest.raises(vs.DataError, match="BM25"):
        col.insert({"id": "x", "text": "t", "sparse": {1: 1.0}})
    col.insert({"id": "a", "text": "alpha beta"})
    row = col.get(["a"], output_fields=["*"])[0]
    assert set(row) == {"id", "text", "dense"}
    with pytest.raises(vs.NotSupportedError, match="BM25"):
        col.query(output_fields=["sparse"])


def test_a_collection_made_without_kestrel_opens(db: vs.Client) -> None:
    mc: Any = db.milvus  # type: ignore[attr-defined]
    mc.create_collection("native", dimension=3, metric_type="L2")
    mc.insert("native", [{"id": i, "vector": [float(i), 0.0, 0.0], "lang": "en"} for i in range(5)])
    col = db.get_collection("native")
    assert col.schema.primary.name == "id" and col.schema.enable_dynamic_field
    assert col.indexes[0].metric is vs.Metric.L2
    hits = col.search([[2.1, 0.0, 0.0]], limit=2, output_fields=["lang"])[0]
    assert [h.id for h in hits] == [2, 3] and hits[0]["lang"] == "en"
    assert hits[0].distance == pytest.approx(0.01, abs=1e-5)  # squared L2, as Milvus


# ------------------------------------------------------------ what it refuses
def test_analyzers_milvus_lite_lacks_create_nothing(db: vs.Client) -> None:
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer="english"),
            vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("text", "sparse")],
    )
    with pytest.raises(vs.NotSupportedError, match="english"):
        db.create_collection("c", schema=schema)
    assert db.list_collections() == []


def test_errors_keep_milvus_message_and_kestrel_class(db: vs.Client) -> None:
    col = db.create_collection("docs", dimension=2)
    col.insert([{"id": i, "vector": [1.0, float(i)], "n": i} for i in range(4)])
    with pytest.raises(vs.CollectionNotFoundError):
        db.get_collection("nope")
    with pytest.raises(vs.NotSupportedError, match="does not run the filter") as info:
        col.query("n % 2 == 0")
    assert "%" in str(info.value)  # Milvus Lite's own words are kept
    with pytest.raises(vs.FilterSyntaxError) as syntax:
        col.query("n > > 1")
    assert syntax.value.position is not None


def test_drop_ratio_search_is_not_supported_on_milvus_lite(db: vs.Client) -> None:
    col = db.create_collection("articles", schema=text_schema())
    col.insert({"id": "a", "text": "alpha beta"})
    with pytest.raises(vs.NotSupportedError, match="drop_ratio_search"):
        col.search(["alpha"], anns_field="sparse", search_params={"drop_ratio_search": 0.5})


def test_handles_follow_changes_made_by_other_clients(db: vs.Client, uri: str) -> None:
    col = db.create_collection("docs", dimension=2, metric="L2")
    with vs.connect(uri) as other:
        other.get_collection("docs").create_index("vector", "FLAT", "L2")
        assert db.get_collection("docs") is col
        assert col.indexes[0].index_type == "FLAT"  # picked up from Milvus
        other.drop_collection("docs")
        other.create_collection("docs", dimension=3)
    fresh = db.get_collection("docs")
    assert fresh is not col and fresh.schema["vector"].dim == 3
    with pytest.raises(vs.ClosedError):
        col.count()
