"""Names of collections, partitions and fields: one rule, checked everywhere.

The rule is Milvus's (a letter or ``_``, then letters, digits or ``_``; at most
255 characters), so names move to a Milvus server unchanged and can never
escape a store directory. Names read from a store's files are checked with it
too (``storage.manifest``).
"""

from __future__ import annotations

import re

from .errors import InvalidNameError

MAX_NAME_LENGTH = 255
DEFAULT_PARTITION = "_default"  # every collection has it; it cannot be dropped
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def validate_name(name: object, kind: str = "collection") -> str:
    """Check a collection, partition or field name and return it.

    Names follow Milvus's rule (a letter or ``_``, then letters, digits or ``_``;
    at most 255 characters), so they move to a Milvus server unchanged and can
    never escape the data directory (no separators, no ``..``).

    Args:
        name: the candidate name.
        kind: what is named, for the error message.

    Returns:
        The name, unchanged.

    Raises:
        InvalidNameError: the name is not a string, is empty, too long or has
            characters outside the rule.
    """
    if not isinstance(name, str):
        raise InvalidNameError(f"{kind} name must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidNameError(f"{kind} name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{kind} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid {kind} name {name!r}: use a letter or '_' first, then letters, "
            "digits or '_' (no separators, dots or spaces)"
        )
    return name


__all__ = ["DEFAULT_PARTITION", "MAX_NAME_LENGTH", "validate_name"]
