"""Congruence for pymilvus's ORM (``connections``, ``utility``, ``Collection``,
``Partition``) and the search iterator: the same programs on real pymilvus with
Milvus Lite and on ``vectorstore.pymilvus`` give the same answers.

As in ``test_congruence_client.py``: each scenario is written once, records
what a program looks at, and the two records must be equal (distances to
1e-4). ``LITE`` marks where Milvus Lite answers unlike a Milvus server and
Kestrel follows the server.
"""

from __future__ import annotations

import os
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
from test_congruence_client import COLORS, VECTORS, assert_same, error_of, plain

import vectorstore.pymilvus as kestrel_pymilvus

pymilvus = pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
pd = pytest.importorskip("pandas")


def run_both(scenario: Any, tmp_path: Path) -> tuple[Any, Any]:
    with warnings.catch_warnings():  # pymilvus 3 marks its ORM deprecated
        warnings.simplefilter("ignore")
        real = scenario(pymilvus, str(tmp_path / "lite.db"))
    ours = scenario(kestrel_pymilvus, str(tmp_path / "kestrel"))
    return real, ours


def by_film(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(r) for r in rows), key=lambda r: r["film_id"])


def films_schema(pm: types.ModuleType) -> Any:
    fields = [
        pm.FieldSchema("film_id", pm.DataType.INT64, is_primary=True),
        pm.FieldSchema("films", dtype=pm.DataType.FLOAT_VECTOR, dim=4),
        pm.FieldSchema("genre", pm.DataType.VARCHAR, max_length=16),
        pm.FieldSchema("year", pm.DataType.INT64),
    ]
    return pm.CollectionSchema(fields=fields, description="films")


def orm_flow(pm: types.ModuleType, uri: str, **connect: Any) -> dict[str, Any]:
    """The ORM hello-world: connect, schema, columns and rows, index, load,
    search with param and expr, query, delete, upsert, partitions, utility."""
    pm.connections.connect("default", uri=uri, **connect)
    out: dict[str, Any] = {"connected": pm.connections.has_connection("default")}
    col = pm.Collection("films", films_schema(pm), consistency_level="Strong")
    out["has_index_before"] = (col.has_index(), len(col.indexes))
    out["no_index"] = error_of(col.index)
    columns = [
        list(range(20)),
        VECTORS[:20],
        [COLORS[i % 3] for i in range(20)],
        [1990 + i for i in range(20)],
    ]
    res = col.insert(columns)
    out["insert_columns"] = (res.insert_count, list(res.primary_keys), str(res))
    rows = [
        {"film_id": 20 + i, "films": VECTORS[20 + i], "genre": "doc", "year": 2020 + i}
        for i in range(10)
    ]
    out["insert_rows"] = col.insert(rows).insert_count
    col.flush()
    out["num_entities"] = (col.num_entities, col.is_empty)
    index = {"index_type": "HNSW", "metric_type": "L2", "params": {"M": 8, "efConstruction": 64}}
    col.create_index("films", index)
    out["index"] = (col.has_index(), col.index().field_name, col.index().params["index_type"])
    out["index_metric"] = col.index().params["metric_type"]
    out["index_done"] = pm.utility.wait_for_index_building_complete("films")
    out["index_progress"] = pm.utility.index_building_progress("films")
    col.load()
    out["load_state"] = pm.utility.load_state("films").name
    out["progress"] = pm.utility.loading_progress("films")
    param = {"metric_type": "L2", "params": {"ef": 64}}
    res = col.search(VECTORS[:2], "films", param, limit=4, output_fields=["genre"])
    out["search"] = plain(res)
    out["search_pk"] = plain(
        col.search(VECTORS[:1], "films", param, limit=2, output_fields=["film_id", "genre"])
    )
    out["search_all"] = plain(col.search(VECTORS[:1], "films", param, limit=2, output_fields=["*"]))
    out["search_ids"] = [(hits.ids, hits.distances) for hits in res]
    out["search_expr"] = plain(
        col.search(
            [VECTORS[5]],
            "films",
            param,
            limit=5,
            expr='genre == "red" and year > 1992',
            output_fields=["year", "genre"],
            round_decimal=2,
        )
    )
    out["search_offset"] = plain(
        col.search([VECTORS[5]], "films", {**param, "offset": 2}, limit=3, output_fields=["year"])
    )
    out["query"] = by_film(col.query("year < 1995", output_fields=["genre", "year"]))
    out["count"] = col.query('genre in ["red", "doc"]', output_fields=["count(*)"])
    deleted = col.delete("film_id in [0, 1, 2]")
    out["delete"] = deleted.delete_count
    up = col.upsert([[3], [VECTORS[33]], ["new"], [1]])
    out["upsert"] = (up.upsert_count, list(up.primary_keys))
    out["after"] = by_film(col.query("film_id <= 4", output_fields=["genre", "year"]))
    part = col.create_partition("recent")
    out["partition"] = (part.name, repr(part))
    part.insert([{"film_id": 100, "films": VECTORS[39], "genre": "p", "year": 2030}])
    out["partitions"] = [p.name for p in col.partitions]
    out["partition_objects"] = (col.has_partition("recent"), col.partition("nope"))
    out["partition_count"] = part.num_entities
    out["partition_search"] = plain(
        col.search(
            [VECTORS[39]],
            "films",
            param,
            limit=3,
            partition_names=["recent"],
            output_fields=["year"],
        )
    )
    out["partition_query"] = part.query("year > 0", output_fields=["genre"])
    col.release()
    out["released"] = pm.utility.load_state("films").name
    out["search_released"] = error_of(lambda: col.search([VECTORS[0]], "films", param, limit=1))
    col.load()
    out["missing"] = error_of(lambda: pm.Collection("nope"))
    out["other_schema"] = error_of(
        lambda: pm.Collection(
            "films",
            pm.CollectionSchema(
                [
                    pm.FieldSchema("film_id", pm.DataType.INT64, is_primary=True),
                    pm.FieldSchema("films", pm.DataType.FLOAT_VECTOR, dim=8),
                ]
            ),
        )
    )
    out["bad_columns"] = error_of(lambda: col.insert([[1, 2], VECTORS[:2]]))
    out["misaligned"] = error_of(lambda: col.insert([[1, 2], VECTORS[:1], ["a", "b"], [1, 2]]))
    out["utility"] = (pm.utility.has_collection("films"), pm.utility.list_collections())
    out["has_partition"] = pm.utility.has_partition("films", "recent")
    pm.utility.rename_collection("films", "movies")
    out["renamed"] = (pm.utility.list_collections(), pm.Collection("movies").num_entities)
    pm.utility.drop_collection("movies")
    out["dropped"] = pm.utility.list_collections()
    pm.connections.disconnect("default")
    out["disconnected"] = pm.connections.has_connection("default")
    return {"out": out, "deleted": deleted}


