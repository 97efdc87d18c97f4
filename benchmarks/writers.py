"""Many processes, one store (issue 20): insert throughput, search latency while
others write, and the cost of catching up with another process's batch.

    python benchmarks/writers.py             # 3 runs, medians

Every figure is measured in fresh processes on one path store (durability
"fsync", the default), on seeded random vectors (dim 64, COSINE, HNSW M=16):
- insert rows/s, 1,000-row batches: one process writing ``BATCHES`` batches,
  against ``W`` processes writing ``BATCHES / W`` each at the same time (the
  total from the first start to the last finish). Each run ends with one search
  in the single writer and in one of the W, so the HNSW work the writers skip
  (growing segments index at the first search) is inside the timed span;
- single-query search latency (median and p99) of a reader process on a quiet
  store, and while the W writers insert (a run of its own: the reader's
  searches index every batch the writers add, and this machine has 2 cores);
- catch-up: a reader's first call after another process wrote one 1,000-row
  batch: ``count()`` (the replay alone) and a search (the replay, and the
  growing segment's graph taking the 1,000 rows), against a search with
  nothing new.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

DIM = 64
BATCH = 1000
BATCHES = 40

COMMON = f"""
import json, os, sys, time
import numpy as np
import vectorstore as vs
DIM, BATCH = {DIM}, {BATCH}
def rows(start, n):
    rng = np.random.default_rng(start)
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    return {{"id": np.arange(start, start + n), "vector": vecs}}
def wait(go):
    while not os.path.exists(go):
        time.sleep(0.001)
"""

WRITER = (
    COMMON
    + """
path, go, first, batches, search_at_end = sys.argv[1:6]
first, batches = int(first), int(batches)
db = vs.connect(path)
col = db.get_collection("c")
wait(go)
t0 = time.time()
for b in range(batches):
    col.insert(rows(first + b * BATCH, BATCH))
if search_at_end == "1":
    col.search(np.ones((1, DIM), dtype=np.float32), limit=10)
print(json.dumps({"start": t0, "end": time.time()}), flush=True)
db.close()
"""
)

READER = (
    COMMON
    + """
path, go, stop = sys.argv[1:4]
db = vs.connect(path, read_only=True)
col = db.get_collection("c")
q = np.random.default_rng(7).normal(size=(500, DIM)).astype(np.float32)
for i in range(50):  # warm up
    col.search(q[i : i + 1], limit=10)
print("ready", flush=True)
wait(go)
lat = []
i = 0
while not os.path.exists(stop) and len(lat) < 20000:
    t = time.perf_counter()
    col.search(q[i % 500 : i % 500 + 1], limit=10)
    lat.append(time.perf_counter() - t)
    i += 1
print(json.dumps(lat), flush=True)
"""
)

CATCH_UP = (
    COMMON
    + """
path = sys.argv[1]
db = vs.connect(path, read_only=True)
col = db.get_collection("c")
q = np.ones((1, DIM), dtype=np.float32)
quiet, replay, after = [], [], []
other = vs.connect(path)
ocol = other.get_collection("c")
for r in range(10):
    for _ in range(20):
        t = time.perf_counter(); col.search(q, limit=10); quiet.append(time.perf_counter() - t)
    ocol.insert(rows(10_000_000 + r * BATCH, BATCH))
    t = time.perf_counter(); col.count(); replay.append(time.perf_counter() - t)
    ocol.insert(rows(20_000_000 + r * BATCH, BATCH))
    t = time.perf_counter(); col.search(q, limit=10); after.append(time.perf_counter() - t)
other.close()
print(json.dumps({"quiet": statistics_median(quiet), "replay": statistics_median(replay),
                  "after": statistics_median(after)}))
