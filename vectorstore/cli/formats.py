"""The file formats of ``kestrel import`` and ``export``: JSONL, CSV and Parquet.

``readers`` turns files into rows for ``insert``; ``writers`` turns ``query``
rows into files. This module names the formats and finds pyarrow.
"""

from __future__ import annotations

import os
from typing import Any

import click

from ..embeddings.base import pip_line, require
from ..errors import MissingDependencyError
from ..types import DataType

FORMATS = ("jsonl", "csv", "parquet")
_EXTENSIONS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# types whose CSV cells (and Parquet strings) hold JSON text
JSON_TYPES = frozenset(
    {DataType.JSON, DataType.ARRAY, DataType.FLOAT_VECTOR, DataType.SPARSE_FLOAT_VECTOR}
)


def format_of(path: str, given: str | None) -> str:
    """The format of ``path``: ``given``, else by extension (``.gz`` looked through).

    Raises:
        click.UsageError: the extension says nothing and no format was given.
    """
    if given:
        return given
    name = path[:-3] if path.endswith(".gz") else path
    found = _EXTENSIONS.get(os.path.splitext(name)[1].lower())
    if found is None:
        if path == "-":
            return "jsonl"
        raise click.UsageError(
            f"cannot tell the format of {path!r} from its extension; pass --format "
            f"({'|'.join(FORMATS)})"
        )
    return found


def default_delimiter(path: str) -> str:
    """The CSV delimiter a file name implies: a tab for ``.tsv`` (``.tsv.gz``), else a comma."""
    name = path[:-3] if path.endswith(".gz") else path
    return "\t" if name.lower().endswith(".tsv") else ","


def pyarrow_modules() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, or a one-line error with the pip command.

    Raises:
        MissingDependencyError: pyarrow is not installed.
    """
    try:
        return require("pyarrow", "parquet"), require("pyarrow.parquet", "parquet")
    except MissingDependencyError:
        raise MissingDependencyError(
            f"Parquet files need pyarrow, which is not installed: {pip_line('parquet')}"
        ) from None


__all__ = ["FORMATS", "JSON_TYPES", "default_delimiter", "format_of", "pyarrow_modules"]
