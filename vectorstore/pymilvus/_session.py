"""One Kestrel client behind pymilvus's handles, and the state pymilvus shows
on top of it (load states, collections still waiting for an index).

A path store has one writer per process, so every ``MilvusClient`` and
``connections.connect`` on the same path shares one client (as Milvus Lite
shares its server): the last holder to close it closes it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from .. import __version__
from ..api import ClientAPI as Client
from ..connect import MEMORY, connect, shared_client
from .exceptions import milvus_errors

_REMOTE = ("http://", "https://", "tcp://", "grpc://", "unix:", "milvus-lite://")


class Session:
    """A Kestrel client, with what pymilvus's load and index calls see of it.

    Kestrel keeps every collection ready to read. pymilvus programs release,
    load and wait; and a collection created from a schema without index
    parameters has no index, and cannot be loaded, until ``create_index``: both
    are kept here so such programs behave as on Milvus.
    """

    def __init__(self, client: Client, key: str | None):
        self.client = client
        self.key = key  # the shared path store's key, or None for a client of its own
        self.holders = 1
        self.released: set[str] = set()
        self.unindexed: set[str] = set()

    def forget(self, name: str) -> None:
        self.released.discard(name)
        self.unindexed.discard(name)

    def renamed(self, old: str, new: str) -> None:
        for names in (self.released, self.unindexed):
            if old in names:
                names.discard(old)
                names.add(new)


_lock = threading.Lock()
_shared: dict[str, Session] = {}


def open_session(uri: str, options: dict[str, Any]) -> Session:
    """A session on ``uri``: a Milvus server (``http://...``), a new memory
    store, or the process's shared client of a path store."""
    if uri.startswith(_REMOTE) or uri == MEMORY:
        return Session(milvus_errors(connect)(uri, **options), None)
    key = os.path.realpath(uri)
    with _lock:
        found = _shared.get(key)
        if found is not None and not found.client.closed:
            found.holders += 1
            return found
        session = Session(milvus_errors(shared_client)(uri, **options), key)
        _shared[key] = session
        return session


def close_session(session: Session) -> None:
    """Let go of ``session``; the last holder closes its client."""
    with _lock:
        session.holders -= 1
        if session.holders > 0:
            return
        if session.key is not None and _shared.get(session.key) is session:
            del _shared[session.key]
    session.client.close()


def server_version(session: Session) -> str:
    """The Milvus server's version through the Milvus backend; embedded, Kestrel's."""
    remote = getattr(session.client, "server_version", None)
    return str(remote) if remote else f"kestrel-{__version__}"


__all__ = ["Session", "close_session", "open_session", "server_version"]
