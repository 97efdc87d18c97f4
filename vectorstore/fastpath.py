"""The common search, thin: what ``Collection.search`` runs when it can.

Most searches are the same call again and again: query vectors on one dense
field, the same ``limit``, ``search_params`` and ``output_fields``, no group-by,
no range. For those the general path (``routes.Router``) re-checks every
argument per call, and builds a ``Hit`` per result: on a search that takes
hnswlib ~50-100 us, that was 20-35 us of Python.

``FastSearch`` checks the arguments once per distinct shape and keeps the result
(a ``_Plan``: field, metric, checked search parameters, output fields), then per
call only validates the query vectors, takes the read lock and the segment list
once, runs the same per-segment search as the general path
(``routes.search_dense``), maps hnswlib's labels to primary keys with numpy, and
returns ``HitList`` rows whose ``Hit`` objects are made when first looked at.
The commonest layout (one segment with rows, big enough for its graph to be
walked without planning) is kept as a ``_Route`` (the graph and the keys) until
the next write section begins (``RWLock.on_write`` drops it): an unfiltered
search of every partition goes straight to the graph.

Anything else (text to embed, sparse or BM25 fields, group-by, range search,
arguments that do not check) returns None, and the caller runs the general
path, which raises its own errors in its own order. The results are the
general path's, bit for bit (tests/property/test_fastpath.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._rwlock import RWLock
from .errors import VectorStoreError
from .expr import Expr
from .hitlist import HitList, source
from .index.hnsw import HnswIndex, IncompleteSearchError
from .index_spec import Index
from .routes import Router, search_dense
from .schema import output_entity_fields
from .search import (
    MAX_TOPK,
    Rows,
    SearchParams,
    SegmentHits,
    check_window,
    gather,
    merge_rows,
    query_vectors,
)
from .search import search_params as check_search_params
from .state import CollectionState
from .types import DataType, Hits, Metric

MAX_PLANS = 256  # distinct argument shapes remembered per collection

_SCALARS = (int, float, str, bool, type(None))


class _Plan(NamedTuple):
    """What one argument shape resolves to; valid while the field's index is ``spec``."""

    field: str
    dim: int
    spec: Index | None  # the index definition it was checked against
    metric: Metric
    params: SearchParams
    k: int  # limit + offset
    offset: int
    fields: list[str]
    dynamic: str | list[str]
    keys_only: bool  # hits hold the key and the distance, no entity


class _Route(NamedTuple):
    """Where an unfiltered search of every partition goes when the collection
    has one segment with rows and it is big enough for its graph to be walked
    without planning (``Segment.walked``): valid until the next write section
    begins, for a beam of at most ``live`` rows."""

    field: str
    graph: HnswIndex
    keys: np.ndarray  # the segment's primary keys, by row offset
    live: int


