"""The progress of ``kestrel import``: a bar that moves as rows are embedded.

A write batch (``--batch-size``, 1,000 rows by default) can take a minute when
its text is embedded by a local model. Moving the bar once per batch left it at
0 % for that minute, so the importer embeds a batch's text here first, one
provider batch at a time, moving the bar after each; the insert then finds the
vectors in the rows and embeds nothing again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..functions import PROGRESS_CHUNK, TextEmbedding
from ..schema import Schema
from .readers import Source


class ImportProgress:
    """A tqdm bar over a source, in the source's unit (bytes, rows of a Parquet
    file, or rows written when the size is unknown).

    ``advance(done, of)`` moves it within the batch being embedded (the batch
    spans from where the last written batch ended to where reading got);
    ``written(rows)`` moves it to the end of a written batch.
    """

    def __init__(self, bar: Any, source: Source):
        self.bar = bar
        self.source = source
        self.by_bytes = source.unit == "line" and source.total is not None
        self.mark = 0  # the bar's position when the last written batch ended
        self.rows = 0  # rows written

    def advance(self, done: int, of: int) -> None:
        """``done`` of the ``of`` rows of the current batch are embedded."""
        if of <= 0:
            return
        if self.source.total is None:
            self._move(self.rows + done)
        else:
            end = self.source.progress()
            self._move(self.mark + (end - self.mark) * done // of)

    def written(self, rows: int) -> None:
        """``rows`` rows are written in all (the current batch is done)."""
        self.rows = rows
        self.mark = self.source.progress() if self.source.total is not None else rows
        self._move(self.mark)

    def _move(self, position: int) -> None:
        self.bar.update(max(0, position - self.bar.n))
        if self.by_bytes:
            self.bar.set_postfix(rows=f"{self.rows:,}", refresh=False)


@contextmanager
def import_progress(source: Source, show: bool, label: str) -> Iterator[ImportProgress]:
    """An ``ImportProgress`` on stderr (drawn only when ``show``)."""
    from tqdm import tqdm

    by_bytes = source.unit == "line" and source.total is not None
    with tqdm(
        total=source.total,
        desc=label,
        unit="B" if by_bytes else "row",
        unit_scale=True,
        unit_divisor=1024 if by_bytes else 1000,
        disable=not show,
        file=sys.stderr,
        leave=True,
        # draw every move: the bar moves once per embedded chunk or written batch,
        # never in a tight loop, and tqdm's 0.1 s throttle would hide steps
        mininterval=0,
        miniters=1,
    ) as bar:
        yield ImportProgress(bar, source)


def chunk_size(fn: TextEmbedding) -> int:
    """Texts per provider call: the provider's own batch size if its config names one
    (sentence-transformers: one forward pass), else ``PROGRESS_CHUNK``."""
    size = fn.config.get("batch_size")
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    return PROGRESS_CHUNK


def embed_ahead(
    schema: Schema, rows: list[dict[str, Any]], advance: Callable[[int, int], None]
) -> None:
    """Fill the vectors a TextEmbedding function would compute, chunk by chunk.

    Only rows the engine would embed are touched (no vector of their own, text
    that is a string); anything else is left for the engine's checks to report.
    Each distinct text of a chunk is embedded once.

    Args:
        schema: the collection's schema.
        rows: the batch's insert rows (changed in place).
        advance: called with (rows embedded so far, rows to embed) after each chunk.

    Raises:
        EmbeddingError, ConfigError: the provider failed or cannot be built.
    """
    work = []
    for fn in schema.functions:
        if isinstance(fn, TextEmbedding):
            todo = [
                r for r in rows if r.get(fn.output) is None and isinstance(r.get(fn.input), str)
            ]
            if todo:
                work.append((fn, todo))
    total = sum(len(todo) for _, todo in work)
    done = 0
    for fn, todo in work:
        size = chunk_size(fn)
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            texts = list(dict.fromkeys(row[fn.input] for row in chunk))
            vectors = fn.embed_documents(texts, schema[fn.output].dim, progress=False)
            by_text = dict(zip(texts, vectors, strict=True))
            for row in chunk:
                row[fn.output] = by_text[row[fn.input]]
            done += len(chunk)
            advance(done, total)


__all__ = ["ImportProgress", "chunk_size", "embed_ahead", "import_progress"]
