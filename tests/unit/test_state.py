"""``CollectionState`` against a dict model, and replay against live application.

The state is where every write lands, live or replayed from the log, so two
things must hold whatever the sequence of records: the state holds exactly
what a plain dict model holds (rows by key, partitions, BM25 document
frequencies), and a state rebuilt from the encoded records is the same state.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import maintenance
from vectorstore.analyzers import Analyzer
from vectorstore.rows import prepare_rows
from vectorstore.state import DEFAULT_PARTITION, CollectionState
from vectorstore.storage.records import (
    CreateIndex,
    CreatePartition,
    Delete,
    DropIndex,
    DropPartition,
    Insert,
    Record,
    Upsert,
    decode_record,
    encode_record,
)

DT = vs.DataType
SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("text", DT.VARCHAR, max_length=200),
        vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
    ],
    functions=[vs.BM25(input="text", output="sparse")],
)
INDEXES = [vs.Index("v", "HNSW", "L2", M=8), vs.Index("sparse", "AUTOINDEX", "BM25")]
WORDS = ["rust", "go", "kestrel", "bird", "vector", "store"]


def indexes() -> list[vs.Index]:
    return [spec.fit(SCHEMA) for spec in INDEXES]


def batch(keys: list[int], texts: list[str]) -> Any:
    rows = [
        {"id": k, "text": t, "v": [float(k), float(len(t))]}
        for k, t in zip(keys, texts, strict=True)
    ]
    return prepare_rows(SCHEMA, rows)


@st.composite
def programs(draw: st.DrawFn) -> list[Record]:
    """Valid record sequences: inserts of new keys, upserts, deletes, partitions, indexes."""
    live: dict[int, str] = {}  # key -> partition
    parts = [DEFAULT_PARTITION]
    made = 0
    out: list[Record] = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["insert", "upsert", "delete", "part", "drop", "index"]))
        part = draw(st.sampled_from(parts))
        keys = draw(st.lists(st.integers(0, 30), min_size=1, max_size=6, unique=True))
        texts = [" ".join(draw(st.lists(st.sampled_from(WORDS), max_size=5))) for _ in keys]
        if kind == "insert":
            keys = [k for k in keys if k not in live]
            if keys:
                out.append(Insert(part, batch(keys, texts[: len(keys)])))
                live.update(dict.fromkeys(keys, part))
        elif kind == "upsert":
            out.append(Upsert(part, batch(keys, texts)))
            live.update(dict.fromkeys(keys, part))
        elif kind == "delete":
            gone = [k for k in keys if k in live]
            if gone:
                out.append(Delete(gone))
                for k in gone:
                    del live[k]
        elif kind == "part":
            made += 1
            parts.append(f"p{made}")
            out.append(CreatePartition(f"p{made}"))
        elif kind == "drop" and part != DEFAULT_PARTITION:
            out.append(DropPartition(part))
            parts.remove(part)
            live = {k: p for k, p in live.items() if p != part}
        elif kind == "index":
            out.append(
                DropIndex("v") if draw(st.booleans()) else CreateIndex(vs.Index("v", "FLAT", "L2"))
            )
    return out


def model(records: list[Record]) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """key -> (partition, text), and partition names, by plain dict updates."""
    rows: dict[int, tuple[str, str]] = {}
    parts = [DEFAULT_PARTITION]
    for r in records:
        if isinstance(r, (Insert, Upsert)):
            for key, text in zip(r.batch.pks, r.batch.scalars["text"].tolist(), strict=True):
                rows[key] = (r.partition, text)
        elif isinstance(r, Delete):
            for key in r.ids:
                rows.pop(key, None)
        elif isinstance(r, CreatePartition):
            parts.append(r.name)
        elif isinstance(r, DropPartition):
            parts.remove(r.name)
            rows = {k: v for k, v in rows.items() if v[0] != r.name}
    return rows, parts


def contents(state: CollectionState) -> dict[int, tuple[str, str]]:
    """Every live row by key, read from the segments; the state's key lookup
    must find each key exactly where its live row is."""
    out, where = {}, {}
    for seg in state.segments(None):
        live = np.flatnonzero(seg.live_mask())
        for offset, key in zip(live.tolist(), seg.pks[live].tolist(), strict=True):
            assert key not in where, f"key {key} is live in two rows"
            out[key] = (seg.partition, seg.entities([offset], ["text"], False)[0]["text"])
            where[key] = (seg, offset)
    keys = [*where, -1, -2]  # and two keys no row holds
    found = {}
    for seg, at, rows in state.find(keys, state.segments(None)):
        for i, row in zip(at.tolist(), rows.tolist(), strict=True):
            found[keys[i]] = (seg, row)
    assert found == where
    return out


def expected_df(rows: dict[int, tuple[str, str]]) -> Counter[int]:
    analyzer = Analyzer("standard")
    df: Counter[int] = Counter()
    for _, text in rows.values():
        df.update(analyzer.term_counts(text).keys())
    return df


def fresh(segment_rows: int = 4) -> CollectionState:
    return CollectionState("c", SCHEMA, indexes(), segment_rows=segment_rows)


@settings(max_examples=60, deadline=None)
@given(programs(), st.sampled_from([1, 4, 1000]))
def test_state_matches_a_dict_model_and_replay_rebuilds_it(records, segment_rows):
    live = fresh(segment_rows)
    for r in records:
        live.apply(r)
    rows, parts = model(records)
    assert contents(live) == rows
    assert list(live.partitions) == parts
    stats = live.term_stats["sparse"]
    assert stats.num_docs == len(rows)
    assert stats.df == dict(expected_df(rows))
    # every live row is counted once; no tombstoned row is
    assert sum(s.num_live for s in live.segments(None)) == len(rows)

    # the log's round trip: decode(encode(r)) replayed gives the same state
    replayed = fresh(segment_rows)
    assert replayed.replay(decode_record(b"".join(encode_record(r)), "id") for r in records) == len(
        records
    )
    assert contents(replayed) == rows
    assert replayed.term_stats["sparse"].df == stats.df
    assert {f: i.index_type for f, i in replayed.indexes.items()} == {
        f: i.index_type for f, i in live.indexes.items()
    }


@settings(max_examples=30, deadline=None)
@given(programs())
def test_compaction_keeps_every_live_row_and_the_statistics(records):
    state = fresh(segment_rows=4)
    for r in records:
        state.apply(r)
    before = contents(state)
    df = dict(state.term_stats["sparse"].df)
    maintenance.freeze(state, None)
    maintenance.compact(state, 0.0, merge_small=True)
    assert contents(state) == before
    assert state.term_stats["sparse"].df == df
    for seg in state.segments(None):
        if seg.sealed:
            assert seg.num_deleted == 0  # compaction dropped every tombstone


def test_freeze_seals_growing_segments_and_drops_empty_ones():
    state = fresh(segment_rows=10)
    state.apply(Insert(DEFAULT_PARTITION, batch([1, 2], ["rust go", "bird"])))
    state.apply(CreatePartition("empty"))
    generations = iter([7])
    frozen = maintenance.freeze(state, lambda: next(generations))
    assert frozen.wal_generation == 7
    assert [s.sealed for s in frozen.partitions[DEFAULT_PARTITION]] == [True]
    assert frozen.partitions["empty"] == []
    # a write after the freeze starts a new growing segment
    state.apply(Insert(DEFAULT_PARTITION, batch([3], ["kestrel"])))
    segs = state.partitions[DEFAULT_PARTITION]
    assert [s.sealed for s in segs] == [True, False]
    assert state.find([3], segs)[0][0] is segs[1]


def test_a_full_segment_asks_for_a_checkpoint():
    state = fresh(segment_rows=3)
    assert not state.needs_checkpoint
    state.apply(Insert(DEFAULT_PARTITION, batch([1, 2, 3, 4], ["a", "b", "c", "d"])))
    assert state.needs_checkpoint
    assert [s.num_rows for s in state.partitions[DEFAULT_PARTITION]] == [3, 1]
    maintenance.freeze(state, None)
    assert not state.needs_checkpoint


def test_partition_errors_name_the_collection():
    state = fresh()
    try:
        state.segments(["nope"])
    except vs.PartitionNotFoundError as exc:
        assert "'c'" in str(exc) and "'nope'" in str(exc)
    else:
        raise AssertionError("no error for a missing partition")


def test_auto_id_keys_move_the_counter_on_replay():
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True, auto_id=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    state = CollectionState("c", schema, [])
    rows = prepare_rows(schema, [{"v": [0.0, 1.0]}, {"v": [1.0, 0.0]}])
    start = state.next_auto_id + 10**9
    rows.set_pks([start, start + 5], "id")
    state.apply(Insert(DEFAULT_PARTITION, rows))
    assert state.next_auto_id == start + 6
    assert state.live_keys([start, start + 1, start + 5], None, None) == [start, start + 5]