def test_orm_flow_answers_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(orm_flow, tmp_path)
    assert ours["out"]["num_entities"] == (30, False)
    assert_same(real["out"], ours["out"], "orm")


def frames(pm: types.ModuleType, uri: str, **connect: Any) -> dict[str, Any]:
    """A pandas DataFrame into an auto_id collection; ``Partition`` by name;
    ``query_iterator`` and ``hybrid_search`` on the ORM."""
    pm.connections.connect("frames", uri=uri, **connect)
    fields = [
        pm.FieldSchema("pk", pm.DataType.INT64, is_primary=True, auto_id=True),
        pm.FieldSchema("a", pm.DataType.FLOAT_VECTOR, dim=4),
        pm.FieldSchema("b", pm.DataType.FLOAT_VECTOR, dim=4),
        pm.FieldSchema("tag", pm.DataType.VARCHAR, max_length=8),
    ]
    col = pm.Collection("frames", pm.CollectionSchema(fields), using="frames")
    frame = pd.DataFrame(
        {"a": VECTORS[:25], "b": VECTORS[15:40], "tag": [COLORS[i % 3] for i in range(25)]}
    )
    res = col.insert(frame)
    keys = list(res.primary_keys)
    out: dict[str, Any] = {"inserted": res.insert_count}
    col.create_index("a", {"index_type": "FLAT", "metric_type": "L2", "params": {}})
    col.create_index("b", {"index_type": "FLAT", "metric_type": "IP"})
    col.load()
    hits = col.search([VECTORS[3]], "a", {"metric_type": "L2"}, limit=3, output_fields=["tag"])
    out["search"] = [
        [(keys.index(h.id), round(h.distance, 4), h.entity.get("tag")) for h in hits[0]]
    ]
    reqs = [
        pm.AnnSearchRequest([VECTORS[2]], "a", {"metric_type": "L2"}, 6),
        pm.AnnSearchRequest([VECTORS[20]], "b", {"metric_type": "IP"}, 6, expr='tag != "red"'),
    ]
    fused = col.hybrid_search(reqs, pm.RRFRanker(), limit=4, output_fields=["tag"])
    out["hybrid"] = [[(keys.index(h.id), round(h.distance, 4)) for h in fused[0]]]
    it = col.query_iterator(batch_size=10, expr='tag == "blue"', output_fields=["tag"])
    pages = []
    while page := it.next():
        pages.append(sorted(keys.index(r["pk"]) for r in page))
    it.close()
    out["iterator"] = pages
    it = col.search_iterator([VECTORS[4]], "a", {"metric_type": "L2"}, batch_size=4, limit=10)
    pages = []
    while page := it.next():
        pages.append([keys.index(h.id) for h in page])
    it.close()
    out["search_iterator"] = pages
    part = pm.Partition(col, "extra")
    out["partition"] = (part.name, part.is_empty, [p.name for p in col.partitions])
    pm.connections.disconnect("frames")
    return out


