"""``Client``: the embedded engine's handle on a store (``":memory:"`` or a directory).

It implements ``vectorstore.api.ClientAPI`` (without subclassing it: the contract
is a layer above); ``vectorstore.connect`` picks it, or the Milvus backend, by URI.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .checks import DEFAULT_PARTITION, attach_embedding, check_existing, collection_spec
from .collection import Collection
from .errors import (
    ClosedError,
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    ReadOnlyError,
    StorageError,
)
from .follow import entry_parts
from .guard import UNLOCKED_ATTEMPTS
from .index_spec import Index
from .names import validate_name
from .schema import Schema
from .storage.collection_files import CollectionStorage
from .storage.store import DEFAULT_LOCK_TIMEOUT, DirectoryStore
from .storage.wal import DURABILITY_MODES

if TYPE_CHECKING:
    from .embeddings.base import EmbeddingProvider

MEMORY = ":memory:"
_OPEN_ATTEMPTS = 8  # opens racing another process's checkpoint, before giving up
_REPLAY_CHECKPOINT = 10_000  # replaying more records than this: checkpoint at open


class Client:
    """A handle on one store: its collections.

    Every method is thread-safe. Create with ``connect()``.
    """

    def __init__(
        self,
        uri: str,
        *,
        read_only: bool = False,
        segment_rows: int | None = None,
        durability: str = "fsync",
        sync_interval_ms: int = 100,
        max_wal_bytes: int = 256 << 20,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ):
        self._uri = uri
        self._read_only = read_only
        self._lock = threading.RLock()
        self._closed = False
        self._options: dict[str, Any] = {}
        if durability not in DURABILITY_MODES:
            raise ConfigError(f"durability must be one of {DURABILITY_MODES}, got {durability!r}")
        if segment_rows is not None:
            if not isinstance(segment_rows, int) or segment_rows < 1:
                raise ConfigError(f"segment_rows must be a positive integer, got {segment_rows!r}")
            self._options["segment_rows"] = segment_rows
        self._store = (
            None
            if uri == MEMORY
            else DirectoryStore(
                uri,
                read_only=read_only,
                durability=durability,
                sync_interval_ms=sync_interval_ms,
                max_wal_bytes=max_wal_bytes,
                lock_timeout=lock_timeout,
            )
        )
        self._collections: dict[str, Collection] = {}

    @property
    def uri(self) -> str:
        """The URI or path the client was opened with."""
        return self._uri

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self._uri!r})"

    def _check(self, write: bool = False) -> None:
        if self._closed:
            raise ClosedError("the client is closed")
        if write and self._read_only:
            raise ReadOnlyError(f"store {self._uri} is open read-only")

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
    ) -> Collection:
        """Create a collection, or return the existing one if it is identical.

        Quick setup: pass ``dimension`` for an ``id`` key (INT64, or VARCHAR with
        ``id_type="str"``), a ``vector`` field and dynamic fields; or pass
        ``embedding=provider`` for text in, text out: also a ``text`` field and a
        ``TextEmbedding`` function filling ``vector`` from it (the dimension is
        the provider's). Full setup: pass a ``Schema``. Every dense vector field
        without an ``Index`` gets HNSW (M=16, ef_construction=200) with ``metric``.

        Args:
            name: collection name (letters, digits, ``_``; at most 255).
            dimension: vector dimension for the quick setup.
            schema: a full schema (instead of ``dimension``).
            indexes: index definitions.
            metric: default metric: ``"COSINE"``, ``"IP"`` or ``"L2"``.
            primary_field, id_type, vector_field, auto_id: quick-setup names.
            partitions: partitions to create besides ``_default``.
            embedding: an embedding provider (``vectorstore.embeddings``) for
                the quick setup's text field.
            text_field: the quick setup's text field name (with ``embedding``).

        Returns:
            The ``Collection``.

        Raises:
            InvalidNameError: a bad name.
            SchemaError, IndexConfigError: a bad schema or index.
            CollectionExistsError: the name exists with another schema.

        Example:
            >>> col = db.create_collection("docs", dimension=384, metric="COSINE")
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
        with self._lock, self._store_writing():
            self._check(write=True)
            self._sync()
            if self._has(name):
                existing = self._open(name)
                check_existing(spec, existing.schema, existing.indexes)
                for p in partitions:
                    existing.create_partition(p)
                return existing
            storage = None
            if self._store is not None:
                self._store.add_collection(name, schema, full)
                storage = CollectionStorage(self._store, name)
            col = Collection(name, schema, full, storage=storage, **self._options)
            col._recover()
            self._collections[name] = col
            for p in partitions:
                col.create_partition(p)
            return col

    def get_collection(
        self, name: str, *, embedding: EmbeddingProvider | None = None
    ) -> Collection:
        """The collection called ``name``.

        Args:
            name: the collection.
            embedding: the provider of its ``TextEmbedding`` function. Without it,
                a reopened store rebuilds the provider from its stored config,
                which may not choose a host, a key variable or remote code (see
                ``embeddings.provider_from_config``): pass it for those.

        Raises:
            CollectionNotFoundError: no such collection.
            ConfigError: ``embedding`` is not the kind of provider stored.
        """
        with self._lock:
            self._check()
            self._sync()
            if not self._has(name):
                raise CollectionNotFoundError(f"no collection named {name!r}")
            col = self._open(name)
        attach_embedding(col.schema, embedding)
        return col

    def has_collection(self, name: str) -> bool:
        """Whether a collection called ``name`` exists."""
        with self._lock:
            self._check()
            self._sync()
            return self._has(name)

    def list_collections(self) -> list[str]:
        """Collection names, sorted."""
        with self._lock:
            self._check()
            self._sync()
            names = set(self._collections)
            if self._store is not None:
                names |= set(self._store.collections)
            return sorted(names)

    def drop_collection(self, name: str) -> None:
        """Drop a collection and its data (no-op if it does not exist).

        Handles on it raise ``ClosedError`` afterwards.
        """
        with self._lock, self._store_writing():
            self._check(write=True)
            self._sync()
            col = self._collections.pop(name, None)
            if col is not None:
                col._close()
            if self._store is not None and name in self._store.collections:
                self._store.remove_collection(name)

    def rename_collection(self, old: str, new: str) -> None:
        """Rename a collection (Milvus's ``rename_collection``): its data stays
        where it is, and handles on it from this client take the new name.

        Raises:
            CollectionNotFoundError: no collection ``old``.
            CollectionExistsError: ``new`` exists already.
            InvalidNameError: ``new`` breaks the naming rule.
        """
        validate_name(new, "collection")
        with self._lock, self._store_writing():
            self._check(write=True)
            self._sync()
            if not self._has(old):
                raise CollectionNotFoundError(f"no collection named {old!r}")
            if self._has(new):
                raise CollectionExistsError(f"cannot rename {old!r}: {new!r} exists already")
            col = self._open(old)
            store = self._store
            col._rename(new, lambda: store.rename_collection(old, new) if store else None)
            self._collections[new] = self._collections.pop(old)

    def refresh(self) -> None:
        """Catch up with other processes' writes now. Not needed for correctness:
        every call catches up first when the store changed (read-only clients
        too); this only moves that work to a moment of your choosing."""
        with self._lock:
            self._check()
            self._sync()
            for col in list(self._collections.values()):
                col._follow()

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    @property
    def read_only(self) -> bool:
        """Whether the store was opened with ``read_only=True`` (writes are refused)."""
        return self._read_only

    def close(self) -> None:
        """Flush every collection and release the store. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                for col in self._collections.values():
                    # an interrupted collection is closed already: its log has its writes;
                    # one this process only read is left to the processes that write it
                    if self._store is not None and col._wrote and not col.closed:
                        col.flush()
                    col._close()
            finally:
                self._closed = True
                if self._store is not None:
                    self._store.close()

    # ---------------------------------------------------------------- helpers
    def _store_writing(self) -> AbstractContextManager[None]:
        """The store's write lock for a change of the manifest (create, drop,
        rename): other processes' changes are read first, none race it."""
        if self._store is None or self._read_only or self._closed:
            return nullcontext()
        return self._store.writing()

    def _sync(self) -> None:
        """Read the manifest again if another process changed it, and forget
        handles of collections that left it (they close themselves on use)."""
        if self._store is None:
            return
        self._store.refresh()
        for name, col in list(self._collections.items()):
            if col.closed or name not in self._store.collections:
                del self._collections[name]
                if name not in self._store.collections:
                    col._left_manifest()
                with contextlib.suppress(StorageError):  # its writes are in the log
                    col._close()

    def _has(self, name: str) -> bool:
        return name in self._collections or (
            self._store is not None and name in self._store.collections
        )

    def _open(self, name: str) -> Collection:
        cached = self._collections.get(name)
        if cached is not None:
            return cached
        store = self._store
        assert store is not None
        # Opening reads files without the store's lock, so it may race another
        # process's checkpoint (a file the manifest named is gone): a reader
        # retries; a writer soon opens holding the lock, where nothing races.
        attempts = _OPEN_ATTEMPTS if self._read_only else UNLOCKED_ATTEMPTS + 1
        for attempt in range(attempts):
            locked = not self._read_only and attempt == attempts - 1
            try:
                with store.writing() if locked else store.marks.reading():
                    store.refresh()  # under the mark: what it names stays until opened
                    if name not in store.collections:
                        raise CollectionNotFoundError(f"no collection named {name!r}")
                    col, storage, replayed = self._load(store, name)
                break
            except StorageError:
                if store.writing_now or attempt == attempts - 1:
                    raise
                time.sleep(0.005 * 2**attempt)
        self._collections[name] = col
        if not self._read_only and (
            storage.older_logs() or col._needs_checkpoint or replayed > _REPLAY_CHECKPOINT
        ):
            # fold what replay rebuilt into segments and trim the log; on a full
            # disk the log still holds it all, so the collection opens anyway
            col._after_write(checkpoint=True)
        return col

    def _load(self, store: DirectoryStore, name: str) -> tuple[Collection, CollectionStorage, int]:
        """Open collection ``name`` from its files: the handle, its storage and
        how many logged writes it replayed."""
        entry = store.collections[name]
        try:
            schema = Schema.from_dict(entry["schema"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StorageError(
                f"the manifest entry of collection {name!r} in {self._uri} is damaged: {exc!r}"
            ) from None
        indexes = entry_parts(entry, name, self._uri)[0]
        storage = CollectionStorage(store, name)
        col = Collection(
            name, schema, indexes, storage=storage, read_only=self._read_only, **self._options
        )
        try:
            return col, storage, col._recover()
        except BaseException:
            col._close()
            raise


__all__ = ["DEFAULT_PARTITION", "MEMORY", "Client"]
