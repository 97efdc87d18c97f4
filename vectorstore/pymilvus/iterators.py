"""pymilvus's ``search_iterator``: the hits of one query vector, page by page,
nearest first, past Milvus's 16,384-hit ceiling of a single search."""

from __future__ import annotations

import copy
from typing import Any

from ..api import CollectionAPI as Collection
from ..search import MAX_TOPK
from ..types import Metric
from .exceptions import ParamError, milvus_errors
from .results import Hits, hits_of

_FAR = 3.0e38  # a radius no distance reaches


class SearchIterator:
    """Pages of ``batch_size`` hits: call ``next()`` until it returns ``[]``,
    then ``close()``.

    The first 16,384 hits (or ``limit``) come from one search; after them each
    page is a range search from the last distance, leaving out the keys already
    returned at exactly that distance. As on Milvus, the order and reach are
    the index's: an approximate index may leave out rows an exact scan would
    find (``query_iterator`` reads every row).
    """

    def __init__(
        self,
        col: Collection,
        data: Any,
        anns_field: str | None,
        batch_size: int,
        limit: int | None,
        expr: str,
        output_fields: list[str] | None,
        search_params: dict[str, Any],
        partitions: list[str] | None,
        round_decimal: int,
    ):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ParamError(message=f"batch_size must be a positive integer, got {batch_size!r}")
        if batch_size > MAX_TOPK:
            raise ParamError(message=f"batch_size must be at most {MAX_TOPK}, got {batch_size}")
        vectors = data if isinstance(data, list) and data and isinstance(data[0], list) else [data]
        if len(vectors) != 1:
            raise ParamError(
                message="search_iterator does not support processing multiple vectors "
                "simultaneously"
            )
        self._col = col
        self._query = vectors
        self._field = anns_field
        self._batch = batch_size
        self._left = None if limit is None or limit < 0 else int(limit)
        self._expr = expr
        self._fields = output_fields
        self._params = search_params
        self._partitions = partitions
        self._decimals = round_decimal
        self._pk = col.schema.primary.name
        self._lower_is_better = self._metric() is Metric.L2
        self._first: Hits | None = None  # the first search's hits, served in pages
        self._last: float | None = None  # the last distance returned
        self._ties: list[Any] = []  # keys returned at exactly that distance
        self._done = False

    def _metric(self) -> Metric | None:
        given = self._params.get("metric_type")
        if given:
            return Metric(str(given).upper())
        indexes = {i.field: i for i in self._col.indexes}
        field = self._field or next(
            (f.name for f in self._col.schema.fields if f.is_vector and f.name in indexes), None
        )
        index = indexes.get(field or "")
        return index.metric if index is not None else None

    def _search(self, limit: int, params: dict[str, Any], expr: str, values: Any) -> Hits:
        found = self._col.search(
            self._query,
            anns_field=self._field,
            limit=limit,
            filter=expr,
            filter_params=values,
            output_fields=self._fields,
            search_params=params,
            partitions=self._partitions,
        )
        return hits_of(found, self._pk, self._fields)[0]

    def _page(self) -> Hits:
        want = self._batch if self._left is None else min(self._batch, self._left)
        if want <= 0 or self._done:
            return Hits()
        if self._first is None and self._last is None:
            self._first = self._search(
                MAX_TOPK if self._left is None else min(self._left, MAX_TOPK),
                self._params,
                self._expr,
                None,
            )
        if self._first:
            page, self._first = Hits(self._first[:want]), Hits(self._first[want:])
            return page
        return self._beyond(want)

    def _beyond(self, want: int) -> Hits:
        """The next hits after the last distance, by a range search."""
        if self._last is None:
            self._done = True
            return Hits()
        params = copy.deepcopy(self._params)
        inner = dict(params.get("params") or {})
        inner.update(
            {"radius": _FAR, "range_filter": self._last}
            if self._lower_is_better
            else {"radius": -_FAR, "range_filter": self._last}
        )
        params["params"] = inner
        expr = f"{self._pk} not in {{_seen}}"
        if self._expr:
            expr = f"({self._expr}) and {expr}"
        page = self._search(want, params, expr, {"_seen": self._ties})
        if not page:
            self._done = True
        return page

    @milvus_errors
    def next(self) -> Hits:
        page = self._page()
        for hit in page:
            if hit.distance != self._last:
                self._last, self._ties = hit.distance, []
            self._ties.append(hit.id)
            if self._decimals >= 0:
                hit["distance"] = round(hit.distance, self._decimals)
        if self._left is not None:
            self._left -= len(page)
        return page

    def close(self) -> None:
        self._done, self._first = True, Hits()


__all__ = ["SearchIterator"]
