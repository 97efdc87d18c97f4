"""The HNSW graph file (.hgraph): hnswlib's index without its copy of the vectors.

Real hnswlib throughout: every index here is built by hnswlib, saved without its
vectors, rebuilt from the segment's rows and compared with the original through
hnswlib's own ``__getstate__`` (the level-0 block: links, vectors and labels).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.columns import VectorFile
from vectorstore.index import hnsw_file
from vectorstore.index.hnsw import HnswIndex, IncompleteSearchError
from vectorstore.storage import segment_io
from vectorstore.storage.manifest import seal
from vectorstore.types import Metric

METRICS = [Metric.L2, Metric.IP, Metric.COSINE]


def built(
    n: int, dim: int, metric: Metric, seed: int = 0, m: int = 8
) -> tuple[HnswIndex, np.ndarray]:
    """An index over ``n`` rows, added in a shuffled label order (so hnswlib's
    internal ids are not the labels), a few rows deleted."""
    rng = np.random.default_rng(seed)
    vectors = (rng.standard_normal((n, dim)) * rng.lognormal(0, 1, (n, 1))).astype(np.float32)
    index = HnswIndex(dim, metric, M=m, ef_construction=40, capacity=max(n // 2, 1))
    order = rng.permutation(n)
    index.add(np.ascontiguousarray(vectors[order]), order.astype(np.int64))
    index.mark_deleted(np.arange(0, n, 7))
    return index, vectors


def hnswlib_state(index: HnswIndex) -> dict[str, Any]:
    """hnswlib's own view of an index, but for the machine's default thread
    count and the capacity (a loaded graph holds exactly its rows)."""
    state: dict[str, Any] = index._index.__getstate__()[0]
    state.pop("num_threads")
    state.pop("max_elements")
    state["element_levels"] = state["element_levels"][: state["cur_element_count"]]
    return state


def assert_same_index(a: HnswIndex, b: HnswIndex) -> None:
    sa, sb = hnswlib_state(a), hnswlib_state(b)
    assert sa["data_level0"].tobytes() == sb["data_level0"].tobytes()
    assert sorted(sa) == sorted(sb)
    for key, value in sa.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, sb[key]), key
        else:
            assert value == sb[key], key


def records(path: Path) -> list[np.ndarray]:
    with open(path, "rb") as f:
        return hnsw_file._read_all(f, str(path))


# ------------------------------------------------------------- round trips
@settings(max_examples=40, deadline=None)
@given(
    metric=st.sampled_from(METRICS),
    dim=st.integers(1, 40),
    n=st.integers(0, 300),
    m=st.integers(2, 12),
    seed=st.integers(0, 2**16),
)
@example(metric=Metric.IP, dim=1, n=69, m=2, seed=0)  # a graph that reaches < 5 rows
def test_the_rebuilt_index_is_byte_identical(tmp_path_factory, metric, dim, n, m, seed):
    index, vectors = built(n, dim, metric, seed, m)
    path = tmp_path_factory.mktemp("g") / "v-1.hgraph"
    index.save(str(path), vectors)
    back = HnswIndex.load(str(path), vectors, metric)
    assert_same_index(index, back)
    assert len(back) == n
    if n > 20:
        queries = np.random.default_rng(seed).standard_normal((3, dim)).astype(np.float32)
        # the same answer, or the same failure: a degenerate graph (M 2, one dimension,
        # IP) may reach fewer than k live rows, and then both must say so
        assert searched(back, queries) == searched(index, queries)


def searched(index: HnswIndex, queries: np.ndarray) -> tuple[bytes, ...] | str:
    try:
        return tuple(a.tobytes() for a in index.search(queries, 5, 30))
    except IncompleteSearchError:
        return "incomplete"


@pytest.mark.parametrize("dim", [5, 50, 128, 133])
def test_numpy_reproduces_hnswlibs_normalisation(tmp_path, dim):
    """COSINE rows are rebuilt with numpy; the patch holds what it cannot
    reproduce. On hnswlib as built here that is nothing: any dimension, both
    the 8-wide part of the sum and the fused remainder."""
    index, vectors = built(3000, dim, Metric.COSINE, seed=dim)
    path = tmp_path / "v-1.hgraph"
    np.save(tmp_path / "v.vec.npy", vectors)
    rows = VectorFile(str(tmp_path / "v.vec.npy"))  # as segments read them: by slices
    index.save(str(path), rows)
    patch_ids, patch_rows = records(path)[6:]
    assert len(patch_ids) <= 30, "a 1 % patch: numpy no longer sums like this hnswlib"
    assert patch_rows.shape == (len(patch_ids), dim)
    assert_same_index(index, HnswIndex.load(str(path), rows, Metric.COSINE))
    assert_same_index(index, HnswIndex.load(str(path), vectors, Metric.COSINE))


def test_rows_the_rebuild_cannot_reproduce_travel_in_the_patch(tmp_path):
    """The saver compares hnswlib's bytes with what the loader will rebuild:
    here rows 3 and 10 of the segment are not what the graph holds (as a
    differently built hnswlib would normalise them), so they go into the patch
    and the loaded index still holds hnswlib's bytes, not the segment's."""
    index, vectors = built(200, 6, Metric.L2)
    segment = vectors.copy()
    segment[[3, 10]] += np.float32(0.25)
    path = tmp_path / "v-1.hgraph"
    index.save(str(path), segment)
    patch_ids, patch_rows = records(path)[6:]
    labels = records(path)[3]
    assert sorted(labels[patch_ids].tolist()) == [3, 10]
    assert patch_rows.tobytes() == vectors[labels[patch_ids].astype(int)].tobytes()
    assert_same_index(index, HnswIndex.load(str(path), segment, Metric.L2))


def test_the_graph_file_leaves_out_every_vector(tmp_path):
    n, dim = 2000, 32
    index, vectors = built(n, dim, Metric.COSINE)
    graph, own = tmp_path / "v-1.hgraph", tmp_path / "v-1.hnsw"
    index.save(str(graph), vectors)
    index._index.save_index(str(own))  # hnswlib's file: links and vectors
    saved = own.stat().st_size - graph.stat().st_size
    assert saved >= n * dim * 4, (own.stat().st_size, graph.stat().st_size)


# ------------------------------------------------------------- faults
@pytest.fixture
def graph(tmp_path) -> tuple[Path, np.ndarray]:
    index, vectors = built(40, 3, Metric.COSINE, m=4)
    path = tmp_path / "v-1.hgraph"
    index.save(str(path), vectors)
    return path, vectors


@pytest.mark.parametrize(
    "vectors, problem",
    [
        (lambda v: v[:-1], "holds 40 rows, the segment 39"),
        (lambda v: np.zeros((40, 4), np.float32), "dimension 3"),
    ],
)
def test_a_graph_that_does_not_fit_its_segment(graph, vectors, problem):
    path, rows = graph
    with pytest.raises(vs.StorageError, match=problem) as info:
        HnswIndex.load(str(path), vectors(rows), Metric.COSINE)
    assert str(path) in str(info.value)
    with pytest.raises(vs.StorageError, match="metric") as info:
        HnswIndex.load(str(path), rows, Metric.IP)


@pytest.mark.parametrize("keep", [0, 7, 64, 200, -100, -1])
def test_a_truncated_graph_file_is_named(graph, keep):
    path, rows = graph
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(vs.StorageError) as info:
        HnswIndex.load(str(path), rows, Metric.COSINE)
    assert str(path) in str(info.value)


def walked(index: HnswIndex, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A search walking the links from the entry point with a beam of 40; where the
    damage left fewer than 40 rows reachable (a link or a deleted mark changed), the
    search says so (a segment then searches exactly) and a beam of k must answer."""
    try:
        return index.search(queries, k, 40)
    except IncompleteSearchError:
        return index.search(queries, k, k)


