"""Kestrel schemas and indexes as Milvus collections, and back.

A Kestrel schema maps onto Milvus field by field (the ``DataType`` numbers are
Milvus's). What Milvus cannot hold is kept next to it: the whole Kestrel
schema and index list (``TextEmbedding`` provider configs, analyzer configs,
BM25 ``k1``/``b``) are JSON in the collection property ``"kestrel"``, so
reopening restores them exactly. A collection made without Kestrel (no such
property) is read from Milvus's own description.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analyzers import ENGLISH_STOP_WORDS, _chain
from ..errors import IndexConfigError, NotSupportedError, SchemaError, StorageError
from ..functions import BM25, TextEmbedding
from ..index_spec import SCALAR_INDEX_TYPES, Index
from ..schema import Field, Schema
from ..types import DataType, Metric

PROPERTY = "kestrel"
"""The collection property that holds Kestrel's schema and indexes (JSON)."""
FORMAT = 1
_NAMED_ANALYZERS: dict[str, dict[str, Any]] = {
    "standard": {"type": "standard"},
    "english": {"type": "english"},
    "whitespace": {"tokenizer": "whitespace"},
    "chinese": {"type": "chinese"},  # Milvus 2.5+: jieba + cnalphanumonly, as ours
}


@dataclass(frozen=True)
class IndexSpec:
    """One Milvus index to create: what ``IndexParams.add_index`` takes."""

    field: str
    index_type: str
    metric: str
    params: dict[str, Any]


def analyzer_params(config: str | Mapping[str, Any], lite: bool) -> dict[str, Any]:
    """Milvus ``analyzer_params`` for a Kestrel analyzer config.

    A Milvus server takes Kestrel's configs as they are (they are Milvus's
    format). Milvus Lite only has the standard tokenizer with lowercasing and
    stop words; anything else would tokenize differently without a word, so it
    is refused.

    Raises:
        NotSupportedError: on Milvus Lite, an analyzer it cannot reproduce.
    """
    if not lite:
        return dict(_NAMED_ANALYZERS[config]) if isinstance(config, str) else dict(config)
    chain = _chain(config)
    filters = list(chain["filter"])
    stop: list[str] = []
    ok = chain["tokenizer"] == "standard" and filters[:1] == ["lowercase"]
    for spec in filters[1:]:
        if isinstance(spec, Mapping) and spec.get("type") == "stop":
            for word in spec.get("stop_words", []):
                stop.extend(sorted(ENGLISH_STOP_WORDS) if word == "_english_" else [word])
        else:
            ok = False
    if not ok:
        raise NotSupportedError(
            f"Milvus Lite's analyzer is the standard tokenizer with lowercasing and stop "
            f"words; analyzer {config!r} needs a Milvus server (or the embedded engine)"
        )
    params: dict[str, Any] = {"tokenizer": "standard"}
    if stop:
        params["filter"] = [{"type": "stop", "stop_words": stop}]
    return params


def analysed_fields(schema: Schema) -> dict[str, str | Mapping[str, Any]]:
    """VARCHAR fields Milvus must analyse (BM25 input, or an analyzer named):
    field name -> analyzer config. They also get ``enable_match`` for ``text_match``."""
    out: dict[str, str | Mapping[str, Any]] = {}
    bm25_inputs = {fn.input for fn in schema.functions if isinstance(fn, BM25)}
    for f in schema.fields:
        if f.dtype is DataType.VARCHAR and (f.analyzer is not None or f.name in bm25_inputs):
            out[f.name] = f.analyzer if f.analyzer is not None else "standard"
    return out


