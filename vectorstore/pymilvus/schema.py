"""pymilvus's schema and index builders (``FieldSchema``, ``CollectionSchema``,
``Function``, ``IndexParams``), translated to Kestrel's ``Schema`` and ``Index``."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from typing import Any

from ..functions import BM25
from ..index_spec import Index
from ..schema import Field, Schema
from ..types import DataType
from .exceptions import ParamError

_FIELD_KEYS = {
    "is_primary",
    "auto_id",
    "max_length",
    "dim",
    "element_type",
    "max_capacity",
    "nullable",
    "default_value",
    "description",
}
_IGNORED = {
    "enable_analyzer",
    "enable_match",
    "is_partition_key",
    "is_clustering_key",
    "mmap_enabled",
}


def data_type(value: Any) -> DataType:
    """Kestrel's ``DataType`` for ours, pymilvus's (by name) or a name."""
    name = getattr(value, "name", value)
    try:
        return DataType[str(name)]
    except KeyError:
        raise ParamError(message=f"data type {name} is not supported by Kestrel") from None


class FieldSchema:
    """One field, as pymilvus declares it: ``FieldSchema(name, dtype, **params)``."""

    def __init__(self, name: str, dtype: Any, description: str = "", **kwargs: Any):
        self.name = name
        self.dtype = data_type(dtype)
        self.description = description
        unknown = set(kwargs) - _FIELD_KEYS - _IGNORED - {"analyzer_params"}
        if unknown:
            raise ParamError(message=f"field {name!r}: unsupported parameters {sorted(unknown)}")
        self.params = kwargs

    @property
    def is_primary(self) -> bool:
        return bool(self.params.get("is_primary"))

    def to_field(self, auto_id: bool = False) -> Field:
        p = {k: v for k, v in self.params.items() if k in _FIELD_KEYS}
        if "element_type" in p:
            p["element_type"] = data_type(p["element_type"])
        if self.is_primary and auto_id:
            p["auto_id"] = True
        analyzer = self.params.get("analyzer_params")
        if self.params.get("enable_analyzer") or analyzer:
            p["analyzer"] = analyzer or "standard"
        p["description"] = self.description or p.get("description", "")
        return Field(self.name, self.dtype, **p)


def field_schema_of(field: Field) -> FieldSchema:
    """pymilvus's ``FieldSchema`` of a Kestrel field."""
    params: dict[str, Any] = {}
    for key in ("is_primary", "auto_id", "nullable"):
        if getattr(field, key):
            params[key] = True
    for key in ("max_length", "dim", "element_type", "max_capacity", "default_value"):
        if getattr(field, key) is not None:
            params[key] = getattr(field, key)
    if field.analyzer is not None:
        params.update(enable_analyzer=True, analyzer_params=field.analyzer)
    return FieldSchema(field.name, field.dtype, field.description, **params)


class FunctionType(enum.IntEnum):
    """pymilvus's function types (Kestrel builds BM25 functions)."""

    UNKNOWN = 0
    BM25 = 1
    TEXTEMBEDDING = 2


class Function:
    """``Function(name, FunctionType.BM25, input_field_names, output_field_names, params)``."""

    def __init__(
        self,
        name: str,
        function_type: FunctionType,
        input_field_names: str | Sequence[str],
        output_field_names: str | Sequence[str] | None = None,
        description: str = "",
        params: dict[str, Any] | None = None,
    ):
        if function_type != FunctionType.BM25:
            raise ParamError(message=f"function {name!r}: Kestrel runs BM25 functions only")
        inputs = [input_field_names] if isinstance(input_field_names, str) else input_field_names
        outputs = (
            [output_field_names] if isinstance(output_field_names, str) else output_field_names
        )
        if len(inputs) != 1 or not outputs or len(outputs) != 1:
            raise ParamError(message=f"BM25 function {name!r} takes one input and one output")
        self.name = name
        self.type = function_type
        self.input_field_names = list(inputs)
        self.output_field_names = list(outputs)
        self.description = description
        self.params = params or {}

    def to_bm25(self) -> BM25:
        return BM25(self.input_field_names[0], self.output_field_names[0], name=self.name)


