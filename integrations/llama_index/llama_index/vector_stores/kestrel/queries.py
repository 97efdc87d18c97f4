"""How the store answers each query mode, as functions of a collection: MMR,
hybrid fusion, similarities on one scale, and rows back into LlamaIndex nodes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from llama_index.core.indices.query.embedding_utils import get_top_k_mmr_embeddings
from llama_index.core.schema import BaseNode, Document, MetadataMode
from llama_index.core.vector_stores.types import (
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

import vectorstore as vs
from vectorstore.expr import And, Expr, Field, In, ListLiteral

from .filters import metadata_filters_to_expr
from .schema import DOC_ID, EMBEDDING, ID, METADATA, METADATA_LOWER, NODE, SPARSE, TEXT

RANKERS = ("weighted", "rrf")
TEXT_MODES = (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH)
HIT_FIELDS = [TEXT, NODE]


def query_condition(query: VectorStoreQuery, lower_field: str | None) -> Expr | None:
    """node_ids, doc_ids and filters as one tree (None: no restriction)."""
    parts = [
        ids_in(ID, query.node_ids or None),
        ids_in(DOC_ID, query.doc_ids or None),
        metadata_filters_to_expr(query.filters, METADATA, lower_field),
    ]
    found = [p for p in parts if p is not None]
    if not found:
        return None
    return found[0] if len(found) == 1 else And(tuple(found))


#: The query modes the store answers.
SUPPORTED_MODES: tuple[VectorStoreQueryMode, ...] = (
    VectorStoreQueryMode.DEFAULT,
    VectorStoreQueryMode.MMR,
    VectorStoreQueryMode.SPARSE,
    VectorStoreQueryMode.TEXT_SEARCH,
    VectorStoreQueryMode.HYBRID,
)


def check_query(query: VectorStoreQuery, bm25: bool) -> VectorStoreQueryMode:
    """The query's mode, if the store answers it and the query and the
    collection have what it needs.

    Raises:
        ValueError: an unsupported mode (naming the supported ones), a missing
            embedding or text, no BM25, or ``alpha`` outside [0, 1].
    """
    mode = VectorStoreQueryMode(query.mode)
    if mode not in SUPPORTED_MODES:
        supported = ", ".join(m.value for m in SUPPORTED_MODES)
        raise ValueError(
            f"KestrelVectorStore does not support query mode {mode.value!r}; "
            f"supported modes: {supported}"
        )
    if mode not in TEXT_MODES and query.query_embedding is None:
        raise ValueError(f"query mode {mode.value!r} needs a query_embedding")
    if mode in TEXT_MODES or mode == VectorStoreQueryMode.HYBRID:
        if not query.query_str:
            raise ValueError(f"query mode {mode.value!r} needs a query_str")
        if not bm25:
            raise ValueError(
                f"query mode {mode.value!r} needs BM25; this collection was created "
                "with enable_bm25=False"
            )
    if mode == VectorStoreQueryMode.HYBRID and query.alpha is not None:
        check_alpha(query.alpha, "alpha")
    return mode


def node_to_row(flat_metadata: bool, has_lower: bool, node: BaseNode) -> dict[str, Any]:
    """A node as the collection's row (``has_lower``: with lowercased metadata)."""
    if node.embedding is None:
        raise ValueError(
            f"node {node.node_id!r} has no embedding; embed nodes before adding them "
            "(VectorStoreIndex does)"
        )
    metadata = node_to_metadata_dict(node, remove_text=True, flat_metadata=flat_metadata)
    node_content = metadata.pop("_node_content")
    row: dict[str, Any] = {
        ID: node.node_id,
        DOC_ID: node.ref_doc_id or "",
        TEXT: node.get_content(metadata_mode=MetadataMode.NONE),
        EMBEDDING: node.embedding,
        METADATA: metadata,
        NODE: {"_node_content": node_content, "_node_type": metadata["_node_type"]},
    }
    if has_lower:
        row[METADATA_LOWER] = {k: v.lower() for k, v in metadata.items() if isinstance(v, str)}
    return row


def dense(
    collection: vs.CollectionAPI,
    query: VectorStoreQuery,
    filt: Expr | str,
    search_params: Mapping[str, Any] | None,
    score: Callable[[float], float],
) -> VectorStoreQueryResult:
    """DEFAULT mode: a dense search on ``query_embedding``."""
    hits = collection.search(
        [query.query_embedding],
        anns_field=EMBEDDING,
        limit=query.similarity_top_k,
        filter=filt,
        output_fields=HIT_FIELDS,
        search_params=search_params,
    )[0]
    return result(hits, score)


def text(
    collection: vs.CollectionAPI, query: VectorStoreQuery, filt: Expr | str, sparse_k: int
) -> VectorStoreQueryResult:
    """SPARSE and TEXT_SEARCH modes: BM25 on ``query_str``."""
    hits = collection.search(
        [query.query_str], anns_field=SPARSE, limit=sparse_k, filter=filt, output_fields=HIT_FIELDS
    )[0]
    return result(hits, float)


