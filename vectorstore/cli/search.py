"""``kestrel search``."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from ..functions import BM25, TextEmbedding
from ..schema import DYNAMIC_FIELD, Schema
from ..types import DataType, Hit
from ._common import CliError, cell, dumps, open_store, split_names, table
from .importer import parse_provider

_LOOKS_NUMERIC = re.compile(r"\s*[\[{][\s\d.,:eE+\-\"]*[\]}]?\s*\Z")


def parse_query(text: str) -> tuple[str, Any]:
    """What QUERY is: ``("dense", [floats])``, ``("sparse", {index: weight})`` or
    ``("text", str)``.

    A JSON array of numbers is a dense vector, a JSON object of index: weight a
    sparse one; anything else is text, except something that looks like a broken
    vector (only numbers, commas and brackets), which is an error.

    Raises:
        click.BadParameter: a broken vector.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if _LOOKS_NUMERIC.match(text):
            raise click.BadParameter(
                f"looks like a vector but is not valid JSON ({exc.msg} at column {exc.colno})",
                param_hint="QUERY",
            ) from None
        return "text", text
    if isinstance(value, list) and value and all(_is_number(v) for v in value):
        return "dense", [float(v) for v in value]
    if (
        isinstance(value, dict)
        and value
        and all(str(k).isdigit() and _is_number(v) for k, v in value.items())
    ):
        return "sparse", {int(k): float(v) for k, v in value.items()}
    if isinstance(value, (list, dict)):
        raise click.BadParameter(
            "a vector is a JSON array of numbers, a sparse vector an object of index: weight",
            param_hint="QUERY",
        )
    return "text", text  # a bare number or word that happens to be JSON


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def pick_field(schema: Schema, kind: str, given: str | None, collection: str) -> str | None:
    """The vector field to search for a query of ``kind`` (None: let the engine say)."""
    if given is not None:
        return given
    if kind == "text":
        takes_text = [fn.output for fn in schema.functions if isinstance(fn, (TextEmbedding, BM25))]
        if not takes_text:
            raise CliError(
                f"collection {collection!r} cannot search text: no field is filled by a "
                "TextEmbedding function or BM25; give the query as a vector, e.g. '[0.1, 0.2]'"
            )
        if len(takes_text) > 1:
            fields = ", ".join(takes_text)
            raise CliError(f"several fields take text ({fields}): pick one with --field")
        return takes_text[0]
    dtype = DataType.FLOAT_VECTOR if kind == "dense" else DataType.SPARSE_FLOAT_VECTOR
    bm25 = {fn.output for fn in schema.functions if isinstance(fn, BM25)}
    fits = [f.name for f in schema.vector_fields if f.dtype is dtype and f.name not in bm25]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise CliError(f"collection {collection!r} has no {dtype.name} field for this query")
    raise CliError(f"several fields take this query ({', '.join(fits)}): pick one with --field")


def hits_table(hits: list[Hit], pk: str) -> str:
    """Hits as a table: the key, the distance, then every output field seen."""
    columns: dict[str, None] = {}
    for hit in hits:
        columns.update(dict.fromkeys(k for k in hit.entity if k != pk))
    rows = [
        [cell(hit.id), f"{hit.distance:.4f}", *(cell(hit.entity.get(c)) for c in columns)]
        for hit in hits
    ]
    return table([pk, "distance", *columns], rows)


@click.command("search")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@click.argument("query")
@click.option(
    "--field",
    metavar="NAME",
    help=(
        "Vector field to search. Default: the one that takes the query (text: the field a "
        "TextEmbedding function or BM25 fills; vectors: the only field of that kind)."
    ),
)
@click.option(
    "--limit", type=click.IntRange(1, 16384), default=10, show_default=True, help="Hits to return."
)
@click.option(
    "--filter",
    "filter_expr",
    default="",
    metavar="EXPR",
    help="Only rows passing this filter expression, e.g. 'lang == \"en\"'.",
)
@click.option(
    "--output-fields",
    multiple=True,
    metavar="A,B",
    help=(
        "Fields and dynamic keys to show ('*': every field, vectors included). Default: every "
        "scalar field and dynamic key. Repeatable."
    ),
)
@click.option(
    "--partition",
    "partitions",
    multiple=True,
    metavar="NAME",
    help="Only these partitions. Repeatable.",
)
@click.option(
    "--ef",
    type=click.IntRange(1, 32768),
    help="HNSW search breadth (larger: better recall, slower).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print the hits as JSON: [{"id", "distance", "entity"}].',
)
@click.option(
    "--embedding",
    "embedding_spec",
    metavar="PROVIDER",
    help=(
        "Embed text QUERY with PROVIDER (as for import) instead of the provider rebuilt "
        "from the store: needed when it uses a base_url, an api_key_env or remote code."
    ),
)
def search_command(
    path: str,
    collection: str,
    query: str,
    field: str | None,
    limit: int,
    filter_expr: str,
    output_fields: tuple[str, ...],
    partitions: tuple[str, ...],
    ef: int | None,
    as_json: bool,
    embedding_spec: str | None,
) -> None:
    """Search COLLECTION in the store at PATH for the rows nearest to QUERY.

    QUERY is a JSON array of numbers ('[0.1, 0.2, ...]': a vector), a JSON object
    of index: weight (a sparse vector), or text, which needs a field filled by a
    TextEmbedding function (embedded with the collection's provider) or by BM25
    (full-text). '-' reads QUERY from stdin.

    Prints a table: the primary key, the distance (the metric's raw value:
    COSINE, IP and BM25 larger is closer; L2 smaller is closer) and the output
    fields, best first. The store is opened read-only (works while another
    process writes).

    \b
    Examples:
      kestrel search ./db docs "how do birds fly" --limit 5 --filter 'lang == "en"'
      kestrel search ./db docs '[0.12, -0.3, 0.5, 0.1]' --output-fields text --json
    """
    if query == "-":
        query = sys.stdin.read().strip()
    kind, data = parse_query(query)
    with open_store(path, write=False) as db:
        provider = parse_provider(embedding_spec) if embedding_spec else None
        col = db.get_collection(collection, embedding=provider)
        schema = col.schema
        names = split_names(output_fields)
        if not output_fields:
            names = [f.name for f in schema.scalar_fields]
            names += [DYNAMIC_FIELD] if schema.enable_dynamic_field else []
        hits = col.search(
            [data],
            anns_field=pick_field(schema, kind, field, collection),
            limit=limit,
            filter=filter_expr,
            output_fields=names,
            partitions=list(partitions) or None,
            search_params={"ef": ef} if ef else None,
        )[0]
    if as_json:
        click.echo(dumps([hit.to_dict() for hit in hits], indent=2))
    elif hits:
        click.echo(hits_table(hits, schema.primary.name))
    else:
        click.echo("(no hits)")


__all__ = ["hits_table", "parse_query", "pick_field", "search_command"]