class CollectionSchema:
    """A collection's fields and functions, built as with pymilvus:
    ``MilvusClient.create_schema(auto_id=..., enable_dynamic_field=...)`` then
    ``add_field(...)`` and ``add_function(...)``."""

    def __init__(
        self,
        fields: Sequence[FieldSchema] | None = None,
        description: str = "",
        auto_id: bool = False,
        enable_dynamic_field: bool = False,
        functions: Sequence[Function] | None = None,
        **kwargs: Any,
    ):
        self.fields: list[FieldSchema] = list(fields or ())
        self.description = description
        self.auto_id = auto_id or any(f.params.get("auto_id") for f in self.fields)
        self.enable_dynamic_field = enable_dynamic_field
        self.functions: list[Function] = list(functions or ())

    def add_field(self, field_name: str, datatype: Any, **kwargs: Any) -> CollectionSchema:
        self.fields.append(FieldSchema(field_name, datatype, **kwargs))
        return self

    def add_function(self, function: Function) -> CollectionSchema:
        self.functions.append(function)
        return self

    def verify(self) -> None:
        self.to_schema()

    @classmethod
    def from_schema(cls, schema: Schema) -> CollectionSchema:
        """pymilvus's form of a Kestrel schema (of an existing collection)."""
        return cls(
            [field_schema_of(f) for f in schema.fields],
            description=schema.description,
            auto_id=schema.primary.auto_id,
            enable_dynamic_field=schema.enable_dynamic_field,
            functions=[
                Function(fn.name, FunctionType.BM25, [fn.input], [fn.output])
                for fn in schema.functions
                if isinstance(fn, BM25)
            ],
        )

    @property
    def primary_field(self) -> FieldSchema | None:
        return next((f for f in self.fields if f.is_primary), None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CollectionSchema):
            return NotImplemented
        return self.to_schema().to_dict() == other.to_schema().to_dict()

    def __repr__(self) -> str:
        return f"CollectionSchema({self.to_schema().to_dict()!r})"

    def to_schema(self) -> Schema:
        return Schema(
            [f.to_field(self.auto_id) for f in self.fields],
            functions=[fn.to_bm25() for fn in self.functions],
            enable_dynamic_field=self.enable_dynamic_field,
            description=self.description,
        )


def index_of(field_name: str, index_type: str, metric_type: str | None, params: Any) -> Index:
    """A Kestrel ``Index`` from pymilvus's index arguments (``efConstruction``
    is Milvus's spelling of ``ef_construction``)."""
    given = dict(params or {})
    if "efConstruction" in given:
        given["ef_construction"] = given.pop("efConstruction")
    kind = index_type or "AUTOINDEX"
    return Index(field_name, kind, metric_type or None, params=given)


class IndexParams:
    """Indexes to create: ``add_index(field_name, index_type, index_name, metric_type=,
    params=)``, as ``MilvusClient.prepare_index_params()`` returns."""

    def __init__(self, field_name: str = "", **kwargs: Any):
        self._indexes: list[dict[str, Any]] = []
        if field_name:
            self.add_index(field_name, **kwargs)

    def add_index(
        self, field_name: str, index_type: str = "", index_name: str = "", **kwargs: Any
    ) -> None:
        params = dict(kwargs.pop("params", None) or {})
        metric = kwargs.pop("metric_type", None)
        params.update(kwargs)  # flat build parameters, as pymilvus also takes them
        self._indexes.append(
            {
                "field_name": field_name,
                "index_type": index_type,
                "index_name": index_name or field_name,
                "metric_type": metric,
                "params": params,
            }
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._indexes)

    def __len__(self) -> int:
        return len(self._indexes)

    def to_indexes(self) -> list[Index]:
        return [
            index_of(i["field_name"], i["index_type"], i["metric_type"], i["params"])
            for i in self._indexes
        ]


__all__ = [
    "CollectionSchema",
    "FieldSchema",
    "Function",
    "FunctionType",
    "IndexParams",
    "data_type",
    "field_schema_of",
    "index_of",
]
