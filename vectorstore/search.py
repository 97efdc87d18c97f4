"""Search arguments and result merging: plain functions used by ``Collection``.

Argument checks raise our errors before any lock is taken; ``merge_hits`` turns
per-segment ``(offsets, distances)`` arrays into Milvus-style hits with whole-
array numpy work (one sort for all queries, one entity fetch per segment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import DataError, DimensionMismatchError, IndexConfigError, NotSupportedError
from .segment import Segment
from .types import Hit, Metric

MAX_TOPK = 16384
# Default HNSW beam: recall@10 >= 0.95 even on isotropic data, where 64 gives ~0.93.
DEFAULT_EF = 128
MAX_EF = 32768

SegmentHits = tuple[Segment, np.ndarray, np.ndarray]


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
        and data.dtype == np.float32
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
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise DataError("search data must be a non-empty list of vectors")
        if arr.shape[1] != dim:
            raise DimensionMismatchError(
                f"query vectors have {arr.shape[1]} dimensions, field {field!r} has {dim}"
            )
        arr = np.ascontiguousarray(arr)
    # A float64 sum of float32 values is finite exactly when every value is.
    if not math.isfinite(arr.sum(dtype=np.float64)):
        raise DataError("query vectors hold NaN or inf")
    return arr


def beam_width(field: str, params: Mapping[str, Any] | None, k: int, metric: Metric) -> int:
    """The HNSW ``ef`` for a search: from ``{"ef": n}`` (or pymilvus's nested
    ``{"params": {"ef": n}}``), never below ``k``; ``metric_type`` must match.

    Raises:
        IndexConfigError: unknown parameters, a metric mismatch, or ef out of range.
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
    ef = params.pop("ef", None)
    if params:
        raise IndexConfigError(f"unknown search parameter(s) {sorted(params)}; use ef")
    if ef is None:
        return max(DEFAULT_EF, k)
    if not isinstance(ef, int) or isinstance(ef, bool) or not 1 <= ef <= MAX_EF:
        raise IndexConfigError(f"ef must be an integer in 1..{MAX_EF}, got {ef!r}")
    return max(ef, k)


def merge_hits(
    parts: list[SegmentHits],
    q: int,
    offset: int,
    limit: int,
    metric: Metric,
    pk_name: str,
    fields: list[str],
    dynamic: str | Sequence[str],
) -> list[list[Hit]]:
    """Merge per-segment results into ``q`` lists of hits, best first.

    Args:
        parts: per segment, its ``(offsets, distances)``, each (q, k_segment), best first.
        q: number of queries.
        offset, limit: the window of merged hits to return.
        metric: orders distances (L2 ascending, others descending).
        pk_name: the primary key field (a hit's ``id``).
        fields, dynamic: what each hit's entity holds (see ``output_entity_fields``).
    """
    if not parts:
        return [[] for _ in range(q)]
    if len(parts) == 1 and fields == [pk_name] and not dynamic:  # the common case
        seg, offs, dist = parts[0]
        if offset:
            offs, dist = offs[:, offset:], dist[:, offset:]
        ids_l = seg.pks[offs].tolist()
        return [
            [Hit(pk, d, {}) for pk, d in zip(ids, ds, strict=True)]
            for ids, ds in zip(ids_l, dist.tolist(), strict=True)
        ]
    if len(parts) == 1:
        offs = parts[0][1][:, offset : offset + limit]
        dist = parts[0][2][:, offset : offset + limit]
        seg_of = np.zeros(offs.shape, dtype=np.int64)
    else:
        offs = np.concatenate([p[1] for p in parts], axis=1)
        dist = np.concatenate([p[2] for p in parts], axis=1)
        seg_of = np.concatenate(
            [np.full(p[1].shape, i, dtype=np.int64) for i, p in enumerate(parts)], axis=1
        )
        key = dist if metric is Metric.L2 else -dist
        order = np.argsort(key, axis=1, kind="stable")[:, offset : offset + limit]
        offs = np.take_along_axis(offs, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
        seg_of = np.take_along_axis(seg_of, order, axis=1)
    ids: np.ndarray = np.empty(offs.shape, dtype=object)
    entities: np.ndarray = np.empty(offs.shape, dtype=object)
    for i, (seg, _, _) in enumerate(parts):
        where = seg_of == i
        if not where.any():
            continue
        ids[where] = seg.pks[offs[where]].tolist()
        if fields == [pk_name] and not dynamic:
            continue
        rows = seg.entities(offs[where], fields, dynamic)
        for row in rows:
            del row[pk_name]
        entities[where] = rows
    ids_l, dist_l, ent_l = ids.tolist(), dist.tolist(), entities.tolist()
    return [
        [
            Hit(pk, d, e if e is not None else {})
            for pk, d, e in zip(ids_l[r], dist_l[r], ent_l[r], strict=True)
        ]
        for r in range(q)
    ]
