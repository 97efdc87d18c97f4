"""What every ``kestrel`` command shares: errors, opening a store, formatting."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any

import click
import numpy as np

from ..client import Client
from ..collection import Collection
from ..errors import FilterSyntaxError, VectorStoreError
from ..expr import Exists, field_names, parse
from ..expr import Field as ExprField
from ..schema import DYNAMIC_FIELD, Field
from ..storage.store import MANIFEST
from ..types import DataType

MAX_CELL = 60  # characters of a table cell before it is cut with "…"


class CliError(click.ClickException):
    """A runtime failure: one line ``error: ...`` on stderr, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``error: <message>`` (one line) on stderr."""
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def note(message: str) -> None:
    """A note on stderr (created collection, interrupted...) that leaves a progress bar intact."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def one_line(text: str) -> str:
    """``text`` on one line: line breaks become spaces, runs of blanks one space."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def describe_error(exc: BaseException) -> str:
    """The one-line message for an error of the engine or of the file system.

    Args:
        exc: a ``VectorStoreError`` or an ``OSError``.

    Returns:
        A message without a traceback or line breaks. A filter error keeps its
        first line (position included) and names the expression instead of
        drawing a caret under it.
    """
    if isinstance(exc, FilterSyntaxError):
        first = str(exc).splitlines()[0] if str(exc) else "invalid filter"
        shown = f" in filter {exc.expression!r}" if exc.expression else ""
        return first + shown
    if isinstance(exc, OSError) and not isinstance(exc, VectorStoreError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    # the engine's advice names its Python call; on the command line it is an option
    text = one_line(str(exc)).replace(
        "(db.get_collection(name, embedding=provider))", "with --embedding (its JSON config)"
    )
    return text or type(exc).__name__


class Interrupts:
    """Ctrl-C deferred to safe points while a command writes to a store.

    An interrupt inside an engine write could leave the collection's memory
    half-updated, and closing the store would then persist that. So the first
    Ctrl-C only asks to stop: ``check()`` raises ``KeyboardInterrupt`` at the
    next safe point (between batches). A second Ctrl-C exits at once without
    closing the store: as after a crash, the next open recovers every
    acknowledged write from the write-ahead log.

    Args:
        what: what the command finishes before stopping ("batch", "collection").
    """

    def __init__(self, what: str):
        self.what = what
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            note("stopped at once; the store recovers from its write-ahead log when next opened")
            os._exit(130)
        self.requested = True
        note(f"stopping after the current {self.what} (Ctrl-C again to stop at once)")

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (call at safe points)."""
        if self.requested:
            raise KeyboardInterrupt


# ------------------------------------------------------------------ the store
def store_exists(path: str) -> bool:
    """Whether ``path`` holds a Kestrel store (its manifest)."""
    return os.path.isfile(os.path.join(path, MANIFEST))


def require_store(path: str) -> None:
    """Check that ``path`` holds a store.

    Raises:
        CliError: it does not (says whether the directory exists at all).
    """
    if not store_exists(path):
        why = "no such directory" if not os.path.exists(path) else f"no {MANIFEST}"
        raise CliError(f"no Kestrel store at {path} ({why})")


@contextmanager
def open_store(path: str, *, write: bool, create: bool = False) -> Iterator[Client]:
    """Open the store at ``path``, closing it (and flushing, if writable) on exit.

    Args:
        path: the store directory.
        write: take the writer lock (import, compact); otherwise open read-only,
            which works while another process writes.
        create: a missing store is created (import) instead of an error.

    Raises:
        CliError: no store at ``path`` (and ``create`` is false).
        LockedError: a write waited past the lock timeout for other processes.
    """
    if not create:
        require_store(path)
    client = Client(path, read_only=not write)  # a path: always the embedded engine
    try:
        yield client
    finally:
        client.close()


def get_collection(db: Client, name: str, *, embedding: Any = None) -> Collection:
    """The collection ``name`` of ``db``.

    Raises:
        CliError: there is none; the message lists the collections there are,
            so a typo is seen at once.
    """
    if not db.has_collection(name):
        names = db.list_collections()
        there = f"collections: {', '.join(names)}" if names else "the store has no collections"
        raise CliError(f"no collection named {name!r} ({there})")
    return db.get_collection(name, embedding=embedding)


