"""Fixtures of the LlamaIndex adapter tests: stores of each kind, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import BagOfWordsEmbedding, StoreFactory


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[StoreFactory]:
    """``make_store(kind="memory" | "disk", **options)``; disk stores share one path."""
    made: list[KestrelVectorStore] = []

    def make(kind: str = "memory", **options: Any) -> KestrelVectorStore:
        if kind == "disk" and "client" not in options and "collection" not in options:
            options.setdefault("uri", str(tmp_path / "store"))
        store = KestrelVectorStore(**options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture(params=["memory", "disk"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def embed_model() -> BagOfWordsEmbedding:
    return BagOfWordsEmbedding()
