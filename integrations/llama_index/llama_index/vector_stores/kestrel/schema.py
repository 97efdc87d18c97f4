"""The collection layout the LlamaIndex adapter reads and writes.

=================== ======================= =====================================
field               type                    holds
=================== ======================= =====================================
``id``              VARCHAR, primary key    the node id
``doc_id``          VARCHAR, nullable       the node's ``ref_doc_id`` (source
                                            document), for delete-by-document
                                            and ``doc_ids`` restrictions
``text``            VARCHAR(65535),         the node's text (BM25 reads it)
                    with an analyzer
``embedding``       FLOAT_VECTOR            the node's embedding
``sparse``          SPARSE_FLOAT_VECTOR     BM25 terms of ``text`` (filled by a
                                            ``BM25`` function; optional)
``metadata``        JSON                    what filters see: the node's
                                            metadata plus the keys LlamaIndex
                                            adds (``doc_id``, ``ref_doc_id``,
                                            ``document_id``, ``_node_type``)
``metadata_lower``  JSON                    the string values of ``metadata``
                                            lower-cased (``text_match_insensitive``)
``node``            JSON                    ``_node_content`` and ``_node_type``
                                            of ``node_to_metadata_dict``: the rest
                                            of the node (relationships,
                                            templates, ...) for the round trip
=================== ======================= =====================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import vectorstore as vs

__all__ = [
    "DOC_ID",
    "EMBEDDING",
    "ID",
    "METADATA",
    "METADATA_LOWER",
    "NODE",
    "REQUIRED_FIELDS",
    "SPARSE",
    "TEXT",
    "build_schema",
    "check_schema",
]

ID = "id"
DOC_ID = "doc_id"
TEXT = "text"
EMBEDDING = "embedding"
SPARSE = "sparse"
METADATA = "metadata"
METADATA_LOWER = "metadata_lower"
NODE = "node"

#: field -> data type every adapter collection has (``sparse`` and
#: ``metadata_lower`` are optional).
REQUIRED_FIELDS: dict[str, vs.DataType] = {
    ID: vs.DataType.VARCHAR,
    DOC_ID: vs.DataType.VARCHAR,
    TEXT: vs.DataType.VARCHAR,
    EMBEDDING: vs.DataType.FLOAT_VECTOR,
    METADATA: vs.DataType.JSON,
    NODE: vs.DataType.JSON,
}


def build_schema(
    dim: int,
    *,
    enable_bm25: bool = True,
    analyzer: str | Mapping[str, Any] | None = "standard",
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
) -> vs.Schema:
    """The schema of a new adapter collection.

    Args:
        dim: the embedding dimension.
        enable_bm25: add the ``sparse`` field and its ``BM25`` function (needed
            by the SPARSE, TEXT_SEARCH and HYBRID query modes).
        analyzer: the text field's analyzer (``"standard"``, ``"english"``, ...);
            None: none (no ``text_match``; with ``enable_bm25=False`` the
            collection fits a Milvus server older than 2.5).
        bm25_k1, bm25_b: BM25 parameters.

    Returns:
        The ``vs.Schema``.

    Raises:
        vectorstore.SchemaError: a bad dimension, analyzer or BM25 parameter.
    """
    fields = [
        vs.Field(ID, vs.DataType.VARCHAR, is_primary=True, max_length=65535),
        # "" for a node without a source document: nullable fields need Milvus 2.5
        vs.Field(DOC_ID, vs.DataType.VARCHAR, max_length=65535),
        vs.Field(TEXT, vs.DataType.VARCHAR, max_length=65535, analyzer=analyzer),
        vs.Field(EMBEDDING, vs.DataType.FLOAT_VECTOR, dim=dim),
        vs.Field(METADATA, vs.DataType.JSON),
        vs.Field(METADATA_LOWER, vs.DataType.JSON),
        vs.Field(NODE, vs.DataType.JSON),
    ]
    functions: list[vs.BM25] = []
    if enable_bm25:
        fields.insert(4, vs.Field(SPARSE, vs.DataType.SPARSE_FLOAT_VECTOR))
        functions.append(vs.BM25(input=TEXT, output=SPARSE, k1=bm25_k1, b=bm25_b))
    return vs.Schema(fields=fields, functions=functions)


def check_schema(collection: vs.CollectionAPI) -> tuple[int, bool, bool]:
    """Check that an existing collection has the adapter's layout.

    Args:
        collection: the collection.

    Returns:
        ``(dim, has_bm25, has_metadata_lower)``.

    Raises:
        ValueError: a required field is missing or has another type (the message
            names it).
    """
    fields = {f.name: f for f in collection.schema.fields}
    for name, dtype in REQUIRED_FIELDS.items():
        found = fields.get(name)
        if found is None or found.dtype != dtype:
            have = "missing" if found is None else f"a {found.dtype.name}"
            raise ValueError(
                f"collection {collection.name!r} is not a LlamaIndex collection: field "
                f"{name!r} should be a {dtype.name}, but is {have}"
            )
    if not fields[ID].is_primary:
        raise ValueError(f"collection {collection.name!r}: field {ID!r} must be the primary key")
    dim = fields[EMBEDDING].dim
    assert dim is not None
    sparse = fields.get(SPARSE)
    has_bm25 = (
        sparse is not None
        and sparse.dtype == vs.DataType.SPARSE_FLOAT_VECTOR
        and any(
            isinstance(fn, vs.BM25) and fn.input == TEXT and fn.output == SPARSE
            for fn in collection.schema.functions
        )
    )
    lower = fields.get(METADATA_LOWER)
    return dim, has_bm25, lower is not None and lower.dtype == vs.DataType.JSON
