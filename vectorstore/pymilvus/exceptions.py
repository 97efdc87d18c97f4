"""pymilvus's exception classes, raised where pymilvus raises them.

Programs written for pymilvus catch ``MilvusException`` (and a few subclasses);
Kestrel's own error is kept as ``__cause__``, so nothing it said is lost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .. import errors

# Milvus's status codes for the situations Kestrel reports (Milvus 2.4+ server codes)
UNEXPECTED = 1
COLLECTION_NOT_FOUND = 100
COLLECTION_NOT_LOADED = 101
PARTITION_NOT_FOUND = 200
INDEX_NOT_FOUND = 700
INVALID_PARAMETER = 1100


class MilvusException(Exception):
    """A Milvus error: ``code`` (Milvus's status code) and ``message``."""

    def __init__(self, code: int = UNEXPECTED, message: str = "", **_: Any):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"<{type(self).__name__}: (code={self.code}, message={self.message})>"


class ParamError(MilvusException):
    """Bad arguments."""


class CollectionNotExistException(MilvusException):
    """No such collection."""


class DataTypeNotMatchException(MilvusException):
    """A value of the wrong type."""


class DataNotMatchException(MilvusException):
    """Rows that do not fit the schema."""


class PrimaryKeyException(MilvusException):
    """A bad primary key definition."""


class SchemaNotReadyException(MilvusException):
    """A collection's schema is not usable (or, for ``Collection(name)``, missing)."""


class DataTypeNotSupportException(MilvusException):
    """Data of a kind pymilvus does not insert (not rows, columns or a DataFrame)."""


class IndexNotExistException(MilvusException):
    """No index where one was asked for."""


class PartitionAlreadyExistException(MilvusException):
    """``create_partition`` of a partition that exists (the ORM's check)."""


class ConnectionNotExistException(MilvusException):
    """An alias that ``connections.connect`` never connected."""


class ConnectionConfigException(MilvusException):
    """Bad connection arguments."""


def _translate(exc: errors.VectorStoreError) -> MilvusException:
    message = str(exc)
    if isinstance(exc, errors.CollectionNotFoundError):
        return MilvusException(COLLECTION_NOT_FOUND, message)
    if isinstance(exc, errors.PartitionNotFoundError):
        return MilvusException(PARTITION_NOT_FOUND, message)
    if isinstance(exc, errors.DuplicateKeyError):  # Kestrel's rule: keys are unique
        return MilvusException(INVALID_PARAMETER, f"{message} (Kestrel keeps primary keys unique)")
    if isinstance(exc, (errors.DataError, errors.SchemaError, errors.IndexConfigError)):
        return MilvusException(INVALID_PARAMETER, message)
    if isinstance(exc, (errors.FilterSyntaxError, errors.FilterTypeError, errors.ConfigError)):
        return MilvusException(INVALID_PARAMETER, message)
    if isinstance(exc, errors.InvalidNameError):
        return MilvusException(INVALID_PARAMETER, message)
    return MilvusException(UNEXPECTED, message)


F = TypeVar("F", bound=Callable[..., Any])


def milvus_errors(fn: F) -> F:
    """Raise Kestrel's errors from ``fn`` as the ``MilvusException`` pymilvus raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except errors.VectorStoreError as exc:
            raise _translate(exc) from exc

    return wrapper  # type: ignore[return-value]


__all__ = [
    "CollectionNotExistException",
    "ConnectionConfigException",
    "ConnectionNotExistException",
    "DataNotMatchException",
    "DataTypeNotMatchException",
    "DataTypeNotSupportException",
    "IndexNotExistException",
    "MilvusException",
    "ParamError",
    "PartitionAlreadyExistException",
    "PrimaryKeyException",
    "SchemaNotReadyException",
    "milvus_errors",
]
