"""HNSW recall@10 against exact numpy search, per metric, plain and filtered.

The main data set is seeded and clustered (100 Gaussian clusters in 32-d, spread
equal to the distance between centres), which is closer to real embeddings than
isotropic noise and still far from trivial. Isotropic Gaussian data, the hardest
case for any graph index, has its own test at the end.
"""

from __future__ import annotations

import numpy as np
import pytest

import vectorstore as vs

DT = vs.DataType

N = 20_000
DIM = 32
QUERIES = 200
K = 10
BAR = 0.95


def clustered(n: int, q: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(100, dim))

    def draw(m: int) -> np.ndarray:
        return (centres[rng.integers(100, size=m)] + rng.normal(size=(m, dim))).astype(np.float32)

    return draw(n), draw(q)


def exact_top(queries: np.ndarray, data: np.ndarray, metric: str, k: int) -> np.ndarray:
    q = queries.astype(np.float64)
    x = data.astype(np.float64)
    if metric == "L2":
        score = -((q * q).sum(1)[:, None] + (x * x).sum(1)[None, :] - 2 * q @ x.T)
    else:
        if metric == "COSINE":
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        score = q @ x.T
    k = min(k, x.shape[0])
    top = np.argpartition(-score, k - 1, axis=1)[:, :k]
    return top


def recall(hits: list[list[vs.Hit]], truth_ids: list[set[int]]) -> float:
    per_query = [
        len({h.id for h in row} & want) / max(len(want), 1)
        for row, want in zip(hits, truth_ids, strict=True)
    ]
    return float(np.mean(per_query))


@pytest.fixture(scope="module")
def dataset():
    return clustered(N, QUERIES, DIM, seed=2024)


@pytest.fixture(scope="module", params=["L2", "IP", "COSINE"])
def indexed(request, dataset):
    metric = request.param
    vectors, _ = dataset
    db = vs.connect(":memory:")
    col = db.create_collection(
        "c",
        dimension=DIM,
        indexes=[vs.Index("vector", "HNSW", metric, M=16, ef_construction=200)],
    )
    col.insert([{"id": i, "vector": vectors[i]} for i in range(N)])
    yield metric, col
    db.close()


@pytest.mark.parametrize("params", [None, {"ef": 64}], ids=["default", "ef64"])
def test_hnsw_recall_at_10(indexed, dataset, params):
    metric, col = indexed
    vectors, queries = dataset
    truth = [set(row.tolist()) for row in exact_top(queries, vectors, metric, K)]
    hits = col.search(queries, limit=K, search_params=params)
    assert all(len(row) == K for row in hits)
    r = recall(hits, truth)
    assert r >= BAR, f"{metric} recall@10 = {r:.3f} with {params}"


def test_hnsw_distances_are_exact_for_returned_rows(indexed, dataset):
    """Whatever the graph returns, its distances are the metric's true values."""
    metric, col = indexed
    vectors, queries = dataset
    hits = col.search(queries[:20], limit=K)
    for q, row in zip(queries[:20], hits, strict=True):
        ids = np.array([h.id for h in row])
        x = vectors[ids].astype(np.float64)
        qq = q.astype(np.float64)
        if metric == "L2":
            want = ((x - qq) ** 2).sum(1)
        elif metric == "IP":
            want = x @ qq
        else:
            want = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (qq / np.linalg.norm(qq))
        np.testing.assert_allclose([h.distance for h in row], want, rtol=1e-3, atol=1e-3)


# ------------------------------------------------------------------ filtered
FILTER_N = 30_000
FILTER_DIM = 16


@pytest.fixture(scope="module")
def filtered_collection():
    vectors, queries = clustered(FILTER_N, 100, FILTER_DIM, seed=7)
    bucket = np.random.default_rng(8).permutation(FILTER_N) % 1000
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=FILTER_DIM),
            vs.Field("bucket", DT.INT64),
        ]
    )
    db = vs.connect(":memory:")
    col = db.create_collection(
        "f",
        schema=schema,
        indexes=[vs.Index("vector", "HNSW", "COSINE", M=16, ef_construction=200)],
    )
    col.insert([{"id": i, "vector": vectors[i], "bucket": int(bucket[i])} for i in range(FILTER_N)])
    yield col, vectors, queries, bucket
    db.close()


# 0.1 % .. 100 %: exact search for few rows, hnswlib's filter in the middle
# (28 % of 30k = 8,400 rows), oversampling when most pass.
@pytest.mark.parametrize("passing", [1, 10, 100, 280, 500, 900, 1000])
def test_filtered_recall_at_every_selectivity(filtered_collection, passing):
    col, vectors, queries, bucket = filtered_collection
    allowed = np.flatnonzero(bucket < passing)
    top = exact_top(queries, vectors[allowed], "COSINE", K)
    truth = [set(allowed[row].tolist()) for row in top]
    hits = col.search(queries, limit=K, filter=f"bucket < {passing}", output_fields=["bucket"])
    assert all(h.entity["bucket"] < passing for row in hits for h in row)
    assert all(len(row) == min(K, len(allowed)) for row in hits)
    r = recall(hits, truth)
    assert r >= BAR, f"filtered recall@10 = {r:.3f} with {passing / 10:.1f}% passing"


# ------------------------------------------------------------- hard data
def test_default_recall_on_isotropic_gaussian_data():
    rng = np.random.default_rng(2024)
    vectors = rng.normal(size=(N, DIM)).astype(np.float32)
    queries = rng.normal(size=(QUERIES, DIM)).astype(np.float32)
    db = vs.connect(":memory:")
    col = db.create_collection(
        "g", dimension=DIM, indexes=[vs.Index("vector", "HNSW", "L2", M=16, ef_construction=200)]
    )
    col.insert([{"id": i, "vector": vectors[i]} for i in range(N)])
    truth = [set(row.tolist()) for row in exact_top(queries, vectors, "L2", K)]
    r = recall(col.search(queries, limit=K), truth)
    db.close()
    assert r >= BAR, f"recall@10 = {r:.3f}"