def milvus_schema(pm: Any, schema: Schema, lite: bool) -> Any:
    """The ``pymilvus.CollectionSchema`` of a Kestrel schema.

    ``TextEmbedding`` functions stay on the client (their output is a plain
    FLOAT_VECTOR field); ``BM25`` functions become Milvus BM25 functions.

    Raises:
        NotSupportedError: an analyzer Milvus Lite cannot reproduce.
    """
    out = pm.MilvusClient.create_schema(
        auto_id=schema.primary.auto_id,
        enable_dynamic_field=schema.enable_dynamic_field,
        description=schema.description,
    )
    analysed = analysed_fields(schema)
    for f in schema.fields:
        kwargs: dict[str, Any] = {"description": f.description}
        if f.is_primary:
            kwargs.update(is_primary=True, auto_id=f.auto_id)
        if f.dtype is DataType.VARCHAR or f.element_type is DataType.VARCHAR:
            kwargs["max_length"] = f.max_length
        if f.dim is not None:
            kwargs["dim"] = f.dim
        if f.element_type is not None:
            kwargs["element_type"] = pm.DataType(int(f.element_type))
            kwargs["max_capacity"] = f.max_capacity
        if f.nullable:
            kwargs["nullable"] = True
        if f.default_value is not None:
            kwargs["default_value"] = f.default_value
        if f.name in analysed:
            kwargs.update(
                enable_analyzer=True,
                enable_match=True,
                analyzer_params=analyzer_params(analysed[f.name], lite),
            )
        out.add_field(f.name, pm.DataType(int(f.dtype)), **kwargs)
    for fn in schema.functions:
        if isinstance(fn, BM25):
            out.add_function(
                pm.Function(
                    name=fn.name,
                    function_type=pm.FunctionType.BM25,
                    input_field_names=[fn.input],
                    output_field_names=[fn.output],
                )
            )
    return out


def index_spec(schema: Schema, index: Index) -> IndexSpec:
    """The Milvus index for a Kestrel ``Index`` (BM25 ``k1``/``b`` ride on the
    sparse index, where Milvus reads them)."""
    if index.index_type == "HNSW":
        params = {"M": index.params["M"], "efConstruction": index.params["ef_construction"]}
        return IndexSpec(index.field, "HNSW", index.vector_metric.value, params)
    if index.index_type in ("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"):  # the same names
        return IndexSpec(
            index.field, index.index_type, index.vector_metric.value, dict(index.params)
        )
    fn = schema.functions_by_output.get(index.field)
    params = {}
    if isinstance(fn, BM25):
        params = {"bm25_k1": fn.k1, "bm25_b": fn.b}
    return IndexSpec(index.field, "SPARSE_INVERTED_INDEX", index.vector_metric.value, params)


def encode(schema: Schema, indexes: Sequence[Index]) -> str:
    """The ``"kestrel"`` property: schema and indexes as JSON (never a secret:
    providers are kept as their configs)."""
    return json.dumps(
        {
            "format": FORMAT,
            "schema": schema.to_dict(),
            "indexes": [i.to_dict() for i in indexes],
        },
        sort_keys=True,
    )


