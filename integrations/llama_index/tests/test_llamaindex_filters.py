"""Metadata filters: the trees they become, each operator against a plain-Python
reference of LlamaIndex's semantics (hypothesis), and the documented differences
from SimpleVectorStore."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.vector_stores.kestrel import KestrelVectorStore, metadata_filters_to_expr
from llama_index.vector_stores.kestrel.filters import FALSE, TRUE, like_escape
from llamaindex_testkit import flt, group

import vectorstore as vs
from vectorstore.expr import Call, Compare, Expr, Field, In, Like, ListLiteral, Literal, Path, walk

Op = FilterOperator
Cond = FilterCondition


# ----------------------------------------------------------------- translation


def test_no_filters_is_no_condition() -> None:
    assert metadata_filters_to_expr(None) is None
    assert metadata_filters_to_expr(MetadataFilters(filters=[])) is None


def test_trees_not_text() -> None:
    """Keys and values stay data: a hostile key or value is a Path key / Literal."""
    key = 'a"] or 1 == 1 or meta["'
    expr = metadata_filters_to_expr(group(flt(key, Op.EQ, '" or ""=="')))
    assert expr == Compare("==", Path(Field("metadata"), (key,)), Literal('" or ""=="'))
    expr = metadata_filters_to_expr(group(flt("k", Op.IN, ["x", "y"])))
    assert expr == In(Path(Field("metadata"), ("k",)), ListLiteral(("x", "y")))


def test_every_operator_translates_to_a_tree() -> None:
    values = {
        Op.IN: ["a"],
        Op.NIN: ["a"],
        Op.ANY: ["a"],
        Op.ALL: ["a"],
        Op.IS_EMPTY: None,
    }
    for op in FilterOperator:
        expr = metadata_filters_to_expr(group(flt("k", op, values.get(op, "a"))))
        assert isinstance(expr, Expr)
        assert all(isinstance(node, Expr) for node in walk(expr))


def test_like_patterns_escape_wildcards() -> None:
    assert like_escape("50%_a\\b") == "50\\%\\_a\\\\b"
    expr = metadata_filters_to_expr(group(flt("k", Op.TEXT_MATCH, "5%")))
    assert expr == Like(Path(Field("metadata"), ("k",)), Literal("%5\\%%"))
    expr = metadata_filters_to_expr(group(flt("k", Op.TEXT_MATCH_INSENSITIVE, "AbC")))
    assert expr == Like(Path(Field("metadata_lower"), ("k",)), Literal("%abc%"))


def test_contains_is_an_element_or_a_substring() -> None:
    path = Path(Field("metadata"), ("k",))
    number = metadata_filters_to_expr(group(flt("k", Op.CONTAINS, 3)))
    assert number == Call("json_contains", (path, Literal(3)))


def test_conditions_and_nesting() -> None:
    a, b = flt("a", Op.EQ, 1), flt("b", Op.EQ, 2)
    tree = metadata_filters_to_expr(group(a, group(b, condition=Cond.NOT), condition=Cond.OR))
    assert tree is not None
    assert type(tree).__name__ == "Or"
    assert metadata_filters_to_expr(group(a, group(condition=Cond.OR))) is not None
    assert metadata_filters_to_expr(group(flt("a", Op.EQ, None))) == FALSE
    assert metadata_filters_to_expr(group(flt("a", Op.NE, None))) == TRUE


@pytest.mark.parametrize(
    ("op", "value", "message"),
    [
        (Op.GT, None, "filter 'k' >: the value must not be None"),
        (Op.GT, [1, 2], r"filter 'k' > needs a number or a string, got \[1, 2\]"),
        (Op.TEXT_MATCH, 3, "filter 'k' text_match needs a string value, got 3"),
        (Op.IN, None, "filter 'k' in: the value must not be None"),
        (Op.CONTAINS, None, "filter 'k' contains: the value must not be None"),
    ],
)
def test_unusable_values_raise(op: FilterOperator, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metadata_filters_to_expr(group(flt("k", op, value)))


def test_insensitive_match_needs_the_lowercase_field() -> None:
    with pytest.raises(ValueError, match="lower-cased"):
        metadata_filters_to_expr(
            group(flt("k", Op.TEXT_MATCH_INSENSITIVE, "a")), lowercase_field=None
        )


# ------------------------------------------------------- reference evaluation


def reference(metadata: dict[str, Any], f: MetadataFilter | MetadataFilters) -> bool:
    """LlamaIndex's semantics (SimpleVectorStore's ``build_metadata_filter_fn``),
    plain Python: nested groups allowed, and where Python raises TypeError the
    comparison is simply false (element by element for any / all)."""
    if isinstance(f, MetadataFilters):
        if not f.filters:
            return True
        results = [reference(metadata, item) for item in f.filters]
        condition = f.condition or Cond.AND
        if condition == Cond.AND:
            return all(results)
        if condition == Cond.OR:
            return any(results)
        return not any(results)
    mv = metadata.get(f.key)
    op, v = f.operator, f.value
    if op == Op.IS_EMPTY:
        return mv is None or mv == "" or mv == []
    if mv is None:
        return op in (Op.NE, Op.NIN)

    def member(x: Any, container: Any) -> bool:
        if isinstance(container, list):
            return x in container
        return isinstance(container, str) and isinstance(x, str) and x in container

    try:
        if op == Op.EQ:
            return bool(mv == v)
        if op == Op.NE:
            return bool(mv != v)
        if op == Op.GT:
            return bool(mv > v)
        if op == Op.GTE:
            return bool(mv >= v)
        if op == Op.LT:
            return bool(mv < v)
        if op == Op.LTE:
            return bool(mv <= v)
    except TypeError:
        return False
    if op == Op.IN:
        return mv in v
    if op == Op.NIN:
        return mv not in v
    if op == Op.CONTAINS:
        return member(v, mv)
    if op == Op.TEXT_MATCH:
        return isinstance(mv, str) and v in mv
    if op == Op.TEXT_MATCH_INSENSITIVE:
        return isinstance(mv, str) and v.lower() in mv.lower()
    if op == Op.ANY:
        return any(member(x, mv) for x in v)
    if op == Op.ALL:
        return all(member(x, mv) for x in v)
    raise AssertionError(op)


KEYS = ["a", "b"]
TEXT = st.text(alphabet="aAbB%_\\", max_size=3)
SCALARS = st.one_of(st.integers(-3, 3), st.sampled_from([-1.5, 0.0, 0.5, 1.0, 2.0]), TEXT)
VALUES = st.one_of(
    SCALARS,
    st.none(),
    st.lists(st.one_of(st.integers(-2, 2), TEXT), max_size=3),
)
METADATA = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=3)
INT_LISTS = st.lists(st.integers(-3, 3), max_size=3)
STR_LISTS = st.lists(TEXT, max_size=3)
LISTS = st.one_of(INT_LISTS, STR_LISTS)


@st.composite
def leaf(draw: st.DrawFn, op: FilterOperator | None = None) -> MetadataFilter:
    if op is None:
        op = draw(st.sampled_from(list(FilterOperator)))
    if op in (Op.EQ, Op.NE):
        value = draw(st.one_of(SCALARS, st.none(), LISTS))
    elif op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
        value = draw(SCALARS)
    elif op in (Op.IN, Op.NIN, Op.ANY, Op.ALL):
        value = draw(LISTS)
    elif op == Op.CONTAINS:
        value = draw(st.one_of(st.integers(-2, 2), TEXT))
    elif op in (Op.TEXT_MATCH, Op.TEXT_MATCH_INSENSITIVE):
        value = draw(TEXT)
    else:
        value = None
    return flt(draw(st.sampled_from(KEYS)), op, value)


FILTERS = st.recursive(
    st.builds(lambda f: group(f), leaf()),
    lambda inner: st.builds(
        lambda items, c: MetadataFilters(filters=items, condition=c),
        st.lists(st.one_of(leaf(), inner), min_size=1, max_size=3),
        st.sampled_from(list(FilterCondition)),
    ),
    max_leaves=5,
)


ROWS = st.lists(METADATA, min_size=4, max_size=10)


def check_against_reference(rows: list[dict[str, Any]], filters: MetadataFilters) -> None:
    store = KestrelVectorStore(dim=2)
    try:
        nodes = [
            TextNode(text=f"row {i}", id_=f"n{i}", embedding=[1.0, float(i)], metadata=md)
            for i, md in enumerate(rows)
        ]
        store.add(nodes)
        expected = {f"n{i}" for i, md in enumerate(rows) if reference(md, filters)}
        got = {node.node_id for node in store.get_nodes(filters=filters)}
        assert got == expected
    finally:
        store.close()


@pytest.mark.parametrize("op", list(FilterOperator), ids=lambda op: op.value)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_operator_matches_the_reference(op: FilterOperator, data: st.DataObject) -> None:
    rows = data.draw(ROWS)
    condition = data.draw(st.sampled_from(list(FilterCondition)))
    check_against_reference(rows, group(data.draw(leaf(op)), condition=condition))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, FILTERS)
def test_nested_filters_match_the_reference(
    rows: list[dict[str, Any]], filters: MetadataFilters
) -> None:
    check_against_reference(rows, filters)


@settings(max_examples=300, deadline=None)
@given(METADATA, st.lists(leaf(), min_size=1, max_size=3), st.sampled_from(list(FilterCondition)))
def test_reference_agrees_with_llama_index(
    metadata: dict[str, Any], leaves: list[MetadataFilter], condition: FilterCondition
) -> None:
    """The reference is SimpleVectorStore's own filter function wherever that one
    does not raise (it raises TypeError on mixed types, and nests no groups)."""
    filters = MetadataFilters(filters=list(leaves), condition=condition)
    try:
        theirs = build_metadata_filter_fn(lambda _: metadata, filters)("x")
    except TypeError:
        return
    assert reference(metadata, filters) == theirs


# ----------------------------------------------------- documented differences


@pytest.fixture
def quirky() -> KestrelVectorStore:
    store = KestrelVectorStore(dim=2)
    rows = {
        "bool": {"k": True},
        "empty_obj": {"k": {}},
        "obj": {"k": {"x": 1}},
        "str": {"k": "abc"},
        "num": {"k": 5},
    }
    store.add(
        [TextNode(text=i, id_=i, embedding=[1.0, 0.0], metadata=md) for i, md in rows.items()]
    )
    return store


def matching(store: KestrelVectorStore, *filters: MetadataFilter) -> set[str]:
    return {n.node_id for n in store.get_nodes(filters=group(*filters))}


def test_difference_booleans_are_not_numbers(quirky: KestrelVectorStore) -> None:
    # SimpleVectorStore: True == 1
    assert matching(quirky, flt("k", Op.EQ, 1)) == set()


def test_difference_empty_objects_are_empty(quirky: KestrelVectorStore) -> None:
    # SimpleVectorStore: only None, "" and [] (and a missing key) are empty
    assert matching(quirky, flt("k", Op.IS_EMPTY, None)) == {"empty_obj"}


def test_difference_type_errors_do_not_match(quirky: KestrelVectorStore) -> None:
    # SimpleVectorStore raises TypeError ("abc" > 1, 5 contains "a") as soon as a
    # node with such a value is compared
    assert matching(quirky, flt("k", Op.GT, 1)) == {"num"}
    assert matching(quirky, flt("k", Op.CONTAINS, "a")) == {"str"}


def test_difference_scalar_in_is_a_one_element_list(quirky: KestrelVectorStore) -> None:
    # SimpleVectorStore: "abc" in "xabcx" (a substring test)
    assert matching(quirky, flt("k", Op.IN, "abc")) == {"str"}
    assert matching(quirky, flt("k", Op.IN, "xabcx")) == set()


def test_filters_on_keys_llama_index_adds(make_store: Any) -> None:
    """doc_id / ref_doc_id / document_id / _node_type are filterable, as in SimpleVectorStore."""
    store = make_store(dim=2)
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

    source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id="doc-1")}
    store.add(
        [
            TextNode(text="x", id_="a", embedding=[1.0, 0.0], relationships=source),
            TextNode(text="y", id_="b", embedding=[1.0, 0.0]),
        ]
    )
    for key in ("doc_id", "ref_doc_id", "document_id"):
        assert matching(store, flt(key, Op.EQ, "doc-1")) == {"a"}
    assert matching(store, flt("_node_type", Op.EQ, "TextNode")) == {"a", "b"}


def test_bad_filter_types_raise_value_errors(quirky: KestrelVectorStore) -> None:
    with pytest.raises(ValueError, match="filter 'k' <: the value must not be None"):
        quirky.get_nodes(filters=group(flt("k", Op.LT, None)))
    assert isinstance(vs.FilterTypeError("x"), ValueError)
