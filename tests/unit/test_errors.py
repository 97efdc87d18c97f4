"""errors.py's contract: every error is ours, and also the built-in a user would catch."""

from __future__ import annotations

import pytest

import vectorstore as vs
from vectorstore import errors

BUILTIN = {
    "SchemaError": ValueError,
    "InvalidNameError": ValueError,
    "ConfigError": ValueError,
    "DataError": ValueError,
    "DimensionMismatchError": ValueError,
    "DuplicateKeyError": ValueError,
    "CollectionNotFoundError": KeyError,
    "CollectionExistsError": ValueError,
    "PartitionNotFoundError": KeyError,
    "IndexConfigError": ValueError,
    "FilterSyntaxError": ValueError,
    "FilterTypeError": ValueError,
    "ClosedError": RuntimeError,
    "ReadOnlyError": PermissionError,
    "StorageError": OSError,
    "LockedError": OSError,
    "MissingDependencyError": ImportError,
    "EmbeddingError": RuntimeError,
    "NotSupportedError": NotImplementedError,
}


def test_every_error_is_listed_here_and_exported() -> None:
    names = set(errors.__all__) - {"VectorStoreError"}
    assert names == set(BUILTIN)
    assert all(getattr(vs, name) is getattr(errors, name) for name in errors.__all__)


@pytest.mark.parametrize(("name", "builtin"), sorted(BUILTIN.items()))
def test_error_subclasses_ours_and_the_builtin(name: str, builtin: type) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.VectorStoreError)
    assert issubclass(cls, builtin)


def test_key_errors_print_their_message_not_its_repr() -> None:
    assert str(vs.CollectionNotFoundError("no collection named 'x'")) == "no collection named 'x'"
