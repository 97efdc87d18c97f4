"""Milvus Lite (``pymilvus.MilvusClient("x.db")``, the embedded Milvus).

milvus-lite 3.x is a pure-Python engine served in-process over gRPC on
loopback (no C++ subprocess any more); its HNSW is faiss's, built per sealed
segment. Asked for HNSW (M=16, efConstruction=200, COSINE). Rows go in as dicts
(10k per call), then ``flush``. Right after ``flush``, ``describe_index``
already reports every row indexed, yet searches are exhaustive until a
background thread has built the segment's index (checked: recall 1.000 at every
ef and QPS independent of ef); ``release_collection`` + ``load_collection``
builds it synchronously, so the timed build is insert + flush + release + load.
Filters: the same expression string as Kestrel (``n < T``). Hybrid: a ``BM25``
function on a VARCHAR field with ``enable_analyzer`` (standard analyzer: Lite
refuses the english one and ignores stop-word / stemmer filters), a
SPARSE_INVERTED_INDEX (metric BM25) and ``hybrid_search`` with ``RRFRanker(60)``."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, to_matrix


class MilvusLite(Adapter):
    modules = ("pymilvus",)
    name = "milvus-lite"
    index: ClassVar[dict] = {
        "type": "HNSW (faiss, per sealed segment; built by load_collection)",
        "M": M,
        "efConstruction": EF_CONSTRUCTION,
        "filter": "filter='n < T'",
        "store": "MilvusClient(path/milvus.db)",
    }

    def _client(self):  # type: ignore[no-untyped-def]
        from pymilvus import MilvusClient

        return MilvusClient(os.path.join(self.workdir, "milvus.db"))

    def _seal_and_index(self, coll: str, field: str) -> None:
        """flush, then release + load: load builds (or loads) each segment's index."""
        self.client.flush(coll)
        self.client.release_collection(coll)
        self.client.load_collection(coll)
        self.described = self.client.describe_index(coll, field)
        index_dir = os.path.join(self.workdir, "milvus.db", "collections", coll)
        self.described["index_files"] = sorted(
            f for _, _, files in os.walk(index_dir) for f in files if f.endswith(".idx")
        )

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        from pymilvus import DataType

        self.client = c = self._client()
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("n", DataType.INT64)
        params = c.prepare_index_params()
        params.add_index(
            "vector",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": M, "efConstruction": EF_CONSTRUCTION},
        )
        c.create_collection("bench", schema=schema, index_params=params)
        n = len(vectors)
        for s in range(0, n, BATCH):
            c.insert(
                "bench",
                [
                    {"id": i, "vector": vectors[i].tolist(), "n": int(attr[i])}
                    for i in range(s, min(s + BATCH, n))
                ],
            )
        self._seal_and_index("bench", "vector")

    def _sp(self, ef: int | None) -> dict:
        return {"params": {"ef": ef or 64}}

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        res = self.client.search(
            "bench",
            data=queries.tolist(),
            limit=k,
            output_fields=["id"],
            search_params=self._sp(ef),
        )
        return to_matrix([[h["id"] for h in row] for row in res], k)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        res = self.client.search(
            "bench", data=[q.tolist()], limit=k, output_fields=["id"], search_params=self._sp(ef)
        )
        return [h["id"] for h in res[0]]

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        res = self.client.search(
            "bench",
            data=[q.tolist()],
            limit=k,
            filter=f"n < {threshold}",
            output_fields=["id"],
            search_params=self._sp(ef),
        )
        return [h["id"] for h in res[0]]

    def close(self) -> None:
        self.client.close()

    def reopen(self) -> None:
        self.client = self._client()
        self.client.load_collection("bench")

    # ---- hybrid
    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        from pymilvus import DataType, Function, FunctionType, RRFRanker

        self.client = c = self._client()
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        # the default (standard) analyzer: Milvus Lite refuses {"type": "english"}
        # ("unknown tokenizer type: 'english' (supported: 'standard', 'jieba')") and
        # accepts but does not apply stop-word and stemmer filters
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="bm25",
                input_field_names=["text"],
                output_field_names=["sparse"],
                function_type=FunctionType.BM25,
            )
        )
        params = c.prepare_index_params()
        params.add_index(
            "dense",
            index_type="HNSW",
            metric_type="COSINE",
            params={"M": M, "efConstruction": EF_CONSTRUCTION},
        )
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection("hybrid", schema=schema, index_params=params)
        for s in range(0, len(texts), BATCH):
            c.insert(
                "hybrid",
                [
                    {"id": i, "text": texts[i], "dense": vectors[i].tolist()}
                    for i in range(s, min(s + BATCH, len(texts)))
                ],
            )
        self._seal_and_index("hybrid", "dense")
        self.ranker = RRFRanker(60)

    def dense_one(self, q: np.ndarray, k: int) -> list[int]:
        res = self.client.search(
            "hybrid",
            data=[q.tolist()],
            anns_field="dense",
            limit=k,
            output_fields=["id"],
            search_params={"params": {"ef": 64}},
        )
        return [h["id"] for h in res[0]]

    def text_one(self, text: str, k: int) -> list[int]:
        res = self.client.search(
            "hybrid", data=[text], anns_field="sparse", limit=k, output_fields=["id"]
        )
        return [h["id"] for h in res[0]]

    def hybrid_one(self, q: np.ndarray, text: str, k: int) -> list[int]:
        from pymilvus import AnnSearchRequest

        reqs = [
            AnnSearchRequest(data=[q.tolist()], anns_field="dense", param={"ef": 64}, limit=k),
            AnnSearchRequest(data=[text], anns_field="sparse", param={}, limit=k),
        ]
        res = self.client.hybrid_search(
            "hybrid", reqs, ranker=self.ranker, limit=k, output_fields=["id"]
        )
        return [h["id"] for h in res[0]]
