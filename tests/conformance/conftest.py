"""The conformance suite runs on every backend: ``stores`` is ``backends`` here.

So ``db``, ``reopen`` and ``stores`` of the tests in this directory give the
embedded memory store, the embedded disk store and the Milvus backend on
Milvus Lite in turn (see ``tests/conftest.py``); tests elsewhere keep the two
embedded kinds.

``hybrid_loaded`` is the data set of the sparse, BM25, text_match, range,
group-by and hybrid-search modules (``tests/helpers/hybrid_data.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.hybrid_data import Data, full_indexes, full_schema

import vectorstore as vs


@pytest.fixture
def stores(backends: Any) -> Any:
    return backends


@pytest.fixture
def hybrid_loaded(stores: Any) -> tuple[vs.Client, vs.Collection, Data]:
    """A 300-row collection over two partitions and small segments."""
    db = stores.connect(segment_rows=64)
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes("FLAT"))
    col.create_partition("p")
    data = Data(seed=11, n=300)
    data.insert_into(col, ("_default", "p"))
    return db, col, data
