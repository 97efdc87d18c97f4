"""Opening the store behind a ``KestrelVectorStore``, with errors that name this
adapter's options."""

from __future__ import annotations

from typing import Any

import vectorstore as vs

__all__ = ["MEMORY", "missing_collection", "open_client"]

MEMORY = ":memory:"


def open_client(uri: str, options: dict[str, Any]) -> vs.ClientAPI:
    """A new memory store, or the process's shared client of a path.

    Args:
        uri: ``":memory:"`` or a directory.
        options: ``connect_options`` (options of ``vectorstore.connect``).

    Returns:
        The client.

    Other processes may write the same store: each call sees what they
    acknowledged before it.
    """
    if uri == MEMORY:
        return vs.connect(MEMORY, **options)
    return vs.shared_client(uri, **options)


def missing_collection(client: vs.ClientAPI, name: str) -> vs.CollectionNotFoundError:
    """The error for a collection a read-only store lacks (it can never be created,
    so every query would find nothing): most likely a misspelt name."""
    return vs.CollectionNotFoundError(
        f"collection {name!r} does not exist in {client.uri}, which is open read-only (so "
        f"it is not created); its collections: {sorted(client.list_collections())}: pass "
        "one as collection_name="
    )