def test_any_flipped_bit_is_refused_or_loads_a_sane_graph(graph):
    """Without the manifest's CRC (which refuses them all, below), a flipped bit
    either fails a structural check or lands where hnswlib can live with it (a
    link to another row, a deleted mark, padding): never a crash."""
    path, rows = graph
    data = path.read_bytes()
    refused = 0
    for pos in range(len(data)):
        path.write_bytes(data[:pos] + bytes([data[pos] ^ (1 << pos % 8)]) + data[pos + 1 :])
        try:
            index = HnswIndex.load(str(path), rows, Metric.COSINE)
        except vs.StorageError as exc:
            assert str(path) in str(exc)
            refused += 1
            continue
        assert len(index) == len(rows)
        assert walked(index, rows[:2], 1)[0].shape == (2, 1)
    assert refused > len(data) // 4


def test_random_bytes_where_hnswlib_follows_them_never_crash(graph):
    """Random bytes over the records hnswlib trusts (links of every level,
    labels, levels): refused, or a graph hnswlib can search."""
    path, rows = graph
    data = path.read_bytes()
    spans = []
    for record in records(path)[2:6]:
        start = data.index(record.tobytes())
        spans.append((start, start + record.nbytes))
    rng = np.random.default_rng(0)
    loaded = 0
    for _ in range(400):
        damaged = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            lo, hi = spans[rng.integers(len(spans))]
            damaged[rng.integers(lo, hi)] = rng.integers(256)
        path.write_bytes(bytes(damaged))
        try:
            index = HnswIndex.load(str(path), rows, Metric.COSINE)
        except vs.StorageError:
            continue
        loaded += 1
        assert walked(index, rows[:4], 3)[0].shape == (4, 3)
    assert 0 < loaded < 400


