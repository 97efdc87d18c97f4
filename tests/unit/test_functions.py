"""Schema function definitions, and reopening an embedded store without a provider.
BM25 and TextEmbedding end to end, on every backend:
``tests/conformance/test_backend_functions.py``."""

from __future__ import annotations

from typing import Any

import pytest

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding
from vectorstore.errors import ConfigError, IndexConfigError, SchemaError

DT = vs.DataType


def schema(**bm25: Any) -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, nullable=True),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=16),
            vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("doc", DT.INT64),
        ],
        functions=[
            vs.BM25(input="text", output="sparse", **bm25),
            vs.TextEmbedding(input="text", output="dense", provider=HashEmbedding(16)),
        ],
        enable_dynamic_field=True,
    )


def test_function_schema_errors() -> None:
    pk = vs.Field("id", DT.INT64, is_primary=True)
    text = vs.Field("text", DT.VARCHAR)
    sparse = vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR)
    dense = vs.Field("dense", DT.FLOAT_VECTOR, dim=8)
    with pytest.raises(SchemaError, match="VARCHAR"):
        vs.Schema([pk, text, sparse, vs.Field("n", DT.INT64)], functions=[vs.BM25("n", "sparse")])
    with pytest.raises(SchemaError, match="SPARSE_FLOAT_VECTOR"):
        vs.Schema([pk, text, dense], functions=[vs.BM25("text", "dense")])
    with pytest.raises(SchemaError, match="two functions"):
        vs.Schema([pk, text, sparse], functions=[vs.BM25("text", "sparse")] * 2)
    with pytest.raises(SchemaError, match="dim"):
        vs.Schema(
            [pk, text, dense],
            functions=[vs.TextEmbedding("text", "dense", provider=HashEmbedding(4))],
        )
    with pytest.raises(SchemaError, match="k1"):
        vs.BM25("text", "sparse", k1=-1)
    with pytest.raises(SchemaError, match="b must"):
        vs.BM25("text", "sparse", b=1.5)
    with pytest.raises(SchemaError, match="provider"):
        vs.TextEmbedding("text", "dense", provider=object())
    s = vs.Schema([pk, text, sparse], functions=[vs.BM25("text", "sparse")])
    with pytest.raises(IndexConfigError, match="BM25"):
        vs.Index("sparse", "SPARSE_INVERTED_INDEX", "IP").fit(s)


def test_reopen_without_a_registered_provider_says_what_is_missing(disk_stores: Any) -> None:
    class Local(HashEmbedding):
        name = "local-only"

        def config(self) -> dict[str, Any]:
            return {**super().config(), "name": "local-only"}

    s = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=16),
        ],
        functions=[vs.TextEmbedding("text", "dense", provider=Local(16))],
    )
    db = disk_stores.connect()
    db.create_collection("docs", schema=s).insert([{"id": 1, "text": "hello"}])
    db = disk_stores.reopen(db)
    col = db.get_collection("docs")
    assert col.get([1])[0]["text"] == "hello"  # the data opens; only embedding needs it
    with pytest.raises(ConfigError, match="local-only"):
        col.search(["hello"], anns_field="dense")
