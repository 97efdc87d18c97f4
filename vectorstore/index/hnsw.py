"""An HNSW index on hnswlib, with hnswlib's sharp edges filed off.

- Labels are row offsets within a segment.
- The index grows by doubling (``resize_index``) before it would overflow.
- A search's beam is its own ``ef`` (never below k), with no setting shared between
  searches: hnswlib walks a beam of ``max(ef_, K)`` for K results asked for, so the
  index's ``ef_`` stays at 1 and a search asks for ``max(ef, k)`` results and keeps
  the best k. Searches with different ``ef`` run together, GIL released.
- hnswlib's RuntimeErrors (e.g. "cannot return the results in a contiguous 2D
  array" when deletes leave fewer than ``max(ef, k)`` reachable rows) become
  ``IncompleteSearchError``; the caller falls back to exact search.

Callers must not run ``add``/``mark_deleted`` concurrently with ``search``: the
collection's readers-writer lock guarantees it.
"""

from __future__ import annotations

import contextlib
import os

import hnswlib
import numpy as np

from ..errors import StorageError
from ..types import Metric
from . import hnsw_file

_SPACES = {Metric.L2: "l2", Metric.IP: "ip", Metric.COSINE: "cosine"}
_INITIAL_CAPACITY = 1024
_ONE = np.array(1.0, dtype=np.float32)  # a 0-d array: numpy's cheapest operand
_ONE.flags.writeable = False


class IncompleteSearchError(Exception):
    """hnswlib could not return k results; the caller should search exactly."""


