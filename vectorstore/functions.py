"""Schema functions: fields computed from other fields at insert and at search.

- ``BM25(input="text", output="sparse")``: the text's term frequencies (by the
  input field's analyzer) fill the sparse field; a search with text on that
  field scores rows with BM25 over collection-wide statistics.
- ``TextEmbedding(input="text", output="dense", provider=...)``: the provider
  embeds the text into the dense field on insert (unless the row brings its own
  vector) and embeds query text with ``embed_query`` on search.

Both serialise to JSON (``to_dict``) for the store's manifest; a provider is
kept as its config (never a secret) and rebuilt when first needed.
"""

from __future__ import annotations

import enum
import math
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .embeddings import provider_from_config
from .errors import ConfigError, EmbeddingError, SchemaError
from .names import validate_name

PROGRESS_MIN = 1000  # texts in one insert before a progress bar shows by itself
PROGRESS_CHUNK = 256  # texts per provider call while a progress bar shows


class FunctionType(enum.Enum):
    """What a schema function computes (as pymilvus's ``FunctionType``)."""

    BM25 = "BM25"
    TEXT_EMBEDDING = "TextEmbedding"


@dataclass(frozen=True)
class BM25:
    """Full-text relevance: a VARCHAR field's terms into a SPARSE_FLOAT_VECTOR field.

    Args:
        input: the VARCHAR field holding the text (its ``analyzer`` tokenises it;
            ``"standard"`` when the field names none).
        output: the SPARSE_FLOAT_VECTOR field to fill; rows must not bring it.
        k1: term frequency saturation (>= 0; Lucene's and Milvus's 1.2 by default).
        b: length normalisation in [0, 1] (0.75 by default).
        name: a name for the function (defaults to ``"bm25_<output>"``).

    Example:
        >>> BM25(input="text", output="sparse", k1=1.2, b=0.75)
    """

    input: str
    output: str
    k1: float = 1.2
    b: float = 0.75
    name: str = ""

    def __post_init__(self) -> None:
        validate_name(self.input, "BM25 input field")
        validate_name(self.output, "BM25 output field")
        for key, low, high in (("k1", 0.0, math.inf), ("b", 0.0, 1.0)):
            value = getattr(self, key)
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not low <= value <= high
            ):
                raise SchemaError(f"BM25 {key} must be a number in [{low}, {high}], got {value!r}")
            object.__setattr__(self, key, float(value))
        object.__setattr__(self, "name", self.name or f"bm25_{self.output}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def kind(self) -> FunctionType:
        return FunctionType.BM25

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "BM25",
            "name": self.name,
            "input": self.input,
            "output": self.output,
            "k1": self.k1,
            "b": self.b,
        }


