"""An agent's long-term memory through LlamaIndex's ``VectorMemory``, kept in Kestrel.

Run:  python examples/agent_memory_llamaindex.py [STORE_DIR]

Needs ``llama-index-core``. Each user gets a collection in one durable store (a
``KestrelVectorStore`` per user on the same path: they share one client, as the
store allows one writer per process). Chat messages are put as they come;
``get(question)`` recalls the ones closest in meaning; "forget that" deletes
by a text filter on the collection underneath (``store.client``); and the
memory survives a restart. Recency and importance filters are shown on the
core API in ``examples/agent_memory.py`` (VectorMemory keeps no timestamps).

The embedding is a small offline bag-of-words model defined below.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory import VectorMemory
from llama_index.vector_stores.kestrel import KestrelVectorStore

import vectorstore as vs


class BagOfWords(BaseEmbedding):
    """Deterministic toy embedding: hashed word counts, L2-normalised."""

    dim: int = 512

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            stem = re.sub(r"(ing|es|s)$", "", word) if len(word) > 4 else word
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


def memory_for(path: str, user: str) -> tuple[VectorMemory, KestrelVectorStore]:
    store = KestrelVectorStore(uri=path, collection_name=f"memory_{user}", dim=512)
    memory = VectorMemory.from_defaults(
        vector_store=store,
        embed_model=BagOfWords(),
        retriever_kwargs={"similarity_top_k": 1},
    )
    return memory, store


def recall(memory: VectorMemory, question: str) -> list[str]:
    return [str(m.content) for m in memory.get(question) if m.role == MessageRole.USER]


def main(path: str) -> None:
    ana, ana_store = memory_for(path, "ana")
    ben, _ = memory_for(path, "ben")
    for text in (
        "I am allergic to peanuts",
        "I prefer window seats on flights",
        "My daughter starts school in September",
    ):
        ana.put(ChatMessage(role=MessageRole.USER, content=text))
        ana.put(ChatMessage(role=MessageRole.ASSISTANT, content="Noted."))
    ben.put(ChatMessage(role=MessageRole.USER, content="I am allergic to cats"))

    print("ana, 'any allergies?':", recall(ana, "which allergies do I have?"))
    print("ben, 'any allergies?':", recall(ben, "which allergies do I have?"))
    print("ana, 'seats?':", recall(ana, "which seats on a flight?"))
    gone = ana_store.client.delete(filter='text_match(text, "flights")')
    print(f"forgot {gone} of ana's memories about flights")
    vs.shared_client(path).close()  # what a process exit does; every put is already durable

    ana, _ = memory_for(path, "ana")  # a restart
    print("after a restart, ana 'seats?':", recall(ana, "which seats on a flight?"))
    print("after a restart, ana 'school?':", recall(ana, "when does school start?"))
    vs.shared_client(path).close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel-li-memory-")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp)
