"""Exact-search reference and data helpers shared by the engine's search tests
and the conformance suite (tests/api/test_core_search.py,
tests/conformance/test_backend_search.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ["L2", "IP", "COSINE"]
DIM = 8
N = 400


def exact(
    queries: np.ndarray, data: np.ndarray, metric: str, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers and distances of the k nearest rows, best first (float64)."""
    q = np.asarray(queries, dtype=np.float64)
    x = np.asarray(data, dtype=np.float64)
    if metric == "L2":
        d = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        order = np.argsort(d, axis=1, kind="stable")
    else:
        if metric == "COSINE":
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = q @ x.T
        order = np.argsort(-d, axis=1, kind="stable")
    order = order[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def assert_matches(
    hits: Sequence[Sequence[Any]],
    ids: np.ndarray,
    queries: np.ndarray,
    data: np.ndarray,
    metric: str,
    k: int,
    offset: int = 0,
) -> None:
    """hits (one list per query) are exactly the reference's best k after offset."""
    order, dist = exact(queries, data, metric, k + offset)
    assert len(hits) == len(queries)
    for row, got in enumerate(hits):
        want = order[row, offset:]
        assert [h.id for h in got] == ids[want].tolist()
        np.testing.assert_allclose(
            [h.distance for h in got], dist[row, offset:], rtol=1e-4, atol=1e-4
        )


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(12, DIM)).astype(np.float32)
    return vectors, queries


def fill(
    col: Any,
    vectors: np.ndarray,
    start: int = 0,
    batch: int = 97,
    partition: str = "_default",
    **extra: Any,
) -> None:
    for s in range(0, len(vectors), batch):
        rows = [
            {"id": start + i, "vector": vectors[i].tolist(), "n": start + i, **extra}
            for i in range(s, min(s + batch, len(vectors)))
        ]
        col.insert(rows, partition=partition)
