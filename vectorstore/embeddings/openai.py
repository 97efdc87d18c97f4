"""``OpenAIEmbedding``: OpenAI's embeddings API, or any server that speaks it.

Built on the official ``openai`` client (imported when a provider is built, not
before) with the client's own retries turned off: this module batches the
texts, retries what is worth retrying (429, 408, 5xx, timeouts, connection
errors) with exponential backoff and jitter, honours ``Retry-After`` and
``retry-after-ms``, and fails at once on other 4xx answers.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import threading
import time
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import ConfigError, EmbeddingError
from ._retry import plan_batches, retry_wait
from .base import EmbeddingProvider, require

if TYPE_CHECKING:
    import asyncio

KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
DEFAULT_AZURE_API_VERSION = "2024-10-21"
NO_AUTH_KEY = "no-key"  # sent when api_key_env=None: the client insists on some key
_SENSITIVE_HEADER = re.compile(r"auth|key|token|secret|cookie|password", re.IGNORECASE)
_DETAIL_CHARS = 300
_ERROR_CODE_PREFIX = re.compile(r"^Error code: \d+ - ")  # the client's; we say "HTTP <status>"


def _int_option(name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"OpenAIEmbedding {name} must be an int >= {minimum}, got {value!r}")
    return value


def _positive_float(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"OpenAIEmbedding {name} must be a number > 0, got {value!r}")
    return float(value)


def _optional_str(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"OpenAIEmbedding {name} must be a non-empty str or None, got {value!r}")
    return value


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class OpenAIEmbedding(EmbeddingProvider):
    """Embeddings from OpenAI, Azure OpenAI, or an OpenAI-compatible server.

    Works against ``base_url`` servers that implement ``POST /v1/embeddings``
    (vLLM, Ollama, LM Studio, LiteLLM...). Texts are sent in batches of at most
    ``max_batch_size`` texts and ``max_batch_tokens`` estimated tokens (UTF-8
    bytes / 3 + 1, no tokenizer needed; a single longer text goes alone), in
    order, one request at a time; results are put back in input order by each
    item's ``index``.

    Args:
        model: the model (on Azure: the deployment name).
        dimensions: ask the model for shorter vectors (``text-embedding-3-*``
            and servers that support it); sent as the API's ``dimensions``.
        base_url: an OpenAI-compatible server, e.g. ``"http://localhost:11434/v1"``;
            ``None`` for OpenAI (or ``$OPENAI_BASE_URL``, as the client reads it).
        api_key_env: the environment variable holding the API key, read once
            at construction. ``config()`` stores this name, never the key.
            ``None``: the server needs no key.
        api_key: the key itself, used instead of the variable, never stored
            (a provider rebuilt from ``config()`` reads ``api_key_env``).
        organization: the OpenAI organization id.
        max_batch_size: at most this many texts a request (OpenAI's limit: 2048).
        max_batch_tokens: at most this many estimated tokens a request
            (OpenAI's limit: 300,000).
        max_retries: retries after a failed attempt (0: try once).
        timeout: seconds per request before it counts as a timeout (and is retried).
        default_headers: extra HTTP headers on every request. Headers whose
            name mentions auth, key, token, secret, cookie or password are used
            but not stored in ``config()``.
        dimension: the vector width, when the table of OpenAI models does not
            know it; ``None``: from ``dimensions``, the table, or the first call.
        azure_endpoint: an Azure OpenAI resource, e.g.
            ``"https://my-resource.openai.azure.com"``; uses ``openai.AzureOpenAI``.
        api_version: the Azure API version (``DEFAULT_AZURE_API_VERSION`` if not given).
        backoff_base: the first backoff wait in seconds (doubled each retry,
            times a random 0.5 to 1).
        backoff_max: the longest backoff wait in seconds. A ``Retry-After``
            header is honoured as sent instead, up to 60 seconds.

    Raises:
        ConfigError: an option is invalid, or no API key was given and
            ``api_key_env`` is not set (the message names the variable).
        MissingDependencyError: the ``openai`` package is not installed.

    Example:
        >>> provider = OpenAIEmbedding("text-embedding-3-small", dimensions=512)
        >>> provider.embed_documents(["first text", "second text"]).shape
        (2, 512)
        >>> local = OpenAIEmbedding("nomic-embed-text", base_url="http://localhost:11434/v1",
        ...                         api_key_env=None)
    """

    name: ClassVar[str] = "openai"
    restricted_options: ClassVar[Mapping[str, object]] = {
        "base_url": None,
        "azure_endpoint": None,
        "api_key_env": "OPENAI_API_KEY",
        "default_headers": None,
    }

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        dimensions: int | None = None,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        api_key: str | None = None,
        organization: str | None = None,
        max_batch_size: int = 2048,
        max_batch_tokens: int = 300_000,
        max_retries: int = 6,
        timeout: float = 60.0,
        default_headers: Mapping[str, str] | None = None,
        dimension: int | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 20.0,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigError(f"OpenAIEmbedding model must be a non-empty str, got {model!r}")
        self.model = model
        self._dimensions = None if dimensions is None else _int_option("dimensions", dimensions, 1)
        self._explicit_dimension = (
            None if dimension is None else _int_option("dimension", dimension, 1)
        )
        self._dimension = self._initial_dimension()
        self._base_url = _optional_str("base_url", base_url)
        self._api_key_env = _optional_str("api_key_env", api_key_env)
        self._organization = _optional_str("organization", organization)
        self._azure_endpoint = _optional_str("azure_endpoint", azure_endpoint)
        self._api_version = _optional_str("api_version", api_version)
        self._max_batch_size = _int_option("max_batch_size", max_batch_size, 1)
        self._max_batch_tokens = _int_option("max_batch_tokens", max_batch_tokens, 1)
        self._max_retries = _int_option("max_retries", max_retries, 0)
        self._timeout = _positive_float("timeout", timeout)
        self._backoff_base = _positive_float("backoff_base", backoff_base)
        self._backoff_max = _positive_float("backoff_max", backoff_max)
        if default_headers is not None and not (
            isinstance(default_headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in default_headers.items())
        ):
            raise ConfigError("OpenAIEmbedding default_headers must map str to str")
        self._headers = dict(default_headers or {})
        self._openai = require("openai", "openai")
        self._api_key, self._key_source = self._resolve_key(api_key)
        self._lock = threading.Lock()
        self._client = self._make_client(asynchronous=False)
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    # -- construction helpers ---------------------------------------------

    def _initial_dimension(self) -> int | None:
        native = KNOWN_DIMENSIONS.get(self.model)
        if self._dimensions is not None:
            if self.model == "text-embedding-ada-002":
                raise ConfigError("text-embedding-ada-002 does not support dimensions=")
            if native is not None and self._dimensions > native:
                raise ConfigError(
                    f"{self.model} returns at most {native} dimensions, "
                    f"dimensions={self._dimensions} asked"
                )
        wanted = self._dimensions if self._dimensions is not None else native
        if self._explicit_dimension is not None:
            if self._dimensions is not None and self._explicit_dimension != self._dimensions:
                raise ConfigError(
                    f"dimension={self._explicit_dimension} contradicts "
                    f"dimensions={self._dimensions}"
                )
            return self._explicit_dimension
        return wanted

    def _resolve_key(self, api_key: str | None) -> tuple[str, str]:
        if api_key is not None:
            if not isinstance(api_key, str) or not api_key:
                raise ConfigError("OpenAIEmbedding api_key must be a non-empty str")
            return api_key, "the api_key argument"
        if self._api_key_env is None:
            return NO_AUTH_KEY, "no key (api_key_env=None)"
        value = os.environ.get(self._api_key_env)
        if not value:
            raise ConfigError(
                f"the OpenAI embedding provider needs an API key: set the environment "
                f"variable {self._api_key_env} (or pass api_key=..., or api_key_env=None "
                "for a server without authentication)"
            )
        return value, f"the environment variable {self._api_key_env}"

    def _make_client(self, *, asynchronous: bool) -> Any:
        options: dict[str, Any] = {
            "api_key": self._api_key,
            "organization": self._organization,
            "timeout": self._timeout,
            "max_retries": 0,  # we retry ourselves
            "default_headers": self._headers or None,
        }
        if self._azure_endpoint is not None:
            cls = self._openai.AsyncAzureOpenAI if asynchronous else self._openai.AzureOpenAI
            options["azure_endpoint"] = self._azure_endpoint
            options["api_version"] = self._api_version or DEFAULT_AZURE_API_VERSION
        else:
            cls = self._openai.AsyncOpenAI if asynchronous else self._openai.OpenAI
            options["base_url"] = self._base_url
        return cls(**options)

    def _async_client(self) -> Any:
        import asyncio  # (an async caller has it loaded: see embeddings.base)

        loop = asyncio.get_running_loop()  # an async client's pool belongs to one loop
        with self._lock:
            client = self._async_clients.get(loop)
            if client is None:
                client = self._make_client(asynchronous=True)
                self._async_clients[loop] = client
            return client

    # -- the contract ----------------------------------------------------------

    @property
    def dimension(self) -> int:
        """The vector width: given, from ``dimensions``, known for OpenAI models, or learned.

        Returns:
            The dimension. For an unknown model with no ``dimension`` given, the
            first access makes one small request ("dimension probe") to learn it.

        Raises:
            EmbeddingError: that request failed.
        """
        known = self._known_dimension()
        if known is None:
            self.embed_query("dimension probe")
            known = self._known_dimension()
            assert known is not None
        return known

    def _known_dimension(self) -> int | None:
        return self._dimension

    def _learn_dimension(self, dimension: int) -> None:
        with self._lock:
            if self._dimension is None:
                self._dimension = dimension

    def config(self) -> dict[str, Any]:
        """The model and every non-secret option (the key's variable name, never the key).

        Returns:
            A JSON-able dict for ``provider_from_config``.
        """
        safe_headers = {k: v for k, v in self._headers.items() if not _SENSITIVE_HEADER.search(k)}
        config: dict[str, Any] = {
            "name": self.name,
            "model": self.model,
            "dimensions": self._dimensions,
            "dimension": self._dimension,
            "base_url": self._base_url,
            "api_key_env": self._api_key_env,
            "organization": self._organization,
            "max_batch_size": self._max_batch_size,
            "max_batch_tokens": self._max_batch_tokens,
            "max_retries": self._max_retries,
            "timeout": self._timeout,
            "default_headers": safe_headers or None,
            "backoff_base": self._backoff_base,
            "backoff_max": self._backoff_max,
        }
        if self._azure_endpoint is not None:
            config["azure_endpoint"] = self._azure_endpoint
            config["api_version"] = self._api_version or DEFAULT_AZURE_API_VERSION
        return config

    def _embed_documents(self, texts: list[str]) -> list[Any]:
        rows: list[Any] = []
        for batch in plan_batches(texts, self._max_batch_size, self._max_batch_tokens):
            rows.extend(self._call([texts[i] for i in batch]))
        return rows

    async def _aembed_documents(self, texts: list[str]) -> list[Any]:
        rows: list[Any] = []
        for batch in plan_batches(texts, self._max_batch_size, self._max_batch_tokens):
            rows.extend(await self._acall([texts[i] for i in batch]))
        return rows

    async def _aembed_query(self, text: str) -> list[Any]:
        return await self._aembed_documents([text])

    # -- one request, with retries ------------------------------------------

    def _request(self, batch: list[str]) -> dict[str, Any]:
        request: dict[str, Any] = {"input": batch, "model": self.model, "encoding_format": "float"}
        if self._dimensions is not None:
            request["dimensions"] = self._dimensions
        return request

    def _call(self, batch: list[str]) -> list[Any]:
        for attempt in itertools.count():
            try:
                response = self._client.embeddings.create(**self._request(batch))
            except self._openai.OpenAIError as exc:
                time.sleep(self._wait_or_raise(exc, attempt))
                continue
            except ValueError as exc:  # a body that is not JSON (json.JSONDecodeError)
                raise self._not_json(exc) from exc
            return self._rows(response, len(batch))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _acall(self, batch: list[str]) -> list[Any]:
        client = self._async_client()
        for attempt in itertools.count():
            try:
                response = await client.embeddings.create(**self._request(batch))
            except self._openai.OpenAIError as exc:
                import asyncio

                await asyncio.sleep(self._wait_or_raise(exc, attempt))
                continue
            except ValueError as exc:  # a body that is not JSON (json.JSONDecodeError)
                raise self._not_json(exc) from exc
            return self._rows(response, len(batch))
        raise AssertionError("unreachable")  # pragma: no cover

    def _not_json(self, exc: ValueError) -> EmbeddingError:
        """A 2xx answer whose body is not JSON: a broken server or proxy, not retried."""
        where = self._azure_endpoint or self._base_url or "the OpenAI API"
        return EmbeddingError(f"{self._label()} got an answer from {where} that is not JSON: {exc}")

    def _wait_or_raise(self, exc: Exception, attempt: int) -> float:
        """Seconds to wait before retrying ``exc``; raises when it is final or retries ran out."""
        openai = self._openai
        label = self._label()
        headers = None
        if isinstance(exc, openai.APIStatusError):
            status = int(exc.status_code)
            headers = exc.response.headers
            message = _ERROR_CODE_PREFIX.sub("", str(getattr(exc, "message", exc)))[:_DETAIL_CHARS]
            detail = f"HTTP {status}: {message}"
            if status != 408 and status != 429 and status < 500:
                raise EmbeddingError(f"{label} failed: {detail}{self._hint(status)}") from exc
        elif isinstance(exc, openai.APITimeoutError):
            detail = f"timed out after {self._timeout:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            where = self._azure_endpoint or self._base_url or "the OpenAI API"
            detail = f"connection error to {where}: {cause}"[:_DETAIL_CHARS]
        else:
            raise EmbeddingError(f"{label} failed: {exc}") from exc
        if attempt >= self._max_retries:
            raise EmbeddingError(
                f"{label} gave up after {attempt + 1} attempt(s); last error: {detail}"
            ) from exc
        return retry_wait(attempt, headers, self._backoff_base, self._backoff_max)

    def _hint(self, status: int) -> str:
        if status == 401:
            return f" (authentication failed: check the API key in {self._key_source})"
        if status == 403:
            return " (permission denied for this key, organization or model)"
        if status == 404:
            where = self._azure_endpoint or self._base_url or "the OpenAI API"
            return f" (model or endpoint not found: model {self.model!r} at {where})"
        return ""

    def _rows(self, response: Any, count: int) -> list[Any]:
        label = self._label()
        data = _field(response, "data")
        if not isinstance(data, list):
            raise EmbeddingError(f"{label} returned a response without a 'data' list")
        if len(data) != count:
            raise EmbeddingError(f"{label} returned {len(data)} vectors for {count} texts")
        rows: list[Any] = [None] * count
        for position, item in enumerate(data):
            index = _field(item, "index")
            index = position if index is None else index
            if not isinstance(index, int) or not 0 <= index < count or rows[index] is not None:
                raise EmbeddingError(
                    f"{label} returned a bad or repeated index {index!r} for {count} texts"
                )
            embedding = _field(item, "embedding")
            if isinstance(embedding, str):  # a server that ignored encoding_format="float"
                try:
                    embedding = np.frombuffer(base64.b64decode(embedding), dtype="<f4")
                except ValueError as exc:  # binascii.Error is one
                    raise EmbeddingError(f"{label} returned an undecodable embedding") from exc
            if embedding is None:
                raise EmbeddingError(f"{label} returned an item without an embedding")
            rows[index] = embedding
        return rows


__all__ = ["DEFAULT_AZURE_API_VERSION", "KNOWN_DIMENSIONS", "OpenAIEmbedding"]
