"""BM25: the formula (pure functions) and collection-wide term statistics.

Scores use the Lucene / Milvus formula::

    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    tf part  = tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))
    score    = sum over query terms of  qtf(t) idf(t) tf part(t)

where N is the number of live rows, df(t) the live rows holding t, dl a row's
length in tokens and avgdl the mean over live rows. The statistics are kept
for the whole collection (every partition and segment), updated as rows become
live or deleted, so a score never depends on the segment layout: Milvus Lite
computes them per segment, and its scores drift as data grows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .index.sparse import Scorer, SparseQuery


def idf(num_docs: int, df: np.ndarray) -> np.ndarray:
    """Inverse document frequency of terms held by ``df`` rows out of ``num_docs``."""
    df = np.asarray(df, dtype=np.float64)
    result: np.ndarray = np.log1p((num_docs - df + 0.5) / (df + 0.5))
    return result


def tf_part(tf: np.ndarray, dl: np.ndarray, avgdl: float, k1: float, b: float) -> np.ndarray:
    """The saturated, length-normalised term frequency."""
    tf = np.asarray(tf, dtype=np.float64)
    norm = k1 * (1.0 - b + b * np.asarray(dl, dtype=np.float64) / avgdl)
    result: np.ndarray = tf * (k1 + 1.0) / (tf + norm)
    return result


class TermStats:
    """Live-row statistics of one BM25 output field, across the collection.

    Updated under the collection's write lock, read under its read lock.
    """

    def __init__(self) -> None:
        self.num_docs = 0
        self.total_length = 0.0
        self.df: dict[int, int] = {}

    def add(self, terms: np.ndarray, lengths: np.ndarray) -> None:
        """Count rows as live: their terms (concatenated, distinct per row) and lengths."""
        self._update(terms, lengths, +1)

    def remove(self, terms: np.ndarray, lengths: np.ndarray) -> None:
        """Stop counting rows (deleted or dropped)."""
        self._update(terms, lengths, -1)

    def _update(self, terms: np.ndarray, lengths: np.ndarray, sign: int) -> None:
        self.num_docs += sign * len(lengths)
        self.total_length += sign * float(np.sum(lengths, dtype=np.float64))
        if self.num_docs == 0:  # exact zero again, whatever rounding happened
            self.total_length = 0.0
        unique, counts = np.unique(terms, return_counts=True)
        df = self.df
        for term, count in zip(unique.tolist(), counts.tolist(), strict=True):
            left = df.get(term, 0) + sign * count
            if left > 0:
                df[term] = left
            else:
                df.pop(term, None)

    @property
    def avgdl(self) -> float:
        return self.total_length / self.num_docs if self.num_docs else 0.0

    def query(self, counts: Mapping[int, float], drop_ratio: float = 0.0) -> SparseQuery:
        """The query for ``{term: occurrences in the query}``: weights qtf * idf.

        Terms no live row holds are left out (they could match nothing).
        """
        terms = [t for t in counts if t in self.df]
        df = np.fromiter((self.df[t] for t in terms), dtype=np.float64, count=len(terms))
        qtf = np.fromiter((counts[t] for t in terms), dtype=np.float64, count=len(terms))
        weights = qtf * idf(self.num_docs, df)
        return SparseQuery.from_dict(
            dict(zip(terms, weights.tolist(), strict=True)), drop_ratio=drop_ratio
        )

    def scorer(self, query: SparseQuery, lengths: np.ndarray, k1: float, b: float) -> Scorer:
        """Contributions of postings to BM25 scores, for one segment's rows."""
        avgdl = self.avgdl
        weights = query.weights

        def score(pos: np.ndarray, docs: np.ndarray, tf: np.ndarray) -> np.ndarray:
            contributions: np.ndarray = weights[pos] * tf_part(tf, lengths[docs], avgdl, k1, b)
            return contributions

        return score


__all__ = ["TermStats", "idf", "tf_part"]
