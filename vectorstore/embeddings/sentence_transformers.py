"""``SentenceTransformerEmbedding``: local models through the sentence-transformers library.

``sentence_transformers`` (and torch with it) is imported on the first
embedding, not when the provider is built: a schema that names the provider
costs nothing until text has to be embedded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from ..errors import ConfigError, EmbeddingError, VectorStoreError
from .base import EmbeddingProvider, ensure_installed, require

AUTO_PROGRESS_BAR = 1000  # show_progress_bar=None: shown for more texts than this
_EXTRA = "sentence-transformers"


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"SentenceTransformerEmbedding {name} must be a bool, got {value!r}")
    return value


def _check_optional_str(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"SentenceTransformerEmbedding {name} must be a str or None")
    return value


class SentenceTransformerEmbedding(EmbeddingProvider):
    """Embeddings from a sentence-transformers model, run in this process.

    The model is loaded on first use (once, thread-safely); ``dimension`` comes
    from the model, so reading it loads the model.

    ``config()`` stores the model name or path (a local directory is stored as
    an absolute path) and the options that change the vectors, but not
    ``device``: the device is a property of the machine, not of the vectors
    (the same model gives the same vectors on CPU and GPU), and a stored
    ``"cuda"`` would break a store reopened on a machine without one. A
    provider rebuilt from config picks the device the way sentence-transformers
    does (GPU if there is one); build the provider yourself to choose.

    Args:
        model: a model name (``"all-MiniLM-L6-v2"``, ``"BAAI/bge-small-en-v1.5"``...),
            fetched by sentence-transformers into its cache on first use unless
            cached already, or the path of a local model directory.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``...; ``None``: automatic.
        normalize_embeddings: L2-normalise the vectors (right for COSINE and IP).
        batch_size: texts per forward pass.
        show_progress_bar: ``None``: shown for more than 1000 texts in a call.
        query_prompt: text put before each query, e.g. ``"query: "`` (E5) or
            ``"Represent this sentence for searching relevant passages: "`` (BGE).
        document_prompt: text put before each document, e.g. ``"passage: "``.
        trust_remote_code: allow the model's own Python code (some models need it).
        cache_folder: where sentence-transformers keeps downloaded models.

    Raises:
        ConfigError: an option is invalid.
        MissingDependencyError: sentence-transformers is not installed.

    Example:
        >>> provider = SentenceTransformerEmbedding("all-MiniLM-L6-v2", device="cpu")
        >>> provider.dimension
        384
        >>> provider.embed_query("what is a vector database?").shape
        (384,)
    """

    name: ClassVar[str] = "sentence-transformers"
    restricted_options: ClassVar[Mapping[str, object]] = {"trust_remote_code": False}

    def __init__(
        self,
        model: str | os.PathLike[str] = "all-MiniLM-L6-v2",
        *,
        device: str | None = None,
        normalize_embeddings: bool = True,
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        trust_remote_code: bool = False,
        cache_folder: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(model, (str, os.PathLike)) or not os.fspath(model):
            raise ConfigError(
                f"SentenceTransformerEmbedding model must be a name or a path: {model!r}"
            )
        path = os.fspath(model)
        self.model = os.path.abspath(path) if os.path.isdir(path) else path
        self.device = _check_optional_str("device", device)
        self._normalize = _check_bool("normalize_embeddings", normalize_embeddings)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(
                f"SentenceTransformerEmbedding batch_size must be an int >= 1, got {batch_size!r}"
            )
        self._batch_size = batch_size
        if show_progress_bar is not None:
            _check_bool("show_progress_bar", show_progress_bar)
        self._progress = show_progress_bar
        self._query_prompt = _check_optional_str("query_prompt", query_prompt)
        self._document_prompt = _check_optional_str("document_prompt", document_prompt)
        self._trust_remote_code = _check_bool("trust_remote_code", trust_remote_code)
        if cache_folder is not None and not isinstance(cache_folder, (str, os.PathLike)):
            raise ConfigError("SentenceTransformerEmbedding cache_folder must be a path or None")
        self._cache_folder = None if cache_folder is None else os.fspath(cache_folder)
        ensure_installed("sentence_transformers", _EXTRA)
        self._lock = threading.Lock()
        self._loaded: Any = None
        self._dimension: int | None = None

    def _model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loaded on the first call, once)."""
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                st = require("sentence_transformers", _EXTRA)
                try:
                    model = st.SentenceTransformer(
                        self.model,
                        device=self.device,
                        trust_remote_code=self._trust_remote_code,
                        cache_folder=self._cache_folder,
                    )
                except Exception as exc:  # OSError, hub errors, bad files: all say "no model"
                    raise EmbeddingError(
                        f"{self._label()} could not load the model: {exc}"
                    ) from exc
                getter = getattr(model, "get_embedding_dimension", None) or getattr(
                    model, "get_sentence_embedding_dimension", None
                )
                dimension = getter() if getter is not None else None
                if dimension is None:  # some models only know it by running
                    probe = model.encode(["dimension probe"], convert_to_numpy=True)
                    dimension = int(probe.shape[-1])
                self._dimension = int(dimension)
                self._loaded = model
            return self._loaded

    @property
    def dimension(self) -> int:
        """The model's vector width (loads the model on first access).

        Returns:
            The dimension, e.g. 384 for all-MiniLM-L6-v2.

        Raises:
            EmbeddingError: the model could not be loaded.
        """
        self._model()
        assert self._dimension is not None
        return self._dimension

    def config(self) -> dict[str, Any]:
        """The model name or path and the options that shape the vectors (not ``device``).

        Returns:
            A JSON-able dict for ``provider_from_config``.
        """
        return {
            "name": self.name,
            "model": self.model,
            "normalize_embeddings": self._normalize,
            "batch_size": self._batch_size,
            "show_progress_bar": self._progress,
            "query_prompt": self._query_prompt,
            "document_prompt": self._document_prompt,
            "trust_remote_code": self._trust_remote_code,
            "cache_folder": self._cache_folder,
        }

    def _encode(self, texts: list[str], prompt: str | None) -> Any:
        model = self._model()
        progress = self._progress if self._progress is not None else len(texts) > AUTO_PROGRESS_BAR
        options: dict[str, Any] = {
            "batch_size": self._batch_size,
            "show_progress_bar": progress,
            "convert_to_numpy": True,
            "normalize_embeddings": self._normalize,
        }
        if prompt:
            options["prompt"] = prompt
        try:
            return model.encode(texts, **options)
        except VectorStoreError:
            raise
        except Exception as exc:  # torch and tokenizer errors: the provider failed
            raise EmbeddingError(f"{self._label()} failed to encode: {exc}") from exc

    def _embed_documents(self, texts: list[str]) -> Any:
        return self._encode(texts, self._document_prompt)

    def _embed_query(self, text: str) -> Any:
        return self._encode([text], self._query_prompt)


__all__ = ["SentenceTransformerEmbedding"]