@dataclass(frozen=True, eq=False)
class TextEmbedding:
    """Dense vectors from text, by an embedding provider.

    Args:
        input: the VARCHAR field holding the text.
        output: the FLOAT_VECTOR field to fill (its ``dim`` must match the
            provider's dimension). Rows may bring their own vector instead.
        provider: an ``vectorstore.embeddings.EmbeddingProvider``.
        name: a name for the function (defaults to ``"embed_<output>"``).

    Example:
        >>> TextEmbedding(input="text", output="dense",
        ...               provider=embeddings.SentenceTransformerEmbedding("all-MiniLM-L6-v2"))
    """

    input: str
    output: str
    provider: Any = None
    name: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        validate_name(self.input, "TextEmbedding input field")
        validate_name(self.output, "TextEmbedding output field")
        if self.provider is None and not self.config:
            raise SchemaError("TextEmbedding needs a provider")
        if self.provider is not None:
            for attr in ("embed_documents", "embed_query", "config"):
                if not callable(getattr(self.provider, attr, None)):
                    raise SchemaError(
                        f"TextEmbedding provider {type(self.provider).__name__} has no {attr}(); "
                        "use a vectorstore.embeddings provider"
                    )
            object.__setattr__(self, "config", dict(self.provider.config()))
        object.__setattr__(self, "name", self.name or f"embed_{self.output}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.input,)

    @property
    def kind(self) -> FunctionType:
        return FunctionType.TEXT_EMBEDDING

    def get_provider(self) -> Any:
        """The provider, rebuilt from its stored config on first use after a reopen.

        Raises:
            ConfigError: the provider cannot be rebuilt (a secret missing from
                the environment, an unknown provider); the message says what to do.
            MissingDependencyError: its package is not installed.
        """
        if self.provider is None:
            with self._lock:
                if self.provider is None:
                    provider = provider_from_config(self.config, stored=True)
                    object.__setattr__(self, "provider", provider)
        return self.provider

    def attach(self, provider: Any) -> None:
        """Use ``provider`` for this function from now on (a reopened store's
        provider, given again by the user instead of rebuilt from its config).

        Raises:
            ConfigError: it is not the same kind of provider as the stored one.
        """
        config = provider.config() if callable(getattr(provider, "config", None)) else None
        if not isinstance(config, Mapping) or config.get("name") != self.config.get("name"):
            raise ConfigError(
                f"TextEmbedding {self.name!r} was made with a {self.config.get('name')!r} "
                f"provider; got {type(provider).__name__}"
            )
        with self._lock:
            object.__setattr__(self, "provider", provider)

    def embed_documents(
        self, texts: list[str], dim: int | None, progress: bool | None = None
    ) -> np.ndarray:
        """Embed texts for insert: a checked float32 (len(texts), dim) matrix.

        Args:
            texts: the texts.
            dim: the output field's dimension.
            progress: show a tqdm progress bar (None: when there are at least
                ``PROGRESS_MIN`` texts and stderr is a terminal).

        Raises:
            EmbeddingError: the provider failed or returned the wrong shape or
                non-finite values.
        """
        provider = self.get_provider()
        if progress is None:
            progress = len(texts) >= PROGRESS_MIN and sys.stderr.isatty()
        if not progress:
            return _checked(provider, provider.embed_documents(texts), len(texts), dim)
        from tqdm.auto import tqdm

        parts = []
        with tqdm(total=len(texts), desc=f"embedding {self.input!r}", unit="text") as bar:
            for start in range(0, len(texts), PROGRESS_CHUNK):
                chunk = texts[start : start + PROGRESS_CHUNK]
                parts.append(_checked(provider, provider.embed_documents(chunk), len(chunk), dim))
                bar.update(len(chunk))
        return np.concatenate(parts) if parts else np.empty((0, dim or 0), dtype=np.float32)

    def embed_query(self, text: str, dim: int | None) -> np.ndarray:
        """Embed one query text: a checked float32 (dim,) vector."""
        provider = self.get_provider()
        vector: np.ndarray = _checked(provider, [provider.embed_query(text)], 1, dim)[0]
        return vector

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "TextEmbedding",
            "name": self.name,
            "input": self.input,
            "output": self.output,
            "provider": dict(self.config),
        }


Function = BM25 | TextEmbedding


def _checked(provider: Any, vectors: Any, n: int, dim: int | None) -> np.ndarray:
    name = type(provider).__name__
    try:
        arr = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError):
        raise EmbeddingError(f"{name} returned something that is not a matrix of numbers") from None
    if arr.ndim != 2 or arr.shape[0] != n or (dim is not None and arr.shape[1] != dim):
        raise EmbeddingError(f"{name} returned vectors of shape {arr.shape}; expected ({n}, {dim})")
    if not np.isfinite(arr).all():
        raise EmbeddingError(f"{name} returned NaN or inf")
    return np.ascontiguousarray(arr)


def function_from_dict(data: Mapping[str, Any]) -> Function:
    """Rebuild a function from ``to_dict``'s output (providers are rebuilt lazily)."""
    kind = data.get("type")
    if kind == "BM25":
        return BM25(data["input"], data["output"], data["k1"], data["b"], data["name"])
    if kind == "TextEmbedding":
        return TextEmbedding(
            data["input"], data["output"], None, data["name"], config=dict(data["provider"])
        )
    raise ConfigError(f"unknown schema function type {kind!r}")


__all__ = ["BM25", "Function", "FunctionType", "TextEmbedding", "function_from_dict"]
