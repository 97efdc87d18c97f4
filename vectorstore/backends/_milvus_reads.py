"""Reads that take more than one request, or none: existence checks by key, query
windows larger than one Milvus answer, and the remembered partition names.

``read`` is the collection's ``_read``: ``MilvusClient.<method>(collection, ...)``
at the client's consistency level, with Kestrel's errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..errors import PartitionNotFoundError
from ..names import DEFAULT_PARTITION
from ..rows import PrimaryKey
from ..schema import Schema
from . import _milvus_query as mq
from ._milvus_rows import plain
from ._milvus_version import ServerInfo

KEY_BATCH = 4096  # primary keys per "pk in [...]" read
PAGE = 4096  # rows per page of an unbounded query on a Milvus server

Read = Callable[..., Any]


class Window(NamedTuple):
    """Which rows of a query: ``offset`` skipped, at most ``limit`` (None: all)."""

    limit: int | None
    offset: int
    partitions: list[str] | None


class Partitions:
    """A collection's partition names, listed from Milvus and remembered, so that a
    call naming known partitions costs no request.

    Args:
        collection: the collection's name (for messages).
        rpc: the collection's ``_rpc``.
    """

    def __init__(self, collection: str, rpc: Read):
        self._collection = collection
        self._rpc = rpc
        self.known: set[str] = {DEFAULT_PARTITION}

    def names(self) -> list[str]:
        """Partition names, ``_default`` first (one request)."""
        names = list(self._rpc("list_partitions"))
        if DEFAULT_PARTITION in names:
            names.remove(DEFAULT_PARTITION)
            names.insert(0, DEFAULT_PARTITION)
        self.known = set(names)
        return names

    def require(self, names: Sequence[str] | str | None) -> list[str] | None:
        """The partitions of a call (None: all), checked to exist, as the engine
        does (Milvus reads of a missing partition may just find nothing).

        Raises:
            PartitionNotFoundError: one of them does not exist.
        """
        if names is None:
            return None
        wanted = [names] if isinstance(names, str) else list(names)
        if not wanted:
            return None
        if not set(wanted) <= self.known:
            self.names()
        for name in wanted:
            if name not in self.known:
                raise PartitionNotFoundError(
                    f"collection {self._collection!r} has no partition {name!r}"
                )
        return wanted


def existing(
    read: Read,
    schema: Schema,
    keys: Sequence[PrimaryKey],
    partitions: list[str] | None,
    *,
    server: ServerInfo,
) -> set[PrimaryKey]:
    """Which of ``keys`` exist (in ``partitions``, None: anywhere)."""
    pk_name = schema.primary.name
    found: set[PrimaryKey] = set()
    pk_only = mq.output(schema, [pk_name], default_all=False)
    for start in range(0, len(keys), KEY_BATCH):
        chunk = keys[start : start + KEY_BATCH]
        flt = mq.keys_filter(pk_name, chunk, server)
        rows = read(
            "query",
            output_fields=list(pk_only.request),
            partition_names=partitions,
            limit=len(chunk),
            **flt.kwargs(),
        )
        found.update(plain(r[pk_name]) for r in rows)
    return found


def fetch(
    read: Read,
    pk_name: str,
    flt: mq.Filter,
    out: mq.Output,
    window: Window,
    *,
    server: ServerInfo,
) -> list[dict[str, Any]]:
    """Rows passing ``flt`` in a window. Milvus answers at most 16,384 rows per
    query, so bigger windows on a server are read in primary key order, page by
    page; Milvus Lite has no such cap.

    A server ends a page early where one segment runs out of rows (it keeps
    primary key order across segments that way), so only an empty page ends
    the read."""
    limit, offset, parts = window
    common: dict[str, Any] = {"output_fields": list(out.request), "partition_names": parts}
    if limit is not None and limit + offset <= mq.MAX_WINDOW:
        rows = read("query", limit=limit, offset=offset, filters=[flt], **common, **flt.kwargs())
        return [out.row(r) for r in rows]
    if server.lite:
        rows = read("query", filters=[flt], **common, **flt.kwargs())
        stop = None if limit is None else offset + limit
        return [out.row(r) for r in rows[offset:stop]]
    found: list[dict[str, Any]] = []
    last: PrimaryKey | None = None
    skip = offset
    while limit is None or len(found) < limit:
        page_filter = flt
        if last is not None:
            page_filter = mq.both(mq.after_filter(pk_name, last, server), flt)
        page = read(
            "query",
            limit=PAGE,
            iterator="True",
            reduce_stop_for_best="True",
            filters=[flt],
            **common,
            **page_filter.kwargs(),
        )
        if not page:
            break
        last = plain(page[-1][pk_name])
        taken = min(skip, len(page))
        skip -= taken
        found.extend(out.row(r) for r in page[taken:])
    return found if limit is None else found[:limit]


__all__ = ["KEY_BATCH", "PAGE", "Partitions", "Window", "existing", "fetch"]
