"""The small interface every system's adapter implements.

One adapter instance lives in one child process and owns one folder
(``workdir``). The runner calls, in order:

    a = Adapter(workdir, dim)          # no I/O yet
    a.build(vectors, attr)             # timed: until searchable with its index
    a.set_ef(ef)                       # untimed, before each sweep point
    a.search(queries, k, ef)           # batched: (nq, k) int64 ids, -1 padded
    a.search_one(q, k, ef)             # one query: list of ids
    a.prepare_filter(t, mask)          # untimed per-threshold setup (most: nothing)
    a.filtered_one(q, k, ef, t)        # one query with the native filter  attr < t
    a.close()                          # persist; the folder is then measured
    # in a fresh process:
    a = Adapter(workdir, dim); a.reopen(); a.search_one(q, k, None)
    # hybrid (data sets with text), in its own fresh process:
    a.build_hybrid(vectors, texts); a.dense_one(...); a.text_one(...); a.hybrid_one(...)

Ids are row numbers 0..n-1. Metric: COSINE everywhere. ``efs`` is False for
systems without a query-time ef (exact search): the sweep then has one point.
Unsupported features raise ``NotSupportedError(reason)``; the report prints the reason.
"""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np

M = 16
EF_CONSTRUCTION = 200
BATCH = 10_000  # rows per insert call, as in benchmarks/core.py


class NotSupportedError(Exception):
    """The system has no native way to do this; the message says why."""


class Adapter:
    name = "?"
    #: the library's modules (imported, and timed, before reopen)
    modules: tuple[str, ...] = ()
    #: does a query-time ef exist (HNSW-like)?
    efs = True
    #: None if hybrid (dense + BM25) search is native; else why not (the report says n/a)
    no_hybrid: str | None = None
    #: index type and parameters actually used, for the report
    index: ClassVar[dict] = {}

    def __init__(self, workdir: str, dim: int) -> None:
        self.workdir = workdir
        self.dim = dim
        os.makedirs(workdir, exist_ok=True)

    # ---- dense
    def build(self, vectors: np.ndarray, attr: np.ndarray) -> None:
        raise NotImplementedError

    def set_ef(self, ef: int | None) -> None:
        """Called, untimed, before each sweep point; most systems take ef per query."""

    def search(self, queries: np.ndarray, k: int, ef: int | None) -> np.ndarray:
        raise NotImplementedError

    def search_one(self, q: np.ndarray, k: int, ef: int | None) -> list[int]:
        return [int(i) for i in self.search(q[None, :], k, ef)[0] if i >= 0]

    # ---- filtered
    def prepare_filter(self, threshold: int, mask: np.ndarray) -> None:
        """Per-threshold setup outside the timed loop (e.g. faiss's id selector)."""

    def filtered_one(self, q: np.ndarray, k: int, ef: int | None, threshold: int) -> list[int]:
        raise NotSupportedError("no native filter")

    # ---- lifecycle
    def close(self) -> None:
        """Persist and release."""

    def reopen(self) -> None:
        """Open what close() left in ``workdir`` (in a fresh process)."""
        raise NotSupportedError("nothing persisted")

    # ---- hybrid (dense + BM25)
    def build_hybrid(self, vectors: np.ndarray, texts: list[str]) -> None:
        raise NotSupportedError("no native BM25 / full-text ranking")

    def dense_one(self, q: np.ndarray, k: int) -> list[int]:
        raise NotSupportedError("no hybrid collection")

    def text_one(self, text: str, k: int) -> list[int]:
        raise NotSupportedError("no native BM25")

    def hybrid_one(self, q: np.ndarray, text: str, k: int) -> list[int]:
        raise NotSupportedError("no native hybrid search")


def to_matrix(rows: list[list[int]], k: int) -> np.ndarray:
    out = np.full((len(rows), k), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        r = r[:k]
        out[i, : len(r)] = r
    return out


def normalised(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    norms[norms == 0] = 1
    return np.ascontiguousarray(x / norms, dtype=np.float32)
