"""langchain-tests' standard ``VectorStoreIntegrationTests``, sync and async, unmodified.

Run against both store kinds: a new in-memory store per test, and a durable
path store (opened through ``vs.shared_client``, closed after each test).

pytest-asyncio runs the suite's ``async def`` tests. In its default strict
mode they need the ``asyncio`` mark: ``pytestmark`` marks this module's tests
(the standard class's sync tests included, so the mark's "not an async
function" warning is filtered for them). With ``asyncio_mode = "auto"`` in the
pytest config neither would be needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("langchain_tests", reason="needs langchain-tests (pip install langchain-tests)")

from langchain_core.vectorstores import VectorStore
from langchain_kestrel import KestrelVectorStore
from langchain_tests.integration_tests.vectorstores import (
    VectorStoreIntegrationTests,
)

pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.filterwarnings(
        "ignore:The test <Function .*> is marked with '@pytest.mark.asyncio' but it is not "
        "an async function:pytest.PytestWarning"
    ),
]


class TestKestrelStandardMemory(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Iterator[VectorStore]:
        store = KestrelVectorStore(embedding=self.get_embeddings(), uri=":memory:")
        try:
            yield store
        finally:
            store.close()


class TestKestrelStandardDisk(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:
        store = KestrelVectorStore(
            embedding=self.get_embeddings(),
            uri=str(tmp_path / "store"),
            connect_options={"durability": "none"},
        )
        try:
            yield store
        finally:
            store.close()
