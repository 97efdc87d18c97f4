"""Evaluation of filters over a small hand-made ColumnBatch (expected rows worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from vectorstore.columns import ColumnBatch, FieldType
from vectorstore.errors import FilterSyntaxError, FilterTypeError
from vectorstore.expr import (
    Call,
    Compare,
    Field,
    In,
    Literal,
    Param,
    compile_filter,
    evaluate,
)
from vectorstore.types import DataType as D

N = 6
NULL = None


def _nullable(values: list[object], dtype: object) -> tuple[np.ndarray, np.ndarray]:
    mask = np.array([v is None for v in values])
    filled = [0 if v is None else v for v in values]
    return np.array(filled, dtype=dtype), mask


def make_batch(dynamic: bool = True) -> ColumnBatch:
    views, views_null = _nullable([5, NULL, 20, 7, 100, 0], np.int64)
    ratio, ratio_null = _nullable([0.5, 1.5, NULL, 2.5, NULL, -0.5], np.float64)
    flag, flag_null = _nullable([True, False, NULL, True, False, True], np.bool_)
    name = np.array(["apple", "banana", None, "apricot", "a%b", "A_b\n"], dtype=object)
    meta = np.empty(N, dtype=object)
    meta[:] = [
        {"a": 1, "tags": ["x", "y"], "nested": {"k": "v"}},
        {"a": "1", "b": None},
        None,
        {"a": [1, 2], "b": {}},
        {"a": 2.5, "b": {"c": None}},
        {"a": True, "b": 0, "tags": []},
    ]
    tags = np.empty(N, dtype=object)
    tags[:] = [["x"], [], None, ["x", "y"], ["z"], ["y", "x", "x"]]
    nums = np.empty(N, dtype=object)
    nums[:] = [[1, 2, 3], [4], [], [2], [5, 6], [1]]
    dyn = np.empty(N, dtype=object)
    dyn[:] = [
        {"color": "red", "n": 1},
        {"color": "blue", "n": 3},
        {},
        {"n": "3", "extra": {"deep": [1, {"x": 2}]}},
        {"color": None},
        {"color": "red", "n": 3.0, "flag2": True},
    ]
    types = {
        "id": FieldType(D.INT64),
        "views": FieldType(D.INT64, nullable=True),
        "score": FieldType(D.FLOAT),
        "ratio": FieldType(D.DOUBLE, nullable=True),
        "small": FieldType(D.INT8),
        "flag": FieldType(D.BOOL, nullable=True),
        "name": FieldType(D.VARCHAR, nullable=True),
        "meta": FieldType(D.JSON, nullable=True),
        "tags": FieldType(D.ARRAY, D.VARCHAR, nullable=True),
        "nums": FieldType(D.ARRAY, D.INT64),
    }
    values = {
        "id": np.arange(N, dtype=np.int64),
        "views": views,
        "score": np.array([0.1, 0.5, 1.5, 2.0, -1.0, 3.25], dtype=np.float32),
        "ratio": ratio,
        "small": np.array([1, -2, 3, 127, -128, 0], dtype=np.int8),
        "flag": flag,
        "name": name,
        "meta": meta,
        "tags": tags,
        "nums": nums,
    }
    nulls = {
        "views": views_null,
        "ratio": ratio_null,
        "flag": flag_null,
        "name": np.array([v is None for v in name]),
        "meta": np.array([v is None for v in meta]),
        "tags": np.array([v is None for v in tags]),
    }
    return ColumnBatch(N, types, values, nulls, dyn if dynamic else None)


BATCH = make_batch()
ALL = {0, 1, 2, 3, 4, 5}

CASES: list[tuple[str, set[int]]] = [
    # nullable ints: nulls never match, not/and/or are three-valued
    ("views > 6", {2, 3, 4}),
    ("views <= 5", {0, 5}),
    ("not views > 6", {0, 5}),
    ("views != 5", {2, 3, 4, 5}),
    ("views == 0", {5}),
    ("views is null", {1}),
    ("views is not null", {0, 2, 3, 4, 5}),
    ("not views is null", {0, 2, 3, 4, 5}),
    ("views > 6 or id == 1", {1, 2, 3, 4}),
    ("not (views > 6 or id == 1)", {0, 5}),
    ("not (views > 6 and id == 1)", {0, 2, 3, 4, 5}),  # unknown and true is unknown
    ("not (views > 6 and id == 3)", {0, 1, 2, 4, 5}),  # unknown and false is false
    ("1 < views <= 20", {0, 2, 3}),
    ("20 > views >= 5", {0, 3}),
    ("views in [5, 100]", {0, 4}),
    ("views not in [5, 100]", {2, 3, 5}),
    ("views in []", set()),
    ("id in [1, 3]", {1, 3}),
    ("id in [1.0, 2.5]", {1}),
    # arithmetic
    ("views * 2 > 10", {2, 3, 4}),
    ("views % 7 == 0", {3, 5}),
    ("views / 2 == 2.5", {0}),
    ("views + id > 20", {2, 4}),
    ("-views < -10", {2, 4}),
    ("views ** 2 >= 400", {2, 4}),
    ("id - 10 % 3 == 1", {2}),
    ("id / views > 0.1", {3}),  # row 5 divides by zero: unknown
    ("not (id / views > 0.1)", {0, 2, 4}),
    ("(0 - id) % 4 == -1", {1, 5}),  # % keeps the dividend's sign
    ("small * 2 > 200", {3}),  # no int8 overflow
    ("2 * 3 == id", set()),
    ("2 * 3 > id", ALL),
    # floats
    ("score == 0.1", {0}),  # a float32 field compares in float32
    ("score > 1", {2, 3, 5}),
    ("score in [0.1, 2]", {0, 3}),
    ("ratio >= 1.5", {1, 3}),
    ("ratio < 0", {5}),
    ("views > score", {0, 2, 3, 4}),
    ("views == score", set()),
    # small ints vs out-of-range constants
    ("small > 100", {3}),
    ("small == 300", set()),
    ("small != 300", ALL),
    ("small < -127", {4}),
    # bool
    ("flag", {0, 3, 5}),
    ("not flag", {1, 4}),
    ("flag == false", {1, 4}),
    ("flag != true", {1, 4}),
    ("flag and views > 6", {3}),
    ("flag in [true]", {0, 3, 5}),
    # varchar
    ('name == "apple"', {0}),
    ('name != "apple"', {1, 3, 4, 5}),
    ('name > "b"', {1}),
    ('name in ["apple", "a%b"]', {0, 4}),
    ('name in ["apple", "a%b", "q", "r", "s", "t"]', {0, 4}),
    ('name not in ["apple"]', {1, 3, 4, 5}),
    ('name like "ap%"', {0, 3}),
    ('name like "%an%"', {1}),
    ('name like "%cot"', {3}),
    ('name like "a_p%"', {0}),
    ('name like "apple"', {0}),
    (r'name like "a\\%b"', {4}),
    (r'name like "a\%b"', {4}),
    ('name like "a%b"', {4}),
    (r'name like "A\\_b_"', {5}),  # _ matches a newline too
    ('name like "%"', {0, 1, 3, 4, 5}),
    ('not name like "ap%"', {1, 4, 5}),
    ("name is null", {2}),
    # JSON paths: a missing key / wrong type equals nothing (== false, != true)
    ('meta["a"] == 1', {0}),  # row 5 holds true, which is not a number
    ('meta["a"] != 1', {1, 3, 4, 5}),
    ('not meta["a"] == 1', {1, 3, 4, 5}),
    ('meta["a"] > 1', {4}),
    ('meta["a"] == "1"', {1}),
    ('meta["a"] == true', {5}),
    ('meta["a"] == [1, 2]', {3}),
    ('meta["a"][1] == 2', {3}),
    ('meta["a"][5] == 2', set()),
    ('meta["a"][5] != 2', {0, 1, 3, 4, 5}),
    ('meta["nested"]["k"] == "v"', {0}),
    ('meta["a"] in [1, "1"]', {0, 1}),
    ('meta["a"] in [true]', {5}),
    ('meta["a"] not in [1, "1"]', {3, 4, 5}),
    ('meta["missing"] == 1', set()),
    ('meta["a"] + 1 > 2', {4}),
    ('meta["a"] like "1%"', {1}),
    ('(0 - meta["a"]) % 2 == -1', {0}),  # per-row %: sign of the dividend
    ('meta["a"] * 2 == 5', {4}),
    ('meta["a"] / 2 == 0.5', {0}),
    ('meta["a"]', {5}),
    # exists / is null on paths: present and not empty (null, {}, {"c": null} are empty)
    ('exists meta["b"]', {5}),
    ('exists meta["a"]', {0, 1, 3, 4, 5}),
    ('not exists meta["b"]', {0, 1, 2, 3, 4}),
    ('meta["b"] is null', {0, 1, 2, 3, 4}),
    ('meta["b"] is not null', {5}),
    ("meta is null", {2}),
    ("meta is not null", {0, 1, 3, 4, 5}),
    # contains functions on JSON
    ('json_contains(meta["tags"], "x")', {0}),
    ('not json_contains(meta["tags"], "x")', {1, 3, 4, 5}),
    ('json_contains_any(meta["tags"], ["y", "q"])', {0}),
    ('json_contains_all(meta["tags"], ["x", "y"])', {0}),
    ('json_contains_all(meta["tags"], [])', {0, 5}),
    ('json_contains_any(meta["tags"], [])', set()),
    ('json_contains(meta["a"], 2)', {3}),
    ('json_contains(meta["a"], 2.0)', {3}),
    ('array_length(meta["tags"]) == 0', {5}),
    # ARRAY fields
    ('array_contains(tags, "x")', {0, 3, 5}),
    ('json_contains(tags, "y")', {3, 5}),
    ('array_contains_all(tags, ["x", "y"])', {3, 5}),
    ('array_contains_any(tags, ["z", "q"])', {4}),
    ("array_length(tags) == 0", {1}),
    ("array_length(tags) >= 1", {0, 3, 4, 5}),
    ('tags[0] == "x"', {0, 3}),
    ('tags[1] != "y"', {0, 1, 4, 5}),
    ('tags == ["x", "y"]', {3}),
    ('tags != ["x", "y"]', {0, 1, 4, 5}),
    ("tags is null", {2}),
    ("exists tags[1]", {3, 5}),
    ("nums[0] > 1", {1, 3, 4}),
    ("array_contains(nums, 2)", {0, 3}),
    ("array_contains_any(nums, [6, 4])", {1, 4}),
    ("array_length(nums) * 2 == 4", {4}),
    # dynamic keys
    ('color == "red"', {0, 5}),
    ('color != "red"', {1, 2, 3, 4}),
    ('not color == "red"', {1, 2, 3, 4}),
    ('$meta["color"] == "blue"', {1}),
    ("n == 3", {1, 5}),
    ('n == "3"', {3}),
    ("n in [1, 3]", {0, 1, 5}),
    ("exists color", {0, 1, 5}),
    ("color is null", {2, 3, 4}),
    ('extra["deep"][1]["x"] == 2', {3}),
    ('exists extra["deep"]', {3}),
    ("flag2", {5}),
    ('n > 2 and color == "red"', {5}),
    ("n + 1 == 4", {1, 5}),
    ("n % -2 == 1", {0, 1, 5}),
    ("-n == -3", {1, 5}),
    ("n / 0.5 == 6", {1, 5}),
    ("no_such_key == 1", set()),
    ("no_such_key != 1", ALL),
    # mixed
    ('views > 6 and name like "a%"', {3, 4}),
    ('id in [1, 3] or color == "red"', {0, 1, 3, 5}),
    ("true", ALL),
    ("false", set()),
    ("1 == 1", ALL),
    ('1 == "1"', set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[t for t, _ in CASES])
def test_evaluate(text: str, expected: set[int]) -> None:
    mask = evaluate(compile_filter(text), BATCH)
    assert mask.dtype == np.bool_ and mask.shape == (N,)
    assert set(np.flatnonzero(mask).tolist()) == set(expected)


def test_templates_evaluate_like_literals() -> None:
    expr = compile_filter("views >= {v} and name in {names}", {"v": 6, "names": ["apricot", "x"]})
    assert np.flatnonzero(evaluate(expr, BATCH)).tolist() == [3]


TYPE_ERRORS: list[tuple[str, str]] = [
    ('views == "abc"', "INT64 field 'views'"),
    ("name + 1 > 2", "VARCHAR field 'name'"),
    ("name > 5", "VARCHAR field 'name'"),
    ("flag > true", "'>' needs a number or a string"),
    ("flag == 1", "BOOL field 'flag'"),
    ("flag + 1 > 1", "BOOL field 'flag'"),
    ('views in ["a"]', "INT64 field 'views'"),
    ('views like "a%"', "INT64 field 'views'"),
    ('tags > ["a"]', "'>' needs a number or a string"),
    ("tags == name", "ARRAY field 'tags'"),
    ('array_contains(name, "x")', "VARCHAR field 'name'"),
    ("array_contains(tags, 1)", "ARRAY field 'tags'"),
    ('json_contains_all(tags, "x")', "constant list"),
    ("json_contains(tags, name)", "constant"),
    ("tags[0] == 1", "tags[0]"),
    ('tags["a"] == 1', "ARRAY field 'tags'"),
    ('views["a"] == 1', "INT64 field 'views'"),
    ("views", "INT64 field 'views' is not a condition"),
    ("views / 0 > 1", "division by zero"),
    ("views % 0 > 1", "division by zero"),
    ("exists views", "INT64 field 'views'"),
    ("(views > 1) + 1 > 0", "cannot be used as a value"),
    ("array_length(views) > 1", "INT64 field 'views'"),
    ("-name > 1", "VARCHAR field 'name'"),
    ('meta["a"] > true', "needs a number or a string"),
    ("views == [1]", "INT64 field 'views'"),
    ("(0 - 8) ** 0.5 > id", "has no value"),
    ("9223372036854775807 + 1 > id", "integer overflow"),
]


@pytest.mark.parametrize(("text", "needle"), TYPE_ERRORS, ids=[t for t, _ in TYPE_ERRORS])
def test_type_errors_name_the_field(text: str, needle: str) -> None:
    with pytest.raises(FilterTypeError) as info:
        evaluate(compile_filter(text), BATCH)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)
    assert info.value.position is not None
    assert f"position {info.value.position}" in str(info.value)


def test_type_error_positions() -> None:
    with pytest.raises(FilterTypeError) as info:
        evaluate(compile_filter('id > 1 and views == "abc"'), BATCH)
    assert info.value.position == 11
    with pytest.raises(FilterTypeError) as info:
        evaluate(compile_filter("id > 1 and views / 0 > 1"), BATCH)
    assert info.value.position == 19


def test_unknown_fields_without_a_dynamic_field() -> None:
    batch = make_batch(dynamic=False)
    with pytest.raises(FilterTypeError, match=r"unknown field 'color'.*position 10"):
        evaluate(compile_filter("id > 1 or color == 'red'"), batch)
    with pytest.raises(FilterTypeError, match="unknown dynamic key 'k'"):
        evaluate(compile_filter('$meta["k"] == 1'), batch)
    # declared fields still work
    assert evaluate(compile_filter("id >= 4"), batch).tolist() == [False] * 4 + [True] * 2


def test_errors_that_are_not_type_errors() -> None:
    with pytest.raises(FilterSyntaxError, match=r"\{v\}"):
        evaluate(In(Field("id"), Param("v")), BATCH)
    with pytest.raises(FilterSyntaxError, match=r"\{v\}"):
        evaluate(Compare("==", Field("id"), Param("v")), BATCH)
    with pytest.raises(FilterSyntaxError, match="text_match takes 2 arguments"):
        evaluate(Call("text_match", (Field("name"),)), BATCH)
    with pytest.raises(FilterTypeError, match="text_match needs a VARCHAR field"):
        evaluate(Call("text_match", (Field("id"), Literal("a"))), BATCH)
    with pytest.raises(FilterTypeError, match="must be a string"):
        evaluate(Call("text_match", (Field("name"), Literal(1))), BATCH)


def test_hand_built_trees_evaluate() -> None:
    expr = In(Field("color", dynamic=True), Literal("red"))  # not a list
    with pytest.raises(FilterTypeError, match="'in' needs a list"):
        evaluate(expr, BATCH)
    assert evaluate(Compare(">", Literal(7), Field("views")), BATCH).tolist() == [
        True, False, False, False, False, True,
    ]  # fmt: skip


def test_mask_is_a_fresh_array() -> None:
    batch = ColumnBatch(3, {"f": FieldType(D.BOOL)}, {"f": np.array([True, False, True])}, {}, None)
    mask = evaluate(compile_filter("f"), batch)
    mask[:] = False
    assert batch.values["f"].tolist() == [True, False, True]


def test_empty_batch() -> None:
    batch = ColumnBatch(
        0,
        {"v": FieldType(D.INT64), "m": FieldType(D.JSON)},
        {"v": np.zeros(0, np.int64), "m": np.zeros(0, object)},
        {},
        np.zeros(0, object),
    )
    for text in ['v > 1 and m["a"] == 1 or k like "a%"', "not exists k", "v % 2 == 0"]:
        assert evaluate(compile_filter(text), batch).shape == (0,)
    with pytest.raises(FilterTypeError):
        evaluate(compile_filter('v == "a"'), batch)  # typing does not depend on data
