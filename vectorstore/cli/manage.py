"""``kestrel list``, ``query``, ``delete`` and ``drop``: the everyday verbs.

``list`` and ``query`` open the store read-only (they run beside a live app
holding the writer lock); ``delete`` and ``drop`` take the writer lock and ask
before they change anything (``--yes`` skips the question).
"""

from __future__ import annotations

from typing import Any

import click

from ..collection import Collection
from ..schema import DYNAMIC_FIELD, Schema
from ..types import DataType
from ._common import (
    cell,
    confirm,
    count_rows,
    dumps,
    filter_note,
    get_collection,
    note,
    open_store,
    split_names,
    table,
    type_label,
)

_FILTER = click.option(
    "--filter",
    "filter_expr",
    default="",
    metavar="EXPR",
    help="Only rows passing this filter expression, e.g. 'views > 10'.",
)
_PARTITION = click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="NAME",
    help="Only these partitions. Repeatable.",
)
_YES = click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")


# ---------------------------------------------------------------------- list
@click.command("list")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(path: str, as_json: bool) -> None:
    """List the collections of the store at PATH with their row counts,
    partitions and vector fields.

    The store is opened read-only: this works while another process writes.

    \b
    JSON (--json): [{"name", "row_count", "partitions", "vector_fields":
    {name: type}}].
    """
    with open_store(path, write=False) as db:
        entries = [_entry(db.get_collection(name)) for name in sorted(db.list_collections())]
    if as_json:
        click.echo(dumps(entries, indent=2))
    elif not entries:
        click.echo("(no collections)")
    else:
        rows = [
            [
                e["name"],
                f"{e['row_count']:,}",
                str(len(e["partitions"])),
                ", ".join(f"{k} {v}" for k, v in e["vector_fields"].items()),
            ]
            for e in entries
        ]
        click.echo(table(["collection", "rows", "partitions", "vector fields"], rows))


def _entry(col: Collection) -> dict[str, Any]:
    stats = col.stats()
    return {
        "name": col.name,
        "row_count": stats["row_count"],
        "partitions": sorted(stats["partitions"]),
        "vector_fields": {f.name: type_label(f) for f in col.schema.vector_fields},
    }


# --------------------------------------------------------------------- query
def rows_table(rows: list[dict[str, Any]], pk: str) -> str:
    """Rows as a table: the key, then every field and dynamic key seen."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(k for k in row if k != pk))
    return table(
        [pk, *columns], [[cell(r.get(pk)), *(cell(r.get(c)) for c in columns)] for r in rows]
    )


def _output_fields(schema: Schema, given: tuple[str, ...]) -> list[str]:
    """``--fields`` (every scalar field and dynamic key by default; '*' is everything)."""
    names = split_names(given)
    if names:
        return names
    return [f.name for f in schema.scalar_fields] + (
        [DYNAMIC_FIELD] if schema.enable_dynamic_field else []
    )


@click.command("query")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@_FILTER
@click.option(
    "--fields",
    multiple=True,
    metavar="A,B",
    help=(
        "Fields and dynamic keys to show ('*': every field, vectors included). Default: every "
        "scalar field and dynamic key. Repeatable."
    ),
)
@click.option(
    "--limit", type=click.IntRange(1), default=10, show_default=True, help="Rows to show."
)
@click.option("--offset", type=click.IntRange(0), default=0, help="Rows to skip first.")
@_PARTITION
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array.")
def query_command(
    path: str,
    collection: str,
    filter_expr: str,
    fields: tuple[str, ...],
    limit: int,
    offset: int,
    partitions: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show rows of COLLECTION in the store at PATH that pass a filter (all rows
    without one), in storage order.

    Prints a table (the primary key, then the fields), or JSON with --json; when
    more rows match than are shown, a line on stderr says how many. For every
    row in a file, use kestrel export. The store is opened read-only.

    \b
    Examples:
      kestrel query ./db docs --filter 'lang == "en" and views > 10' --fields text,views
      kestrel query ./db docs --limit 100 --json | jq '.[].id'
    """
    with open_store(path, write=False) as db:
        col = get_collection(db, collection)
        filter_note(col, filter_expr)
        where: dict[str, Any] = {"filter": filter_expr, "partitions": list(partitions) or None}
        matching = col.count(filter_expr, partitions=where["partitions"])  # checks the filter
        rows = col.query(
            output_fields=_output_fields(col.schema, fields), limit=limit, offset=offset, **where
        )
        pk = col.schema.primary.name
    if len(rows) < matching:
        note(f"showing {count_rows(len(rows))} of {matching:,} (--limit, --offset show others)")
    if as_json:
        click.echo(dumps(rows, indent=2))
    elif rows:
        click.echo(rows_table(rows, pk))
    else:
        click.echo("(no rows)")