def test_dataframes_and_orm_hybrid_answer_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(frames, tmp_path)
    assert_same(real, ours, "frames")


def search_pages(pm: types.ModuleType, uri: str, **connect: Any) -> dict[str, Any]:
    """``search_iterator``: every row of an exact (FLAT) index, nearest first, in
    pages; and a limit that ends inside a page."""
    client = pm.MilvusClient(uri, **connect)
    schema = client.create_schema()
    schema.add_field("id", pm.DataType.INT64, is_primary=True)
    schema.add_field("v", pm.DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("c", pm.DataType.INT64)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("pages", schema=schema, index_params=index)
    client.insert("pages", [{"id": i, "v": VECTORS[i], "c": i % 4} for i in range(40)])
    out: dict[str, Any] = {}
    for name, kwargs in (
        ("all", {"batch_size": 7, "output_fields": ["c"]}),
        ("limited", {"batch_size": 6, "limit": 15, "filter": "c != 2", "output_fields": ["c"]}),
    ):
        it = client.search_iterator(
            "pages", data=[VECTORS[9]], search_params={"metric_type": "L2"}, **kwargs
        )
        pages = []
        while page := it.next():
            pages.append(plain([page])[0])
        it.close()
        out[name] = pages
    client.close()
    return out


def test_search_iterator_pages_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(search_pages, tmp_path)
    ids = [h["id"] for page in ours["all"] for h in page]
    assert sorted(ids) == list(range(40))  # every row, once
    assert [len(p) for p in ours["limited"]] == [6, 6, 3]
    assert_same(real, ours, "search_iterator")


def test_orm_follows_a_milvus_server_where_lite_does_not(tmp_path: Path) -> None:
    """LITE: Milvus Lite loads a collection that has no index and answers a
    query with neither filter nor limit; a Milvus server refuses both, and so
    does Kestrel, so that a program tried here also runs there."""
    pm = kestrel_pymilvus
    pm.connections.connect("strict", uri=str(tmp_path / "k"))
    col = pm.Collection("c", films_schema(pm), using="strict")
    with pytest.raises(pm.MilvusException) as info:
        col.load()
    assert info.value.code == 700
    with pytest.raises(pm.MilvusException) as info:
        col.search([VECTORS[0]], "films", {}, limit=1)
    assert info.value.code == 101  # created without an index: not loaded
    col.create_index("films", {"index_type": "FLAT", "metric_type": "L2"})
    col.load()
    with pytest.raises(pm.MilvusException) as info:
        col.query("")
    assert info.value.code == 1100
    assert col.query("", limit=5) == []
    with pytest.raises(pm.ConnectionNotExistException):
        pm.Collection("c", using="elsewhere")
    pm.connections.disconnect("strict")


def test_clients_of_one_path_share_the_store(tmp_path: Path) -> None:
    """A MilvusClient and the ORM on one path (as with Milvus Lite) see each
    other's writes; the store closes with its last holder."""
    pm = kestrel_pymilvus
    path = str(tmp_path / "shared")
    client = pm.MilvusClient(path)
    client.create_collection("c", dimension=4)
    pm.connections.connect("shared", uri=path)
    client.insert("c", [{"id": 1, "vector": VECTORS[0]}])
    assert pm.Collection("c", using="shared").num_entities == 1
    client.close()
    assert pm.Collection("c", using="shared").query("id > 0", output_fields=["id"]) == [{"id": 1}]
    pm.connections.disconnect("shared")
    again = pm.MilvusClient(path)  # reopens: nothing held it open
    assert again.get("c", ids=[1])[0]["id"] == 1
    again.close()


def test_search_iterator_reads_past_the_topk_ceiling(tmp_path: Path) -> None:
    """No 16,384-hit ceiling: on an exact index the iterator returns every row
    once, nearest first, with ties at a page boundary neither lost nor repeated."""
    import numpy as np

    pm = kestrel_pymilvus
    client = pm.MilvusClient(str(tmp_path / "deep"))
    schema = client.create_schema()
    schema.add_field("id", pm.DataType.INT64, is_primary=True)
    schema.add_field("v", pm.DataType.FLOAT_VECTOR, dim=2)
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="L2")
    client.create_collection("deep", schema=schema, index_params=index)
    grid = np.random.default_rng(5).integers(0, 40, size=(20_000, 2)).astype(float)  # many ties
    client.insert("deep", [{"id": i, "v": v} for i, v in enumerate(grid.tolist())])
    it = client.search_iterator("deep", data=[[0.0, 0.0]], batch_size=3_000)
    seen: list[int] = []
    last = -1.0
    while page := it.next():
        assert page.distances[0] >= last and page.distances == sorted(page.distances)
        last = page.distances[-1]
        seen.extend(page.ids)
    it.close()
    assert len(seen) == 20_000 and len(set(seen)) == 20_000
    client.close()


