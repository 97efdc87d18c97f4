"""Index definitions: which index a field gets (vector indexes on hnswlib and
faiss, the sparse inverted index, scalar indexes for filters), with Milvus's
names, parameters and ranges, checked against a schema (``Index.fit``).

The indexes themselves are in ``vectorstore.index``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from .errors import IndexConfigError
from .functions import FunctionType
from .schema import Field, Schema, is_int
from .types import DataType, Metric

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
            if not is_int(m) or not 2 <= m <= 100:
                raise IndexConfigError(f"HNSW M must be an integer in 2..100, got {m!r}")
            if not is_int(efc) or not 1 <= efc <= 100_000:
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

    def after_drop(self) -> Index | None:
        """What ``drop_index`` leaves on the field: FLAT with the same metric for
        a dense field (searched exactly), nothing for a scalar field (scanned).

        Raises:
            IndexConfigError: a sparse field, whose inverted index is its storage.
        """
        if self.index_type == "SPARSE_INVERTED_INDEX":
            raise IndexConfigError(f"sparse field {self.field!r} always keeps its inverted index")
        return None if self.is_scalar else Index(self.field, "FLAT", self.vector_metric)

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
    if not is_int(nlist) or not 1 <= nlist <= MAX_NLIST:
        raise IndexConfigError(f"{kind} nlist must be an integer in 1..{MAX_NLIST}, got {nlist!r}")
    out = {"nlist": int(nlist)}
    if kind == "IVF_PQ":
        m, nbits = merged["m"], merged["nbits"]
        if m is None:
            raise IndexConfigError("IVF_PQ needs m (sub-vectors per vector, a divisor of dim)")
        if not is_int(m) or not 1 <= m <= 65_536:
            raise IndexConfigError(f"IVF_PQ m must be a positive integer, got {m!r}")
        if not is_int(nbits) or not 1 <= nbits <= 16:
            raise IndexConfigError(f"IVF_PQ nbits must be an integer in 1..16, got {nbits!r}")
        out.update(m=int(m), nbits=int(nbits))
    return out


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


__all__ = [
    "DENSE_INDEX_TYPES",
    "INDEX_TYPES",
    "INSTEAD",
    "IVF_INDEX_TYPES",
    "SCALAR_INDEX_TYPES",
    "SPARSE_INDEX_TYPES",
    "Index",
    "default_indexes",
]
