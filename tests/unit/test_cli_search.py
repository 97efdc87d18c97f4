"""``kestrel search`` (issue 18): it says which field and route it searched, ``--field``
picks a dense field (embedded by the collection's provider or ``--embedding``),
``--hybrid`` fuses dense and BM25, and an unknown filter field is an error or a note.

The "adapter-built store" is made by the real LangChain adapter, with a LangChain
``Embeddings`` over Kestrel's offline hash provider.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.cli import fails, ok, run, write_jsonl
from langchain_core.embeddings import Embeddings
from langchain_kestrel import KestrelVectorStore

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding

TEXTS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "rust is a systems programming language",
    "python is a scripting language",
    "birds fly south in winter",
]


class HashEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` made of Kestrel's hash provider (16 dimensions)."""

    def __init__(self) -> None:
        self.hash = HashEmbedding(16)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self.hash.embed_documents(texts)]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.hash.embed_query(text)]


@pytest.fixture
def lc_store(tmp_path: Path) -> Path:
    """A store written by the LangChain adapter: collection ``lc`` with a dense
    ``vector`` field (vectors made outside) and a BM25 ``sparse`` field."""
    path = tmp_path / "lc"
    store = KestrelVectorStore(embedding=HashEmbeddings(), uri=str(path), collection_name="lc")
    store.add_texts(
        TEXTS,
        metadatas=[{"n": i} for i in range(len(TEXTS))],
        ids=[str(i) for i in range(len(TEXTS))],
    )
    store.client.close()
    return path


def hits(result_stdout: str) -> list[str]:
    return [str(h["id"]) for h in json.loads(result_stdout)]


def test_text_on_an_adapter_store_says_it_ran_bm25(lc_store: Path) -> None:
    result = ok(run("search", lc_store, "lc", "rust language", "--json"))
    assert hits(result.stdout)[0] == "2"
    assert "searched 'sparse' (sparse, BM25 full text of 'text')" in result.stderr
    assert (
        "dense field 'vector' takes text with --field vector --embedding PROVIDER" in result.stderr
    )
    json.loads(result.stdout)  # the note stays off stdout


def test_field_picks_the_dense_field_with_a_provider(lc_store: Path) -> None:
    message = fails(run("search", lc_store, "lc", "rust language", "--field", "vector"))
    assert "field 'vector' holds vectors made outside the store" in message
    assert "--embedding PROVIDER" in message
    result = ok(
        run(
            "search",
            lc_store,
            "lc",
            TEXTS[4],
            "--field",
            "vector",
            "--embedding",
            "hash:16",
            "--json",
        )
    )
    found = json.loads(result.stdout)
    assert found[0]["id"] == "4" and found[0]["distance"] == pytest.approx(1.0, abs=1e-5)
    assert (
        "searched 'vector' (dense, COSINE): text embedded by --embedding hash:16" in result.stderr
    )
    # --embedding alone also chooses the dense field
    alone = ok(run("search", lc_store, "lc", TEXTS[4], "--embedding", "hash:16", "--json"))
    assert hits(alone.stdout)[0] == "4" and "searched 'vector' (dense" in alone.stderr
    wrong = fails(run("search", lc_store, "lc", "x", "--field", "nope"))
    assert (
        wrong
        == "error: --field 'nope': no field of collection 'lc' (vector fields: vector, sparse)"
    )


