"""Deterministic LangChain embeddings for the adapter's tests, and short store
builders.

- ``ConceptEmbeddings``: one dimension per concept (a word list each), plus an
  "other" dimension for every unknown word at a small weight; texts about the
  same concept are close even without a shared word, and a word outside every
  list (a product code) is invisible to dense search but not to BM25.
- ``TableEmbeddings``: fixed vectors for fixed texts (exact score checks); ``UNIT``
  is such a table, whose scores are easy to compute by hand.
- ``WordEmbeddings``: a hashed bag of words, for any text.
- ``langchain_relevance``: the relevance langchain-core's own functions give a
  Milvus score, the reference the adapter's relevance is checked against.
- ``filter_holds``: the dict filter language in plain Python, the reference the
  adapter's filters are checked against.

``ConceptEmbeddings`` and ``TableEmbeddings`` count their sync and async calls, so
tests can tell native async apart from an executor fallback.

``new(made, ...)`` builds a store and adds it to ``made`` (the ``made`` fixture of
conftest.py, which closes them all after the test).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore
from langchain_kestrel import KestrelVectorStore

OTHER_WEIGHT = 0.1


def langchain_relevance(metric: str, score: float) -> float:
    """langchain-core's relevance function of ``metric``, applied to the distance it is
    written for, from the engine's (Milvus's) score: the cosine distance ``1 - s``
    (COSINE), langchain-chroma's inner-product distance ``1 - s`` (IP; valid for
    ``s < 1``, where it gives ``s`` back), the Euclidean distance ``sqrt(d)`` (L2, whose
    Milvus score is the squared distance)."""
    if metric == "COSINE":
        return VectorStore._cosine_relevance_score_fn(1.0 - score)
    if metric == "IP":
        assert score < 1.0, "langchain-core's inner-product relevance wraps around at 1"
        return VectorStore._max_inner_product_relevance_score_fn(1.0 - score)
    assert metric == "L2"
    return VectorStore._euclidean_relevance_score_fn(math.sqrt(score))


class _Counting(Embeddings):
    def __init__(self) -> None:
        self.calls: dict[str, int] = {
            "embed_documents": 0,
            "embed_query": 0,
            "aembed_documents": 0,
            "aembed_query": 0,
        }

    def _vector(self, text: str) -> list[float]:
        raise NotImplementedError

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls["embed_documents"] += 1
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls["embed_query"] += 1
        return self._vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls["aembed_documents"] += 1
        return [self._vector(t) for t in texts]

    async def aembed_query(self, text: str) -> list[float]:
        self.calls["aembed_query"] += 1
        return self._vector(text)


class ConceptEmbeddings(_Counting):
    """Concept counts (and a small "other" count), L2-normalised."""

    def __init__(self, concepts: Mapping[str, Sequence[str]]) -> None:
        super().__init__()
        self.names = list(concepts)
        self.index = {w: i for i, name in enumerate(self.names) for w in concepts[name]}

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * (len(self.names) + 1)
        for word in re.findall(r"\w+", text.lower()):
            i = self.index.get(word)
            if i is None:
                vec[-1] += OTHER_WEIGHT
            else:
                vec[i] += 1.0
        if not any(vec):
            vec[-1] = OTHER_WEIGHT
        norm = sum(v * v for v in vec) ** 0.5
        return [v / norm for v in vec]


class TableEmbeddings(_Counting):
    """Fixed vectors for fixed texts; any other text is an error."""

    def __init__(self, table: Mapping[str, Sequence[float]]) -> None:
        super().__init__()
        self.table = {k: [float(x) for x in v] for k, v in table.items()}

    def _vector(self, text: str) -> list[float]:
        return list(self.table[text])


TOPICS = {
    "bird": ["bird", "birds", "falcon", "kestrel", "owl", "hawk", "wings", "feathers", "hunt"],
    "code": ["python", "rust", "code", "compiler", "program", "bug", "software", "module"],
    "space": ["space", "planet", "mars", "star", "telescope", "orbit", "rocket"],
    "food": ["bread", "cheese", "soup", "recipe", "cook", "bake", "kitchen"],
    "failure": ["failure", "crash", "crashes", "outage", "broken", "fault"],
}


class WordEmbeddings(Embeddings):
    """Hashed bag of words (lower case), L2-normalised; never the zero vector."""

    dim = 64

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"\w+", text.lower()):
            vec[zlib.crc32(word.encode("utf-8", "surrogatepass")) % (self.dim - 1) + 1] += 1.0
        vec[0] += 0.05
        norm = math.sqrt(sum(x * x for x in vec))
        return [x / norm for x in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self._vector(text)


UNIT = {
    "x": [1.0, 0.0, 0.0],
    "xy": [0.6, 0.8, 0.0],
    "y": [0.0, 1.0, 0.0],
    "-x": [-1.0, 0.0, 0.0],
    "q": [2.0, 0.0, 0.0],  # a query that is not unit length
    "near": [0.99, 0.141, 0.0],
}


def new(
    made: list[KestrelVectorStore], embedding: Embeddings | None = None, **kwargs: Any
) -> KestrelVectorStore:
    """A store (``WordEmbeddings`` unless told), kept in ``made`` to be closed."""
    store = KestrelVectorStore(embedding or WordEmbeddings(), **kwargs)
    made.append(store)
    return store


def unit_store(made: list[KestrelVectorStore], **kwargs: Any) -> KestrelVectorStore:
    """A store of the texts "x", "xy", "y" and "-x" (ids the same), with UNIT's vectors."""
    store = new(made, TableEmbeddings(UNIT), **kwargs)
    store.add_texts(["x", "xy", "y", "-x"], ids=["x", "xy", "y", "-x"])
    return store


