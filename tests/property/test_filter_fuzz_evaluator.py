"""Filter fuzzing below the schema checker: arbitrary text, soups of the filter
language's tokens and arbitrary ``filter_params`` values go through parse / bind /
evaluate over rows with nulls, JSON values, arrays and dynamic keys; only
Kestrel's own errors may come out. (``test_filter_fuzz.py`` fuzzes the schema
checker in front of it.)
"""

from __future__ import annotations

from typing import Any

from helpers.filter_reference import to_batch
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorstore.errors import VectorStoreError
from vectorstore.expr import (
    compile_filter,
    evaluate,
)

# fmt: off
TOKENS = [
    "id", "v", "f", "b", "name", "meta", "tags", "nums", "k", "color", "$meta", "x",
    "and", "OR", "not", "!", "&&", "||", "in", "NOT IN", "like", "is", "null", "IS NOT NULL",
    "exists", "true", "False", "==", "!=", "<", "<=", ">", ">=", "=", "+", "-", "*", "/", "%",
    "**", "(", ")", "[", "]", "{", "}", ",", "0", "1", "-1", "0x1F", "017", "0b1", "1.5",
    "1e999", "9223372036854775808", '"a"', "'b%'", '"\\%"', '"\\"', "'", '"', "\\",
    '["a"]', "[0]", "[99]", "{p}", "{q}", "{missing}", "json_contains", "array_contains_all",
    "json_contains_any", "array_length", "text_match", "foo", "@", "#", "é", "\n",
]
# fmt: on
PARAMS = {"p": 1, "q": [1, "a", [2]]}


def _run(text: str, params: dict[str, Any] | None = None) -> None:
    batch = to_batch(FUZZ_ROWS)
    try:
        expr = compile_filter(text, PARAMS if params is None else params)
        evaluate(expr, batch)
    except VectorStoreError:
        pass


FUZZ_ROWS = [
    {
        "id": 0,
        "v": None,
        "small": 1,
        "f": 0.5,
        "b": True,
        "name": "a%",
        "meta": {"a": [1]},
        "tags": ["x"],
        "nums": [0],
        "$dyn": {"k": "x", "color": None},
    },
    {
        "id": 1,
        "v": 0,
        "small": -2,
        "f": None,
        "b": None,
        "name": None,
        "meta": None,
        "tags": None,
        "nums": [],
        "$dyn": {},
    },
]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_our_errors(text: str) -> None:
    _run(text)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join))
def test_token_soup_raises_only_our_errors(text: str) -> None:
    _run(text)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join),
    value=st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=3),
            st.binary(max_size=2),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2), inner, max_size=2)
        ),
        max_leaves=5,
    ),
)
def test_arbitrary_params_raise_only_our_errors(text: str, value: Any) -> None:
    _run(text, {"p": value, "q": value})
