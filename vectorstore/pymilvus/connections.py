"""pymilvus's ``connections``: named connections for the ORM (``Collection``,
``utility``), each a Kestrel client.

``connections.connect("default", uri="./milvus_demo.db")`` opens a Kestrel
store (``":memory:"`` a memory store); ``uri="http://host:19530"`` or
``host=..., port=...`` a Milvus server through Kestrel's Milvus backend.
"""

from __future__ import annotations

import threading
from typing import Any

from ._session import Session, close_session, open_session
from .exceptions import ConnectionConfigException, ConnectionNotExistException

DEFAULT_ALIAS = "default"
DEFAULT_ADDRESS = "localhost:19530"


def _address(kwargs: dict[str, Any]) -> str:
    """The URI to connect to, from pymilvus's ``uri`` / ``address`` / ``host`` + ``port``."""
    uri = kwargs.pop("uri", "") or ""
    address = kwargs.pop("address", "") or ""
    host = str(kwargs.pop("host", "") or "")
    port = str(kwargs.pop("port", "") or "")
    if uri:
        return str(uri)
    if address:
        return f"http://{address}"
    if host or port:
        if port and not port.isdigit():
            raise ConnectionConfigException(message=f"port must be a number, got {port!r}")
        return f"http://{host or 'localhost'}:{port or '19530'}"
    return f"http://{DEFAULT_ADDRESS}"


class Connections:
    """Aliases to open connections, as pymilvus's ``connections`` singleton."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._addresses: dict[str, dict[str, Any]] = {}

    def connect(
        self,
        alias: str = DEFAULT_ALIAS,
        user: str = "",
        password: str = "",
        db_name: str = "default",
        token: str = "",
        **kwargs: Any,
    ) -> None:
        """Open a connection named ``alias`` (a second ``connect`` of an alias to
        the same address is a no-op; to another address an error, as pymilvus)."""
        if not isinstance(alias, str):
            raise ConnectionConfigException(
                message=f"Alias should be string, but {type(alias)} is given."
            )
        uri = _address(kwargs)
        with self._lock:
            found = self._addresses.get(alias)
            if found is not None:
                if found["address"] != uri:
                    raise ConnectionConfigException(
                        message=f"Alias of {alias!r} already creating connections, but the "
                        "configure is not the same as passed in."
                    )
                return
            options: dict[str, Any] = {}
            if uri.startswith(("http://", "https://", "tcp://")):
                options = {"token": token, "db_name": db_name if db_name != "default" else None}
                if user:
                    options.update(user=user, password=password)
                if kwargs.get("timeout") is not None:
                    options["timeout"] = kwargs["timeout"]
                options = {k: v for k, v in options.items() if v not in (None, "")}
            self._sessions[alias] = open_session(uri, options)
            self._addresses[alias] = {"address": uri, "user": user, "db_name": db_name}

    def disconnect(self, alias: str) -> None:
        """Close the connection ``alias`` (its store, when no one else holds it)."""
        with self._lock:
            session = self._sessions.pop(alias, None)
            self._addresses.pop(alias, None)
        if session is not None:
            close_session(session)

    def remove_connection(self, alias: str) -> None:
        self.disconnect(alias)

    def list_connections(self) -> list[tuple[str, Any]]:
        """``(alias, handler)`` pairs; the handler is the Kestrel client."""
        with self._lock:
            return [(alias, s.client) for alias, s in self._sessions.items()]

    def has_connection(self, alias: str) -> bool:
        with self._lock:
            return alias in self._sessions

    def get_connection_addr(self, alias: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._addresses.get(alias, {}))

    def _fetch(self, alias: str) -> Session:
        """The session of ``alias``, or pymilvus's error for an unknown alias."""
        with self._lock:
            session = self._sessions.get(alias)
        if session is None or session.client.closed:
            raise ConnectionNotExistException(message="should create connection first.")
        return session


connections = Connections()

__all__ = ["Connections", "connections"]
