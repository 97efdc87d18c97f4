"""Search arguments and result merging: plain functions used by ``Collection``.

Argument checks raise our errors before any lock is taken; ``merge_hits`` turns
per-segment ``(offsets, distances)`` arrays into Milvus-style hits with whole-
array numpy work (one sort for all queries, one entity fetch per segment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .errors import DataError, DimensionMismatchError, IndexConfigError, NotSupportedError
from .planner import DEFAULT_NPROBE
from .rows import check_sparse
from .schema import Field
from .segment import Segment
from .types import Hit, Hits, Metric

MAX_TOPK = 16384
# Default HNSW beam: recall@10 >= 0.95 even on isotropic data, where 64 gives ~0.93.
DEFAULT_EF = 128
MAX_EF = 32768
MAX_NPROBE = 65_536
MAX_REFINE_K = 1000
_FLOAT32 = np.dtype(np.float32)


class SegmentHits(NamedTuple):
    """One segment's hits for every query: arrays of shape (q, width), best
    first per query; empty slots hold offset -1."""

    segment: Segment
    offsets: np.ndarray
    distances: np.ndarray


def check_window(limit: int | None, offset: int, cap: int | None) -> None:
    """Validate ``limit``/``offset`` (``cap`` bounds their sum, as Milvus's topk)."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise DataError(f"limit must be a positive integer, got {limit!r}")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise DataError(f"offset must be a non-negative integer, got {offset!r}")
    if cap is not None and limit is not None and limit + offset > cap:
        raise DataError(f"limit + offset must be at most {cap}, got {limit + offset}")


def query_vectors(field: str, dim: int, data: Any) -> np.ndarray:
    """Query vectors as a C-contiguous float32 (q, dim) matrix.

    Raises:
        DimensionMismatchError: a vector of another width.
        DataError: not numeric, empty, or holding NaN/inf.
        NotSupportedError: text, without a TextEmbedding function.
    """
    if (  # fast path: already a C-contiguous float32 matrix of the right width
        type(data) is np.ndarray
        and data.dtype is _FLOAT32  # (an equal dtype that is another object: slow path)
        and data.ndim == 2
        and data.shape[1] == dim
        and data.shape[0]
        and data.flags.c_contiguous
    ):
        arr = data
    else:
        if isinstance(data, str) or (
            isinstance(data, (list, tuple)) and data and isinstance(data[0], str)
        ):
            raise NotSupportedError("text queries need a TextEmbedding function on the field")
        try:
            arr = np.asarray(data, dtype=np.float32)
        except (TypeError, ValueError):
            raise DataError("search data must be a list of numeric vectors") from None
        if arr.size == 0:  # [] and [[]]: nothing to search for, not a zero-wide vector
            raise DataError("search data must be a non-empty list of vectors")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise DataError("search data must be a non-empty list of vectors")
        if arr.shape[1] != dim:
            raise DimensionMismatchError(
                f"query vectors have {arr.shape[1]} dimensions, field {field!r} has {dim}"
            )
        arr = np.ascontiguousarray(arr)
    # The sum of squares is finite only if every value is (NaN and inf carry
    # through, squares never cancel); when it is not, a value is not or the float32
    # sum overflowed, which the second check tells apart. One BLAS call, the
    # cheapest check there is on a single query.
    if not math.isfinite(np.vdot(arr, arr)) and not np.isfinite(arr).all():
        raise DataError("query vectors hold NaN or inf")
    return arr


def sparse_queries(field: Field, data: Any) -> list[dict[int, float]]:
    """Sparse query vectors: a ``{index: weight}`` dict, a list of them, or a
    scipy sparse matrix (one row per query).

    Raises:
        DataError: anything else, or a bad index or weight.
    """
    if hasattr(data, "tocsr") and len(data.shape) == 2:  # scipy matrix or array: a row each
        csr = data.tocsr()
        data = [csr[i : i + 1] for i in range(csr.shape[0])]
    elif isinstance(data, Mapping) or hasattr(data, "tocsr"):
        data = [data]
    if not isinstance(data, (list, tuple)) or not data:
        raise DataError(f"search data on sparse field {field.name!r} must be sparse vectors")
    return [check_sparse(field, v, f"query {i}") for i, v in enumerate(data)]


def query_texts(field: str, data: Any) -> list[str] | None:
    """``data`` as a list of query strings, or None when it is not text."""
    if isinstance(data, str):
        return [data]
    if isinstance(data, (list, tuple)) and data and all(isinstance(t, str) for t in data):
        return list(data)
    if isinstance(data, (list, tuple)) and data and any(isinstance(t, str) for t in data):
        raise DataError(f"search data on {field!r} mixes text with other values")
    return None


@dataclass(frozen=True)
class SearchParams:
    """Checked ``search_params``: the HNSW beam, the sparse drop ratio, the range,
    the IVF lists probed and the re-ranking factor (None: the index type's default)."""

    ef: int
    drop_ratio: float = 0.0
    radius: float | None = None
    range_filter: float | None = None
    nprobe: int = DEFAULT_NPROBE
    refine_k: float | None = None


def search_params(
    field: str,
    params: Mapping[str, object] | None,
    k: int,
    metric: Metric,
    sparse: bool,
    index_type: str = "HNSW",
) -> SearchParams:
    """Check ``search_params`` (also pymilvus's nested ``{"params": {...}}``).

    Dense fields take ``ef`` (never below ``k``), or for IVF indexes ``nprobe``
    (lists searched, default 8) and ``refine_k`` (Kestrel's: re-rank ``refine_k
    * limit`` candidates of a quantized index by exact distance; default 2 for
    IVF_SQ8, 10 for IVF_PQ); sparse ones ``drop_ratio_search`` in [0, 1); all
    take Milvus's range search:
    ``radius`` (the outer bound) and ``range_filter`` (the inner one): for L2
    ``range_filter <= distance < radius``, for the others
    ``radius < distance <= range_filter``. ``metric_type`` must match the index.

    Raises:
        IndexConfigError: unknown parameters, a metric mismatch, or values out of range.
    """
    params = dict(params or {})
    nested = params.pop("params", None)
    if isinstance(nested, Mapping):
        params.update(nested)
    given_metric = params.pop("metric_type", None)
    if given_metric is not None and str(given_metric).upper() != metric.value:
        raise IndexConfigError(
            f"metric_type {given_metric!r} does not match the index of {field!r} ({metric.value})"
        )
    radius = _number(params.pop("radius", None), "radius")
    range_filter = _number(params.pop("range_filter", None), "range_filter")
    if range_filter is not None:
        if radius is None:
            raise IndexConfigError("range_filter needs a radius")
        if metric is Metric.L2 and not range_filter < radius:
            raise IndexConfigError("for L2, range_filter must be smaller than radius")
        if metric is not Metric.L2 and not radius < range_filter:
            raise IndexConfigError(f"for {metric.value}, range_filter must be larger than radius")
    ef = params.pop("ef", None)
    drop = params.pop("drop_ratio_search", None)
    nprobe = params.pop("nprobe", None)
    refine_k = params.pop("refine_k", None)
    ivf = index_type.startswith("IVF_")
    wrong = sorted(params)
    given = {"ef": ef, "drop_ratio_search": drop, "nprobe": nprobe, "refine_k": refine_k}
    allowed = ("drop_ratio_search",) if sparse else ("nprobe", "refine_k") if ivf else ("ef",)
    wrong += [name for name, value in given.items() if value is not None and name not in allowed]
    if wrong:
        raise IndexConfigError(
            f"unknown search parameter(s) {wrong} for {field!r} ({index_type}); use "
            f"{', '.join(allowed)}, radius, range_filter"
        )
    if nprobe is None:
        nprobe = DEFAULT_NPROBE
    elif not isinstance(nprobe, int) or isinstance(nprobe, bool) or not 1 <= nprobe <= MAX_NPROBE:
        raise IndexConfigError(f"nprobe must be an integer in 1..{MAX_NPROBE}, got {nprobe!r}")
    refine = _number(refine_k, "refine_k")
    if refine is not None and not 1 <= refine <= MAX_REFINE_K:
        raise IndexConfigError(f"refine_k must be in 1..{MAX_REFINE_K}, got {refine_k!r}")
    ratio = _number(drop, "drop_ratio_search") or 0.0
    if not 0 <= ratio < 1:
        raise IndexConfigError(f"drop_ratio_search must be in [0, 1), got {drop!r}")
    if ef is None:
        ef = max(DEFAULT_EF, k)
    elif not isinstance(ef, int) or isinstance(ef, bool) or not 1 <= ef <= MAX_EF:
        raise IndexConfigError(f"ef must be an integer in 1..{MAX_EF}, got {ef!r}")
    return SearchParams(max(ef, k), ratio, radius, range_filter, nprobe, refine)


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise IndexConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class AnnRequest:
    """One route of a ``hybrid_search``: a search on one vector field.

    Args:
        data: query vectors, sparse vectors or texts (one per query; every
            request of a hybrid search has the same number of queries).
        anns_field: the vector field to search.
        limit: candidates this route contributes per query (1..16384).
        filter: a filter expression (or ``vectorstore.expr`` tree) for this route.
        filter_params: values for ``{name}`` placeholders in ``filter``.
        search_params: as for ``Collection.search``.

    Example:
        >>> AnnRequest(data=["what is rust"], anns_field="sparse", limit=20)
    """

    data: Any
    anns_field: str
    limit: int = 10
    filter: Any = ""
    filter_params: Mapping[str, object] | None = None
    search_params: Mapping[str, object] | None = None

    def __post_init__(self) -> None:
        check_window(self.limit, 0, cap=MAX_TOPK)
        if not isinstance(self.anns_field, str):
            raise DataError("AnnRequest anns_field must be a field name")


@dataclass(frozen=True)
class Route:
    """A checked search on one field: its queries and parameters.

    Dense routes carry query vectors; sparse ones ``{term: weight}`` dicts (for
    a BM25 field: term counts of the query text, weighted at search time by
    the collection's statistics).
    """

    field: str
    metric: Metric
    q: int
    params: SearchParams
    dense: np.ndarray | None = None
    sparse: list[dict[int, float]] | None = None
    bm25: Any = None


# --------------------------------------------------------------- merged results


class Rows(NamedTuple):
    """Hits merged across segments: arrays of shape (q, width), best first per
    query; empty slots hold offset -1."""

    segment_index: np.ndarray  # into the list of SegmentHits they came from
    offsets: np.ndarray
    distances: np.ndarray


def merge_rows(parts: list[SegmentHits], q: int, k: int, metric: Metric) -> Rows:
    """Merge per-segment results into the best ``k`` per query."""
    if not parts:
        empty = np.empty((q, 0), dtype=np.int64)
        return Rows(empty, empty, np.empty((q, 0), dtype=np.float64))
    if len(parts) == 1:  # one segment's results are already in order, padding last
        offs, dist = parts[0][1][:, :k], parts[0][2][:, :k]
        return Rows(np.zeros(offs.shape, dtype=np.int64), offs, dist)
    offs = np.concatenate([p[1] for p in parts], axis=1)
    dist = np.concatenate([p[2] for p in parts], axis=1).astype(np.float64)
    seg_of = np.concatenate(
        [np.full(p[1].shape, i, dtype=np.int64) for i, p in enumerate(parts)], axis=1
    )
    key = dist.copy() if metric is Metric.L2 else -dist
    key[offs < 0] = np.inf  # padding last
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    take = np.take_along_axis
    return Rows(take(seg_of, order, axis=1), take(offs, order, axis=1), take(dist, order, axis=1))


def pack_rows(rows: Rows, keep: np.ndarray) -> Rows:
    """Keep the entries where ``keep`` is True, moved left in order; pad the rest."""
    seg_of, offs, dist = rows
    keep = keep & (offs >= 0)
    order = np.argsort(~keep, axis=1, kind="stable")
    take = np.take_along_axis
    seg_of, offs, dist = (take(a, order, axis=1) for a in (seg_of, offs, dist))
    empty = ~take(keep, order, axis=1)
    offs = offs.copy()
    offs[empty] = -1
    return Rows(seg_of, offs, dist)


def in_range(
    dist: np.ndarray, metric: Metric, radius: float, range_filter: float | None
) -> np.ndarray:
    """Which distances fall in Milvus's range (see ``search_params``)."""
    if metric is Metric.L2:
        ok: np.ndarray = dist < radius
        return ok if range_filter is None else ok & (dist >= range_filter)
    ok = dist > radius
    return ok if range_filter is None else ok & (dist <= range_filter)


def group_rows(
    rows: Rows, parts: list[SegmentHits], field: str, skip: int, groups: int, group_size: int
) -> tuple[Rows, np.ndarray]:
    """Best hits grouped by a scalar field's value, group by group.

    Groups are ordered by their best hit, hits within a group by distance
    (null values form one group). The first ``skip`` groups are left out.

    Returns:
        Per query at most ``groups`` groups of at most ``group_size`` hits
        (padded), and per query whether all of them were found full.
    """
    seg_of, offs, dist = rows
    q = offs.shape[0]
    values: np.ndarray = np.empty(offs.shape, dtype=object)
    for i, (seg, _, _) in enumerate(parts):
        where = (seg_of == i) & (offs >= 0)
        if where.any():
            got = seg.columns[field].view[offs[where]].tolist()
            null = seg.nulls.get(field)
            if null is not None:
                flags = null.view[offs[where]].tolist()
                got = [None if z else v for v, z in zip(got, flags, strict=True)]
            values[where] = got
    wanted = skip + groups
    picked: list[list[int]] = []
    complete = np.zeros(q, dtype=bool)
    for r in range(q):
        members: dict[Any, list[int]] = {}
        for j in np.flatnonzero(offs[r] >= 0).tolist():
            key = values[r, j]
            group = members.get(key)
            if group is None:
                if len(members) == wanted:
                    continue
                group = members[key] = []
            if len(group) < group_size:
                group.append(j)
        kept = list(members.values())
        complete[r] = len(kept) == wanted and all(len(g) == group_size for g in kept)
        picked.append([j for g in kept[skip:] for j in g])
    width = max((len(p) for p in picked), default=0)
    out_seg = np.zeros((q, width), dtype=np.int64)
    out_off = np.full((q, width), -1, dtype=np.int64)
    out_dist = np.zeros((q, width), dtype=np.float64)
    for r, cols in enumerate(picked):
        n = len(cols)
        out_seg[r, :n] = seg_of[r, cols]
        out_off[r, :n] = offs[r, cols]
        out_dist[r, :n] = dist[r, cols]
    return Rows(out_seg, out_off, out_dist), complete


def gather(
    parts: list[SegmentHits],
    rows: Rows,
    pk_name: str,
    fields: list[str],
    dynamic: str | Sequence[str],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Primary keys and entities of merged rows, fetched segment by segment (the
    read lock held): two object arrays shaped like ``rows``, None in empty slots;
    the entities (dicts without the key) are None when only keys are asked."""
    seg_of, offs, _ = rows
    ids: np.ndarray = np.empty(offs.shape, dtype=object)
    entities = None if fields == [pk_name] and not dynamic else np.empty(offs.shape, dtype=object)
    for i, (seg, _, _) in enumerate(parts):
        where = (seg_of == i) & (offs >= 0)
        if not where.any():
            continue
        ids[where] = seg.pks[offs[where]].tolist()
        if entities is None:
            continue
        found = seg.entities(offs[where], fields, dynamic)
        for row in found:
            del row[pk_name]
        entities[where] = found
    return ids, entities


def rows_to_hits(
    parts: list[SegmentHits],
    rows: Rows,
    pk_name: str,
    fields: list[str],
    dynamic: str | Sequence[str],
) -> list[Hits]:
    """Hits for merged rows, fetching entities segment by segment."""
    _, offs, dist = rows
    q = offs.shape[0]
    if len(parts) == 1 and fields == [pk_name] and not dynamic:  # ids and distances only
        pks = parts[0][0].pks
        out = []
        for r in range(q):
            valid = offs[r] >= 0
            ids_r = pks[offs[r][valid]].tolist()
            out.append(
                Hits([Hit(pk, d, {}) for pk, d in zip(ids_r, dist[r][valid].tolist(), strict=True)])
            )
        return out
    ids, entities = gather(parts, rows, pk_name, fields, dynamic)
    if entities is None:
        entities = np.empty(offs.shape, dtype=object)
    valid = (offs >= 0).tolist()
    ids_l, dist_l, ent_l = ids.tolist(), dist.tolist(), entities.tolist()
    return [
        Hits(
            [
                Hit(pk, d, e if e is not None else {})
                for pk, d, e, ok in zip(ids_l[r], dist_l[r], ent_l[r], valid[r], strict=True)
                if ok
            ]
        )
        for r in range(q)
    ]


def merge_hits(
    parts: list[SegmentHits],
    q: int,
    offset: int,
    limit: int,
    metric: Metric,
    pk_name: str,
    fields: list[str],
    dynamic: str | Sequence[str],
) -> list[Hits]:
    """Merge per-segment results into ``q`` lists of hits, best first.

    Args:
        parts: per segment, its ``(offsets, distances)``, each (q, k_segment),
            best first (offset -1 marks an empty slot).
        q: number of queries.
        offset, limit: the window of merged hits to return.
        metric: orders distances (L2 ascending, others descending).
        pk_name: the primary key field (a hit's ``id``).
        fields, dynamic: what each hit's entity holds (see ``output_entity_fields``).
    """
    if not parts:
        return [Hits() for _ in range(q)]
    if len(parts) == 1 and fields == [pk_name] and not dynamic:  # the common case
        seg, offs, dist = parts[0]
        if offset:
            offs, dist = offs[:, offset:], dist[:, offset:]
        if not offs.size or offs.min() >= 0:
            ids_l = seg.pks[offs].tolist()
            return [
                Hits([Hit(pk, d, {}) for pk, d in zip(ids, ds, strict=True)])
                for ids, ds in zip(ids_l, dist.tolist(), strict=True)
            ]
    seg_of, offs, dist = merge_rows(parts, q, offset + limit, metric)
    window = Rows(seg_of[:, offset:], offs[:, offset:], dist[:, offset:])
    return rows_to_hits(parts, window, pk_name, fields, dynamic)
