"""Several processes on one store: writers taking turns, killed writers, readers
that follow the writers call by call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorstore as vs

REPO = Path(vs.__file__).resolve().parents[1]


def spawn(code: str, *args: str, stdin: Any = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def wait_for_line(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:  # the child exits (closing stdout) if anything goes wrong
        if line.startswith(prefix):
            return line.strip()
    proc.wait(timeout=30)
    raise AssertionError(
        f"the child never said {prefix!r}: {proc.stderr.read() if proc.stderr else ''}"
    )


HOLDER = """
    import sys, vectorstore as vs
    db = vs.connect(sys.argv[1])
    col = db.create_collection("c", dimension=2)
    col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(10)])
    col.delete(ids=[0])
    print("HOLDING", flush=True)
    sys.stdin.read()  # until the parent closes stdin (or kills us)
    db.close()
    print("CLOSED", flush=True)
"""


def test_a_second_writer_writes_while_the_first_holds_the_store_open(tmp_path):
    path = tmp_path / "store"
    holder = spawn(HOLDER, str(path), stdin=subprocess.PIPE)
    try:
        wait_for_line(holder, "HOLDING")
        with vs.connect(path) as db:  # the store is open in the holder: no matter
            col = db.get_collection("c")
            assert col.count() == 9
            col.insert({"id": 20, "vector": [2.0, 0.0]})
        with vs.connect(path, read_only=True) as ro:
            assert ro.get_collection("c").count() == 10
        assert holder.stdin is not None
        holder.stdin.close()  # the holder's close checkpoints its own writes
        assert wait_for_line(holder, "CLOSED") == "CLOSED"
        assert holder.wait(timeout=30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with vs.connect(path) as db:
        assert db.get_collection("c").count() == 10


MID_WRITE = r"""
    import os, sys, vectorstore as vs
    db = vs.connect(sys.argv[1])
    col = db.create_collection("c", dimension=2)
    col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(10)])
    with db._store.writing():  # killed while holding the write lock, half a record written
        log = sorted(p for p in os.listdir(os.path.join(sys.argv[1], "c")) if p.startswith("wal."))
        with open(os.path.join(sys.argv[1], "c", log[-1]), "ab") as f:
            f.write(b"KWAL\xff\x00\x00\x00")
        print("HOLDING", flush=True)
        sys.stdin.read()
"""


def test_a_writer_killed_holding_the_lock_leaves_it_free_and_the_store_whole(tmp_path):
    path = tmp_path / "store"
    holder = spawn(MID_WRITE, str(path), stdin=subprocess.PIPE)
    try:
        wait_for_line(holder, "HOLDING")
        with vs.connect(path, lock_timeout=0.2) as db, pytest.raises(vs.LockedError) as info:
            db.get_collection("c").insert({"id": 50, "vector": [0.0, 1.0]})
        assert str(holder.pid) in str(info.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert holder.returncode == -signal.SIGKILL
    with vs.connect(path, lock_timeout=0.2) as db:  # the OS dropped the dead holder's lock
        col = db.get_collection("c")
        assert col.count() == 10
        col.insert({"id": 50, "vector": [0.0, 1.0]})  # cuts the torn tail, then appends
    with vs.connect(path) as db:
        ids = sorted(r["id"] for r in db.get_collection("c").query(output_fields=["id"]))
    assert ids == [*range(10), 50]


def test_a_lock_file_naming_a_dead_pid_is_no_obstacle(tmp_path):
    path = tmp_path / "store"
    vs.connect(path).close()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (path / ".lock").write_text(dead.stdout.strip())
    with vs.connect(path) as db:  # no LockedError: the named process is gone
        db.create_collection("c", dimension=2).insert([{"id": 1, "vector": [1.0, 0.0]}])
        assert (path / ".lock").read_text().strip() == str(os.getpid())  # its last writer
    with vs.connect(path, read_only=True) as ro:  # and the write went through
        assert ro.get_collection("c").get(1, output_fields=["id"]) == [{"id": 1}]


def test_racing_writers_all_win(tmp_path):
    """Writers released at one instant take turns: every acknowledged insert is there."""
    path = tmp_path / "store"
    with vs.connect(path) as db:
        db.create_collection("c", dimension=2)
    go = tmp_path / "go"
    racer = """
        import os, sys, time, vectorstore as vs
        me = int(sys.argv[3])
        with vs.connect(sys.argv[1]) as db:
            col = db.get_collection("c")
            while not os.path.exists(sys.argv[2]):
                time.sleep(0.001)
            for b in range(5):
                col.insert([{"id": me * 1000 + b * 10 + j, "vector": [1.0, float(j)]}
                            for j in range(10)])
                print("ACK", b, flush=True)
    """
    procs = [spawn(racer, str(path), str(go), str(n)) for n in range(4)]
    time.sleep(0.5)
    go.write_text("")
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert all(o[0].count("ACK") == 5 for o in outs)
    with vs.connect(path) as db:
        ids = sorted(r["id"] for r in db.get_collection("c").query(output_fields=["id"]))
    assert ids == sorted(n * 1000 + i for n in range(4) for i in range(50))


# ------------------------------------------------------------ readers vs writer

BATCH = 10

# Shared by the writer and the readers: the writer's deterministic history, and the
# state (batch -> val) after each of its operations.
HISTORY = """
import random
BATCH = 10

