"""The Milvus backend: Kestrel's API on a Milvus server, or on Milvus Lite.

``vs.connect("http://host:19530", token=..., db_name=...)`` (or ``https://``,
``tcp://``) returns a ``MilvusBackendClient``: the contract
``vectorstore.api.ClientAPI``, as the embedded ``Client`` is, whose collections
are Milvus collections (``MilvusCollection``, a ``CollectionAPI``) reached
through ``pymilvus.MilvusClient``. Neither backend imports the other: what they
share is in ``vectorstore.checks``. ``vs.connect("milvus-lite://" +
path)`` opens a Milvus Lite database file through pymilvus instead, for local
development and tests.

Scale-out is Milvus's: standalone, distributed or Zilliz Cloud. Kestrel keeps
its API and checks on the client (rows, search arguments, filter types, query
embedding) and its unique-primary-key rule; the differences that remain are
listed in the README's "Scaling out" section.

Example:
    >>> import vectorstore as vs
    >>> db = vs.connect("milvus-lite:///tmp/kestrel_milvus.db")
    >>> col = db.create_collection("docs", dimension=4)
    >>> col.insert([{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    [1]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..checks import attach_embedding, check_existing, collection_spec
from ..embeddings.base import require
from ..errors import (
    ClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    IndexConfigError,
    ReadOnlyError,
    SchemaError,
    StorageError,
)
from ..index_spec import Index
from ..names import validate_name
from ..schema import Schema
from . import LITE_SCHEME, MILVUS_SCHEMES
from ._milvus_collection import MilvusCollection
from ._milvus_conn import MilvusConnection
from ._milvus_errors import milvus_errors
from ._milvus_schema import PROPERTY, decode, encode, from_milvus, milvus_schema
from ._milvus_version import SCHEMA_FIX, ServerInfo, check_index, schema_gaps

if TYPE_CHECKING:
    from ..embeddings.base import EmbeddingProvider

CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")
_EMBEDDED_OPTIONS = frozenset(
    {"segment_rows", "durability", "sync_interval_ms", "max_wal_bytes", "lock_timeout"}
)
_lite_users: dict[str, int] = {}  # Milvus Lite database path -> open clients on it
_lite_lock = threading.Lock()


def connect_milvus(
    uri: str,
    *,
    token: str = "",
    user: str = "",
    password: str = "",
    db_name: str = "",
    timeout: float | None = None,
    consistency_level: str = "Strong",
    read_only: bool = False,
    client_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> MilvusBackendClient:
    """Open a Milvus server or a Milvus Lite database with Kestrel's API.

    Args:
        uri: ``http://host:19530``, ``https://...`` (Zilliz Cloud), ``tcp://...``,
            or ``milvus-lite://<path of a database file>``.
        token: an API key or ``"user:password"`` (Zilliz Cloud, secured servers).
        user, password: instead of ``token``.
        db_name: the Milvus database (default: Milvus's ``default``).
        timeout: seconds per request (None: no limit).
        consistency_level: of every read: ``"Strong"`` (the default: reads see
            every write acknowledged before them, as on the embedded engine),
            ``"Bounded"``, ``"Session"`` or ``"Eventually"``.
        read_only: refuse writes on this client (``ReadOnlyError``).
        client_options: more keyword arguments for ``pymilvus.MilvusClient``
            (``secure``, ``server_pem_path``...).

    Returns:
        A ``MilvusBackendClient`` (a ``vectorstore.ClientAPI``).

    Raises:
        TypeError: an option of the embedded engine (``durability``...) or an
            unknown one.
        ConfigError: a bad URI, consistency level or credentials.
        StorageError: the server cannot be reached, or Milvus Lite cannot start.
        MissingDependencyError: pymilvus (or milvus-lite) is not installed.
    """
    if options:
        embedded = sorted(set(options) & _EMBEDDED_OPTIONS)
        if embedded:
            raise TypeError(f"connect() option(s) {embedded} are for embedded stores, not Milvus")
        raise TypeError(f"connect() got unknown option(s) {sorted(options)}")
    if consistency_level not in CONSISTENCY_LEVELS:
        raise ConfigError(
            f"consistency_level must be one of {CONSISTENCY_LEVELS}, got {consistency_level!r}"
        )
    pm = require("pymilvus", "milvus")
    lite_path = None
    address = uri
    if uri.startswith(LITE_SCHEME):
        lite_path = _lite_start(uri)
        address = _lite_address(lite_path)
    elif not uri.startswith(MILVUS_SCHEMES):
        raise ConfigError(
            f"not a Milvus URI: {uri!r} (use http://, https://, tcp:// or {LITE_SCHEME})"
        )
    kwargs = dict(client_options or {})
    try:
        with milvus_errors(ConfigError):
            mc = pm.MilvusClient(
                uri=address,
                user=user,
                password=password,
                db_name=db_name,
                token=token,
                timeout=timeout,
                **kwargs,
            )
        with milvus_errors(StorageError):
            try:
                reported = str(mc.get_server_version())
            except BaseException:
                mc.close()
                raise
    except BaseException:
        if lite_path is not None:
            _lite_release(lite_path)
        raise
    return MilvusBackendClient(
        uri,
        mc,
        pm,
        server=ServerInfo.parse(uri, reported, lite=lite_path is not None),
        lite_path=lite_path,
        read_only=read_only,
        consistency_level=consistency_level,
        timeout=timeout,
    )


def _lite_start(uri: str) -> str:
    path = uri[len(LITE_SCHEME) :]
    if not path:
        raise ConfigError(
            f"{LITE_SCHEME} needs the path of a database file, e.g. {LITE_SCHEME}./kestrel.db"
        )
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with _lite_lock:
        _lite_users[path] = _lite_users.get(path, 0) + 1
    return path


def _lite_address(path: str) -> str:
    manager = require("milvus_lite.server_manager", "milvus").server_manager_instance
    address = manager.start_and_get_uri(path)
    if not address:
        _lite_release(path)
        raise StorageError(f"Milvus Lite could not open {path} (see the milvus_lite log)")
    return str(address)


def _lite_release(path: str) -> None:
    """One client less on a Milvus Lite database; the last one stops its server
    (so the file can be reopened, by this process or another)."""
    with _lite_lock:
        left = _lite_users.get(path, 0) - 1
        if left > 0:
            _lite_users[path] = left
            return
        _lite_users.pop(path, None)
    require("milvus_lite.server_manager", "milvus").server_manager_instance.release_server(path)


class MilvusBackendClient:
    """Kestrel's ``ClientAPI`` over a Milvus server or Milvus Lite: its collections.

    Create with ``vs.connect("http://...")`` or ``vs.connect("milvus-lite://...")``.
    Thread-safe. Besides the contract: ``lite``, ``server_version``, ``read_only``,
    ``consistency_level``, ``timeout`` and ``milvus`` (the pymilvus client).
    """

    def __init__(
        self,
        uri: str,
        mc: Any,
        pm: Any,
        *,
        server: ServerInfo,
        lite_path: str | None,
        read_only: bool,
        consistency_level: str,
        timeout: float | None,
    ):
        self._conn = MilvusConnection(
            uri,
            mc,
            pm,
            server=server,
            read_only=read_only,
            consistency_level=consistency_level,
            timeout=timeout,
        )
        self._lite_path = lite_path
        self._lock = threading.RLock()
        self._collections: dict[str, MilvusCollection] = {}

    # ------------------------------------------------------------- properties
    @property
    def uri(self) -> str:
        """The URI the client was opened with."""
        return self._conn.uri

    @property
    def lite(self) -> bool:
        """Whether this is Milvus Lite (which differs from a server: see the README)."""
        return self._conn.lite

    @property
    def server_version(self) -> str:
        """The version Milvus reports (e.g. ``v2.3.5``; Milvus Lite: ``milvus_lite-3.2.2``)."""
        return self._conn.server.reported

    @property
    def read_only(self) -> bool:
        """Whether this client refuses writes."""
        return self._conn.read_only

    @property
    def consistency_level(self) -> str:
        """The consistency level of every read."""
        return self._conn.consistency_level

    @property
    def timeout(self) -> float | None:
        """Seconds per request (None: no limit)."""
        return self._conn.timeout

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._conn.closed

    @property
    def milvus(self) -> Any:
        """The underlying ``pymilvus.MilvusClient`` (for what Kestrel does not wrap)."""
        self._check()
        return self._conn.mc

    def __repr__(self) -> str:
        return f"MilvusBackendClient({self._conn.uri!r})"

    def __enter__(self) -> MilvusBackendClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check(self, write: bool = False) -> None:
        if self._conn.closed:
            raise ClosedError("the client is closed")
        if write and self._conn.read_only:
            raise ReadOnlyError(f"store {self._conn.uri} is open read-only")

    # ------------------------------------------------------------ collections
    def create_collection(
        self,
        name: str,
        dimension: int | None = None,
        *,
        schema: Schema | None = None,
        indexes: Iterable[Index] | None = None,
        metric: str = "COSINE",
        primary_field: str = "id",
        id_type: str = "int",
        vector_field: str = "vector",
        auto_id: bool = False,
        partitions: Sequence[str] = (),
        embedding: EmbeddingProvider | None = None,
        text_field: str = "text",
    ) -> MilvusCollection:
        """Create a Milvus collection, or return the existing one if it is identical.

        Arguments, defaults and errors as ``ClientAPI.create_collection``. The
        Kestrel schema and indexes are kept in the collection's ``"kestrel"``
        property; the collection is created with this client's consistency
        level, indexed and loaded.

        Raises:
            InvalidNameError, SchemaError, IndexConfigError, CollectionExistsError:
                as on the embedded engine (Milvus's own refusals too).
            NotSupportedError: something this Milvus cannot hold (a feature
                newer than the server, an analyzer Milvus Lite has not): refused
                before anything is sent.
        """
        spec = collection_spec(
            name,
            dimension,
            schema=schema,
            indexes=indexes,
            metric=metric,
            primary_field=primary_field,
            id_type=id_type,
            vector_field=vector_field,
            auto_id=auto_id,
            partitions=partitions,
            embedding=embedding,
            text_field=text_field,
        )
        schema, full = spec.schema, spec.indexes
        with self._lock:
            self._check(write=True)
            if self.has_collection(name):
                existing = self._open(name)
                check_existing(spec, existing.schema, existing.indexes)
                for p in partitions:
                    existing.create_partition(p)
                return existing
            self._conn.server.require(f"hold collection {name!r}", schema_gaps(schema), SCHEMA_FIX)
            for index in full:
                check_index(self._conn.server, schema, index)
            wire = milvus_schema(self._conn.pm, schema, self.lite)
            self._conn.call(
                "create_collection",
                name,
                schema=wire,
                default=SchemaError,
                consistency_level=self._conn.consistency_level,
                properties={PROPERTY: encode(schema, full)},
            )
            try:
                self._conn.build_indexes(name, schema, full)
                self._conn.call("load_collection", name, default=IndexConfigError)
            except BaseException:
                self._conn.mc.drop_collection(name)  # nothing half-made is left behind
                raise
            col = MilvusCollection(self._conn, name, schema, full)
            self._collections[name] = col
            for p in partitions:
                col.create_partition(p)
            return col

    def get_collection(
        self, name: str, *, embedding: EmbeddingProvider | None = None
    ) -> MilvusCollection:
        """The collection called ``name`` (loaded first if Milvus has it released).

        Args:
            name: the collection.
            embedding: the provider of its ``TextEmbedding`` function (see
                ``Client.get_collection``).

        Raises:
            CollectionNotFoundError: no such collection.
            ConfigError: ``embedding`` is not the kind of provider stored.
        """
        with self._lock:
            self._check()
            if not self.has_collection(name):
                raise CollectionNotFoundError(f"no collection named {name!r}")
            col = self._open(name)
        attach_embedding(col.schema, embedding)
        return col

    def has_collection(self, name: str) -> bool:
        """Whether a collection called ``name`` exists."""
        with self._lock:
            self._check()
            return bool(self._conn.call("has_collection", name))

    def list_collections(self) -> list[str]:
        """Collection names, sorted."""
        with self._lock:
            self._check()
            return sorted(self._conn.call("list_collections"))

    def drop_collection(self, name: str) -> None:
        """Drop a collection and its data (no-op if it does not exist).

        Handles on it raise ``ClosedError`` afterwards.
        """
        with self._lock:
            self._check(write=True)
            col = self._collections.pop(name, None)
            if col is not None:
                col._close()
            if self._conn.call("has_collection", name):
                self._conn.call("drop_collection", name)

    def rename_collection(self, old: str, new: str) -> None:
        """Rename a collection on the server; this client's handles on it take
        the new name (handles of other clients find ``old`` gone, as on Milvus)."""
        validate_name(new, "collection")
        with self._lock:
            self._check(write=True)
            if not self._conn.call("has_collection", old):
                raise CollectionNotFoundError(f"no collection named {old!r} in {self._conn.uri}")
            if self._conn.call("has_collection", new):
                raise CollectionExistsError(f"cannot rename {old!r}: {new!r} exists already")
            self._conn.call("rename_collection", old, new)
            self._load(new)  # Milvus Lite releases a renamed collection
            col = self._collections.pop(old, None)
            if col is not None:
                col._name = new
                self._collections[new] = col

    def refresh(self) -> None:
        """Nothing to catch up with: every read asks Milvus."""
        self._check()

    def close(self) -> None:
        """Close the collections' handles and the connection. Idempotent."""
        with self._lock:
            if self._conn.closed:
                return
            self._conn.closed = True
            for col in self._collections.values():
                col._close()
            self._collections.clear()
            try:
                self._conn.mc.close()
            finally:
                if self._lite_path is not None:
                    _lite_release(self._lite_path)

    # ---------------------------------------------------------------- helpers
    def _open(self, name: str) -> MilvusCollection:
        """The handle of a collection, described by Milvus now: a cached handle is
        kept while it still describes the collection (another client may have
        dropped and recreated it, or rebuilt an index)."""
        desc = self._conn.call("describe_collection", name)
        stored = (desc.get("properties") or {}).get(PROPERTY)
        if stored:
            schema, indexes = decode(name, stored)
        else:
            found: dict[str, dict[str, Any]] = {}
            for index_name in self._conn.call("list_indexes", name) or ():
                info = dict(self._conn.call("describe_index", name, index_name) or {})
                info.update(info.pop("params", None) or {})
                found[str(info.get("field_name", index_name))] = info
            schema, indexes = from_milvus(desc, found)
        identity = desc.get("collection_id")
        col = self._collections.get(name)
        if col is not None:
            same = col.identity in (None, identity) and not col.closed
            if same and col.schema.to_dict() == schema.to_dict():
                col.identity = identity
                col._adopt_indexes(indexes)
                return col
            col._close()  # a different collection now has this name
        self._load(name)
        col = MilvusCollection(self._conn, name, schema, indexes, identity=identity)
        self._collections[name] = col
        return col

    def _load(self, name: str) -> None:
        """Load ``name`` unless Milvus has it loaded: Kestrel's collections are
        always ready to read."""
        state = self._conn.call("get_load_state", name)
        if "Loaded" not in str(state.get("state") if isinstance(state, dict) else state):
            self._conn.call("load_collection", name)


__all__ = ["CONSISTENCY_LEVELS", "MilvusBackendClient", "MilvusCollection", "connect_milvus"]
