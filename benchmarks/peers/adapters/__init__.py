"""One adapter per system; ``load(name)`` imports only the one asked for, so a
child process never pays for (or breaks on) another system's import."""

from __future__ import annotations

import importlib

from .base import Adapter, NotSupportedError

SYSTEMS = {
    "hnswlib": ("hnswlib_", "Hnswlib"),
    "kestrel": ("kestrel", "Kestrel"),
    "faiss-hnsw": ("faiss_", "FaissHNSW"),
    "faiss-flat": ("faiss_", "FaissFlat"),
    "chroma": ("chroma", "Chroma"),
    "qdrant-local": ("qdrant", "Qdrant"),
    "lancedb": ("lancedb_", "LanceDB"),
    "milvus-lite": ("milvus_lite", "MilvusLite"),
}


def load(name: str) -> type[Adapter]:
    module, cls = SYSTEMS[name]
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


__all__ = ["SYSTEMS", "Adapter", "NotSupportedError", "load"]
