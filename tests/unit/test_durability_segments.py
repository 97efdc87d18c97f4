"""Store-level durability: a damaged file of a sealed segment (a flipped bit, cut
short, missing) and a manifest of a newer format version are named when the store
opens and leave it as it was, the other collections opening; compaction gives disk
space and memory (rows, hnswlib's slots) back.

Crash images and the ``store`` fixture: tests/helpers/durability.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.durability import (
    HNSW,
    SCHEMA,
    disk_bytes,
    image,
    open_collection,
    row,
    vec,
)

# pytest fixtures, found by name here (see tests/helpers/durability.py)
from helpers.durability import no_reader_retries as no_reader_retries
from helpers.durability import store as store

import vectorstore as vs

# ------------------------------------------------------- damaged segments

# The kinds of file a sealed segment holds; versioned names (tombstones, graphs) and
# the dynamic-field file are matched by pattern, the column files by name.
SEGMENT_FILES = {
    "id.npy": r"id\.npy",
    "vector.vec.npy": r"vector\.vec\.npy",
    "hnsw-graph": r"vector.*\.hgraph",
    "sp.sparse.indptr.npy": r"sp\.sparse\.indptr\.npy",
    "sp.sparse.indices.npy": r"sp\.sparse\.indices\.npy",
    "sp.sparse.values.npy": r"sp\.sparse\.values\.npy",
    "title.jsonl": r"title\.jsonl",
    "views.npy": r"views\.npy",
    "views.nulls.npy": r"views\.nulls\.npy",
    "score.npy": r"score\.npy",
    "tags.jsonl": r"tags\.jsonl",
    "meta.jsonl": r"meta\.jsonl",
    "dynamic-fields": r"(_meta|dynamic).*\.jsonl",
    "tombstones": r"(deleted|tombstones).*\.npy",
}


def segment_file(folder: Path, kind: str) -> Path:
    found = [p for p in folder.iterdir() if re.fullmatch(SEGMENT_FILES[kind], p.name)]
    assert len(found) == 1, (kind, sorted(p.name for p in folder.iterdir()))
    return found[0]


@pytest.fixture
def sealed(store, tmp_path) -> Path:
    """A closed store with one sealed segment (every kind of file) in folder seg_*."""
    db = store.connect()
    col = db.create_collection("c", schema=SCHEMA, indexes=[HNSW])
    col.insert([row(i) for i in range(30)])
    col.delete(ids=[3])
    db.close()
    segs = list((store.path / "c").glob("seg_*"))
    assert len(segs) == 1
    for kind in SEGMENT_FILES:
        segment_file(segs[0], kind)
    return segs[0]


@pytest.mark.parametrize("kind", list(SEGMENT_FILES))
@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_damaged_segment_file_is_named(store, sealed, kind, damage, no_reader_retries):
    path = segment_file(sealed, kind)
    name = path.name
    data = path.read_bytes()
    if damage == "flip":
        pos = len(data) - 2 if name.endswith(".npy") else len(data) // 2  # past .npy headers
        path.write_bytes(data[:pos] + bytes([data[pos] ^ 0x04]) + data[pos + 1 :])
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    for read_only in (False, True):
        with pytest.raises(vs.StorageError) as info:
            open_collection(store.path, read_only=read_only)
        assert str(path) in str(info.value) or f"{sealed.name}/{name}" in str(info.value), str(
            info.value
        )
        assert not isinstance(info.value, vs.LockedError)


def test_other_collections_of_a_damaged_store(store, sealed):
    """Damage in one collection's segment names it, when that collection is
    opened (with the default retries too); the other collections open."""
    with vs.connect(store.path) as db:
        db.create_collection("ok", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    segment_file(sealed, "id.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(vs.StorageError, match=r"id\.npy"):
        open_collection(store.path)
    open_collection(store.path, name="ok")  # collections open lazily
    open_collection(store.path, name="ok", read_only=True)
    with pytest.raises(vs.StorageError, match=r"id\.npy"):
        open_collection(store.path, read_only=True)


def test_newer_format_version_leaves_the_store_alone(store, tmp_path):
    db = store.connect()
    db.create_collection("c", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    img = image(store.path, tmp_path / "img")  # with an unreplayed log
    manifest = json.loads((img / "manifest.json").read_text())
    manifest["format_version"] = manifest["format_version"] + 1
    (img / "manifest.json").write_text(json.dumps(manifest))

    def files() -> dict[Path, bytes]:
        return {
            p: p.read_bytes()
            for p in img.rglob("*")
            if p.is_file() and "growing_" not in p.name and p.name != ".lock"
        }

    before = files()
    for read_only in (False, True):
        with pytest.raises(vs.StorageError) as info:
            open_collection(img, read_only=read_only)
        msg = str(info.value)
        assert "manifest.json" in msg and str(manifest["format_version"]) in msg
    assert files() == before


# -------------------------------------------------------------- compaction


def hnsw_elements(col: vs.Collection) -> tuple[int, int]:
    """(elements, allocated slots) over every hnswlib index of the collection."""
    n = cap = 0
    for segs in col._state.partitions.values():
        for seg in segs:
            for index in seg.indexes.values():
                n += len(index)
                cap += index._index.get_max_elements()
    return n, cap


def rows_held(col: vs.Collection) -> int:
    return sum(seg.num_rows for segs in col._state.partitions.values() for seg in segs)


def test_compact_gives_disk_and_memory_back(store):
    db = store.connect(segment_rows=500)
    col = db.create_collection("c", dimension=16, partitions=["p"])
    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(3000, 16)).astype(np.float32)
    col.insert([{"id": i, "vector": vecs[i], "t": "x" * 20} for i in range(2500)])
    col.insert([{"id": i, "vector": vecs[i]} for i in range(2500, 3000)], partition="p")
    col.flush()
    folder = store.path / "c"
    size_full = disk_bytes(folder)
    n_full, cap_full = hnsw_elements(col)
    assert n_full == 3000 and rows_held(col) == 3000
    keep = list(range(0, 3000, 10))
    col.delete(ids=[i for i in range(3000) if i % 10])
    col.flush()
    col.compact()
    assert col.count() == 300 and col.stats()["deleted_rows"] == 0
    n, cap = hnsw_elements(col)
    assert n == 300 and rows_held(col) == 300
    assert cap < cap_full / 2  # hnswlib preallocates: the slots must go too
    assert col._state.live_keys(list(range(3000)), None, None) == keep
    assert disk_bytes(folder) < size_full / 3
    # the compacted-away rows never come back in a search, the kept ones do
    hits = col.search(vecs[:50], limit=1, search_params={"ef": 300})
    assert all(h[0].id in set(keep) for h in hits)
    assert [h[0].id for h in hits[::10]] == keep[:5]
    db.close()
    db = store.connect(segment_rows=500)
    col = db.get_collection("c")
    assert sorted(r["id"] for r in col.query(output_fields=["id"])) == keep
    assert hnsw_elements(col)[0] == 300 and rows_held(col) == 300
    assert disk_bytes(folder) < size_full / 3


def test_deleting_everything_then_compact_leaves_almost_nothing(store):
    db = store.connect(segment_rows=200)
    col = db.create_collection("c", dimension=8)
    col.insert([{"id": i, "vector": vec(i) * 2} for i in range(1000)])
    col.flush()
    size_full = disk_bytes(store.path / "c")
    col.delete(filter="id >= 0")
    col.compact()
    assert col.count() == 0 and rows_held(col) == 0 and hnsw_elements(col)[0] == 0
    assert disk_bytes(store.path / "c") < size_full / 10
    assert col.search([vec(1) * 2], limit=3) == [[]]