""".replace("statistics_median", "np.median")
)


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        text=True,
    )


def new_store(folder: str, seed_rows: int) -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np

    import vectorstore as vs

    with vs.connect(folder) as db:
        col = db.create_collection("c", dimension=DIM)
        if seed_rows:
            rng = np.random.default_rng(0)
            vecs = rng.normal(size=(seed_rows, DIM)).astype(np.float32)
            col.insert({"id": np.arange(-seed_rows, 0), "vector": vecs})


def insert_rate(writers: int, reader: bool = False) -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="kestrel-writers-")
    go, stop = os.path.join(folder, "go"), os.path.join(folder, "stop")
    path = os.path.join(folder, "db")
    try:
        new_store(path, 20_000)
        per = BATCHES // writers
        procs = [
            spawn(WRITER, path, go, str(w * per * BATCH), str(per), "1" if w == 0 else "0")
            for w in range(writers)
        ]
        rd = spawn(READER, path, go, stop) if reader else None
        if rd is not None:
            assert rd.stdout is not None and rd.stdout.readline().strip() == "ready"
        time.sleep(2.0)  # every process imported and opened the store
        open(go, "w").close()
        spans = [json.loads(p.communicate()[0]) for p in procs]
        out = {
            "rows_per_s": writers
            * per
            * BATCH
            / (max(s["end"] for s in spans) - min(s["start"] for s in spans))
        }
        if rd is not None:
            open(stop, "w").close()
            lat = json.loads(rd.communicate()[0])
            out["busy_p50_us"] = statistics.median(lat) * 1e6
            out["busy_p99_us"] = sorted(lat)[int(len(lat) * 0.99)] * 1e6
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def quiet_latency() -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="kestrel-writers-")
    go, stop = os.path.join(folder, "go"), os.path.join(folder, "stop")
    path = os.path.join(folder, "db")
    try:
        new_store(path, 20_000 + BATCHES * BATCH)
        rd = spawn(READER, path, go, stop)
        assert rd.stdout is not None and rd.stdout.readline().strip() == "ready"
        open(go, "w").close()
        time.sleep(3.0)
        open(stop, "w").close()
        lat = json.loads(rd.communicate()[0])
        return {
            "quiet_p50_us": statistics.median(lat) * 1e6,
            "quiet_p99_us": sorted(lat)[int(len(lat) * 0.99)] * 1e6,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def catch_up() -> dict[str, float]:
    folder = tempfile.mkdtemp(prefix="kestrel-writers-")
    path = os.path.join(folder, "db")
    try:
        new_store(path, 20_000)
        proc = spawn(CATCH_UP, path)
        got = json.loads(proc.communicate()[0])
        return {
            "search_quiet_us": got["quiet"] * 1e6,
            "count_after_batch_us": got["replay"] * 1e6,  # the catch-up: replay only
            "search_after_batch_us": got["after"] * 1e6,  # replay + the graph takes 1,000 rows
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {}
    for r in range(args.runs):
        figures: dict[str, float] = {}
        figures["one_writer_rows_per_s"] = insert_rate(1)["rows_per_s"]
        figures[f"{args.writers}_writers_rows_per_s"] = insert_rate(args.writers)["rows_per_s"]
        busy = insert_rate(args.writers, reader=True)  # a reader beside them (own run)
        figures["reader_busy_p50_us"] = busy["busy_p50_us"]
        figures["reader_busy_p99_us"] = busy["busy_p99_us"]
        quiet = quiet_latency()
        figures["reader_quiet_p50_us"] = quiet["quiet_p50_us"]
        figures["reader_quiet_p99_us"] = quiet["quiet_p99_us"]
        figures.update(catch_up())
        figures["ratio_writers_to_one"] = (
            figures[f"{args.writers}_writers_rows_per_s"] / figures["one_writer_rows_per_s"]
        )
        print(f"run {r + 1}: " + json.dumps({k: round(v, 2) for k, v in figures.items()}))
        for k, v in figures.items():
            runs.setdefault(k, []).append(v)
    print("medians: " + json.dumps({k: round(statistics.median(v), 2) for k, v in runs.items()}))


if __name__ == "__main__":
    main()
