"""Embedding providers: text in, float32 vectors out.

Every provider implements ``EmbeddingProvider`` (``dimension``,
``embed_documents``, ``embed_query``, their async twins, ``config``) and is
rebuilt from its JSON ``config()`` by ``provider_from_config``. Importing this
package imports none of the optional packages (openai, torch,
sentence-transformers, LangChain, LlamaIndex): each provider imports its own
when it is built or first used, and a missing one raises
``MissingDependencyError`` with the ``pip install`` line.

Providers:
    ``OpenAIEmbedding``: OpenAI, Azure OpenAI or any OpenAI-compatible server.
    ``SentenceTransformerEmbedding``: a local sentence-transformers model.
    ``LangChainEmbedding`` / ``LlamaIndexEmbedding``: wrap those frameworks' models.
    ``HashEmbedding``: deterministic hashed bag of words, no dependency (tests, examples).

Example:
    >>> from vectorstore.embeddings import HashEmbedding, provider_from_config
    >>> provider = HashEmbedding(dimension=64)
    >>> vectors = provider.embed_documents(["first text", "second text"])   # (2, 64) float32
    >>> same = provider_from_config(provider.config())                      # rebuilt by name
"""

from __future__ import annotations

from .adapters import LangChainEmbedding, LlamaIndexEmbedding
from .base import (
    EmbeddingProvider,
    ProviderFactory,
    available_providers,
    provider_from_config,
    register_provider,
    require,
)
from .hashing import HashEmbedding
from .openai import OpenAIEmbedding
from .sentence_transformers import SentenceTransformerEmbedding

__all__ = [
    "EmbeddingProvider",
    "HashEmbedding",
    "LangChainEmbedding",
    "LlamaIndexEmbedding",
    "OpenAIEmbedding",
    "ProviderFactory",
    "SentenceTransformerEmbedding",
    "available_providers",
    "provider_from_config",
    "register_provider",
    "require",
]
