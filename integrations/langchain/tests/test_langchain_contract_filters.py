"""Independent contract tests of the LangChain adapter (QA suite): dict filters
against a plain-Python evaluator of the README's semantics, expression strings
with special characters, bad filters, and deletes by filter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kestrel_lc_fakes import WordEmbeddings, filter_holds, ids_of, new
from langchain_kestrel import FilterDictError, KestrelVectorStore

import vectorstore as vs

# ------------------------------------------------------------------ filters

FILTER_DATA: dict[str, dict[str, Any]] = {
    "d01": {"int": 1, "float": 1.5, "str": "apple", "tags": ["a", "b"], "flag": True},
    "d02": {"int": 2, "float": 2.0, "str": "banana", "tags": ["b"], "flag": False},
    "d03": {"int": 3, "float": -1.0, "str": "cherry", "tags": [], "flag": None},
    "d04": {"int": 10, "str": "", "tags": ["c", "a"]},
    "d05": {"float": 1.0, "str": "50% off_sale", "tags": ["a", 1]},
    "d06": {"int": None, "str": None, "tags": None},
    "d07": {},
    "d08": {"int": 2**53 + 1, "str": 'say "hi" \\ there', "tags": ["x_y"]},
    "d09": {"int": -5, "str": "Ünïcødé", "nested": {"a": 1}},
    "d10": {"int": 1.0, "str": "1", "a.b": "dot", 'q"k': "quote", "br[0]": "b", "ключ": "v"},
    "d11": {"int": "1", "str": 1, "flag": 1, "tags": "a"},
    "d12": {"int": 2**63 - 1, "str": "b", "tags": [["a"]], "flag": "true"},
}

DICT_FILTERS: list[dict[str, Any]] = [
    {"int": 1},
    {"int": 1.0},
    {"int": "1"},
    {"int": {"$eq": 2**53 + 1}},
    {"int": {"$gt": 2**53}},
    {"int": {"$gte": 2**63 - 1}},
    {"int": {"$ne": 1}},
    {"int": {"$gt": 1, "$lte": 10}},
    {"int": {"$lt": 0}},
    {"float": {"$gte": 1}},
    {"float": 1},
    {"str": "apple"},
    {"str": {"$gt": "b"}},
    {"str": {"$lte": "apple"}},
    {"str": {"$ne": "apple"}},
    {"str": 'say "hi" \\ there'},
    {"str": "50% off_sale"},
    {"str": {"$in": ["apple", "", "Ünïcødé", "1"]}},
    {"str": {"$nin": ["apple", ""]}},
    {"int": {"$in": [1, 10, 99]}},
    {"int": {"$in": []}},
    {"int": {"$nin": []}},
    {"flag": True},
    {"flag": False},
    {"flag": {"$ne": True}},
    {"flag": {"$in": [True, 1]}},
    {"tags": {"$contains": "a"}},
    {"tags": {"$contains": 1}},
    {"tags": {"$not": {"$contains": "a"}}},
    {"tags": {"$exists": True}},
    {"tags": {"$exists": False}},
    {"str": {"$exists": True}},
    {"int": {"$exists": False}},
    {"flag": {"$exists": True}},
    {"int": {"$not": {"$gt": 2}}},
    {"missing": {"$ne": 1}},
    {"missing": {"$nin": [1]}},
    {"missing": {"$not": {"$eq": 1}}},
    {"a.b": "dot"},
    {'q"k': "quote"},
    {"br[0]": "b"},
    {"ключ": "v"},
    {"int": 1, "str": "apple"},
    {"$and": [{"int": {"$gte": 1}}, {"tags": {"$contains": "a"}}]},
    {"$or": [{"int": 2}, {"str": "cherry"}, {"flag": True}]},
    {"$not": {"$or": [{"int": {"$lt": 3}}, {"str": ""}]}},
    {"$and": [{"$or": [{"int": 1}, {"int": 10}]}, {"$not": {"str": "apple"}}]},
    {"$or": [{"$and": [{"float": {"$gt": 0}}, {"tags": {"$exists": True}}]}, {"int": -5}]},
]


@pytest.fixture(scope="module")
def filter_store() -> Iterator[KestrelVectorStore]:
    store = KestrelVectorStore(WordEmbeddings())
    store.add_texts(
        [f"doc {k}" for k in FILTER_DATA], list(FILTER_DATA.values()), ids=list(FILTER_DATA)
    )
    yield store
    store.close()


@pytest.mark.parametrize("flt", DICT_FILTERS, ids=[repr(f)[:60] for f in DICT_FILTERS])
def test_dict_filters_follow_documented_semantics(
    filter_store: KestrelVectorStore, flt: dict[str, Any]
) -> None:
    expected = {k for k, meta in FILTER_DATA.items() if filter_holds(flt, meta)}
    found = {d.id for d in filter_store.similarity_search("doc", k=50, filter=flt)}
    assert found == expected
    mmr = filter_store.max_marginal_relevance_search("doc", k=50, fetch_k=50, filter=flt)
    assert {d.id for d in mmr} == expected


def test_filter_reference_is_not_trivial() -> None:
    sizes = {len([k for k, m in FILTER_DATA.items() if filter_holds(f, m)]) for f in DICT_FILTERS}
    assert len(sizes) > 5 and 0 in sizes and len(FILTER_DATA) in sizes


@pytest.mark.parametrize(
    ("expr", "params", "expected"),
    [
        ('metadata["str"] == "say \\"hi\\" \\\\ there"', None, {"d08"}),
        ('metadata["str"] == {v}', {"v": 'say "hi" \\ there'}, {"d08"}),
        ('metadata["str"] like "50\\% off\\_%"', None, {"d05"}),
        ('metadata["str"] like "%\\_%"', None, {"d05"}),
        ('metadata["q\\"k"] == "quote"', None, {"d10"}),
        ('metadata["a.b"] == "dot"', None, {"d10"}),
        ('metadata["nested"]["a"] == 1', None, {"d09"}),
        ('id in ["d01", "d02"] and metadata["int"] > 1', None, {"d02"}),
        ('json_contains(metadata["tags"], "a")', None, {"d01", "d04", "d05"}),
        ('text_match(text, "d03")', None, {"d03"}),
    ],
)
def test_expression_strings_with_special_characters(
    filter_store: KestrelVectorStore, expr: str, params: dict[str, Any] | None, expected: set[str]
) -> None:
    found = filter_store.similarity_search("doc", k=50, filter=expr, filter_params=params)
    assert {d.id for d in found} == expected


def test_bad_filters_are_clear_errors(filter_store: KestrelVectorStore) -> None:
    with pytest.raises(FilterDictError, match=r"\$and"):
        filter_store.similarity_search("doc", filter={"$and": [{"int": 1}, {"int": {"$gt": []}}]})
    with pytest.raises(FilterDictError, match=r"unknown operator '\$regex'"):
        filter_store.similarity_search("doc", filter={"int": {"$regex": "x"}})
    with pytest.raises(vs.FilterSyntaxError, match="expected a value, got end of input"):
        filter_store.similarity_search("doc", filter='metadata["int"] >')


def test_delete_by_filter(made: list[KestrelVectorStore]) -> None:
    store = new(made)
    store.add_texts(["a", "b", "c"], [{"n": 1}, {"n": 2}, {}], ids=["a", "b", "c"])
    store.delete(filter={"n": {"$gte": 2}})
    store.delete(filter='metadata["n"] == {v}', filter_params={"v": 1})
    assert ids_of(store.get_by_ids(["a", "b", "c"])) == ["c"]
