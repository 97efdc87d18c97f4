"""Opening the store behind a ``KestrelVectorStore``, with errors that name this
adapter's options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import vectorstore as vs

__all__ = ["MEMORY", "closed_on_failure", "missing_collection", "open_client"]

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


@contextmanager
def closed_on_failure(client: vs.ClientAPI, owned: bool) -> Iterator[None]:
    """Close ``client`` if ``owned`` and the block fails: a store that never came
    to be gives back its share of the path's shared client."""
    try:
        yield
    except BaseException:
        if owned:
            client.close()
        raise
