"""Fusion: RRF and weighted rankers, hand-computed, and their array forms."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.errors import DataError
from vectorstore.ranking import fuse_keys, normalize, normalize_array, rrf, weighted
from vectorstore.types import Metric


def test_rrf_by_hand() -> None:
    routes = [["a", "b", "c"], ["c", "a"]]
    before = copy.deepcopy(routes)
    fused = dict(rrf(routes, k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)  # missing from the second route: nothing from it
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert [k for k, _ in rrf(routes, k=60)] == ["a", "c", "b"]
    assert routes == before


def test_rrf_ties_keep_first_seen_order() -> None:
    assert [k for k, _ in rrf([["x", "y"], ["y", "x"]], k=10)] == ["x", "y"]


@pytest.mark.parametrize(
    ("metric", "raw", "norm"),
    [
        ("COSINE", 0.5, 0.75),
        ("COSINE", -1.0, 0.0),
        ("IP", 0.0, 0.5),
        ("IP", 1.0, 0.75),  # 0.5 + atan(1)/pi = 0.5 + 0.25
        ("BM25", 1.0, 0.5),  # 2 atan(1) / pi
        ("BM25", 0.0, 0.0),
        ("L2", 0.0, 1.0),
        ("L2", 1.0, 0.5),  # 1 - 2 atan(1)/pi
    ],
)
def test_normalisation_per_metric(metric: str, raw: float, norm: float) -> None:
    assert normalize(raw, metric) == pytest.approx(norm)
    assert normalize_array(np.array([raw]), Metric(metric))[0] == pytest.approx(norm)


def test_weighted_by_hand_with_a_row_missing_from_a_route() -> None:
    dense = [("a", 0.8), ("b", 0.6)]  # COSINE
    sparse = [("b", 3.0), ("c", 1.0)]  # BM25
    fused = dict(weighted([dense, sparse], ["COSINE", "BM25"], [0.7, 0.3]))
    assert fused["a"] == pytest.approx(0.7 * 0.9)
    assert fused["b"] == pytest.approx(0.7 * 0.8 + 0.3 * 2 * math.atan(3.0) / math.pi)
    assert fused["c"] == pytest.approx(0.3 * 0.5)
    raw = dict(weighted([dense, sparse], ["COSINE", "BM25"], [0.7, 0.3], norm_score=False))
    assert raw["b"] == pytest.approx(0.7 * 0.6 + 0.3 * 3.0)
    l2 = dict(weighted([[("a", 0.0), ("b", 1.0)]], ["L2"], [1.0]))
    assert l2 == pytest.approx({"a": 1.0, "b": 0.5})


def test_ranker_arguments_are_checked() -> None:
    for bad in (0, -1, 16384, float("nan"), "60", True):
        with pytest.raises(DataError):
            vs.RRFRanker(bad)  # type: ignore[arg-type]
    for weights in ((), (1.5,), (-0.1, 0.5), (float("nan"),), ("0.5",)):
        with pytest.raises(DataError):
            vs.WeightedRanker(*weights)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        weighted([[("a", 1.0)]], ["IP"], [0.5, 0.5])


keys_st = st.lists(st.integers(0, 30), unique=True, max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    routes=st.lists(keys_st, min_size=1, max_size=3),
    k=st.floats(1, 100),
    seed=st.integers(0, 2**16),
)
def test_array_fusion_equals_the_reference(routes: list[list[int]], k: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    metrics = [Metric.COSINE, Metric.BM25, Metric.L2][: len(routes)]
    dists = [
        np.sort(rng.random(len(r)))[:: 1 if m is Metric.L2 else -1]
        for r, m in zip(routes, metrics, strict=True)
    ]
    pairs = [list(zip(r, d.tolist(), strict=True)) for r, d in zip(routes, dists, strict=True)]
    keys = [np.asarray(r, dtype=np.int64) for r in routes]
    for ranker in (vs.RRFRanker(k), vs.WeightedRanker(*[0.5] * len(routes))):
        want = ranker.fuse(pairs, metrics)
        got_keys, got_scores = fuse_keys(keys, ranker.contributions(dists, metrics))
        assert got_keys.tolist() == [k_ for k_, _ in want]  # ties too: first seen first
        assert np.allclose(got_scores, [s for _, s in want], rtol=1e-12)
