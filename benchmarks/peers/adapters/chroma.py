"""Chroma ``PersistentClient`` (local, embedded; Rust core, its own hnswlib fork).

Chroma 1.x exposes the HNSW parameters in the collection configuration:
``max_neighbors`` (= M) 16, ``ef_construction`` 200, ``space`` cosine; ``ef_search``
is changed per sweep point with ``collection.modify``, which takes effect only once
the index is loaded again (a new client), so the adapter reloads, untimed. Hybrid: local Chroma has
no BM25 ranking (``collection.search`` with ``Rrf``/sparse ranking raises
"Search is not implemented for Local Chroma"; ``where_document`` is a filter,
not a ranking)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, NotSupportedError, to_matrix


class Chroma(Adapter):
    modules = ("chromadb", "chromadb.config")
    name = "chroma"
    index: ClassVar[dict] = {
        "type": "HNSW (Chroma's hnswlib fork)",
        "M (max_neighbors)": M,
        "ef_construction": EF_CONSTRUCTION,
        "ef_search": "swept: collection.modify + client reload",
        "filter": "where={'n': {'$lt': T}}",
        "store": "PersistentClient(path)",
    }

    def _client(self):  # type: ignore[no-untyped-def]
        import chromadb
        from chromadb.config import Settings

        return chromadb.PersistentClient(
            path=self.workdir, settings=Settings(anonymized_telemetry=False)
        )

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        self.client = self._client()
        self.col = self.client.create_collection(
            "bench",
            configuration={
                "hnsw": {
                    "space": "cosine",
                    "ef_construction": EF_CONSTRUCTION,
                    "max_neighbors": M,
                    "ef_search": 64,
                }
            },
            embedding_function=None,
        )
        step = min(BATCH, self.client.get_max_batch_size())
        for s in range(0, len(vectors), step):
            e = min(s + step, len(vectors))
            self.col.add(
                ids=[str(i) for i in range(s, e)],
                embeddings=vectors[s:e],
                metadatas=[{"n": int(attr[i])} for i in range(s, e)],
            )
        self._ef = 64

    def set_ef(self, ef: int | None) -> None:
        """``modify`` stores the new ef_search but the loaded index keeps the old one
        (checked: recall does not move) until the client is made anew, so reload."""
        if ef and ef != self._ef:
            from chromadb.api.client import SharedSystemClient

            self.col.modify(configuration={"hnsw": {"ef_search": ef}})
            SharedSystemClient.clear_system_cache()
            self.client = self._client()
            self.col = self.client.get_collection("bench")
            self._ef = ef

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        res = self.col.query(query_embeddings=queries, n_results=k, include=[])
        return to_matrix([[int(i) for i in row] for row in res["ids"]], k)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        return [
            int(i)
            for i in self.col.query(query_embeddings=q[None, :], n_results=k, include=[])["ids"][0]
        ]

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        res = self.col.query(
            query_embeddings=q[None, :], n_results=k, where={"n": {"$lt": threshold}}, include=[]
        )
        return [int(i) for i in res["ids"][0]]

    def close(self) -> None:
        self.client = self.col = None  # PersistentClient writes through; nothing to close

    def reopen(self) -> None:
        self.client = self._client()
        self.col = self.client.get_collection("bench")
        self._ef = self.col.configuration["hnsw"]["ef_search"]

    no_hybrid = (
        "local Chroma has no BM25 ranking: collection.search (Rrf, sparse Knn) "
        "raises 'Search is not implemented for Local Chroma'"
    )

    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        raise NotSupportedError(self.no_hybrid)
