"""Congruence: the same pymilvus ``MilvusClient`` programs, run by real pymilvus on
Milvus Lite and by ``vectorstore.pymilvus`` on Kestrel, give the same answers.

Each scenario is written once as a function of the module (``pymilvus`` or
``vectorstore.pymilvus``) and a URI, and records what a program would look at
(counts, ids, distances, rows, result shapes, error classes and codes). The two
records must be equal, distances to 1e-4. Where Milvus Lite answers unlike a
Milvus server, Kestrel follows the server and the scenario says so (``LITE``).
"""

from __future__ import annotations

import math
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorstore.pymilvus as kestrel_pymilvus

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

RNG = np.random.default_rng(3)
VECTORS = RNG.normal(size=(40, 4)).round(3).tolist()
COLORS = ["red", "green", "blue"]


def run_both(scenario: Any, tmp_path: Path) -> tuple[Any, Any]:
    real = scenario(pymilvus, str(tmp_path / "lite.db"))
    ours = scenario(kestrel_pymilvus, str(tmp_path / "kestrel"))
    return real, ours


def assert_same(real: Any, ours: Any, where: str = "") -> None:
    """Equal, floats to 1e-4, dicts by key, lists in order."""
    if isinstance(real, float) or isinstance(ours, float):
        assert math.isclose(real, ours, abs_tol=1e-4), f"{where}: {real} != {ours}"
    elif isinstance(real, dict):
        assert isinstance(ours, dict), f"{where}: {ours!r} is no dict"
        assert sorted(real) == sorted(ours), f"{where}: keys {sorted(real)} != {sorted(ours)}"
        for k in real:
            assert_same(real[k], ours[k], f"{where}.{k}")
    elif isinstance(real, (list, tuple)):
        assert isinstance(ours, (list, tuple)), f"{where}: {ours!r} is no list"
        assert len(real) == len(ours), f"{where}: {len(real)} items != {len(ours)}: {real} {ours}"
        for i, (a, b) in enumerate(zip(real, ours, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert real == ours, f"{where}: {real!r} != {ours!r}"


def plain(result: Any) -> Any:
    """A search result as plain lists and dicts (with its hits' attributes)."""
    out = []
    for hits in result:
        row = []
        for hit in hits:
            key = next(k for k in hit if k not in ("distance", "entity"))  # the key field's name
            assert hit.id == hit.pk == hit[key] and hit.distance == hit["distance"] == hit.score
            assert all(hit.entity.get(k) == v == hit[k] for k, v in hit["entity"].items())
            assert hit.fields == hit["entity"]
            row.append({key: hit.id, "distance": hit.distance, "entity": dict(hit["entity"])})
        out.append(row)
    return out


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(r) for r in rows), key=lambda r: r.get("id", r.get("pk")))


def error_of(fn: Any) -> tuple[str, int | None]:
    try:
        fn()
    except Exception as exc:  # the class and code are what is compared
        return type(exc).__name__, getattr(exc, "code", None)
    return "no error", None