# -------------------------------------------------------------------- delete
def parse_ids(values: tuple[str, ...], schema: Schema) -> list[Any]:
    """``--ids`` as keys of the primary key's type (integers for an INT64 key).

    Raises:
        click.BadParameter: an id is not an integer where the key is INT64.
    """
    names = split_names(values)
    if schema.primary.dtype is not DataType.INT64:
        return names
    try:
        return [int(name) for name in names]
    except ValueError:
        bad = next(n for n in names if not n.lstrip("-").isdigit())
        raise click.BadParameter(
            f"{bad!r} is not an integer, and the primary key {schema.primary.name!r} is INT64",
            param_hint="--ids",
        ) from None


@click.command("delete")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@click.option(
    "--ids", multiple=True, metavar="A,B", help="Delete the rows with these keys. Repeatable."
)
@click.option(
    "--filter",
    "filter_expr",
    default="",
    metavar="EXPR",
    help="Delete the rows passing this filter expression (not empty), e.g. 'views < 10'.",
)
@click.option("--all", "everything", is_flag=True, help="Delete every row (keeps the collection).")
@click.option("--partition", metavar="NAME", help="Only in this partition.")
@_YES
def delete_command(
    path: str,
    collection: str,
    ids: tuple[str, ...],
    filter_expr: str,
    everything: bool,
    partition: str | None,
    yes: bool,
) -> None:
    """Delete rows of COLLECTION in the store at PATH: by key (--ids), by filter
    (--filter) or every row (--all).

    Counts the rows first and asks before deleting (--yes: do not ask; the
    answer may also come on stdin). Deleted rows give their disk space back
    at the next kestrel compact. Needs the writer lock.

    \b
    Examples:
      kestrel delete ./db docs --ids 3,7
      kestrel delete ./db docs --filter 'lang == "fr"' --yes
    """
    given = [
        name
        for name, used in (("--ids", ids), ("--filter", filter_expr.strip()), ("--all", everything))
        if used
    ]
    if len(given) != 1:
        raise click.UsageError(
            "give one of --ids, --filter (not empty) or --all"
            + (f" (got {', '.join(given)})" if given else "")
        )
    with open_store(path, write=True) as db:
        col = get_collection(db, collection)
        pk = col.schema.primary.name
        scope = [partition] if partition else None
        keys = parse_ids(ids, col.schema) if ids else None
        expr = f"{pk} is not null" if everything else filter_expr
        if keys is not None:
            matching = len(col.get(keys, output_fields=[pk], partitions=scope))
        else:
            filter_note(col, expr)
            matching = col.count(expr, partitions=scope)  # checks the filter
        where = f" in partition {partition!r}" if partition else ""
        if matching == 0:
            click.echo(f"no rows match{where}: nothing deleted from {collection!r}")
            return
        confirm(f"delete {count_rows(matching)} from {collection!r}{where}?", yes)
        if keys is not None:
            deleted = col.delete(ids=keys, partition=partition)
        else:
            deleted = col.delete(filter=expr, partition=partition)
    click.echo(f"deleted {count_rows(deleted)} from {collection!r}{where}")


# ---------------------------------------------------------------------- drop
@click.command("drop")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@_YES
def drop_command(path: str, collection: str, yes: bool) -> None:
    """Drop COLLECTION from the store at PATH: its rows, indexes and files.

    Asks first (--yes: do not ask). Needs the writer lock.
    """
    with open_store(path, write=True) as db:
        rows = get_collection(db, collection).count()
        confirm(f"drop collection {collection!r} and its {count_rows(rows)}?", yes)
        db.drop_collection(collection)
    click.echo(f"dropped collection {collection!r} ({count_rows(rows)})")


__all__ = [
    "delete_command",
    "drop_command",
    "list_command",
    "parse_ids",
    "query_command",
    "rows_table",
]
