"""The embedding provider contract, its shared validation, the registry and ``require``.

A provider turns text into float32 vectors of one fixed dimension. Subclasses
implement the private hooks (``_embed_documents`` and, where they have better
ones, ``_embed_query`` / ``_aembed_documents`` / ``_aembed_query``); the public
methods here check the inputs, call the hook and check its output, so every
provider's vectors are validated in this one place.

Providers are rebuilt from their JSON ``config()`` by ``provider_from_config``
through a registry of names. The built-in names resolve lazily: nothing here or
in the built-in modules imports openai, torch, sentence_transformers, LangChain
or LlamaIndex until a provider that needs them is built.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import inspect
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError, DataError, EmbeddingError, MissingDependencyError

DISTRIBUTION = "kestrel-vectorstore"

# extra name -> the package it installs (for the message only)
EXTRAS: dict[str, str] = {
    "openai": "openai",
    "sentence-transformers": "sentence-transformers",
    "langchain": "langchain-core",
    "llama-index": "llama-index-core",
    "parquet": "pyarrow",
    "milvus": "pymilvus",
}


def pip_line(extra: str) -> str:
    """The pip command that installs one of Kestrel's extras.

    Args:
        extra: an extra of the ``kestrel-vectorstore`` distribution, e.g. ``"openai"``.

    Returns:
        ``pip install "kestrel-vectorstore[<extra>]"``.
    """
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def _missing(module: str, extra: str, cause: BaseException | None) -> MissingDependencyError:
    package = EXTRAS.get(extra, extra)
    message = (
        f"the optional package {package!r} (module {module!r}) is needed here but is not "
        f"installed; install it with: {pip_line(extra)}"
    )
    root = module.partition(".")[0]
    if isinstance(cause, ImportError) and cause.name not in (None, module, root):
        message += f" (importing {module!r} failed: {cause})"
    return MissingDependencyError(message)


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or explain how to install it.

    Every optional import of Kestrel goes through here (or ``ensure_installed``).

    Args:
        module: the module to import, e.g. ``"openai"``.
        extra: the Kestrel extra that installs it, e.g. ``"openai"``,
            ``"sentence-transformers"``, ``"langchain"``, ``"llama-index"``.

    Returns:
        The imported module (typed ``Any``: callers use it dynamically, so type
        checking never depends on which optional packages are installed).

    Raises:
        MissingDependencyError: the module (or one it imports) cannot be
            imported; the message carries the exact ``pip install`` line.

    Example:
        >>> openai = require("openai", "openai")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(module, extra, exc) from exc


def ensure_installed(module: str, extra: str) -> None:
    """Check that an optional dependency is installed, without importing it.

    For providers whose dependency is slow to import (torch): they check at
    construction and import on first use.

    Args:
        module: a top-level module name, e.g. ``"sentence_transformers"``.
        extra: the Kestrel extra that installs it.

    Raises:
        MissingDependencyError: the module cannot be found; the message carries
            the exact ``pip install`` line.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise _missing(module, extra, None)


# -- input and output checks ------------------------------------------------


def check_texts(texts: Iterable[str]) -> list[str]:
    """The texts of an ``embed_documents`` call, as a list, each checked to be a ``str``.

    Args:
        texts: a sequence (or other iterable) of strings.

    Returns:
        A new list of the texts.

    Raises:
        DataError: ``texts`` is a single string (or bytes), is not iterable, or
            holds something that is not a ``str``.
    """
    if isinstance(texts, (str, bytes, bytearray)):
        raise DataError(
            "embed_documents() takes a sequence of strings, not a single "
            f"{type(texts).__name__}; use embed_query() or wrap it in a list"
        )
    try:
        items = list(texts)
    except TypeError:
        raise DataError(
            f"embed_documents() takes a sequence of strings, got {type(texts).__name__}"
        ) from None
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise DataError(f"text #{position} is a {type(text).__name__}, not a str")
    return items