def quick_setup(pm: types.ModuleType, uri: str) -> dict[str, Any]:
    """The Milvus quickstart: quick setup, rows with dynamic fields, search,
    query, get, upsert, delete, partitions, load state, errors."""
    client = pm.MilvusClient(uri)
    out: dict[str, Any] = {}
    client.create_collection("demo", dimension=4)
    out["collections"] = client.list_collections()
    out["load"] = client.get_load_state("demo")["state"].name
    rows = [
        {"id": i, "vector": v, "color": COLORS[i % 3], "n": i} for i, v in enumerate(VECTORS[:30])
    ]
    res = client.insert("demo", rows)
    out["insert"] = (res["insert_count"], list(res["ids"]))
    client.flush("demo")
    out["stats"] = client.get_collection_stats("demo")
    out["search"] = plain(
        client.search("demo", data=[VECTORS[0], VECTORS[7]], limit=5, output_fields=["color"])
    )
    out["search_filtered"] = plain(
        client.search(
            "demo",
            data=[VECTORS[3]],
            limit=4,
            filter='color == "red" and n > 5',
            output_fields=["n"],
        )
    )
    out["query"] = by_id(client.query("demo", filter="n < 6", output_fields=["color", "n"]))
    out["count"] = client.query(
        "demo", filter='color in ["red", "blue"]', output_fields=["count(*)"]
    )
    got = client.get("demo", ids=[2, 5, 99])
    out["get"] = by_id([{k: r[k] for k in ("id", "color", "n")} for r in got])
    out["get_vector"] = [[float(x) for x in r["vector"]] for r in by_id(got)]
    res = client.upsert("demo", {"id": 2, "vector": VECTORS[31], "color": "new", "n": 2})
    out["upsert"] = (res["upsert_count"], list(res["ids"]))
    out["after_upsert"] = by_id(client.query("demo", filter="id == 2", output_fields=["color"]))
    deleted = client.delete("demo", filter='color == "green"')
    out["after_delete"] = client.query("demo", filter="", output_fields=["count(*)"], limit=100)
    client.create_partition("demo", "p1")
    out["partitions"] = client.list_partitions("demo")
    out["has_partition"] = (client.has_partition("demo", "p1"), client.has_partition("demo", "x"))
    client.insert(
        "demo", [{"id": 100, "vector": VECTORS[35], "color": "p", "n": 0}], partition_name="p1"
    )
    out["partition_search"] = plain(
        client.search(
            "demo", data=[VECTORS[35]], limit=3, partition_names=["p1"], output_fields=["color"]
        )
    )
    default_entity = dict(client.search("demo", data=[VECTORS[35]], limit=1)[0][0]["entity"])
    client.release_collection("demo")
    out["released"] = client.get_load_state("demo")["state"].name
    out["search_released"] = error_of(lambda: client.search("demo", data=[VECTORS[0]], limit=1))
    client.load_collection("demo")
    out["loaded"] = client.get_load_state("demo")["state"].name
    out["missing"] = error_of(lambda: client.search("nope", data=[VECTORS[0]], limit=1))
    out["missing_state"] = client.get_load_state("nope")["state"].name
    out["wrong_dim"] = error_of(lambda: client.insert("demo", [{"id": 500, "vector": [1.0, 2.0]}]))[
        0
    ]
    out["bad_filter"] = error_of(lambda: client.query("demo", filter="n === 1"))[0]
    out["has"] = (client.has_collection("demo"), client.has_collection("nope"))
    client.drop_collection("demo")
    out["after_drop"] = client.list_collections()
    client.close()
    return {"out": out, "deleted": deleted, "default_entity": default_entity}


def test_quickstart_answers_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(quick_setup, tmp_path)
    # LITE: Milvus Lite answers a delete with the keys it was asked to delete; a
    # Milvus server (and Kestrel) with {"delete_count": n}
    assert isinstance(real["deleted"], list)
    assert ours["deleted"]["delete_count"] == 10
    # LITE: a search without output_fields returns every field; a server (and
    # pymilvus's docstring, and Kestrel) only the key and the distance
    assert real["default_entity"] and ours["default_entity"] == {}
    assert_same(real["out"], ours["out"], "quickstart")


