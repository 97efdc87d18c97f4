"""Qdrant local mode: ``QdrantClient(path=...)``, no server.

Local mode is a pure-Python reimplementation meant for tests: every search is
exact (numpy over all points); ``hnsw_config`` and ``hnsw_ef`` are accepted and
ignored, so the sweep has one point and recall is 1.0. Filters are evaluated in
Python per point. Storage: points pickled into a SQLite file, all loaded into
memory on open. Hybrid: qdrant-client 1.20's local mode ranks BM25 over a
payload text index with ``scoring`` (``models.TextQuery``), fused by RRF with
``FusionQuery`` over two prefetches (default word tokenizer only: local mode
refuses stemming and stop words)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import BATCH, Adapter, to_matrix


class Qdrant(Adapter):
    modules = ("qdrant_client",)
    name = "qdrant-local"
    efs = False
    index: ClassVar[dict] = {
        "type": "exact (local mode: numpy brute force; hnsw_config ignored)",
        "filter": "Filter(must=[FieldCondition('n', range=Range(lt=T))]), Python per point",
        "store": "QdrantClient(path): SQLite of pickled points",
    }

    def _client(self):  # type: ignore[no-untyped-def]
        from qdrant_client import QdrantClient, models

        self.m = models
        return QdrantClient(path=self.workdir)

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        self.client = self._client()
        m = self.m
        self.client.create_collection(
            "bench",
            vectors_config=m.VectorParams(size=self.dim, distance=m.Distance.COSINE),
            hnsw_config=m.HnswConfigDiff(m=16, ef_construct=200),
        )
        for s in range(0, len(vectors), BATCH):
            e = min(s + BATCH, len(vectors))
            self.client.upsert(
                "bench",
                m.Batch(
                    ids=list(range(s, e)),
                    vectors=vectors[s:e].tolist(),
                    payloads=[{"n": int(attr[i])} for i in range(s, e)],
                ),
            )

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        m = self.m
        reqs = [m.QueryRequest(query=q.tolist(), limit=k) for q in queries]
        res = self.client.query_batch_points("bench", reqs)
        return to_matrix([[p.id for p in r.points] for r in res], k)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        return [p.id for p in self.client.query_points("bench", query=q.tolist(), limit=k).points]

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        m = self.m
        flt = m.Filter(must=[m.FieldCondition(key="n", range=m.Range(lt=threshold))])
        return [
            p.id
            for p in self.client.query_points(
                "bench", query=q.tolist(), limit=k, query_filter=flt
            ).points
        ]

    def close(self) -> None:
        self.client.close()

    def reopen(self) -> None:
        self.client = self._client()

    # ---- hybrid
    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        self.client = self._client()
        m = self.m
        self.client.create_collection(
            "hybrid", vectors_config=m.VectorParams(size=self.dim, distance=m.Distance.COSINE)
        )
        self.client.create_payload_index(
            "hybrid",
            "text",
            # local mode ranks text only with the default word tokenizer (no stemming
            # or stop words: "use server Qdrant if you need other text index params")
            field_schema=m.TextIndexParams(type=m.TextIndexType.TEXT, scoring=True),
        )
        for s in range(0, len(texts), BATCH):
            e = min(s + BATCH, len(texts))
            self.client.upsert(
                "hybrid",
                m.Batch(
                    ids=list(range(s, e)),
                    vectors=vectors[s:e].tolist(),
                    payloads=[{"text": texts[i]} for i in range(s, e)],
                ),
            )

    def dense_one(self, q: np.ndarray, k: int) -> list[int]:
        return [p.id for p in self.client.query_points("hybrid", query=q.tolist(), limit=k).points]

    def text_one(self, text: str, k: int) -> list[int]:
        m = self.m
        return [
            p.id
            for p in self.client.query_points(
                "hybrid", query=m.TextQuery(text=text), using="text", limit=k
            ).points
        ]

    def hybrid_one(self, q: np.ndarray, text: str, k: int) -> list[int]:
        m = self.m
        res = self.client.query_points(
            "hybrid",
            prefetch=[
                m.Prefetch(query=q.tolist(), limit=k),
                m.Prefetch(query=m.TextQuery(text=text), using="text", limit=k),
            ],
            query=m.FusionQuery(fusion=m.Fusion.RRF),
            limit=k,
        )
        return [p.id for p in res.points]