class FastSearch:
    """The fast search path of one collection.

    Args:
        state: the collection's state (segments and index definitions).
        router: its router (the field rules: ``anns_field``, ``metric_of``).
        lock: its readers-writer lock.
        follow: catches up with other processes' writes (before the read lock;
            after the arguments are checked, so a bad one is reported first).
        check_open: raises if the collection is closed (under the lock).
        compile_filter: its cached filter compiler.
    """

    def __init__(
        self,
        state: CollectionState,
        router: Router,
        lock: RWLock,
        follow: Callable[[], None],
        check_open: Callable[[], None],
        compile_filter: Callable[[str | Expr, Mapping[str, object] | None], Expr],
    ):
        self._schema = schema = state.schema
        self._state = state
        self._router = router
        self._lock = lock
        self._follow = follow
        self._check_open = check_open
        self._compile = compile_filter
        self._pk = schema.primary.name
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._route: _Route | None = None
        self._walk_failed = False  # the route's graph could not answer: none until a write
        self.enabled = True  # False: every search takes the general path (tests, benchmarks)

    def search(
        self,
        data: Any,
        anns_field: str | None,
        limit: int,
        filter: str | Expr,
        offset: int,
        output_fields: Sequence[str] | None,
        search_params: Mapping[str, object] | None,
        partitions: Sequence[str] | None,
        filter_params: Mapping[str, object] | None,
        group_by_field: str | None,
        group_size: int,
    ) -> list[Hits] | None:
        """``Collection.search``, or None when this path does not apply (or an
        argument does not check): then the caller runs the general one."""
        if group_by_field is not None or group_size != 1 or type(group_size) is not int:
            return None
        if not self.enabled:
            return None
        # Every step below is on each search's path: the commonest shapes are keyed
        # inline, and the commonest layout (one segment, keys only) is searched inline.
        sp = search_params
        if type(limit) is not int or type(offset) is not int:
            return None  # (a key holds them by value: True would be 1, 2.0 would be 2)
        if (
            output_fields is None
            and (anns_field is None or type(anns_field) is str)
            and (sp is None or (type(sp) is dict and len(sp) == 1 and type(sp.get("ef")) is int))
        ):
            key: tuple[Any, ...] | None = (anns_field, limit, offset, sp and sp["ef"])
        else:
            key = _shape(anns_field, limit, offset, output_fields, search_params)
        plan = self._plans.get(key) if key is not None else None
        if plan is None or plan.spec is not self._state.indexes.get(plan.field):
            plan = self._plan(anns_field, limit, offset, output_fields, search_params)
            if plan is None:
                return None
            if key is not None:
                if len(self._plans) >= MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
        self._follow()
        if type(data) is not np.ndarray and _has_text(data):
            return None  # text to embed (or to refuse): the general path
        try:
            queries = query_vectors(plan.field, plan.dim, data)
            compiled = self._compile(filter, filter_params) if filter else None
        except VectorStoreError:
            return None  # the general path raises it, in its own order
        lock = self._lock
        taken = lock.acquire_read()
        try:
            self._check_open()
            route = self._route  # (made since the last write section began, if any)
            if (
                route is not None
                and route.field == plan.field
                and compiled is None
                and partitions is None
                and plan.keys_only
                and plan.k < route.live
                and plan.params.ef <= route.live
            ):
                try:
                    offs, dist = route.graph.search(queries, plan.k, plan.params.ef)
                except IncompleteSearchError:  # (too many deleted rows for the graph)
                    self._route, self._walk_failed = None, True  # the segment's search answers
                else:
                    return _rows(route.keys[offs], dist, offs, offset)
            if partitions is None:  # every partition, in order (as state.segments(None))
                segments = [s for p in self._state.partitions.values() for s in p if s.num_live]
            else:
                segments = [s for s in self._state.segments(partitions) if s.num_live]
            if len(segments) == 1 and plan.keys_only:  # what search_dense + _hits do here
                seg = segments[0]
                p = plan.params
                # (not from a thread's own write section: the route would outlive its writes)
                if compiled is None and partitions is None and taken and not self._walk_failed:
                    walked = seg.walked(plan.field, plan.k)
                    if walked is not None:
                        keys = seg.columns[self._pk].view
                        self._route = _Route(plan.field, walked, keys, seg.num_live)
                offs, dist = seg.search(
                    plan.field,
                    queries,
                    plan.k,
                    plan.metric,
                    p.ef,  # (never below k: search_params sees to it)
                    None if compiled is None else seg.select(compiled),
                    nprobe=p.nprobe,
                    refine_k=p.refine_k,
                )
                return _rows(seg.columns[self._pk].view[offs], dist, offs, offset)
            parts = search_dense(
                plan.field, queries, plan.k, plan.metric, plan.params, compiled, segments
            )
            return self._hits(parts, plan, queries.shape[0])
        finally:
            if taken:
                self._lock.release_read()

    def forget_route(self) -> None:
        """Drop the route: called as each write section begins (the collection
        sets it as its lock's ``RWLock.on_write``), as a write may move what it
        points at."""
        self._route, self._walk_failed = None, False

    def _plan(
        self,
        anns_field: str | None,
        limit: int,
        offset: int,
        output_fields: Sequence[str] | None,
        search_params: Mapping[str, object] | None,
    ) -> _Plan | None:
        """Check one argument shape as the general path does (None: not ours,
        or it does not check)."""
        try:
            check_window(limit, offset, cap=MAX_TOPK)
            field = self._router.anns_field(anns_field)
            f = self._schema[field]
            if f.dtype is not DataType.FLOAT_VECTOR:
                return None
            index = self._state.indexes.get(field)
            metric, index_type = self._router.metric_of(field)
            k = limit + offset
            params = check_search_params(field, search_params, k, metric, False, index_type)
            fields, dynamic = output_entity_fields(self._schema, output_fields, False)
        except VectorStoreError:
            return None
        if params.radius is not None:  # a range search widens: the general path
            return None
        keys_only = fields == [self._pk] and not dynamic
        return _Plan(
            field, f.dim or 0, index, metric, params, k, offset, fields, dynamic, keys_only
        )

    def _hits(self, parts: list[SegmentHits], plan: _Plan, q: int) -> list[Hits]:
        """Merged hits as ``HitList`` rows; keys and entities are read here, under
        the read lock, so later writes never show through."""
        if not parts:
            return [Hits() for _ in range(q)]
        offset = plan.offset
        seg_of, offs, dist = merge_rows(parts, q, plan.k, plan.metric)
        rows = Rows(seg_of[:, offset:], offs[:, offset:], dist[:, offset:])
        ids, entities = gather(parts, rows, self._pk, plan.fields, plan.dynamic)
        found = source(ids, rows.distances, rows.offsets, entities)
        return [HitList(found, r) for r in range(q)]


