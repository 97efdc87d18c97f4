"""An agent's long-term memory through LlamaIndex's ``VectorMemory``, kept in Kestrel.

Run:  python examples/agent_memory_llamaindex.py [STORE_DIR]

Needs ``llama-index-core``. Each user gets a collection in one durable store (a
``KestrelVectorStore`` per user on the same path: they share one client, as the
store allows one writer per process). Chat messages are put as they come,
stamped with a time and an importance (a small VectorMemory subclass writes
them into the node's metadata); ``get(question)`` recalls the ones closest in
meaning, optionally only recent or important ones (LlamaIndex MetadataFilters);
"forget that" deletes by a text filter on the collection underneath
(``store.client``); and the memory survives a restart.

The embedding is a small offline bag-of-words model defined below.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile
import time
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.memory import VectorMemory
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
from llama_index.vector_stores.kestrel import KestrelVectorStore


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


class StampedMemory(VectorMemory):
    """VectorMemory whose nodes carry ``at`` (when) and ``importance`` metadata,
    taken from each message's ``additional_kwargs`` (default: now, 1)."""

    def _commit_node(self, override_last: bool = False) -> None:
        meta = self.cur_batch_textnode.metadata
        kwargs = [d.get("additional_kwargs") or {} for d in meta["sub_dicts"]]
        # (VectorMemory stores message kwargs as strings)
        stamps = [float(k["at"]) for k in kwargs if "at" in k]
        meta["at"] = max(stamps) if stamps else time.time()
        meta["importance"] = max((int(k.get("importance", 1)) for k in kwargs), default=1)
        super()._commit_node(override_last)


def memory_for(path: str, user: str) -> tuple[StampedMemory, KestrelVectorStore]:
    store = KestrelVectorStore(uri=path, collection_name=f"memory_{user}", dim=512)
    memory = StampedMemory.from_defaults(
        vector_store=store,
        embed_model=BagOfWords(),
        retriever_kwargs={"similarity_top_k": 1},
    )
    return memory, store


def recall(memory: VectorMemory, question: str, k: int = 1, **where: Any) -> list[str]:
    """The user's messages nearest to ``question``; ``where`` as
    ``at=(">=", t)`` or ``importance=(">=", 4)`` narrows the memories searched."""
    filters = MetadataFilters(
        filters=[MetadataFilter(key=key, operator=op, value=v) for key, (op, v) in where.items()]
    )
    view = VectorMemory(  # the same index, searched another way
        vector_index=memory.vector_index,
        retriever_kwargs={"similarity_top_k": k, **({"filters": filters} if where else {})},
    )
    return [str(m.content) for m in view.get(question) if m.role == MessageRole.USER]


def main(path: str) -> None:
    ana, ana_store = memory_for(path, "ana")
    ben, ben_store = memory_for(path, "ben")
    now, day = time.time(), 86_400.0
    for text, importance, age in (
        ("I am allergic to peanuts", 5, 30 * day),
        ("I prefer window seats on flights", 2, day),
        ("My daughter starts school in September", 3, 2 * day),
    ):
        stamp = {"at": now - age, "importance": importance}
        ana.put(ChatMessage(role=MessageRole.USER, content=text, additional_kwargs=stamp))
        ana.put(ChatMessage(role=MessageRole.ASSISTANT, content="Noted."))
    ben.put(ChatMessage(role=MessageRole.USER, content="I am allergic to cats"))

    print("ana, 'any allergies?':", recall(ana, "what am I allergic to?"))
    print("ben, 'any allergies?':", recall(ben, "what am I allergic to?"))
    print("ana, 'seats?':", recall(ana, "which seats on a flight?"))
    print("ana, this week:", sorted(recall(ana, "ana", 5, at=(">=", now - 7 * day))))
    print("ana, important only:", recall(ana, "ana", 5, importance=(">=", 4)))
    gone = ana_store.client.delete(filter='text_match(text, "flights")')
    print(f"forgot {gone} of ana's memories about flights")
    ana_store.close()  # the last store on the path closes its client, as a process exit
    ben_store.close()  # would; every put is already durable

    ana, ana_store = memory_for(path, "ana")  # a restart
    print("after a restart, ana 'seats?':", recall(ana, "which seats on a flight?"))
    print("after a restart, ana 'school?':", recall(ana, "when does school start?"))
    ana_store.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel-li-memory-")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp)
