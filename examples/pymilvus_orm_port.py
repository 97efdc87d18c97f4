"""A pymilvus ORM program (the shape of Milvus's ``hello_milvus.py``) on Kestrel:
only the import changed.

    python examples/pymilvus_orm_port.py [STORE_DIR]

It connects, declares a schema with ``FieldSchema`` / ``CollectionSchema``,
inserts columns, builds an IVF_FLAT index, loads, searches with a filter,
queries, deletes and drops, all through ``connections``, ``utility`` and
``Collection``. With ``from pymilvus import ...`` and a ``.db`` path (Milvus
Lite) or ``uri="http://localhost:19530"`` it runs on Milvus unchanged.
"""

import sys
import tempfile

import numpy as np

# was: from pymilvus import (...)
from vectorstore.pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    connections,
    utility,
)

uri = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp() + "/hello_milvus.db"
connections.connect("default", uri=uri)
print(f"server: {utility.get_server_version()}")

if utility.has_collection("hello_milvus"):
    utility.drop_collection("hello_milvus")
fields = [
    FieldSchema(name="pk", dtype=DataType.VARCHAR, is_primary=True, auto_id=False, max_length=100),
    FieldSchema(name="random", dtype=DataType.DOUBLE),
    FieldSchema(name="embeddings", dtype=DataType.FLOAT_VECTOR, dim=8),
]
schema = CollectionSchema(fields, "hello_milvus is the simplest demo")
hello = Collection("hello_milvus", schema, consistency_level="Strong")

rng = np.random.default_rng(19530)
n = 3000
entities = [
    [str(i) for i in range(n)],  # columns, in the schema's order
    rng.random(n).tolist(),
    rng.random((n, 8), dtype=np.float32),
]
result = hello.insert(entities)
hello.flush()
print(f"inserted {result.insert_count} entities; num_entities {hello.num_entities}")

hello.create_index(
    "embeddings", {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 128}}
)
hello.load()
print(
    f"index {hello.index().params['index_type']}, load state {utility.load_state('hello_milvus')}"
)

vectors = entities[-1][-2:]  # the last two rows' vectors
params = {"metric_type": "L2", "params": {"nprobe": 10}}
result = hello.search(vectors, "embeddings", params, limit=3, output_fields=["random"])
for hits in result:
    top = hits[0]
    print(f"top hit {top.id} at distance {top.distance:.3f}, random {top.entity.get('random'):.3f}")

result = hello.search(
    vectors, "embeddings", params, limit=3, expr="random > 0.5", output_fields=["random"]
)
print(
    f"filtered: every hit has random > 0.5: {all(h.entity.get('random') > 0.5 for h in result[0])}"
)

rows = hello.query(expr="random > 0.5", output_fields=["random"], limit=4)
print(f"query: {len(rows)} rows, first has random {rows[0]['random']:.3f}")

ids = result[0].ids
deleted = hello.delete(f"pk in {ids}")
left = hello.query(expr=f"pk in {ids}", output_fields=["pk"])
print(f"deleted {deleted.delete_count}; left: {left}")

utility.drop_collection("hello_milvus")
print(f"collections after drop: {utility.list_collections()}")
connections.disconnect("default")
