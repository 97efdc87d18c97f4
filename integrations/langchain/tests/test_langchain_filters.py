"""Filters: dicts (each operator, nested logic) against a plain-Python reference, expression
strings, trees, and bad filters raising our errors."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kestrel_lc_fakes import TableEmbeddings, filter_holds
from langchain_kestrel import FilterDictError, KestrelVectorStore, to_expr

import vectorstore as vs
from vectorstore.expr import Compare, Field, Literal, Path

# Every key takes values of several JSON types (and is missing or null in some rows),
# so type mismatches and missing keys are exercised, not only the happy path.
VALUES: dict[str, list[Any]] = {
    "n": [0, 1, 2, 3, 5, -1, 2.5, 1.0, "2", True, None, [2], {"a": 2}],
    "s": ["a", "b", "ab", "", "B", 1, False, None, ["a"]],
    "b": [True, False, 1, 0, "true", None],
    "tags": [["a", "b"], ["b"], [], [1, 2], ["a", 1.0], [None], "a", None],
}
_rng = random.Random(7)
ROWS: list[dict[str, Any]] = []
for _ in range(60):
    meta: dict[str, Any] = {}
    for key, options in VALUES.items():
        pick = _rng.randrange(len(options) + 2)
        if pick < len(options):  # else: the key is missing
            meta[key] = options[pick]
    ROWS.append(meta)
IDS = [f"d{i}" for i in range(len(ROWS))]


@pytest.fixture(scope="module")
def store() -> KestrelVectorStore:
    table = {"q": [1.0, 0.0]} | {f"t{i}": [1.0, 0.01 * i] for i in range(len(ROWS))}
    s = KestrelVectorStore(embedding=TableEmbeddings(table), index_params={"index_type": "FLAT"})
    s.add_texts([f"t{i}" for i in range(len(ROWS))], ROWS, ids=IDS)
    return s


def found(store: KestrelVectorStore, filter: Any, **kwargs: Any) -> set[str]:
    docs = store.similarity_search("q", k=len(ROWS), filter=filter, **kwargs)
    return {d.id for d in docs if d.id is not None}


def expected(filter: Mapping[str, Any]) -> set[str]:
    return {i for i, meta in zip(IDS, ROWS, strict=True) if filter_holds(filter, meta)}


# ----------------------------------------------------------- every operator

CASES: list[dict[str, Any]] = [
    {"n": 2},
    {"n": 1},  # 1 and 1.0, not True
    {"b": True},  # only true, not 1
    {"s": "a"},
    {"n": {"$eq": 2.5}},
    {"n": {"$ne": 2}},  # missing keys and other types pass
    {"b": {"$ne": False}},
    {"n": {"$gt": 1}},
    {"n": {"$gte": 1}},
    {"n": {"$lt": 2}},
    {"n": {"$lte": 2}},
    {"n": {"$gt": 0, "$lt": 3}},
    {"s": {"$gt": "a"}},
    {"s": {"$lte": "ab"}},
    {"n": {"$in": [1, 3, "2"]}},
    {"s": {"$in": ["a", "B"]}},
    {"n": {"$in": []}},
    {"n": {"$nin": [1, 3]}},
    {"s": {"$nin": []}},
    {"tags": {"$exists": True}},
    {"n": {"$exists": False}},
    {"tags": {"$contains": "a"}},
    {"tags": {"$contains": 1}},
    {"n": {"$not": {"$gt": 1}}},
    {"n": 1, "s": {"$ne": "a"}},
    {"$and": [{"n": {"$gte": 0}}, {"s": {"$ne": "a"}}]},
    {"$or": [{"n": 3}, {"s": "b"}, {"b": False}]},
    {"$not": {"n": 2}},
    {"$not": {"$or": [{"n": {"$lt": 1}}, {"tags": {"$contains": "b"}}]}},
    {"$or": [{"$and": [{"n": {"$gt": 1}}, {"$not": {"b": True}}]}, {"s": {"$in": ["", "B"]}}]},
    {"$and": [{"n": 1}]},
]


@pytest.mark.parametrize("filter", CASES, ids=[str(c) for c in CASES])
def test_dict_filter_matches_reference(store: KestrelVectorStore, filter: dict[str, Any]) -> None:
    want = expected(filter)
    assert found(store, filter) == want
    # the same filter through MMR and hybrid search
    mmr = store.max_marginal_relevance_search("q", k=len(ROWS), fetch_k=len(ROWS), filter=filter)
    assert {d.id for d in mmr} == want


def test_cases_are_not_trivial() -> None:
    sizes = [len(expected(c)) for c in CASES]
    assert sum(0 < s < len(ROWS) for s in sizes) >= len(CASES) - 3


# random filters (hypothesis) against the same reference

_scalars = st.one_of(
    st.sampled_from([0, 1, 2, 3, -1, 2.5, 1.0]),
    st.sampled_from(["a", "b", "ab", "", "2"]),
    st.booleans(),
)
_ordered = st.one_of(st.sampled_from([0, 1, 2, 2.5, -1]), st.sampled_from(["a", "b", ""]))
_ops = st.one_of(
    st.tuples(st.sampled_from(["$eq", "$ne"]), _scalars),
    st.tuples(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), _ordered),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(_scalars, max_size=3)),
    st.tuples(st.just("$exists"), st.booleans()),
    st.tuples(st.just("$contains"), _scalars),
)
_leaf = st.one_of(
    st.builds(lambda k, v: {k: v}, st.sampled_from(list(VALUES)), _scalars),
    st.builds(
        lambda k, ops: {k: dict(ops)},
        st.sampled_from(list(VALUES)),
        st.lists(_ops, min_size=1, max_size=2),
    ),
)
_filters = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"$not": x}, inner),
    ),
    max_leaves=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filter=_filters)
def test_random_dict_filters_match_reference(
    store: KestrelVectorStore, filter: dict[str, Any]
) -> None:
    assert found(store, filter) == expected(filter)


# ----------------------------------------------------------- expression strings and trees


def test_expression_strings_address_metadata_and_fields(store: KestrelVectorStore) -> None:
    assert found(store, 'metadata["n"] > 1') == expected({"n": {"$gt": 1}})
    assert found(store, 'metadata["n"] in [1, 3] or metadata["s"] == "b"') == expected(
        {"$or": [{"n": {"$in": [1, 3]}}, {"s": "b"}]}
    )
    assert found(store, 'metadata["tags"][0] == "a"') == {
        i
        for i, m in zip(IDS, ROWS, strict=True)
        if isinstance(m.get("tags"), list) and m["tags"][:1] == ["a"]
    }
    assert found(store, 'id in ["d1", "d2", "nope"]') == {"d1", "d2"}
    assert found(store, "text_match(text, {w})", filter_params={"w": "t3 t4"}) == {"d3", "d4"}
    assert found(store, 'metadata["n"] >= {lo}', filter_params={"lo": 3}) == expected(
        {"n": {"$gte": 3}}
    )
    tree = Compare("==", Path(Field("metadata"), ("s",)), Literal("a"))
    assert found(store, tree) == expected({"s": "a"})
    assert found(store, "") == found(store, {}) == found(store, None) == set(IDS)


def test_to_expr_builds_trees_not_text() -> None:
    expr = to_expr({"k": 'x" or true or "'})
    assert expr == Compare("==", Path(Field("metadata"), ("k",)), Literal('x" or true or "'))
    assert to_expr({"k": 1}, metadata_field="meta") == Compare(
        "==", Path(Field("meta"), ("k",)), Literal(1)
    )
    assert to_expr("id > 1") == "id > 1" and to_expr({}) is None and to_expr("") is None


def test_a_quote_in_a_value_is_data(store: KestrelVectorStore) -> None:
    assert found(store, {"s": 'a" or metadata["n"] == 1 or "'}) == set()


# ----------------------------------------------------------- bad filters

BAD: list[tuple[Any, str]] = [
    ({"$and": {}}, "non-empty list"),
    ({"$and": []}, "non-empty list"),
    ({"$or": [1]}, r"filter\['\$or'\]\[0\]: expected a dict"),
    ({"$nor": [{"n": 1}]}, "unknown logical operator '\\$nor'"),
    ({"$gt": 1}, "field operators go inside a key"),
    ({"n": {"$regex": "a.*"}}, "unknown operator '\\$regex'"),
    ({"n": {"$in": 1}}, "takes a list"),
    ({"n": {"$in": "ab"}}, "takes a list"),
    ({"n": {"$in": [[1]]}}, r"\['\$in'\]\[0\]"),
    ({"n": None}, "null is not a filter value"),
    ({"n": [1, 2]}, "must be str, int, float or bool"),
    ({"n": {"a": 1}}, "unknown operator 'a'"),
    ({"n": {"$gt": True}}, "needs a number or a string"),
    ({"n": {}}, "empty dict"),
    ({"n": {"$exists": "yes"}}, "true or false"),
    ({"n": {"$not": 5}}, "\\$not takes a dict"),
    ({"n": {"$and": [{"$gt": 1}]}}, "combines whole conditions"),
    ({"n": 2**70}, "int64"),
    ({"n": math.inf}, "finite"),
    ({1: 2}, "keys must be non-empty strings"),
    ({"": 2}, "keys must be non-empty strings"),
    ({"$and": [{"n": 1}, {"s": {"$in": [None]}}]}, r"filter\['\$and'\]\[1\]\['s'\]"),
    (42, "filter must be"),
]


@pytest.mark.parametrize(("filter", "message"), BAD, ids=[str(b[0]) for b in BAD])
def test_bad_dict_filters_raise_our_error(
    store: KestrelVectorStore, filter: Any, message: str
) -> None:
    with pytest.raises(FilterDictError, match=message) as info:
        store.similarity_search("q", filter=filter)
    assert isinstance(info.value, vs.FilterSyntaxError) and isinstance(info.value, ValueError)
    with pytest.raises(FilterDictError):
        store.delete(filter=filter)


def test_bad_expression_strings_raise_engine_errors(store: KestrelVectorStore) -> None:
    with pytest.raises(vs.FilterSyntaxError, match="position"):
        store.similarity_search("q", filter='metadata["n"] >')
    with pytest.raises(vs.FilterTypeError):
        store.similarity_search("q", filter="id > 3")
    with pytest.raises(vs.FilterSyntaxError, match="position"):
        store.similarity_search("q", filter="n >")  # a bare metadata key, badly written


# ------------------------------------------------ bare metadata keys in expressions

BARE = [  # (as langchain-milvus users write it, the metadata["..."] form)
    ("n >= 2", 'metadata["n"] >= 2'),
    ('s in ["a", "b"] and not (n < 1)', 'metadata["s"] in ["a", "b"] and not (metadata["n"] < 1)'),
    ('tags[0] == "a"', 'metadata["tags"][0] == "a"'),
    ('json_contains(tags, "b")', 'json_contains(metadata["tags"], "b")'),
    ("exists s", 'exists metadata["s"]'),
    ("n is null", 'metadata["n"] is null'),
    ('$meta["n"] > 0', 'metadata["n"] > 0'),
    ('b == true or id in ["d1", "d2"]', 'metadata["b"] == true or id in ["d1", "d2"]'),
    ("1 < n <= 3", '1 < metadata["n"] <= 3'),
]


@pytest.mark.parametrize(("bare", "explicit"), BARE, ids=[b for b, _ in BARE])
def test_bare_names_that_are_not_fields_are_metadata_keys(
    store: KestrelVectorStore, bare: str, explicit: str
) -> None:
    expected = found(store, explicit)
    assert expected  # each case selects something
    assert found(store, bare) == expected
    assert {d.id for d in store.max_marginal_relevance_search("q", k=60, filter=bare)} == (expected)


def test_bare_metadata_keys_with_templates_and_in_delete() -> None:
    table = {"q": [1.0, 0.0], "a": [1.0, 0.1], "b": [1.0, 0.2], "c": [1.0, 0.3]}
    store = KestrelVectorStore(embedding=TableEmbeddings(table))
    metas = [{"year": 1961, "id": "m-a"}, {"year": 1962}, {"year": 1990, "text": "x"}]
    store.add_texts(["a", "b", "c"], metas, ids=["a", "b", "c"])
    got = store.similarity_search("q", k=3, filter="year >= {y}", filter_params={"y": 1962})
    assert sorted(d.id for d in got) == ["b", "c"]
    # names of fields keep meaning the fields; their metadata keys need metadata["..."]
    assert [d.id for d in store.similarity_search("q", filter='id == "a"')] == ["a"]
    assert store.similarity_search("q", filter='id == "m-a"') == []
    assert [d.id for d in store.similarity_search("q", filter='metadata["id"] == "m-a"')] == ["a"]
    assert [d.id for d in store.similarity_search("q", filter='text == "c"')] == ["c"]
    store.delete(filter="year < 1962")
    assert sorted(d.id for d in store.get_by_ids(["a", "b", "c"])) == ["b", "c"]


def test_to_expr_leaves_strings_of_fields_alone() -> None:
    fields = {"id", "text", "vector", "metadata"}
    text = 'id == "a" and metadata["n"] > 1'
    assert to_expr(text, "metadata", fields) is text
    assert to_expr("n > 1") == "n > 1"  # no field names known: unchanged
    resolved = to_expr("n > 1", "metadata", fields)
    assert resolved == Compare(">", Path(Field("metadata"), ("n",)), Literal(1))
