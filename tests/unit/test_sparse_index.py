"""The sparse column and its inverted index, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.index.sparse import SparseColumn, SparseQuery, top_k_desc

rows_st = st.lists(
    st.dictionaries(st.integers(0, 40), st.floats(-4, 4, allow_nan=False, width=32), max_size=6),
    max_size=60,
)


def brute(rows: list[dict[int, float]], query: dict[int, float], allowed: np.ndarray, k: int):  # type: ignore[no-untyped-def]
    scored = []
    for i, row in enumerate(rows):
        shared = set(row) & set(query)
        if shared and allowed[i]:
            scored.append((sum(np.float32(row[t]) * query[t] for t in shared), i))
    scored.sort(key=lambda s: (-s[0], s[1]))
    return scored[:k]


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(rows_st, min_size=1, max_size=6),
    query=st.dictionaries(
        st.integers(0, 45), st.floats(-3, 3, allow_nan=False), min_size=1, max_size=5
    ),
    k=st.integers(1, 12),
    seed=st.integers(0, 1000),
)
def test_search_after_every_append_matches_brute_force(
    chunks: list[list[dict[int, float]]], query: dict[int, float], k: int, seed: int
) -> None:
    col = SparseColumn()
    rows: list[dict[int, float]] = []
    rng = np.random.default_rng(seed)
    for chunk in chunks:  # appends between searches extend the index in blocks
        col.append(chunk)
        rows += chunk
        allowed = rng.random(len(rows)) < 0.8
        offsets, scores = col.search([SparseQuery.from_dict(query)], k, allowed)
        want = brute(rows, query, allowed, k)
        got = [
            (s, o) for s, o in zip(scores[0].tolist(), offsets[0].tolist(), strict=True) if o >= 0
        ]
        # float32 sums: when terms cancel (2.71 - 2.81) the error is relative to
        # the terms, not to the small result
        assert np.allclose([s for s, _ in got], [s for s, _ in want], rtol=1e-6, atol=1e-5)
        exact = dict((i, s) for s, i in brute(rows, query, allowed, len(rows)))
        for s, o in got:  # every row returned is allowed, shares a term, and has its score
            assert o in exact and s == pytest.approx(exact[o], rel=1e-6, abs=1e-5)
        assert all(s == -np.inf for s, o in zip(scores[0], offsets[0], strict=True) if o < 0)
    assert len(col._index()) <= 2 * max(1, int(np.log2(max(len(rows), 1))) + 1)


def test_rows_lengths_and_terms_round_trip() -> None:
    col = SparseColumn()
    data = [{3: 1.0, 7: 2.0}, {}, {7: 0.5}, {1: 4.0, 2: 1.0, 3: 1.0}]
    col.append(data[:2])
    assert col.lengths().tolist() == [3.0, 0.0]
    col.append(data[2:])
    assert col.rows(np.arange(4)) == data
    assert col.lengths().tolist() == [3.0, 0.0, 0.5, 6.0]
    terms, lengths = col.terms_of(np.array([0, 3]))
    assert sorted(terms.tolist()) == [1, 2, 3, 3, 7] and lengths.tolist() == [3.0, 6.0]
    again = SparseColumn(*col.csr)
    assert again.rows(np.arange(4)) == data and len(again) == 4


def test_drop_ratio_keeps_the_largest_weights() -> None:
    q = SparseQuery.from_dict({1: 0.1, 2: -5.0, 3: 1.0, 4: 0.2}, drop_ratio=0.5)
    assert sorted(q.terms.tolist()) == [2, 3]
    assert SparseQuery.from_dict({1: 1.0}, drop_ratio=0.9).terms.tolist() == [1]


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_ties_prefer_lower_positions(k: int) -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert top_k_desc(scores, k).tolist() == [1, 2, 4, 3, 0][:k]