def history(seed, n_ops):
    rnd = random.Random(seed)
    ops, states, live, next_batch = [], [{}], {}, 0
    for i in range(1, n_ops + 1):
        r = rnd.random()
        if r < 0.5 or not live:
            op = ("insert", next_batch, i)
            live[next_batch] = i
            next_batch += 1
        elif r < 0.65:
            k = rnd.choice(sorted(live))
            op = ("upsert", k, i)
            live[k] = i
        elif r < 0.8:
            k = rnd.choice(sorted(live))
            op = ("delete", k, i)
            del live[k]
        elif r < 0.93:
            op = ("flush", -1, i)
        else:
            op = ("compact", -1, i)
        ops.append(op)
        states.append(dict(live))
    return ops, states

def vec(key, val):
    import numpy as np
    return np.random.default_rng(key * 10007 + val).normal(size=8).astype(np.float32)
"""

WRITER = (
    HISTORY
    + """
import sys, vectorstore as vs
path, seed, n_ops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ops, _ = history(seed, n_ops)
db = vs.connect(path, segment_rows=35, max_wal_bytes=5000)
col = db.get_collection("c")
for kind, k, i in ops:
    rows = [{"id": k * BATCH + j, "vector": vec(k * BATCH + j, i).tolist(), "val": i}
            for j in range(BATCH)] if k >= 0 else []
    if kind == "insert":
        col.insert(rows)
    elif kind == "upsert":
        col.upsert(rows)
    elif kind == "delete":
        col.delete(ids=[r["id"] for r in rows])
    else:
        getattr(col, kind)()
    print("ACK", i, flush=True)
db.close()
print("DONE", flush=True)
"""
)

READER = (
    HISTORY
    + """
import json, os, sys, vectorstore as vs
import numpy as np
path, seed, n_ops, stop, mode = sys.argv[1:6]
seed, n_ops = int(seed), int(n_ops)
_, states = history(seed, n_ops)
db = vs.connect(path, read_only=True)
last = 0
snapshots = searches = 0

def fail(msg):
    print("VIOLATION", msg, flush=True)
    sys.exit(3)

def first_state(holds, start):  # the first of the writer's states from start that holds
    return next((j for j in range(start, len(states)) if holds(states[j])), None)

