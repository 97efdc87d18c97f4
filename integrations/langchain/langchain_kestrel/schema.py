"""The collection layout behind a ``KestrelVectorStore``, and metadata checks.

A new collection gets::

    id        VARCHAR primary key (max_length 65535)   the Document.id
    text      VARCHAR (max_length 65535, analyzer)     the page_content
    vector    FLOAT_VECTOR(dim of the embedding)       HNSW, the store's metric
    sparse    SPARSE_FLOAT_VECTOR                      filled by BM25(text)
    metadata  JSON                                     the Document.metadata

Field names can be changed (``FieldNames``) to open collections made by other
tools; an existing collection without the sparse field works, without hybrid
search.

Metadata is stored as JSON, so it must be JSON exactly: dicts with str keys,
lists, str, int (int64), float (finite), bool and None, of exactly those types.
Anything else (datetime, tuple, set, bytes, numpy scalars, Enum members, NaN,
non-str keys) raises ``MetadataError`` naming the key, instead of being stored
as something else and read back different. Convert such values first (e.g.
``value.isoformat()``, ``list(value)``, ``value.item()``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import vectorstore as vs

__all__ = ["FieldNames", "MetadataError", "build_schema", "check_collection", "check_metadata"]

MAX_TEXT = 65535
_INT64 = (-(2**63), 2**63 - 1)


class MetadataError(vs.DataError):
    """Document metadata that JSON cannot hold exactly (a ``ValueError``).

    The message names the document and the key, e.g.
    ``metadatas[2]["created"]: datetime is not a JSON value``.
    """


@dataclass(frozen=True)
class FieldNames:
    """The collection's field names.

    Args:
        primary: the VARCHAR primary key (``Document.id``).
        text: the VARCHAR field holding ``page_content``.
        vector: the FLOAT_VECTOR field holding the embedding.
        sparse: the SPARSE_FLOAT_VECTOR field a BM25 function fills from
            ``text``; None for a collection without full-text search.
        metadata: the JSON field holding ``Document.metadata``.
    """

    primary: str = "id"
    text: str = "text"
    vector: str = "vector"
    sparse: str | None = "sparse"
    metadata: str = "metadata"


def build_schema(
    names: FieldNames, dimension: int, analyzer: str | Mapping[str, Any] | None
) -> vs.Schema:
    """The schema of a new collection.

    Args:
        names: the field names.
        dimension: the embedding's dimension.
        analyzer: the text field's analyzer (``"standard"``, ``"english"``...;
            None: none, so no ``text_match``).

    Returns:
        The ``vectorstore.Schema``.

    Raises:
        vectorstore.SchemaError: a bad dimension, name or analyzer.
    """
    fields = [
        vs.Field(names.primary, vs.DataType.VARCHAR, is_primary=True, max_length=MAX_TEXT),
        vs.Field(names.text, vs.DataType.VARCHAR, max_length=MAX_TEXT, analyzer=analyzer),
        vs.Field(names.vector, vs.DataType.FLOAT_VECTOR, dim=dimension),
        vs.Field(names.metadata, vs.DataType.JSON),
    ]
    functions = []
    if names.sparse is not None:
        fields.insert(3, vs.Field(names.sparse, vs.DataType.SPARSE_FLOAT_VECTOR))
        functions.append(vs.BM25(input=names.text, output=names.sparse))
    return vs.Schema(fields=fields, functions=functions)


def check_collection(col: vs.CollectionAPI, names: FieldNames) -> tuple[vs.Metric, bool, int]:
    """Check that an existing collection has the fields the store needs.

    Args:
        col: the collection.
        names: the field names the store uses.

    Returns:
        The vector field's metric, whether full-text (BM25) search is available
        on ``names.sparse``, and the vector dimension.

    Raises:
        vectorstore.ConfigError: a field is missing or has another type.
    """
    schema = col.schema
    by_name = {f.name: f for f in schema.fields}
    wanted = [
        ("primary", names.primary, vs.DataType.VARCHAR),
        ("text", names.text, vs.DataType.VARCHAR),
        ("vector", names.vector, vs.DataType.FLOAT_VECTOR),
        ("metadata", names.metadata, vs.DataType.JSON),
    ]
    for role, name, dtype in wanted:
        found = by_name.get(name)
        if found is None or found.dtype is not dtype:
            got = "no such field" if found is None else f"it is {found.dtype.name}"
            raise vs.ConfigError(
                f"collection {col.name!r} cannot back a KestrelVectorStore: its {role} field "
                f"{name!r} must be {dtype.name} ({got}); pass field names that match, or "
                "another collection_name"
            )
    if not by_name[names.primary].is_primary:
        raise vs.ConfigError(
            f"collection {col.name!r}: field {names.primary!r} is not the primary key"
        )
    bm25 = names.sparse is not None and any(
        isinstance(fn, vs.BM25) and fn.output == names.sparse and fn.input == names.text
        for fn in schema.functions
    )
    metric = next((i.metric for i in col.indexes if i.field == names.vector), vs.Metric.COSINE)
    dim = by_name[names.vector].dim
    assert dim is not None
    return vs.Metric(metric), bm25, dim


def check_metadata(value: Any, where: str) -> dict[str, Any]:
    """Check that a metadata dict is JSON exactly (see the module docstring).

    Args:
        value: a ``Document.metadata``.
        where: how to name it in errors, e.g. ``"metadatas[3]"``.

    Returns:
        ``value`` itself (the engine copies it on insert); ``{}`` for None.

    Raises:
        MetadataError: not a dict, or holding a value JSON cannot round-trip.
    """
    if value is None:
        return {}
    if type(value) is not dict:
        raise MetadataError(f"{where}: metadata must be a dict, got {type(value).__name__}")
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > 64:
            raise MetadataError(f"{path}: metadata nested more than 64 levels deep")
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise MetadataError(
                        f"{path}: key {key!r} is a {type(key).__name__}; JSON keys are strings"
                    )
                stack.append((child, f"{path}[{key!r}]", depth + 1))
        elif kind is list:
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif kind is int:
            if not _INT64[0] <= item <= _INT64[1]:
                raise MetadataError(f"{path}: {item} is outside the int64 range of JSON numbers")
        elif kind is float:
            if not math.isfinite(item):
                raise MetadataError(f"{path}: {item} is not a JSON number")
        elif not (item is None or kind is str or kind is bool):
            raise MetadataError(
                f"{path}: {kind.__name__} is not a JSON value (metadata must be dict, list, "
                "str, int, float, bool or None; convert it first, e.g. datetime.isoformat() "
                "or list(tuple))"
            )
    return value