def test_an_upper_link_to_a_row_without_that_level_is_refused(tmp_path):
    """hnswlib walks a level's links into each neighbour's list of that level:
    a neighbour that has none would be read past its memory."""
    index, vectors = built(300, 3, Metric.L2, m=4)
    path = tmp_path / "v-1.hgraph"
    index.save(str(path), vectors)
    levels, upper = records(path)[4:6]
    lists = upper.view(np.uint32).reshape(-1, 5)
    row = int(np.flatnonzero(lists[:, 0] & 0xFFFF)[0])  # a list with a link
    data = bytearray(path.read_bytes())
    at = data.index(upper.tobytes()) + row * 20 + 4
    data[at : at + 4] = np.uint32(np.flatnonzero(levels == 0)[0]).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(vs.StorageError, match="upper-level link is out of range"):
        HnswIndex.load(str(path), vectors, Metric.L2)


def test_a_link_out_of_range_is_refused(tmp_path):
    index, vectors = built(30, 3, Metric.L2, m=4)
    path = tmp_path / "v-1.hgraph"
    index.save(str(path), vectors)
    data = bytearray(path.read_bytes())
    links = records(path)[2]
    start = data.index(links.tobytes())  # the level-0 link lists, as written
    first = next(i for i in range(30) if links[i, 0] > 0)  # a row with a link
    data[start + first * links.shape[1] + 4 : start + first * links.shape[1] + 8] = np.uint32(
        30
    ).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(vs.StorageError, match="link is out of range"):
        HnswIndex.load(str(path), vectors, Metric.L2)


def links_ok_reference(
    lists: np.ndarray, max_links: int, levels: np.ndarray, level: np.ndarray | None
) -> bool:
    """``hnsw_file._links_ok`` as a plain loop over the used slots."""
    for r, row in enumerate(lists.tolist()):
        size = row[0] & 0xFFFF
        if size > max_links:
            return False
        for i in row[1 : 1 + size]:
            if i >= len(levels) or levels[i] < (0 if level is None else level[r]):
                return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_link_check_agrees_with_a_plain_loop(data: st.DataObject):
    """Every list shape, link and unused slot, in range or not (the level-0 check
    takes a shortcut when every slot is in range: it must agree either way)."""
    n = data.draw(st.integers(1, 8), label="elements")
    width = data.draw(st.integers(1, 5), label="slots")
    rows = data.draw(st.integers(1, 8), label="lists")
    ids = st.integers(0, n + 2)
    header = st.integers(0, width + 1).flatmap(  # the count, maybe with high bits set
        lambda size: st.sampled_from([size, size | 1 << 16])
    )
    lists = np.array(
        [
            [data.draw(header), *data.draw(st.lists(ids, min_size=width, max_size=width))]
            for _ in range(rows)
        ],
        dtype=np.uint32,
    )
    levels = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.uint8)
    level = data.draw(
        st.none() | st.lists(st.integers(1, 3), min_size=rows, max_size=rows).map(np.array)
    )
    max_links = data.draw(st.integers(0, width))
    expected = links_ok_reference(lists, max_links, levels, level)
    assert hnsw_file._links_ok(lists, max_links, levels, level) is expected


