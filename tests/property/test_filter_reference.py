"""The vectorised filter evaluator against a plain-Python, row-by-row reference.

Random well-typed expressions are built as trees, rendered to text by a renderer
written in the tests (with random keyword spellings), parsed back by
``vectorstore.expr`` (which must give the same tree) and evaluated over random
rows with nulls, JSON values, arrays and dynamic keys. The reference
(``tests/helpers/filter_reference.py``) shares no code with the engine: it walks
the tree once per row with ordinary Python values; the expressions and the
renderer are in ``tests/helpers/filter_expressions.py``.
"""

from __future__ import annotations

import random
from typing import Any

from helpers.filter_expressions import any_const, expressions, render
from helpers.filter_reference import reference_mask, rows, to_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorstore.expr import (
    Expr,
    Not,
    bind,
    evaluate,
    parse,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expressions, data=rows(), rnd=st.randoms(use_true_random=False))
def test_engine_matches_reference(
    expr: Expr, data: list[dict[str, Any]], rnd: random.Random
) -> None:
    text = render(expr, rnd)
    parsed = parse(text)
    assert parsed == expr, text
    mask = evaluate(parsed, to_batch(data))
    assert mask.tolist() == reference_mask(expr, data), text


@settings(max_examples=100, deadline=None)
@given(expr=expressions, data=rows())
def test_not_never_keeps_a_row_twice(expr: Expr, data: list[dict[str, Any]]) -> None:
    """A row passes at most one of ``e`` and ``not e`` (unknown rows pass neither)."""
    batch = to_batch(data)
    both = evaluate(expr, batch) & evaluate(Not(expr), batch)
    assert not both.any()


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(any_const, st.lists(any_const, max_size=3)))
def test_binding_a_rendered_literal_equals_parsing_it(value: Any) -> None:
    """``x == {p}`` bound to a value gives the same tree as the value written as text."""
    rnd = random.Random(0)
    as_text = parse(f"x == {render(tuple(value) if isinstance(value, list) else value, rnd)}")
    assert bind(parse("x == {p}"), {"p": value}) == as_text
