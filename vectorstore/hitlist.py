"""``HitList``: one query's hits as a ``list`` of ``Hit``, built when first looked at.

A search's answer is a list of ``Hits`` (a ``list[Hit]`` with ``ids`` and
``distances``). Building ten ``Hit`` objects per query costs about as much as the
rest of the engine's work on a small search, so the fast search path
(``fastpath``) hands back the keys and distances as numpy rows and the ``Hit``
objects are made on the first look: indexing, iteration, ``len``, comparison,
``repr``, copying, pickling, any list method. Everything a ``list`` does, a
``HitList`` does, with the same hits; ``isinstance(row, list)`` holds. ``ids``
and ``distances`` read the rows without making any ``Hit``.

The keys were read under the collection's read lock, so filling later sees the
rows as the search saw them, whatever was written since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .types import Hit, Hits

# A fill builds its hits first, then installs them under this lock only if no other
# thread did: readers never see the list half-filled or filled twice.
_INSTALL = threading.Lock()


def source(
    ids: np.ndarray, distances: np.ndarray, offsets: np.ndarray, entities: np.ndarray | None
) -> list[Any]:
    """What the ``HitList`` rows of one search share: arrays of shape (q, width) of
    primary keys, distances, row offsets (``-1`` marks an empty slot, left out) and
    entities (dicts without the key; None: key-only hits). The last item caches the
    arrays as Python lists, converted once for all rows on the first look at any.
    (A list, not an object: this is built on every search.)"""
    return [ids, distances, offsets, entities, None]


class HitList(Hits):
    """Hits of one query, best first; a ``list`` whose items are made on first use.

    Args:
        source: from ``source``, shared by every query of the search.
        row: which query's row this list holds.
    """

    __slots__ = ("_row", "_source")

    def __init__(self, source: list[Any], row: int):
        # list.__init__ is not called: the list is empty until filled
        self._source: list[Any] | None = source
        self._row = row

    def _fill(self) -> None:
        src = self._source
        if src is None:
            return
        lists = src[4]
        if lists is None:  # two threads may both convert: the same lists either way
            ids_a, dist_a, offs_a, ents_a = src[:4]
            lists = src[4] = (
                ids_a.tolist(),
                dist_a.tolist(),
                offs_a.tolist(),
                None if ents_a is None else ents_a.tolist(),
            )
        r = self._row
        ids, dists, offs = lists[0][r], lists[1][r], lists[2][r]
        if lists[3] is None:
            hits = [Hit(pk, d, {}) for pk, d in zip(ids, dists, strict=True)]
        else:
            hits = [
                Hit(pk, d, e if e is not None else {})
                for pk, d, e in zip(ids, dists, lists[3][r], strict=True)
            ]
        if offs and min(offs) < 0:  # empty slots (fewer rows than asked)
            hits = [h for h, o in zip(hits, offs, strict=True) if o >= 0]
        with _INSTALL:
            if self._source is not None:
                list.extend(self, hits)
                self._source = None

    @property
    def ids(self) -> list[int | str]:
        """The hits' keys, read from the search's arrays: no ``Hit`` is made."""
        src = self._source  # read once: another thread may fill this list meanwhile
        return super().ids if src is None else _column(src, 0, self._row)

    @property
    def distances(self) -> list[float]:
        """The hits' distances, read from the search's arrays."""
        src = self._source
        return super().distances if src is None else _column(src, 1, self._row)

    def filled(self) -> list[Hit]:
        """The hits as a plain ``list``."""
        if self._source is not None:
            self._fill()
        return list.copy(self)

    # Hot reads: the check is inlined.
    def __getitem__(self, index: Any) -> Any:
        if self._source is not None:
            self._fill()
        return list.__getitem__(self, index)

    def __iter__(self) -> Any:
        if self._source is not None:
            self._fill()
        return list.__iter__(self)

    def __len__(self) -> int:
        if self._source is not None:
            self._fill()
        return list.__len__(self)

    def __repr__(self) -> str:
        if self._source is not None:
            self._fill()
        return list.__repr__(self)

    # Operations that read another list's storage directly fill that one too.
    def __eq__(self, other: object) -> bool:
        return _both(list.__eq__, self, other)  # type: ignore[no-any-return]

    def __ne__(self, other: object) -> bool:
        return _both(list.__ne__, self, other)  # type: ignore[no-any-return]

    def __lt__(self, other: object) -> Any:
        return _both(list.__lt__, self, other)

    def __le__(self, other: object) -> Any:
        return _both(list.__le__, self, other)

    def __gt__(self, other: object) -> Any:
        return _both(list.__gt__, self, other)

    def __ge__(self, other: object) -> Any:
        return _both(list.__ge__, self, other)

    def __add__(self, other: Any) -> Any:
        return _both(list.__add__, self, other)

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, list):
            return NotImplemented
        return _both(list.__add__, other, self)

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickled and copied as ``Hits`` holding its hits."""
        return (Hits, (self.filled(),))

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__reduce_ex__(2)


def _column(src: list[Any], column: int, row: int) -> list[Any]:
    """One row of one of ``source``'s arrays as a new list, empty slots left out."""
    lists = src[4]
    if lists is not None:
        values, offs = list(lists[column][row]), lists[2][row]
    else:
        values, offs = src[column][row].tolist(), src[2][row].tolist()
    if offs and min(offs) < 0:
        return [v for v, o in zip(values, offs, strict=True) if o >= 0]
    return values


def _both(method: Callable[..., Any], a: Any, b: Any) -> Any:
    for x in (a, b):
        if isinstance(x, HitList) and x._source is not None:
            x._fill()
    return method(a, b)


def _filling(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def call(self: HitList, *args: Any, **kwargs: Any) -> Any:
        if self._source is not None:
            self._fill()
        return method(self, *args, **kwargs)

    call.__name__ = name
    call.__doc__ = method.__doc__
    return call


# Every other list method fills the list first (a list subclass whose storage is
# empty must never reach one of list's own methods unfilled).
for _name in (
    "__contains__",
    "__reversed__",
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__mul__",
    "__rmul__",
    "__imul__",
    "__sizeof__",
    "append",
    "clear",
    "copy",
    "count",
    "extend",
    "index",
    "insert",
    "pop",
    "remove",
    "reverse",
    "sort",
):
    setattr(HitList, _name, _filling(_name))
del _name


__all__ = ["HitList", "source"]
