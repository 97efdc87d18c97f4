"""faiss-cpu: IndexHNSWFlat (M=16, efConstruction=200) and IndexFlatIP (exact).

COSINE as inner product on L2-normalised vectors (normalising is part of the
timed build and of each query). Filters: faiss's native ``IDSelectorBitmap``
passed in ``SearchParameters``; the bitmap is built once per threshold, untimed
(as a user would keep it). Threads: single queries run with one OpenMP thread
(faiss's default of all cores makes one small query 3-4x slower here, and far
worse when another process holds a core); batched calls use all cores."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, NotSupportedError, normalised


class _Faiss(Adapter):
    _nt = 0
    modules = ("faiss",)

    def _new(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    @property
    def path(self) -> str:
        return os.path.join(self.workdir, "index.faiss")

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        import faiss

        self.faiss = faiss
        self.idx = self._new()
        for s in range(0, len(vectors), BATCH):
            self.idx.add(normalised(vectors[s : s + BATCH]))

    def _params(self, ef: int | None, sel=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def _threads(self, n: int) -> None:
        if n != self._nt:
            self.faiss.omp_set_num_threads(n)
            self._nt = n

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        self._threads(os.cpu_count() or 1)
        return self.idx.search(normalised(queries), k, params=self._params(ef))[1]

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        self._threads(1)
        ids = self.idx.search(normalised(q[None, :]), k, params=self._params(ef))[1][0]
        return [int(i) for i in ids if i >= 0]

    def prepare_filter(self, threshold: int, mask: np.ndarray) -> None:
        self._bits = np.packbits(mask.astype(np.uint8), bitorder="little")
        self._sel = self.faiss.IDSelectorBitmap(len(mask), self.faiss.swig_ptr(self._bits))

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        self._threads(1)
        ids = self.idx.search(normalised(q[None, :]), k, params=self._params(ef, self._sel))[1][0]
        return [int(i) for i in ids if i >= 0]

    def close(self) -> None:
        self.faiss.write_index(self.idx, self.path)

    def reopen(self) -> None:
        import faiss

        self.faiss = faiss
        self.idx = faiss.read_index(self.path)

    no_hybrid = "vector index only: no text search"

    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        raise NotSupportedError(self.no_hybrid)


class FaissHNSW(_Faiss):
    name = "faiss-hnsw"
    index: ClassVar[dict] = {
        "type": "IndexHNSWFlat, METRIC_INNER_PRODUCT on normalised vectors",
        "M": M,
        "ef_construction": EF_CONSTRUCTION,
        "filter": "SearchParametersHNSW(sel=IDSelectorBitmap)",
        "store": "write_index / read_index (one file)",
    }

    def _new(self):  # type: ignore[no-untyped-def]
        idx = self.faiss.IndexHNSWFlat(self.dim, M, self.faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = EF_CONSTRUCTION
        return idx

    def _params(self, ef: int | None, sel=None):  # type: ignore[no-untyped-def]
        p = self.faiss.SearchParametersHNSW()
        p.efSearch = ef or 64
        if sel is not None:
            p.sel = sel
        return p


class FaissFlat(_Faiss):
    name = "faiss-flat"
    efs = False
    index: ClassVar[dict] = {
        "type": "IndexFlatIP on normalised vectors (exact, BLAS)",
        "filter": "SearchParameters(sel=IDSelectorBitmap)",
        "store": "write_index / read_index (one file)",
    }

    def _new(self):  # type: ignore[no-untyped-def]
        return self.faiss.IndexFlatIP(self.dim)

    def _params(self, ef: int | None, sel=None):  # type: ignore[no-untyped-def]
        if sel is None:
            return None
        p = self.faiss.SearchParameters()
        p.sel = sel
        return p
