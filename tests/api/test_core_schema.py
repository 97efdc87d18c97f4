"""Schema, field and index definitions (no store). What collections do with them,
on every backend, is in ``tests/conformance/test_backend_collections.py`` and
``tests/conformance/test_backend_fields.py``."""

from __future__ import annotations

import pytest

import vectorstore as vs

DT = vs.DataType


def base_fields(*extra: vs.Field) -> list[vs.Field]:
    return [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        *extra,
    ]


# ----------------------------------------------------------------- fields
@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "v", "dtype": DT.FLOAT_VECTOR},  # no dim
        {"name": "v", "dtype": DT.FLOAT_VECTOR, "dim": 0},
        {"name": "v", "dtype": DT.FLOAT_VECTOR, "dim": 32769},
        {"name": "v", "dtype": DT.FLOAT_VECTOR, "dim": True},
        {"name": "v", "dtype": DT.FLOAT_VECTOR, "dim": 4.0},
        {"name": "v", "dtype": DT.FLOAT_VECTOR, "dim": 4, "nullable": True},
        {"name": "n", "dtype": DT.INT64, "dim": 4},
        {"name": "s", "dtype": DT.VARCHAR, "max_length": 0},
        {"name": "s", "dtype": DT.VARCHAR, "max_length": 65536},
        {"name": "a", "dtype": DT.ARRAY},  # no element type
        {"name": "a", "dtype": DT.ARRAY, "element_type": DT.JSON},
        {"name": "a", "dtype": DT.ARRAY, "element_type": DT.ARRAY},
        {"name": "a", "dtype": DT.ARRAY, "element_type": DT.FLOAT_VECTOR},
        {"name": "a", "dtype": DT.ARRAY, "element_type": DT.INT64, "max_capacity": 0},
        {"name": "a", "dtype": DT.ARRAY, "element_type": DT.INT64, "max_capacity": 4097},
        {"name": "n", "dtype": DT.INT64, "element_type": DT.INT64},
        {"name": "n", "dtype": DT.INT64, "max_capacity": 3},
        {"name": "k", "dtype": DT.FLOAT, "is_primary": True},
        {"name": "k", "dtype": DT.INT64, "is_primary": True, "nullable": True},
        {"name": "k", "dtype": DT.INT64, "is_primary": True, "default_value": 3},
        {"name": "k", "dtype": DT.VARCHAR, "is_primary": True, "auto_id": True},
        {"name": "k", "dtype": DT.INT64, "auto_id": True},  # auto_id on a non-key
        {"name": "n", "dtype": DT.INT64, "analyzer": "standard"},
        {"name": "n", "dtype": 999},
    ],
)
def test_bad_field_definitions(kwargs):
    with pytest.raises(vs.SchemaError):
        vs.Field(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "n", "dtype": DT.INT64, "default_value": "seven"},
        {"name": "n", "dtype": DT.INT8, "default_value": 1000},
        {"name": "s", "dtype": DT.VARCHAR, "max_length": 3, "default_value": "long"},
        {"name": "f", "dtype": DT.FLOAT, "default_value": float("nan")},
    ],
)
def test_bad_default_value_is_a_schema_error(kwargs):
    with pytest.raises(vs.SchemaError):
        vs.Field(**kwargs)


def test_field_defaults_are_normalised():
    s = vs.Field("s", DT.VARCHAR)
    assert s.max_length == 65535
    a = vs.Field("a", DT.ARRAY, element_type=DT.INT32)
    assert a.max_capacity == 4096 and a.element_type is DT.INT32
    assert vs.Field("v", 101, dim=3).dtype is DT.FLOAT_VECTOR  # Milvus's numbers


@pytest.mark.parametrize(
    "fields",
    [
        [],
        [vs.Field("vector", DT.FLOAT_VECTOR, dim=4)],  # no primary key
        [vs.Field("id", DT.INT64, is_primary=True)],  # no vector
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("id2", DT.INT64, is_primary=True),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        ],
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
            vs.Field("vector", DT.FLOAT_VECTOR, dim=8),
        ],
        [vs.Field("id", DT.INT64, is_primary=True), {"name": "vector"}],
    ],
)
def test_bad_schemas(fields):
    with pytest.raises(vs.SchemaError):
        vs.Schema(fields)


def test_schema_dict_round_trip():
    schema = vs.Schema(
        base_fields(
            vs.Field("title", DT.VARCHAR, max_length=20, default_value="untitled"),
            vs.Field("views", DT.INT32, nullable=True),
            vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=3, max_length=5),
            vs.Field("meta", DT.JSON, nullable=True),
        ),
        enable_dynamic_field=True,
        description="d",
    )
    again = vs.Schema.from_dict(schema.to_dict())
    assert again.to_dict() == schema.to_dict()
    assert again.primary.name == "id"
    assert [f.name for f in again.vector_fields] == ["vector"]


# ------------------------------------------------------------------ names
# ---------------------------------------------------------------- indexes
@pytest.mark.parametrize(
    "args, kwargs",
    [
        (("v", "IVF_PQ"), {}),  # m is required
        (("v", "HNSW"), {"metric": "HAMMING"}),
        (("v", "HNSW"), {"M": 1}),
        (("v", "HNSW"), {"M": 101}),
        (("v", "HNSW"), {"M": "16"}),
        (("v", "HNSW"), {"M": True}),
        (("v", "HNSW"), {"ef_construction": 0}),
        (("v", "HNSW"), {"params": {"nlist": 4}}),
        (("v", "FLAT"), {"M": 16}),
    ],
)
def test_bad_index_definitions(args, kwargs):
    with pytest.raises(vs.IndexConfigError):
        vs.Index(*args, **kwargs)


def test_index_normalisation():
    idx = vs.Index("v", "autoindex", metric="l2", params={"M": 8})
    assert idx.index_type == "HNSW"
    assert idx.metric is vs.Metric.L2
    assert idx.params == {"M": 8, "ef_construction": 200}
    assert vs.Index.from_dict(idx.to_dict()) == idx


# ------------------------------------------------------------ quick setup
# ------------------------------------------------- create existing / drop / list
# ------------------------------------------------------- nullable / defaults
# ------------------------------------------------------------ dynamic fields
# ------------------------------------------------------------------ auto_id
# ---------------------------------------------------------- VARCHAR primary keys
# ------------------------------------------------------------ ARRAY / JSON
