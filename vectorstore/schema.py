"""Collection schemas: typed fields, index definitions and name rules.

A schema is immutable once a collection is created. ``Schema.to_dict`` /
``Schema.from_dict`` give the JSON form kept in the store's manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import field as dataclass_field
from typing import Any

from .analyzers import Analyzer
from .columns import FieldType
from .errors import DataError, IndexConfigError, SchemaError
from .functions import BM25, Function, FunctionType, TextEmbedding, function_from_dict
from .names import validate_name
from .scalars import check_scalar
from .types import DataType, Metric

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
            ``"standard"`` (the default), ``"english"``, ``"whitespace"`` or a
            Milvus-style dict (see ``vectorstore.analyzers``).
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
            if not _is_int(length) or not 1 <= length <= MAX_VARCHAR_LENGTH:
                raise SchemaError(f"{where}: max_length must be 1..{MAX_VARCHAR_LENGTH}")
            object.__setattr__(self, "max_length", int(length))
        if dt is DataType.FLOAT_VECTOR:
            if not _is_int(self.dim) or not 1 <= int(self.dim) <= MAX_DIM:  # type: ignore[arg-type]
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
            if not _is_int(cap) or not 1 <= cap <= DEFAULT_MAX_CAPACITY:
                raise SchemaError(f"{where}: max_capacity must be 1..{DEFAULT_MAX_CAPACITY}")
            object.__setattr__(self, "max_capacity", int(cap))
            if element is DataType.VARCHAR:
                length = MAX_VARCHAR_LENGTH if self.max_length is None else self.max_length
                if not _is_int(length) or not 1 <= length <= MAX_VARCHAR_LENGTH:
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


IVF_INDEX_TYPES = ("IVF_FLAT", "IVF_SQ8", "IVF_PQ")
DENSE_INDEX_TYPES = ("FLAT", "HNSW", *IVF_INDEX_TYPES)
SPARSE_INDEX_TYPES = ("SPARSE_INVERTED_INDEX", "SPARSE_WAND")
# Milvus's scalar index names (one structure in Kestrel: index/scalar.py), the
# field types each takes, and its spelling by upper-case name
SCALAR_INDEX_TYPES = ("INVERTED", "STL_SORT", "Trie", "BITMAP")
_SCALAR_BY_UPPER = {t.upper(): t for t in SCALAR_INDEX_TYPES}
_INTEGERS = (DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64)
_NUMBERS = (*_INTEGERS, DataType.FLOAT, DataType.DOUBLE)
SCALAR_INDEX_FIELDS: dict[str, tuple[DataType, ...]] = {
    "INVERTED": (DataType.BOOL, *_NUMBERS, DataType.VARCHAR, DataType.ARRAY),
    "STL_SORT": _NUMBERS,
    "Trie": (DataType.VARCHAR,),
    "BITMAP": (DataType.BOOL, *_INTEGERS, DataType.VARCHAR, DataType.ARRAY),
}
INDEX_TYPES = DENSE_INDEX_TYPES + SPARSE_INDEX_TYPES + SCALAR_INDEX_TYPES
_HNSW_DEFAULTS = {"M": 16, "ef_construction": 200}
_IVF_DEFAULTS: dict[str, Any] = {"nlist": 128}  # Milvus's
_PQ_DEFAULTS: dict[str, Any] = {"nlist": 128, "m": None, "nbits": 8}
MAX_NLIST = 65_536
# Milvus index types Kestrel does not build (GPU-only, dropped by Milvus, binary or
# disk-based), and the CPU index to use instead.
INSTEAD = {
    "ANNOY": "HNSW",
    "NSG": "HNSW",
    "RHNSW_FLAT": "HNSW",
    "RHNSW_SQ": "IVF_SQ8",
    "RHNSW_PQ": "IVF_PQ",
    "IVF_HNSW": "HNSW",
    "HNSW_SQ": "HNSW or IVF_SQ8",
    "HNSW_PQ": "HNSW or IVF_PQ",
    "HNSW_PRQ": "HNSW or IVF_PQ",
    "IVF_RABITQ": "IVF_SQ8",
    "SCANN": "IVF_PQ",
    "DISKANN": "IVF_SQ8 or IVF_PQ (a fraction of the memory of HNSW)",
    "GPU_IVF_FLAT": "IVF_FLAT",
    "GPU_IVF_PQ": "IVF_PQ",
    "GPU_CAGRA": "HNSW",
    "GPU_BRUTE_FORCE": "FLAT",
}


@dataclass(frozen=True, init=False)
class Index:
    """An index on one field: a vector index, or a scalar index for filters.

    Args:
        field: the field to index.
        index_type: for FLOAT_VECTOR fields ``"HNSW"`` (hnswlib; default),
            ``"FLAT"`` (exact search), or ``"IVF_FLAT"``, ``"IVF_SQ8"``, ``"IVF_PQ"``
            (faiss; built per sealed segment); for SPARSE_FLOAT_VECTOR fields
            ``"SPARSE_INVERTED_INDEX"`` (``"SPARSE_WAND"`` is accepted and means the
            same). For scalar fields Milvus's ``"INVERTED"`` (BOOL, numbers,
            VARCHAR, ARRAY), ``"STL_SORT"`` (numbers), ``"Trie"`` (VARCHAR) and
            ``"BITMAP"`` (BOOL, integers, VARCHAR, ARRAY): one sorted index in
            Kestrel, built per sealed segment, that answers ``==``, ``in``,
            ranges, prefix ``like`` and ``array_contains`` in filters.
            ``"AUTOINDEX"`` picks HNSW, the sparse inverted index or INVERTED by
            field type.
        metric: dense fields ``"COSINE"`` (default), ``"IP"`` or ``"L2"`` (squared
            Euclidean); sparse fields ``"IP"``, or ``"BM25"`` for the output of a
            BM25 function (the defaults); none for scalar indexes.
        params: ``M`` (2..100, default 16) and ``ef_construction`` (default 200;
            Milvus's ``efConstruction`` too) for HNSW; ``nlist`` (1..65536,
            default 128) for IVF, and ``m`` (a divisor of the dimension,
            required) and ``nbits`` (1..16, default 8) for IVF_PQ; also
            accepted nested as ``params={"M": 32}`` like pymilvus.

    Raises:
        IndexConfigError: unknown type, metric or parameter, or out-of-range values.

    Example:
        >>> Index("dense", "HNSW", metric="COSINE", M=16, ef_construction=200)
    """

    field: str
    index_type: str
    metric: Metric | None  # None for scalar indexes
    params: Mapping[str, Any]
    # what was left to the field type (AUTOINDEX, no metric): see ``fit``
    auto_type: bool = dataclass_field(default=False, compare=False, repr=False)
    auto_metric: bool = dataclass_field(default=False, compare=False, repr=False)

    def __init__(
        self,
        field: str,
        index_type: str = "HNSW",
        metric: str | Metric | None = None,
        params: Mapping[str, object] | None = None,
        **kwargs: Any,
    ):
        kind = str(index_type).upper()
        auto_type = kind == "AUTOINDEX"
        if auto_type:
            kind = "HNSW"
        if kind == "SPARSE_WAND":
            kind = "SPARSE_INVERTED_INDEX"
        kind = _SCALAR_BY_UPPER.get(kind, kind)
        if kind in SCALAR_INDEX_TYPES:
            merged = {**(params or {}), **kwargs}
            if metric is not None or merged:
                what = f"metric {metric!r}" if metric is not None else f"{sorted(merged)}"
                raise IndexConfigError(f"a {kind} index takes no metric or parameters, got {what}")
            for name, value in (("field", field), ("index_type", kind), ("metric", None)):
                object.__setattr__(self, name, value)
            object.__setattr__(self, "params", {})
            object.__setattr__(self, "auto_type", False)
            object.__setattr__(self, "auto_metric", False)
            return
        if kind in INSTEAD:
            raise IndexConfigError(
                f"index type {kind} is not built by Kestrel (a GPU, disk or retired Milvus "
                f"index); use {INSTEAD[kind]}"
            )
        if kind not in INDEX_TYPES:
            raise IndexConfigError(
                f"unknown index type {index_type!r}; supported: {', '.join(INDEX_TYPES)}"
            )
        auto_metric = metric is None
        if metric is None:
            metric = "IP" if kind in SPARSE_INDEX_TYPES else "COSINE"
        try:
            metric_value = Metric(str(getattr(metric, "value", metric)).upper())
        except ValueError:
            raise IndexConfigError(
                f"unknown metric {metric!r}; use COSINE, IP or L2 (BM25 for BM25 fields)"
            ) from None
        merged = {**(params or {}), **kwargs}
        if kind == "HNSW":
            if "efConstruction" in merged:  # Milvus's spelling
                merged["ef_construction"] = merged.pop("efConstruction")
            unknown = set(merged) - set(_HNSW_DEFAULTS)
            if unknown:
                raise IndexConfigError(
                    f"unknown HNSW parameter(s) {sorted(unknown)}; use M and ef_construction"
                )
            merged = {**_HNSW_DEFAULTS, **merged}
            m, efc = merged["M"], merged["ef_construction"]
            if not _is_int(m) or not 2 <= m <= 100:
                raise IndexConfigError(f"HNSW M must be an integer in 2..100, got {m!r}")
            if not _is_int(efc) or not 1 <= efc <= 100_000:
                raise IndexConfigError(f"HNSW ef_construction must be 1..100000, got {efc!r}")
            merged = {"M": int(m), "ef_construction": int(efc)}
        elif kind in IVF_INDEX_TYPES:
            merged = _ivf_params(kind, merged)
        elif merged:
            raise IndexConfigError(f"{kind} takes no parameters, got {sorted(merged)}")
        if kind in DENSE_INDEX_TYPES and metric_value is Metric.BM25 and not auto_type:
            raise IndexConfigError("the BM25 metric is for sparse fields filled by BM25")
        object.__setattr__(self, "field", field)
        object.__setattr__(self, "index_type", kind)
        object.__setattr__(self, "metric", metric_value)
        object.__setattr__(self, "params", merged)
        object.__setattr__(self, "auto_type", auto_type)
        object.__setattr__(self, "auto_metric", auto_metric)

    def fit(self, schema: Schema) -> Index:
        """This index made concrete for its field's type.

        Raises:
            IndexConfigError: no vector field of that name, or a type or metric
                that does not suit it.
        """
        f = schema.get(self.field)
        if f is None:
            raise IndexConfigError(f"index on {self.field!r}: no field of that name")
        if not f.is_vector:
            return self._fit_scalar(f)
        if self.is_scalar:
            raise IndexConfigError(
                f"index on {self.field!r}: {self.index_type} is a scalar index; a vector "
                f"field takes {', '.join(DENSE_INDEX_TYPES)} or SPARSE_INVERTED_INDEX"
            )
        if f.dtype is DataType.FLOAT_VECTOR:
            if self.index_type not in DENSE_INDEX_TYPES or self.metric is Metric.BM25:
                raise IndexConfigError(
                    f"index on {self.field!r}: a FLOAT_VECTOR field takes "
                    f"{', '.join(DENSE_INDEX_TYPES)} with COSINE, IP or L2"
                )
            m = self.params.get("m")
            if self.index_type == "IVF_PQ" and f.dim is not None and m and f.dim % m:
                raise IndexConfigError(
                    f"IVF_PQ on {self.field!r}: m must divide the dimension {f.dim}, got {m}"
                )
            return self
        bm25 = schema.functions_by_output.get(f.name)
        is_bm25 = bm25 is not None and bm25.kind is FunctionType.BM25
        want = Metric.BM25 if is_bm25 else Metric.IP
        if self.index_type not in SPARSE_INDEX_TYPES and not self.auto_type:
            raise IndexConfigError(
                f"index on {self.field!r}: a SPARSE_FLOAT_VECTOR field takes "
                "SPARSE_INVERTED_INDEX (or AUTOINDEX)"
            )
        if self.metric is not want and not self.auto_metric:
            raise IndexConfigError(
                f"index on {self.field!r}: the metric of "
                f"{'a BM25 output field' if is_bm25 else 'a sparse field'} is {want.value}, "
                f"not {self.vector_metric.value}"
            )
        return Index(self.field, "SPARSE_INVERTED_INDEX", want)

    def _fit_scalar(self, f: Field) -> Index:
        if self.auto_type:
            if not self.auto_metric:
                raise IndexConfigError(f"index on {f.name!r}: a scalar index takes no metric")
            spec = Index(f.name, "INVERTED")
        elif self.is_scalar:
            spec = self
        else:
            raise IndexConfigError(
                f"index on {f.name!r}: {self.index_type} is a vector index; a scalar field "
                f"takes {', '.join(SCALAR_INDEX_TYPES)} (or AUTOINDEX)"
            )
        takes = SCALAR_INDEX_FIELDS[spec.index_type]
        if f.dtype not in takes:
            fit = [t for t in SCALAR_INDEX_TYPES if f.dtype in SCALAR_INDEX_FIELDS[t]]
            hint = (
                f"; use {' or '.join(fit)}"
                if fit
                else " (JSON fields are not indexed: filters on them scan)"
            )
            raise IndexConfigError(
                f"a {spec.index_type} index cannot be built on {f.dtype.name} field "
                f"{f.name!r}{hint}"
            )
        if f.dtype is DataType.ARRAY:
            assert f.element_type is not None
            if f.element_type not in takes or f.element_type is DataType.ARRAY:
                raise IndexConfigError(
                    f"a {spec.index_type} index cannot be built on ARRAY field {f.name!r} "
                    f"of {f.element_type.name}"
                )
        if spec.index_type == "BITMAP" and f.is_primary:
            raise IndexConfigError(f"a BITMAP index cannot be built on primary key {f.name!r}")
        return spec

    @property
    def is_scalar(self) -> bool:
        """Whether this is a scalar (filter) index, not a vector index."""
        return self.index_type in SCALAR_INDEX_TYPES

    @property
    def vector_metric(self) -> Metric:
        """The metric of a vector index (a scalar index has none)."""
        assert self.metric is not None, f"{self.index_type} index has no metric"
        return self.metric

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "index_type": self.index_type,
            "metric": self.metric.value if self.metric is not None else None,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Index:
        return cls(data["field"], data["index_type"], data["metric"], data.get("params"))


def _ivf_params(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """IVF build parameters, checked against Milvus's names and ranges."""
    defaults = _PQ_DEFAULTS if kind == "IVF_PQ" else _IVF_DEFAULTS
    unknown = set(given) - set(defaults)
    if unknown:
        raise IndexConfigError(
            f"unknown {kind} parameter(s) {sorted(unknown)}; use {', '.join(defaults)}"
        )
    merged = {**defaults, **given}
    nlist = merged["nlist"]
    if not _is_int(nlist) or not 1 <= nlist <= MAX_NLIST:
        raise IndexConfigError(f"{kind} nlist must be an integer in 1..{MAX_NLIST}, got {nlist!r}")
    out = {"nlist": int(nlist)}
    if kind == "IVF_PQ":
        m, nbits = merged["m"], merged["nbits"]
        if m is None:
            raise IndexConfigError("IVF_PQ needs m (sub-vectors per vector, a divisor of dim)")
        if not _is_int(m) or not 1 <= m <= 65_536:
            raise IndexConfigError(f"IVF_PQ m must be a positive integer, got {m!r}")
        if not _is_int(nbits) or not 1 <= nbits <= 16:
            raise IndexConfigError(f"IVF_PQ nbits must be an integer in 1..16, got {nbits!r}")
        out.update(m=int(m), nbits=int(nbits))
    return out


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


def default_indexes(
    schema: Schema, given: Iterable[Index], metric: str | Metric | None
) -> list[Index]:
    """Complete ``given`` with an index for every unindexed vector field: HNSW
    with ``metric`` for dense fields, the inverted index for sparse ones."""
    out: dict[str, Index] = {}
    for idx in given:
        if idx.field in out:
            raise IndexConfigError(f"two indexes given for field {idx.field!r}")
        out[idx.field] = idx.fit(schema)
    for f in schema.vector_fields:
        if f.name not in out:
            if f.dtype is DataType.FLOAT_VECTOR:
                out[f.name] = Index(f.name, "HNSW", metric or "COSINE")
            else:
                out[f.name] = Index(f.name, "AUTOINDEX").fit(schema)
    return list(out.values())


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


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "DYNAMIC_FIELD",
    "Field",
    "Index",
    "Schema",
    "default_indexes",
    "output_entity_fields",
    "quick_schema",
    "validate_name",
]
