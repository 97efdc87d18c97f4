"""Fusing ranked lists from several searches: RRF and weighted scores.

Pure functions over plain sequences (they never mutate their inputs), with
Milvus's semantics so hybrid searches move to a Milvus server unchanged:

- RRF: ``score(row) = sum over the routes that returned it of 1 / (k + rank)``,
  ranks 1-based.
- Weighted: ``score(row) = sum_i weight_i * norm_i(distance_i)`` over the routes
  that returned it (a route that missed it adds nothing), where ``norm``
  maps each metric's raw distance into [0, 1], larger is closer: COSINE
  ``(1 + s) / 2``, IP ``0.5 + atan(s) / pi``, BM25 ``2 atan(s) / pi``, L2
  ``1 - 2 atan(d) / pi``; with ``norm_score=False`` raw distances are weighted.

Ties keep the order in which rows were first seen (route by route, best first).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from .errors import DataError
from .types import Metric

K = TypeVar("K", bound=Hashable)


def normalize(distance: float, metric: Metric | str) -> float:
    """A raw distance mapped into [0, 1], larger is closer (see the module docstring)."""
    m = Metric(str(getattr(metric, "value", metric)).upper())
    if m is Metric.COSINE:
        return (1.0 + distance) / 2.0
    if m is Metric.IP:
        return 0.5 + math.atan(distance) / math.pi
    if m is Metric.BM25:
        return 2.0 * math.atan(distance) / math.pi
    return 1.0 - 2.0 * math.atan(distance) / math.pi


def rrf(routes: Sequence[Sequence[K]], k: float = 60) -> list[tuple[K, float]]:
    """Reciprocal rank fusion of ranked key lists (best first).

    Args:
        routes: per route, the keys it returned, best first.
        k: the smoothing constant (> 0).

    Returns:
        ``(key, score)`` pairs, best first.

    Example:
        >>> rrf([["a", "b"], ["b", "c"]], k=60)[0]
        ('b', 0.03252247488101534)
    """
    scores: dict[K, float] = {}
    for keys in routes:
        for rank, key in enumerate(keys, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return _ranked(scores)


def weighted(
    routes: Sequence[Sequence[tuple[K, float]]],
    metrics: Sequence[Metric | str],
    weights: Sequence[float],
    norm_score: bool = True,
) -> list[tuple[K, float]]:
    """Weighted fusion of ``(key, raw distance)`` lists.

    Args:
        routes: per route, its ``(key, distance)`` pairs.
        metrics: per route, the metric of its distances.
        weights: per route, its weight.
        norm_score: normalise distances per metric first (Milvus's default).

    Returns:
        ``(key, score)`` pairs, best first.
    """
    if not len(routes) == len(metrics) == len(weights):
        raise DataError(
            f"weighted fusion needs one weight and one metric per route: {len(routes)} routes, "
            f"{len(weights)} weights"
        )
    scores: dict[K, float] = {}
    for pairs, metric, w in zip(routes, metrics, weights, strict=True):
        for key, distance in pairs:
            value = normalize(distance, metric) if norm_score else distance
            scores[key] = scores.get(key, 0.0) + w * value
    return _ranked(scores)


def _ranked(scores: Mapping[K, float]) -> list[tuple[K, float]]:
    return sorted(scores.items(), key=lambda kv: -kv[1])  # stable: first seen wins ties


def normalize_array(distances: np.ndarray, metric: Metric) -> np.ndarray:
    """``normalize`` over an array of one metric's distances."""
    d = np.asarray(distances, dtype=np.float64)
    if metric is Metric.COSINE:
        out: np.ndarray = (1.0 + d) / 2.0
    elif metric is Metric.IP:
        out = 0.5 + np.arctan(d) / np.pi
    elif metric is Metric.BM25:
        out = 2.0 * np.arctan(d) / np.pi
    else:
        out = 1.0 - 2.0 * np.arctan(d) / np.pi
    return out


def fuse_keys(
    keys: Sequence[np.ndarray], parts: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Sum per-route score contributions by key, best first (ties: first seen).

    The array form of ``rrf`` / ``weighted`` for integer keys: ``keys[i]`` are
    route i's keys best first, ``parts[i]`` what each adds to its key's score.
    """
    all_keys = np.concatenate(keys) if len(keys) else np.empty(0, dtype=np.int64)
    if not len(all_keys):
        return all_keys.astype(np.int64), np.empty(0, dtype=np.float64)
    by_key = np.argsort(all_keys, kind="stable")  # a key's first occurrence leads its run
    sorted_keys = all_keys[by_key]
    new = np.empty(len(sorted_keys), dtype=bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    scores = np.add.reduceat(np.concatenate(parts).astype(np.float64)[by_key], starts)
    order = np.lexsort((by_key[starts], -scores))
    return sorted_keys[starts][order], scores[order]


class Ranker:
    """Base of the rankers ``hybrid_search`` takes."""

    def fuse(
        self, routes: Sequence[Sequence[tuple[Any, float]]], metrics: Sequence[Metric]
    ) -> list[tuple[Any, float]]:
        """Fuse ``(key, distance)`` lists, one per route, into ``(key, score)``, best first."""
        raise NotImplementedError

    def contributions(
        self, distances: Sequence[np.ndarray], metrics: Sequence[Metric]
    ) -> list[np.ndarray]:
        """Per route, what each of its rows (best first) adds to the fused score."""
        raise NotImplementedError


@dataclass(frozen=True)
class RRFRanker(Ranker):
    """Reciprocal rank fusion: ``sum 1 / (k + rank)`` over the routes holding a row.

    Args:
        k: smoothing constant, in (0, 16384) as in Milvus (default 60).

    Raises:
        DataError: k out of range.

    Example:
        >>> col.hybrid_search([dense_req, sparse_req], ranker=RRFRanker(k=60), limit=5)
    """

    k: float = 60

    def __post_init__(self) -> None:
        if not _is_number(self.k) or not 0 < self.k < 16384:
            raise DataError(f"RRFRanker k must be a number in (0, 16384), got {self.k!r}")

    def fuse(
        self, routes: Sequence[Sequence[tuple[Any, float]]], metrics: Sequence[Metric]
    ) -> list[tuple[Any, float]]:
        return rrf([[key for key, _ in pairs] for pairs in routes], self.k)

    def contributions(
        self, distances: Sequence[np.ndarray], metrics: Sequence[Metric]
    ) -> list[np.ndarray]:
        return [1.0 / (self.k + np.arange(1, len(d) + 1, dtype=np.float64)) for d in distances]

    def relevance(self, score: float, routes: int) -> float:
        """A fused score in [0, 1]: 1 for a row every one of ``routes`` ranked first
        (the scale the LangChain and LlamaIndex adapters report)."""
        return _unit(float(score) * (self.k + 1.0) / routes)


@dataclass(frozen=True, init=False)
class WeightedRanker(Ranker):
    """Weighted sum of per-metric normalised distances, one weight per request.

    Args:
        *weights: one weight in [0, 1] per ``AnnRequest``, in order.
        norm_score: normalise each metric's distances into [0, 1] first
            (default True, as Milvus).

    Raises:
        DataError: no weights, or a weight outside [0, 1].

    Example:
        >>> WeightedRanker(0.7, 0.3)
    """

    weights: tuple[float, ...] = field(default=())
    norm_score: bool = True

    def __init__(self, *weights: float, norm_score: bool = True):
        if not weights:
            raise DataError("WeightedRanker needs one weight per request")
        for w in weights:
            if not _is_number(w) or not 0.0 <= w <= 1.0:
                raise DataError(f"WeightedRanker weights must be numbers in [0, 1], got {w!r}")
        object.__setattr__(self, "weights", tuple(float(w) for w in weights))
        object.__setattr__(self, "norm_score", bool(norm_score))

    def fuse(
        self, routes: Sequence[Sequence[tuple[Any, float]]], metrics: Sequence[Metric]
    ) -> list[tuple[Any, float]]:
        return weighted(routes, metrics, self.weights, self.norm_score)

    def contributions(
        self, distances: Sequence[np.ndarray], metrics: Sequence[Metric]
    ) -> list[np.ndarray]:
        return [
            w * (normalize_array(d, m) if self.norm_score else np.asarray(d, dtype=np.float64))
            for d, m, w in zip(distances, metrics, self.weights, strict=True)
        ]

    def relevance(self, score: float, routes: int) -> float:
        """A fused score in [0, 1]: divided by the weights' sum (normalised
        distances), else mapped monotonically as an inner product."""
        total = sum(self.weights)
        if self.norm_score and total > 0:
            return _unit(float(score) / total)
        return _unit(normalize(float(score), Metric.IP))


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


__all__ = [
    "RRFRanker",
    "Ranker",
    "WeightedRanker",
    "fuse_keys",
    "normalize",
    "normalize_array",
    "rrf",
    "weighted",
]
