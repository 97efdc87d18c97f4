"""Collection schemas: typed fields and name rules (index definitions: ``index_spec``).

A schema is immutable once a collection is created. ``Schema.to_dict`` /
``Schema.from_dict`` give the JSON form kept in the store's manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .analyzers import Analyzer
from .columns import FieldType
from .errors import DataError, SchemaError
from .functions import BM25, Function, TextEmbedding, function_from_dict
from .names import validate_name
from .scalars import check_scalar
from .types import DataType

MAX_DIM = 32768
MAX_VARCHAR_LENGTH = 65535
DEFAULT_MAX_CAPACITY = 4096
DYNAMIC_FIELD = "$meta"

_ARRAY_ELEMENT_TYPES = frozenset(
    {
        DataType.BOOL,
        DataType.INT8,
        DataType.INT16,
        DataType.INT32,
        DataType.INT64,
        DataType.FLOAT,
        DataType.DOUBLE,
        DataType.VARCHAR,
    }
)


@dataclass(frozen=True)
class Field:
    """One typed field of a collection.

    Args:
        name: field name (see ``validate_name``).
        dtype: the ``DataType``.
        is_primary: this field is the primary key (INT64 or VARCHAR; exactly one).
        auto_id: generate INT64 primary keys on insert (rows must not bring them).
        max_length: VARCHAR limit in characters (default 65535).
        dim: FLOAT_VECTOR dimension (required for it).
        element_type: ARRAY element type (a scalar type).
        max_capacity: ARRAY limit on elements (default 4096).
        nullable: the field may hold null (not for primary keys or vectors).
        default_value: value used when a row omits the field or gives None.
        analyzer: text analyzer of a VARCHAR field, for BM25 and ``text_match``:
            ``"standard"`` (the default), ``"english"``, ``"whitespace"``,
            ``"chinese"`` (needs the ``chinese`` extra: jieba) or a Milvus-style
            dict (see ``vectorstore.analyzers``).
        description: free text.

    Example:
        >>> Field("views", DataType.INT64, nullable=True)
    """

    name: str
    dtype: DataType
    is_primary: bool = False
    auto_id: bool = False
    max_length: int | None = None
    dim: int | None = None
    element_type: DataType | None = None
    max_capacity: int | None = None
    nullable: bool = False
    default_value: Any = None
    analyzer: str | Mapping[str, Any] | None = field(default=None, hash=False)
    description: str = ""

    def __post_init__(self) -> None:
        validate_name(self.name, "field")
        try:
            object.__setattr__(self, "dtype", DataType(self.dtype))
        except ValueError:
            raise SchemaError(f"field {self.name!r}: unknown data type {self.dtype!r}") from None
        dt = self.dtype
        where = f"field {self.name!r}"
        if dt is DataType.VARCHAR:
            length = MAX_VARCHAR_LENGTH if self.max_length is None else self.max_length
            if not is_int(length) or not 1 <= length <= MAX_VARCHAR_LENGTH:
                raise SchemaError(f"{where}: max_length must be 1..{MAX_VARCHAR_LENGTH}")
            object.__setattr__(self, "max_length", int(length))
        if dt is DataType.FLOAT_VECTOR:
            if not is_int(self.dim) or not 1 <= int(self.dim) <= MAX_DIM:  # type: ignore[arg-type]
                raise SchemaError(f"{where}: FLOAT_VECTOR needs dim between 1 and {MAX_DIM}")
            object.__setattr__(self, "dim", int(self.dim))  # type: ignore[arg-type]
        elif self.dim is not None:
            raise SchemaError(f"{where}: dim applies to FLOAT_VECTOR fields only")
        if dt is DataType.ARRAY:
            if self.element_type is None:
                raise SchemaError(f"{where}: ARRAY needs an element_type")
            try:
                element = DataType(self.element_type)
            except ValueError:
                raise SchemaError(f"{where}: unknown element_type {self.element_type!r}") from None
            if element not in _ARRAY_ELEMENT_TYPES:
                raise SchemaError(f"{where}: ARRAY elements must be scalars, not {element.name}")
            object.__setattr__(self, "element_type", element)
            cap = DEFAULT_MAX_CAPACITY if self.max_capacity is None else self.max_capacity
            if not is_int(cap) or not 1 <= cap <= DEFAULT_MAX_CAPACITY:
                raise SchemaError(f"{where}: max_capacity must be 1..{DEFAULT_MAX_CAPACITY}")
            object.__setattr__(self, "max_capacity", int(cap))
            if element is DataType.VARCHAR:
                length = MAX_VARCHAR_LENGTH if self.max_length is None else self.max_length
                if not is_int(length) or not 1 <= length <= MAX_VARCHAR_LENGTH:
                    raise SchemaError(f"{where}: max_length must be 1..{MAX_VARCHAR_LENGTH}")
                object.__setattr__(self, "max_length", int(length))
        elif self.element_type is not None or self.max_capacity is not None:
            raise SchemaError(f"{where}: element_type/max_capacity apply to ARRAY fields only")
        if self.is_primary:
            if dt not in (DataType.INT64, DataType.VARCHAR):
                raise SchemaError(f"{where}: a primary key must be INT64 or VARCHAR")
            if self.nullable or self.default_value is not None:
                raise SchemaError(f"{where}: a primary key cannot be nullable or have a default")
        if self.auto_id and not (self.is_primary and dt is DataType.INT64):
            raise SchemaError(f"{where}: auto_id needs an INT64 primary key")
        if dt.is_vector and (self.nullable or self.default_value is not None):
            raise SchemaError(f"{where}: vector fields cannot be nullable or have a default")
        if self.analyzer is not None:
            if dt is not DataType.VARCHAR:
                raise SchemaError(f"{where}: analyzer applies to VARCHAR fields only")
            try:
                object.__setattr__(self, "analyzer", Analyzer(self.analyzer).config)
            except SchemaError as exc:
                raise SchemaError(f"{where}: {exc}") from None
        if self.default_value is not None:
            try:
                value = check_scalar(self, self.default_value, f"field {self.name!r} default_value")
            except DataError as exc:
                raise SchemaError(str(exc)) from None
            object.__setattr__(self, "default_value", value)

    @property
    def is_vector(self) -> bool:
        return self.dtype.is_vector

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of this field (only the attributes that are set)."""
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype.name}
        for key in ("max_length", "dim", "max_capacity", "default_value", "analyzer"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.element_type is not None:
            out["element_type"] = self.element_type.name
        for key in ("is_primary", "auto_id", "nullable"):
            if getattr(self, key):
                out[key] = True
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Field:
        """Rebuild a field from ``to_dict``'s output."""
        kwargs = dict(data)
        kwargs["dtype"] = DataType[kwargs["dtype"]]
        if "element_type" in kwargs:
            kwargs["element_type"] = DataType[kwargs["element_type"]]
        return cls(**kwargs)


@dataclass(frozen=True)
class Schema:
    """The fields of a collection.

    Args:
        fields: the fields; exactly one is the primary key, at least one is a vector.
        functions: ``BM25`` and ``TextEmbedding`` functions that fill a field from
            a VARCHAR field on insert, and turn query text into a query vector.
        enable_dynamic_field: store keys that are not declared fields and return
            them as top-level keys.
        description: free text.

    Raises:
        SchemaError: no or several primary keys, no vector field, repeated names,
            a function whose input or output field is missing or of the wrong type.

    Example:
        >>> Schema([Field("id", DataType.INT64, is_primary=True),
        ...         Field("vector", DataType.FLOAT_VECTOR, dim=4)])
    """

    fields: Sequence[Field]
    functions: Sequence[Function] = ()
    enable_dynamic_field: bool = False
    description: str = ""
    _by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)
    _primary: Field = field(init=False, repr=False, compare=False)
    _analyzers: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "functions", tuple(self.functions))
        if not fields:
            raise SchemaError("a schema needs at least a primary key and a vector field")
        for f in fields:
            if not isinstance(f, Field):
                raise SchemaError(f"schema fields must be Field objects, got {type(f).__name__}")
        by_name: dict[str, Field] = {}
        for f in fields:
            if f.name in by_name:
                raise SchemaError(f"field {f.name!r} is declared twice")
            by_name[f.name] = f
        object.__setattr__(self, "_by_name", by_name)
        primaries = [f for f in fields if f.is_primary]
        if len(primaries) != 1:
            raise SchemaError(f"a schema needs exactly one primary key field, got {len(primaries)}")
        object.__setattr__(self, "_primary", primaries[0])
        if not any(f.is_vector for f in fields):
            raise SchemaError("a schema needs at least one vector field")
        object.__setattr__(self, "_analyzers", {})
        self._check_functions()

    def _check_functions(self) -> None:
        outputs: set[str] = set()
        for fn in self.functions:
            if not isinstance(fn, (BM25, TextEmbedding)):
                raise SchemaError(
                    f"schema functions must be BM25 or TextEmbedding, got {type(fn).__name__}"
                )
            kind = fn.kind.value
            source = self._by_name.get(fn.input)
            if source is None or source.dtype is not DataType.VARCHAR:
                raise SchemaError(f"{kind} input {fn.input!r} must be a VARCHAR field")
            target = self._by_name.get(fn.output)
            want = DataType.SPARSE_FLOAT_VECTOR if isinstance(fn, BM25) else DataType.FLOAT_VECTOR
            if target is None or target.dtype is not want:
                raise SchemaError(f"{kind} output {fn.output!r} must be a {want.name} field")
            if fn.output in outputs:
                raise SchemaError(f"field {fn.output!r} is the output of two functions")
            outputs.add(fn.output)
            if isinstance(fn, TextEmbedding):
                dim = fn.config.get("dimension")  # when known without loading a model
                if isinstance(dim, int) and dim != target.dim:
                    raise SchemaError(
                        f"TextEmbedding output {fn.output!r} has dim {target.dim}, but the "
                        f"provider makes {dim}-dimensional vectors"
                    )
            if isinstance(fn, BM25):
                self._analyzers[fn.input] = Analyzer(source.analyzer or "standard")

    def field_types(self) -> dict[str, FieldType]:
        """What a filter sees of each declared scalar field (vector fields excluded)."""
        return {f.name: FieldType(f.dtype, f.element_type, f.nullable) for f in self.scalar_fields}

    @property
    def functions_by_output(self) -> dict[str, Function]:
        """Function output field name -> the function that fills it."""
        return {fn.output: fn for fn in self.functions}

    def analyzer(self, name: str) -> Any:
        """The ``Analyzer`` of VARCHAR field ``name`` (``"standard"`` when it names none).

        Raises:
            SchemaError: no VARCHAR field of that name.
        """
        found = self._analyzers.get(name)
        if found is None:
            f = self._by_name.get(name)
            if f is None or f.dtype is not DataType.VARCHAR:
                raise SchemaError(f"{name!r} is not a VARCHAR field")
            found = self._analyzers.setdefault(name, Analyzer(f.analyzer or "standard"))
        return found

    @property
    def primary(self) -> Field:
        """The primary key field."""
        return self._primary

    @property
    def vector_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.is_vector)

    @property
    def scalar_fields(self) -> tuple[Field, ...]:
        """Every non-vector field, the primary key included."""
        return tuple(f for f in self.fields if not f.is_vector)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def get(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return self._by_name.get(name)

    def __getitem__(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaError(
                f"no field named {name!r} (fields: {', '.join(self.names)})"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of this schema."""
        return {
            "fields": [f.to_dict() for f in self.fields],
            "functions": [fn.to_dict() for fn in self.functions],
            "enable_dynamic_field": self.enable_dynamic_field,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema from ``to_dict``'s output."""
        return cls(
            fields=[Field.from_dict(f) for f in data["fields"]],
            functions=[function_from_dict(fn) for fn in data.get("functions", ())],
            enable_dynamic_field=bool(data.get("enable_dynamic_field", False)),
            description=data.get("description", ""),
        )


def quick_schema(
    dimension: int,
    *,
    primary_field: str = "id",
    id_type: str = "int",
    vector_field: str = "vector",
    auto_id: bool = False,
    max_length: int = MAX_VARCHAR_LENGTH,
    embedding: Any = None,
    text_field: str = "text",
) -> Schema:
    """The schema of ``create_collection(name, dimension=...)``.

    An ``id`` primary key (INT64, or VARCHAR with ``id_type="str"``), a
    ``vector`` FLOAT_VECTOR field and dynamic fields on, as in Milvus; with
    ``embedding`` (a provider), also a ``text`` VARCHAR field and a
    ``TextEmbedding`` function from it into ``vector``.
    """
    if id_type in ("int", "int64", DataType.INT64):
        pk = Field(primary_field, DataType.INT64, is_primary=True, auto_id=auto_id)
    elif id_type in ("str", "string", "varchar", DataType.VARCHAR):
        if auto_id:
            raise SchemaError("auto_id needs an integer id (id_type='int')")
        pk = Field(primary_field, DataType.VARCHAR, is_primary=True, max_length=max_length)
    else:
        raise SchemaError(f"id_type must be 'int' or 'str', got {id_type!r}")
    fields = [pk, Field(vector_field, DataType.FLOAT_VECTOR, dim=dimension)]
    functions = []
    if embedding is not None:
        fields.insert(1, Field(text_field, DataType.VARCHAR, max_length=MAX_VARCHAR_LENGTH))
        functions.append(TextEmbedding(text_field, vector_field, provider=embedding))
    return Schema(fields, functions=functions, enable_dynamic_field=True)


def output_entity_fields(
    schema: Schema, output_fields: Sequence[str] | None, default_all: bool
) -> tuple[list[str], str | list[str]]:
    """Split ``output_fields`` into declared fields and dynamic keys.

    ``None`` means every scalar field and dynamic key when ``default_all``, else
    none; ``"*"`` means every field, vectors included, and every dynamic key.
    The primary key is always returned.

    Raises:
        DataError: an unknown field (without dynamic fields), or a single
            string instead of a list of names.
    """
    if isinstance(output_fields, str):
        raise DataError(
            f"output_fields must be a list of field names, got the string {output_fields!r} "
            f"(write [{output_fields!r}])"
        )
    pk = schema.primary.name
    if output_fields is None:
        if not default_all:
            return [pk], []
        return [f.name for f in schema.scalar_fields], "*"
    declared: list[str] = [pk]
    dynamic: list[str] = []
    everything = False
    for name in output_fields:
        if name == "*":
            everything = True
        elif name == DYNAMIC_FIELD:
            dynamic = ["*"]
        elif schema.get(name) is not None:
            if name not in declared:
                declared.append(name)
        elif schema.enable_dynamic_field:
            dynamic.append(name)
        else:
            raise DataError(f"output field {name!r} is not a field of this collection")
    if everything:
        return list(schema.names), "*"
    return declared, "*" if "*" in dynamic else dynamic


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "DYNAMIC_FIELD",
    "Field",
    "Schema",
    "is_int",
    "output_entity_fields",
    "quick_schema",
    "validate_name",
]
