"""pymilvus errors turned into Kestrel's, with Milvus's message kept.

Milvus reports most problems as one "illegal argument" code, so the error
class comes from the code where it says enough (collection or partition not
found, unavailable server), else from what the call was doing: a rejected
filter is re-read with Kestrel's parser to tell a syntax error from a type
error from an expression this Milvus does not run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import (
    CollectionNotFoundError,
    ConfigError,
    DataError,
    FilterSyntaxError,
    FilterTypeError,
    NotSupportedError,
    PartitionNotFoundError,
    StorageError,
    VectorStoreError,
)
from ..expr.check import FilterChecker

# Milvus's status codes (milvus/pkg/util/merr), and Milvus Lite's legacy ones.
COLLECTION_NOT_FOUND = frozenset({4, 100})
PARTITION_NOT_FOUND = frozenset({200})
DATABASE_NOT_FOUND = frozenset({800})
UNAVAILABLE = frozenset({2, 3, 5, 7})  # server not ready / unavailable / timeouts
AUTH = frozenset({1400, 1401, 1402, 1800})
_FILTER_WORDS = ("expr", "filter", "parse", "column", "token", "template", "placeholder")


SentFilter = tuple[str, Mapping[str, Any] | None]
"""A filter as sent to Milvus: its text and its ``filter_params`` (None when bound)."""


def filter_error(sent: SentFilter, schema: Any, message: str) -> VectorStoreError:
    """The error for a filter Milvus rejected, classified by Kestrel's own checks.

    Kestrel's parser names the position of a syntax error; its type check
    finds unknown fields and ill-typed comparisons. An expression Kestrel
    accepts but this Milvus rejects is a ``NotSupportedError``.
    """
    text, params = sent
    try:
        FilterChecker(schema.field_types(), schema.enable_dynamic_field).compile(text, params)
    except FilterSyntaxError as exc:
        return FilterSyntaxError(
            f"Milvus rejected filter {text!r}: {message} ({exc})",
            expression=text,
            position=exc.position,
        )
    except FilterTypeError as exc:
        return FilterTypeError(
            f"Milvus rejected filter {text!r}: {message} ({exc})",
            expression=text,
            position=exc.position,
        )
    return NotSupportedError(
        f"this Milvus does not run the filter {text!r} (Kestrel's embedded engine does): {message}"
    )


def translate(
    exc: BaseException,
    *,
    default: type[VectorStoreError] = DataError,
    filters: tuple[SentFilter, ...] = (),
    schema: Any = None,
) -> VectorStoreError:
    """The Kestrel error for a pymilvus exception.

    Args:
        exc: what pymilvus raised (``MilvusException`` or a gRPC error).
        default: the class for errors the code does not name (the call's kind:
            ``DataError`` for reads and writes, ``SchemaError`` for
            ``create_collection``, ``IndexConfigError`` for indexes).
        filters: the filter texts the call sent, to classify a rejected one.
        schema: the collection's Kestrel schema (for the filter type check).

    Returns:
        The error to raise (``from None``); its message keeps Milvus's.
    """
    code = getattr(exc, "code", None)
    message = str(getattr(exc, "message", "") or exc)
    if not isinstance(code, int):
        code = None
    if code in COLLECTION_NOT_FOUND or "collection not found" in message.lower():
        return CollectionNotFoundError(f"Milvus: {message}")
    if code in PARTITION_NOT_FOUND or "partition not found" in message.lower():
        return PartitionNotFoundError(f"Milvus: partition not found: {message}")
    if code in DATABASE_NOT_FOUND:
        return ConfigError(f"Milvus: database not found: {message}")
    if code in AUTH:
        return ConfigError(f"Milvus refused the credentials: {message}")
    if code in UNAVAILABLE or type(exc).__name__ in ("MilvusUnavailableException", "ConnectError"):
        return StorageError(f"Milvus is unavailable: {message}")
    lowered = message.lower()
    if filters and schema is not None and any(w in lowered for w in _FILTER_WORDS):
        found = [filter_error(sent, schema, message) for sent in filters]
        return next((e for e in found if not isinstance(e, NotSupportedError)), found[0])
    return default(f"Milvus: {message}")


@contextmanager
def milvus_errors(
    default: type[VectorStoreError] = DataError,
    filters: tuple[SentFilter, ...] = (),
    schema: Any = None,
) -> Iterator[None]:
    """Translate pymilvus (and gRPC) errors raised inside the block (see ``translate``)."""
    try:
        yield
    except VectorStoreError:
        raise
    except Exception as exc:
        if not _from_milvus(exc):
            raise
        raise translate(exc, default=default, filters=filters, schema=schema) from None


def _from_milvus(exc: BaseException) -> bool:
    """Whether ``exc`` comes from pymilvus or gRPC (never our own bugs)."""
    module = type(exc).__module__ or ""
    return module.startswith(("pymilvus", "grpc", "milvus_lite"))


__all__ = ["SentFilter", "filter_error", "milvus_errors", "translate"]
