"""schema.py on its own: round trips, field rules, index fitting, output fields."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.schema import output_entity_fields

DT = vs.DataType
SCALARS = [DT.BOOL, DT.INT8, DT.INT16, DT.INT32, DT.INT64, DT.FLOAT, DT.DOUBLE, DT.JSON]


@st.composite
def schemas(draw: st.DrawFn) -> vs.Schema:
    fields = [
        vs.Field(
            "id", draw(st.sampled_from([DT.INT64, DT.VARCHAR])), is_primary=True, max_length=64
        ),
        vs.Field("v", DT.FLOAT_VECTOR, dim=draw(st.integers(1, 64))),
    ]
    for i, dtype in enumerate(draw(st.lists(st.sampled_from(SCALARS), max_size=4))):
        fields.append(vs.Field(f"f{i}", dtype, nullable=draw(st.booleans())))
    if draw(st.booleans()):
        fields.append(vs.Field("t", DT.VARCHAR, max_length=100, analyzer="english"))
        fields.append(vs.Field("sp", DT.SPARSE_FLOAT_VECTOR))
        functions = [vs.BM25(input="t", output="sp", k1=draw(st.floats(0, 3)), b=0.5)]
    else:
        functions = []
    if draw(st.booleans()):
        fields.append(
            vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=4, max_length=8)
        )
    return vs.Schema(fields, functions=functions, enable_dynamic_field=draw(st.booleans()))


@settings(max_examples=100, deadline=None)
@given(schemas())
def test_to_dict_from_dict_round_trip(schema):
    again = vs.Schema.from_dict(schema.to_dict())
    assert again.to_dict() == schema.to_dict()
    assert [f.name for f in again.fields] == [f.name for f in schema.fields]
    assert again.field_types() == schema.field_types()
    assert set(schema.field_types()) == {f.name for f in schema.scalar_fields}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: vs.Field("id", DT.DOUBLE, is_primary=True), "primary key must be INT64"),
        (lambda: vs.Field("x", DT.INT32, auto_id=True), "auto_id"),
        (lambda: vs.Field("v", DT.FLOAT_VECTOR, dim=4, nullable=True), "vector fields"),
        (lambda: vs.Field("n", DT.INT8, default_value=300), "out of range"),
        (lambda: vs.Field("n", DT.INT64, analyzer="standard"), "VARCHAR"),
        (lambda: vs.Schema([vs.Field("id", DT.INT64, is_primary=True)]), "vector field"),
    ],
)
def test_field_and_schema_rules(make, match):
    with pytest.raises(vs.SchemaError, match=match):
        make()


def test_index_fitting():
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=4),
            vs.Field("t", DT.VARCHAR, max_length=10),
            vs.Field("sp", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25(input="t", output="sp")],
    )
    assert vs.Index("v", "AUTOINDEX").fit(schema).index_type == "HNSW"
    sparse = vs.Index("sp", "AUTOINDEX").fit(schema)
    assert (sparse.index_type, sparse.metric) == ("SPARSE_INVERTED_INDEX", vs.Metric.BM25)
    with pytest.raises(vs.IndexConfigError):
        vs.Index("sp", "HNSW").fit(schema)
    with pytest.raises(vs.IndexConfigError):
        vs.Index("t").fit(schema)


def test_output_entity_fields():
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
            vs.Field("a", DT.INT64),
        ],
        enable_dynamic_field=True,
    )
    assert output_entity_fields(schema, None, default_all=False) == (["id"], [])
    assert output_entity_fields(schema, None, default_all=True) == (["id", "a"], "*")
    assert output_entity_fields(schema, ["*"], default_all=False) == (["id", "v", "a"], "*")
    assert output_entity_fields(schema, ["a", "k", "a"], default_all=False) == (["id", "a"], ["k"])
    with pytest.raises(vs.DataError, match=r"\['a'\]"):
        output_entity_fields(schema, "a", default_all=False)  # type: ignore[arg-type]
    strict = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=2)]
    )
    with pytest.raises(vs.DataError, match="'k'"):
        output_entity_fields(strict, ["k"], default_all=False)


def test_milvus_spellings_are_aliases() -> None:
    """Code written for Milvus says efConstruction and hit.score."""
    assert vs.Index("v", "HNSW", efConstruction=64) == vs.Index("v", "HNSW", ef_construction=64)
    assert vs.Index("v", "HNSW", params={"efConstruction": 64}).params["ef_construction"] == 64
    hit = vs.Hit(1, 0.25, {})
    assert hit.score == hit.distance == 0.25
