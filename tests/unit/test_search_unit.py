"""search.py on its own: merging per-segment hits against a plain-Python merge,
and the argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.search import SegmentHits, check_window, merge_rows, query_vectors
from vectorstore.types import Metric


@st.composite
def segment_hits(draw: st.DrawFn) -> tuple[list[SegmentHits], int]:
    """Per-segment results for q queries: best first per the metric, -1 padding last."""
    q = draw(st.integers(1, 3))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        width = draw(st.integers(0, 5))
        offs = np.full((q, width), -1, dtype=np.int64)
        dist = np.zeros((q, width), dtype=np.float32)
        for r in range(q):
            n = draw(st.integers(0, width))
            values = sorted(draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n)))
            offs[r, :n] = draw(st.permutations(range(20)))[:n]
            dist[r, :n] = values
        parts.append(SegmentHits(None, offs, dist))  # type: ignore[arg-type]
    return parts, q


def reference(parts: list[SegmentHits], q: int, k: int, larger_is_better: bool) -> list[list]:
    out = []
    for r in range(q):
        hits = [
            (float(d), s, int(o))
            for s, p in enumerate(parts)
            for o, d in zip(p.offsets[r], p.distances[r], strict=True)
            if o >= 0
        ]
        # stable: equal distances keep segment order, then their order within the segment
        hits.sort(key=lambda h: -h[0] if larger_is_better else h[0])
        out.append([(s, o, d) for d, s, o in hits[:k]])
    return out


@settings(max_examples=300, deadline=None)
@given(segment_hits(), st.integers(1, 8), st.sampled_from([Metric.L2, Metric.IP]))
def test_merge_rows_matches_a_plain_merge(case, k, metric):
    parts, q = case
    if metric is Metric.IP:  # best first means largest first: flip each segment's order
        parts = [
            SegmentHits(p.segment, p.offsets, -p.distances) if p.offsets.size else p for p in parts
        ]
        for p in parts:
            for r in range(q):
                valid = p.offsets[r] >= 0
                n = int(valid.sum())
                p.distances[r, :n] = np.sort(p.distances[r, :n])[::-1]
    rows = merge_rows(parts, q, k, metric)
    want = reference(parts, q, k, larger_is_better=metric is Metric.IP)
    for r in range(q):
        got = [
            (int(s), int(o), float(d))
            for s, o, d in zip(
                rows.segment_index[r], rows.offsets[r], rows.distances[r], strict=True
            )
            if o >= 0
        ]
        assert [(s, o) for s, o, _ in got] == [(s, o) for s, o, _ in want[r]], (r, got, want[r])
        assert np.allclose([d for *_, d in got], [d for *_, d in want[r]])


@pytest.mark.parametrize(
    ("limit", "offset", "cap", "match"),
    [
        (0, 0, None, "limit"),
        (True, 0, None, "limit"),
        (1.5, 0, None, "limit"),
        (5, -1, None, "offset"),
        (5, True, None, "offset"),
        (10, 7, 16, "at most 16"),
    ],
)
def test_check_window_errors(limit, offset, cap, match):
    with pytest.raises(vs.DataError, match=match):
        check_window(limit, offset, cap)


def test_check_window_accepts_the_edges():
    check_window(16, 0, 16)
    check_window(None, 10**9, 16)  # a query without a limit has no cap
    check_window(1, 0, None)


def test_query_vectors_shapes_and_errors():
    one = query_vectors("v", 3, [1, 2, 3])
    assert one.shape == (1, 3) and one.dtype == np.float32 and one.flags.c_contiguous
    many = query_vectors("v", 3, np.arange(6, dtype=np.float64).reshape(2, 3))
    assert many.shape == (2, 3) and np.array_equal(many, [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(vs.DimensionMismatchError):
        query_vectors("v", 3, [[1, 2]])
    with pytest.raises(vs.DataError):
        query_vectors("v", 3, [[1, float("nan"), 2]])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 40),
    st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from([np.nan, np.inf, -np.inf]))),
    st.sampled_from([1.0, 1e18, 3e38]),
)
def test_query_vectors_refuse_exactly_the_non_finite(
    q: int, dim: int, bad: list[tuple[int, float]], scale: float
) -> None:
    # The check is a sum of squares with a full check when that is not finite: huge
    # finite values (the sum overflows float32) must pass, any NaN or inf anywhere fail.
    rng = np.random.default_rng(q * 1000 + dim)
    data = np.clip(rng.standard_normal((q, dim)) * scale, -3e38, 3e38).astype(np.float32)
    for at, value in bad:
        data.flat[at % data.size] = value
    for form in (data, data.tolist()):  # the ndarray fast path and the converted one
        if bad:
            with pytest.raises(vs.DataError, match="NaN or inf"):
                query_vectors("v", dim, form)
        else:
            assert np.array_equal(query_vectors("v", dim, form), data)


@pytest.mark.parametrize("data", [[], [[]], np.empty((0, 3), dtype=np.float32)])
def test_empty_query_data_is_reported_as_empty(data: object) -> None:
    with pytest.raises(vs.DataError, match="non-empty") as info:
        query_vectors("v", 3, data)
    assert type(info.value) is vs.DataError  # not a dimension mismatch of 0
