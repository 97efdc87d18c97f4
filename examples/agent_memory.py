"""Long-term memory for an agent, on Kestrel's core API.

Run:  python examples/agent_memory.py [STORE_DIR]

One partition per user keeps each user's memories apart (a search never sees
another user's facts, and forgetting a user is dropping a partition). Facts
are written as they come, with an importance and a timestamp; recall is by
meaning, with a filter on recency or importance; "forget that" deletes by
filter; and the memory survives a restart, because every write is in the
store's write-ahead log before the call returns.

The embedding is the dependency-free HashEmbedding so this runs offline.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tempfile
import time

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding

DAY = 86_400


class Memory:
    """An agent's memory: remember, recall, forget; one partition per user."""

    def __init__(self, path: str):
        self.db = vs.connect(path)
        self.facts = self.db.create_collection("memory", embedding=HashEmbedding(256))

    def remember(self, user: str, text: str, importance: int, when: float) -> None:
        self.facts.create_partition(user)  # a no-op once it exists
        # one row per distinct fact (a stable hash: Python's hash() changes per process)
        digest = hashlib.blake2b(f"{user}\n{text}".encode(), digest_size=7).digest()
        key = int.from_bytes(digest, "little")
        self.facts.upsert(
            [{"id": key, "text": text, "importance": importance, "at": when}], partition=user
        )

    def recall(self, user: str, question: str, k: int = 3, filter: str = "") -> list[str]:
        if not self.facts.has_partition(user):
            return []
        hits = self.facts.search(
            [question], limit=k, filter=filter, partitions=[user], output_fields=["text"]
        )[0]
        return [hit["text"] for hit in hits]

    def forget(self, user: str, about: str) -> int:
        """Forget the user's facts that mention any of these words."""
        return self.facts.delete(
            filter="text_match(text, {words})", filter_params={"words": about}, partition=user
        )

    def close(self) -> None:
        self.db.close()


def main(path: str) -> None:
    now = time.time()
    memory = Memory(path)
    memory.remember("ana", "Ana is allergic to peanuts", importance=5, when=now - 30 * DAY)
    memory.remember("ana", "Ana prefers window seats on flights", importance=2, when=now - DAY)
    memory.remember("ana", "Ana's daughter starts school in September", 3, now - 2 * DAY)
    memory.remember("ana", "Ana booked a flight to Lisbon for May", 4, now)
    memory.remember("ben", "Ben is allergic to cats", importance=5, when=now)
    memory.remember("ben", "Ben prefers aisle seats", importance=2, when=now)

    print("ana, 'what is ana allergic to?':", memory.recall("ana", "what is ana allergic to?", 1))
    print("ben, 'what is ben allergic to?':", memory.recall("ben", "what is ben allergic to?", 1))
    recent = memory.recall("ana", "flights and seats", 5, filter=f"at >= {now - 7 * DAY}")
    print("ana, this week:", recent)
    print("ana, important only:", memory.recall("ana", "ana", 5, filter="importance >= 4"))
    print("forgot", memory.forget("ana", "flight flights"), "of ana's facts about flights")
    memory.close()  # the process could end here: the memories are on disk

    memory = Memory(path)  # a restart
    print("after a restart, ana:", memory.recall("ana", "what do we know about ana?", 5))
    print("after a restart, ben:", memory.recall("ben", "seats", 1))
    memory.facts.drop_partition("ben")  # forget a user entirely
    print("users with memories:", [p for p in memory.facts.list_partitions() if p != "_default"])
    memory.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel-memory-")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp)