def similarity(metric: str, distance: float) -> float:
    """A dense hit's similarity: higher is better, the same scale for every query.

    COSINE: the cosine similarity (as ``SimpleVectorStore``); IP: the inner
    product (LlamaIndex's dot-product similarity); L2: ``1 - sqrt(d) / sqrt(2)``
    of Milvus's squared distance ``d`` (langchain-core's Euclidean relevance,
    so the LangChain adapter reports the same number for the same hit).
    """
    if metric == "L2":
        return 1.0 - math.sqrt(max(0.0, float(distance))) / math.sqrt(2.0)
    return float(distance)


def vector_similarity(metric: str, a: Any, b: Any) -> float:
    """The similarity of two embeddings, on the scale of ``similarity``."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if metric == "L2":
        return similarity(metric, float(np.sum((x - y) ** 2)))
    if metric == "IP":
        return float(np.dot(x, y))
    norm = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(np.dot(x, y)) / norm if norm else 0.0


def mmr(
    collection: vs.CollectionAPI,
    query: VectorStoreQuery,
    condition: Expr | None,
    metric: str,
    prefetch_factor: float,
    search_params: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
) -> VectorStoreQueryResult:
    """Dense candidates re-ranked by ``llama_index.core``'s MMR helper."""
    k = query.similarity_top_k
    fetch_k = int(kwargs.get("mmr_prefetch_k") or max(k, math.ceil(k * prefetch_factor)))
    fetch_k = min(fetch_k, vs.MAX_TOPK)
    hits = collection.search(
        [query.query_embedding],
        anns_field=EMBEDDING,
        limit=fetch_k,
        filter=condition if condition is not None else "",
        output_fields=[*HIT_FIELDS, EMBEDDING],
        search_params=search_params,
    )[0]
    if not hits:
        return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
    threshold = query.mmr_threshold
    if threshold is None:
        threshold = kwargs.get("mmr_threshold")
    assert query.query_embedding is not None
    _, order = get_top_k_mmr_embeddings(
        query.query_embedding,
        [hit[EMBEDDING] for hit in hits],
        similarity_fn=lambda a, b: vector_similarity(metric, a, b),
        similarity_top_k=k,
        embedding_ids=list(range(len(hits))),
        mmr_threshold=threshold,
    )
    return result([hits[i] for i in order], lambda d: similarity(metric, d))


def make_ranker(name: str, rrf_k: int, alpha: float) -> vs.RRFRanker | vs.WeightedRanker:
    """The fusion of hybrid mode: ``"rrf"``, or ``"weighted"`` (``alpha`` dense).

    Raises:
        ValueError: another name.
    """
    if name == "rrf":
        return vs.RRFRanker(k=rrf_k)
    if name == "weighted":
        return vs.WeightedRanker(alpha, 1.0 - alpha)
    raise ValueError(f"hybrid_ranker must be one of {RANKERS}, got {name!r}")


def hybrid(
    collection: vs.CollectionAPI,
    query: VectorStoreQuery,
    filt: Expr | str,
    sparse_k: int,
    ranker: vs.RRFRanker | vs.WeightedRanker,
    search_params: Mapping[str, Any] | None,
) -> VectorStoreQueryResult:
    """Dense top ``similarity_top_k`` and BM25 top ``sparse_k``, fused."""
    requests = [
        vs.AnnRequest(
            data=[query.query_embedding],
            anns_field=EMBEDDING,
            limit=query.similarity_top_k,
            filter=filt,
            search_params=search_params,
        ),
        vs.AnnRequest(data=[query.query_str], anns_field=SPARSE, limit=sparse_k, filter=filt),
    ]
    hits = collection.hybrid_search(
        requests,
        ranker=ranker,
        limit=query.hybrid_top_k or query.similarity_top_k,
        output_fields=HIT_FIELDS,
    )[0]
    # the fused score on the LangChain adapter's [0, 1] scale (1: first in every route)
    return result(hits, lambda score: ranker.relevance(score, len(requests)))


def index_metric(collection: vs.CollectionAPI) -> str:
    for index in collection.indexes:
        if index.field == EMBEDDING:
            return str(index.vector_metric.value)
    return "COSINE"  # a vector field without an index entry is searched with COSINE


def check_alpha(alpha: Any, name: str) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {alpha!r}")


def capped(k: int | None) -> int | None:
    return None if k is None else min(k, vs.MAX_TOPK)


def ids_in(field: str, ids: Sequence[str] | None) -> Expr | None:
    if ids is None:
        return None
    return In(Field(field), ListLiteral(tuple(id_list(ids))))


def id_list(ids: Sequence[str]) -> list[str]:
    """Node ids as a list (one id given as a str is one id, not its characters)."""
    return [ids] if isinstance(ids, str) else list(ids)


def row_to_node(row: Mapping[str, Any], with_embedding: bool = False) -> BaseNode:
    stored = dict(row[NODE])
    if stored.get("_node_type") == Document.class_name():  # the helper would make a TextNode
        node: BaseNode = Document.from_json(stored["_node_content"])
        node.set_content(row[TEXT])
    else:
        node = metadata_dict_to_node(stored, text=row[TEXT])
    if with_embedding and EMBEDDING in row:
        node.embedding = [float(x) for x in row[EMBEDDING]]
    return node


def result(hits: Sequence[vs.Hit], score: Any) -> VectorStoreQueryResult:
    nodes = [row_to_node(hit.entity) for hit in hits]
    return VectorStoreQueryResult(
        nodes=nodes,
        similarities=[score(hit.distance) for hit in hits],
        ids=[str(hit.id) for hit in hits],
    )
