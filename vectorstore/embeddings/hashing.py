"""``HashEmbedding``: a deterministic, dependency-free provider for tests and examples."""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar

import numpy as np

from ..errors import ConfigError
from .base import EmbeddingProvider

_WORD = re.compile(r"\w+")
_EMPTY_TOKEN = "\x00empty"


def _bucket(token: str, dimension: int) -> tuple[int, float]:
    digest = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "big")
    return digest % dimension, (1.0 if digest >> 63 else -1.0)


class HashEmbedding(EmbeddingProvider):
    """A hashed bag of words, L2-normalised: same text, same vector, in any process.

    Each lower-cased word (``\\w+``) adds +1 or -1 (by its hash) to one of
    ``dimension`` buckets (by its hash; BLAKE2b, so stable across processes
    and machines, unlike ``hash()``). Texts sharing words are close under
    COSINE / IP; word order is ignored. A text with no words gets the vector of
    a fixed placeholder token, so no vector is ever all zeros. No model, no
    dependency: for tests, examples and wiring checks, not for real retrieval.

    Args:
        dimension: the vector width (>= 1; 64 by default).

    Raises:
        ConfigError: ``dimension`` is not a positive int.

    Example:
        >>> provider = HashEmbedding(dimension=64)
        >>> provider.embed_documents(["the cat sat", "a dog ran"]).shape
        (2, 64)
        >>> provider.config()
        {'name': 'hash', 'dimension': 64}
    """

    name: ClassVar[str] = "hash"

    def __init__(self, dimension: int = 64) -> None:
        if not isinstance(dimension, int) or isinstance(dimension, bool) or dimension < 1:
            raise ConfigError(f"HashEmbedding dimension must be an int >= 1, got {dimension!r}")
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """The vector width given at construction.

        Returns:
            The dimension.
        """
        return self._dimension

    def config(self) -> dict[str, Any]:
        """``{"name": "hash", "dimension": <int>}``.

        Returns:
            The JSON-able config.
        """
        return {"name": self.name, "dimension": self._dimension}

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dimension, dtype=np.float64)
        tokens = _WORD.findall(text.lower()) or [_EMPTY_TOKEN]
        for token in tokens:
            index, sign = _bucket(token, self._dimension)
            vector[index] += sign
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # every word cancelled out
            index, sign = _bucket(_EMPTY_TOKEN, self._dimension)
            vector[index] = sign
            norm = 1.0
        return vector / norm

    def _embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(text) for text in texts]).astype(np.float32)


__all__ = ["HashEmbedding"]
