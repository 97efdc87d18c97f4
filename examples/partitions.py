"""Partitions: one collection, rows kept apart by tenant (or by month, or source).

Run:  python examples/partitions.py

A search or query can be limited to some partitions (the others are not
touched at all), a row moves between partitions by upsert, and dropping a
partition removes its rows in one step.
"""

from __future__ import annotations

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding


def main() -> None:
    with vs.connect(":memory:") as db:
        notes = db.create_collection("notes", embedding=HashEmbedding(64))
        for tenant in ("acme", "globex"):
            notes.create_partition(tenant)
        notes.insert(
            [
                {"id": 1, "text": "acme renews its contract in March"},
                {"id": 2, "text": "acme wants invoices in euros"},
            ],
            partition="acme",
        )
        notes.insert(
            [
                {"id": 3, "text": "globex renews its contract in June"},
                {"id": 4, "text": "globex pays by card"},
            ],
            partition="globex",
        )
        print("partitions:", notes.list_partitions())
        question = ["when does the contract renew?"]
        for tenant in ("acme", "globex"):
            hits = notes.search(question, limit=1, partitions=[tenant], output_fields=["text"])
            print(f"{tenant}: {hits[0][0]['text']}")
        print("both:", [h.id for h in notes.search(question, limit=4)[0]])
        # a row moves by upsert: the old copy leaves its partition
        notes.upsert([{"id": 4, "text": "globex pays by card"}], partition="acme")
        per_partition = notes.stats()["partitions"]
        print("rows per partition after moving id 4:", per_partition)
        notes.drop_partition("globex")
        print("after dropping globex:", notes.count(), "rows,", notes.list_partitions())


if __name__ == "__main__":
    main()