def check(final):
    # Each call sees a state the writer passed through, never one older than
    # what an earlier call saw (the reader follows the writer by itself).
    global last, snapshots, searches
    col = db.get_collection("c")
    rows = col.query(output_fields=["id", "val"])
    if len(rows) % BATCH:
        fail(f"query() {len(rows)} rows is not a multiple of the batch size: a torn batch")
    snap = {}
    for r in rows:
        snap.setdefault(r["id"] // BATCH, set()).add(r["val"])
    for k, vals in snap.items():
        if len(vals) != 1:
            fail(f"batch {k} mixes writes {sorted(vals)}: a torn upsert")
    snap = {k: v.pop() for k, v in snap.items()}
    j = first_state(lambda s: s == snap, last)
    if j is None:
        older = [j for j in range(last) if states[j] == snap]
        fail(f"snapshot is no state of the writer at or after op {last} "
             f"(older match: {older[-1:]}); batches={sorted(snap)}")
    last = j
    if final and snap != states[-1]:
        fail(f"after the writer closed, a call shows the state of op {j}, not the last")
    n = col.count()
    if first_state(lambda s: len(s) * BATCH == n, last) is None:
        fail(f"count() {n} fits no state at or after op {last}")
    ids = [r["id"] for r in rows]
    if ids:
        sample = ids[:: max(1, len(ids) // 7)]
        for g in col.get(sample, output_fields=["val"]):
            if first_state(lambda s: s.get(g["id"] // BATCH) == g["val"], last) is None:
                fail(f"get() returned row {g['id']} as no state at or after op {last} has it")
        if mode == "search":
            want = {r["id"]: r["val"] for r in rows}
            k = sample[0]
            hits = col.search([vec(k, want[k]).tolist()], limit=5, output_fields=["val"])[0]
            for h in hits:
                if first_state(lambda s: s.get(h.id // BATCH) == h.entity["val"], last) is None:
                    fail(f"search returned row {h.id} as no state at or after op {last} has it")
            moved = first_state(lambda s: s.get(k // BATCH) != want[k], last)
            if (not hits or hits[0].id != k) and moved is None:
                fail(f"search for row {k}'s own vector returned {[h.id for h in hits]}")
            searches += 1
    snapshots += 1

check(False)
while not os.path.exists(stop):
    check(False)  # no refresh(): every call catches up by itself
check(True)
db.close()
print("OK", json.dumps({"snapshots": snapshots, "searches": searches, "last": last}), flush=True)
"""
)


def new_store(path: Path) -> None:
    with vs.connect(path) as db:
        db.create_collection(
            "c",
            schema=vs.Schema(
                [
                    vs.Field("id", vs.DataType.INT64, is_primary=True),
                    vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=8),
                    vs.Field("val", vs.DataType.INT64),
                ]
            ),
            indexes=[vs.Index("vector", "HNSW", "L2", M=8, ef_construction=40)],
        )


def run_readers_and_writer(tmp_path: Path, modes: list[str], n_ops: int, seed: int) -> list[dict]:
    """Run the writer and the readers; any inconsistency fails an assertion."""
    path = tmp_path / "store"
    stop = tmp_path / "stop"
    new_store(path)
    readers = [spawn(READER, str(path), str(seed), str(n_ops), str(stop), m) for m in modes]
    writer = spawn(WRITER, str(path), str(seed), str(n_ops))
    try:
        w_out, w_err = writer.communicate(timeout=240)
        assert writer.returncode == 0 and "DONE" in w_out, (
            f"writer rc={writer.returncode}: {w_err[-3000:]}"
        )
        stop.write_text("")
        results = []
        for mode, r in zip(modes, readers, strict=True):
            out, err = r.communicate(timeout=240)
            assert r.returncode == 0 and "OK" in out, (
                f"reader ({mode}) rc={r.returncode}: {out[-2000:]} {err[-3000:]}"
            )
            results.append(json.loads(out.split("OK", 1)[1]))
    finally:
        for p in [writer, *readers]:
            if p.poll() is None:
                p.kill()
                p.wait()
    # the writer's data itself is intact (vectors too)
    ns: dict[str, Any] = {}
    exec(HISTORY, ns)
    _, states = ns["history"](seed, n_ops)
    with vs.connect(path) as db:
        col = db.get_collection("c")
        rows = col.query(output_fields=["id", "val", "vector"])
        assert {r["id"] // BATCH: r["val"] for r in rows} == states[-1]
        bad = [r["id"] for r in rows if not np.allclose(r["vector"], ns["vec"](r["id"], r["val"]))]
        assert not bad, f"rows whose vectors changed: {bad[:20]}"
    return results


@pytest.mark.parametrize("modes", [["count"], ["count", "search"]], ids=["1-reader", "2-readers"])
def test_readers_see_whole_batches_while_the_writer_works(tmp_path, modes):
    """Every call of a reader sees a state the writer really passed through (whole
    batches, no torn upsert, never older than what an earlier call saw); once the
    writer is done, the next call sees the final state."""
    seed = int.from_bytes(os.urandom(3), "little")
    print("seed", seed)
    results = run_readers_and_writer(tmp_path, modes, n_ops=120, seed=seed)
    for mode, r in zip(modes, results, strict=True):
        if mode == "search":  # its searches ran and checked out, at least at the end
            assert r["searches"] >= 1, r


def test_reader_open_leaves_the_writers_growing_segment_alone(tmp_path):
    """Deterministic: the writer has a growing segment whose vectors are in its spill
    file; a reader process opens (replaying the log) and closes; the writer seals."""
    path = tmp_path / "store"
    db = vs.connect(path)
    try:
        col = db.create_collection("c", dimension=4)
        col.insert([{"id": i, "vector": [1.0, float(i), 2.0, 3.0]} for i in range(10)])
        col.flush()
        col.insert([{"id": 100 + i, "vector": [5.0, float(i), 6.0, 7.0]} for i in range(10)])
        col.get(100, output_fields=["vector"])  # the writer maps its spill file
        spill = sorted(p.name for p in (path / "c").glob("growing_*"))
        reader = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, vectorstore as vs\n"
                "db = vs.connect(sys.argv[1], read_only=True)\n"
                "print(db.get_collection('c').count())\n"
                "db.close()\n",
                str(path),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
        assert reader.stdout.strip() == "20", reader.stderr
        assert sorted(p.name for p in (path / "c").glob("growing_*")) == spill, (
            "the reader removed the writer's spill file"
        )
        col.insert({"id": 200, "vector": [9.0, 9.0, 9.0, 9.0]})
        col.flush()
    finally:
        db.close()
    with vs.connect(path) as db:
        got = db.get_collection("c").get([100, 105], output_fields=["vector"])
    assert [g["vector"] for g in got] == [[5.0, 0.0, 6.0, 7.0], [5.0, 5.0, 6.0, 7.0]]


def test_reader_racing_a_checkpoint_sees_a_real_state(tmp_path, monkeypatch):
    from vectorstore.storage.store import DirectoryStore

    path = tmp_path / "store"
    db = vs.connect(path)
    try:
        col = db.create_collection("c", dimension=4)
        col.insert([{"id": i, "vector": [1.0, float(i), 2.0, 3.0]} for i in range(10)])
        col.flush()
        col.insert([{"id": 100 + i, "vector": [5.0, float(i), 6.0, 7.0]} for i in range(10)])
        real = DirectoryStore.load_segments
        raced = []

        def racing(self: DirectoryStore, *a: Any, **k: Any) -> Any:
            out = real(self, *a, **k)
            if self.read_only and not raced:  # the reader has read the manifest and
                raced.append(True)  # its segments, when the writer checkpoints (once)
                col.flush()
                col.insert({"id": 200, "vector": [9.0, 9.0, 9.0, 9.0]})
            return out

        monkeypatch.setattr(DirectoryStore, "load_segments", racing)
        reader = vs.connect(path, read_only=True)
        try:
            count = reader.get_collection("c").count()  # opens c: retries past the race
        finally:
            monkeypatch.undo()
            reader.close()
        assert raced
        assert count in (20, 21), f"the reader sees {count} rows: 20 or 21 existed, not 11"
    finally:
        db.close()


@pytest.mark.parametrize("change", ["delete", "create_index"])
def test_reader_opening_during_a_checkpoint(tmp_path, monkeypatch, change):
    from vectorstore.storage.store import DirectoryStore

    path = tmp_path / "store"
    db = vs.connect(path)
    try:
        col = db.create_collection("c", dimension=4)
        col.insert([{"id": i, "vector": [1.0, float(i), 2.0, 3.0]} for i in range(20)])
        col.flush()
        if change == "delete":
            col.delete(ids=[3])
        else:
            col.create_index("vector", "HNSW", "L2", M=6, ef_construction=20)
        real = DirectoryStore.write_manifest
        counts = []

        def slow_manifest(self: DirectoryStore) -> None:
            if not counts:  # segment files written, manifest not yet: a reader opens
                with vs.connect(path, read_only=True) as ro:
                    counts.append(ro.get_collection("c").count())
            real(self)

        monkeypatch.setattr(DirectoryStore, "write_manifest", slow_manifest)
        col.flush()
        monkeypatch.undo()
        assert counts == [19 if change == "delete" else 20]
    finally:
        db.close()


def test_handles_follow_other_processes_writes(tmp_path):
    path = tmp_path / "store"
    with vs.connect(path) as db:
        db.create_collection("c", dimension=2).insert({"id": 1, "vector": [1.0, 0.0]})
    ro = vs.connect(path, read_only=True)
    try:
        old = ro.get_collection("c")
        with vs.connect(path) as db:
            db.get_collection("c").insert({"id": 2, "vector": [0.0, 1.0]})
        assert old.count() == 2  # no refresh() needed
        ro.refresh()  # still allowed: it only moves the catching up to now
        assert ro.get_collection("c") is old and old.count() == 2
    finally:
        ro.close()


def test_a_reader_follows_the_writer_call_by_call(tmp_path):
    path = tmp_path / "store"
    db = vs.connect(path, segment_rows=8)
    ro = vs.connect(path, read_only=True)
    try:
        col = db.create_collection("c", dimension=2)
        assert ro.list_collections() == ["c"]
        rc = ro.get_collection("c")
        assert rc.count() == 0
        col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(5)])  # log only
        assert rc.count() == 5
        col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(5, 30)])  # seals
        col.delete(ids=[0, 1])
        col.compact()  # new segments, old ones removed: the reader rebuilds its state
        assert sorted(r["id"] for r in rc.query(output_fields=["id"])) == list(range(2, 30))
        assert [h.id for h in rc.search([[1.0, 7.0]], limit=1)[0]] == [7]
        db.drop_collection("c")
        assert ro.list_collections() == []
        with pytest.raises(vs.ClosedError, match="dropped or renamed by another client or process"):
            rc.count()
    finally:
        ro.close()
        db.close()


@pytest.mark.parametrize("round_", range(10))
def test_readers_and_writer_long(tmp_path, round_, runslow):
    """Three readers and a writer, ten rounds. By default a bounded run with a fixed
    seed per round (KESTREL_READERS_SEED overrides it); with --runslow 400 writes
    a round and fresh random seeds. The seed is printed (shown on failure)."""
    if runslow:
        seed, n_ops = int.from_bytes(os.urandom(3), "little"), 400
    else:
        seed, n_ops = 7001 + round_, 60
    seed = int(os.environ.get("KESTREL_READERS_SEED", seed))
    print("seed", seed, "n_ops", n_ops)
    run_readers_and_writer(tmp_path, ["count", "search", "search"], n_ops=n_ops, seed=seed)


@pytest.mark.parametrize("reader", ["another client", "this client"])
def test_a_checkpoint_leaves_the_files_a_reader_may_be_opening(tmp_path, reader):
    """A reader between reading the manifest and opening the files it names holds
    a mark; a checkpoint then leaves its garbage for a later one."""
    path = tmp_path / "store"
    db = vs.connect(path)
    try:
        col = db.create_collection("c", dimension=2)
        col.insert([{"id": i, "vector": [1.0, float(i)]} for i in range(5)])
        first_log = path / "c" / "wal.00000001.log"
        ro = vs.connect(path, read_only=True)
        marks = (ro if reader == "another client" else db)._store.marks
        with marks.reading():
            col.flush()  # names generation 2; generation 1 is garbage now
            assert first_log.exists(), "deleted under a reader"
        ro.close()
        col.insert({"id": 9, "vector": [0.0, 1.0]})
        col.flush()
        assert not first_log.exists()  # the next checkpoint removed it
        assert sorted(p.name for p in (path / "c").glob("wal.*")) == ["wal.00000003.log"]
    finally:
        db.close()
    with vs.connect(path, read_only=True) as ro:
        assert ro.get_collection("c").count() == 6