def schema_setup(pm: types.ModuleType, uri: str) -> dict[str, Any]:
    """A schema and index parameters, as the pymilvus guides write them."""
    client = pm.MilvusClient(uri)
    schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(field_name="pk", datatype=pm.DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field(field_name="vec", datatype=pm.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field(field_name="year", datatype=pm.DataType.INT64)
    schema.add_field(field_name="title", datatype=pm.DataType.VARCHAR, max_length=64)
    index_params = pm.MilvusClient.prepare_index_params()
    index_params.add_index(
        field_name="vec",
        index_type="HNSW",
        metric_type="L2",
        params={"M": 8, "efConstruction": 64},
    )
    index_params.add_index(field_name="year", index_type="INVERTED")
    client.create_collection("books", schema=schema, index_params=index_params)
    rows = [
        {"pk": f"b{i:03d}", "vec": v, "year": 1990 + i, "title": f"title {i}"}
        for i, v in enumerate(VECTORS)
    ]
    out: dict[str, Any] = {"insert": client.insert("books", rows)["insert_count"]}
    out["indexes"] = sorted(client.list_indexes("books"))
    info = client.describe_index("books", "vec")
    out["vec_index"] = (info["index_type"], info["metric_type"])
    desc = client.describe_collection("books")
    out["fields"] = [
        (f["name"], f["type"].name, f.get("is_primary", False)) for f in desc["fields"]
    ]
    out["dynamic"] = desc["enable_dynamic_field"]
    out["search"] = plain(
        client.search(
            "books",
            data=[VECTORS[4]],
            anns_field="vec",
            limit=5,
            filter="year >= 2000",
            output_fields=["title", "year"],
            search_params={"metric_type": "L2", "params": {"ef": 64}},
        )
    )
    out["by_ids"] = by_id(client.query("books", ids=["b001", "b003"], output_fields=["title"]))
    out["window"] = len(client.query("books", filter="year > 1995", output_fields=["pk"], limit=7))
    res = client.delete("books", ids=["b000", "b001"])
    out["left"] = client.query("books", filter="", output_fields=["count(*)"])
    client.close()
    return {"out": out, "deleted": res}


def test_schema_and_index_params_answer_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(schema_setup, tmp_path)
    assert ours["deleted"]["delete_count"] == 2  # LITE: a list of the keys
    assert_same(real["out"], ours["out"], "schema")


def test_results_print_and_compare_as_pymilvus_does(tmp_path: Path) -> None:
    client = kestrel_pymilvus.MilvusClient(str(tmp_path / "k"))
    client.create_collection("c", dimension=2)
    res = client.insert("c", [{"id": 1, "vector": [1.0, 0.0]}])
    assert res == {"insert_count": 1, "ids": [1], "cost": 0}
    assert str(res) == "{'insert_count': 1, 'ids': [1]}"  # cost 0 is not printed
    hits = client.search("c", data=[[1.0, 0.0]], limit=1)
    assert hits[0].ids == [1] and hits[0].distances == pytest.approx([1.0])
    assert hits[0][0].score == hits[0][0].distance and hits[0][0]["id"] == 1
    with pytest.raises(kestrel_pymilvus.MilvusException) as info:
        client.insert("c", [{"id": 1, "vector": [0.0, 1.0]}])
    assert "unique" in info.value.message and isinstance(info.value.__cause__, Exception)
    with pytest.raises(kestrel_pymilvus.ParamError):
        client.delete("c", ids=[1], filter="id > 0")
    client.close()


def hybrid_setup(pm: types.ModuleType, uri: str) -> dict[str, Any]:
    """Two dense fields fused by RRF and by weights (``AnnSearchRequest``)."""
    client = pm.MilvusClient(uri)
    schema = pm.MilvusClient.create_schema(enable_dynamic_field=True)
    schema.add_field("id", pm.DataType.INT64, is_primary=True)
    schema.add_field("a", pm.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("b", pm.DataType.FLOAT_VECTOR, dim=4)
    index_params = client.prepare_index_params()
    index_params.add_index("a", index_type="FLAT", metric_type="L2")
    index_params.add_index("b", index_type="FLAT", metric_type="IP")
    client.create_collection("h", schema=schema, index_params=index_params)
    rows = [
        {"id": i, "a": VECTORS[i], "b": VECTORS[-1 - i], "tag": COLORS[i % 3]} for i in range(30)
    ]
    client.insert("h", rows)
    reqs = [
        pm.AnnSearchRequest(data=[VECTORS[2]], anns_field="a", param={}, limit=8),
        pm.AnnSearchRequest(
            data=[VECTORS[-5]], anns_field="b", param={}, limit=8, expr='tag != "red"'
        ),
    ]
    out = {
        "rrf": plain(
            client.hybrid_search("h", reqs, pm.RRFRanker(60), limit=5, output_fields=["tag"])
        ),
        "weighted": plain(
            client.hybrid_search(
                "h", reqs, pm.WeightedRanker(0.7, 0.3), limit=5, output_fields=["tag"]
            )
        ),
        "indexes": sorted(client.list_indexes("h")),
        "flat": client.describe_index("h", "a")["index_type"],
    }
    client.close()
    return out


def test_hybrid_search_fuses_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(hybrid_setup, tmp_path)
    assert_same(real, ours, "hybrid")


def iterate(pm: types.ModuleType, uri: str) -> dict[str, Any]:
    """``query_iterator``: batches in key order, limit and offset, every field by default."""
    client = pm.MilvusClient(uri)
    client.create_collection("it", dimension=4)
    client.insert(
        "it", [{"id": i, "vector": VECTORS[i % 40], "c": i % 3} for i in range(90, 0, -1)]
    )
    out: dict[str, Any] = {}
    batches = []
    it = client.query_iterator("it", batch_size=16, filter="c != 1")
    while batch := it.next():
        batches.append([(r["id"], r["c"], [float(x) for x in r["vector"]]) for r in batch])
    it.close()
    out["all"] = batches
    it = client.query_iterator("it", batch_size=4, limit=10, output_fields=["c"], offset=3)
    out["window"] = [[dict(r) for r in it.next()] for _ in range(4)]
    client.close()
    return out


def test_query_iterator_pages_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(iterate, tmp_path)
    assert [len(b) for b in ours["all"]] == [16, 16, 16, 12]
    assert_same(real, ours, "iterator")
