"""A segment's rows that pass a filter, and their gathered vectors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np

from .index import flat
from .types import Metric


class Segment(Protocol):
    """What a selection reads of its segment (``segment.Segment``)."""

    schema: Any
    vectors: dict[str, Any]

    def keep_subset(
        self, selection: Selection, key: tuple[str, Metric], sub: np.ndarray
    ) -> np.ndarray: ...


SUBSET_MAX_BYTES = 16 << 20  # a selection keeps its rows' gathered vectors up to this
CHUNK_BYTES = 16 << 20  # a bigger one is scored this many bytes of rows at a time


class Selection:
    """Live rows of a segment that pass a filter: as a mask and as offsets.

    Selections also keep the gathered vectors of their rows, ready for an inner
    product (``flat.ip_rows``: normalised for COSINE, their norms appended for
    L2), within a per-segment budget, so a repeated filter costs one matrix
    product.
    """

    __slots__ = ("_centres", "_subsets", "mask", "rows")

    def __init__(self, mask: np.ndarray, rows: np.ndarray):
        self.mask = mask
        self.rows = rows
        # by (field, metric): each metric keeps them its way, so a metric change
        # (create_index) must not reuse them
        self._subsets: dict[tuple[str, Metric], np.ndarray] = {}
        self._centres: dict[str, np.ndarray] = {}  # by field: L2's (see centre)

    @property
    def cached_bytes(self) -> int:
        return sum(v.nbytes for v in self._subsets.values())

    def cacheable(self, seg: Segment, field: str, metric: Metric) -> bool:
        """Whether this selection's vectors for ``field`` are or will be kept
        (as ``flat.ip_rows`` has them: L2 rows carry their norm too)."""
        width = (seg.schema[field].dim or 0) + (metric is Metric.L2)
        return len(self.rows) * width * 4 <= SUBSET_MAX_BYTES

    def centre(self, seg: Segment, field: str, metric: Metric) -> np.ndarray | None:
        """Where ``vectors`` and ``vector_chunks`` measure L2 from (``flat.ip_rows``):
        ``flat.centre_of`` a sample of the rows, the same for every search of this
        selection; None for the other metrics."""
        if metric is not Metric.L2:
            return None
        found = self._centres.get(field)
        if found is None:  # (two threads may both compute it: the same value)
            step = max(1, len(self.rows) // flat.CENTRE_SAMPLE)
            found = flat.centre_of(seg.vectors[field].take(self.rows[::step]))
            self._centres[field] = found
        return found

    def vectors(self, seg: Segment, field: str, metric: Metric) -> np.ndarray:
        """The rows' vectors as ``flat.ip_rows`` has them for ``metric``."""
        found = self._subsets.get((field, metric))
        if found is not None:
            return found
        # Read, not gathered through the map: these rows are read once and kept.
        centre = self.centre(seg, field, metric)
        sub = flat.ip_rows(seg.vectors[field].take(self.rows), metric, centre)
        if self.cacheable(seg, field, metric):
            sub = seg.keep_subset(self, (field, metric), sub)
        return sub

    def vector_chunks(self, seg: Segment, field: str, metric: Metric) -> Iterator[np.ndarray]:
        """The rows' vectors as ``vectors`` gives them, ``CHUNK_BYTES`` at a time
        (for a selection too big to keep: one chunk in memory at a time)."""
        # Through the map: every search of this selection gathers them again.
        view = seg.vectors[field].view
        centre = self.centre(seg, field, metric)
        dim = seg.schema[field].dim or 1
        # L2 holds a chunk twice, gathered and then widened (ip_rows): both count
        width = 2 * dim + 1 if metric is Metric.L2 else dim
        step = max(1, CHUNK_BYTES // (4 * width))
        for lo in range(0, len(self.rows), step):
            yield flat.ip_rows(view[self.rows[lo : lo + step]], metric, centre)
