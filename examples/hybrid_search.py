"""Hybrid search: meaning (dense) and exact words (BM25) voting together.

Run:  python examples/hybrid_search.py

A collection of document chunks with a BM25 function (full text) and a
TextEmbedding function (dense vectors), so rows go in as text. Then: a BM25
search, a dense search, their RRF and weighted fusions, text_match, "the best
chunk per document" with group-by, and a range search. The embedding is
Kestrel's dependency-free HashEmbedding, so this runs offline; swap in
OpenAIEmbedding or SentenceTransformerEmbedding for real meaning.
"""

from __future__ import annotations

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding

DOCS = {
    "rust-book": [
        "Rust's ownership rules let the compiler free memory without a garbage collector.",
        "The borrow checker rejects programs that would race on shared data.",
        "Cargo builds Rust projects and fetches their crates.",
    ],
    "python-guide": [
        "Python's garbage collector frees cycles that reference counting misses.",
        "The GIL lets one thread run Python bytecode at a time.",
    ],
    "db-notes": [
        "A write-ahead log lets a database recover after a crash.",
        "HNSW graphs answer nearest neighbour queries in logarithmic time.",
        "BM25 ranks documents by term frequency and inverse document frequency.",
    ],
}


def show(title: str, hits: list[vs.Hit]) -> None:
    print(f"\n{title}")
    for hit in hits:
        print(f"  {hit.distance:8.4f}  {hit['doc']:<13} {hit['text']}")


def main() -> None:
    embedding = HashEmbedding(128)
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("doc", vs.DataType.VARCHAR, max_length=64),
            vs.Field("text", vs.DataType.VARCHAR, analyzer="english"),
            vs.Field("dense", vs.DataType.FLOAT_VECTOR, dim=128),
            vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
        ],
        functions=[
            vs.BM25(input="text", output="sparse"),
            vs.TextEmbedding(input="text", output="dense", provider=embedding),
        ],
    )
    with vs.connect(":memory:") as db:
        chunks = db.create_collection("chunks", schema=schema)
        rows = [
            {"id": i, "doc": doc, "text": text}
            for i, (doc, text) in enumerate(
                (doc, text) for doc, texts in DOCS.items() for text in texts
            )
        ]
        chunks.insert(rows)  # text in: BM25 terms and vectors are computed here
        print(f"stored {chunks.count()} chunks from {len(DOCS)} documents")

        question = "how is memory freed without a garbage collector?"
        out = ["doc", "text"]
        show("BM25:", chunks.search([question], anns_field="sparse", limit=3, output_fields=out)[0])
        show("dense:", chunks.search([question], anns_field="dense", limit=3, output_fields=out)[0])
        routes = [
            vs.AnnRequest([question], "sparse", limit=10),
            vs.AnnRequest([question], "dense", limit=10),
        ]
        show(
            "hybrid, RRF:", chunks.hybrid_search(routes, vs.RRFRanker(60), 3, output_fields=out)[0]
        )
        weighted = vs.WeightedRanker(0.7, 0.3)
        fused = chunks.hybrid_search(routes, weighted, 3, output_fields=out)[0]
        show("hybrid, weighted 0.7 BM25 / 0.3 dense:", fused)

        matched = chunks.query('text_match(text, "crash crates")', output_fields=["text"])
        print("\ntext_match(text, 'crash crates'):")
        for row in matched:
            print(f"  {row['text']}")

        best = chunks.search(
            [question], anns_field="sparse", limit=3, group_by_field="doc", output_fields=out
        )[0]
        show("best chunk per document (group_by_field='doc'):", best)

        close = chunks.search(
            [question],
            anns_field="sparse",
            limit=10,
            search_params={"radius": 1.0},
            output_fields=out,
        )[0]
        show("range search, BM25 score > 1.0:", close)


if __name__ == "__main__":
    main()
