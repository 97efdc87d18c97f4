"""Filter fuzzing: whatever text arrives, parsing and checking it raises one of
our errors or succeeds, and evaluating what succeeds raises one of ours too.

Inputs are token soup from the filter language's own vocabulary (so most of
them get deep into the parser) plus raw text, long numbers and deep nesting.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.columns import ColumnBatch
from vectorstore.expr import evaluate
from vectorstore.expr.check import FilterChecker

DT = vs.DataType
SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        vs.Field("n", DT.INT64, nullable=True),
        vs.Field("x", DT.DOUBLE),
        vs.Field("s", DT.VARCHAR, max_length=50),
        vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=4, max_length=8),
        vs.Field("meta", DT.JSON, nullable=True),
    ],
    enable_dynamic_field=True,
)
TOKENS = [
    "n",
    "x",
    "s",
    "tags",
    "meta",
    "id",
    "dyn",
    "$meta",
    "(",
    ")",
    "[",
    "]",
    ",",
    '"a"',
    "'b'",
    "1",
    "-2",
    "3.5",
    "1e308",
    "1e400",
    "0x10",
    "true",
    "false",
    "null",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "and",
    "or",
    "not",
    "&&",
    "||",
    "!",
    "in",
    "not in",
    "like",
    '"%a_"',
    "is",
    "is not",
    "exists",
    "{p}",
    "{q}",
    "json_contains",
    "array_contains",
    "array_contains_all",
    "array_length",
    "text_match",
    '["k"]',
    "[0]",
    "\\",
]


def rows() -> ColumnBatch:
    types = SCHEMA.field_types()
    values = {
        "id": np.array([1, 2], dtype=np.int64),
        "n": np.array([0, 5], dtype=np.int64),
        "x": np.array([1.5, -2.0]),
        "s": np.array(["ab", "xa_"], dtype=object),
        "tags": np.array([["a"], [], None], dtype=object)[:2],
        "meta": np.array([{"k": [1, "a"]}, None], dtype=object),
    }
    nulls = {"n": np.array([True, False]), "meta": np.array([False, True])}
    dynamic = np.array([{"dyn": 1}, {}], dtype=object)
    return ColumnBatch(2, types, values, nulls, dynamic)


texts = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join),
    st.text(max_size=40),
    st.integers(1, 6000).map(lambda n: f"n == {'9' * n}"),
    st.integers(1, 3000).map(lambda n: "(" * n + "n > 1" + ")" * n),
    st.integers(1, 3000).map(lambda n: "not " * n + "n > 1"),
    st.integers(1, 3000).map(lambda n: "n" + " + 1" * n + " > 0"),
)
params = st.fixed_dictionaries(
    {},
    optional={
        "p": st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.lists(st.integers())),
        "q": st.one_of(
            st.none(), st.booleans(), st.dictionaries(st.text(max_size=2), st.integers())
        ),
    },
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, params)
def test_any_filter_text_is_ours_to_reject(text, values):
    checker = FilterChecker(SCHEMA.field_types(), SCHEMA.enable_dynamic_field)
    try:
        tree = checker.compile(text, values)
    except vs.VectorStoreError:
        return
    try:
        mask = evaluate(tree, rows())
    except vs.VectorStoreError:
        return
    assert mask.dtype == bool and mask.shape == (2,)
