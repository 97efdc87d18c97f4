"""Independent contract tests of the LlamaIndex adapter (QA suite): metadata
filters, each operator and nested conditions, checked against
``build_metadata_filter_fn`` (SimpleVectorStore's evaluator) on awkward metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQueryMode,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import flt, group, ids_of, q

Op = FilterOperator
Cond = FilterCondition
Mode = VectorStoreQueryMode


FILTER_DATA: dict[str, dict[str, Any]] = {
    "n01": {"int": 1, "float": 1.5, "str": "apple pie", "tags": ["a", "b"], "nums": [1, 2, 3]},
    "n02": {"int": 2, "float": 2.0, "str": "Banana Split", "tags": ["b"], "nums": [2]},
    "n03": {"int": 3, "float": -1.0, "str": "cherry", "tags": [], "nums": []},
    "n04": {"int": 10, "str": "", "tags": ["c", "a"], "nums": [10, 20]},
    "n05": {"float": 1.0, "str": "50% off_sale", "tags": ["a"]},
    "n06": {"int": None, "str": None, "tags": None},
    "n07": {},
    "n08": {"int": 2**53 + 1, "str": "C:\\dir\\file", "tags": ["x_y", "50%"]},
    "n09": {"int": -5, "str": "Ünïcødé STRASSE", "mixed": [1, "1", 2.5]},
    "n10": {
        "int": 1.0,
        "str": "apple",
        "nested": {"a": 1},
        "a.b": "dotted",
        'q"uote': "it's",
        "br[0]": "bracket",
        "ключ": "значение",
    },
    "n11": {"int": 7, "str": "app%le", "tags": ["a", "b", "c"]},
    "n12": {"int": 8, "str": "a_b", "tags": ["ab"]},
    "n13": {"int": "1", "str": 1, "tags": [None], "zero": 0, "flag": True},
    "n14": {"int": 2**63 - 1, "tags": "a", "zero": 0.0, "flag": False, "nums": [2]},
}


def _reference(filters: MetadataFilters) -> set[str]:
    """LlamaIndex's meaning: SimpleVectorStore's evaluator per leaf (a TypeError
    there counts as "does not match", as the adapter documents), with and / or /
    not combining nested groups."""

    def leaf(item: MetadataFilter, meta: dict[str, Any]) -> bool:
        fn = build_metadata_filter_fn(lambda _: meta, MetadataFilters(filters=[item]))
        try:
            return bool(fn("x"))
        except TypeError:
            return False

    def holds(group_: MetadataFilters, meta: dict[str, Any]) -> bool:
        if not group_.filters:  # as at the top level: no filters, no restriction
            return True
        results = [
            holds(i, meta) if isinstance(i, MetadataFilters) else leaf(i, meta)
            for i in group_.filters
        ]
        cond = group_.condition or Cond.AND
        if cond == Cond.AND:
            return all(results)
        if cond == Cond.OR:
            return any(results)
        return not any(results)

    return {k for k, meta in FILTER_DATA.items() if holds(filters, meta)}


LEAVES: list[MetadataFilter] = [
    flt("int", Op.EQ, 1),
    flt("int", Op.EQ, 2**53 + 1),
    flt("int", Op.NE, 1),
    flt("int", Op.GT, 2),
    flt("int", Op.GT, 2**53),
    flt("int", Op.GTE, 2),
    flt("int", Op.LT, 2),
    flt("int", Op.LTE, 1.0),
    flt("float", Op.EQ, 1),
    flt("float", Op.GT, 1.25),
    flt("str", Op.EQ, "apple"),
    flt("str", Op.NE, "apple"),
    flt("str", Op.GT, "b"),
    flt("str", Op.LTE, "apple pie"),
    flt("int", Op.IN, [1, 7, 42]),
    flt("int", Op.NIN, [1, 7, 42]),
    flt("str", Op.IN, ["cherry", "a_b", ""]),
    flt("str", Op.NIN, ["cherry", "a_b"]),
    flt("float", Op.IN, [1.0, 2.0]),
    flt("tags", Op.CONTAINS, "a"),
    flt("str", Op.CONTAINS, "pp"),
    flt("nums", Op.CONTAINS, 2),
    flt("mixed", Op.CONTAINS, 1),
    flt("mixed", Op.CONTAINS, "1"),
    flt("tags", Op.ANY, ["c", "x_y"]),
    flt("tags", Op.ALL, ["a", "b"]),
    flt("nums", Op.ANY, [3, 20]),
    flt("nums", Op.ALL, [1, 2]),
    flt("str", Op.ANY, ["pie", "Split"]),
    flt("str", Op.ALL, ["app", "le"]),
    flt("str", Op.TEXT_MATCH, "app"),
    flt("str", Op.TEXT_MATCH, "50%"),
    flt("str", Op.TEXT_MATCH, "%"),
    flt("str", Op.TEXT_MATCH, "a_b"),
    flt("str", Op.TEXT_MATCH, "_"),
    flt("str", Op.TEXT_MATCH, "\\dir\\"),
    flt("str", Op.TEXT_MATCH, "Apple"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "APPLE"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "strasse"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "ÜNÏ"),
    flt("str", Op.TEXT_MATCH_INSENSITIVE, "%"),
    flt("str", Op.IS_EMPTY, None),
    flt("tags", Op.IS_EMPTY, None),
    flt("int", Op.IS_EMPTY, None),
    flt("nums", Op.IS_EMPTY, None),
    flt("a.b", Op.EQ, "dotted"),
    flt('q"uote', Op.EQ, "it's"),
    flt("br[0]", Op.TEXT_MATCH, "brack"),
    flt("ключ", Op.EQ, "значение"),
    flt("missing", Op.NE, "x"),
    flt("missing", Op.NIN, ["x"]),
    flt("missing", Op.EQ, "x"),
    flt("missing", Op.IS_EMPTY, None),
    flt("tags", Op.IN, ["a", "b"]),
    flt("int", Op.EQ, "1"),
    flt("int", Op.EQ, 2**63 - 1),
    flt("int", Op.GTE, 2**63 - 2),
    flt("str", Op.GT, 0),
    flt("tags", Op.EQ, ["a", "b"]),
    flt("tags", Op.NE, ["a", "b"]),
    flt("tags", Op.ANY, ["a"]),
    flt("zero", Op.IS_EMPTY, None),
    flt("flag", Op.IS_EMPTY, None),
    flt("nums", Op.IN, [2]),
    flt("nums", Op.NIN, [2]),
    flt("nested", Op.TEXT_MATCH, "a"),
    flt("nested", Op.IS_EMPTY, None),
]


@pytest.fixture(scope="module")
def filter_store() -> Iterator[KestrelVectorStore]:
    store = KestrelVectorStore()
    store.add(
        [
            TextNode(id_=k, text=f"node {k}", embedding=[1.0, i / 10.0], metadata=meta)
            for i, (k, meta) in enumerate(FILTER_DATA.items())
        ]
    )
    yield store
    store.close()


def _label(item: MetadataFilter) -> str:
    return f"{item.key}-{item.operator.value}-{item.value!r}"


@pytest.mark.parametrize("item", LEAVES, ids=[_label(f) for f in LEAVES])
def test_each_filter_operator_matches_llamaindex(
    filter_store: KestrelVectorStore, item: MetadataFilter
) -> None:
    filters = group(item)
    expected = _reference(filters)
    assert set(ids_of(filter_store.get_nodes(filters=filters))) == expected
    hits = filter_store.query(q([1.0, 0.0], k=20, filters=filters))
    assert set(hits.ids) == expected


COMBINED: list[MetadataFilters] = [
    group(flt("int", Op.GT, 1), flt("str", Op.TEXT_MATCH, "a")),
    group(flt("int", Op.GT, 5), flt("tags", Op.CONTAINS, "a"), condition=Cond.OR),
    group(flt("int", Op.GT, 1), condition=Cond.NOT),
    group(flt("int", Op.EQ, 1), flt("str", Op.IS_EMPTY, None), condition=Cond.NOT),
    group(
        flt("tags", Op.CONTAINS, "a"),
        group(flt("int", Op.LT, 3), flt("str", Op.TEXT_MATCH, "%"), condition=Cond.OR),
    ),
    group(
        group(flt("int", Op.GTE, 7), condition=Cond.NOT),
        group(flt("float", Op.GT, 0), flt("nums", Op.IS_EMPTY, None), condition=Cond.OR),
        condition=Cond.OR,
    ),
    group(
        group(flt("str", Op.TEXT_MATCH_INSENSITIVE, "a"), flt("int", Op.NE, 2)),
        condition=Cond.NOT,
    ),
    group(condition=Cond.NOT),
    group(group(condition=Cond.OR), flt("int", Op.EQ, 1)),
]


@pytest.mark.parametrize("filters", COMBINED, ids=[str(i) for i in range(len(COMBINED))])
def test_filter_conditions_nest_like_llamaindex(
    filter_store: KestrelVectorStore, filters: MetadataFilters
) -> None:
    assert set(ids_of(filter_store.get_nodes(filters=filters))) == _reference(filters)


def test_filters_on_hybrid_and_doc_ids_together(filter_store: KestrelVectorStore) -> None:
    filters = group(flt("tags", Op.CONTAINS, "a"))
    res = filter_store.query(
        q(
            [1.0, 0.0],
            k=20,
            query_str="node",
            mode=Mode.HYBRID,
            filters=filters,
            node_ids=["n01", "n02", "n05", "n11"],
        )
    )
    assert sorted(res.ids) == ["n01", "n05", "n11"]
