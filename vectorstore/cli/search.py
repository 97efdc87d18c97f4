"""``kestrel search``."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click

from ..ranking import RRFRanker
from ..schema import DYNAMIC_FIELD
from ..search import AnnRequest
from ..types import Hit
from ._common import cell, dumps, filter_note, get_collection, note, open_store, split_names, table
from .providers import parse_provider
from .search_routes import RRF_K, Planner, Route

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
        "TextEmbedding function or BM25 fills; vectors: the only field of that kind). A dense "
        "field no TextEmbedding fills takes text with --embedding."
    ),
)
@click.option(
    "--hybrid",
    is_flag=True,
    help=(
        f"Search text on the dense field and the BM25 field together, fused by RRF "
        f"(k={RRF_K}); the distance column is then the fused score."
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
    help="HNSW search breadth (larger: better recall, slower); with --hybrid, the dense route's.",
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
        "from the store (needed when it uses a base_url, an api_key_env or remote code), "
        "or, on a collection that stores vectors made outside it (a LangChain or LlamaIndex "
        "store), the provider that made them."
    ),
)
def search_command(
    path: str,
    collection: str,
    query: str,
    field: str | None,
    hybrid: bool,
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
    (full-text), or a dense field with --embedding; --hybrid searches a dense and
    the BM25 field together. '-' reads QUERY from stdin.

    Prints a table: the primary key, the distance (the metric's raw value:
    COSINE, IP and BM25 larger is closer; L2 smaller is closer) and the output
    fields, best first. A line on stderr says which field and route (dense,
    BM25, hybrid) were searched. The store is opened read-only (works while
    another process writes).

    \b
    Examples:
      kestrel search ./db docs "how do birds fly" --limit 5 --filter 'lang == "en"'
      kestrel search ./db docs '[0.12, -0.3, 0.5, 0.1]' --output-fields text --json
      kestrel search ./db lc "birds" --hybrid --embedding sentence-transformers
    """
    if query == "-":
        query = sys.stdin.read().strip()
    kind, data = parse_query(query)
    if hybrid and kind != "text":
        raise click.BadParameter("takes a text QUERY", param_hint="--hybrid")
    with open_store(path, write=False) as db:
        provider = parse_provider(embedding_spec) if embedding_spec else None
        col = get_collection(db, collection)
        planner = Planner(col, provider, embedding_spec)
        if provider is not None:  # the collection's own TextEmbedding takes it, if it has one
            for fn in planner.embedded.values():
                fn.attach(provider)
        filter_note(col, filter_expr)
        names = split_names(output_fields)
        if not output_fields:
            names = [f.name for f in col.schema.scalar_fields]
            names += [DYNAMIC_FIELD] if col.schema.enable_dynamic_field else []
        where: dict[str, Any] = {"output_fields": names, "partitions": list(partitions) or None}
        params = {"ef": ef} if ef else None
        if hybrid:
            routes = planner.hybrid(data, field)
            note(
                f"hybrid search: {routes[0].label}, and {routes[1].label}; fused by RRF "
                f"(k={RRF_K}), distance is the fused score"
            )
            # --ef is the dense (HNSW) route's; the BM25 route takes none
            requests = [
                _request(r, limit, filter_expr, None if r.field in planner.bm25 else params)
                for r in routes
            ]
            hits = col.hybrid_search(requests, RRFRanker(RRF_K), limit=limit, **where)[0]
        else:
            route = (
                planner.text(data, field) if kind == "text" else planner.vector(kind, data, field)
            )
            note(f"searched {route.label}")
            hits = col.search(
                [route.data],
                anns_field=route.field,
                limit=limit,
                filter=filter_expr,
                search_params=params,
                **where,
            )[0]
        pk = col.schema.primary.name
    if as_json:
        click.echo(dumps([hit.to_dict() for hit in hits], indent=2))
    elif hits:
        click.echo(hits_table(hits, pk))
    else:
        click.echo("(no hits)")


def _request(route: Route, limit: int, filter_expr: str, params: Any) -> AnnRequest:
    """One route of a hybrid search: more candidates than hits, so the fusion can
    rank rows that one route alone places lower."""
    candidates = min(max(2 * limit, 50), 16384)
    return AnnRequest(
        [route.data], route.field, limit=candidates, filter=filter_expr, search_params=params
    )


__all__ = ["hits_table", "parse_query", "search_command"]
