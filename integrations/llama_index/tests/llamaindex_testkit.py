"""Shared helpers of the LlamaIndex adapter tests: a deterministic embedding and
the nodes of llama-index-core's own SimpleVectorStore tests."""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
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


class BagOfWordsEmbedding(BaseEmbedding):
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

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)


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
