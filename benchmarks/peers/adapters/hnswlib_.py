"""Raw hnswlib: the baseline every ratio is taken against."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, NotSupportedError


class Hnswlib(Adapter):
    modules = ("hnswlib",)
    name = "hnswlib"
    index: ClassVar[dict] = {
        "type": "HNSW",
        "M": M,
        "ef_construction": EF_CONSTRUCTION,
        "filter": "knn_query(filter=Python callback over a numpy mask)",
        "store": "save_index / load_index (one file)",
    }

    @property
    def path(self) -> str:
        return os.path.join(self.workdir, "index.bin")

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        import hnswlib

        n = len(vectors)
        self.hnsw = hnswlib.Index(space="cosine", dim=self.dim)
        self.hnsw.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION, random_seed=100)
        for s in range(0, n, BATCH):
            self.hnsw.add_items(vectors[s : s + BATCH], np.arange(s, min(s + BATCH, n)))
        self.attr = attr

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        self.hnsw.set_ef(max(ef or 64, k))
        return self.hnsw.knn_query(queries, k=k)[0].astype(np.int64)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        self.hnsw.set_ef(max(ef or 64, k))
        return self.hnsw.knn_query(q, k=k)[0][0].tolist()

    def prepare_filter(self, threshold: int, mask: np.ndarray) -> None:
        self._allowed = mask.__getitem__
        self._passing = int(mask.sum())

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        self.hnsw.set_ef(max(ef or 64, k))
        allowed = self._allowed
        try:
            return self.hnsw.knn_query(
                q, k=min(k, self._passing), filter=lambda i: bool(allowed(i))
            )[0][0].tolist()
        except RuntimeError:  # fewer than k found
            return []

    def close(self) -> None:
        self.hnsw.save_index(self.path)

    def reopen(self) -> None:
        import hnswlib

        self.hnsw = hnswlib.Index(space="cosine", dim=self.dim)
        self.hnsw.load_index(self.path)

    no_hybrid = "vector index only: no text search"

    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        raise NotSupportedError(self.no_hybrid)
