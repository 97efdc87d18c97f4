"""Pure checks and constants both backends share (the embedded ``Client`` /
``Collection`` and the Milvus ones), written once.

Both backends implement the contract in ``vectorstore.api``; this module sits
below both of them (it imports the schema, search and ranking modules, nothing
that imports it back), so neither backend has to borrow from the other:

- ``DEFAULT_PARTITION``: the partition every collection has (the Milvus
  backend takes it from here; ``PrimaryKey`` is re-exported from ``rows``).
- ``collection_spec``: the argument resolution of ``create_collection`` (the
  quick setup's schema, the default indexes, the names).
- ``check_existing``: ``create_collection`` on a name that exists only returns
  it when the schema and indexes are the same.
- ``check_hybrid`` / ``check_query_counts``: the arguments of ``hybrid_search``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import CollectionExistsError, ConfigError, DataError, SchemaError
from .functions import TextEmbedding
from .index_spec import Index, default_indexes
from .names import DEFAULT_PARTITION
from .ranking import Ranker, WeightedRanker
from .rows import PrimaryKey
from .schema import Schema, quick_schema, validate_name
from .search import MAX_TOPK, AnnRequest, check_window

if TYPE_CHECKING:
    from .embeddings.base import EmbeddingProvider


@dataclass(frozen=True)
class CollectionSpec:
    """What ``create_collection`` resolved its arguments to.

    Attributes:
        name: the collection name (checked).
        schema: the full schema (the quick setup's, or the one given).
        indexes: an index for every vector field (the given ones completed).
        partitions: partitions to create besides ``_default`` (names checked).
    """

    name: str
    schema: Schema
    indexes: list[Index]
    partitions: tuple[str, ...]


def collection_spec(
    name: str,
    dimension: int | None = None,
    *,
    schema: Schema | None = None,
    indexes: Iterable[Index] | None = None,
    metric: str = "COSINE",
    primary_field: str = "id",
    id_type: str = "int",
    vector_field: str = "vector",
    auto_id: bool = False,
    partitions: Sequence[str] = (),
    embedding: EmbeddingProvider | None = None,
    text_field: str = "text",
) -> CollectionSpec:
    """Resolve and check ``create_collection``'s arguments, before any backend work.

    Args:
        name .. text_field: as for ``ClientAPI.create_collection``.

    Returns:
        The ``CollectionSpec``.

    Raises:
        InvalidNameError: a bad collection or partition name.
        SchemaError: neither or both of a schema and the quick setup's
            ``dimension`` / ``embedding``; a bad quick-setup argument.
        IndexConfigError: an index that does not suit the schema.
    """
    validate_name(name, "collection")
    if schema is None:
        if embedding is not None and dimension is None:
            dimension = embedding.dimension
        if dimension is None:
            raise SchemaError("create_collection() takes dimension=, embedding= or schema=")
        schema = quick_schema(
            dimension,
            primary_field=primary_field,
            id_type=id_type,
            vector_field=vector_field,
            auto_id=auto_id,
            embedding=embedding,
            text_field=text_field,
        )
    elif dimension is not None or embedding is not None:
        raise SchemaError(
            "create_collection() takes a schema= or the quick setup's dimension= / "
            "embedding=, not both"
        )
    full = default_indexes(schema, indexes or (), metric)
    for p in partitions:
        validate_name(p, "partition")
    return CollectionSpec(name, schema, full, tuple(partitions))


def index_dicts(indexes: Iterable[Index]) -> list[dict[str, Any]]:
    """Indexes as plain data in field order, for comparing two index lists."""
    return sorted((i.to_dict() for i in indexes), key=lambda d: str(d["field"]))


def check_existing(spec: CollectionSpec, schema: Schema, indexes: Iterable[Index]) -> None:
    """A collection ``spec`` asks for exists with ``schema`` and ``indexes``:
    ``create_collection`` returns it only if they are the ones asked for.

    Raises:
        CollectionExistsError: the schema or the indexes differ.
    """
    if schema.to_dict() != spec.schema.to_dict():
        raise CollectionExistsError(
            f"collection {spec.name!r} exists with a different schema; drop it first "
            "or use get_collection()"
        )
    existing = index_dicts(indexes)
    if index_dicts(spec.indexes) != existing:
        raise CollectionExistsError(
            f"collection {spec.name!r} exists with different indexes "
            f"({existing}); use get_collection() and create_index() to change them"
        )


def check_hybrid(
    reqs: Sequence[AnnRequest], ranker: Ranker, limit: int, offset: int
) -> list[AnnRequest]:
    """The checks of ``hybrid_search``'s arguments before any request runs.

    Args:
        reqs, ranker, limit, offset: as given to ``hybrid_search``.

    Returns:
        The requests as a list.

    Raises:
        DataError: a bad window, no requests (or not ``AnnRequest`` ones), not
            a ranker, or a ``WeightedRanker`` with a weight count that is not
            the request count.
    """
    check_window(limit, offset, cap=MAX_TOPK)
    found = list(reqs) if isinstance(reqs, (list, tuple)) else []
    if not found or not all(isinstance(r, AnnRequest) for r in found):
        raise DataError("hybrid_search needs a non-empty list of AnnRequest")
    if not isinstance(ranker, Ranker):
        raise DataError("ranker must be an RRFRanker or a WeightedRanker")
    if isinstance(ranker, WeightedRanker) and len(ranker.weights) != len(found):
        raise DataError(
            f"WeightedRanker has {len(ranker.weights)} weights for {len(found)} requests"
        )
    return found


def check_query_counts(counts: Sequence[int]) -> None:
    """Every request of a hybrid search carries the same number of queries.

    Raises:
        DataError: they do not.
    """
    if any(q != counts[0] for q in counts):
        raise DataError(f"every request needs the same number of queries, got {list(counts)}")


def attach_embedding(schema: Schema, provider: EmbeddingProvider | None) -> None:
    """Give a reopened collection's ``TextEmbedding`` function its provider.

    Raises:
        ConfigError: the collection has no TextEmbedding, or the provider is of
            another kind than the stored one.
    """
    if provider is None:
        return
    embedders = [fn for fn in schema.functions if isinstance(fn, TextEmbedding)]
    if not embedders:
        raise ConfigError("embedding= was given, but the collection has no TextEmbedding function")
    for fn in embedders:
        fn.attach(provider)


__all__ = [
    "DEFAULT_PARTITION",
    "CollectionSpec",
    "PrimaryKey",
    "attach_embedding",
    "check_existing",
    "check_hybrid",
    "check_query_counts",
    "collection_spec",
    "index_dicts",
]
