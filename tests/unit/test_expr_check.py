"""``expr.check.FilterChecker``, the one filter type-checker, against evaluation
itself: over a real empty segment (how filters were checked before it) and
over a segment holding rows. A filter must type-check exactly when it
evaluates, with the same error class, position and message."""

from __future__ import annotations

from typing import Any

import pytest

from vectorstore.errors import FilterSyntaxError, FilterTypeError
from vectorstore.expr import Compare, Field, Literal, compile_filter, evaluate, to_text
from vectorstore.expr.check import FilterChecker
from vectorstore.rows import prepare_rows
from vectorstore.schema import Field as SchemaField
from vectorstore.schema import Schema
from vectorstore.segment import Segment
from vectorstore.types import DataType


def _schema(dynamic: bool) -> Schema:
    return Schema(
        [
            SchemaField("id", DataType.INT64, is_primary=True),
            SchemaField("v", DataType.FLOAT_VECTOR, dim=2),
            SchemaField("views", DataType.INT32, nullable=True),
            SchemaField("score", DataType.FLOAT),
            SchemaField("name", DataType.VARCHAR),
            SchemaField("ok", DataType.BOOL),
            SchemaField("meta", DataType.JSON, nullable=True),
            SchemaField("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4),
            SchemaField("nums", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4),
        ],
        enable_dynamic_field=dynamic,
    )


FILTERS = [
    "views > 10",
    "views > 'ten'",
    "name == 3",
    "name + 1 > 2",
    "ok == true",
    "ok > 1",
    "score == 0.1",
    "score in ['a']",
    "unknown_field == 1",
    '$meta["k"] == 1',
    'meta["a"][0] == "x"',
    "tags[0] == 1",
    "nums[1] > 2",
    'array_contains(tags, "a")',
    "array_contains(views, 1)",
    "array_length(name) == 1",
    'json_contains(meta["a"], 1)',
    "views / 0 > 1",
    "views % 2 == 1 and not (score < 0.5)",
    'text_match(name, "cat")',
    'text_match(views, "cat")',
    "text_match(name, 3)",
    "views is null",
    "exists meta['a']",
    "exists views",
    "name like 'a%'",
    "views like 'a%'",
    "1 < views <= 'z'",
    "-name > 0",
    "views in [1, 2, 'three']",
]

Outcome = tuple[type | None, str, int | None]


def _outcome(fn: Any) -> Outcome:
    try:
        fn()
    except (FilterTypeError, FilterSyntaxError) as exc:
        return type(exc), str(exc), exc.position
    return None, "", None


def _checked(schema: Schema, text: str) -> Outcome:
    checker = FilterChecker(schema.field_types(), schema.enable_dynamic_field)
    return _outcome(lambda: checker.type_check(compile_filter(text), text))


def _as_checked(evaluated: Outcome, text: str) -> Outcome:
    """What the checker reports for an evaluation error: the filter named after it."""
    kind, message, position = evaluated
    if kind is FilterTypeError:
        return kind, f"{message} in filter {text!r}", position
    return evaluated


def _segment_with_rows(schema: Schema) -> Segment:
    seg = Segment(0, "_default", schema, {})
    rows = [
        {
            "id": i,
            "v": [0.0, 1.0],
            "views": None if i == 0 else i,
            "score": 0.1 * i,
            "name": f"a{i}",
            "ok": i % 2 == 0,
            "meta": {"a": [i, "x"]},
            "tags": ["a", "b"],
            "nums": [i, 3],
        }
        for i in range(4)
    ]
    seg.append(prepare_rows(schema, rows))
    return seg


def test_the_filters_cover_both_outcomes() -> None:
    for dynamic in (False, True):
        kinds = {_checked(_schema(dynamic), text)[0] for text in FILTERS}
        assert kinds == {None, FilterTypeError}


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("text", FILTERS)
def test_checking_agrees_with_evaluating_over_an_empty_segment(text: str, dynamic: bool) -> None:
    schema = _schema(dynamic)
    batch = Segment(0, "_default", schema, {}).column_batch()  # the former check, verbatim
    evaluated = _outcome(lambda: evaluate(compile_filter(text), batch))
    assert _checked(schema, text) == _as_checked(evaluated, text)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("text", FILTERS)
def test_checking_agrees_with_evaluating_over_rows(text: str, dynamic: bool) -> None:
    schema = _schema(dynamic)
    batch = _segment_with_rows(schema).column_batch()
    evaluated = _outcome(lambda: evaluate(compile_filter(text), batch))
    assert _checked(schema, text) == _as_checked(evaluated, text)


def test_a_tree_is_named_by_its_text() -> None:
    schema = _schema(False)
    checker = FilterChecker(schema.field_types(), schema.enable_dynamic_field)
    tree = Compare("==", Field("name"), Literal(3))
    with pytest.raises(FilterTypeError) as info:
        checker.compile(tree, None)
    assert info.value.expression == to_text(tree)
    assert str(info.value).endswith(f" in filter {to_text(tree)!r}")
    with pytest.raises(FilterTypeError) as info:
        checker.compile("name == {x}", {"x": 3})
    assert info.value.expression == "name == {x}" and info.value.position == 0
