"""Sparse vectors: CSR columns and an inverted index over them.

A ``SparseColumn`` keeps a segment's sparse rows as three growing arrays
(``indptr``, ``indices`` uint32, ``values`` float32, as Milvus stores them;
BM25 fields keep 64-bit term ids, see ``analyzers``). Its
inverted index (postings per term, as numpy arrays) is built on first search
and extended as rows arrive, in size-tiered blocks so appends between searches
never rebuild everything.

Scoring is inner product of the query's weights with the rows' values, or
BM25 (``bm25.py``) over term frequencies; rows sharing no term with the
query score nothing and are not returned, as in Milvus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..columns import Column
from .flat import smallest

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""(query-term position per posting, row offsets, row values) -> contributions."""


@dataclass(frozen=True)
class SparseQuery:
    """One query: distinct term ids (uint64) and their weights (float64)."""

    terms: np.ndarray
    weights: np.ndarray

    @staticmethod
    def from_dict(vector: Mapping[int, float], drop_ratio: float = 0.0) -> SparseQuery:
        """A query from ``{term: weight}``, dropping the smallest ``drop_ratio`` of
        its weights (by magnitude), as Milvus's ``drop_ratio_search``."""
        terms = np.fromiter(vector.keys(), dtype=np.uint64, count=len(vector))
        weights = np.fromiter(vector.values(), dtype=np.float64, count=len(vector))
        if drop_ratio and len(terms):
            keep = len(terms) - int(drop_ratio * len(terms))
            order = np.argsort(-np.abs(weights), kind="stable")[:keep]
            terms, weights = terms[order], weights[order]
        return SparseQuery(terms, weights)