def _rows(keys: np.ndarray, dist: np.ndarray, offs: np.ndarray, offset: int) -> list[Hits]:
    """One segment's results (``keys`` read at ``offs``) as ``HitList`` rows,
    the first ``offset`` of each left out."""
    if offset:
        keys, dist, offs = keys[:, offset:], dist[:, offset:], offs[:, offset:]
    # An empty slot (-1) reads the last key; the row leaves it out when filled.
    found = source(keys, dist, offs, None)
    if len(offs) == 1:
        return [HitList(found, 0)]
    return [HitList(found, r) for r in range(len(offs))]


def _shape(
    anns_field: str | None,
    limit: int,
    offset: int,
    output_fields: Sequence[str] | None,
    search_params: Mapping[str, object] | None,
) -> tuple[Any, ...] | None:
    """A hashable key for an argument shape, or None when it cannot be keyed
    exactly (then the plan is made per call). ``repr`` keys the values with their
    types (``ef=64`` and ``ef=64.0`` check differently); only built-in containers
    of plain values are keyed, so a key always stands for one content."""
    if anns_field is not None and type(anns_field) is not str:
        return None
    if output_fields is not None:
        if type(output_fields) not in (list, tuple):
            return None
        for name in output_fields:
            if type(name) is not str:
                return None
    if search_params is not None and not _plain(search_params):
        return None
    return (anns_field, limit, offset, repr(output_fields), repr(search_params))


def _plain(params: Any) -> bool:
    """A dict of plain values (one nested dict allowed, pymilvus's ``params``)."""
    if type(params) is not dict:
        return False
    for name, value in params.items():
        if type(name) is not str:
            return False
        if type(value) is dict:
            if not all(type(k) is str and type(v) in _SCALARS for k, v in value.items()):
                return False
        elif type(value) not in _SCALARS:
            return False
    return True


def _has_text(data: Any) -> bool:
    """Whether ``data`` holds a string (text to embed, or to refuse)."""
    if isinstance(data, str):
        return True
    if isinstance(data, (list, tuple)):
        return any(isinstance(item, str) for item in data)
    return False


__all__ = ["MAX_PLANS", "FastSearch"]
