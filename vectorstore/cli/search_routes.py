"""Which field ``kestrel search`` searches, and how (dense, BM25 full text, hybrid).

A collection may take text on several fields: a dense field filled by a
TextEmbedding function (the query text is embedded by the collection's
provider), a sparse field filled by BM25 (full text), or a dense field whose
vectors were made outside the store (by a LangChain or LlamaIndex embedding),
which takes text only when ``--embedding`` names the provider that made them.
Each plan says in one line which field and route it used, so a search never
silently runs another route than the user thought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..collection import Collection
from ..embeddings.base import EmbeddingProvider
from ..functions import BM25, TextEmbedding
from ..schema import Schema
from ..types import DataType
from ._common import CliError

RRF_K = 60  # Milvus's default RRF constant


@dataclass(frozen=True)
class Route:
    """One search of a plan: the field, the query data for it, and a description."""

    field: str
    data: Any
    label: str


def embedders(schema: Schema) -> dict[str, TextEmbedding]:
    """Dense fields a TextEmbedding function fills, by output field."""
    return {fn.output: fn for fn in schema.functions if isinstance(fn, TextEmbedding)}


def bm25_fields(schema: Schema) -> dict[str, BM25]:
    """Sparse fields a BM25 function fills, by output field."""
    return {fn.output: fn for fn in schema.functions if isinstance(fn, BM25)}


def metric(col: Collection, name: str) -> str:
    """The metric of ``name``'s index (COSINE when it has none)."""
    return next((i.vector_metric.value for i in col.indexes if i.field == name), "COSINE")


