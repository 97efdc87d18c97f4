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
from typing import Any, cast

from .api import ClientAPI
from .backends import is_milvus_uri
from .client import MEMORY, Client
from .errors import ClosedError, ConfigError

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
        from .backends.milvus import connect_milvus  # (imported only where a server is used)

        return connect_milvus(uri, read_only=read_only, **options)
    unknown = set(options) - _EMBEDDED_OPTIONS
    if unknown:
        raise TypeError(f"connect() got unknown option(s) {sorted(unknown)}")
    return Client(uri, read_only=read_only, **options)


class SharedClient:
    """One holder's share of a process-wide client (``shared_client``).

    Every attribute is the shared client's; ``close()`` gives back this share
    only, and the client closes when the last share is given back, so one
    adapter closing its store never closes the store under another.
    """

    def __init__(self, entry: _Entry):
        self._entry: _Entry | None = entry

    def __getattr__(self, name: str) -> Any:
        entry = self.__dict__.get("_entry")
        if entry is None:
            raise ClosedError("this share of the shared client was closed")
        return getattr(entry.client, name)

    @property
    def closed(self) -> bool:
        """Whether this share was closed (or the client itself)."""
        return self._entry is None or self._entry.client.closed

    def close(self) -> None:
        """Give back this share; the last one closes the client. Idempotent."""
        with _shared_lock:
            entry, self._entry = self._entry, None
            if entry is None:
                return
            entry.shares -= 1
            last = entry.shares == 0
            if last and _shared.get(entry.key) is entry:
                del _shared[entry.key]
        if last:
            entry.client.close()

    def __enter__(self) -> SharedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        entry = self._entry
        return f"SharedClient({entry.client!r})" if entry is not None else "SharedClient(closed)"


class _Entry:
    """A shared client, the options it was opened with and its open shares."""

    def __init__(self, client: ClientAPI, options: dict[str, object], key: str):
        self.client, self.options, self.key = client, options, key
        self.shares = 0


_shared: dict[str, _Entry] = {}
_shared_lock = threading.Lock()


def shared_client(uri: str | os.PathLike[str] = MEMORY, **options: Any) -> ClientAPI:
    """A share of the process's client of a store, connecting on first use.

    Adapters that may be built several times on one path (a LangChain store and
    a LlamaIndex index over the same directory, two retrievers...) share one
    client, and so one copy of each collection in memory, through here. Each
    call returns a share of its own: closing it lets go of that share, and the
    client closes when the last one is closed. (Other processes, and ``connect``
    in this one, may open the same store too.) ``":memory:"`` always gives a
    new, separate store.

    Args:
        uri, options: as for ``connect``.

    Returns:
        An open ``ClientAPI`` (a ``SharedClient``).

    Raises:
        ConfigError: the store is already open here with other options.
        The errors of ``connect``.
    """
    uri = os.fspath(uri)
    if uri == MEMORY:
        return connect(uri, **options)
    key = os.path.realpath(uri)
    with _shared_lock:
        entry = _shared.get(key)
        if entry is not None and entry.client.closed:  # closed through another handle
            entry = None
        if entry is not None and entry.options != options:
            raise ConfigError(
                f"store {uri} is already open in this process with options {entry.options}, "
                f"not {options}"
            )
        if entry is None:
            entry = _shared[key] = _Entry(connect(uri, **options), dict(options), key)
        entry.shares += 1
        return cast(ClientAPI, SharedClient(entry))


__all__ = ["MEMORY", "SharedClient", "connect", "shared_client"]
