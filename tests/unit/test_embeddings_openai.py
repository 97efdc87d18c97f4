"""OpenAIEmbedding against a real OpenAI-compatible HTTP server on loopback.

The server (tests/helpers/openai_server.py) is stdlib http.server in a thread;
the provider uses the real ``openai`` client over real sockets. Nothing of the
client is mocked: batching, ordering, retries and errors are observed on the
wire (the server records every request and its arrival time).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from helpers.openai_server import FakeOpenAIServer, Reply, server_vector

from vectorstore import ConfigError, DataError, EmbeddingError
from vectorstore.embeddings import OpenAIEmbedding, provider_from_config
from vectorstore.embeddings._retry import (
    backoff_delay,
    estimate_tokens,
    plan_batches,
    retry_after_seconds,
)

pytest.importorskip("openai", reason="the openai package is not installed")

KEY_ENV = "KESTREL_TEST_OPENAI_KEY"
UNKNOWN_MODEL = "local-embedder"  # not in the table of OpenAI models: dimension learned
FAST = {"backoff_base": 0.01, "backoff_max": 0.05}


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(dim=16).running() as s:
        yield s


def provider(
    server: FakeOpenAIServer, model: str = UNKNOWN_MODEL, **options: Any
) -> OpenAIEmbedding:
    options = {"api_key": "sk-test", **FAST, **options}
    return OpenAIEmbedding(model, base_url=server.base_url, **options)


def expected(texts: list[str], dim: int = 16) -> np.ndarray:
    return np.array([server_vector(t, dim) for t in texts], dtype=np.float32)


TEXTS = [f"text number {i}" for i in range(10)]


# -- requests and results --------------------------------------------------------


def test_vectors_come_back_in_input_order_as_float32(server: FakeOpenAIServer) -> None:
    p = provider(server)
    out = p.embed_documents(TEXTS)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (10, 16)
    np.testing.assert_allclose(out, expected(TEXTS), rtol=1e-6)
    body = server.requests[0].body
    assert body["model"] == UNKNOWN_MODEL and body["encoding_format"] == "float"
    assert "dimensions" not in body
    assert server.requests[0].path == "/v1/embeddings"
    query = p.embed_query("a question")
    assert query.shape == (16,) and query.dtype == np.float32
    np.testing.assert_allclose(query, expected(["a question"])[0], rtol=1e-6)


def test_order_is_restored_from_index_when_the_server_shuffles() -> None:
    with FakeOpenAIServer(dim=16, shuffle=True).running() as server:
        out = provider(server).embed_documents(TEXTS)
    np.testing.assert_allclose(out, expected(TEXTS), rtol=1e-6)


def test_batches_by_count(server: FakeOpenAIServer) -> None:
    out = provider(server, max_batch_size=3).embed_documents(TEXTS)
    assert server.batch_sizes() == [3, 3, 3, 1]
    assert [t for r in server.requests for t in r.inputs] == TEXTS
    np.testing.assert_allclose(out, expected(TEXTS), rtol=1e-6)


def test_batches_by_token_estimate_and_a_long_text_goes_alone(server: FakeOpenAIServer) -> None:
    short = [f"s{i:03d}" + "x" * 25 for i in range(5)]  # 29 bytes: 29 // 3 + 1 = 10 tokens
    long = "y" * 300  # 101 estimated tokens, over the limit by itself
    texts = [*short[:3], long, *short[3:]]
    out = provider(server, max_batch_tokens=25).embed_documents(texts)
    assert server.batch_sizes() == [2, 1, 1, 2]
    assert server.requests[2].inputs == [long]
    np.testing.assert_allclose(out, expected(texts), rtol=1e-6)


def test_plan_batches_and_estimate() -> None:
    assert estimate_tokens("") == 1 and estimate_tokens("abcdef") == 3
    assert estimate_tokens("日本") == 3  # 6 UTF-8 bytes
    texts = ["a" * 8] * 7  # 3 tokens each
    assert [len(r) for r in plan_batches(texts, 3, 1000)] == [3, 3, 1]
    assert [len(r) for r in plan_batches(texts, 100, 7)] == [2, 2, 2, 1]
    assert [len(r) for r in plan_batches(["x" * 99, "a"], 100, 5)] == [1, 1]
    assert plan_batches([], 3, 10) == []


def test_empty_input_makes_no_request(server: FakeOpenAIServer) -> None:
    p = provider(server, model="text-embedding-3-small")
    assert p.embed_documents([]).shape == (0, 1536)
    assert server.requests == []


def test_bad_input_is_a_data_error_before_any_request(server: FakeOpenAIServer) -> None:
    p = provider(server, dimension=16)
    with pytest.raises(DataError, match="single str"):
        p.embed_documents("one text")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="#1"):
        p.embed_documents(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(DataError):
        p.embed_query(None)  # type: ignore[arg-type]
    assert server.requests == []


# -- dimensions ---------------------------------------------------------------------


def test_dimensions_are_passed_through(server: FakeOpenAIServer) -> None:
    p = provider(server, model="text-embedding-3-small", dimensions=8)
    assert p.dimension == 8 and server.requests == []
    out = p.embed_documents(["a", "b"])
    assert out.shape == (2, 8)
    assert server.requests[0].body["dimensions"] == 8
    np.testing.assert_allclose(out, expected(["a", "b"], 8), rtol=1e-6)


def test_known_model_dimension_needs_no_request(server: FakeOpenAIServer) -> None:
    assert provider(server, model="text-embedding-3-large").dimension == 3072
    assert provider(server, model="text-embedding-ada-002").dimension == 1536
    assert server.requests == []


def test_unknown_model_learns_its_dimension_from_the_first_call(server: FakeOpenAIServer) -> None:
    p = provider(server)
    assert p.config()["dimension"] is None
    assert p.dimension == 16
    assert len(server.requests) == 1
    assert p.config()["dimension"] == 16
    server.then(Reply(dim=20))
    with pytest.raises(EmbeddingError, match="dimension 20, expected 16"):
        p.embed_documents(["x"])


def test_server_returning_wrong_dimension_is_an_embedding_error(server: FakeOpenAIServer) -> None:
    p = provider(server, model="text-embedding-3-small")  # expects 1536, server sends 16
    with pytest.raises(EmbeddingError, match=r"'openai'.*dimension 16, expected 1536"):
        p.embed_documents(["x"])


def test_server_returning_nan_is_an_embedding_error(server: FakeOpenAIServer) -> None:
    server.then(Reply(nan=True))
    with pytest.raises(EmbeddingError, match=r"'openai'.*NaN"):
        provider(server).embed_documents(["x", "y"])


def test_dimension_options_are_checked(server: FakeOpenAIServer) -> None:
    with pytest.raises(ConfigError, match="ada-002"):
        provider(server, model="text-embedding-ada-002", dimensions=256)
    with pytest.raises(ConfigError, match="at most 1536"):
        provider(server, model="text-embedding-3-small", dimensions=4096)
    with pytest.raises(ConfigError, match="contradicts"):
        provider(server, dimensions=8, dimension=16)
    with pytest.raises(ConfigError, match="max_batch_size"):
        provider(server, max_batch_size=0)


# -- retries ------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_seconds(server: FakeOpenAIServer) -> None:
    server.then(Reply(429, {"Retry-After": "0.3"}))
    out = provider(server).embed_documents(["a", "b"])
    np.testing.assert_allclose(out, expected(["a", "b"]), rtol=1e-6)
    first, second = server.requests
    assert second.at - first.at >= 0.3


def test_429_is_retried_after_retry_after_ms(server: FakeOpenAIServer) -> None:
    server.then(Reply(429, {"retry-after-ms": "250", "Retry-After": "30"}))
    provider(server).embed_query("a")
    first, second = server.requests
    assert second.at - first.at >= 0.25


def test_500_then_success(server: FakeOpenAIServer) -> None:
    server.then(Reply(500), Reply(502))
    out = provider(server).embed_documents(["a"])
    np.testing.assert_allclose(out, expected(["a"]), rtol=1e-6)
    assert len(server.requests) == 3


def test_gives_up_after_max_retries(server: FakeOpenAIServer) -> None:
    server.then(*[Reply(503)] * 10)
    with pytest.raises(EmbeddingError, match=r"after 3 attempt\(s\).*HTTP 503") as info:
        provider(server, max_retries=2).embed_documents(["a"])
    assert "'openai'" in str(info.value)
    assert len(server.requests) == 3


def test_a_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.then(Reply(delay=1.5))
    out = provider(server, timeout=0.3).embed_documents(["a"])
    np.testing.assert_allclose(out, expected(["a"]), rtol=1e-6)
    assert len(server.requests) == 2


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    p = OpenAIEmbedding(
        UNKNOWN_MODEL, base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=1, **FAST
    )
    with pytest.raises(EmbeddingError, match=r"after 2 attempt\(s\).*connection error"):
        p.embed_documents(["a"])


def test_401_fails_at_once_naming_the_key_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    with FakeOpenAIServer(api_key="sk-right").running() as server:
        p = OpenAIEmbedding(UNKNOWN_MODEL, base_url=server.base_url, api_key_env=KEY_ENV, **FAST)
        with pytest.raises(EmbeddingError, match=f"HTTP 401.*{KEY_ENV}"):
            p.embed_documents(["a"])
        assert len(server.requests) == 1


def test_other_4xx_fail_at_once(server: FakeOpenAIServer) -> None:
    server.then(Reply(400, message="input is too long"))
    with pytest.raises(EmbeddingError, match=r"HTTP 400.*input is too long"):
        provider(server).embed_documents(["a"])
    assert len(server.requests) == 1


def test_retry_after_parsing() -> None:
    assert retry_after_seconds({"Retry-After": "2"}) == 2.0
    assert retry_after_seconds({"retry-after": "0.25"}) == 0.25
    assert retry_after_seconds({"Retry-After-Ms": "1500", "Retry-After": "9"}) == 1.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    waited = retry_after_seconds({"Retry-After": date}, now=now)
    assert waited is not None and 29.0 <= waited <= 30.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, now=now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({"Retry-After": "-1"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    waits = [backoff_delay(a, 0.5, 20.0) for a in range(10)]
    assert 0.25 <= waits[0] <= 0.5 and 2.0 <= waits[3] <= 4.0
    assert all(10.0 <= w <= 20.0 for w in waits[6:])


# -- keys, config, other endpoints -------------------------------------------------


def test_api_key_is_read_from_the_environment_and_never_in_config(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-secret-from-env")
    p = OpenAIEmbedding(UNKNOWN_MODEL, base_url=server.base_url, api_key_env=KEY_ENV)
    p.embed_query("a")
    assert server.requests[0].headers["authorization"] == "Bearer sk-secret-from-env"
    config = p.config()
    assert config["api_key_env"] == KEY_ENV
    assert "sk-secret" not in json.dumps(config)
    assert provider_from_config(json.loads(json.dumps(config))).config() == config


def test_api_key_argument_is_used_but_not_stored(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    p = OpenAIEmbedding(
        UNKNOWN_MODEL, base_url=server.base_url, api_key="sk-direct", api_key_env=KEY_ENV
    )
    p.embed_query("a")
    assert server.requests[0].headers["authorization"] == "Bearer sk-direct"
    assert "sk-direct" not in json.dumps(p.config()) and "sk-direct" not in repr(p)
    with pytest.raises(ConfigError, match=f"set the environment variable {KEY_ENV}"):
        provider_from_config(p.config())


def test_missing_key_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIEmbedding()
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        provider_from_config({"name": "openai", "model": "text-embedding-3-small"})


def test_a_server_without_authentication(server: FakeOpenAIServer) -> None:
    p = OpenAIEmbedding(UNKNOWN_MODEL, base_url=server.base_url, api_key_env=None)
    assert p.embed_query("a").shape == (16,)
    assert provider_from_config(p.config()).config() == p.config()


def test_secret_looking_headers_are_sent_but_not_stored(server: FakeOpenAIServer) -> None:
    headers = {"X-Trace": "t1", "X-Api-Key": "gateway-secret", "Authorization-Extra": "z"}
    p = provider(server, default_headers=headers)
    p.embed_query("a")
    sent = server.requests[0].headers
    assert sent["x-trace"] == "t1" and sent["x-api-key"] == "gateway-secret"
    assert p.config()["default_headers"] == {"X-Trace": "t1"}
    assert "gateway-secret" not in json.dumps(p.config())


def test_azure_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "azure-key")
    with FakeOpenAIServer(api_key="azure-key").running() as server:
        p = OpenAIEmbedding(
            "my-deployment",
            azure_endpoint=server.root_url,
            api_version="2024-10-21",
            api_key_env=KEY_ENV,
            dimension=16,
            **FAST,
        )
        out = p.embed_documents(["a", "b"])
        request = server.requests[0]
    np.testing.assert_allclose(out, expected(["a", "b"]), rtol=1e-6)
    assert request.path == "/openai/deployments/my-deployment/embeddings?api-version=2024-10-21"
    assert request.headers["api-key"] == "azure-key"
    config = p.config()
    assert config["azure_endpoint"] == server.root_url and config["api_version"] == "2024-10-21"


# -- async ---------------------------------------------------------------------------


def test_async_path_uses_the_async_client(server: FakeOpenAIServer) -> None:
    p = provider(server, max_batch_size=4)
    out = asyncio.run(p.aembed_documents(TEXTS))
    np.testing.assert_allclose(out, expected(TEXTS), rtol=1e-6)
    assert server.batch_sizes() == [4, 4, 2]
    assert all(r.headers["user-agent"].startswith("AsyncOpenAI/") for r in server.requests)
    # a second event loop gets its own client (a pool belongs to one loop)
    query = asyncio.run(p.aembed_query("q"))
    np.testing.assert_allclose(query, expected(["q"])[0], rtol=1e-6)
    assert server.requests[-1].headers["user-agent"].startswith("AsyncOpenAI/")
    p.embed_query("sync")
    assert server.requests[-1].headers["user-agent"].startswith("OpenAI/")


def test_async_retries_honour_retry_after(server: FakeOpenAIServer) -> None:
    server.then(Reply(429, {"Retry-After": "0.2"}), Reply(500))
    out = asyncio.run(provider(server).aembed_documents(["a"]))
    np.testing.assert_allclose(out, expected(["a"]), rtol=1e-6)
    first, second, _ = server.requests
    assert second.at - first.at >= 0.2
    assert len(server.requests) == 3


def test_async_gives_up_and_fails_fast_like_sync(server: FakeOpenAIServer) -> None:
    server.then(*[Reply(500)] * 3)
    with pytest.raises(EmbeddingError, match=r"after 2 attempt\(s\).*HTTP 500"):
        asyncio.run(provider(server, max_retries=1).aembed_documents(["a"]))
    server.then(Reply(404))
    with pytest.raises(EmbeddingError, match=r"HTTP 404.*not found"):
        asyncio.run(provider(server).aembed_query("a"))


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"object": "list", "data": [{"index": 0}]}', b"", b"[1, 2]"]
)
def test_a_garbled_answer_is_an_embedding_error(server: FakeOpenAIServer, raw: bytes) -> None:
    server.then(Reply(raw=raw))
    p = provider(server, dimension=16)
    with pytest.raises(EmbeddingError):
        p.embed_documents(["hello"])
    with pytest.raises(EmbeddingError):
        server.then(Reply(raw=raw))
        asyncio.run(p.aembed_documents(["hello"]))
    assert p.embed_documents(["hello"]).shape == (1, 16)  # the next good answer works
