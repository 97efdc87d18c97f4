"""An HNSW index on hnswlib, with hnswlib's sharp edges filed off.

- Labels are row offsets within a segment.
- The index grows by doubling (``resize_index``) before it would overflow.
- ``ef`` is never below k, and searches with different ``ef`` never race: hnswlib
  keeps ``ef`` per index, so a search waits only while searches with another
  ``ef`` are running (same-``ef`` searches run together, GIL released).
- hnswlib's RuntimeErrors (e.g. "cannot return the results in a contiguous 2D
  array" when deletes leave fewer than k reachable rows) become
  ``IncompleteSearchError``; the caller falls back to exact search.

Callers must not run ``add``/``mark_deleted`` concurrently with ``search``: the
collection's readers-writer lock guarantees it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable

import hnswlib
import numpy as np

from ..errors import StorageError
from ..types import Metric
from . import hnsw_file

_SPACES = {Metric.L2: "l2", Metric.IP: "ip", Metric.COSINE: "cosine"}
_INITIAL_CAPACITY = 1024
_ONE = np.array(1.0, dtype=np.float32)  # a 0-d array: numpy's cheapest operand


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
        self._index = _index
        self._ef = -1
        self._active = 0
        self._waiting = 0
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)

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

    def search(
        self,
        queries: np.ndarray,
        k: int,
        ef: int,
        filter_fn: Callable[[int], bool] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """k nearest labels per query, with Milvus distances, best first.

        Args:
            queries: float32 (q, dim), C-contiguous.
            k: results per query; must not exceed the number of live rows.
            ef: beam width; raised to k when lower.
            filter_fn: optional label predicate (hnswlib calls it under the GIL).

        Returns:
            ``(labels int64 (q, k), distances float32 (q, k))``.

        Raises:
            IncompleteSearchError: fewer than k rows were reachable.
        """
        # Kept lean: this runs on every search (positional arguments to hnswlib
        # are measurably cheaper than keywords through pybind11).
        if ef < k:
            ef = k
        mutex = self._mutex  # the Condition's own lock; the common case never waits
        with mutex:
            if self._ef != ef:
                while self._ef != ef and self._active:
                    self._waiting += 1
                    self._cond.wait()
                    self._waiting -= 1
                if self._ef != ef:
                    self._index.set_ef(int(ef))
                    self._ef = ef
            self._active += 1
        try:
            # knn_query(data, k, num_threads, filter)
            labels, dist = self._index.knn_query(
                queries, k, 1 if len(queries) <= 4 else -1, filter_fn
            )
        except RuntimeError as exc:
            raise IncompleteSearchError(str(exc)) from None
        finally:
            with mutex:
                self._active -= 1
                if self._waiting and not self._active:
                    self._cond.notify_all()
        if self._similarity:
            np.subtract(_ONE, dist, dist)  # float32 either way
        return labels.view(np.int64), dist  # labels < 2**63: a view, no copy

    def search_passing(
        self, queries: np.ndarray, k: int, wanted: int, ef: int, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The best ``k`` rows per query that ``allowed`` (a bool mask by label)
        lets through, from an unfiltered search for ``wanted`` with beam ``ef``
        (``planner.oversampled``); None if fewer than ``k`` pass for a query."""
        labels, dist = self.search(queries, wanted, ef)
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
