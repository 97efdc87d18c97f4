"""LangChainEmbedding and LlamaIndexEmbedding around those frameworks' own classes.

The wrapped objects are real: langchain_core's DeterministicFakeEmbedding and
Embeddings base class, llama_index.core's MockEmbedding and BaseEmbedding base
class (subclassed here only to make vectors depend on the text and to record
which path, sync or async, was taken).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from llama_index.core.embeddings import BaseEmbedding, MockEmbedding

from vectorstore import ConfigError, EmbeddingError
from vectorstore.embeddings import (
    LangChainEmbedding,
    LlamaIndexEmbedding,
    provider_from_config,
    register_provider,
)
from vectorstore.embeddings import base as embeddings_base

TEXTS = ["alpha", "beta", "gamma", "delta"]


def text_vector(text: str, dim: int = 6) -> list[float]:
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    return [float(x) for x in rng.standard_normal(dim)]


class RecordingLangChain(Embeddings):
    """A LangChain Embeddings with a native async path that records its calls."""

    def __init__(self, dim: int = 6, count_offset: int = 0) -> None:
        self.dim = dim
        self.count_offset = count_offset
        self.calls: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append("embed_documents")
        out = [text_vector(t, self.dim) for t in texts]
        return out[: len(out) - self.count_offset]

    def embed_query(self, text: str) -> list[float]:
        self.calls.append("embed_query")
        return text_vector("query: " + text, self.dim)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append("aembed_documents")
        await asyncio.sleep(0)
        return [text_vector(t, self.dim) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.calls.append("aembed_query")
        return text_vector("query: " + text, self.dim)


class RecordingLlamaIndex(BaseEmbedding):
    """A LlamaIndex BaseEmbedding whose vectors depend on the text; records its calls."""

    calls: list[str] = []  # noqa: RUF012 - a pydantic field

    def _get_query_embedding(self, query: str) -> list[float]:
        self.calls.append("query")
        return text_vector("query: " + query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        self.calls.append("aquery")
        return text_vector("query: " + query)

    def _get_text_embedding(self, text: str) -> list[float]:
        self.calls.append("text")
        return text_vector(text)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        self.calls.append("atext")
        return text_vector(text)


# -- LangChain ----------------------------------------------------------------------------


def test_langchain_deterministic_fake_embedding() -> None:
    fake = DeterministicFakeEmbedding(size=12)
    p = LangChainEmbedding(fake)
    out = p.embed_documents(TEXTS)
    assert out.shape == (4, 12) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, np.array(fake.embed_documents(TEXTS), np.float32))
    np.testing.assert_allclose(p.embed_query("q"), np.array(fake.embed_query("q"), np.float32))
    assert p.dimension == 12
    assert asyncio.run(p.aembed_documents(TEXTS)).tolist() == out.tolist()


def test_langchain_dimension_is_learned_with_one_probe_when_not_given() -> None:
    inner = RecordingLangChain(dim=6)
    p = LangChainEmbedding(inner)
    assert p.config()["dimension"] is None
    assert p.dimension == 6 and inner.calls == ["embed_query"]
    assert p.dimension == 6 and inner.calls == ["embed_query"]
    assert LangChainEmbedding(inner, dimension=6).dimension == 6
    assert inner.calls == ["embed_query"]


def test_langchain_queries_and_documents_take_their_own_paths() -> None:
    inner = RecordingLangChain()
    p = LangChainEmbedding(inner, dimension=6)
    np.testing.assert_allclose(p.embed_documents(["x"])[0], text_vector("x"), rtol=1e-6)
    np.testing.assert_allclose(p.embed_query("x"), text_vector("query: x"), rtol=1e-6)
    assert inner.calls == ["embed_documents", "embed_query"]


def test_langchain_native_async_is_used() -> None:
    inner = RecordingLangChain()
    p = LangChainEmbedding(inner, dimension=6)
    out = asyncio.run(p.aembed_documents(TEXTS))
    query = asyncio.run(p.aembed_query("x"))
    np.testing.assert_allclose(out, [text_vector(t) for t in TEXTS], rtol=1e-6)
    np.testing.assert_allclose(query, text_vector("query: x"), rtol=1e-6)
    assert inner.calls == ["aembed_documents", "aembed_query"]


def test_langchain_wrong_count_or_dimension_is_an_embedding_error() -> None:
    with pytest.raises(EmbeddingError, match=r"'langchain'.*3 vectors for 4 texts"):
        LangChainEmbedding(RecordingLangChain(count_offset=1)).embed_documents(TEXTS)
    with pytest.raises(EmbeddingError, match=r"'langchain'.*dimension 6, expected 8"):
        LangChainEmbedding(RecordingLangChain(dim=6), dimension=8).embed_documents(TEXTS)


def test_langchain_config_names_the_class_and_cannot_rebuild_it() -> None:
    p = LangChainEmbedding(DeterministicFakeEmbedding(size=12), dimension=12)
    config = p.config()
    assert json.loads(json.dumps(config)) == {
        "name": "langchain",
        "class": "langchain_core.embeddings.fake.DeterministicFakeEmbedding",
        "model": None,
        "dimension": 12,
    }
    with pytest.raises(ConfigError, match="pass the provider again") as info:
        provider_from_config(config)
    assert "DeterministicFakeEmbedding" in str(info.value)
    assert "register_provider('langchain'" in str(info.value)


def test_a_registered_factory_can_rebuild_a_wrapped_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embeddings_base, "_registry", dict(embeddings_base._registry))

    def factory(**options: Any) -> LangChainEmbedding:
        return LangChainEmbedding(DeterministicFakeEmbedding(size=options["dimension"]))

    register_provider("langchain", factory, replace=True)
    original = LangChainEmbedding(DeterministicFakeEmbedding(size=12), dimension=12)
    rebuilt = provider_from_config(original.config())
    np.testing.assert_array_equal(rebuilt.embed_query("x"), original.embed_query("x"))


def test_langchain_needs_an_embeddings_like_object() -> None:
    with pytest.raises(ConfigError, match="embed_documents"):
        LangChainEmbedding(object())
    with pytest.raises(ConfigError, match="dimension"):
        LangChainEmbedding(DeterministicFakeEmbedding(size=4), dimension=0)


# -- LlamaIndex ---------------------------------------------------------------------------


def test_llama_index_mock_embedding() -> None:
    p = LlamaIndexEmbedding(MockEmbedding(embed_dim=8))
    out = p.embed_documents(TEXTS)
    assert out.shape == (4, 8) and out.dtype == np.float32
    assert p.embed_query("q").shape == (8,) and p.dimension == 8
    assert asyncio.run(p.aembed_documents(TEXTS)).shape == (4, 8)
    config = p.config()
    assert config["class"] == "llama_index.core.embeddings.mock_embed_model.MockEmbedding"
    assert config["name"] == "llama-index" and config["dimension"] == 8


def test_llama_index_sync_and_async_paths_and_order() -> None:
    inner = RecordingLlamaIndex(model_name="recording-model", embed_batch_size=3)
    p = LlamaIndexEmbedding(inner, dimension=6)
    wanted = [text_vector(t) for t in TEXTS]
    np.testing.assert_allclose(p.embed_documents(TEXTS), wanted, rtol=1e-6)
    np.testing.assert_allclose(p.embed_query("x"), text_vector("query: x"), rtol=1e-6)
    assert inner.calls == ["text"] * 4 + ["query"]
    inner.calls.clear()
    np.testing.assert_allclose(asyncio.run(p.aembed_documents(TEXTS)), wanted, rtol=1e-6)
    np.testing.assert_allclose(asyncio.run(p.aembed_query("x")), text_vector("query: x"), rtol=1e-6)
    assert sorted(inner.calls) == ["aquery"] + ["atext"] * 4
    assert p.config()["model"] == "recording-model"


def test_llama_index_cannot_be_rebuilt_from_config() -> None:
    p = LlamaIndexEmbedding(MockEmbedding(embed_dim=8))
    with pytest.raises(ConfigError, match=r"'llama-index'.*pass the provider again"):
        provider_from_config(p.config())


def test_llama_index_needs_an_embedding_model_like_object() -> None:
    with pytest.raises(ConfigError, match="get_text_embedding_batch"):
        LlamaIndexEmbedding(DeterministicFakeEmbedding(size=4))