class HnswIndex:
    """hnswlib ``Index`` for one vector field of one segment.

    Args:
        dim: vector dimension.
        metric: the metric (COSINE vectors are normalised by hnswlib).
        M: graph degree.
        ef_construction: build-time beam width.
        capacity: initial number of slots.
    """

    def __init__(
        self,
        dim: int,
        metric: Metric,
        M: int = 16,
        ef_construction: int = 200,
        capacity: int = _INITIAL_CAPACITY,
        *,
        _index: hnswlib.Index | None = None,
    ):
        self.metric = metric
        self._similarity = metric is not Metric.L2  # hnswlib gives 1 - similarity
        if _index is None:
            _index = hnswlib.Index(space=_SPACES[metric], dim=dim)
            _index.init_index(
                max_elements=max(capacity, 1),
                M=M,
                ef_construction=ef_construction,
                random_seed=100,
            )
        _index.set_ef(1)  # each search sets its own beam (see ``search``)
        self._index = _index

    def __len__(self) -> int:
        return int(self._index.get_current_count())

    def add(self, vectors: np.ndarray, labels: np.ndarray) -> None:
        """Insert vectors (float32, C-contiguous) under integer labels."""
        if len(labels) == 0:
            return
        needed = self._index.get_current_count() + len(labels)
        capacity = self._index.get_max_elements()
        if needed > capacity:
            # 1.25x growth: hnswlib preallocates every slot, so doubling
            # would cost up to twice the memory of the rows actually held.
            new_capacity = max(needed, capacity + capacity // 4)
            self._index.resize_index(new_capacity)
        num_threads = 1 if len(labels) < 64 else -1
        self._index.add_items(vectors, labels, num_threads=num_threads)

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` elements at once (a build added in chunks
        would otherwise grow the index 1.25x at a time, past what it needs)."""
        if rows > self._index.get_max_elements():
            self._index.resize_index(rows)

    def mark_deleted(self, labels: np.ndarray) -> None:
        """Hide rows from every later search."""
        for label in labels.tolist():
            # RuntimeError: already deleted, or never added: nothing to hide.
            with contextlib.suppress(RuntimeError):
                self._index.mark_deleted(label)

    def search(self, queries: np.ndarray, k: int, ef: int) -> tuple[np.ndarray, np.ndarray]:
        """k nearest labels per query, with Milvus distances, best first.

        hnswlib walks a beam of ``max(ef_, K)`` for K results asked for, and the
        index's ``ef_`` is 1: asking for ``max(ef, k)`` results is a search with
        beam ``ef``, and its best k are the answer (the same candidates as
        ``set_ef(ef)`` then k results; equal distances in label order).

        Args:
            queries: float32 (q, dim), C-contiguous.
            k: results per query; must not exceed the number of live rows.
            ef: beam width; raised to k when lower.

        Returns:
            ``(labels int64 (q, k), distances float32 (q, k))``.

        Raises:
            IncompleteSearchError: fewer than ``max(ef, k)`` rows were reachable.
        """
        wanted = ef if ef > k else k
        try:  # knn_query(data, k, num_threads): positional is cheaper through pybind11
            labels, dist = self._index.knn_query(queries, wanted, 1 if len(queries) <= 4 else -1)
        except RuntimeError as exc:
            raise IncompleteSearchError(str(exc)) from None
        if wanted > k:
            labels, dist = labels[:, :k], dist[:, :k]
        if self._similarity:
            np.subtract(_ONE, dist, dist)  # float32 either way
        return labels.view(np.int64), dist  # labels < 2**63: a view, no copy

    def search_passing(
        self,
        queries: np.ndarray,
        k: int,
        wanted: int,
        ef: int,
        allowed: np.ndarray,
        retry: int = 0,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The best ``k`` rows per query that ``allowed`` (a bool mask by label)
        lets through, among the first ``wanted`` results of an unfiltered search
        with beam ``ef`` (``planner.oversampled``). If fewer than ``k`` pass for a
        query and ``retry`` is larger, among the first ``retry`` results instead:
        the same walk's, while they fit its beam (asking hnswlib for every result of
        a beam costs what asking for a few does), else a walk with beam ``retry``.
        None if fewer than ``k`` pass even then."""
        beam = max(ef, wanted)
        labels, dist = self.search(queries, beam, beam)
        found = _first_passing(labels[:, :wanted], dist[:, :wanted], allowed, k)
        if found is None and retry > wanted:
            if retry > beam:
                labels, dist = self.search(queries, retry, retry)
            found = _first_passing(labels[:, :retry], dist[:, :retry], allowed, k)
        return found

    def save(self, path: str, vectors: hnsw_file.Vectors) -> None:
        """Write the graph file: the index without its copy of the vectors.

        Args:
            path: the file (``hnsw_file`` describes its format).
            vectors: float32 (rows, dim), the segment's exact vectors by label
                (an array or a ``hnsw_file.VectorFile``): the loader rebuilds
                hnswlib's copy from them.
        """
        hnsw_file.save_graph(self._index, path, vectors, _SPACES[self.metric])

    @classmethod
    def load(cls, path: str, vectors: hnsw_file.Vectors, metric: Metric) -> HnswIndex:
        """Read a graph file written by ``save``, given the same vectors.

        Raises:
            StorageError: the file is missing, damaged or not this segment's.
        """
        index = hnsw_file.load_graph(path, vectors, _SPACES[metric])
        return cls(int(vectors.shape[1]), metric, _index=index)

    @classmethod
    def load_hnswlib(cls, path: str, dim: int, metric: Metric) -> HnswIndex:
        """Read an index file in hnswlib's own format (``save_index``: links and
        vectors), as Kestrel wrote them before the graph file.

        Raises:
            StorageError: the file is missing or hnswlib cannot read it.
        """
        if not os.path.exists(path):
            raise StorageError(f"index file {path} is missing")
        index = hnswlib.Index(space=_SPACES[metric], dim=dim)
        try:
            index.load_index(path)
        except (RuntimeError, ValueError) as exc:
            raise StorageError(f"index file {path} cannot be read: {exc}") from None
        return cls(dim, metric, _index=index)


def _first_passing(
    labels: np.ndarray, dist: np.ndarray, allowed: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per query, the first ``k`` results that ``allowed`` lets through, in order;
    None if fewer than ``k`` pass for a query."""
    keep = allowed[labels]
    if len(labels) == 1:  # a single query (the common case): no sort
        passed = np.flatnonzero(keep[0])[:k]
        if len(passed) < k:
            return None
        return labels[:, passed], dist[:, passed]
    if (np.count_nonzero(keep, axis=1) < k).any():
        return None
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]  # the passing ones, in order
    rows = np.arange(len(labels))[:, None]
    return labels[rows, order], dist[rows, order]
