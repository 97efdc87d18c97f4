"""A collection's locks: its own readers-writer lock, the store's write lock,
and following what other processes wrote (``follow``).

Reads share the collection's lock; writes hold it alone, and on a path store
take the store's write lock first (one writer at a time across every process,
always in that order, so no two threads wait on each other). Before a read, a
process checks the store's shared change counter and catches up if another
process wrote; a write catches up holding the store's lock, so it checks keys
against, and appends after, everything acknowledged before it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from . import follow
from ._rwlock import RWLock
from .errors import ClosedError, ReadOnlyError, StorageError
from .state import CollectionState

if TYPE_CHECKING:
    from .storage.collection_files import CollectionStorage

UNLOCKED_ATTEMPTS = 3  # a writer's catch-ups racing checkpoints before it takes the lock


class Guard:
    """The locking half of a ``Collection`` (its base class).

    Args:
        name: the collection's name (for messages).
        state: its state in memory.
        storage: its files (None for a memory store).
        read_only: writes are refused and no lock is ever taken.
    """

    def __init__(
        self,
        name: str,
        state: CollectionState,
        storage: CollectionStorage | None,
        read_only: bool,
    ):
        self._name = name
        self._state = state
        self._storage = storage
        self._read_only = read_only
        self._lock = RWLock()
        self._closed = False
        self._gone = False  # dropped or renamed by another process
        self._interrupted = False  # a write was cut short: never persist this state

    @contextmanager
    def _reading(self) -> Iterator[None]:
        self._follow()
        with self._lock.read:
            self._check_open()
            yield

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The store's write lock (path stores), then this collection's, then
        catch up with what other processes wrote (most of it before taking the
        store's lock, so processes replay each other's writes in parallel)."""
        if self._read_only:
            raise ReadOnlyError(f"collection {self._name!r} is open read-only")
        self._check_open()  # a closed store has no write lock to take
        storage = self._storage
        if storage is not None:
            self._follow()  # the bulk of others' writes, replayed while they keep writing
        with storage.store.writing() if storage is not None else nullcontext(), self._lock.write:
            self._check_open()
            if storage is not None:
                self._catch_up(storage, locked=True)
            yield

    def _follow(self) -> None:
        """Before a read: catch up if another process may have written (one
        load from the store's shared change counter when none did).

        Without the store's lock a catch-up can lose races with other
        processes' checkpoints (a file named by the manifest it read is gone);
        a reader retries, a writer soon takes the lock, where nothing races.
        """
        storage = self._storage
        if storage is None or not storage.stale():
            return
        attempts = follow.ATTEMPTS if self._read_only else UNLOCKED_ATTEMPTS
        try:
            with self._lock.write:
                self._check_open()
                self._catch_up(storage, locked=False, attempts=attempts)
        except StorageError:
            if self._read_only:
                raise
            with storage.store.writing(), self._lock.write:  # where nothing races
                self._check_open()
                self._catch_up(storage, locked=True)

    def _catch_up(
        self, storage: CollectionStorage, locked: bool, attempts: int = follow.ATTEMPTS
    ) -> None:
        try:
            follow.catch_up(self._state, storage, locked, self._interruptible, attempts)
        except follow.CollectionGoneError:
            self._left_manifest()
            raise

    def _left_manifest(self) -> None:
        """Another process dropped or renamed this collection: refuse every call."""
        self._gone = self._closed = True

    def _check_open(self) -> None:
        if self._interrupted:
            raise ClosedError(
                f"collection {self._name!r} was closed when a write was interrupted halfway; "
                "reopen the store: its write-ahead log has every logged write"
            )
        if self._gone:
            raise follow.CollectionGoneError(self._name)
        if self._closed:
            raise ClosedError(f"collection {self._name!r} is closed or was dropped")

    @contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Memory changes that must happen whole. If one is cut short (Ctrl-C, an
        error deep in a library), the collection is closed at once, so that no
        checkpoint writes the half-changed state: reopening the store replays
        the write-ahead log, which has every write that was logged."""
        try:
            yield
        except BaseException:
            self._interrupted = True
            self._closed = True
            raise
