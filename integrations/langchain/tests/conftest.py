"""Fixtures of the LangChain adapter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_kestrel import KestrelVectorStore


@pytest.fixture
def made() -> Iterator[list[KestrelVectorStore]]:
    """The stores a test builds (``kestrel_lc_fakes.new`` adds them), closed after it."""
    stores: list[KestrelVectorStore] = []
    yield stores
    for store in stores:
        store.close()