def check_text(text: str) -> str:
    """Check the text of an ``embed_query`` call.

    Args:
        text: the query text.

    Returns:
        ``text`` unchanged.

    Raises:
        DataError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise DataError(f"embed_query() takes a str, got a {type(text).__name__}")
    return text


def check_vectors(raw: Any, count: int, dimension: int | None, label: str) -> np.ndarray:
    """Validate a provider's output and return it as a C-contiguous float32 matrix.

    Args:
        raw: what the provider returned: an array or a list of vectors.
        count: how many vectors it must hold (one per input text).
        dimension: the width each vector must have, or ``None`` when the
            provider does not know yet (any width >= 1 is taken).
        label: names the provider in error messages.

    Returns:
        A float32, C-contiguous array of shape ``(count, dimension)``.

    Raises:
        EmbeddingError: the output is not numeric, is ragged, has the wrong
            number of vectors or the wrong dimension, or holds NaN or infinity.
    """
    try:
        array = np.asarray(raw)
    except (ValueError, TypeError) as exc:  # ragged lists
        raise EmbeddingError(f"{label} returned malformed vectors: {exc}") from exc
    if array.dtype.kind not in "fiu":
        raise EmbeddingError(f"{label} returned non-numeric vectors (dtype {array.dtype})")
    if array.ndim != 2:
        raise EmbeddingError(
            f"{label} returned an array of shape {array.shape}; expected (texts, dimension)"
        )
    if array.shape[0] != count:
        raise EmbeddingError(f"{label} returned {array.shape[0]} vectors for {count} texts")
    if array.shape[1] == 0 or (dimension is not None and array.shape[1] != dimension):
        expected = "at least 1" if dimension is None else str(dimension)
        raise EmbeddingError(
            f"{label} returned vectors of dimension {array.shape[1]}, expected {expected}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise EmbeddingError(f"{label} returned a vector with NaN or infinity (text #{row})")
    return out


# -- the provider contract ----------------------------------------------------


class EmbeddingProvider(abc.ABC):
    """Turns text into float32 vectors of one fixed dimension.

    Subclasses set ``name`` (their registry key), implement ``dimension``,
    ``config`` and ``_embed_documents``, and may override ``_embed_query``
    (e.g. a query prompt), ``_aembed_documents`` / ``_aembed_query`` (a native
    async path) and ``from_config``. Providers with a dimension they learn from
    their first call override ``_known_dimension`` and ``_learn_dimension``.

    Example:
        >>> from vectorstore.embeddings import HashEmbedding
        >>> provider = HashEmbedding(dimension=64)
        >>> provider.embed_documents(["a text", "another"]).shape
        (2, 64)
        >>> provider.embed_query("a question").shape
        (64,)
    """

    name: ClassVar[str]
    #: Options that a config read from a store's files may hold only at these
    #: values: where requests go, which secret is sent, what code runs. A stored
    #: config that sets them otherwise is refused (pass the provider again).
    restricted_options: ClassVar[Mapping[str, object]] = {}

    @property
    @abc.abstractmethod
    def dimension(self) -> int:
        """The width of every vector this provider returns.

        Returns:
            The dimension (>= 1).

        Raises:
            EmbeddingError: it had to be learned with a call, and that call failed.
        """

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """This provider as JSON-able options, enough for ``provider_from_config``.

        Returns:
            ``{"name": <registry key>, ...}`` with the model and non-secret
            options. Never a secret: an API key is named by its environment variable.
        """

    @abc.abstractmethod
    def _embed_documents(self, texts: list[str]) -> Any:
        """Embed a non-empty list of checked texts (an array or list of vectors)."""

    def _embed_query(self, text: str) -> Any:
        """Embed one checked query text (one vector). Defaults to the document path."""
        return self._embed_documents([text])

    async def _aembed_documents(self, texts: list[str]) -> Any:
        """Async ``_embed_documents``; defaults to the sync one in a worker thread."""
        import asyncio  # (here: it loads ssl too, ~3 MB, which only async callers need)

        return await asyncio.to_thread(self._embed_documents, texts)

    async def _aembed_query(self, text: str) -> Any:
        """Async ``_embed_query``; defaults to the sync one in a worker thread."""
        import asyncio

        return await asyncio.to_thread(self._embed_query, text)

    def _known_dimension(self) -> int | None:
        """The dimension outputs are checked against; ``None`` if not known yet."""
        return self.dimension

    def _learn_dimension(self, dimension: int) -> None:  # noqa: B027 - optional hook
        """Record the dimension seen in a first valid output (providers that learn it)."""

    def _label(self) -> str:
        model = self.config().get("model")
        suffix = f" (model {model!r})" if model else ""
        return f"embedding provider {self.name!r}{suffix}"

    def _checked(self, raw: Any, count: int) -> np.ndarray:
        label = self._label()
        array = check_vectors(raw, count, self._known_dimension(), label)
        if self._known_dimension() is None:
            self._learn_dimension(array.shape[1])
        known = self._known_dimension()
        if known is not None and array.shape[1] != known:
            raise EmbeddingError(
                f"{label} returned vectors of dimension {array.shape[1]}, expected {known}"
            )
        return array

    def _query_matrix(self, raw: Any) -> Any:
        """One query's output as a one-row matrix (a malformed one is left to ``check_vectors``)."""
        try:
            array = np.asarray(raw)
        except (ValueError, TypeError):
            return raw
        return array.reshape(1, -1) if array.ndim == 1 else array

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to be stored.

        Args:
            texts: the texts (a sequence of ``str``; a single ``str`` is refused).

        Returns:
            A float32, C-contiguous array of shape ``(len(texts), dimension)``;
            ``(0, dimension)`` for no texts.

        Raises:
            DataError: ``texts`` is not a sequence of strings.
            EmbeddingError: the provider failed or returned bad vectors.

        Example:
            >>> HashEmbedding(8).embed_documents(["hello world"]).shape
            (1, 8)
        """
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._checked(self._embed_documents(items), len(items))

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query (some models embed queries differently).

        Args:
            text: the query text.

        Returns:
            A float32 vector of shape ``(dimension,)``.

        Raises:
            DataError: ``text`` is not a ``str``.
            EmbeddingError: the provider failed or returned a bad vector.
        """
        check_text(text)
        vector: np.ndarray = self._checked(self._query_matrix(self._embed_query(text)), 1)[0]
        return vector

    async def aembed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Async ``embed_documents``: native where the provider has it, else a worker thread.

        Args:
            texts: the texts (a sequence of ``str``).

        Returns:
            A float32 array of shape ``(len(texts), dimension)``.

        Raises:
            DataError: ``texts`` is not a sequence of strings.
            EmbeddingError: the provider failed or returned bad vectors.
        """
        items = check_texts(texts)
        if not items:
            import asyncio

            dimension = await asyncio.to_thread(lambda: self.dimension)
            return np.zeros((0, dimension), dtype=np.float32)
        return self._checked(await self._aembed_documents(items), len(items))

    async def aembed_query(self, text: str) -> np.ndarray:
        """Async ``embed_query``: native where the provider has it, else a worker thread.

        Args:
            text: the query text.

        Returns:
            A float32 vector of shape ``(dimension,)``.

        Raises:
            DataError: ``text`` is not a ``str``.
            EmbeddingError: the provider failed or returned a bad vector.
        """
        check_text(text)
        raw = await self._aembed_query(text)
        vector: np.ndarray = self._checked(self._query_matrix(raw), 1)[0]
        return vector

    @classmethod
    def from_config(cls, options: Mapping[str, Any]) -> EmbeddingProvider:
        """Build a provider from its ``config()`` without the ``"name"`` key.

        Args:
            options: the keyword arguments of the constructor.

        Returns:
            A new provider.

        Raises:
            ConfigError: an option is unknown or missing, or invalid.
        """
        _check_signature(cls, options, cls.name)
        return cls(**options)

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "name")
        return f"{type(self).__name__}({options})"


# -- the registry --------------------------------------------------------------

ProviderFactory = Callable[..., EmbeddingProvider]

_BUILTINS: dict[str, str] = {
    "hash": "vectorstore.embeddings.hashing:HashEmbedding",
    "openai": "vectorstore.embeddings.openai:OpenAIEmbedding",
    "sentence-transformers": "vectorstore.embeddings.sentence_transformers:"
    "SentenceTransformerEmbedding",
    "langchain": "vectorstore.embeddings.adapters:LangChainEmbedding",
    "llama-index": "vectorstore.embeddings.adapters:LlamaIndexEmbedding",
}
_registry: dict[str, ProviderFactory | str] = dict(_BUILTINS)
_registry_lock = threading.Lock()


def _check_signature(factory: Callable[..., Any], options: Mapping[str, Any], name: str) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        return
    try:
        signature.bind(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for embedding provider {name!r}: {exc}") from None


def register_provider(name: str, factory: ProviderFactory, *, replace: bool = False) -> None:
    """Make a provider buildable from its config by name.

    Args:
        name: the registry key, the ``"name"`` its ``config()`` returns.
        factory: called with the rest of the config as keyword arguments; an
            ``EmbeddingProvider`` subclass (its ``from_config`` is used) or any
            callable returning a provider.
        replace: allow replacing an existing name (a built-in included, e.g. to
            rebuild ``"langchain"`` providers with your own factory).

    Raises:
        ConfigError: ``name`` is empty or already registered (without ``replace``),
            or ``factory`` is not callable.

    Example:
        >>> register_provider("my-model", MyEmbedding)
        >>> provider_from_config({"name": "my-model", "size": "small"})
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a provider name must be a non-empty str, got {name!r}")
    if not callable(factory):
        raise ConfigError(f"the factory for provider {name!r} is not callable")
    with _registry_lock:
        if name in _registry and not replace:
            raise ConfigError(
                f"embedding provider {name!r} is already registered; "
                "pass replace=True to replace it"
            )
        _registry[name] = factory


