"""Compaction: deleted rows leave memory and disk, by hand and by themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import vectorstore as vs


def _rows(start: int, n: int, dim: int = 8) -> list[dict]:
    rng = np.random.default_rng(start)
    return [
        {"id": i, "vector": rng.normal(size=dim).tolist(), "n": i} for i in range(start, start + n)
    ]


def test_deletes_past_the_ratio_compact_by_themselves() -> None:
    col = vs.connect(":memory:").create_collection("c", dimension=8)
    col.insert(_rows(0, 3000))
    col.delete(filter="n < 500")  # 500 deleted: under the 1000-row minimum
    assert col.stats()["deleted_rows"] == 500
    col.delete(filter="n < 1500")  # 1500 of 3000: past both thresholds
    stats = col.stats()
    assert stats["deleted_rows"] == 0
    assert stats["row_count"] == col.count() == 1500
    hits = col.search(np.zeros((1, 8), dtype=np.float32), limit=5, filter="n < 1500")
    assert hits == [[]]
    (seg,) = col._state.partitions["_default"]
    seg.build_graphs()  # as flush() would (a segment this small is searched exactly)
    assert len(seg.indexes["vector"]) == 1500  # the graph holds live rows only


def test_small_ratio_is_left_for_manual_compaction() -> None:
    col = vs.connect(":memory:").create_collection("c", dimension=8)
    col.insert(_rows(0, 10_000))
    col.delete(filter="n < 1200")  # 12 %: under the ratio
    assert col.stats()["deleted_rows"] == 1200
    col.compact()
    assert col.stats()["deleted_rows"] == 0
    assert col.count() == 8800
    assert col.get([0, 1200]) == [{"id": 1200, "n": 1200}]


def test_manual_compaction_merges_small_segments(tmp_path: Path) -> None:
    with vs.connect(tmp_path / "s", segment_rows=400) as db:
        col = db.create_collection("c", dimension=8)
        for start in range(0, 300, 30):  # ten flushed segments of 30 rows
            col.insert(_rows(start, 30))
            col.flush()
        assert col.stats()["segments"] == 10
        col.compact()
        assert col.stats()["segments"] == 1
        assert col.count() == 300
    with vs.connect(tmp_path / "s") as db:
        col = db.get_collection("c")
        assert col.stats()["segments"] == 1
        assert sorted(r["id"] for r in col.query(output_fields=["id"])) == list(range(300))
