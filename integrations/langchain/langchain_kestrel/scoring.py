"""Scores, relevance, and the hybrid (dense + BM25) mode of a search.

Scores (``similarity_search_with_score``) are the engine's, as Milvus reports
them: COSINE the cosine similarity (larger is closer), IP the inner product
(larger is closer), L2 the squared Euclidean distance (smaller is closer); a
hybrid search's score is the fused score (larger is closer).

Relevance (``similarity_search_with_relevance_scores``, the
``similarity_score_threshold`` retriever) follows langchain-core's relevance
functions, applied to the distance each one is written for, so thresholds
carry over from langchain-chroma and LangChain's other stores:

====== ============================ =========================================
metric relevance of a hit           langchain-core's function
====== ============================ =========================================
COSINE ``s`` (the cosine itself)    ``_cosine_relevance_score_fn(1 - s)``
IP     ``s`` (the inner product)    ``_max_inner_product_relevance_score_fn``
                                    of the distance ``1 - s`` (langchain-chroma's)
L2     ``1 - sqrt(d) / sqrt(2)``    ``_euclidean_relevance_score_fn(sqrt(d))``
                                    (it takes the Euclidean distance; Milvus's
                                    ``d`` is its square)
====== ============================ =========================================

For unit vectors (most embedding models) these lie in [0, 1] for every hit
closer than 90 degrees; like langchain-core's functions they are not clipped,
so an opposite hit is below 0 (and langchain-core warns). For IP past 1 (vectors
longer than 1) the inner product is kept, where langchain-core's function would
wrap around to ``s - 1`` and rank a closer hit lower. The LlamaIndex adapter
reports the same numbers as its similarities. Hybrid searches: RRF
``score * (k + 1) / 2`` (1 for a row both routes ranked first), weighted
``score / sum(weights)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, TypeAlias

import vectorstore as vs

__all__ = [
    "HybridMode",
    "Ranker",
    "hybrid_relevance",
    "l2_relevance",
    "metric_relevance",
    "resolve_ranker",
    "similarity_relevance",
]

#: The fusion of a hybrid search: reciprocal rank fusion or a weighted sum.
HybridMode: TypeAlias = Literal["rrf", "weighted"]
#: The rankers a hybrid search takes.
Ranker: TypeAlias = vs.RRFRanker | vs.WeightedRanker

DEFAULT_RRF_K = 60
DEFAULT_WEIGHTS = (0.5, 0.5)  # dense, BM25
_MODES = ("rrf", "weighted")


def metric_relevance(metric: vs.Metric | str) -> Callable[[float], float]:
    """The relevance function of a dense metric's scores (see the module docstring).

    Args:
        metric: ``"COSINE"``, ``"IP"`` or ``"L2"``.

    Returns:
        A function from a raw score to a relevance (larger is closer; 1 for the
        query's own unit vector).

    Raises:
        ValueError: an unknown metric.
    """
    m = vs.Metric(str(getattr(metric, "value", metric)).upper())
    if m is vs.Metric.L2:
        return l2_relevance
    if m in (vs.Metric.COSINE, vs.Metric.IP):
        return similarity_relevance
    raise ValueError(f"no relevance function for metric {m.value}; use COSINE, IP or L2")


def similarity_relevance(score: float) -> float:
    """COSINE and IP: the similarity itself (langchain-core's functions of ``1 - s``)."""
    return float(score)


def l2_relevance(distance: float) -> float:
    """L2: ``1 - sqrt(d) / sqrt(2)`` of Milvus's squared distance ``d`` (langchain-core's
    ``_euclidean_relevance_score_fn`` of the Euclidean distance)."""
    return 1.0 - math.sqrt(max(0.0, float(distance))) / math.sqrt(2.0)


def hybrid_relevance(ranker: Ranker, routes: int = 2) -> Callable[[float], float]:
    """The relevance function of a hybrid search's fused scores.

    Args:
        ranker: the ranker that fused them.
        routes: how many searches were fused.

    Returns:
        A function from a fused score to a relevance in [0, 1].
    """
    return lambda score: ranker.relevance(float(score), routes)


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
