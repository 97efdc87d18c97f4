"""Wrap a LangChain ``Embeddings`` or a LlamaIndex ``BaseEmbedding`` as a Kestrel provider.

The wrapped objects are duck-typed (their methods are called, their packages
never imported here), so any object with the right methods works. They hold
arbitrary state (clients, credentials), so they cannot be rebuilt from a
stored config: ``provider_from_config`` raises ``ConfigError`` saying to pass
the provider again, unless a factory is registered for the name
(``register_provider("langchain", factory, replace=True)``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import ConfigError
from .base import EmbeddingProvider


def _class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_dimension(dimension: Any, owner: str) -> int | None:
    if dimension is not None and (
        not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1
    ):
        raise ConfigError(f"{owner} dimension must be an int >= 1 or None, got {dimension!r}")
    return dimension


class _WrappedProvider(EmbeddingProvider):
    """Shared by the wrappers: dimension given or learned, config with the class path."""

    _model_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, wrapped: Any, dimension: int | None, methods: tuple[str, ...]) -> None:
        missing = [m for m in methods if not callable(getattr(wrapped, m, None))]
        if missing:
            raise ConfigError(
                f"{type(self).__name__} needs an object with {', '.join(methods)}(); "
                f"{_class_path(wrapped)} has no {', '.join(missing)}()"
            )
        self._wrapped = wrapped
        self._dimension = _check_dimension(dimension, type(self).__name__)
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """The vector width: given at construction, or learned from the first call.

        Returns:
            The dimension. If not known yet, one query ("dimension probe") is
            embedded to learn it.

        Raises:
            EmbeddingError: that call returned bad vectors.
        """
        if self._dimension is None:
            self.embed_query("dimension probe")
        assert self._dimension is not None
        return self._dimension

    def _known_dimension(self) -> int | None:
        return self._dimension

    def _learn_dimension(self, dimension: int) -> None:
        with self._lock:
            if self._dimension is None:
                self._dimension = dimension

    def config(self) -> dict[str, Any]:
        """The wrapped class's import path, its model name if it has one, the dimension.

        Returns:
            ``{"name": ..., "class": "package.module.Class", "model": ..., "dimension": ...}``;
            descriptive only: it cannot rebuild the wrapped object.
        """
        model = None
        for attribute in self._model_attributes:
            value = getattr(self._wrapped, attribute, None)
            if isinstance(value, str) and value:
                model = value
                break
        return {
            "name": self.name,
            "class": _class_path(self._wrapped),
            "model": model,
            "dimension": self._dimension,
        }

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> EmbeddingProvider:
        """Always refused: a wrapped object cannot be rebuilt from its description.

        Args:
            options: the stored config (without ``"name"``).

        Returns:
            Never.

        Raises:
            ConfigError: always; the message says to pass the provider again.
        """
        raise ConfigError(
            f"an embedding provider {cls.name!r} wrapping {options.get('class', 'an object')} "
            f"cannot be rebuilt from its stored config: pass the provider again "
            f"({cls.__name__}(...)), or register a factory with "
            f"register_provider({cls.name!r}, factory, replace=True)"
        )


class LangChainEmbedding(_WrappedProvider):
    """A LangChain ``Embeddings`` (``langchain_core.embeddings.Embeddings``) as a provider.

    Calls its ``embed_documents`` / ``embed_query`` and, for the async path, its
    own ``aembed_documents`` / ``aembed_query`` (LangChain's default runs the
    sync ones in an executor; native async clients override them).

    Args:
        embeddings: the LangChain embeddings object, e.g. ``OpenAIEmbeddings()``
            or ``HuggingFaceEmbeddings(...)``.
        dimension: its vector width if known; ``None``: learned from the first call.

    Raises:
        ConfigError: ``embeddings`` lacks ``embed_documents`` or ``embed_query``,
            or ``dimension`` is invalid.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> provider = LangChainEmbedding(DeterministicFakeEmbedding(size=16))
        >>> provider.embed_documents(["a", "b"]).shape
        (2, 16)
    """

    name: ClassVar[str] = "langchain"
    _model_attributes: ClassVar[tuple[str, ...]] = ("model", "model_name")

    def __init__(self, embeddings: Any, *, dimension: int | None = None) -> None:
        super().__init__(embeddings, dimension, ("embed_documents", "embed_query"))

    @property
    def embeddings(self) -> Any:
        """The wrapped LangChain object.

        Returns:
            The object given at construction.
        """
        return self._wrapped

    def _embed_documents(self, texts: list[str]) -> Any:
        return self._wrapped.embed_documents(texts)

    def _embed_query(self, text: str) -> Any:
        return self._wrapped.embed_query(text)

    async def _aembed_documents(self, texts: list[str]) -> Any:
        if not callable(getattr(self._wrapped, "aembed_documents", None)):
            return await super()._aembed_documents(texts)
        return await self._wrapped.aembed_documents(texts)

    async def _aembed_query(self, text: str) -> Any:
        if not callable(getattr(self._wrapped, "aembed_query", None)):
            return await super()._aembed_query(text)
        return await self._wrapped.aembed_query(text)


class LlamaIndexEmbedding(_WrappedProvider):
    """A LlamaIndex ``BaseEmbedding`` (``llama_index.core.embeddings``) as a provider.

    Documents go through ``get_text_embedding_batch`` (which batches by the
    model's ``embed_batch_size``), queries through ``get_query_embedding``
    (some models embed queries with an instruction); the async path uses
    ``aget_text_embedding_batch`` / ``aget_query_embedding``.

    Args:
        embed_model: the LlamaIndex embedding model, e.g. ``OpenAIEmbedding()``
            from ``llama_index.embeddings.openai``.
        dimension: its vector width if known; ``None``: learned from the first call.

    Raises:
        ConfigError: ``embed_model`` lacks ``get_text_embedding_batch`` or
            ``get_query_embedding``, or ``dimension`` is invalid.

    Example:
        >>> from llama_index.core.embeddings import MockEmbedding
        >>> provider = LlamaIndexEmbedding(MockEmbedding(embed_dim=8))
        >>> provider.embed_query("hello").shape
        (8,)
    """

    name: ClassVar[str] = "llama-index"
    _model_attributes: ClassVar[tuple[str, ...]] = ("model_name", "model")

    def __init__(self, embed_model: Any, *, dimension: int | None = None) -> None:
        super().__init__(
            embed_model, dimension, ("get_text_embedding_batch", "get_query_embedding")
        )

    @property
    def embed_model(self) -> Any:
        """The wrapped LlamaIndex object.

        Returns:
            The object given at construction.
        """
        return self._wrapped

    def _embed_documents(self, texts: list[str]) -> Any:
        return self._wrapped.get_text_embedding_batch(texts)

    def _embed_query(self, text: str) -> Any:
        return self._wrapped.get_query_embedding(text)

    async def _aembed_documents(self, texts: list[str]) -> Any:
        if not callable(getattr(self._wrapped, "aget_text_embedding_batch", None)):
            return await super()._aembed_documents(texts)
        return await self._wrapped.aget_text_embedding_batch(texts)

    async def _aembed_query(self, text: str) -> Any:
        if not callable(getattr(self._wrapped, "aget_query_embedding", None)):
            return await super()._aembed_query(text)
        return await self._wrapped.aget_query_embedding(text)


__all__ = ["LangChainEmbedding", "LlamaIndexEmbedding"]