def ids_of(docs: list[Document]) -> list[str | None]:
    return [d.id for d in docs]


# ----------------------------------------------- the dict filters' reference

MISSING = object()


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def _eq(v: Any, c: Any) -> bool:
    return _kind(v) == _kind(c) != "other" and v == c


def _order(op: str, v: Any, c: Any) -> bool:
    if _kind(v) != _kind(c) or _kind(c) not in ("num", "str"):
        return False
    return {"$gt": v > c, "$gte": v >= c, "$lt": v < c, "$lte": v <= c}[op]


def _empty(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, list):
        return all(_empty(x) for x in v)
    if isinstance(v, dict):
        return all(_empty(x) for x in v.values())
    return False


def _op(op: str, v: Any, arg: Any) -> bool:
    if op == "$eq":
        return _eq(v, arg)
    if op == "$ne":
        return not _eq(v, arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _order(op, v, arg)
    if op == "$in":
        return any(_eq(v, c) for c in arg)
    if op == "$nin":
        return not any(_eq(v, c) for c in arg)
    if op == "$exists":
        return (v is not MISSING and not _empty(v)) == arg
    if op == "$contains":
        return isinstance(v, list) and any(_eq(x, arg) for x in v)
    if op == "$not":
        return not all(_op(o, v, a) for o, a in arg.items())
    raise AssertionError(op)


def filter_holds(filter: Mapping[str, Any], meta: Mapping[str, Any]) -> bool:
    """Whether ``meta`` passes the dict ``filter``: the README's filter language in
    plain Python (Milvus's rules for JSON values), the reference the adapter's
    filters are checked against."""
    for key, value in filter.items():
        if key == "$and":
            ok = all(filter_holds(f, meta) for f in value)
        elif key == "$or":
            ok = any(filter_holds(f, meta) for f in value)
        elif key == "$not":
            ok = not filter_holds(value, meta)
        else:
            v = meta.get(key, MISSING)
            if isinstance(value, Mapping):
                ok = all(_op(op, v, arg) for op, arg in value.items())
            else:
                ok = _eq(v, value)
        if not ok:
            return False
    return True
