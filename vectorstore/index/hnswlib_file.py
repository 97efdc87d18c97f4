"""hnswlib's own index file (``save_index``), read back a piece at a time.

Writing a graph file (``hnsw_file.save_graph``) needs hnswlib's level-0 block,
its upper-level link lists and a few header fields. ``Index.__getstate__``
hands them over as one copy in memory: as large as the index itself, on top of
it, at the moment a segment is sealed. ``save_index`` writes the same bytes
from C++ without a copy, so the saver has hnswlib write its file beside the
graph file, reads it here a chunk of elements at a time, and deletes it.

The format (hnswlib 0.8 ``HierarchicalNSW::saveIndex``, little-endian): a
96-byte header (``_HEADER``); ``count * size_data_per_element`` bytes of
level-0 block; then, for each element in internal-id order, a uint32 byte
length and that many bytes of its link lists for levels 1 and up
(``level * size_links_per_element``: a multiple of 4).
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Iterator

import numpy as np

_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_FIELDS = (
    "offset_level0",
    "max_elements",
    "cur_element_count",
    "size_data_per_element",
    "label_offset",
    "offset_data",
    "max_level",
    "enterpoint_node",
    "max_M",
    "max_M0",
    "M",
    "mult",
    "ef_construction",
)


class HnswlibFile:
    """A file written by hnswlib's ``save_index``, read with plain reads.

    Attributes:
        header: the header's fields by hnswlib's names (``_FIELDS``).
        count: elements in the file.

    Raises:
        OSError: the file cannot be read, or is shorter than its header says
            (hnswlib does not check its writes: a full disk leaves a short file).
    """

    def __init__(self, path: str):
        self.path = path
        with open(path, "rb") as f:
            raw = f.read(_HEADER.size)
        if len(raw) != _HEADER.size:
            raise OSError(f"hnswlib wrote a short index file {path} (a full disk?)")
        self.header: dict[str, float] = dict(zip(_FIELDS, _HEADER.unpack(raw), strict=True))
        self.count = int(self.header["cur_element_count"])
        self.size = int(self.header["size_data_per_element"])
        self._upper_at = _HEADER.size + self.count * self.size
        if os.path.getsize(path) < self._upper_at + 4 * self.count:
            raise OSError(f"hnswlib wrote a short index file {path} (a full disk?)")

    def level0(self, step: int) -> Iterator[tuple[int, np.ndarray]]:
        """The level-0 block, ``step`` elements at a time: ``(first internal
        id, uint8 (rows, size_data_per_element))``."""
        for lo in range(0, self.count, step):
            rows = min(step, self.count - lo)
            data = np.fromfile(
                self.path, np.uint8, rows * self.size, offset=_HEADER.size + lo * self.size
            )
            if len(data) != rows * self.size:
                raise OSError(f"hnswlib's index file {self.path} ended early")
            yield lo, data.reshape(rows, self.size)

    def upper(self, size_links: int) -> tuple[np.ndarray, np.ndarray]:
        """Each element's top level and the link lists of levels >= 1, element
        after element: ``(levels int64 (count,), links uint8)``, as
        ``__getstate__`` gives ``element_levels`` and ``link_lists``.

        The per-element lengths are read without a Python step per element:
        the elements between two nonzero words are the level-0 ones, so the
        loop runs once per element with upper levels (about 1 in M).
        """
        words = np.fromfile(self.path, "<u4", offset=self._upper_at)
        if os.path.getsize(self.path) != self._upper_at + 4 * len(words):
            raise OSError(f"hnswlib's index file {self.path} has a torn end")
        nonzero = np.flatnonzero(words).tolist()
        levels = np.zeros(self.count, dtype=np.int64)
        keep = np.zeros(len(words), dtype=bool)
        at = element = 0
        while True:
            i = bisect.bisect_left(nonzero, at)
            if i == len(nonzero):
                element += len(words) - at  # the rest: level-0 elements
                break
            word = nonzero[i]
            element += word - at  # the zero words before it
            length = int(words[word])
            if element >= self.count or length % size_links or word + 1 + length // 4 > len(words):
                raise OSError(f"hnswlib's index file {self.path} cannot be parsed")
            levels[element] = length // size_links
            keep[word + 1 : word + 1 + length // 4] = True
            at, element = word + 1 + length // 4, element + 1
        if element != self.count:
            raise OSError(f"hnswlib's index file {self.path} cannot be parsed")
        return levels, words[keep].view(np.uint8)


__all__ = ["HnswlibFile"]