def index_lifecycle(pm: types.ModuleType, uri: str, **connect: Any) -> dict[str, Any]:
    """Indexes and partitions through their own objects: drop an index (released
    first, as Milvus requires), build another, ``Partition`` writes and reads."""
    pm.connections.connect("life", uri=uri, **connect)
    col = pm.Collection("life", films_schema(pm), using="life")
    col.insert([list(range(30)), VECTORS[:30], [COLORS[i % 3] for i in range(30)], [0] * 30])
    col.create_index("films", {"index_type": "HNSW", "metric_type": "L2", "params": {"M": 8}})
    col.load()
    out: dict[str, Any] = {"loaded_drop": error_of(col.drop_index)}
    col.release()
    col.drop_index()
    out["after_drop"] = (col.has_index(), [i.field_name for i in col.indexes])
    out["load_unindexed"] = error_of(col.load)[0]
    index = pm.Index(col, "films", {"index_type": "FLAT", "metric_type": "IP", "params": {}})
    out["index"] = (index.field_name, index.index_name, index.params["index_type"])
    out["index_dict"] = {k: v for k, v in col.index().to_dict().items() if k != "index_param"}
    col.load()
    part = col.create_partition("extra")
    out["duplicate_partition"] = error_of(lambda: col.create_partition("extra"))[0]
    part.insert([[100, 101], VECTORS[30:32], ["x", "y"], [5, 6]])
    part.upsert([[101], [VECTORS[33]], ["z"], [7]])
    out["partition_rows"] = sorted(
        (r["film_id"], r["genre"]) for r in part.query("year > 0", output_fields=["genre"])
    )
    out["partition_delete"] = part.delete("film_id in [100]").delete_count
    hits = part.search([VECTORS[33]], "films", {"metric_type": "IP"}, limit=5)
    out["partition_search"] = [(h.id, round(h.distance, 4)) for h in hits[0]]
    out["partition_count"] = (part.num_entities, col.num_entities)
    col.release()
    part.drop()
    out["partitions"] = [p.name for p in col.partitions]
    pm.utility.drop_collection("life", using="life")
    pm.connections.disconnect("life")
    return out


def test_indexes_and_partitions_answer_as_pymilvus_does(tmp_path: Path) -> None:
    real, ours = run_both(index_lifecycle, tmp_path)
    assert ours["after_drop"] == (False, [])
    # LITE: Milvus Lite loads a collection whose index was dropped; a server (and
    # Kestrel) refuses until an index is built again
    assert (real.pop("load_unindexed"), ours.pop("load_unindexed")) == (
        "no error",
        "MilvusException",
    )
    assert_same(real, ours, "lifecycle")


@pytest.mark.parametrize("kind", ["milvus-lite", "milvus-server"])
def test_the_same_programs_run_through_the_milvus_backend(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``vectorstore.pymilvus`` with a Milvus URI runs on Kestrel's Milvus backend:
    the ORM and iterator scenarios answer as on the embedded engine."""
    import vectorstore as vs

    connect: dict[str, Any] = {}
    if kind == "milvus-server":
        if os.environ.get("KESTREL_MILVUS_SERVER", "").lower() in ("off", "0", "no"):
            pytest.skip("KESTREL_MILVUS_SERVER=off")
        if not os.environ.get("KESTREL_MILVUS_URI"):
            pytest.importorskip("milvus")
        server = request.getfixturevalue("milvus_server")
        uri, connect = server.uri, {"db_name": server.database}
        with vs.connect(uri, db_name=server.database) as db:  # an empty database
            for name in db.list_collections():
                db.drop_collection(name)
    else:
        uri = "milvus-lite://" + str(tmp_path / "lite.db")
    scenarios = [orm_flow, frames, search_pages, index_lifecycle]
    if kind == "milvus-server":  # the test server is Milvus 2.3.5: one vector field
        scenarios.remove(frames)
        with pytest.raises(kestrel_pymilvus.MilvusException, match=r"needs Milvus >= 2\.4"):
            frames(kestrel_pymilvus, uri, **connect)
        kestrel_pymilvus.connections.disconnect("frames")
    for scenario in scenarios:
        embedded = scenario(kestrel_pymilvus, str(tmp_path / f"k_{scenario.__name__}"))
        remote = scenario(kestrel_pymilvus, uri, **connect)
        if scenario is orm_flow:
            assert str(embedded.pop("deleted")) == str(remote.pop("deleted"))
        assert_same(embedded, remote, f"{scenario.__name__} on {kind}")
