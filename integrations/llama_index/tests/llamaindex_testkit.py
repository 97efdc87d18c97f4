"""Shared helpers of the LlamaIndex adapter tests: deterministic embeddings, the
nodes of llama-index-core's own SimpleVectorStore tests, and short builders of
nodes, queries and metadata filters."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.vector_stores.kestrel import KestrelVectorStore

#: ``make_store(kind="memory" | "disk", **options)``: the ``make_store`` fixture.
StoreFactory = Callable[..., KestrelVectorStore]

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "do",
        "does",
        "for",
        "how",
        "in",
        "is",
        "it",
        "of",
        "on",
        "the",
        "to",
        "what",
        "which",
        "who",
    ]
)


class _TextVectorEmbedding(BaseEmbedding):
    """A LlamaIndex embedding whose queries and texts are both ``_vector(text)``."""

    def _vector(self, text: str) -> list[float]:
        raise NotImplementedError

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


class BagOfWordsEmbedding(_TextVectorEmbedding):
    """Deterministic bag-of-words embedding: each word (lower case, stop words
    dropped, a trailing "s" removed) adds 1 to the bucket its CRC32 picks;
    the vector is L2-normalised, so texts sharing words are close."""

    dim: int = 256

    @classmethod
    def class_name(cls) -> str:
        return "BagOfWordsEmbedding"

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in _WORD.findall(text.lower()):
            if word in _STOP:
                continue
            if len(word) > 3 and word.endswith("s"):
                word = word[:-1]
            vector[zlib.crc32(word.encode()) % self.dim] += 1.0
        vector[0] += 0.01  # never the zero vector
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector]


class WordEmbedding(_TextVectorEmbedding):
    """One dimension per known word (plus an "other" one), L2-normalised: texts
    about a word are close to it whatever else they say."""

    words: tuple[str, ...] = ("kestrel", "owl", "rust", "python", "mars", "soup")

    @classmethod
    def class_name(cls) -> str:
        return "QAWordEmbedding"

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * (len(self.words) + 1)
        for raw in text.lower().replace(".", " ").replace(",", " ").split():
            word = raw.rstrip("s") if raw.rstrip("s") in self.words else raw
            vec[self.words.index(word) if word in self.words else -1] += 1.0
        vec[-1] += 0.05
        norm = math.sqrt(sum(x * x for x in vec))
        return [x / norm for x in vec]


def node(node_id: str, text: str, emb: list[float], **metadata: Any) -> TextNode:
    """A text node with its embedding and metadata."""
    return TextNode(id_=node_id, text=text, embedding=emb, metadata=metadata)


def q(emb: list[float] | None = None, k: int = 10, **kwargs: Any) -> VectorStoreQuery:
    """A query for the ``k`` nearest nodes to ``emb`` (other fields as given)."""
    return VectorStoreQuery(query_embedding=emb, similarity_top_k=k, **kwargs)


def flt(key: str, op: FilterOperator, value: Any) -> MetadataFilter:
    """One metadata filter."""
    return MetadataFilter(key=key, operator=op, value=value)


def group(
    *items: MetadataFilter | MetadataFilters, condition: FilterCondition = FilterCondition.AND
) -> MetadataFilters:
    """Filters (or nested groups) under one condition, AND by default."""
    return MetadataFilters(filters=list(items), condition=condition)


def ids_of(nodes: list[BaseNode]) -> list[str]:
    return [n.node_id for n in nodes]


#: Unit vectors (and their names) whose cosines, inner products and distances to a
#: query along x are easy to compute by hand.
UNIT = {
    "x": [1.0, 0.0, 0.0],
    "xy": [0.6, 0.8, 0.0],
    "y": [0.0, 1.0, 0.0],
    "z": [0.0, 0.0, 1.0],
    "-x": [-1.0, 0.0, 0.0],
}


# The fixture of llama-index-core's tests/vector_stores/test_simple.py
NODE_WEIGHT_1_RANK_A = "AF3BE6C4-5F43-4D74-B075-6B0E07900DE8"
NODE_WEIGHT_2_RANK_C = "7D9CD555-846C-445C-A9DD-F8924A01411D"
NODE_WEIGHT_3_RANK_C = "452D24AB-F185-414C-A352-590B4B9EE51B"


def simple_store_nodes() -> list[TextNode]:
    """Three nodes with embeddings [1, 0], [0, 1], [1, 1] and varied metadata."""
    return [
        TextNode(
            text="lorem ipsum",
            id_=NODE_WEIGHT_1_RANK_A,
            embedding=[1.0, 0.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-0")},
            metadata={
                "weight": 1.0,
                "rank": "a",
                "quality": ["medium", "high"],
                "identifier": "6FTR78Yun",
            },
        ),
        TextNode(
            text="lorem ipsum",
            id_=NODE_WEIGHT_2_RANK_C,
            embedding=[0.0, 1.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-1")},
            metadata={
                "weight": 2.0,
                "rank": "c",
                "quality": ["medium"],
                "identifier": "6FTR78Ygl",
            },
        ),
        TextNode(
            text="lorem ipsum",
            id_=NODE_WEIGHT_3_RANK_C,
            embedding=[1.0, 1.0],
            relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id="test-2")},
            metadata={
                "weight": 3.0,
                "rank": "c",
                "quality": ["low", "medium", "high"],
                "identifier": "6FTR78Ztl",
            },
        ),
    ]