def test_the_level0_block_is_zeroed_and_out_of_memory_is_memory_error(monkeypatch):
    block = hnsw_file._scratch(1_000, 300)  # its own mapping, not numpy's allocator
    assert block.shape == (1_000, 300) and block.dtype == np.uint8 and not block.any()
    block[:] = 255  # writable
    assert hnsw_file._scratch(0, 300).shape == (0, 300)

    def no_memory(*args: Any, **kwargs: Any) -> None:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(hnsw_file.mmap, "mmap", no_memory)
    with pytest.raises(MemoryError, match="level-0 block"):
        hnsw_file._scratch(10, 10)


# ------------------------------------------------------------- stores
SCHEMA_DIM = 12


def make(path: Path, metric: Metric, n: int = 900, **kw: Any) -> vs.Client:
    db = vs.connect(path, segment_rows=400, **kw)
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=SCHEMA_DIM),
        ]
    )
    col = db.create_collection(
        "c",
        schema=schema,
        indexes=[vs.Index("vector", "HNSW", metric.value, M=8, ef_construction=40)],
    )
    col.insert([{"id": i, "vector": v} for i, v in enumerate(inserted(n))])
    col.delete(ids=list(range(0, n, 5)))
    return db


def inserted(n: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    return (rng.standard_normal((n, SCHEMA_DIM)) * rng.lognormal(0, 1, (n, 1))).astype(np.float32)


def observed(db: vs.Client) -> tuple[list[list[tuple[Any, float]]], np.ndarray]:
    """Search results (ids and distances) for 20 queries, and the live vectors as read."""
    col = db.get_collection("c")
    queries = np.random.default_rng(9).standard_normal((20, SCHEMA_DIM)).astype(np.float32)
    hits = col.search(queries, limit=10, search_params={"ef": 32})
    got = col.query("", output_fields=["vector"])
    got.sort(key=lambda r: r["id"])
    vectors = np.array([r["vector"] for r in got], dtype=np.float32)
    return [[(h.id, h.distance) for h in q] for q in hits], vectors


def segment_folders(path: Path) -> list[Path]:
    return sorted((path / "c").glob("seg_*"))


def graph_files(path: Path, suffix: str) -> list[Path]:
    return [p for folder in segment_folders(path) for p in folder.glob(f"vector-*{suffix}")]


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.value)
def test_a_reopened_store_answers_exactly_as_before(tmp_path, metric):
    db = make(tmp_path / "s", metric)
    db.get_collection("c").flush()
    before = observed(db)
    db.close()
    assert len(graph_files(tmp_path / "s", ".hgraph")) == len(segment_folders(tmp_path / "s")) > 1
    assert not graph_files(tmp_path / "s", ".hnsw")
    with vs.connect(tmp_path / "s") as db:
        after = observed(db)
        assert after[0] == before[0]  # ids and distances, bit for bit
        live = [i for i in range(900) if i % 5]
        assert after[1].tobytes() == inserted(900)[live].tobytes()  # get() is exact
        db.get_collection("c").compact()
        compacted = observed(db)
    with vs.connect(tmp_path / "s") as db:
        assert observed(db)[0] == compacted[0]
        assert observed(db)[1].tobytes() == after[1].tobytes()


