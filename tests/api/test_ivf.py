"""IVF indexes (IVF_FLAT, IVF_SQ8, IVF_PQ on faiss) on the embedded engine, against
exact search over the same rows: recall with and without filters, exact
distances after re-ranking, deletes, small and growing segments, persistence
without retraining, and the parameter errors."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.index.ivf import IvfIndex

DIM = 16
N = 6000
TYPES = [
    ("IVF_FLAT", {"nlist": 64}),
    ("IVF_SQ8", {"nlist": 64}),
    ("IVF_PQ", {"nlist": 64, "m": 4}),
]


def gmm(n: int, seed: int) -> np.ndarray:
    """Clustered vectors (40 Gaussian blobs), the shape real embeddings have."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, DIM)) * 4
    return (centers[rng.integers(0, 40, n)] + rng.normal(size=(n, DIM))).astype(np.float32)


DATA = gmm(N, 1)
QUERIES = gmm(30, 2)


def rows(ids: range | list[int]) -> list[dict[str, Any]]:
    return [{"id": i, "vector": DATA[i].tolist(), "g": i % 1000} for i in ids]


def exact(metric: str, keep: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Reference: ids and distances of the k best rows among ``keep``."""
    ids = np.flatnonzero(keep)
    x, q = DATA[ids], QUERIES
    if metric == "L2":
        d = ((q[:, None, :] - x[None]) ** 2).sum(-1)
        order = np.argsort(d, axis=1)[:, :k]
    else:
        if metric == "COSINE":
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
        d = q @ x.T
        order = np.argsort(-d, axis=1)[:, :k]
    return ids[order], np.take_along_axis(d, order, axis=1)


def recall(hits: list[list[vs.Hit]], want: np.ndarray) -> float:
    found = [len({h.id for h in row} & set(w.tolist())) for row, w in zip(hits, want, strict=True)]
    return sum(found) / want.size


def ivf_collection(
    db: vs.Client, index_type: str, metric: str, params: dict[str, Any]
) -> vs.Collection:
    col = db.create_collection(
        "c", dimension=DIM, indexes=[vs.Index("vector", index_type, metric, **params)]
    )
    col.insert(rows(range(N)))
    col.flush()  # seals the segments: their IVF indexes are trained now
    return col


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
@pytest.mark.parametrize(("index_type", "params"), TYPES)
def test_recall_and_exact_distances(index_type: str, params: dict[str, Any], metric: str) -> None:
    db = vs.connect(":memory:", segment_rows=3000)  # two segments, each indexed
    col = ivf_collection(db, index_type, metric, params)
    segs = col._state.partitions["_default"]
    assert len(segs) == 2 and all(isinstance(s.indexes["vector"], IvfIndex) for s in segs)
    want, _ = exact(metric, np.ones(N, bool))
    hits = col.search(QUERIES, limit=10, search_params={"nprobe": 64})
    assert recall(hits, want) >= (1.0 if index_type == "IVF_FLAT" else 0.97)
    for row in hits:  # IVF_FLAT's distances, and the re-ranked ones, are exact
        got = np.array([h.distance for h in row])
        ref = np.array([exact_distance(metric, QUERIES[hits.index(row)], h.id) for h in row])
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)
    # the defaults (nprobe 8 of 64) on clustered data
    assert recall(col.search(QUERIES, limit=10), want) >= 0.95


def exact_distance(metric: str, q: np.ndarray, i: int) -> float:
    x = DATA[i]
    if metric == "L2":
        return float(((q - x) ** 2).sum())
    if metric == "COSINE":
        return float(q @ x / np.linalg.norm(q) / np.linalg.norm(x))
    return float(q @ x)


def clustered(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors and their cluster (of 40): filters on the cluster are correlated with
    where the vectors lie, the hard case for an index that probes a few lists."""
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(7).normal(size=(40, DIM)) * 4
    labels = rng.integers(0, 40, n)
    return (centers[labels] + rng.normal(size=(n, DIM))).astype(np.float32), labels


VECTORS, CLUSTER = clustered(20_000, 3)
NEAR = clustered(400, 4)
NEAR_QUERIES = NEAR[0][NEAR[1] < 20][:20]  # from clusters 0-19


@pytest.mark.parametrize(
    ("expr", "keep"),
    [
        ("c == 21", lambda c, i: c == 21),  # 2.5 %, all far from the queries
        ("c % 10 == 1", lambda c, i: c % 10 == 1),  # 10 %, half of it far
        ("c >= 20", lambda c, i: c >= 20),  # 50 %, all far
        ("c < 20 and id % 2 == 0", lambda c, i: (c < 20) & (i % 2 == 0)),  # 25 %, near
        ("id % 1000 < 1", lambda c, i: i % 1000 < 1),  # 0.1 %
    ],
)
@pytest.mark.parametrize(("index_type", "params"), TYPES)
def test_filtered_recall_at_every_selectivity(
    index_type: str, params: dict[str, Any], expr: str, keep: Any
) -> None:
    db = vs.connect(":memory:")
    col = db.create_collection(
        "c", dimension=DIM, indexes=[vs.Index("vector", index_type, "L2", **params)]
    )
    col.insert(
        [
            {"id": i, "vector": v.tolist(), "c": int(c)}
            for i, (v, c) in enumerate(zip(VECTORS, CLUSTER, strict=True))
        ]
    )
    col.flush()
    mask = keep(CLUSTER, np.arange(len(VECTORS)))
    allowed = np.flatnonzero(mask)
    d = ((NEAR_QUERIES[:, None, :] - VECTORS[allowed][None]) ** 2).sum(-1)
    want = allowed[np.argsort(d, axis=1)[:, :10]]
    hits = col.search(NEAR_QUERIES, limit=10, filter=expr)
    assert all(mask[h.id] for row in hits for h in row)
    assert recall(hits, want) >= 0.95


@pytest.mark.parametrize(("index_type", "params"), TYPES)
def test_deleted_rows_are_never_returned(index_type: str, params: dict[str, Any]) -> None:
    db = vs.connect(":memory:")
    col = ivf_collection(db, index_type, "COSINE", params)
    gone = [i for i in range(N) if i % 3 == 0]
    assert col.delete(ids=gone) == len(gone)
    keep = np.arange(N) % 3 != 0
    want, _ = exact("COSINE", keep)
    hits = col.search(QUERIES, limit=10, search_params={"nprobe": 64})
    assert all(h.id % 3 for row in hits for h in row)
    assert recall(hits, want) >= 0.97


def test_small_and_growing_segments_are_searched_exactly() -> None:
    db = vs.connect(":memory:")
    col = db.create_collection("c", dimension=DIM, indexes=[vs.Index("vector", "IVF_SQ8", "L2")])
    col.insert(rows(range(500)))
    small = exact("L2", np.arange(N) < 500)[0]
    assert recall(col.search(QUERIES, limit=10), small) == 1.0  # growing: no index yet
    col.flush()
    assert col._state.partitions["_default"][0].indexes == {}  # 500 rows: too few for IVF
    assert recall(col.search(QUERIES, limit=10), small) == 1.0


def test_persisted_and_reopened_without_retraining(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "store")
    with vs.connect(path) as db:
        col = ivf_collection(db, "IVF_PQ", "L2", {"nlist": 64, "m": 4})
        before = col.search(QUERIES, limit=10)
    files = [f for _, _, names in os.walk(path) for f in names if f.endswith(".ivf")]
    assert len(files) == 1

    def no_training(*args: Any, **kwargs: Any) -> IvfIndex:
        raise AssertionError("an index was trained again on reopen")

    monkeypatch.setattr(IvfIndex, "build", no_training)
    with vs.connect(path) as db:
        col = db.get_collection("c")
        assert isinstance(col._state.partitions["_default"][0].indexes["vector"], IvfIndex)
        after = col.search(QUERIES, limit=10)
        assert [[h.id for h in r] for r in after] == [[h.id for h in r] for r in before]
        assert col.describe()["indexes"] == [
            {
                "field": "vector",
                "index_type": "IVF_PQ",
                "metric": "L2",
                "params": {"nlist": 64, "m": 4, "nbits": 8},
            }
        ]


def test_create_index_on_a_live_collection(tmp_path: Any) -> None:
    with vs.connect(str(tmp_path / "s"), segment_rows=3000) as db:
        col = db.create_collection("c", dimension=DIM, metric="L2")
        col.insert(rows(range(N)))
        col.flush()
        want, _ = exact("L2", np.ones(N, bool))
        for index_type, params in [*TYPES, ("HNSW", {}), ("FLAT", {})]:
            col.create_index("vector", index_type, "L2", **params)
            assert col.indexes[0].index_type == index_type
            hits = col.search(QUERIES, limit=10, search_params=_probe_all(index_type))
            assert recall(hits, want) >= 0.97, index_type
        col.create_index("vector", "IVF_FLAT", "L2", nlist=32)
    with vs.connect(str(tmp_path / "s")) as db:
        col = db.get_collection("c")
        assert col.indexes[0].params == {"nlist": 32}
        hits = col.search(QUERIES, limit=10, search_params={"nprobe": 32})
        assert recall(hits, want) == 1.0


def _probe_all(index_type: str) -> dict[str, Any]:
    return {"nprobe": 64} if index_type.startswith("IVF") else {}


def test_refinement_is_what_makes_pq_accurate() -> None:
    db = vs.connect(":memory:")
    col = ivf_collection(db, "IVF_PQ", "L2", {"nlist": 64, "m": 2, "nbits": 4})
    want, _ = exact("L2", np.ones(N, bool))
    raw = recall(col.search(QUERIES, limit=10, search_params={"refine_k": 1}), want)
    refined = recall(col.search(QUERIES, limit=10, search_params={"refine_k": 20}), want)
    assert refined >= 0.95 > raw


@pytest.mark.parametrize(
    ("index_type", "params", "match"),
    [
        ("IVF_FLAT", {"nlist": 0}, "nlist must be an integer in 1..65536"),
        ("IVF_SQ8", {"nlist": 1 << 17}, "nlist"),
        ("IVF_FLAT", {"M": 16}, r"unknown IVF_FLAT parameter\(s\) \['M'\]"),
        ("IVF_PQ", {}, "IVF_PQ needs m"),
        ("IVF_PQ", {"m": 5}, "m must divide the dimension 16"),
        ("IVF_PQ", {"m": 4, "nbits": 17}, "nbits must be an integer in 1..16"),
        ("GPU_CAGRA", {}, "not built by Kestrel.*use HNSW"),
        ("DISKANN", {}, "use IVF_SQ8 or IVF_PQ"),
        ("ANNOY", {}, "use HNSW"),
    ],
)
def test_bad_index_parameters(index_type: str, params: dict[str, Any], match: str) -> None:
    db = vs.connect(":memory:")
    with pytest.raises(vs.IndexConfigError, match=match):
        db.create_collection(
            "c", dimension=DIM, indexes=[vs.Index("vector", index_type, "L2", **params)]
        )
    assert db.list_collections() == []


@pytest.mark.parametrize(
    ("index_type", "search_params", "match"),
    [
        ("IVF_FLAT", {"ef": 64}, r"\['ef'\].*use nprobe, refine_k"),
        ("IVF_FLAT", {"nprobe": 0}, "nprobe must be an integer in 1..65536"),
        ("IVF_SQ8", {"refine_k": 0.5}, "refine_k must be in 1..1000"),
        ("HNSW", {"nprobe": 8}, r"\['nprobe'\].*use ef"),
    ],
)
def test_bad_search_parameters(index_type: str, search_params: dict[str, Any], match: str) -> None:
    db = vs.connect(":memory:")
    params = {"nlist": 8} if index_type.startswith("IVF") else {}
    col = db.create_collection(
        "c", dimension=DIM, indexes=[vs.Index("vector", index_type, "L2", **params)]
    )
    col.insert(rows(range(10)))
    with pytest.raises(vs.IndexConfigError, match=match):
        col.search(QUERIES[:1], limit=3, search_params=search_params)


def test_a_failed_training_leaves_exact_search_and_loses_nothing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*args: Any, **kwargs: Any) -> IvfIndex:
        raise MemoryError("faiss could not allocate the lists")

    path = str(tmp_path / "store")
    with vs.connect(path, segment_rows=3000) as db:
        col = db.create_collection(
            "c", dimension=DIM, indexes=[vs.Index("vector", "IVF_FLAT", "L2", nlist=64)]
        )
        monkeypatch.setattr(IvfIndex, "build", out_of_memory)
        with pytest.warns(RuntimeWarning, match="could not train the IVF_FLAT index"):
            assert col.insert(rows(range(N))) == list(range(N))  # seals a full segment
            col.flush()
        assert all(s.indexes == {} for s in col._state.partitions["_default"])
        want, _ = exact("L2", np.ones(N, bool))
        assert recall(col.search(QUERIES, limit=10), want) == 1.0
        monkeypatch.undo()
        col.create_index("vector", "IVF_FLAT", "L2", nlist=64)  # trains now
        assert all(isinstance(s.indexes["vector"], IvfIndex) for s in col._state.segments(None))
    with vs.connect(path) as db:
        col = db.get_collection("c")
        assert col.count() == N
        hits = col.search(QUERIES, limit=10, search_params={"nprobe": 64})
        assert recall(hits, want) == 1.0