def available_providers() -> list[str]:
    """The names ``provider_from_config`` knows.

    Returns:
        The registry keys, sorted (built-ins included even if their optional
        package is not installed).
    """
    with _registry_lock:
        return sorted(_registry)


def _resolve(entry: ProviderFactory | str) -> ProviderFactory:
    if not isinstance(entry, str):
        return entry
    module, _, attribute = entry.partition(":")
    factory: ProviderFactory = getattr(importlib.import_module(module), attribute)
    return factory


def provider_from_config(config: Mapping[str, Any], *, stored: bool = False) -> EmbeddingProvider:
    """Rebuild a provider from what its ``config()`` returned.

    Args:
        config: ``{"name": <registry key>, ...options}``.
        stored: the config was read from a store's files (a manifest, a Milvus
            collection property), which may come from anyone: options in the
            provider's ``restricted_options`` must then hold their default
            values, so that opening a store can never send a key to a host the
            user did not choose, or run a model's code.

    Returns:
        A new provider.

    Raises:
        ConfigError: ``config`` has no ``"name"``, the name is not registered
            (the message lists the known names), an option is unknown or
            invalid, a secret's environment variable is not set (the message
            names it), or the provider cannot be rebuilt from config (wrappers
            of LangChain or LlamaIndex objects: pass the provider again).
        MissingDependencyError: the provider's optional package is not installed.

    Example:
        >>> provider = provider_from_config({"name": "hash", "dimension": 64})
        >>> provider_from_config(provider.config()).config() == provider.config()
        True
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"a provider config must be a mapping, got {type(config).__name__}")
    name = config.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a provider config needs a 'name' (one of {available_providers()})")
    with _registry_lock:
        entry = _registry.get(name)
    if entry is None:
        raise ConfigError(
            f"unknown embedding provider {name!r}; known providers: "
            f"{', '.join(available_providers())} (register_provider() adds one)"
        )
    factory = _resolve(entry)
    options = {key: value for key, value in config.items() if key != "name"}
    restricted = getattr(factory, "restricted_options", {})
    for key, value in options.items() if stored else ():
        if key in restricted and value != restricted[key]:
            raise ConfigError(
                f"the stored config of embedding provider {name!r} sets {key}={value!r}; a "
                "store's files may not choose where requests go, which key is sent or what "
                "code runs, so it is not rebuilt from them: pass the provider again "
                "(db.get_collection(name, embedding=provider))"
            )
    provider: object
    if isinstance(factory, type) and issubclass(factory, EmbeddingProvider):
        provider = factory.from_config(options)
    else:
        _check_signature(factory, options, name)
        provider = factory(**options)
    if not isinstance(provider, EmbeddingProvider):
        raise ConfigError(
            f"the factory for provider {name!r} returned a {type(provider).__name__}, "
            "not an EmbeddingProvider"
        )
    return provider


__all__ = [
    "EmbeddingProvider",
    "ProviderFactory",
    "available_providers",
    "check_text",
    "check_texts",
    "check_vectors",
    "ensure_installed",
    "pip_line",
    "provider_from_config",
    "register_provider",
    "require",
]