class _Block:
    """Postings of rows ``start .. stop-1``: per term, its rows and values."""

    __slots__ = ("docs", "ends", "start", "stop", "terms", "values")

    def __init__(
        self, start: int, stop: int, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray
    ):
        lo, hi = int(indptr[start]), int(indptr[stop])
        ind = indices[lo:hi]
        rows = np.repeat(np.arange(start, stop, dtype=np.int64), np.diff(indptr[start : stop + 1]))
        order = np.argsort(ind, kind="stable")
        sorted_terms = ind[order]
        self.terms, first = np.unique(sorted_terms, return_index=True)
        self.ends = np.append(first[1:], len(sorted_terms)).astype(np.int64)
        self.docs = rows[order]
        self.values = np.asarray(values[lo:hi][order], dtype=np.float32)
        self.start, self.stop = start, stop

    def gather(self, terms: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Postings of the query's terms: which query term (by position), rows, values."""
        if not len(self.terms):
            return np.empty(0, dtype=np.int64), [], []
        where = np.minimum(np.searchsorted(self.terms, terms), len(self.terms) - 1)
        found = np.flatnonzero(self.terms[where] == terms)
        ts = where[found]
        his = self.ends[ts]
        los = np.where(ts > 0, self.ends[ts - 1], 0)
        docs = [self.docs[lo:hi] for lo, hi in zip(los.tolist(), his.tolist(), strict=True)]
        vals = [self.values[lo:hi] for lo, hi in zip(los.tolist(), his.tolist(), strict=True)]
        return np.repeat(found, his - los), docs, vals


class SparseColumn:
    """The sparse rows of one field in one segment, and their inverted index.

    Args:
        indptr, indices, values: CSR arrays to start from (a sealed segment's
            files, possibly memory-mapped); empty when omitted.
        index_dtype: the dtype of new ``indices`` (uint32 for sparse vectors,
            uint64 for analysed terms).
    """

    def __init__(
        self,
        indptr: np.ndarray | None = None,
        indices: np.ndarray | None = None,
        values: np.ndarray | None = None,
        index_dtype: type = np.uint32,
    ):
        self._indptr = Column(np.int64, data=np.zeros(1, np.int64) if indptr is None else indptr)
        self._indices = Column(index_dtype, data=indices)
        self._values = Column(np.float32, data=values)
        self._lengths = np.empty(0, dtype=np.float64)
        self._blocks: list[_Block] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._indptr) - 1

    @property
    def csr(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(indptr, indices, values)`` of the rows so far (views)."""
        return self._indptr.view, self._indices.view, self._values.view

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.csr)

    def append(self, rows: Sequence[Mapping[int, float]]) -> None:
        """Append rows given as ``{term: weight}`` dicts (already validated)."""
        counts = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        total = int(counts.sum())
        indices = np.empty(total, dtype=self._indices.view.dtype)
        values = np.empty(total, dtype=np.float32)
        at = 0
        for row in rows:
            n = len(row)
            indices[at : at + n] = list(row.keys())
            values[at : at + n] = list(row.values())
            at += n
        base = int(self._indptr.view[-1])
        self._indices.append(indices)
        self._values.append(values)
        self._indptr.append(base + np.cumsum(counts))

    def rows(self, offsets: np.ndarray) -> list[dict[int, float]]:
        """Rows at ``offsets`` as fresh ``{term: weight}`` dicts."""
        indptr, indices, values = self.csr
        out = []
        for i in np.asarray(offsets, dtype=np.int64).tolist():
            lo, hi = int(indptr[i]), int(indptr[i + 1])
            out.append(dict(zip(indices[lo:hi].tolist(), values[lo:hi].tolist(), strict=True)))
        return out

    def terms_of(self, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The term ids of rows at ``offsets`` (concatenated) and each row's value sum."""
        indptr, indices, _ = self.csr
        offsets = np.asarray(offsets, dtype=np.int64)
        if not len(offsets):
            return np.empty(0, dtype=indices.dtype), np.empty(0, dtype=np.float64)
        parts = [indices[indptr[i] : indptr[i + 1]] for i in offsets.tolist()]
        return np.concatenate(parts), self.lengths()[offsets]

    def lengths(self) -> np.ndarray:
        """Per row, the sum of its values (a BM25 row's length in tokens)."""
        n = len(self)
        have = self._lengths
        if len(have) < n:
            indptr, _, values = self.csr
            lo = len(have)
            rows = np.repeat(np.arange(n - lo), np.diff(indptr[lo : n + 1]))
            sums = np.bincount(rows, weights=values[indptr[lo] : indptr[n]], minlength=n - lo)
            with self._lock:
                if len(self._lengths) < n:
                    self._lengths = np.concatenate([self._lengths[:lo], sums])
                have = self._lengths
        return have[:n]

    def _index(self) -> list[_Block]:
        """Index blocks covering every row (built or extended now if needed)."""
        n = len(self)
        blocks = self._blocks
        if (blocks[-1].stop if blocks else 0) == n:
            return blocks
        with self._lock:
            blocks = list(self._blocks)
            covered = blocks[-1].stop if blocks else 0
            if covered < n:
                indptr, indices, values = self.csr
                blocks.append(_Block(covered, n, indptr, indices, values))
                # size tiers: merge while the newest block is at least half the one
                # before it, so there are O(log n) blocks and each row is re-indexed
                # O(log n) times in all
                while len(blocks) > 1 and 2 * _rows(blocks[-1]) >= _rows(blocks[-2]):
                    merged = _Block(blocks[-2].start, blocks[-1].stop, indptr, indices, values)
                    blocks[-2:] = [merged]
                self._blocks = blocks
            return blocks

    def search(
        self,
        queries: Sequence[SparseQuery],
        k: int,
        allowed: np.ndarray,
        scorers: Sequence[Scorer] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` allowed rows per query by score (larger first).

        Args:
            queries: one ``SparseQuery`` per query.
            k: rows per query at most.
            allowed: a boolean mask over the rows (live and passing the filter).
            scorers: per query, turns postings into contributions; inner
                product of the query's weights when None.

        Returns:
            ``(offsets, scores)``, both (len(queries), k); a query with fewer
            matching rows is padded with offset -1 and score -inf.
        """
        blocks = self._index()
        q = len(queries)
        offsets = np.full((q, k), -1, dtype=np.int64)
        scores = np.full((q, k), -np.inf, dtype=np.float64)
        n = len(allowed)
        for i, query in enumerate(queries):
            pos, docs, vals = [], [], []
            for block in blocks:
                p, d, v = block.gather(query.terms)
                pos.append(p)
                docs += d
                vals += v
            if not docs:
                continue
            pos_a, docs_a, vals_a = np.concatenate(pos), np.concatenate(docs), np.concatenate(vals)
            if scorers is None:
                contrib = query.weights[pos_a] * vals_a
            else:
                contrib = scorers[i](pos_a, docs_a, vals_a)
            if 8 * len(docs_a) >= n:  # many postings: accumulate over all rows
                total = np.bincount(docs_a, weights=contrib, minlength=n)
                touched = np.zeros(n, dtype=bool)
                touched[docs_a] = True
                rows = np.flatnonzero(touched & allowed)
                total = total[rows]
            else:  # few: over the rows they name
                rows, inverse = np.unique(docs_a, return_inverse=True)
                total = np.bincount(inverse, weights=contrib, minlength=len(rows))
                keep = allowed[rows]
                rows, total = rows[keep], total[keep]
            found = top_k_desc(total, k)
            offsets[i, : len(found)] = rows[found]
            scores[i, : len(found)] = total[found]
        return offsets, scores


def top_k_desc(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest scores, best first (ties: lower position first)."""
    best: np.ndarray = smallest(-scores[None, :], k)[0]
    return best


def _rows(block: _Block) -> int:
    return block.stop - block.start


__all__ = ["SparseColumn", "SparseQuery", "top_k_desc"]
