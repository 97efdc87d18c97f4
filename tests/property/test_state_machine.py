"""The engine against a plain dict model, driven by a hypothesis state machine.

The model is ``{id: (partition, vector, fields)}``. Rules insert (sometimes with
keys that already exist: DuplicateKeyError and no change), upsert, delete by ids
(some missing, sometimes restricted to a partition), drop and recreate a
partition, get, search, flush, compact and, on the disk store, close and reopen.
After every step the whole collection must equal the model. Small segments
(``segment_rows=16``) make the machine seal, merge and compact segments often.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import vectorstore as vs

DT = vs.DataType

DIM = 4
SEGMENT_ROWS = 16
PARTITIONS = ("_default", "p")

SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=DIM),
        vs.Field("s", DT.VARCHAR, max_length=8, nullable=True),
    ],
    enable_dynamic_field=True,
)

keys = st.lists(st.integers(0, 40), min_size=1, max_size=6, unique=True)
# Small integers: every distance is exact in float32, so search can be compared exactly.
vectors = st.lists(st.integers(-8, 8), min_size=DIM, max_size=DIM).map(
    lambda v: [float(x) for x in v]
)
fields = st.fixed_dictionaries(
    {"s": st.none() | st.text(alphabet="abcé", max_size=8)},
    optional={"d": st.integers(-5, 5) | st.lists(st.booleans(), max_size=2)},
)
partitions = st.sampled_from(PARTITIONS)


class CoreMachine(RuleBasedStateMachine):
    kind = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="kestrel-sm-") if self.kind == "disk" else None
        self.db = self._connect()
        self.col = self.db.create_collection(
            "c", schema=SCHEMA, indexes=[vs.Index("vector", "HNSW", "L2", M=8)]
        )
        self.col.create_partition("p")
        self.model: dict[int, tuple[str, list[float], dict]] = {}

    def _connect(self) -> vs.Client:
        uri = ":memory:" if self.tmp is None else self.tmp
        return vs.connect(uri, segment_rows=SEGMENT_ROWS)

    def teardown(self) -> None:
        self.db.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def row(key: int, vector: list[float], extra: dict) -> dict:
        return {"id": key, "vector": vector, **extra}

    def expected(self, key: int) -> dict:
        _, vector, extra = self.model[key]
        return self.row(key, vector, extra)

    def build(self, data, ks: list[int]) -> list[tuple[int, list[float], dict]]:
        return [(k, data.draw(vectors), data.draw(fields)) for k in ks]

    # ------------------------------------------------------------------ rules
    @rule(ks=keys, partition=partitions, data=st.data())
    def insert(self, ks, partition, data):
        batch = self.build(data, ks)
        rows = [self.row(*b) for b in batch]
        if any(k in self.model for k in ks):
            with pytest.raises(vs.DuplicateKeyError):
                self.col.insert(rows, partition=partition)
            return
        assert self.col.insert(rows, partition=partition) == ks
        for k, v, f in batch:
            self.model[k] = (partition, v, f)

    @rule(ks=keys, partition=partitions, data=st.data())
    def insert_with_one_bad_row(self, ks, partition, data):
        rows = [self.row(*b) for b in self.build(data, ks)]
        rows[-1] = {**rows[-1], "vector": rows[-1]["vector"][:-1]}  # wrong dimension
        with pytest.raises(vs.DimensionMismatchError):
            self.col.insert(rows, partition=partition)

    @rule(ks=keys, partition=partitions, data=st.data())
    def upsert(self, ks, partition, data):
        batch = self.build(data, ks)
        assert self.col.upsert([self.row(*b) for b in batch], partition=partition) == ks
        for k, v, f in batch:
            self.model[k] = (partition, v, f)

    @rule(ks=st.lists(st.integers(0, 45), max_size=8))
    def delete(self, ks):
        present = {k for k in ks if k in self.model}
        assert self.col.delete(ids=ks) == len(present)
        for k in present:
            del self.model[k]

    @rule(ks=st.lists(st.integers(0, 45), max_size=8), partition=partitions)
    def delete_in_partition(self, ks, partition):
        present = {k for k in ks if k in self.model and self.model[k][0] == partition}
        assert self.col.delete(ids=ks, partition=partition) == len(present)
        for k in present:
            del self.model[k]

    @rule()
    def drop_and_recreate_partition(self):
        self.col.drop_partition("p")
        assert not self.col.has_partition("p")
        self.col.create_partition("p")
        self.model = {k: v for k, v in self.model.items() if v[0] != "p"}

    @rule(ks=st.lists(st.integers(0, 45), max_size=8, unique=True))
    def get(self, ks):
        got = self.col.get(ks, output_fields=["*"])
        assert got == [self.expected(k) for k in ks if k in self.model]
        default = self.col.get(ks)  # no vectors by default
        assert default == [
            {k2: v for k2, v in self.expected(k).items() if k2 != "vector"}
            for k in ks
            if k in self.model
        ]

    @rule(query=vectors, limit=st.integers(1, 8), partition=st.none() | partitions)
    def search(self, query, limit, partition):
        wanted = [k for k, (p, _, _) in self.model.items() if partition is None or p == partition]
        hits = self.col.search(
            [query], limit=limit, partitions=None if partition is None else [partition]
        )[0]
        q = np.asarray(query, dtype=np.float64)
        dist = {k: float(((np.asarray(self.model[k][1]) - q) ** 2).sum()) for k in wanted}
        best = sorted(dist.values())[:limit]
        assert [h.distance for h in hits] == best
        for h in hits:
            assert dist[h.id] == h.distance
        assert len({h.id for h in hits}) == len(hits)

    @rule()
    def flush(self):
        self.col.flush()

    @rule()
    def compact(self):
        self.col.compact()
        assert self.col.stats()["deleted_rows"] == 0

    # ------------------------------------------------------------- invariants
    @invariant()
    def counts_match(self):
        assert self.col.count() == len(self.model)
        for p in PARTITIONS:
            assert self.col.count(partitions=[p]) == sum(v[0] == p for v in self.model.values())

    @invariant()
    def everything_matches(self):
        rows = sorted(self.col.query(output_fields=["*"]), key=lambda r: r["id"])
        assert rows == [self.expected(k) for k in sorted(self.model)]
        for r in rows:  # vectors come back exactly as stored float32
            assert np.array_equal(
                np.asarray(r["vector"], dtype=np.float32),
                np.asarray(self.model[r["id"]][1], dtype=np.float32),
            )
        assert self.col.list_partitions() == list(PARTITIONS)


class DiskMachine(CoreMachine):
    kind = "disk"

    @rule()
    def reopen(self):
        self.db.close()
        with pytest.raises(vs.ClosedError):
            self.col.count()
        self.db = self._connect()
        self.col = self.db.get_collection("c")


COMMON = {
    "deadline": None,
    "stateful_step_count": 50,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}

TestMemoryStore = CoreMachine.TestCase
TestMemoryStore.settings = settings(max_examples=80, **COMMON)

TestDiskStore = DiskMachine.TestCase
TestDiskStore.settings = settings(max_examples=50, **COMMON)