def test_hybrid_fuses_dense_and_bm25(lc_store: Path) -> None:
    message = fails(run("search", lc_store, "lc", "rust language", "--hybrid"))
    assert "holds vectors made outside the store" in message
    result = ok(
        run(
            "search",
            lc_store,
            "lc",
            "rust language",
            "--hybrid",
            "--embedding",
            "hash:16",
            "--json",
        )
    )
    assert "hybrid search: 'vector' (dense, COSINE)" in result.stderr
    assert "'sparse' (sparse, BM25 full text of 'text'); fused by RRF (k=60)" in result.stderr
    fused = json.loads(result.stdout)
    # the same fusion through the engine's own hybrid_search
    with vs.connect(lc_store, read_only=True) as db:
        col = db.get_collection("lc")
        vector = HashEmbedding(16).embed_query("rust language").tolist()
        expected = col.hybrid_search(
            [
                vs.AnnRequest([vector], "vector", limit=50),
                vs.AnnRequest(["rust language"], "sparse", limit=50),
            ],
            vs.RRFRanker(60),
            limit=10,
        )[0]
    assert [h["id"] for h in fused] == [h.id for h in expected]
    assert [h["distance"] for h in fused] == pytest.approx([h.distance for h in expected])
    assert fused[0]["id"] == "2"
    usage = fails(run("search", lc_store, "lc", "[0.1, 0.2]", "--hybrid"), code=2)
    assert "--hybrid" in usage and "text QUERY" in usage


def test_hybrid_on_a_collection_that_embeds_its_text(tmp_path: Path) -> None:
    path = tmp_path / "db"
    schema = vs.Schema(
        fields=[
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("text", vs.DataType.VARCHAR, max_length=200, analyzer="standard"),
            vs.Field("dense", vs.DataType.FLOAT_VECTOR, dim=16),
            vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
        ],
        functions=[
            vs.BM25(input="text", output="sparse"),
            vs.TextEmbedding(input="text", output="dense", provider=HashEmbedding(16)),
        ],
    )
    with vs.connect(path) as db:
        db.create_collection("both", schema=schema).insert(
            [{"id": i, "text": t} for i, t in enumerate(TEXTS)]
        )
    several = fails(run("search", path, "both", "python"))
    assert (
        "several fields take text (dense, sparse): pick one with --field, or pass --hybrid"
        in several
    )
    dense = ok(run("search", path, "both", "python", "--field", "dense"))
    assert (
        "searched 'dense' (dense, COSINE): text embedded by the collection's hash" in dense.stderr
    )
    fused = ok(run("search", path, "both", "python scripting", "--hybrid", "--json"))
    assert json.loads(fused.stdout)[0]["id"] == 3
    assert "text embedded by the collection's hash" in fused.stderr and "RRF" in fused.stderr
    # --ef goes to the dense (HNSW) route only; the filter to both
    args = ("--hybrid", "--ef", "64", "--filter", "id != 3", "--json")
    filtered = json.loads(ok(run("search", path, "both", "python scripting", *args)).stdout)
    assert filtered and 3 not in [h["id"] for h in filtered]


def test_an_unknown_filter_field_is_an_error_without_dynamic_fields(lc_store: Path) -> None:
    result = run("search", lc_store, "lc", "rust", "--filter", "yr > 3")
    message = fails(result)
    assert message.startswith("error: unknown field 'yr'") and "no dynamic field" in message
    assert "(no hits)" not in result.stdout


def test_an_unknown_filter_key_is_a_note_with_dynamic_fields(tmp_path: Path) -> None:
    path = tmp_path / "db"
    source = write_jsonl(
        tmp_path / "r.jsonl",
        [{"id": i, "vector": [1.0, float(i)], "year": 2000 + i} for i in range(3)],
    )
    ok(run("import", path, "docs", source))
    typo = ok(run("search", path, "docs", "[1, 0]", "--filter", "yr > 3"))
    assert typo.stdout.strip() == "(no hits)"  # legal in Milvus: a dynamic key
    assert (
        "note: no row of 'docs' has a value for 'yr', so the filter matches no row; 'yr' is not "
        "a field (fields: id, vector) but a dynamic key"
    ) in typo.stderr
    real = ok(run("search", path, "docs", "[1, 0]", "--filter", "year > 2000", "--json"))
    assert sorted(hits(real.stdout)) == ["1", "2"] and "note:" not in real.stderr


def test_a_vector_query_names_its_field(lc_store: Path) -> None:
    vector = HashEmbedding(16).embed_query(TEXTS[1]).tolist()
    result = ok(run("search", lc_store, "lc", json.dumps(vector), "--json"))
    assert hits(result.stdout)[0] == "1"
    assert "searched 'vector' (dense, COSINE) with the given vector" in result.stderr
