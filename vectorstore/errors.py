"""Every error Kestrel raises.

``VectorStoreError`` is the root. Each specific error also subclasses the
built-in exception a Python user would reach for first, so ``except ValueError``
keeps working around bad input while ``except VectorStoreError`` catches all of
ours. Nothing from hnswlib or numpy leaks out raw: the engine translates.
"""

from __future__ import annotations


class VectorStoreError(Exception):
    """Root of every error raised by Kestrel."""


class SchemaError(VectorStoreError, ValueError):
    """A schema, field, index or function definition is invalid."""


class ConfigError(VectorStoreError, ValueError):
    """An option of ``connect()`` is invalid (durability mode, sizes...)."""


class InvalidNameError(VectorStoreError, ValueError):
    """A collection, partition or field name is empty, too long or unsafe."""


class DataError(VectorStoreError, ValueError):
    """A row or a value does not fit the schema (wrong type, NaN, too long...)."""


class DimensionMismatchError(DataError):
    """A vector has a different number of dimensions than its field declares."""


class DuplicateKeyError(DataError):
    """A primary key is repeated in one batch, or already present on insert."""


class CollectionNotFoundError(VectorStoreError, KeyError):
    """No collection with that name exists."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class CollectionExistsError(VectorStoreError, ValueError):
    """A collection of that name already exists with a different schema."""


class PartitionNotFoundError(VectorStoreError, KeyError):
    """No partition with that name exists in the collection."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class IndexConfigError(VectorStoreError, ValueError):
    """An index definition or a search parameter is invalid."""


class FilterSyntaxError(VectorStoreError, ValueError):
    """A filter expression cannot be parsed. The message names the position."""

    def __init__(self, message: str, *, expression: str = "", position: int | None = None):
        self.expression = expression
        self.position = position
        super().__init__(message)


class FilterTypeError(VectorStoreError, ValueError):
    """A filter expression parses but is ill-typed (e.g. ``name + 1`` on a string)."""

    def __init__(self, message: str, *, expression: str = "", position: int | None = None):
        self.expression = expression
        self.position = position
        super().__init__(message)


class ClosedError(VectorStoreError, RuntimeError):
    """The client or collection was closed (or dropped) and cannot be used."""


class ReadOnlyError(VectorStoreError, PermissionError):
    """A write was attempted on a store opened with ``read_only=True``."""


class StorageError(VectorStoreError, OSError):
    """The on-disk store is damaged, locked, or of an unknown format version."""


class LockedError(StorageError):
    """Another process holds the store's writer lock."""


class MissingDependencyError(VectorStoreError, ImportError):
    """An optional dependency is not installed; the message has the pip line."""


class NotSupportedError(VectorStoreError, NotImplementedError):
    """The operation is valid in Milvus but not (yet) supported here."""


class EmbeddingError(VectorStoreError, RuntimeError):
    """An embedding provider failed (after its retries) or returned bad vectors."""


__all__ = [
    "ClosedError",
    "CollectionExistsError",
    "CollectionNotFoundError",
    "ConfigError",
    "DataError",
    "DimensionMismatchError",
    "DuplicateKeyError",
    "EmbeddingError",
    "FilterSyntaxError",
    "FilterTypeError",
    "IndexConfigError",
    "InvalidNameError",
    "LockedError",
    "MissingDependencyError",
    "NotSupportedError",
    "PartitionNotFoundError",
    "ReadOnlyError",
    "SchemaError",
    "StorageError",
    "VectorStoreError",
]
