"""Scores, relevance in [0, 1], and the hybrid (dense + BM25) mode of a search.

Scores (``similarity_search_with_score``) are the engine's, as Milvus reports
them: COSINE the cosine similarity (larger is closer), IP the inner product
(larger is closer), L2 the squared Euclidean distance (smaller is closer); a
hybrid search's score is the fused score (larger is closer).

Relevance (``similarity_search_with_relevance_scores``) maps a score into
[0, 1], larger is closer, with the same normalisation Milvus's WeightedRanker
applies (``vectorstore.normalize_score``): COSINE ``(1 + s) / 2``, IP
``0.5 + atan(s) / pi``, L2 ``1 - 2 atan(d) / pi``. Each is monotonic, so the
order of the hits is kept. Hybrid searches: RRF ``score * (k + 1) / 2`` (1 for a
row both routes ranked first), weighted ``score / sum(weights)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import vectorstore as vs

__all__ = ["HybridMode", "Ranker", "hybrid_relevance", "metric_relevance", "resolve_ranker"]

#: The fusion of a hybrid search: reciprocal rank fusion or a weighted sum.
HybridMode: TypeAlias = Literal["rrf", "weighted"]
#: The rankers a hybrid search takes.
Ranker: TypeAlias = vs.RRFRanker | vs.WeightedRanker

DEFAULT_RRF_K = 60
DEFAULT_WEIGHTS = (0.5, 0.5)  # dense, BM25
_MODES = ("rrf", "weighted")


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def metric_relevance(metric: vs.Metric | str) -> Callable[[float], float]:
    """The relevance function of a dense metric's scores.

    Args:
        metric: ``"COSINE"``, ``"IP"`` or ``"L2"``.

    Returns:
        A function from a raw score to a relevance in [0, 1] (larger is closer).

    Raises:
        ValueError: an unknown metric.
    """
    m = vs.Metric(str(getattr(metric, "value", metric)).upper())

    def relevance(score: float) -> float:
        return _clamp(vs.normalize_score(float(score), m))

    relevance.__name__ = f"{m.value.lower()}_relevance"
    return relevance


def hybrid_relevance(ranker: Ranker, routes: int = 2) -> Callable[[float], float]:
    """The relevance function of a hybrid search's fused scores.

    Args:
        ranker: the ranker that fused them.
        routes: how many searches were fused.

    Returns:
        A function from a fused score to a relevance in [0, 1].
    """
    if isinstance(ranker, vs.RRFRanker):
        top = routes / (ranker.k + 1.0)
        return lambda score: _clamp(float(score) / top)
    total = sum(ranker.weights)
    if ranker.norm_score and total > 0:
        return lambda score: _clamp(float(score) / total)
    # raw (unnormalised) distances: any real number; map monotonically into [0, 1]
    return metric_relevance(vs.Metric.IP)


def resolve_ranker(
    mode: HybridMode | bool | None,
    ranker: Ranker | None,
    default_mode: HybridMode | None,
    default_ranker: Ranker | None,
) -> Ranker | None:
    """The ranker of one search, or None for a dense-only search.

    Args:
        mode: the call's ``hybrid=``: None (the store's setting), False (dense
            only), True (the store's mode, else ``"rrf"``), ``"rrf"`` or ``"weighted"``.
        ranker: the call's ``ranker=`` (implies a hybrid search of its kind).
        default_mode: the store's ``hybrid=``.
        default_ranker: the store's ``ranker=``.

    Returns:
        An ``RRFRanker`` / ``WeightedRanker``, or None.

    Raises:
        ValueError: an unknown mode, a ranker of another kind than the mode,
            or ``hybrid=False`` with a ranker.
    """
    if mode is not None and not isinstance(mode, bool) and mode not in _MODES:
        raise ValueError(f"hybrid must be 'rrf', 'weighted', True, False or None, got {mode!r}")
    if ranker is not None and not isinstance(ranker, (vs.RRFRanker, vs.WeightedRanker)):
        raise ValueError(
            f"ranker must be a vectorstore.RRFRanker or WeightedRanker, got {type(ranker).__name__}"
        )
    if mode is False:
        if ranker is not None:
            raise ValueError("hybrid=False (dense only) takes no ranker")
        return None
    if ranker is not None:
        kind = "rrf" if isinstance(ranker, vs.RRFRanker) else "weighted"
        if isinstance(mode, str) and mode != kind:
            raise ValueError(f"hybrid={mode!r} does not match ranker {ranker!r}")
        return ranker
    if mode is None:
        if default_mode is None and default_ranker is None:
            return None
        mode = True
    if mode is True:
        if default_ranker is not None:
            return default_ranker
        mode = default_mode or "rrf"
    if default_ranker is not None and _kind(default_ranker) == mode:
        return default_ranker
    return vs.RRFRanker(DEFAULT_RRF_K) if mode == "rrf" else vs.WeightedRanker(*DEFAULT_WEIGHTS)


def _kind(ranker: Ranker) -> str:
    return "rrf" if isinstance(ranker, vs.RRFRanker) else "weighted"
