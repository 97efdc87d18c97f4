"""Running searches over a collection's segments: dense, sparse and BM25 routes,
range and group-by widening, and hybrid fusion.

``Collection.search`` and ``hybrid_search`` check their arguments, take the
read lock and hand the rest to a ``Router``: one per collection, holding what
a search needs to know of it (schema, metrics, functions, BM25 statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .bm25 import TermStats
from .errors import DataError
from .expr import Expr
from .functions import BM25, TextEmbedding
from .index.sparse import SparseQuery
from .index_spec import Index
from .ranking import Ranker, fuse_keys
from .schema import Schema
from .search import (
    Route,
    Rows,
    SearchParams,
    SegmentHits,
    group_rows,
    in_range,
    merge_hits,
    merge_rows,
    pack_rows,
    query_texts,
    query_vectors,
    rows_to_hits,
    search_params,
    sparse_queries,
)
from .segment import Segment
from .types import DataType, Hits, Metric

MAX_CANDIDATES = 65_536  # range and group-by searches widen up to this many rows per query


class Router:
    """Builds and runs search routes for one collection.

    Args:
        schema: the collection's schema.
        index_of: the index of a vector field (None: none, exact search).
        term_stats: the live BM25 statistics per BM25 field (shared with the
            collection, which updates them under its write lock).
    """

    def __init__(
        self,
        schema: Schema,
        index_of: Callable[[str], Index | None],
        term_stats: Mapping[str, TermStats],
    ):
        self._schema = schema
        self._index_of = index_of
        self._term_stats = term_stats
        self._vector_fields = [f.name for f in schema.vector_fields]
        self._bm25 = {fn.output: fn for fn in schema.functions if isinstance(fn, BM25)}
        self._embedders = {
            fn.output: fn for fn in schema.functions if isinstance(fn, TextEmbedding)
        }

    def anns_field(self, anns_field: str | None) -> str:
        """The vector field to search (the only one when not named)."""
        vectors = self._vector_fields
        if anns_field in vectors:
            return anns_field
        if anns_field is None:
            if len(vectors) != 1:
                raise DataError(f"anns_field is required: vector fields are {vectors}")
            return vectors[0]
        raise DataError(f"anns_field {anns_field!r} is not a vector field (have {vectors})")

    def metric_of(self, field: str) -> tuple[Metric, str]:
        """The metric and index type a field is searched with (no index: exact, COSINE)."""
        index = self._index_of(field)
        if index is None:
            return Metric.COSINE, "FLAT"
        return index.vector_metric, index.index_type

    def route(
        self, data: Any, anns_field: str | None, params: Mapping[str, object] | None, k: int
    ) -> Route:
        """Check a search's field, queries and parameters; embed query text.

        Runs without the lock (embedding may take a network round trip).
        """
        field = self.anns_field(anns_field)
        f = self._schema[field]
        metric, index_type = self.metric_of(field)
        texts = query_texts(field, data)
        sparse = f.dtype is DataType.SPARSE_FLOAT_VECTOR
        checked = search_params(field, params, k, metric, sparse, index_type)
        if sparse:
            bm25 = self._bm25.get(field)
            if bm25 is not None:
                if texts is None:
                    raise DataError(f"{field!r} is filled by BM25: search it with query texts")
                analyzer = self._schema.analyzer(bm25.input)
                counts = [analyzer.term_counts(t) for t in texts]
            elif texts is not None:
                raise DataError(f"sparse field {field!r} is searched with sparse vectors, not text")
            else:
                counts = sparse_queries(f, data)
            return Route(field, metric, len(counts), checked, sparse=counts, bm25=bm25)
        if texts is not None and field in self._embedders:
            embed = self._embedders[field]
            queries = np.stack([embed.embed_query(t, f.dim) for t in texts])
        else:
            queries = query_vectors(field, f.dim or 0, data)
        return Route(field, metric, len(queries), checked, dense=queries)

    def group_field(self, name: str | None, size: int) -> str | None:
        """Check ``group_by_field`` / ``group_size``."""
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= 1024:
            raise DataError(f"group_size must be an integer in 1..1024, got {size!r}")
        if name is None:
            if size != 1:
                raise DataError("group_size needs a group_by_field")
            return None
        f = self._schema.get(name)
        if f is None or f.is_vector or f.dtype in (DataType.JSON, DataType.ARRAY):
            raise DataError(
                f"group_by_field {name!r} must be a scalar field (BOOL, integer, VARCHAR)"
            )
        if f.dtype.is_float:
            raise DataError(f"group_by_field {name!r}: floating-point fields cannot group")
        return name

    def run(
        self, route: Route, k: int, compiled: Expr | None, segments: list[Segment]
    ) -> list[SegmentHits]:
        """Search every segment (read lock held): one part per segment, in order."""
        parts: list[SegmentHits] = []
        field = route.field
        if route.dense is not None:
            return search_dense(
                field, route.dense, k, route.metric, route.params, compiled, segments
            )
        assert route.sparse is not None
        ratio = route.params.drop_ratio
        bm25: BM25 | None = route.bm25
        if bm25 is None:
            queries = [SparseQuery.from_dict(v, ratio) for v in route.sparse]
        else:
            stats = self._term_stats[field]
            queries = [stats.query(counts, ratio) for counts in route.sparse]
        for seg in segments:
            selection = None if compiled is None else seg.select(compiled)
            scorers = None
            if bm25 is not None:
                lengths = seg.sparse[field].lengths()
                scorers = [stats.scorer(sq, lengths, bm25.k1, bm25.b) for sq in queries]
            offsets, scores = seg.search_sparse(field, queries, k, selection, scorers)
            parts.append(SegmentHits(seg, offsets, scores))
        return parts

    def collect(
        self,
        route: Route,
        compiled: Expr | None,
        segments: list[Segment],
        offset: int,
        limit: int,
        group: str | None = None,
        group_size: int = 1,
    ) -> tuple[list[SegmentHits], Rows]:
        """Merged rows of a search, range and group-by applied (read lock held).

        Range and group-by searches need more candidates than they return: the
        search widens (x4) while some query may be missing rows that exist.
        """
        p = route.params
        want = offset + limit
        if p.radius is None and not group:  # plain: the best offset + limit
            parts = self.run(route, want, compiled, segments)
            s, o, d = merge_rows(parts, route.q, want, route.metric)
            return parts, Rows(s[:, offset:], o[:, offset:], d[:, offset:])
        live = sum(s.num_live for s in segments)
        cap = max(want, min(live, MAX_CANDIDATES))
        k = want * group_size if group else want
        if p.radius is not None or group:
            k = min(cap, 2 * k)
        while True:
            parts = self.run(route, k, compiled, segments)
            rows = merge_rows(parts, route.q, k, route.metric)
            full = (rows[1] >= 0).sum(axis=1) == k  # a query with k candidates may have more
            need = np.zeros(route.q, dtype=bool)
            if p.radius is not None:
                dist = rows[2]
                keep = in_range(dist, route.metric, p.radius, p.range_filter)
                last_inside = (  # (no candidates at all: nothing to widen for)
                    in_range(dist[:, -1:], route.metric, p.radius, None)[:, 0]
                    if dist.shape[1]
                    else np.zeros(route.q, dtype=bool)
                )
                need |= full & last_inside & ((keep & (rows[1] >= 0)).sum(axis=1) < want)
                rows = pack_rows(rows, keep)
            if group:
                rows, complete = group_rows(rows, parts, group, offset, limit, group_size)
                need |= full & ~complete
            if not need.any() or k >= cap:
                break
            k = min(cap, 4 * k)
        if not group:
            rows = Rows(*(a[:, offset:want] for a in rows))
        return parts, rows

    def search(
        self,
        route: Route,
        compiled: Expr | None,
        segments: list[Segment],
        window: tuple[int, int],
        grouping: tuple[str | None, int],
        output: tuple[list[str], str | list[str]],
    ) -> list[Hits]:
        """Run one route over ``segments`` (the caller holds the read lock).

        Args:
            route: from ``route``.
            compiled: the bound filter, if any.
            segments: the segments to search (those with live rows).
            window: ``(offset, limit)`` of hits (or groups) per query.
            grouping: ``(group field or None, group size)``.
            output: ``(declared fields, dynamic keys)`` of each hit's entity.

        Returns:
            One list of hits per query, best first.
        """
        (offset, limit), (group, group_size), (fields, dynamic) = window, grouping, output
        pk = self._schema.primary.name
        if group is None and route.params.radius is None:
            parts = self.run(route, limit + offset, compiled, segments)
            return merge_hits(parts, route.q, offset, limit, route.metric, pk, fields, dynamic)
        parts, rows = self.collect(route, compiled, segments, offset, limit, group, group_size)
        return rows_to_hits(parts, rows, pk, fields, dynamic)

    def hybrid(
        self,
        routes: Sequence[tuple[Route, Expr | None, int]],
        segments: list[Segment],
        ranker: Ranker,
        window: tuple[int, int],
        output: tuple[list[str], str | list[str]],
    ) -> list[Hits]:
        """Run several ``(route, filter, limit)`` over one view and fuse them.

        The caller holds the read lock, so every route sees the same rows.
        """
        found = [self.collect(route, f, segments, 0, k)[1] for route, f, k in routes]
        rows = fuse(found, [r.metric for r, _, _ in routes], ranker, *window)
        parts = [SegmentHits(seg, rows.offsets, rows.distances) for seg in segments]
        return rows_to_hits(parts, rows, self._schema.primary.name, *output)


def search_dense(
    field: str,
    queries: np.ndarray,
    k: int,
    metric: Metric,
    params: SearchParams,
    compiled: Expr | None,
    segments: list[Segment],
) -> list[SegmentHits]:
    """Search every segment on a dense field (read lock held): one part per
    segment, in order (``Segment.search`` plans each: HNSW, IVF, exact, filtered)."""
    ef = max(params.ef, k)
    parts = []
    for seg in segments:
        selection = None if compiled is None else seg.select(compiled)
        offsets, dist = seg.search(
            field,
            queries,
            k,
            metric,
            ef,
            selection,
            nprobe=params.nprobe,
            refine_k=params.refine_k,
        )
        parts.append(SegmentHits(seg, offsets, dist))
    return parts


def fuse(
    found: Sequence[Rows],
    metrics: Sequence[Metric],
    ranker: Ranker,
    offset: int,
    limit: int,
) -> Rows:
    """Fuse each route's merged rows, query by query, into one ranking.

    Rows are identified by ``(segment index, offset)``, so the routes must
    have searched the same segments in the same order.
    """
    q = found[0][1].shape[0]
    seg_of = np.zeros((q, limit), dtype=np.int64)
    offs = np.full((q, limit), -1, dtype=np.int64)
    scores = np.zeros((q, limit), dtype=np.float64)
    for r in range(q):
        keys, dists = [], []
        for s, o, d in found:
            o_r, s_r, d_r = o[r], s[r], d[r]
            if len(o_r) and o_r[-1] < 0:  # padding is last
                valid = o_r >= 0
                o_r, s_r, d_r = o_r[valid], s_r[valid], d_r[valid]
            keys.append((s_r << 32) | o_r)
            dists.append(d_r)
        fused, total = fuse_keys(keys, ranker.contributions(dists, metrics))
        n = min(len(fused) - offset, limit)
        if n > 0:
            window = fused[offset : offset + n]
            seg_of[r, :n], offs[r, :n] = window >> 32, window & 0xFFFFFFFF
            scores[r, :n] = total[offset : offset + n]
    return Rows(seg_of, offs, scores)


__all__ = ["MAX_CANDIDATES", "Router", "fuse", "search_dense"]
