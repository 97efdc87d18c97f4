"""IVF indexes (IVF_FLAT, IVF_SQ8, IVF_PQ) on faiss, for one sealed segment.

An inverted file clusters the segment's vectors around ``nlist`` centroids
(k-means on the segment itself) and searches only the ``nprobe`` clusters
nearest a query. IVF_FLAT keeps the vectors as they are; IVF_SQ8 keeps one byte
per dimension; IVF_PQ keeps ``m`` codes of ``nbits`` bits per vector.

- Labels are row offsets within the segment, as for HNSW.
- Deleted and filtered-out rows are skipped inside the lists (a faiss ID
  selector over a bitmap), so a filter never empties the candidate list.
- COSINE vectors are normalised and searched by inner product: distances are
  Milvus's (COSINE and IP: similarity, larger is closer; L2: squared).
- Quantized codes give approximate distances: the caller re-ranks candidates
  against the segment's exact vectors (``refine_k``), which Kestrel keeps anyway.

faiss is imported on first use, so collections without IVF never load it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import StorageError
from ..types import Metric
from . import flat

IVF_TYPES = ("IVF_FLAT", "IVF_SQ8", "IVF_PQ")


def _faiss() -> Any:
    import faiss  # a dependency; loaded on first use (it takes ~0.3 s)

    return faiss


class IvfIndex:
    """A trained faiss IVF index holding every row of one segment.

    Build with ``IvfIndex.build``; read back with ``IvfIndex.load``.
    """

    def __init__(self, index: Any, metric: Metric, index_type: str):
        self._index = index
        self.metric = metric
        self.index_type = index_type
        self._plain: dict[int, Any] = {}  # nprobe -> its search parameters (no selector)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    @property
    def exact(self) -> bool:
        """Whether its distances are exact (IVF_FLAT): no re-ranking needed."""
        return self.index_type == "IVF_FLAT"

    @classmethod
    def build(
        cls, vectors: np.ndarray, metric: Metric, index_type: str, params: dict[str, Any]
    ) -> IvfIndex:
        """Train on ``vectors`` (float32, (n, dim); n >= nlist) and add them all,
        labelled 0..n-1."""
        faiss = _faiss()
        n, dim = vectors.shape
        data = flat.normalize(vectors) if metric is Metric.COSINE else vectors
        data = np.ascontiguousarray(data, dtype=np.float32)
        faiss_metric = faiss.METRIC_L2 if metric is Metric.L2 else faiss.METRIC_INNER_PRODUCT
        nlist = min(int(params["nlist"]), n)
        quantizer = faiss.IndexFlat(dim, faiss_metric)
        if index_type == "IVF_FLAT":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss_metric)
        elif index_type == "IVF_SQ8":
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss_metric
            )
        else:
            index = faiss.IndexIVFPQ(
                quantizer, dim, nlist, int(params["m"]), int(params["nbits"]), faiss_metric
            )
        index.cp.seed = 1234  # the same rows train the same clusters
        # faiss prints "WARNING clustering N points to K centroids" on stderr below
        # 39 points per list; a segment is what it is (the clusters do not change)
        index.cp.min_points_per_centroid = 1
        if index_type == "IVF_PQ":
            index.pq.cp.min_points_per_centroid = 1
        index.train(_training_sample(data, nlist, index_type, params))
        index.add(data)
        index.quantizer_trains_alone = 0
        return cls(index, metric, index_type)

    def search(
        self, queries: np.ndarray, k: int, nprobe: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows per query among the ``allowed`` ones (a bool mask
        over the segment's rows; None: every row), best first.

        Returns:
            ``(labels int64 (q, k), distances float32 (q, k))``, padded with -1
            (and -inf or +inf) where fewer rows were found in the probed lists.
        """
        faiss = _faiss()
        if self.metric is Metric.COSINE:
            queries = flat.normalize(queries)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        nprobe = min(int(nprobe), self.nlist)
        bits = None
        if allowed is None:
            params = self._plain.get(nprobe)
            if params is None:
                params = self._plain[nprobe] = faiss.SearchParametersIVF(nprobe=nprobe)
        else:
            params = faiss.SearchParametersIVF(nprobe=nprobe)
            bits = np.packbits(allowed.astype(np.bool_, copy=False), bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        dist, labels = self._index.search(queries, k, params=params)
        del bits  # the selector points into it until the search returns
        return labels.astype(np.int64, copy=False), dist.astype(np.float32, copy=False)

    def save(self, path: str) -> None:
        """Write the index file (faiss's own format)."""
        _faiss().write_index(self._index, path)

    @classmethod
    def load(cls, path: str, metric: Metric, index_type: str) -> IvfIndex:
        """Read an index file written by ``save`` (trained: nothing is retrained).

        Raises:
            StorageError: the file is missing or faiss cannot read it.
        """
        if not os.path.exists(path):
            raise StorageError(f"index file {path} is missing")
        try:
            index = _faiss().read_index(path)
        except RuntimeError as exc:
            raise StorageError(f"index file {path} cannot be read: {exc}") from None
        return cls(index, metric, index_type)


MAX_TRAINING_PER_LIST = 256  # faiss's own k-means samples at most 256 points per centroid


def _training_sample(
    data: np.ndarray, nlist: int, index_type: str, params: dict[str, Any]
) -> np.ndarray:
    """The rows k-means trains on: all of them, or an even sample when there are
    far more than the clusters need (PQ's codebooks need 2**nbits points)."""
    need = nlist * MAX_TRAINING_PER_LIST
    if index_type == "IVF_PQ":
        need = max(need, (1 << int(params["nbits"])) * 64)
    if len(data) <= need:
        return data
    rng = np.random.default_rng(1234)
    return np.ascontiguousarray(data[np.sort(rng.choice(len(data), need, replace=False))])


def rerank(
    vectors: np.ndarray, queries: np.ndarray, labels: np.ndarray, k: int, metric: Metric
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of each query's candidate ``labels`` (-1: none) by exact
    distance to the segment's ``vectors`` (only the candidates' rows are read)."""
    safe = np.where(labels < 0, 0, labels)
    cand = vectors[safe]  # (q, c, dim)
    if metric is Metric.L2:
        diff = cand - queries[:, None, :]
        dist = np.einsum("qcd,qcd->qc", diff, diff)
        dist[labels < 0] = np.inf
        order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    else:
        if metric is Metric.COSINE:
            queries = flat.normalize(queries)
            # the candidates' own norms: a segment-wide norm cache would read (and
            # keep resident) every vector of a memory-mapped segment
            norms = np.linalg.norm(cand, axis=2)
            cand = cand / np.maximum(norms, 1e-30)[..., None]
        dist = np.einsum("qcd,qd->qc", cand, queries)
        dist[labels < 0] = -np.inf
        order = np.argsort(-dist, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(labels, order, axis=1)
    return top, np.take_along_axis(dist, order, axis=1).astype(np.float32)


__all__ = ["IVF_TYPES", "IvfIndex", "rerank"]