class Planner:
    """Chooses the routes of one search.

    Args:
        col: the collection.
        provider: the ``--embedding`` provider, if given.
        spec: the ``--embedding`` text, for messages.
    """

    def __init__(self, col: Collection, provider: EmbeddingProvider | None, spec: str | None):
        self.col = col
        self.schema = col.schema
        self.provider = provider
        self.spec = spec
        self.embedded = embedders(self.schema)
        self.bm25 = bm25_fields(self.schema)
        self.dense = [f.name for f in self.schema.fields if f.dtype is DataType.FLOAT_VECTOR]

    # ------------------------------------------------------------ one route
    def vector(self, kind: str, data: Any, given: str | None) -> Route:
        """A query vector (dense or sparse) on ``given`` or the only field of its kind."""
        dtype = DataType.FLOAT_VECTOR if kind == "dense" else DataType.SPARSE_FLOAT_VECTOR
        if given is None:
            fits = [
                f.name
                for f in self.schema.vector_fields
                if f.dtype is dtype and f.name not in self.bm25
            ]
            if not fits:
                raise CliError(
                    f"collection {self.col.name!r} has no {dtype.name} field for this query"
                )
            if len(fits) > 1:
                raise CliError(
                    f"several fields take this query ({', '.join(fits)}): pick one with --field"
                )
            given = fits[0]
        self.field(given)
        label = f"{given!r} ({kind}, {metric(self.col, given)}) with the given vector"
        return Route(given, data, label)

    def text(self, text: str, given: str | None) -> Route:
        """Text on ``given``, or on the only field that takes text."""
        if given is None:
            candidates = self.text_fields()
            if not candidates:
                raise CliError(self.cannot_take_text())
            if len(candidates) > 1:
                raise CliError(
                    f"several fields take text ({', '.join(candidates)}): pick one with "
                    "--field, or pass --hybrid to search them together"
                )
            given = candidates[0]
        f = self.field(given)
        if given in self.bm25:
            return self.bm25_route(text, given)
        if f.dtype is DataType.FLOAT_VECTOR:
            return self.dense_route(text, given)
        raise CliError(
            f"field {given!r} is a sparse vector field that no BM25 function fills: it takes "
            "no text; give QUERY as a sparse vector, e.g. '{\"3\": 0.5}'"
        )

    def hybrid(self, text: str, given: str | None) -> list[Route]:
        """Text on a dense field and on a BM25 field (``given`` may name either)."""
        dense = [given] if given in self.dense else self.dense_text_fields()
        sparse = [given] if given in self.bm25 else list(self.bm25)
        if given is not None:
            self.field(given)
        if len(sparse) != 1:
            have = f"fields {', '.join(sparse)}" if sparse else "none"
            raise CliError(
                f"--hybrid needs one sparse field filled by BM25 (collection {self.col.name!r} "
                f"has {have}){'; pick one with --field' if sparse else ''}"
            )
        if len(dense) != 1:
            if not dense and self.dense:
                raise CliError(self.needs_provider(self.dense[0]))
            have = f"fields {', '.join(dense)}" if dense else "none"
            raise CliError(
                f"--hybrid needs one dense field that takes text (collection "
                f"{self.col.name!r} has {have}){'; pick one with --field' if dense else ''}"
            )
        return [self.dense_route(text, dense[0]), self.bm25_route(text, sparse[0])]

    # -------------------------------------------------------------- helpers
    def field(self, name: str) -> Any:
        """The vector field ``name``; an error naming the vector fields there are."""
        f = self.schema.get(name)
        if f is None or not f.is_vector:
            vectors = ", ".join(v.name for v in self.schema.vector_fields)
            what = "no field" if f is None else "not a vector field"
            raise CliError(
                f"--field {name!r}: {what} of collection {self.col.name!r} "
                f"(vector fields: {vectors})"
            )
        return f

    def dense_text_fields(self) -> list[str]:
        """Dense fields that take text: those a TextEmbedding fills; with --embedding
        and no TextEmbedding, every dense field (the provider embeds the query)."""
        if self.embedded:
            return list(self.embedded)
        return list(self.dense) if self.provider is not None else []

    def text_fields(self) -> list[str]:
        """Fields that take a text query; with --embedding, the dense ones only."""
        dense = self.dense_text_fields()
        if self.provider is not None and dense:
            return dense
        return dense + list(self.bm25)

    def dense_route(self, text: str, name: str) -> Route:
        """Text on a dense field: embedded by its TextEmbedding function (the
        collection's provider, or --embedding's), else by --embedding."""
        kind = f"{name!r} (dense, {metric(self.col, name)})"
        fn = self.embedded.get(name)
        if fn is not None:
            by = (
                f"--embedding {self.spec}" if self.spec else f"the collection's {fn.config['name']}"
            )
            return Route(name, text, f"{kind}: text embedded by {by}")
        if self.provider is None:
            raise CliError(self.needs_provider(name))
        vector = [float(v) for v in self.provider.embed_query(text)]
        return Route(name, vector, f"{kind}: text embedded by --embedding {self.spec}")

    def bm25_route(self, text: str, name: str) -> Route:
        """Text on a BM25 field: full-text relevance over its input field."""
        label = f"{name!r} (sparse, BM25 full text of {self.bm25[name].input!r})"
        others = [n for n in self.dense if n not in self.embedded]
        if others and self.provider is None:
            label += (
                f"; dense field {others[0]!r} takes text with --field {others[0]} "
                "--embedding PROVIDER"
            )
        return Route(name, text, label)

    def needs_provider(self, name: str) -> str:
        return (
            f"field {name!r} holds vectors made outside the store (no TextEmbedding function "
            "fills it): pass --embedding PROVIDER, the provider that made them, to embed "
            "the text, or give QUERY as a vector"
        )

    def cannot_take_text(self) -> str:
        if self.dense:
            return f"collection {self.col.name!r} cannot search text: " + self.needs_provider(
                self.dense[0]
            )
        return (
            f"collection {self.col.name!r} cannot search text: no field is filled by a "
            "TextEmbedding function or BM25; give the query as a vector, e.g. '[0.1, 0.2]'"
        )


__all__ = ["RRF_K", "Planner", "Route", "bm25_fields", "embedders", "metric"]