def filter_note(col: Collection, expr: str) -> None:
    """Say when a filter names a key that is no declared field and that no row has.

    Without a dynamic field the engine rejects such a name (an error with exit
    code 1). With one, Milvus reads it as a dynamic key, which is legal even
    when no row has it: the filter then matches nothing, and a typo ('yr' for
    'year') would pass as "no hits". A note on stderr names it and the fields.
    """
    schema = col.schema
    if not expr.strip() or not schema.enable_dynamic_field:
        return
    try:
        names = field_names(parse(expr))
    except VectorStoreError:
        return  # the engine reports a bad filter, with its position
    for name in sorted(n for n in names if n not in schema.names and n != DYNAMIC_FIELD):
        if col.count(Exists(ExprField(name, dynamic=True))) == 0:
            note(
                f"note: no row of {col.name!r} has a value for {name!r}, so the filter matches no "
                f"row; {name!r} is not a field (fields: {', '.join(schema.names)}) but a "
                "dynamic key"
            )


def confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on stderr unless ``yes`` (``--yes``); stop unless answered yes.

    The answer is read from stdin, so a script may pipe ``y`` as well as pass --yes.

    Raises:
        CliError: the answer was no, or stdin ended without one.
    """
    if yes:
        return
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:  # stdin ended with no answer
        click.echo(err=True)  # end the question's line
        raise CliError(
            "not confirmed (no answer on stdin): nothing was changed; pass --yes to skip "
            "the question"
        ) from None
    if not agreed:
        raise CliError("not confirmed: nothing was changed")


# ---------------------------------------------------------------- formatting
def split_names(values: Iterable[str]) -> list[str]:
    """Names from repeated and comma-separated options: ``("a,b", "c")`` -> a, b, c."""
    out: list[str] = []
    for value in values:
        out.extend(name.strip() for name in value.split(",") if name.strip())
    return list(dict.fromkeys(out))


def count_rows(count: int) -> str:
    """``1`` -> ``"1 row"``, ``12000`` -> ``"12,000 rows"``."""
    return f"{count:,} row{'s' * (count != 1)}"


def human_bytes(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"`` (powers of 1024; bytes below 1 KiB)."""
    if size < 1024:
        return f"{size} B"
    exponent = min(int(math.log(size, 1024)), 4)
    return f"{size / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB', 'TiB')[exponent - 1]}"


def dir_bytes(path: str) -> int:
    """Bytes of every file under ``path`` (0 if it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with suppress(FileNotFoundError):  # removed by a writer while we walked
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def type_label(f: Field) -> str:
    """A field's type as shown: ``INT64``, ``VARCHAR(64)``, ``FLOAT_VECTOR(384)``,
    ``ARRAY<INT64>(16)``."""
    if f.dtype is DataType.VARCHAR:
        return f"VARCHAR({f.max_length})"
    if f.dtype is DataType.FLOAT_VECTOR:
        return f"FLOAT_VECTOR({f.dim})"
    if f.dtype is DataType.ARRAY and f.element_type is not None:
        return f"ARRAY<{f.element_type.name}>({f.max_capacity})"
    return f.dtype.name


def field_flags(f: Field) -> list[str]:
    """What else is true of a field: primary key, auto_id, nullable, default, analyzer."""
    flags = []
    if f.is_primary:
        flags.append("primary key")
    if f.auto_id:
        flags.append("auto_id")
    if f.nullable:
        flags.append("nullable")
    if f.default_value is not None:
        flags.append(f"default={dumps(f.default_value)}")
    if f.analyzer is not None:
        flags.append(f"analyzer={dumps(f.analyzer)}")
    return flags


def json_default(value: Any) -> Any:
    """``json.dumps`` fallback for numpy values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of ``value`` (UTF-8 kept as is, numpy values converted)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=json_default)


def cell(value: Any, width: int = MAX_CELL) -> str:
    """A value for a table cell: JSON for lists and dicts, one line, cut at ``width``."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, str):
        text = value
    else:
        text = dumps(value)
    text = " ".join(text.split()) if any(c in text for c in "\n\r\t") else text
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as aligned columns under a header (two spaces apart)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [list(headers), *rows]
    ]
    return "\n".join(lines)


__all__ = [
    "CliError",
    "Interrupts",
    "cell",
    "confirm",
    "count_rows",
    "describe_error",
    "dir_bytes",
    "dumps",
    "field_flags",
    "filter_note",
    "get_collection",
    "human_bytes",
    "note",
    "one_line",
    "open_store",
    "require_store",
    "split_names",
    "store_exists",
    "table",
    "type_label",
]
