"""Many writer processes on one store, killed at random (issue 20).

Each worker process writes only keys of its own (a fresh range per process), logs
an intent before each write and an ack after it into a file of its own, and checks
on every round that a write another process acknowledged before the call began
is visible to it. The parent SIGKILLs workers at random and starts new ones. At
the end every key holds what its last acknowledged write left, or what the one
write in flight when its process died left (that write may or may not have
happened), and the store reopens.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import vectorstore as vs

REPO = Path(vs.__file__).resolve().parents[1]
DIM = 8

WORKER = r"""
import json, os, random, sys, time
import numpy as np
import vectorstore as vs

path, logs, me, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rnd = random.Random(seed)
base = int(me) * 1_000_000
fd = os.open(os.path.join(logs, f"{me}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)

def note(**entry):
    os.write(fd, (json.dumps(entry) + "\n").encode())

def vec(key, val):
    return np.random.default_rng(key * 7919 + val).normal(size=8).astype(np.float32).tolist()

def lines(name):
    with open(os.path.join(logs, name)) as f:
        return [json.loads(x) for x in f.read().splitlines() if x.endswith("}")]

def fail(msg):
    print("VIOLATION", msg, flush=True)
    os._exit(3)

def check_other(col):
    # a write another process acknowledged before this call began is visible in it
    others = [n for n in os.listdir(logs) if n.endswith(".jsonl") and n != f"{me}.jsonl"]
    if not others:
        return
    name = rnd.choice(others)
    acked = [e for e in lines(name) if e["phase"] == "ack" and e["op"] != "flush"]
    if not acked:
        return
    last = acked[-1]
    got = col.get([last["key"]], output_fields=["val"])
    later = lines(name)  # what that process did after the ack, while we looked
    after = later[later.index(last) + 1 :] if last in later else []
    deleted_later = any(e["op"] == "delete" and e["key"] == last["key"] for e in after)
    if last["op"] == "delete":
        if got:
            fail(f"{name}: key {last['key']} deleted and acknowledged, still there: {got}")
    elif not got:
        if not deleted_later:
            fail(f"{name}: acknowledged {last['op']} of key {last['key']} not visible")
    elif got[0]["val"] < last["val"]:
        fail(f"{name}: key {last['key']} has val {got[0]['val']} < acknowledged {last['val']}")

db = vs.connect(path, segment_rows=40, max_wal_bytes=6000)
col = db.get_collection("c")
live, n, val = {}, 0, 0
print("READY", flush=True)
while True:
    check_other(col)
    r = rnd.random()
    val += 1
    if r < 0.45 or not live:
        keys = [base + n + j for j in range(rnd.randint(1, 5))]
        n += len(keys)
        note(op="insert", keys=keys, key=keys[-1], val=val, phase="intent")
        col.insert([{"id": k, "vector": vec(k, val), "val": val} for k in keys])
        for k in keys:
            live[k] = val
        note(op="insert", keys=keys, key=keys[-1], val=val, phase="ack")
    elif r < 0.65:
        k = rnd.choice(sorted(live))
        note(op="upsert", keys=[k], key=k, val=val, phase="intent")
        col.upsert({"id": k, "vector": vec(k, val), "val": val})
        live[k] = val
        note(op="upsert", keys=[k], key=k, val=val, phase="ack")
    elif r < 0.8:
        k = rnd.choice(sorted(live))
        note(op="delete", keys=[k], key=k, val=val, phase="intent")
        col.delete(ids=[k])
        del live[k]
        note(op="delete", keys=[k], key=k, val=val, phase="ack")
    elif r < 0.9:
        k = rnd.choice(sorted(live))
        hits = col.search([vec(k, live[k])], limit=1, filter=f"id == {k}", output_fields=["val"])
        if [h.id for h in hits[0]] != [k] or hits[0][0].entity["val"] != live[k]:
            fail(f"own key {k} (val {live[k]}) searched: {hits}")
    elif r < 0.96:
        note(op="flush", keys=[], key=-1, val=val, phase="intent")
        col.flush()
        note(op="flush", keys=[], key=-1, val=val, phase="ack")
    else:
        col.compact()
"""


def expected(log: list[dict[str, Any]]) -> tuple[dict[int, int | None], set[int]]:
    """What a worker's log says the store holds: key -> val (None: deleted), and the
    keys of the one write in flight when it died (either outcome is right)."""
    state: dict[int, int | None] = {}
    in_flight: list[int] = []  # the keys of an intent not yet acknowledged
    for e in log:
        if e["op"] == "flush":
            continue
        if e["phase"] == "intent":
            in_flight = e["keys"]
            continue
        in_flight = []
        for k in e["keys"]:
            state[k] = None if e["op"] == "delete" else e["val"]
    unsure = set(in_flight)
    return state, unsure


def spawn(path: Path, logs: Path, name: str, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(logs), name, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


@pytest.mark.parametrize("workers", [2, 4, 8])
def test_writers_killed_at_random_lose_nothing_acknowledged(tmp_path, workers):
    seed = int(os.environ.get("KESTREL_WRITERS_SEED", int.from_bytes(os.urandom(3), "little")))
    print("seed", seed)
    rnd = random.Random(seed)
    path, logs = tmp_path / "store", tmp_path / "logs"
    logs.mkdir()
    with vs.connect(path) as db:
        db.create_collection(
            "c",
            schema=vs.Schema(
                [
                    vs.Field("id", vs.DataType.INT64, is_primary=True),
                    vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=DIM),
                    vs.Field("val", vs.DataType.INT64),
                ]
            ),
            indexes=[vs.Index("vector", "HNSW", "L2", M=8, ef_construction=40)],
        )
    names = iter(range(1, 10_000))
    running = {}
    for _ in range(workers):
        name = str(next(names))
        running[name] = spawn(path, logs, name, rnd.randrange(1 << 30))
    kills, deadline = 0, time.monotonic() + 12
    try:
        while time.monotonic() < deadline:
            time.sleep(rnd.uniform(0.2, 0.8))
            for name, proc in running.items():
                assert proc.poll() is None, f"worker {name}: {proc.communicate()}"
            victim = rnd.choice(sorted(running))
            running[victim].send_signal(signal.SIGKILL)
            running[victim].wait()
            kills += 1
            name = str(next(names))
            running[name] = spawn(path, logs, name, rnd.randrange(1 << 30))
            del running[victim]
        for name, proc in running.items():
            assert proc.poll() is None, f"worker {name}: {proc.communicate()}"
    finally:
        for proc in running.values():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    with vs.connect(path) as db:  # the store opens, after many killed writers
        rows = db.get_collection("c").query(output_fields=["id", "val"])
    found = {r["id"]: r["val"] for r in rows}
    acked = 0
    for log_file in sorted(logs.iterdir()):
        entries = [json.loads(x) for x in log_file.read_text().splitlines() if x.endswith("}")]
        state, unsure = expected(entries)
        acked += sum(e["phase"] == "ack" for e in entries)
        for key, val in state.items():
            if key in unsure:
                continue
            assert found.get(key) == val, (
                f"{log_file.name}: key {key} is {found.get(key)}, not {val}"
            )
    owned = set()
    for log_file in logs.iterdir():
        for x in log_file.read_text().splitlines():
            if x.endswith("}"):
                owned.update(json.loads(x)["keys"])
    assert set(found) <= owned, f"rows nobody wrote: {sorted(set(found) - owned)[:10]}"
    assert kills >= 5 and acked >= 10 * workers, (kills, acked)  # the run did real work
