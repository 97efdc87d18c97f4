"""IVF indexes on every backend: created with Milvus's names and parameters
(``nlist``; ``m``, ``nbits`` for IVF_PQ), searched with ``nprobe``, described,
kept across a reopen; searching every list finds what exact search finds. (The
embedded engine's recall at its defaults, with filters and deletes, is in
``tests/api/test_ivf.py``.)"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import vectorstore as vs

DIM = 16
N = 3000
NLIST = 16
RNG = np.random.default_rng(5)
DATA = (
    (RNG.normal(size=(30, DIM)) * 4)[RNG.integers(0, 30, N)] + RNG.normal(size=(N, DIM))
).astype(np.float32)
QUERIES = DATA[:8] + 0.05


def reference(metric: str) -> np.ndarray:
    x, q = DATA, QUERIES
    if metric == "L2":
        return np.argsort(((q[:, None, :] - x[None]) ** 2).sum(-1), axis=1)[:, :10]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return np.argsort(-(q @ x.T), axis=1)[:, :10]


@pytest.mark.parametrize("metric", ["L2", "COSINE"])
@pytest.mark.parametrize(
    ("index_type", "params", "least"),
    [
        ("IVF_FLAT", {"nlist": NLIST}, 1.0),
        ("IVF_SQ8", {"nlist": NLIST}, 0.95),
        pytest.param(
            "IVF_PQ",
            {"nlist": NLIST, "m": 4, "nbits": 8},
            0.95,
            marks=pytest.mark.milvus_differs(
                reason="Milvus Lite builds no IVF_PQ index", raises=vs.NotSupportedError
            ),
        ),
    ],
)
def test_ivf_searches_like_exact_with_every_list(
    stores: Any, index_type: str, params: dict[str, Any], least: float, metric: str
) -> None:
    db = stores.connect(segment_rows=2000)
    index = vs.Index("vector", index_type, metric, **params)
    col = db.create_collection("ivf", dimension=DIM, indexes=[index])
    col.insert([{"id": i, "vector": v.tolist()} for i, v in enumerate(DATA)])
    col.flush()
    want = reference(metric)
    for _ in range(2):
        hits = col.search(QUERIES, limit=10, search_params={"nprobe": NLIST})
        found = sum(
            len({h.id for h in row} & set(w.tolist())) for row, w in zip(hits, want, strict=True)
        )
        assert found / want.size >= least
        assert col.indexes == [index]
        assert col.describe()["indexes"][0]["params"] == index.params
        db = stores.reopen(db)
        col = db.get_collection("ivf")


def test_gpu_and_retired_index_types_name_the_cpu_one(db: vs.Client) -> None:
    for kind, instead in [("GPU_IVF_FLAT", "IVF_FLAT"), ("GPU_CAGRA", "HNSW"), ("NSG", "HNSW")]:
        with pytest.raises(vs.IndexConfigError, match=f"use {instead}"):
            db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", kind, "L2")])
    assert db.list_collections() == []
