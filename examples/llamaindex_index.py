"""A LlamaIndex ``VectorStoreIndex`` on Kestrel: build, retrieve (dense, BM25,
hybrid), filter, delete a document, reopen.

Run:  python examples/llamaindex_index.py [STORE_DIR]

Needs ``llama-index-vector-stores-kestrel`` (``pip install -e integrations/llama_index``).
The vectors come from a tiny bag-of-words embedding defined below, so the demo runs offline
and gives the same output every time; real applications plug in an embedding
model (OpenAI, HuggingFace...). No LLM is used: retrievers, not query engines.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile

from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.vector_stores.kestrel import KestrelVectorStore

DOCUMENTS = [
    ("falcon", "birds", "The peregrine falcon is the fastest bird, diving at over 300 km/h."),
    ("kestrel", "birds", "Kestrels hover in the wind while hunting small mammals."),
    ("owl", "birds", "Owls hunt at night; their soft feathers make their flight silent."),
    ("rust", "programming", "Rust guarantees memory safety without a garbage collector."),
    ("wal", "programming", "A write-ahead log lets a database survive a crash."),
    ("webb", "space", "The James Webb telescope observes the early universe in infrared."),
]


STOP_WORDS = frozenset({"a", "an", "and", "at", "in", "is", "it", "of", "over", "the"})


class BagOfWords(BaseEmbedding):
    """Deterministic toy embedding: word counts (stop words dropped, crude
    suffix stripping) hashed (BLAKE2) into 1024 buckets, L2-normalised."""

    dim: int = 1024

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            if word in STOP_WORDS:
                continue
            stem = re.sub(r"(ing|ers|er|es|s)$", "", word) if len(word) > 4 else word
            digest = hashlib.blake2b(stem.encode(), digest_size=8).digest()
            vec[int.from_bytes(digest, "little") % self.dim] += 1.0
        vec[0] += 0.01  # never the zero vector
        norm = sum(x * x for x in vec) ** 0.5
        return [x / norm for x in vec]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


def show(title: str, hits: list[NodeWithScore]) -> None:
    print(f"\n{title}")
    for hit in hits:
        topic = hit.node.metadata["topic"]
        print(f"  {hit.score or 0.0:6.3f}  [{topic:>11}]  {hit.node.get_content()}")


def main(path: str) -> None:
    embed = BagOfWords()
    store = KestrelVectorStore(uri=path, collection_name="kb")
    store.clear()  # the demo starts from scratch on every run
    documents = [Document(id_=i, text=t, metadata={"topic": topic}) for i, topic, t in DOCUMENTS]
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed,
    )
    assert store.client is not None
    print(f"indexed {len(documents)} documents into {path} ({store.client.count()} nodes)")

    question = "which bird is the fastest?"
    show(f"default: {question!r}", index.as_retriever(similarity_top_k=2).retrieve(question))

    question = "hunting at night"
    hybrid = index.as_retriever(vector_store_query_mode="hybrid", alpha=0.5, similarity_top_k=2)
    show(f"hybrid (alpha=0.5): {question!r}", hybrid.retrieve(question))

    words = index.as_retriever(vector_store_query_mode="text_search", similarity_top_k=2)
    show("text_search (BM25): 'garbage collector'", words.retrieve("garbage collector"))

    programming = MetadataFilters(
        filters=[MetadataFilter(key="topic", operator=FilterOperator.EQ, value="programming")]
    )
    filtered = index.as_retriever(filters=programming, similarity_top_k=2)
    show("filtered (topic == programming): 'crash safety'", filtered.retrieve("crash safety"))

    index.delete_ref_doc("falcon")
    print(f"\ndeleted document 'falcon': {store.client.count()} nodes remain")
    store.close()

    # A new process (or this one, after close) reopens the store and its index.
    reopened = KestrelVectorStore(uri=path, collection_name="kb")
    index = VectorStoreIndex.from_vector_store(reopened, embed_model=embed)
    show(
        "reopened: 'which bird is the fastest?'",
        index.as_retriever(similarity_top_k=1).retrieve("which bird is the fastest?"),
    )
    assert reopened.client is not None
    print(f"\n{reopened.client.count()} nodes after reopening")
    reopened.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel_llamaindex_")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
