"""``kestrel export``: a collection's rows as JSONL, CSV or Parquet."""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from ..collection import Collection
from ..functions import BM25
from ..schema import DYNAMIC_FIELD, Schema
from ._common import CliError, count_rows, get_collection, open_store, split_names
from .formats import FORMATS, default_delimiter, format_of
from .writers import Columns, open_writer, stdout_is_terminal, tidy_rows


def _columns(schema: Schema, names: list[str], vectors: bool | None) -> Columns:
    """The columns of an export: ``--fields`` (or every field) and ``--vectors``."""
    bm25 = {fn.output for fn in schema.functions if isinstance(fn, BM25)}
    if not names:
        fields = [
            f
            for f in schema.fields
            if f.name not in bm25 and (vectors is not False or not f.is_vector)
        ]
        return Columns(fields, [], schema.enable_dynamic_field)
    fields, dynamic, meta = [schema.primary], [], False
    for name in names:
        f = schema.get(name)
        if name == DYNAMIC_FIELD:
            meta = True
        elif f is not None:
            if f.is_vector and vectors is False:
                raise click.BadParameter(f"{name!r} is a vector field", param_hint="--no-vectors")
            if f not in fields:
                fields.append(f)
        elif schema.enable_dynamic_field:
            dynamic.append(name)
        else:
            raise CliError(f"no field {name!r} (fields: {', '.join(schema.names)})")
    if vectors:
        fields += [f for f in schema.vector_fields if f not in fields and f.name not in bm25]
    fields.sort(key=lambda f: not f.is_primary)
    return Columns(fields, dynamic, meta)


def _pages(
    col: Collection,
    query: dict[str, Any],
    limit: int | None,
    page: int,
) -> Iterator[list[dict[str, Any]]]:
    """Rows in pages of ``page`` (the read-only snapshot keeps offsets stable)."""
    offset = 0
    while limit is None or offset < limit:
        size = page if limit is None else min(page, limit - offset)
        rows = col.query(limit=size, offset=offset, **query)
        if rows:
            yield rows
        offset += len(rows)
        if len(rows) < size:
            return


@contextmanager
def _destination(output: str, fmt: str) -> Iterator[IO[bytes]]:
    """The binary stream to write: stdout, or a temporary file renamed over
    ``output`` only when the export succeeded."""
    if output == "-":
        if fmt == "parquet" and stdout_is_terminal():
            raise click.UsageError("refusing to write Parquet to a terminal: use -o FILE or a pipe")
        stream = sys.stdout.buffer
        yield stream
        stream.flush()
        return
    folder = os.path.dirname(os.path.abspath(output))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(output)}.", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as raw:
            if output.endswith(".gz") and fmt != "parquet":
                with gzip.GzipFile(filename="", fileobj=raw, mode="wb") as packed:
                    yield packed  # type: ignore[misc]
            else:
                yield raw
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise


@click.command("export")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@click.option(
    "-o",
    "--output",
    default="-",
    metavar="FILE",
    show_default=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to FILE ('-': stdout). Written to a temporary file and renamed at the "
    "end, so a failed export leaves no partial file.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="Default: from FILE's extension (.gz compresses JSONL and CSV); JSONL on stdout.",
)
@click.option(
    "--filter",
    "filter_expr",
    default="",
    metavar="EXPR",
    help="Only rows passing this filter expression, e.g. 'views > 10'.",
)
@click.option(
    "--fields",
    multiple=True,
    metavar="A,B",
    help="Only these fields and dynamic keys ($meta: every dynamic key); the primary "
    "key is always written. Repeatable.",
)
@click.option(
    "--vectors/--no-vectors",
    default=None,
    help="Write vector fields (the default, unless --fields is given). BM25 fields are "
    "computed and never written unless named in --fields.",
)
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="NAME",
    help="Only these partitions. Repeatable.",
)
@click.option("--limit", type=click.IntRange(0), help="At most this many rows.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1_000_000),
    default=10_000,
    show_default=True,
    help="Rows read per page.",
)
@click.option("--delimiter", metavar="CHAR", help="CSV delimiter. Default: ',' (tab for .tsv).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr. Default: when stderr is a terminal.",
)
def export_command(
    path: str,
    collection: str,
    output: str,
    fmt: str | None,
    filter_expr: str,
    fields: tuple[str, ...],
    vectors: bool | None,
    partitions: tuple[str, ...],
    limit: int | None,
    batch_size: int,
    delimiter: str | None,
    progress: bool | None,
) -> None:
    """Export rows of COLLECTION in the store at PATH as JSONL (default), CSV or Parquet.

    The store is opened read-only: exporting works while another process writes,
    and sees the store as of its start. Rows come in storage order.

    \b
    JSONL: one object per row, dynamic fields as top-level keys. Vectors are
      written in the shortest decimal form that reads back as the same float32.
    CSV: a header, JSON text for JSON, ARRAY and vector cells, dynamic keys as
      columns (CSV has no types: a dynamic string such as "42" comes back as a
      number; use JSONL or Parquet for exact round trips).
    Parquet (needs pyarrow): typed columns; JSON fields and sparse vectors as
      JSON text; dynamic fields in one $meta column of JSON objects.
    Each reads back with kestrel import. A summary goes to stderr.

    \b
    Examples:
      kestrel export ./db docs -o docs.jsonl
      kestrel export ./db docs --filter 'lang == "en"' --fields id,text --format csv | head
    """
    fmt = (fmt or "jsonl") if output == "-" else format_of(output, fmt)
    if delimiter is not None and (fmt != "csv" or len(delimiter) != 1):
        raise click.BadParameter("takes one character, for CSV files", param_hint="--delimiter")
    show = sys.stderr.isatty() if progress is None else progress
    with open_store(path, write=False) as db:
        col = get_collection(db, collection)
        columns = _columns(col.schema, split_names(fields), vectors)
        where: dict[str, Any] = {"filter": filter_expr, "partitions": list(partitions) or None}
        total = col.count(filter_expr, partitions=list(partitions) or None)  # checks the filter
        total = total if limit is None else min(total, limit)
        if fmt == "csv" and columns.meta:  # CSV needs every column in its header
            keys: dict[str, None] = {}
            for rows in _pages(col, {**where, "output_fields": [DYNAMIC_FIELD]}, limit, batch_size):
                for row in rows:
                    keys.update(dict.fromkeys(k for k in row if k != col.schema.primary.name))
            found = sorted(keys.keys() - set(columns.dynamic))
            columns = Columns(columns.fields, columns.dynamic + found, False)
        wanted = [f.name for f in columns.fields] + columns.dynamic
        query = {**where, "output_fields": wanted + ([DYNAMIC_FIELD] if columns.meta else [])}
        from tqdm import tqdm

        written = 0
        with (
            _destination(output, fmt) as stream,
            tqdm(
                total=total,
                desc=f"exporting {collection}",
                unit="row",
                disable=not show,
                file=sys.stderr,
            ) as bar,
        ):
            writer = open_writer(fmt, stream, columns, delimiter or default_delimiter(output))
            for rows in _pages(col, query, limit, batch_size):
                writer.write(tidy_rows(rows, columns))
                written += len(rows)
                bar.update(len(rows))
            writer.close()
    target = "stdout" if output == "-" else output
    click.echo(f"exported {count_rows(written)} from {collection!r} to {target} ({fmt})", err=True)


__all__ = ["export_command"]
