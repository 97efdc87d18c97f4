"""Kestrel in two minutes: a durable collection, search, filters, deletes, reopen.

Run:  python examples/quickstart.py [STORE_DIR]

The vectors come from a tiny hashed bag-of-words embedding defined below, so
the demo runs offline with nothing but Kestrel installed. Real applications
plug in an embedding model (OpenAI, sentence-transformers).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
import tempfile

import numpy as np

import vectorstore as vs

DIM = 256

CORPUS = [
    ("The peregrine falcon is the fastest bird, diving at over 300 km/h.", "birds", 2019, 5400),
    ("Kestrels hover in the wind while hunting small mammals.", "birds", 2021, 1200),
    ("Owls hunt at night; their feathers make their flight silent.", "birds", 2015, 800),
    ("Hummingbirds beat their wings up to 80 times a second.", "birds", 2012, 300),
    ("Rust guarantees memory safety without a garbage collector.", "programming", 2020, 9100),
    ("Python's GIL lets one thread run bytecode at a time.", "programming", 2018, 7600),
    ("HNSW graphs give fast approximate nearest neighbour search.", "programming", 2016, 4300),
    ("A write-ahead log makes a database survive a crash.", "programming", 2011, 2500),
    ("The James Webb telescope observes the early universe in infrared.", "space", 2022, 8800),
    ("Voyager 1 left the heliosphere and entered interstellar space.", "space", 2012, 6100),
    ("Mars has the tallest volcano in the solar system, Olympus Mons.", "space", 2009, 3900),
    ("A neutron star packs more mass than the Sun into a city-sized ball.", "space", 2017, 4700),
]


def embed(text: str) -> list[float]:
    """Hashed bag of words (with crude suffix stripping), L2-normalised."""
    vec = np.zeros(DIM, dtype=np.float32)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        stem = re.sub(r"(ing|ers|er|es|s)$", "", word) if len(word) > 4 else word
        h = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "little")
        vec[h % DIM] += 1.0 if (h >> 32) & 1 else -1.0
    norm = float(np.linalg.norm(vec))
    return (vec / norm if norm else vec).tolist()


def show(title: str, hits: list[vs.Hit]) -> None:
    print(f"\n{title}")
    for hit in hits:
        print(f"  {hit.distance:6.3f}  [{hit['topic']:>11}, {hit['year']}]  {hit['text']}")


def main(path: str) -> None:
    with vs.connect(path) as db:
        docs = db.create_collection("docs", dimension=DIM, metric="COSINE")
        rows = [
            {
                "id": i,
                "vector": embed(text),
                "text": text,
                "topic": topic,
                "year": year,
                "views": views,
            }
            for i, (text, topic, year, views) in enumerate(CORPUS)
        ]
        docs.upsert(rows)  # upsert: running the demo twice replaces, never duplicates
        print(f"stored {docs.count()} documents in {path}")

        fields = ["text", "topic", "year"]
        question = "which bird hunts fastest?"
        show(
            f"search: {question!r}",
            docs.search([embed(question)], limit=3, output_fields=fields)[0],
        )
        show(
            'filtered: "a telescope for the early universe", year >= {y} and views > 5000',
            docs.search(
                [embed("a telescope for the early universe")],
                limit=2,
                output_fields=fields,
                filter="year >= {y} and views > 5000",
                filter_params={"y": 2010},
            )[0],
        )

        popular = docs.query(
            filter='topic in ["programming", "space"] and views >= 6000',
            output_fields=["text", "views"],
        )
        print("\nquery: popular programming and space documents")
        for row in popular:
            print(f"  {row['views']:>5}  {row['text']}")

        removed = docs.delete(filter='topic == "birds" and year < 2016')
        print(f"\ndeleted {removed} old bird documents; {docs.count()} remain")

    with vs.connect(path) as db:  # reopen: everything acknowledged is still there
        docs = db.get_collection("docs")
        birds = docs.count(filter='topic == "birds"')
        print(f"reopened {path}: {docs.count()} documents, {birds} about birds")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        folder = tempfile.mkdtemp(prefix="kestrel-quickstart-")
        try:
            main(folder)
        finally:
            shutil.rmtree(folder)
