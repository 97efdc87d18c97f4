"""llama-index-core's SimpleVectorStore tests (tests/vector_stores/test_simple.py),
ported to KestrelVectorStore, on an in-memory and a durable store, and for the
ordering cases on every metric."""

from __future__ import annotations

import pytest
from llama_index.core.vector_stores.types import (
    ExactMatchFilter,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore
from llamaindex_testkit import (
    NODE_WEIGHT_1_RANK_A,
    NODE_WEIGHT_2_RANK_C,
    NODE_WEIGHT_3_RANK_C,
    StoreFactory,
    simple_store_nodes,
)

ALL_IDS = {NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_2_RANK_C, NODE_WEIGHT_3_RANK_C}


@pytest.fixture
def store(make_store: StoreFactory, store_kind: str) -> KestrelVectorStore:
    s = make_store(store_kind)
    s.add(simple_store_nodes())
    return s


def ids(
    store: KestrelVectorStore, filters: MetadataFilters | None = None, **query: object
) -> list[str]:
    query.setdefault("similarity_top_k", 3)
    result = store.query(VectorStoreQuery(query_embedding=[1.0, 1.0], filters=filters, **query))  # type: ignore[arg-type]
    assert result.ids is not None
    return result.ids


def one(key: str, op: FilterOperator, value: object) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, operator=op, value=value)])  # type: ignore[arg-type]


@pytest.mark.parametrize("metric", ["COSINE", "IP", "L2"])
def test_query_without_filters_returns_all_rows_sorted_by_similarity(
    make_store: StoreFactory, metric: str
) -> None:
    store = make_store(metric=metric)
    store.add(simple_store_nodes())
    result = ids(store)
    assert set(result) == ALL_IDS
    assert result[0] == NODE_WEIGHT_3_RANK_C


def test_query_with_filters_returns_multiple_matches(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    assert ids(store, filters) == [NODE_WEIGHT_3_RANK_C, NODE_WEIGHT_2_RANK_C]


def test_query_with_filter_applies_top_k(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    assert ids(store, filters, similarity_top_k=1) == [NODE_WEIGHT_3_RANK_C]


def test_query_with_filter_applies_node_id_filter(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="rank", value="c")])
    assert ids(store, filters, node_ids=[NODE_WEIGHT_3_RANK_C]) == [NODE_WEIGHT_3_RANK_C]


def test_query_with_exact_filters_returns_single_match(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(
        filters=[
            ExactMatchFilter(key="rank", value="c"),
            ExactMatchFilter(key="weight", value=2.0),
        ]
    )
    assert ids(store, filters) == [NODE_WEIGHT_2_RANK_C]


def test_query_with_contradictive_filter_returns_no_matches(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(
        filters=[
            ExactMatchFilter(key="weight", value=2),
            ExactMatchFilter(key="weight", value=3),
        ]
    )
    assert ids(store, filters) == []


def test_query_with_filter_on_unknown_field_returns_no_matches(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(filters=[ExactMatchFilter(key="unknown_field", value="c")])
    assert ids(store, filters) == []


def test_delete_removes_document_from_query_results(store: KestrelVectorStore) -> None:
    store.delete("test-1")
    assert ids(store, similarity_top_k=2) == [NODE_WEIGHT_3_RANK_C, NODE_WEIGHT_1_RANK_A]


def test_query_with_filters_with_filter_condition(store: KestrelVectorStore) -> None:
    either = [ExactMatchFilter(key="rank", value="c"), ExactMatchFilter(key="weight", value=1.0)]
    assert len(ids(store, MetadataFilters(filters=either, condition=FilterCondition.OR))) == 3
    assert ids(store, MetadataFilters(filters=either, condition=FilterCondition.AND)) == []


def test_query_with_not_filter_returns_matches(store: KestrelVectorStore) -> None:
    filters = MetadataFilters(
        filters=[MetadataFilter(key="rank", operator=FilterOperator.EQ, value="a")],
        condition=FilterCondition.NOT,
    )
    assert set(ids(store, filters)) == {NODE_WEIGHT_2_RANK_C, NODE_WEIGHT_3_RANK_C}


@pytest.mark.parametrize(
    ("key", "op", "value", "expected"),
    [
        ("weight", FilterOperator.EQ, 1.0, {NODE_WEIGHT_1_RANK_A}),
        ("weight", FilterOperator.NE, 1.0, {NODE_WEIGHT_2_RANK_C, NODE_WEIGHT_3_RANK_C}),
        ("weight", FilterOperator.GT, 1.5, {NODE_WEIGHT_2_RANK_C, NODE_WEIGHT_3_RANK_C}),
        ("weight", FilterOperator.GTE, 1.0, ALL_IDS),
        ("weight", FilterOperator.LT, 1.1, {NODE_WEIGHT_1_RANK_A}),
        ("weight", FilterOperator.LTE, 1.0, {NODE_WEIGHT_1_RANK_A}),
        ("rank", FilterOperator.IN, ["a", "c"], ALL_IDS),
        ("rank", FilterOperator.NIN, ["c"], {NODE_WEIGHT_1_RANK_A}),
        ("quality", FilterOperator.CONTAINS, "high", {NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_3_RANK_C}),
        (
            "identifier",
            FilterOperator.TEXT_MATCH,
            "6FTR78Y",
            {NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_2_RANK_C},
        ),
        (
            "quality",
            FilterOperator.ANY,
            ["high", "low"],
            {NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_3_RANK_C},
        ),
        (
            "quality",
            FilterOperator.ALL,
            ["medium", "high"],
            {NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_3_RANK_C},
        ),
        ("not_existed_key", FilterOperator.IS_EMPTY, None, ALL_IDS),
    ],
    ids=lambda v: v.value if isinstance(v, FilterOperator) else None,
)
def test_query_with_operator_filter_returns_matches(
    store: KestrelVectorStore, key: str, op: FilterOperator, value: object, expected: set[str]
) -> None:
    assert set(ids(store, one(key, op, value))) == expected


def test_clear(store: KestrelVectorStore) -> None:
    store.clear()
    assert ids(store) == []


def test_delete_nodes(store: KestrelVectorStore) -> None:
    store.delete_nodes([NODE_WEIGHT_1_RANK_A, NODE_WEIGHT_2_RANK_C])
    assert ids(store) == [NODE_WEIGHT_3_RANK_C]
