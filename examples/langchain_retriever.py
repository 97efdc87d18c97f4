"""Kestrel as a LangChain vector store: retrievers, filters, hybrid (dense + BM25) search.

Run:  python examples/langchain_retriever.py [STORE_DIR]

Needs ``langchain-kestrel`` (``pip install -e integrations/langchain`` from a clone). The
embedding is a tiny "concept" model defined below (each topic's words share a
dimension), so the demo runs offline and its retrieval makes sense: a question
finds documents about its topic even without a shared word. It knows nothing
of error codes like "E1234" though; hybrid search adds BM25, which does.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_kestrel import KestrelVectorStore

import vectorstore as vs

CONCEPTS = {
    "birds": "bird birds falcon kestrel owl owls hawk wings feathers fly flight hunt hunts hover",
    "speed": "fast fastest quick quickest speed dive diving km",
    "code": "python rust code compiler program programming software crate crates cargo",
    "failure": "error errors crash crashes failure fails broken panic bug",
    "space": "space planet mars star telescope orbit rocket universe",
}


class ConceptEmbeddings(Embeddings):
    """One dimension per concept (counting its words), plus a faint one for any other word."""

    def __init__(self) -> None:
        self.dim_of = {w: i for i, words in enumerate(CONCEPTS.values()) for w in words.split()}

    def _embed(self, text: str) -> list[float]:
        vec = [0.0] * (len(CONCEPTS) + 1)
        for word in re.findall(r"\w+", text.lower()):
            i = self.dim_of.get(word)
            vec[len(CONCEPTS) if i is None else i] += 0.1 if i is None else 1.0
        norm = sum(v * v for v in vec) ** 0.5 or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


DOCS = [
    ("falcon", "The peregrine falcon is the fastest bird, diving at over 300 km/h.", "birds", 2019),
    ("kestrel", "Kestrels hover in the wind while they hunt small mammals.", "birds", 2021),
    ("owl", "Owls hunt at night; soft feathers make their flight silent.", "birds", 2015),
    ("rust", "Rust programs are checked by the compiler for memory safety.", "code", 2020),
    ("cargo", "Cargo builds Rust code and fetches its crates.", "code", 2018),
    ("e1234", "Release notes: E1234 is fixed in version 2.1.", "code", 2023),
    ("panic", "A panic stops the program with an error message.", "code", 2016),
    ("outage", "The build server crashes when its disk fails.", "code", 2024),
    ("webb", "The Webb telescope observes the early universe.", "space", 2022),
]


def show(title: str, docs: list[Document]) -> None:
    print(title)
    for doc in docs:
        print(
            f"  {doc.id:<8} [{doc.metadata['topic']}, {doc.metadata['year']}]  {doc.page_content}"
        )


def main(path: str) -> None:
    store = KestrelVectorStore(embedding=ConceptEmbeddings(), uri=path, collection_name="notes")
    store.add_documents(
        [Document(id=i, page_content=t, metadata={"topic": p, "year": y}) for i, t, p, y in DOCS]
    )
    assert store.collection is not None
    print(f"stored {store.collection.count()} documents")

    retriever = store.as_retriever(search_kwargs={"k": 2})
    show("\nsimilarity: 'which bird is quickest?'", retriever.invoke("which bird is quickest?"))

    recent = store.as_retriever(
        search_kwargs={"k": 3, "filter": {"topic": "code", "year": {"$gte": 2018}}}
    )
    show("\nfiltered (code, 2018 or later): 'compiler'", recent.invoke("compiler"))
    show(
        "\nexpression filter (metadata[\"year\"] < 2020): 'hunting birds'",
        store.similarity_search("hunting birds", k=3, filter='metadata["year"] < 2020'),
    )

    question = "app crash E1234"
    show(f"\ndense: {question!r}", store.as_retriever(search_kwargs={"k": 2}).invoke(question))
    hybrid = store.as_retriever(search_type="hybrid", search_kwargs={"k": 2})
    show(f"\nhybrid (RRF): {question!r}", hybrid.invoke(question))
    weighted = store.as_retriever(
        search_type="hybrid", search_kwargs={"k": 2, "ranker": vs.WeightedRanker(0.4, 0.6)}
    )
    show(f"\nhybrid (weighted 0.4 / 0.6): {question!r}", weighted.invoke(question))

    mmr = store.as_retriever(
        search_type="mmr", search_kwargs={"k": 3, "fetch_k": 9, "lambda_mult": 0.7}
    )
    show("\nmmr (diverse): 'birds hunting'", mmr.invoke("birds hunting"))

    print("\nrelevance: 'rust compiler'")
    for doc, score in store.similarity_search_with_relevance_scores("rust compiler", k=3):
        print(f"  {doc.id:<8} {score:.3f}")
    store.close()

    again = KestrelVectorStore(embedding=ConceptEmbeddings(), uri=path, collection_name="notes")
    found = again.get_by_ids([d[0] for d in DOCS])
    print(f"\nreopened: {len(found)} documents, first {found[0].id!r}")
    again.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel_langchain_")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