def write_like_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make checkpoints write what Kestrel wrote before the graph file:
    hnswlib's own ``save_index`` under ``<field>-<version>.hnsw``."""
    name_of = segment_io.index_name

    def old_name(field: str, version: int, index: Any) -> str:
        if isinstance(index, HnswIndex):
            return f"{field}-{version}.hnsw"
        return name_of(field, version, index)

    def old_save(self: HnswIndex, path: str, vectors: np.ndarray) -> None:
        self._index.save_index(path)

    monkeypatch.setattr(segment_io, "index_name", old_name)
    monkeypatch.setattr(HnswIndex, "save", old_save)


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.value)
def test_a_store_written_before_the_graph_file_still_opens(tmp_path, monkeypatch, metric):
    with monkeypatch.context() as patch:
        write_like_before(patch)
        db = make(tmp_path / "s", metric)
        before = observed(db)
        db.close()
    old = graph_files(tmp_path / "s", ".hnsw")
    assert len(old) == len(segment_folders(tmp_path / "s")) > 1 and not graph_files(
        tmp_path / "s", ".hgraph"
    )
    with vs.connect(tmp_path / "s", read_only=True) as db:
        assert observed(db)[0] == before[0]
    with vs.connect(tmp_path / "s") as db:
        assert observed(db)[0] == before[0]
        col = db.get_collection("c")
        col.insert({"id": 5000, "vector": np.ones(SCHEMA_DIM).tolist()})
        col.compact()  # rewrites the segments: new ones get graph files
        compacted = observed(db)
    assert not graph_files(tmp_path / "s", ".hnsw")  # the old files are gone
    assert graph_files(tmp_path / "s", ".hgraph")
    with vs.connect(tmp_path / "s") as db:
        assert observed(db)[0] == compacted[0]


def test_an_old_graph_rebuilt_by_create_index_becomes_a_graph_file(tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        write_like_before(patch)
        make(tmp_path / "s", Metric.L2).close()
    with vs.connect(tmp_path / "s") as db:
        col = db.get_collection("c")
        col.drop_index("vector")
        col.create_index("vector", "HNSW", "L2", M=6, ef_construction=30)
        col.flush()
        rebuilt = observed(db)
    assert not graph_files(tmp_path / "s", ".hnsw")
    assert len(graph_files(tmp_path / "s", ".hgraph")) == len(segment_folders(tmp_path / "s"))
    with vs.connect(tmp_path / "s") as db:
        assert observed(db)[0] == rebuilt[0]


def resign_file(store: Path, folder: Path, name: str) -> None:
    """Put a file's real CRC in the manifest and re-seal it: only the graph's
    own checks stand between the file and hnswlib."""
    manifest = json.loads((store / "manifest.json").read_text())
    seg = manifest["collections"]["c"]["segments"][folder.name[4:]]
    seg["files"][name] = zlib.crc32((folder / name).read_bytes())
    (store / "manifest.json").write_text(json.dumps(seal(manifest)))


@pytest.mark.parametrize("damage", ["other segment's graph", "truncated", "flipped"])
@pytest.mark.parametrize("resign", [False, True], ids=["crc", "crc-fixed"])
def test_a_damaged_graph_file_in_a_store_is_named(tmp_path, damage, resign):
    store = tmp_path / "s"
    make(store, Metric.COSINE).close()
    first, *_, last = graph_files(store, ".hgraph")  # 400 rows and 100
    data = first.read_bytes()
    if damage == "other segment's graph":
        first.write_bytes(last.read_bytes())
    elif damage == "truncated":
        first.write_bytes(data[: len(data) - 64])
    else:  # a byte of the meta record: the row count
        pos = data.index(np.int64(400).tobytes())
        first.write_bytes(data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :])
    if resign:
        resign_file(store, first.parent, first.name)
    for read_only in (True, False):
        with pytest.raises(vs.StorageError) as info, vs.connect(store, read_only=read_only) as db:
            db.get_collection("c").count()
        assert first.name in str(info.value), str(info.value)
