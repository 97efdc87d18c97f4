"""Plain-Python references for sparse, BM25 and hybrid search, written from the
contract (not from the code): tokenizers (standard; english with snowballstemmer
in Milvus's order), BM25, sparse inner product and drop_ratio_search, Milvus's
RRF and weighted fusion, text_match, and window assertions. Shared by
tests/api/test_hybrid_contract.py, tests/property/test_bm25_reference.py and the
conformance modules that use hybrid_data.py (test_backend_sparse, _bm25,
_text_match, _range_search, _group_by, _hybrid_search, _hybrid_bad_input).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import snowballstemmer  # type: ignore[import-untyped]

import vectorstore as vs

_ENGLISH = """a an and are as at be but by for if in into is it no not of on or such that the
their then there these they this to was will with"""
ENGLISH_STOP = frozenset(_ENGLISH.split())  # Lucene's and Milvus's "_english_"


_STEM = snowballstemmer.stemmer("english")


def standard_tokens(text: str | None) -> list[str]:
    return re.findall(r"\w+", text.lower()) if text else []


def english_tokens(text: str | None) -> list[str]:
    """Milvus's "english": lowercase, then the Snowball stemmer, then the stop filter
    (https://milvus.io/docs/english-analyzer.md gives that filter order)."""
    stems = (_STEM.stemWord(t) for t in standard_tokens(text))
    return [t for t in stems if t not in ENGLISH_STOP]


def ref_text_match(
    text: str | None, words: str, tokens: Callable[[str | None], list[str]]
) -> bool | None:
    """``text_match``: does ``text`` share a token with ``words``? None for null text."""
    if text is None:
        return None  # unknown: neither text_match nor not text_match
    return bool(set(tokens(text)) & set(tokens(words)))


def dense_distances(metric: str, query: np.ndarray, data: np.ndarray) -> np.ndarray:
    q = np.asarray(query, dtype=np.float64)
    x = np.asarray(data, dtype=np.float64)
    if metric == "L2":
        out: np.ndarray = ((x - q) ** 2).sum(axis=1)
    elif metric == "IP":
        out = x @ q
    else:
        out = (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    return out


def sparse_ip(query: dict[int, float], row: dict[int, float]) -> float | None:
    """Inner product over shared dimensions (row weights stored as float32);
    None when the row shares no dimension with the query."""
    shared = [d for d in query if d in row]
    if not shared:
        return None
    return sum(query[d] * float(np.float32(row[d])) for d in shared)


def drop_small(query: dict[int, float], ratio: float) -> dict[int, float]:
    """Keep the len - int(ratio * len) weights of largest magnitude."""
    keep = len(query) - int(ratio * len(query))
    ranked = sorted(query.items(), key=lambda kv: -abs(kv[1]))
    return dict(ranked[:keep])


def bm25_scores(
    docs: dict[Any, str | None],
    query: str,
    k1: float = 1.2,
    b: float = 0.75,
    tokens: Callable[[str | None], list[str]] | None = None,
) -> dict[Any, float]:
    tokens = tokens or standard_tokens
    counts = {key: Counter(tokens(t)) for key, t in docs.items()}
    n = len(counts)
    if not n:
        return {}
    avgdl = sum(sum(c.values()) for c in counts.values()) / n
    df: Counter[str] = Counter()
    for c in counts.values():
        df.update(c.keys())
    qtf = Counter(tokens(query))
    out = {}
    for key, c in counts.items():
        shared = [t for t in qtf if t in c]
        if not shared:
            continue
        dl = sum(c.values())
        s = 0.0
        for t in shared:
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
            s += qtf[t] * idf * c[t] * (k1 + 1) / (c[t] + k1 * (1 - b + b * dl / avgdl))
        out[key] = s
    return out


def normalized(metric: str, d: float) -> float:
    if metric == "COSINE":
        return (1 + d) / 2
    if metric == "IP":
        return 0.5 + math.atan(d) / math.pi
    if metric == "BM25":
        return 2 * math.atan(d) / math.pi
    return 1 - 2 * math.atan(d) / math.pi


def ref_rrf(routes: Sequence[Sequence[Any]], k: float = 60) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for ids in routes:
        for rank, key in enumerate(ids, start=1):
            out[key] = out.get(key, 0.0) + 1.0 / (k + rank)
    return out


def ref_weighted(
    routes: Sequence[Sequence[tuple[Any, float]]],
    metrics: Sequence[str],
    weights: Sequence[float],
    norm: bool = True,
) -> dict[Any, float]:
    out: dict[Any, float] = {}
    for pairs, metric, w in zip(routes, metrics, weights, strict=True):
        for key, d in pairs:
            out[key] = out.get(key, 0.0) + w * (normalized(metric, d) if norm else d)
    return out


def ranked(scores: dict[Any, float], larger_first: bool = True) -> list[tuple[Any, float]]:
    return sorted(scores.items(), key=lambda kv: -kv[1] if larger_first else kv[1])


def assert_window(
    hits: list[vs.Hit],
    scores: dict[Any, float],
    offset: int,
    limit: int,
    larger_first: bool = True,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    what: str = "",
) -> None:
    """``hits`` are the ``[offset, offset + limit)`` window of ``scores`` ranked
    (position by position by score, each hit's own score right, no repeats)."""
    order = ranked(scores, larger_first)
    window = order[offset : offset + limit]
    got = [(h.id, h.distance) for h in hits]
    assert len(hits) == len(window), f"{what}: got {got}, expected {window}"
    assert len({h.id for h in hits}) == len(hits), f"{what}: repeated ids {got}"
    for h, (_, want) in zip(hits, window, strict=True):
        assert h.id in scores, f"{what}: {h.id} is not a valid hit; got {got}"
        assert math.isclose(h.distance, scores[h.id], rel_tol=rtol, abs_tol=atol), (
            f"{what}: id {h.id} has {h.distance}, reference {scores[h.id]}; got {got}"
        )
        assert math.isclose(h.distance, want, rel_tol=rtol, abs_tol=atol), (
            f"{what}: ranking differs: got {got}, expected {window}"
        )


METRIC_OF = {"dense": "COSINE", "dl2": "L2", "dip": "IP", "sp": "IP", "bm": "BM25"}


def larger_first(field: str) -> bool:
    return METRIC_OF[field] != "L2"
