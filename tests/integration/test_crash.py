"""The crash test: a writer process is killed (SIGKILL) at random moments, again and again.

A child process opens the store and loops random inserts, upserts, deletes (by key and
by filter), partition changes, flushes and compactions, with a tiny ``segment_rows`` and
``max_wal_bytes`` so sealing and checkpoints happen all the time. Before each operation
it prints ``B <op as JSON>``; after the call returns (= acknowledged) it prints
``A <counter>`` (one ``write`` + flush per line, so lines are atomic in the pipe).

The parent kills it at a random moment -- after a random number of acknowledged ops,
right after a ``flush``/``compact`` line (so it dies mid-checkpoint / mid-compaction), or
at a random delay after start (mid-recovery) -- then drains the pipe: every ``A`` line
written before death is an acknowledged write. At most one operation is in flight (a
``B`` without its ``A``); it may or may not be there, but all of it or none of it.

The store is then reopened (read-only, and every other round as the writer too) and
compared with the model: same rows, same content (``val`` = the counter of the last
acknowledged write of the row; the vector is derived from ``(id, val)``), same
partitions, ``count()`` equal, no deleted row back (not by ``get``, not by ``search``).
Rounds continue on the SAME store.

``crash point`` rounds make the child kill itself at an exact place instead (just before
the manifest is replaced, just after it is replaced but before the log is trimmed, in the
middle of writing a segment, in the middle of a log append), so the checkpoint windows
are hit every time, not by luck.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorstore as vs

DT = vs.DataType
DIM = 8
SEGMENT_ROWS = 50
MAX_WAL_BYTES = 6000
PARTS = ("_default", "p")
REPO = Path(vs.__file__).resolve().parents[1]

SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=DIM),
        vs.Field("val", DT.INT64),
    ]
)
INDEXES = [vs.Index("vector", "HNSW", "L2", M=8, ef_construction=40)]


def vec(key: int, counter: int) -> np.ndarray:
    """The vector of row ``key`` as written by operation ``counter`` (the fingerprint)."""
    return np.random.default_rng(key * 1_000_003 + counter).normal(size=DIM).astype(np.float32)


# The child. argv: store, durability, seed, first counter, crash point ("" = none).
WORKER = r"""
import json, os, random, signal, sys
import numpy as np
import vectorstore as vs

path, durability, seed, counter, crash_at = sys.argv[1:6]
seed, counter = int(seed), int(counter)
DIM, IDS = 8, 300
rnd = random.Random(seed)

def vec(key, c):
    return np.random.default_rng(key * 1_000_003 + c).normal(size=DIM).astype(np.float32)

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def die():
    os.kill(os.getpid(), signal.SIGKILL)

