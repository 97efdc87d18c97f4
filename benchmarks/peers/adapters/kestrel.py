"""Kestrel (this project): ``vs.connect(path)``, HNSW M=16, ef_construction=200."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, to_matrix


class Kestrel(Adapter):
    modules = ("vectorstore",)
    name = "kestrel"
    index: ClassVar[dict] = {
        "type": "HNSW (hnswlib)",
        "M": M,
        "ef_construction": EF_CONSTRUCTION,
        "filter": "planner: exact over the passing rows / oversampled HNSW",
        "store": "vs.connect(path), durability fsync (default)",
    }

    def _open(self):  # type: ignore[no-untyped-def]
        import vectorstore as vs

        self.vs = vs
        self.db = vs.connect(os.path.join(self.workdir, "store"))

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        self._open()
        vs = self.vs
        schema = vs.Schema(
            [
                vs.Field("id", vs.DataType.INT64, is_primary=True),
                vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=self.dim),
                vs.Field("n", vs.DataType.INT64),
            ]
        )
        self.col = self.db.create_collection(
            "bench",
            schema=schema,
            indexes=[
                vs.Index("vector", "HNSW", metric="COSINE", M=M, ef_construction=EF_CONSTRUCTION)
            ],
        )
        n = len(vectors)
        for s in range(0, n, BATCH):  # rows built per call, as a user streams them
            self.col.insert(
                [
                    {"id": i, "vector": vectors[i], "n": int(attr[i])}
                    for i in range(s, min(s + BATCH, n))
                ]
            )
        # Graphs are built when a search first walks them or at flush; without this the
        # first timed search paid the whole build (97 batched QPS at ef 10, 2026-12-06).
        self.col.flush()

    def _params(self, ef: int | None) -> dict | None:
        return {"ef": ef} if ef else None

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        hits = self.col.search(queries, limit=k, search_params=self._params(ef))
        return to_matrix([row.ids for row in hits], k)  # (ids: no Hit objects made)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        return self.col.search(q[None, :], limit=k, search_params=self._params(ef))[0].ids

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        return self.col.search(
            q[None, :], limit=k, filter=f"n < {threshold}", search_params=self._params(ef)
        )[0].ids

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        self._open()
        self.col = self.db.get_collection("bench")

    # ---- hybrid: a BM25 function on the text field, dense vectors given
    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        self._open()
        vs = self.vs
        schema = vs.Schema(
            [
                vs.Field("id", vs.DataType.INT64, is_primary=True),
                vs.Field("text", vs.DataType.VARCHAR, analyzer="english"),
                vs.Field("dense", vs.DataType.FLOAT_VECTOR, dim=self.dim),
                vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
            ],
            functions=[vs.BM25(input="text", output="sparse")],
        )
        self.col = self.db.create_collection(
            "hybrid",
            schema=schema,
            indexes=[
                vs.Index("dense", "HNSW", metric="COSINE", M=M, ef_construction=EF_CONSTRUCTION)
            ],
        )
        for s in range(0, len(texts), BATCH):
            self.col.insert(
                [
                    {"id": i, "text": texts[i], "dense": vectors[i]}
                    for i in range(s, min(s + BATCH, len(texts)))
                ]
            )
        self.ranker = vs.RRFRanker(60)

    def dense_one(self, q: np.ndarray, k: int) -> list[int]:
        return self.col.search(q[None, :], anns_field="dense", limit=k, search_params={"ef": 64})[
            0
        ].ids

    def text_one(self, text: str, k: int) -> list[int]:
        return self.col.search([text], anns_field="sparse", limit=k)[0].ids

    def hybrid_one(self, q: np.ndarray, text: str, k: int) -> list[int]:
        vs = self.vs
        reqs = [
            vs.AnnRequest(q[None, :], "dense", limit=k, search_params={"ef": 64}),
            vs.AnnRequest([text], "sparse", limit=k),
        ]
        return self.col.hybrid_search(reqs, self.ranker, limit=k)[0].ids
