"""The conformance suite runs on every backend: ``stores`` is ``backends`` here.

So ``db``, ``reopen`` and ``stores`` of the tests in this directory give the
embedded memory store, the embedded disk store and the Milvus backend on
Milvus Lite in turn (see ``tests/conftest.py``); tests elsewhere keep the two
embedded kinds.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def stores(backends: Any) -> Any:
    return backends
