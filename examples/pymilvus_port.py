"""Milvus's quickstart, written for pymilvus, on Kestrel: only the import changed.

    python examples/pymilvus_port.py [STORE_DIR]

With ``from pymilvus import MilvusClient`` the same program runs on Milvus Lite
(``MilvusClient("milvus_demo.db")``) or a Milvus server (``"http://localhost:19530"``).
"""

import random
import sys
import tempfile

from vectorstore.pymilvus import MilvusClient  # was: from pymilvus import MilvusClient

uri = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp() + "/milvus_demo.db"
client = MilvusClient(uri)

if client.has_collection(collection_name="demo_collection"):
    client.drop_collection(collection_name="demo_collection")
client.create_collection(collection_name="demo_collection", dimension=8)

random.seed(0)
docs = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
]
vectors = [[random.uniform(-1, 1) for _ in range(8)] for _ in docs]
data = [
    {"id": i, "vector": vectors[i], "text": docs[i], "subject": "history"} for i in range(len(docs))
]
res = client.insert(collection_name="demo_collection", data=data)
print(f"inserted {res['insert_count']} rows: ids {res['ids']}")

res = client.search(
    collection_name="demo_collection",
    data=[vectors[1]],
    limit=2,
    output_fields=["text", "subject"],
)
for hit in res[0]:
    print(f"hit {hit['id']} distance {hit['distance']:.3f}: {hit['entity']['text']}")

res = client.query(
    collection_name="demo_collection",
    filter="subject == 'history'",
    output_fields=["text", "subject"],
)
print(f"query: {len(res)} rows about history")

res = client.get(collection_name="demo_collection", ids=[0, 2], output_fields=["text"])
print(f"get: {[r['id'] for r in res]}")

# a Milvus server answers {"delete_count": 2}; Milvus Lite the deleted keys
client.delete(collection_name="demo_collection", filter="id in [0, 2]")
print(client.query(collection_name="demo_collection", filter="", output_fields=["count(*)"]))
client.close()
