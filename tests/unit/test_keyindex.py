"""The per-segment key index against a dict model of one segment's rows.

A segment appends rows and tombstones some; a key is live in one row at most and
may come back (re-inserted) after a delete. The index must find exactly the live
row of every key, whether the row sits in its sorted part or in its dict of
recent rows: ``RESORT_MIN_ROWS`` is made tiny here so both happen often.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore import keyindex
from vectorstore.keyindex import KeyIndex

KEYS = st.integers(-3, 12)
# ("add", keys) appends rows for the keys not live yet; ("del", keys) tombstones
# the live rows of keys; ("find", keys) asks for them
OPS = st.lists(
    st.tuples(st.sampled_from(["add", "del", "find"]), st.lists(KEYS, max_size=6)), max_size=40
)


class Model:
    """One segment: its key column, tombstones, and the live row of each key."""

    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.pks: list = []
        self.deleted: list[bool] = []
        self.live: dict = {}

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        pks = np.empty(len(self.pks), dtype=object) if self.dtype is object else None
        if pks is None:
            pks = np.asarray(self.pks, dtype=np.int64)
        else:
            pks[:] = self.pks
        return pks, np.asarray(self.deleted, dtype=bool)

    def apply(self, op: str, keys: list) -> None:
        if op == "add":
            for key in dict.fromkeys(keys):
                if key not in self.live:
                    self.live[key] = len(self.pks)
                    self.pks.append(key)
                    self.deleted.append(False)
        elif op == "del":
            for key in keys:
                row = self.live.pop(key, None)
                if row is not None:
                    self.deleted[row] = True


@pytest.mark.parametrize("as_text", [False, True])
@given(ops=OPS)
@settings(max_examples=150, deadline=None)
def test_finds_exactly_the_live_row_of_every_key(as_text, ops):
    model, index = Model(object if as_text else int), KeyIndex()
    key = str if as_text else int
    with pytest.MonkeyPatch.context() as mp:  # sort after a handful of new rows
        mp.setattr(keyindex, "RESORT_MIN_ROWS", 3)
        for op, keys in ops:
            keys = [key(k) for k in keys]
            model.apply(op, keys)
            if op == "find" or len(model.pks) % 3 == 0:  # also find after some writes
                asked = keys + [key(k) for k in range(-3, 13)]
                pks, deleted = model.arrays()
                found = index.find(asked, pks, deleted)  # many keys: numpy's path
                assert found.tolist() == [model.live.get(k, -1) for k in asked]
                few = index.find(keys, pks, deleted)  # up to FEW_KEYS: one by one
                assert few.tolist() == [model.live.get(k, -1) for k in keys]


def test_a_bulk_load_is_sorted_not_held_in_a_dict():
    """A bulk load's keys cost numpy arrays, not a dict entry per row."""
    index = KeyIndex()
    pks = np.random.default_rng(0).permutation(200_000).astype(np.int64)
    deleted = np.zeros(len(pks), dtype=bool)
    found = index.find([int(pks[7]), 200_000], pks, deleted)
    assert found.tolist() == [7, -1]
    assert index._recent == {}
    deleted[7] = True
    assert index.find([int(pks[7])], pks, deleted).tolist() == [-1]


def test_store_keys_survive_sorting_across_writes_and_reopen(tmp_path, monkeypatch):
    """Through a real collection: inserts, deletes and upserts (re-inserted keys
    in the same growing segment) with the index sorting every few rows; get,
    delete and the duplicate check answer as a dict model does, before and after
    reopening."""
    monkeypatch.setattr(keyindex, "RESORT_MIN_ROWS", 4)
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.VARCHAR, is_primary=True, max_length=8),
            vs.Field("n", vs.DataType.INT64),
            vs.Field("v", vs.DataType.FLOAT_VECTOR, dim=2),
        ]
    )
    rng = np.random.default_rng(3)
    model: dict[str, int] = {}
    with vs.connect(str(tmp_path / "db"), segment_rows=25) as db:
        col = db.create_collection("c", schema=schema)
        for step in range(60):
            keys = [f"k{int(k)}" for k in rng.choice(40, size=5, replace=False)]
            rows = [{"id": k, "n": step, "v": [1.0, float(step)]} for k in keys]
            if step % 3 == 0:
                col.upsert(rows)
                model.update({k: step for k in keys})
            elif step % 3 == 1:
                assert col.delete(ids=keys[:3]) == sum(k in model for k in keys[:3])
                for k in keys[:3]:
                    model.pop(k, None)
            else:
                new = [r for r in rows if r["id"] not in model]
                col.insert(new)
                model.update({r["id"]: step for r in new})
                if len(new) < len(rows):
                    with pytest.raises(vs.DuplicateKeyError):
                        col.insert(rows)
            assert {r["id"]: r["n"] for r in col.get(sorted(model))} == model
        col.flush()
    with vs.connect(str(tmp_path / "db")) as db:
        col = db.get_collection("c")
        everything = [f"k{i}" for i in range(40)]
        assert {r["id"]: r["n"] for r in col.get(everything)} == model
        assert col.delete(ids=everything) == len(model)
        assert col.get(everything) == []
