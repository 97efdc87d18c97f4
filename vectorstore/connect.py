"""``connect()`` and ``shared_client()``: open a store, picking its backend by URI.

This is the one module that knows both backends: ``":memory:"`` or a directory
opens the embedded engine (``vectorstore.client.Client``); ``http://``,
``https://``, ``tcp://`` or ``milvus-lite://`` a Milvus backend
(``vectorstore.backends.milvus``). Either way the caller gets the contract,
``vectorstore.api.ClientAPI``; the backends never import each other.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .api import ClientAPI
from .backends import is_milvus_uri
from .backends.milvus import connect_milvus
from .client import MEMORY, Client
from .errors import ConfigError

_EMBEDDED_OPTIONS = frozenset(
    {"segment_rows", "durability", "sync_interval_ms", "max_wal_bytes", "lock_timeout"}
)


def connect(
    uri: str | os.PathLike[str] = MEMORY, *, read_only: bool = False, **options: Any
) -> ClientAPI:
    """Open a store.

    Args:
        uri: ``":memory:"`` (no files), or a directory path (created if needed)
            for a durable embedded store; ``http://host:19530`` (``https://``,
            ``tcp://``) for a Milvus server or Zilliz Cloud, ``milvus-lite://<file>``
            for Milvus Lite: the same API on Milvus (``vectorstore.backends.milvus``;
            options ``token``, ``db_name``, ``consistency_level``... there).
        read_only: open a path store for reading only: it never takes the
            write lock, and needs no write permission. Any number of processes
            may open one store, read-write or read-only; each call sees every
            write another process acknowledged before the call began.
        options:
            ``durability`` (path stores): when a write is on disk before its
            call returns. ``"fsync"`` (default, as SQLite): fsync of the
            write-ahead log every call, nothing acknowledged is ever lost.
            ``"batch"``: fsync at most every ``sync_interval_ms`` (default 100)
            and on flush/close; a machine crash loses at most that window.
            ``"none"``: the OS decides; a process crash loses nothing, a machine
            crash may lose recent writes.
            ``segment_rows``: rows per segment before it is sealed (1,000,000).
            ``max_wal_bytes``: checkpoint when the log grows past this (256 MiB).
            ``lock_timeout``: seconds a write waits while other processes write
            or checkpoint before ``LockedError`` (30).

    Returns:
        A ``ClientAPI`` (the embedded ``Client``, or a ``MilvusBackendClient``);
        use it as a context manager or call ``close()``.

    Raises:
        TypeError: an unknown option (or one of the other backend).
        LockedError: creating the store waited past ``lock_timeout`` for
            another process's write.
        StorageError: the directory holds a damaged or newer store.
        MissingDependencyError: a Milvus URI without pymilvus installed.

    Example:
        >>> import vectorstore as vs
        >>> with vs.connect(":memory:") as db:
        ...     col = db.create_collection("docs", dimension=3)
    """
    uri = os.fspath(uri)
    if is_milvus_uri(uri):
        return connect_milvus(uri, read_only=read_only, **options)
    unknown = set(options) - _EMBEDDED_OPTIONS
    if unknown:
        raise TypeError(f"connect() got unknown option(s) {sorted(unknown)}")
    return Client(uri, read_only=read_only, **options)


_shared: dict[str, tuple[ClientAPI, dict[str, object]]] = {}
_shared_lock = threading.Lock()


def shared_client(uri: str | os.PathLike[str] = MEMORY, **options: Any) -> ClientAPI:
    """The process's open client of a store, connecting on first use.

    A path store has one writer per process (a second ``connect`` to the same
    path is a ``LockedError``), so adapters that may be built twice on one path
    (a LangChain store and a LlamaIndex index over the same directory, two
    retrievers...) share a client through here. ``":memory:"`` always gives a
    new, separate store.

    Args:
        uri, options: as for ``connect``.

    Returns:
        An open ``ClientAPI``; closing it closes it for every holder.

    Raises:
        ConfigError: the store is already open here with other options.
        The errors of ``connect``.
    """
    uri = os.fspath(uri)
    if uri == MEMORY:
        return connect(uri, **options)
    key = os.path.realpath(uri)
    with _shared_lock:
        found = _shared.get(key)
        if found is not None and not found[0].closed:
            if found[1] != options:
                raise ConfigError(
                    f"store {uri} is already open in this process with options {found[1]}, "
                    f"not {options}"
                )
            return found[0]
        client = connect(uri, **options)
        _shared[key] = (client, dict(options))
        return client


__all__ = ["MEMORY", "connect", "shared_client"]
