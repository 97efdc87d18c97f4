"""LanceDB (embedded, ``lancedb.connect(path)``).

LanceDB has no plain HNSW index: its HNSW lives inside IVF partitions. The
closest to the others is ``IVF_HNSW_FLAT`` (no quantisation) with one partition
(``num_partitions=1``: one HNSW graph over all rows), ``m=16``,
``ef_construction=200``, cosine; ``ef`` per query, ``nprobes=1``. Rows are added
in 10k-row calls (one fragment each), then the index is built; both are timed.
Filters: ``where("n < T", prefilter=True)`` (a BTREE scalar index on ``n``, built
in the timed part). Hybrid: the native full-text index (``create_fts_index``,
BM25; lance's own, not tantivy) and ``query_type="hybrid"`` with ``RRFReranker``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import BATCH, EF_CONSTRUCTION, Adapter, M, to_matrix


class LanceDB(Adapter):
    modules = ("lancedb", "pyarrow", "lancedb.rerankers")
    name = "lancedb"
    index: ClassVar[dict] = {
        "type": "IVF_HNSW_FLAT, num_partitions=1 (one HNSW graph, raw vectors)",
        "M (m)": M,
        "ef_construction": EF_CONSTRUCTION,
        "nprobes": 1,
        "filter": "where('n < T', prefilter=True) + BTREE index on n",
        "store": "lancedb.connect(path): Lance files",
    }

    def _table(self, vectors: np.ndarray, start: int, end: int, extra: dict):  # type: ignore[no-untyped-def]
        import pyarrow as pa

        flat = pa.array(np.ascontiguousarray(vectors[start:end]).reshape(-1))
        cols = {
            "id": pa.array(np.arange(start, end, dtype=np.int64)),
            "vector": pa.FixedSizeListArray.from_arrays(flat, self.dim),
        }
        cols.update({k: v[start:end] for k, v in extra.items()})
        return pa.table(cols)

    def _create(self, name: str, vectors: np.ndarray, extra: dict):  # type: ignore[no-untyped-def]
        import lancedb

        self.db = lancedb.connect(self.workdir)
        table = None
        for s in range(0, len(vectors), BATCH):
            batch = self._table(vectors, s, min(s + BATCH, len(vectors)), extra)
            if table is None:
                table = self.db.create_table(name, data=batch)
            else:
                table.add(batch)
        table.create_index(
            metric="cosine",
            vector_column_name="vector",
            index_type="IVF_HNSW_FLAT",
            num_partitions=1,
            m=M,
            ef_construction=EF_CONSTRUCTION,
        )
        return table

    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        import pyarrow as pa

        self.table = self._create("bench", vectors, {"n": pa.array(attr)})
        self.table.create_scalar_index("n", index_type="BTREE")

    def _query(self, q, k: int, ef: int | None):  # type: ignore[no-untyped-def]
        qb = self.table.search(q).distance_type("cosine").limit(k).select(["id"]).nprobes(1)
        return qb.ef(ef) if ef else qb

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        res = self._query(list(queries), k, ef).to_arrow()
        qi = res["query_index"].to_numpy()
        ids = res["id"].to_numpy()
        rows: list[list[int]] = [[] for _ in range(len(queries))]
        for i, j in zip(qi, ids, strict=True):  # results come grouped by query, best first
            rows[i].append(int(j))
        return to_matrix(rows, k)

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        return self._query(q, k, ef).to_arrow()["id"].to_pylist()

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        return (
            self._query(q, k, ef)
            .where(f"n < {threshold}", prefilter=True)
            .to_arrow()["id"]
            .to_pylist()
        )

    def close(self) -> None:
        self.table = self.db = None  # every add / index call already committed a version

    def reopen(self) -> None:
        import lancedb

        self.db = lancedb.connect(self.workdir)
        self.table = self.db.open_table("bench")

    # ---- hybrid
    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        import pyarrow as pa
        from lancedb.rerankers import RRFReranker

        self.table = self._create("hybrid", vectors, {"text": pa.array(texts)})
        self.table.create_fts_index("text")  # lance's native inverted index, BM25
        self.reranker = RRFReranker(K=60)

    def dense_one(self, q: np.ndarray, k: int) -> list[int]:
        return self._query(q, k, 64).to_arrow()["id"].to_pylist()

    def text_one(self, text: str, k: int) -> list[int]:
        return (
            self.table.search(text, query_type="fts")
            .limit(k)
            .select(["id"])
            .to_arrow()["id"]
            .to_pylist()
        )

    def hybrid_one(self, q: np.ndarray, text: str, k: int) -> list[int]:
        qb = (
            self.table.search(query_type="hybrid")
            .vector(q)
            .text(text)
            .distance_type("cosine")
            .nprobes(1)
            .ef(64)
            .limit(k)
            .select(["id"])
            .rerank(self.reranker)
        )
        return qb.to_arrow()["id"].to_pylist()
