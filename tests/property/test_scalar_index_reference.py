"""Scalar indexes never change an answer: random filters over fields with scalar
indexes (which answer ==, in, ranges, prefix like and array_contains from sorted
entries) keep exactly the rows the plain-Python reference keeps
(``tests/helpers/filter_reference.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from helpers.filter_expressions import ALL_OPS, leaf, num_const, num_field, str_const
from helpers.filter_reference import TYPES, reference_mask, rows, to_batch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorstore.expr import (
    And,
    Call,
    Compare,
    Expr,
    Field,
    In,
    Like,
    ListLiteral,
    Literal,
    Not,
    Or,
    Range,
    evaluate,
)
from vectorstore.index.scalar import ScalarIndex

INDEXABLE = ["id", "v", "small", "f", "b", "name", "tags", "nums"]


@st.composite
def indexable_leaf(draw: st.DrawFn) -> Expr:
    """A condition a scalar index answers: a plain field against constants."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        left, right = draw(num_field), Literal(draw(num_const))
        if draw(st.booleans()):
            left, right = right, left
        return Compare(draw(st.sampled_from(ALL_OPS)), left, right)
    if choice == 1:
        return Compare(draw(st.sampled_from(ALL_OPS)), Field("name"), Literal(draw(str_const)))
    if choice == 2:
        target, items = draw(
            st.sampled_from(
                [
                    (num_field, st.lists(num_const, max_size=4)),
                    (st.just(Field("name")), st.lists(str_const, max_size=4)),
                    (st.just(Field("b")), st.lists(st.booleans(), max_size=2)),
                ]
            )
        )
        return In(draw(target), ListLiteral(tuple(draw(items))), draw(st.booleans()))
    if choice == 3:
        pattern = draw(st.text(alphabet="ab%_x", max_size=3))
        return Like(Field("name"), Literal(draw(st.sampled_from([pattern, pattern + "%"]))))
    if choice == 4:
        lo, hi = sorted(draw(st.lists(num_const, min_size=2, max_size=2)))
        return Range(
            draw(num_field), Literal(lo), Literal(hi), draw(st.booleans()), draw(st.booleans())
        )
    name = draw(st.sampled_from(["array_contains", "array_contains_all", "array_contains_any"]))
    if draw(st.booleans()):
        needles = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        arg: Expr = (
            ListLiteral(needles)
            if name != "array_contains"
            else Literal(needles[0] if needles else 1)
        )
        return Call(name, (Field("nums"), arg))
    words = tuple(draw(st.lists(st.sampled_from("xyq"), max_size=3)))
    arg = ListLiteral(words) if name != "array_contains" else Literal(words[0] if words else "x")
    return Call(name, (Field("tags"), arg))


indexable_expressions = st.recursive(
    st.one_of(indexable_leaf(), indexable_leaf(), leaf()),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=4,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=indexable_expressions,
    data=rows(),
    indexed=st.lists(st.sampled_from(INDEXABLE), unique=True, min_size=1),
)
def test_scalar_indexes_never_change_an_answer(
    expr: Expr, data: list[dict[str, Any]], indexed: list[str]
) -> None:
    """A filter over fields with scalar indexes (which answer ==, in, ranges,
    prefix like and array_contains from sorted entries) keeps exactly the rows
    the reference keeps."""
    batch = to_batch(data)
    indexes = {
        name: ScalarIndex.build(batch.values[name], batch.nulls.get(name), TYPES[name].dtype)
        for name in indexed
    }
    mask = evaluate(expr, dataclasses.replace(batch, indexes=indexes))
    assert mask.tolist() == reference_mask(expr, data), repr(expr)
