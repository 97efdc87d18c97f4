"""The data set the sparse, BM25, text_match, range, group-by and hybrid-search
conformance modules share: a schema with three dense fields (COSINE, L2, IP), a
sparse field and a BM25 field over nullable text, random rows kept by id, and
brute-force scores over them from the references in hybrid_reference.py.

``tests/conformance/conftest.py`` loads 300 of these rows as the
``hybrid_loaded`` fixture; tests that need other rows build ``Data`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Any

import numpy as np

import vectorstore as vs
from helpers.hybrid_reference import METRIC_OF, bm25_scores, dense_distances, sparse_ip

DT = vs.DataType
DIM = 8
VOCAB = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
CATS = ["x", "y", "z", "w"]

Keep = Callable[[dict[str, Any]], Any]  # a row filter: the reference of a filter expression


def full_schema(text_analyzer: str = "standard") -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer=text_analyzer, nullable=True),
            vs.Field("title", DT.VARCHAR, nullable=True),
            vs.Field("doc", DT.INT64),
            vs.Field("cat", DT.VARCHAR),
            vs.Field("flag", DT.BOOL),
            vs.Field("n", DT.INT64, nullable=True),
            vs.Field("price", DT.DOUBLE),
            vs.Field("meta", DT.JSON),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("dl2", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("dip", DT.FLOAT_VECTOR, dim=DIM),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25(input="text", output="bm")],
    )


def full_indexes(index_type: str = "FLAT") -> list[vs.Index]:
    return [
        vs.Index("dense", index_type, "COSINE"),
        vs.Index("dl2", index_type, "L2"),
        vs.Index("dip", index_type, "IP"),
    ]


class Data:
    """Rows kept by id, and brute-force searches over them."""

    def __init__(self, seed: int, n: int):
        rng = np.random.default_rng(seed)
        self.rng = rng
        self.rows: dict[int, dict[str, Any]] = {}
        self.partition: dict[int, str] = {}
        for i in range(n):
            self.rows[i] = self.make_row(i)

    def make_row(self, i: int) -> dict[str, Any]:
        rng = self.rng
        nnz = int(rng.integers(1, 7))
        dims = rng.choice(40, size=nnz, replace=False)
        words = rng.choice(VOCAB, size=int(rng.integers(0, 8))).tolist()
        text = None if rng.random() < 0.08 else " ".join(words)
        return {
            "id": i,
            "text": text,
            "title": None if rng.random() < 0.1 else " ".join(rng.choice(VOCAB, size=3)),
            "doc": int(rng.integers(0, 25)),
            "cat": str(rng.choice(CATS)),
            "flag": bool(rng.random() < 0.5),
            "n": None if rng.random() < 0.2 else int(rng.integers(0, 10)),
            "price": float(rng.normal()),
            "meta": {"k": int(rng.integers(0, 3))},
            "dense": rng.normal(size=DIM).astype(np.float32).tolist(),
            "dl2": rng.normal(size=DIM).astype(np.float32).tolist(),
            "dip": rng.normal(size=DIM).astype(np.float32).tolist(),
            "sp": {int(d): float(rng.uniform(0.05, 2.0)) for d in dims},
        }

    def insert_into(self, col: vs.Collection, partitions: Sequence[str] = ("_default",)) -> None:
        keys = list(self.rows)
        for j, part in enumerate(partitions):
            chunk = keys[j :: len(partitions)]
            col.insert([self.rows[k] for k in chunk], partition=part)
            for k in chunk:
                self.partition[k] = part

    def ids(self, keep: Keep | None = None, partitions: Container[str] | None = None) -> list[int]:
        return [
            k
            for k, r in self.rows.items()
            if (keep is None or keep(r))
            and (partitions is None or self.partition.get(k, "_default") in partitions)
        ]

    def scores(
        self,
        field: str,
        query: Any,
        keep: Keep | None = None,
        partitions: Container[str] | None = None,
    ) -> dict[int, float]:
        """Reference distance of every candidate row for one query."""
        ids = self.ids(keep, partitions)
        if field in ("dense", "dl2", "dip"):
            mat = np.array([self.rows[k][field] for k in ids], dtype=np.float32)
            if not ids:
                return {}
            d = dense_distances(METRIC_OF[field], np.asarray(query, np.float32), mat)
            return dict(zip(ids, d.tolist(), strict=True))
        if field == "sp":
            out = {}
            for k in ids:
                s = sparse_ip(query, self.rows[k]["sp"])
                if s is not None:
                    out[k] = s
            return out
        assert field == "bm"
        all_scores = bm25_scores({k: r["text"] for k, r in self.rows.items()}, query)
        return {k: v for k, v in all_scores.items() if k in set(ids)}

    def query_for(self, field: str) -> Any:
        rng = self.rng
        if field in ("dense", "dl2", "dip"):
            return rng.normal(size=DIM).astype(np.float32).tolist()
        if field == "sp":
            dims = rng.choice(40, size=int(rng.integers(2, 8)), replace=False)
            return {int(d): float(rng.uniform(0.1, 3.0)) for d in dims}
        return " ".join(rng.choice(VOCAB, size=int(rng.integers(1, 4))).tolist())


def tol(field: str) -> dict[str, float]:
    # dense distances are float32 sums: compare loosely; sparse ones exactly-ish
    return {"rtol": 1e-4, "atol": 1e-4} if field in ("dense", "dl2", "dip") else {}


def pairs(hits: list[vs.Hit]) -> list[tuple[Any, float]]:
    """(id, distance) of each hit, for comparisons and messages."""
    return [(h.id, h.distance) for h in hits]


def range_scores(
    scores: dict[int, float], metric: str, radius: float, rf: float | None
) -> dict[int, float]:
    if metric == "L2":
        return {k: d for k, d in scores.items() if d < radius and (rf is None or d >= rf)}
    return {k: d for k, d in scores.items() if d > radius and (rf is None or d <= rf)}


def range_bounds(
    scores: dict[int, float], metric: str, skip: int, span: int
) -> tuple[float, float | None]:
    """A (radius, range_filter) pair that excludes about the best ``skip`` rows and
    lets about ``span`` through; both bounds lie halfway between two distinct
    distances, so no row sits on a bound (BM25 scores tie often)."""
    values = sorted(set(scores.values()), reverse=metric != "L2")
    inner = (values[skip - 1] + values[skip]) / 2 if skip else None
    outer = (values[skip + span - 1] + values[skip + span]) / 2
    return outer, inner
