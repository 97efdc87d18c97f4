"""Schema functions end to end: BM25 and TextEmbedding on insert, search and reopen."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding
from vectorstore.errors import DataError, EmbeddingError

DT = vs.DataType

CORPUS = [
    "the shock wave over a swept wing",
    "boundary layer transition on a flat plate",
    "heat transfer in the boundary layer of a blunt body",
    "supersonic flow over a wing with a shock",
    "vibration of thin plates under thermal load",
    "the flat plate boundary layer at high mach number",
]


def schema(**bm25: Any) -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, nullable=True),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=16),
            vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
            vs.Field("doc", DT.INT64),
        ],
        functions=[
            vs.BM25(input="text", output="sparse", **bm25),
            vs.TextEmbedding(input="text", output="dense", provider=HashEmbedding(16)),
        ],
        enable_dynamic_field=True,
    )


def bm25_reference(docs: dict[int, str], query: str, k1: float = 1.2, b: float = 0.75):  # type: ignore[no-untyped-def]
    """Plain-Python BM25 with the standard analyzer (lowercased \\w+ words)."""
    toks = {i: re.findall(r"\w+", (t or "").lower()) for i, t in docs.items()}
    n = len(toks)
    avgdl = sum(len(t) for t in toks.values()) / n
    q = Counter(re.findall(r"\w+", query.lower()))
    scores = {}
    for i, words in toks.items():
        tf = Counter(words)
        s = 0.0
        for term, qtf in q.items():
            if term in tf:
                df = sum(term in set(w) for w in toks.values())
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                s += (
                    qtf
                    * idf
                    * tf[term]
                    * (k1 + 1)
                    / (tf[term] + k1 * (1 - b + b * len(words) / avgdl))
                )
        if s:
            scores[i] = s
    return scores


def bm25_hits(col: vs.Collection, query: str, limit: int = 10) -> dict[int, float]:
    return {h.id: h.distance for h in col.search([query], anns_field="sparse", limit=limit)[0]}


@pytest.mark.needs_milvus("2.5", "BM25")
def test_bm25_scores_follow_the_formula_through_writes_and_reopen(stores: Any) -> None:
    db = stores.connect(segment_rows=2)  # many segments: statistics must not depend on them
    col = db.create_collection("docs", schema=schema(k1=1.5, b=0.6))
    col.insert([{"id": i, "text": t, "doc": i // 2} for i, t in enumerate(CORPUS)])
    docs = dict(enumerate(CORPUS))
    for query in ("boundary layer", "shock wing wing", "flat plate heat"):
        assert bm25_hits(col, query) == pytest.approx(bm25_reference(docs, query, 1.5, 0.6))
    col.delete(ids=[1])
    col.upsert([{"id": 3, "text": "a wing a wing a wing", "doc": 1}])
    # a null text is a document with no terms (it brings its own dense vector)
    col.insert([{"id": 9, "text": None, "dense": np.ones(16), "doc": 4}])
    docs.pop(1)
    docs[3] = "a wing a wing a wing"
    docs[9] = ""
    col.flush()
    col.compact()
    db = stores.reopen(db)
    col = db.get_collection("docs")
    for query in ("boundary layer", "wing", "plate"):
        assert bm25_hits(col, query) == pytest.approx(bm25_reference(docs, query, 1.5, 0.6))
    assert col.count(filter='text_match(text, "WINGS wing")') == 2


@pytest.mark.needs_milvus("2.5", "BM25 beside a TextEmbedding field")
def test_text_in_text_out(stores: Any) -> None:
    db = stores.connect()
    col = db.create_collection("docs", schema=schema())
    col.insert([{"id": i, "text": t, "doc": i // 2} for i, t in enumerate(CORPUS)])
    [[hit]] = col.search(
        ["the flat plate boundary layer"], anns_field="dense", limit=1, output_fields=["text"]
    )
    assert hit.id == 5 and hit["text"] == CORPUS[5]
    own = np.ones(16, dtype=np.float32)
    col.insert([{"id": 100, "text": "anything", "dense": own, "doc": 9}])  # its own vector
    assert col.get([100], output_fields=["dense"])[0]["dense"] == own.tolist()
    db = stores.reopen(db)
    col = db.get_collection("docs")  # the provider is rebuilt from its stored config
    assert col.search(["shock wave swept wing"], anns_field="dense", limit=1)[0][0].id == 0
    fused = col.hybrid_search(
        [
            vs.AnnRequest(["boundary layer"], "sparse", limit=4),
            vs.AnnRequest(["boundary layer"], "dense", limit=4),
        ],
        vs.RRFRanker(60),
        limit=3,
    )[0]
    assert len(fused) == 3 and {h.id for h in fused} <= {1, 2, 5, 0, 3, 4}


@pytest.mark.needs_milvus("2.5", "BM25 beside a TextEmbedding field")
def test_bad_function_input_changes_nothing(db: vs.Client) -> None:
    col = db.create_collection("docs", schema=schema())
    col.insert([{"id": 1, "text": "a wing", "doc": 1}])
    before = (col.count(), bm25_hits(col, "wing"))
    with pytest.raises(DataError, match="computed by BM25"):
        col.insert([{"id": 2, "text": "x", "sparse": {1: 1.0}, "doc": 1}])
    with pytest.raises(DataError, match="text"):
        col.insert([{"id": 3, "doc": 1}])  # neither text to embed nor a vector
    with pytest.raises(DataError, match="query texts"):
        col.search([{1: 1.0}], anns_field="sparse")
    assert (col.count(), bm25_hits(col, "wing")) == before


class Broken(HashEmbedding):
    name = "broken"

    def _embed_documents(self, texts: list[str]) -> np.ndarray:  # type: ignore[override]
        return np.full((len(texts), self.dimension), np.nan, dtype=np.float32)


def test_a_failing_provider_is_an_embedding_error_and_changes_nothing(db: vs.Client) -> None:
    s = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR),
            vs.Field("dense", DT.FLOAT_VECTOR, dim=16),
        ],
        functions=[vs.TextEmbedding("text", "dense", provider=Broken(16))],
    )
    col = db.create_collection("docs", schema=s)
    with pytest.raises(EmbeddingError):
        col.insert([{"id": 1, "text": "hello"}])
    assert col.count() == 0