def decode(name: str, text: str) -> tuple[Schema, list[Index]]:
    """Schema and indexes back from the ``"kestrel"`` property.

    Raises:
        StorageError: the property is not Kestrel's JSON, or of a newer format.
    """
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise StorageError(
                f"collection {name!r} was written by a newer Kestrel (format {data.get('format')})"
            )
        schema = Schema.from_dict(data["schema"])
        return schema, [Index.from_dict(i) for i in data["indexes"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageError(
            f"the {PROPERTY!r} property of Milvus collection {name!r} is damaged: {exc!r}"
        ) from None


def _default_value(value: Any) -> Any:
    """A default value from ``describe_collection`` (a protobuf ``ValueField``)."""
    which = getattr(value, "WhichOneof", None)
    if which is None:
        return value
    kind = which("data")
    return None if kind is None else getattr(value, kind)


def _native_field(d: Mapping[str, Any], dtypes: Mapping[int, DataType]) -> Field:
    try:
        dtype = dtypes[int(d["type"])]
    except (KeyError, ValueError):
        raise NotSupportedError(
            f"field {d.get('name')!r} has Milvus type {d.get('type')!r}, which Kestrel has not"
        ) from None
    params = dict(d.get("params") or {})
    analyzer: Any = None
    if str(params.get("enable_analyzer", "")).lower() == "true":
        raw = params.get("analyzer_params")
        analyzer = json.loads(raw) if isinstance(raw, str) and raw else "standard"
    element = d.get("element_type")
    try:
        return Field(
            d["name"],
            dtype,
            is_primary=bool(d.get("is_primary")),
            auto_id=bool(d.get("auto_id")),
            max_length=_int(params.get("max_length")),
            dim=_int(params.get("dim")),
            element_type=None if element is None else dtypes[int(element)],
            max_capacity=_int(params.get("max_capacity")),
            nullable=bool(d.get("nullable")),
            default_value=_default_value(d.get("default_value")),
            analyzer=analyzer,
            description=str(d.get("description") or ""),
        )
    except SchemaError:
        if analyzer is None:
            raise
        return _native_field({**d, "params": {**params, "enable_analyzer": "false"}}, dtypes)


def from_milvus(
    desc: Mapping[str, Any], indexes: Mapping[str, Mapping[str, Any]]
) -> tuple[Schema, list[Index]]:
    """Schema and indexes of a collection made without Kestrel, from Milvus's
    ``describe_collection`` and ``describe_index`` answers.

    Raises:
        NotSupportedError: a field type or function Kestrel has not.
    """
    dtypes = {int(t): t for t in DataType}
    fields = [_native_field(d, dtypes) for d in desc["fields"]]
    functions: list[BM25] = []
    for fn in desc.get("functions") or ():
        if getattr(fn.get("type"), "name", str(fn.get("type"))) != "BM25":
            raise NotSupportedError(f"Milvus function {fn.get('name')!r} is not a BM25 function")
        out = fn["output_field_names"][0]
        params = indexes.get(out, {})
        functions.append(
            BM25(
                fn["input_field_names"][0],
                out,
                float(params.get("bm25_k1", 1.2)),
                float(params.get("bm25_b", 0.75)),
                fn.get("name", ""),
            )
        )
    schema = Schema(
        fields,
        functions=functions,
        enable_dynamic_field=bool(desc.get("enable_dynamic_field")),
        description=str(desc.get("description") or ""),
    )
    out_indexes = []
    for f in schema.vector_fields:
        spec = indexes.get(f.name, {})
        metric = str(
            spec.get("metric_type")
            or (
                "BM25"
                if f.name in schema.functions_by_output
                else "IP"
                if f.dtype.name.startswith("SPARSE")
                else "COSINE"
            )
        )
        kind = str(spec.get("index_type") or "")
        if f.dtype is DataType.SPARSE_FLOAT_VECTOR:
            out_indexes.append(Index(f.name, "SPARSE_INVERTED_INDEX", metric))
        elif kind == "FLAT":
            out_indexes.append(Index(f.name, "FLAT", metric))
        elif kind in ("IVF_FLAT", "IVF_SQ8", "IVF_PQ"):
            ivf = {"nlist": _int(spec.get("nlist")) or 128}
            if kind == "IVF_PQ":
                ivf.update(m=_int(spec.get("m")) or 1, nbits=_int(spec.get("nbits")) or 8)
            out_indexes.append(Index(f.name, kind, metric, params=ivf))
        else:  # HNSW, or a Milvus-only type (DiskANN, SCANN...): described as HNSW
            hnsw = {
                "M": _int(spec.get("M")) or 16,
                "ef_construction": _int(spec.get("efConstruction")) or 200,
            }
            out_indexes.append(Index(f.name, "HNSW", metric, params=hnsw))
    for f in schema.scalar_fields:
        kind = str(indexes.get(f.name, {}).get("index_type") or "")
        if kind.upper() in {t.upper() for t in SCALAR_INDEX_TYPES}:
            # a Milvus index Kestrel does not build on that type: its filters scan
            with contextlib.suppress(IndexConfigError):
                out_indexes.append(Index(f.name, kind).fit(schema))
    return schema, out_indexes


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def embedding_functions(schema: Schema) -> dict[str, TextEmbedding]:
    """Output field -> the ``TextEmbedding`` that fills it (run on the client)."""
    return {fn.output: fn for fn in schema.functions if isinstance(fn, TextEmbedding)}


def metric_of(indexes: Mapping[str, Index], field: str) -> Metric:
    """The metric of a vector field's index (COSINE when it has none)."""
    spec = indexes.get(field)
    return spec.vector_metric if spec is not None else Metric.COSINE


__all__ = [
    "FORMAT",
    "PROPERTY",
    "IndexSpec",
    "analysed_fields",
    "analyzer_params",
    "decode",
    "embedding_functions",
    "encode",
    "from_milvus",
    "index_spec",
    "metric_of",
    "milvus_schema",
]