armed = False
if crash_at:
    from vectorstore.storage import segment_io
    real_replace, real_remove, real_write = os.replace, os.remove, os.write
    real_write_npy = segment_io.write_npy

    def replace(src, dst, *a, **k):
        if armed and crash_at in ("manifest", "compact") and str(dst).endswith("manifest.json"):
            die()  # every segment file is written; the manifest is still the old one
        real_replace(src, dst, *a, **k)
    def remove(p, *a, **k):
        if armed and crash_at == "trim" and os.path.basename(str(p)).startswith("wal."):
            die()  # the new manifest is durable; the old log is still there
        real_remove(p, *a, **k)
    def write_npy(p, arr):
        if armed and crash_at == "segment":
            with open(p, "wb") as f:  # half a file, then death
                f.write(b"\x93NUMPY")
            die()
        real_write_npy(p, arr)
    def write(fd, data):
        if armed and crash_at == "wal" and len(data) > 16:
            real_write(fd, bytes(data[: len(data) // 2]))  # a torn record
            die()
        return real_write(fd, data)
    os.replace, os.remove, os.write = replace, remove, write
    segment_io.write_npy = write_npy

db = vs.connect(path, durability=durability, segment_rows=50, max_wal_bytes=6000)
col = db.get_collection("c")
live = {}  # id -> (val, partition)
for p in col.list_partitions():
    for r in col.query(output_fields=["id", "val"], partitions=[p]):
        live[r["id"]] = (r["val"], p)
say("ready")

def rows(ids, c):
    return [{"id": k, "vector": vec(k, c).tolist(), "val": c} for k in ids]

n_ops = 0
arm_after = rnd.randint(5, 40)
while True:
    counter += 1
    n_ops += 1
    parts = col.list_partitions()
    r = rnd.random()
    if crash_at and n_ops == arm_after and crash_at != "wal":
        # A checkpoint whose content is known exactly: first a clean flush (unarmed),
        # then (except for "segment") deletes of persisted _default rows -- tombstones
        # to rewrite -- and a few new rows, then the armed flush / compact.
        plan = [{"op": "flush"}]
        if crash_at != "segment":
            victims = [k for k, (_, p) in live.items() if p == "_default"][:3]
            plan.append({"op": "delete", "ids": victims})
        new = [k for k in range(IDS, IDS + 400) if k not in live][: rnd.randint(1, 5)]
        plan.append({"op": "insert", "ids": new, "p": "_default"})
        plan.append({"op": "compact" if crash_at == "compact" else "flush"})
        for i, op in enumerate(plan):
            op["c"] = counter
            armed = i > 0
            say("B " + json.dumps(op))
            if op["op"] == "delete":
                col.delete(ids=op["ids"])
                for k in op["ids"]:
                    live.pop(k, None)
            elif op["op"] == "insert":
                col.insert(rows(op["ids"], counter))
                for k in op["ids"]:
                    live[k] = (counter, "_default")
            else:
                getattr(col, op["op"])()
            say("A %d" % counter)
            counter += 1
        raise SystemExit("crash point %s was never reached" % crash_at)
    if crash_at == "wal" and n_ops == arm_after:
        armed = True
    if r < 0.32:
        p = rnd.choice(parts)
        free = [k for k in range(IDS) if k not in live]
        ids = rnd.sample(free, 1) if free else [max(live) + 1]
        more = rnd.sample(range(IDS), rnd.randint(0, 7))
        ids += [k for k in more if k not in live and k not in ids]
        op = {"op": "insert", "ids": ids, "p": p}
    elif r < 0.57:
        ids = rnd.sample(range(IDS), rnd.randint(1, 8))
        op = {"op": "upsert", "ids": ids, "p": rnd.choice(parts)}
    elif r < 0.77:
        pool = list(live) or [0]
        ids = rnd.sample(pool, min(len(pool), rnd.randint(1, 6))) + [rnd.randrange(IDS)]
        op = {"op": "delete", "ids": ids}
    elif r < 0.81 and live:
        vals = sorted(v for v, _ in live.values())
        op = {"op": "delete_filter", "x": vals[min(len(vals) - 1, rnd.randint(0, 3))]}
    elif r < 0.85:
        op = {"op": "dp" if "q" in parts else "cp"}
    elif r < 0.93:
        op = {"op": "flush"}
    else:
        op = {"op": "compact"}
    op["c"] = counter
    say("B " + json.dumps(op))
    kind = op["op"]
    if kind == "insert":
        col.insert(rows(op["ids"], counter), partition=op["p"])
    elif kind == "upsert":
        col.upsert(rows(op["ids"], counter), partition=op["p"])
    elif kind == "delete":
        col.delete(ids=op["ids"])
    elif kind == "delete_filter":
        col.delete(filter="val < %d" % op["x"])
    elif kind == "cp":
        col.create_partition("q")
    elif kind == "dp":
        col.drop_partition("q")
    else:
        getattr(col, kind)()
    say("A %d" % counter)
    # the child's own model (to pick valid ops)
    if kind in ("insert", "upsert"):
        for k in op["ids"]:
            live[k] = (counter, op["p"])
    elif kind == "delete":
        for k in op["ids"]:
            live.pop(k, None)
    elif kind == "delete_filter":
        for k in [k for k, (v, _) in live.items() if v < op["x"]]:
            del live[k]
    elif kind == "dp":
        for k in [k for k, (_, p) in live.items() if p == "q"]:
            del live[k]
"""


@dataclass
class Model:
    """What the store must hold: id -> (val, partition), and the partitions."""

    rows: dict[int, tuple[int, str]] = field(default_factory=dict)
    parts: set[str] = field(default_factory=lambda: set(PARTS))

    def copy(self) -> Model:
        return Model(dict(self.rows), set(self.parts))

    def apply(self, op: dict[str, Any]) -> Model:
        m = self.copy()
        kind, c = op["op"], op["c"]
        if kind in ("insert", "upsert"):
            for k in op["ids"]:
                m.rows[k] = (c, op["p"])
        elif kind == "delete":
            for k in op["ids"]:
                m.rows.pop(k, None)
        elif kind == "delete_filter":
            m.rows = {k: v for k, v in m.rows.items() if v[0] >= op["x"]}
        elif kind == "cp":
            m.parts.add("q")
        elif kind == "dp":
            m.parts.discard("q")
            m.rows = {k: v for k, v in m.rows.items() if v[1] != "q"}
        return m


@dataclass
class Round:
    acked: list[dict[str, Any]]
    inflight: dict[str, Any] | None
    last_counter: int
    how: str


def _reader_thread(stream: Any, out: queue.Queue[str | None]) -> None:
    for line in stream:
        out.put(line.rstrip("\n"))
    out.put(None)


def run_round(path: Path, durability: str, seed: int, counter: int, crash_at: str = "") -> Round:
    """One child life: start, feed it, kill it (or let it kill itself); parse its lines."""
    rnd = random.Random(seed ^ 0x5EED)
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), durability, str(seed), str(counter), crash_at],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_reader_thread, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    if crash_at:
        how = f"self-kill at {crash_at}"
        deadline = time.monotonic() + 60
    else:
        how = rnd.choice(["after_acks", "after_acks", "at_checkpoint", "at_start"])
        deadline = time.monotonic() + 20
    target_acks = rnd.randint(1, 60)
    start_delay = rnd.uniform(0.0, 0.8)
    t0 = time.monotonic()
    acks = checkpoints = 0
    want_checkpoints = rnd.randint(1, 4)
    try:
        while proc.poll() is None or not lines.empty():
            if how == "at_start" and time.monotonic() - t0 >= start_delay:
                break
            if time.monotonic() > deadline:
                if crash_at:
                    raise AssertionError(f"the child never reached crash point {crash_at}")
                break
            try:
                line = lines.get(timeout=0.005 if how == "at_start" else 0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            if line.startswith("A "):
                acks += 1
                if how == "after_acks" and acks >= target_acks:
                    time.sleep(rnd.uniform(0, 0.004))
                    break
            elif (
                line.startswith("B ")
                and how == "at_checkpoint"
                and json.loads(line[2:])["op"] in ("flush", "compact")
            ):
                checkpoints += 1
                if checkpoints >= want_checkpoints:
                    time.sleep(rnd.uniform(0, 0.02))
                    break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join(timeout=10)
    while True:  # what the child wrote before it died is acknowledged
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            seen.append(line)
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(f"the child failed (rc={proc.returncode}):\n{stderr[-3000:]}")
    acked: list[dict[str, Any]] = []
    pending: dict[str, Any] | None = None
    last = counter
    for line in seen:
        if line.startswith("B "):
            assert pending is None, f"two operations in flight: {pending} and {line}"
            pending = json.loads(line[2:])
            last = max(last, pending["c"])
        elif line.startswith("A "):
            assert pending is not None and pending["c"] == int(line[2:]), line
            acked.append(pending)
            pending = None
    return Round(acked, pending, last, how)


def observe(col: vs.Collection) -> Model:
    """The store's state as a Model, checking every row's vector fingerprint."""
    m = Model(rows={}, parts=set(col.list_partitions()))
    for p in col.list_partitions():
        for r in col.query(output_fields=["id", "val", "vector"], partitions=[p]):
            assert r["id"] not in m.rows, f"row {r['id']} is in two partitions"
            np.testing.assert_allclose(
                r["vector"], vec(r["id"], r["val"]), rtol=1e-6, err_msg=f"row {r['id']}"
            )
            m.rows[r["id"]] = (r["val"], p)
    return m


def check_store(col: vs.Collection, expected: Model, rnd: random.Random) -> None:
    """count(), get() and search() agree with ``expected`` (which query already matched)."""
    assert col.count() == len(expected.rows)
    for p in expected.parts:
        assert col.count(partitions=[p]) == sum(v[1] == p for v in expected.rows.values())
    gone = [k for k in range(300) if k not in expected.rows]
    assert col.get(gone) == []
    some = rnd.sample(sorted(expected.rows), min(20, len(expected.rows)))
    got = {r["id"]: r["val"] for r in col.get(some, output_fields=["val"])}
    assert got == {k: expected.rows[k][0] for k in some}
    if expected.rows:
        queries = np.random.default_rng(rnd.randrange(1 << 30)).normal(size=(5, DIM))
        for hits in col.search(queries.astype(np.float32), limit=10):
            ids = [h.id for h in hits]
            assert set(ids) <= set(expected.rows), "search returned a deleted row"
            assert len(ids) == min(10, len(expected.rows))
        # every live row is findable by its own vector (exact match, distance 0)
        for k in some[:5]:
            val = expected.rows[k][0]
            hits = col.search([vec(k, val).tolist()], limit=3)[0]
            assert hits and hits[0].distance == pytest.approx(0.0, abs=1e-4), (k, hits)


OPTIONS = {"segment_rows": SEGMENT_ROWS, "max_wal_bytes": MAX_WAL_BYTES}


def connect(path: Path, durability: str) -> vs.Client:
    return vs.connect(path, durability=durability, **OPTIONS)


def verify(path: Path, durability: str, model: Model, rd: Round, writer: bool, seed: int) -> Model:
    """Reopen after a kill; the state must be the model, with or without the in-flight op."""
    candidates = [model] if rd.inflight is None else [model, model.apply(rd.inflight)]
    ctx = f"seed={seed} kill={rd.how} acked={len(rd.acked)} in-flight={rd.inflight}"
    rnd = random.Random(seed)
    reader = vs.connect(path, read_only=True)
    try:
        seen = observe(reader.get_collection("c"))
        assert seen in candidates, _diff(seen, candidates, ctx)
        check_store(reader.get_collection("c"), seen, rnd)
    finally:
        reader.close()
    if writer:  # recovery as the writer (log truncated, replayed, maybe checkpointed)
        db = vs.connect(path, **OPTIONS, durability=durability)
        try:
            col = db.get_collection("c")
            again = observe(col)
            assert again == seen, _diff(again, [seen], ctx + " (writer reopen)")
            check_store(col, again, rnd)
        finally:
            db.close()
        db = vs.connect(path, **OPTIONS, durability=durability)  # and after the close() checkpoint
        try:
            assert observe(db.get_collection("c")) == seen, ctx + " (after close)"
        finally:
            db.close()
    return seen


def _diff(seen: Model, candidates: list[Model], ctx: str) -> str:
    exp = candidates[-1]
    missing = sorted(set(exp.rows) - set(seen.rows))[:10]
    extra = sorted(set(seen.rows) - set(exp.rows))[:10]
    changed = sorted(k for k in set(seen.rows) & set(exp.rows) if seen.rows[k] != exp.rows[k])
    return (
        f"{ctx}: state after the crash matches no allowed state; vs. the last candidate: "
        f"missing={missing} extra={extra} "
        f"changed={[(k, seen.rows[k], exp.rows[k]) for k in changed[:10]]} "
        f"parts={seen.parts} vs {exp.parts}"
    )


def new_store(path: Path, durability: str) -> None:
    db = connect(path, durability)
    col = db.create_collection("c", schema=SCHEMA, indexes=INDEXES, partitions=["p"])
    col.insert([{"id": k, "vector": vec(k, 0).tolist(), "val": 0} for k in range(0, 300, 3)])
    db.close()


def crash_loop(path: Path, durability: str, seed: int, rounds: int, crash_points: list[str]) -> int:
    """``rounds`` kills on one store; crash_points[i] (if any) replaces round i's random kill.

    Returns the number of acknowledged operations checked."""
    new_store(path, durability)
    model = Model(rows={k: (0, "_default") for k in range(0, 300, 3)})
    counter = 1
    checked = 0
    for i in range(rounds):
        crash_at = crash_points[i] if i < len(crash_points) else ""
        rd = run_round(path, durability, seed * 1000 + i, counter, crash_at)
        for op in rd.acked:
            model = model.apply(op)
        checked += len(rd.acked)
        model = verify(path, durability, model, rd, writer=(i % 2 == 1), seed=seed * 1000 + i)
        counter = rd.last_counter + 1
    return checked


@pytest.mark.parametrize("durability", ["fsync", "none"])
def test_random_kills(tmp_path, durability):
    """Random SIGKILLs (after acks, mid-checkpoint, mid-recovery) never lose an acked write.

    The last round dies just before a manifest replace (crash point "manifest"): tombstones
    and graphs of the new checkpoint are on disk, the manifest still names the old ones."""
    seed = int(os.environ.get("KESTREL_CRASH_SEED", random.randrange(1 << 20)))
    print("seed", seed)
    rounds = 12
    points = [""] * (rounds - 1) + ["manifest"]
    checked = crash_loop(tmp_path / "store", durability, seed, rounds, points)
    assert checked > 0


@pytest.mark.parametrize(
    "crash_at",
    [
        "manifest",
        "trim",
        "segment",
        "compact",
        "wal",
    ],
)
@pytest.mark.parametrize("durability", ["fsync", "none"])
def test_kill_at_crash_points(tmp_path, durability, crash_at):
    """The child kills itself at an exact point of a checkpoint or a log append:
    manifest = segment files and tombstones written, manifest not yet replaced;
    trim = manifest replaced, old log not yet removed; segment = half a segment file;
    compact = a compaction's new segments written, manifest not yet replaced;
    wal = half a log record."""
    seed = int(os.environ.get("KESTREL_CRASH_SEED", random.randrange(1 << 20)))
    print("seed", seed)
    crash_loop(tmp_path / "store", durability, seed, rounds=2, crash_points=[crash_at] * 2)


@pytest.mark.parametrize("durability", ["fsync", "none", "batch"])
def test_random_kills_long(tmp_path, durability, runslow):
    """Every crash point in turn, then a kill before a manifest replace; the only crash
    test of durability="batch". By default a bounded run: one cycle (12 rounds) with a
    fixed seed; with --runslow 200 rounds and a random seed (KESTREL_CRASH_ROUNDS and
    KESTREL_CRASH_SEED override both). The seed is printed (shown on failure)."""
    default_seed = random.randrange(1 << 20) if runslow else 4242
    seed = int(os.environ.get("KESTREL_CRASH_SEED", default_seed))
    rounds = int(os.environ.get("KESTREL_CRASH_ROUNDS", 200 if runslow else 12))
    print("seed", seed, "rounds", rounds)
    cycle = ["", "", "", "trim", "", "segment", "", "wal", "", "compact", ""]
    points = (cycle * (rounds // len(cycle) + 1))[: rounds - 1]
    points = [*points, "manifest"]
    crash_loop(tmp_path / "store", durability, seed, rounds, points)
