"""Shared fixtures: one store per backend kind, a reopen helper, a snapshot helper.

``db`` runs a test once per store kind ("memory", "disk"; the Milvus backend will
be a third). ``reopen(db)`` closes a durable store and opens it again with the
same options (a no-op for the memory store), so one test checks both "works" and
"survives a restart".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vectorstore as vs

STORE_KINDS = ("memory", "disk")


class Stores:
    """Opens clients of one kind and closes them all at teardown."""

    def __init__(self, kind: str, root: Path):
        self.kind = kind
        self.path = root / "store"
        self.options: dict[str, Any] = {}
        self._clients: list[vs.Client] = []

    @property
    def durable(self) -> bool:
        return self.kind != "memory"

    @property
    def uri(self) -> str:
        return ":memory:" if self.kind == "memory" else str(self.path)

    def connect(self, **options: Any) -> vs.Client:
        """A new client (``segment_rows=`` etc. are remembered for ``reopen``)."""
        self.options = options
        db = vs.connect(self.uri, **options)
        self._clients.append(db)
        return db

    def reopen(self, db: vs.Client) -> vs.Client:
        """Close and reopen a durable store; the memory store is returned as is."""
        if not self.durable:
            return db
        db.close()
        return self.connect(**self.options)

    def close_all(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    s = Stores(request.param, tmp_path)
    yield s
    s.close_all()


@pytest.fixture
def disk_stores(tmp_path: Path) -> Stores:
    """Only the durable store (persistence tests)."""
    s = Stores("disk", tmp_path)
    yield s
    s.close_all()


@pytest.fixture
def db(stores: Stores) -> vs.Client:
    return stores.connect()


@pytest.fixture
def reopen(stores: Stores) -> Callable[[vs.Client], vs.Client]:
    return stores.reopen


def take_snapshot(col: vs.Collection) -> tuple[list[dict[str, Any]], int, list[str]]:
    """Everything observable: all rows (vectors too) by id, the count, the partitions."""
    rows = col.query(output_fields=["*"])
    rows.sort(key=lambda r: (type(r["id"]).__name__, r["id"]))
    return rows, col.count(), col.list_partitions()


@pytest.fixture
def snapshot() -> Callable[[vs.Collection], Any]:
    return take_snapshot


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
