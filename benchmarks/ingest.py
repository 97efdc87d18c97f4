"""Ingest: Kestrel insert (columns and rows) against raw hnswlib ``add_items`` (issue 19).

    python benchmarks/ingest.py               # 3 runs, 100k x 128, medians and ratios
    python benchmarks/ingest.py --runs 2 --n 300000
    python benchmarks/ingest.py --profile     # cProfile of the column insert calls only

Every build runs in a fresh process on the same seeded Gaussian mixture
(COSINE, HNSW M=16, ef_construction=200), systems interleaved within each run
so machine noise hits them alike. Both sides use all cores: hnswlib
``add_items(num_threads=-1)``, and Kestrel's growing segment calls the same.

- ``hnswlib``: ``add_items`` in batches of 10,000 (the graph is complete after).
- ``fsync-columns`` / ``memory-columns``: a path store (durability "fsync", the
  default WAL mode) or ":memory:", ``insert({"id": ..., "vector": ...})`` with
  numpy arrays in batches of 10,000, then ``flush()``.
- ``fsync-rows`` / ``memory-rows``: the same with a list of dicts per batch, the
  dicts built inside the timed loop (as a user streaming rows would).

A growing segment adds rows to its HNSW graph only when a search or the seal
needs them, so for Kestrel "insert" is validation + WAL append + column
append, and "flush" adds all rows to the graph (one multi-threaded
``add_items``), seals the segment and (path store) writes it to disk. The fair
comparison with hnswlib is insert + flush; both parts are reported, in wall
seconds and in process CPU seconds (all threads; on a shared machine the CPU
figure is the steadier measure of work, "cpu ratio" is hnswlib's CPU seconds
over the system's, so > 1 means less work than hnswlib). recall@10
at the same ef against exact numpy search shows a faster build is not a worse
graph.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import gaussian_mixture, ground_truth, recall

K = 10
BATCH = 10_000
EFS = (32, 64)
SYSTEMS = ("hnswlib", "fsync-columns", "fsync-rows", "memory-columns", "memory-rows")


def run_hnswlib(base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    import hnswlib

    n, dim = base.shape
    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, n, BATCH):
        index.add_items(base[s : s + BATCH], np.arange(s, min(s + BATCH, n)), num_threads=-1)
    total, cpu = time.perf_counter() - t, time.process_time() - c
    out = {"insert_s": total, "flush_s": 0.0, "total_s": total}
    out |= {"insert_cpu_s": cpu, "flush_cpu_s": 0.0, "total_cpu_s": cpu}
    for ef in EFS:
        index.set_ef(ef)
        out[f"recall_ef{ef}"] = recall(index.knn_query(queries, k=K)[0], truth)
    return out


def insert_batches(col, base: np.ndarray, form: str) -> None:
    n = len(base)
    for s in range(0, n, BATCH):
        e = min(s + BATCH, n)
        if form == "columns":
            col.insert({"id": np.arange(s, e), "vector": base[s:e]})
        else:
            col.insert([{"id": i, "vector": base[i]} for i in range(s, e)])


def run_kestrel(system: str, base: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> dict:
    import vectorstore as vs

    mode, form = system.split("-")
    folder = tempfile.mkdtemp(prefix="kestrel-ingest-")
    try:
        db = vs.connect(":memory:") if mode == "memory" else vs.connect(folder, durability=mode)
        col = db.create_collection("b", dimension=base.shape[1], metric="COSINE")
        t, c = time.perf_counter(), time.process_time()
        insert_batches(col, base, form)
        inserted, c_inserted = time.perf_counter(), time.process_time()
        col.flush()
        done, c_done = time.perf_counter(), time.process_time()
        out = {"insert_s": inserted - t, "flush_s": done - inserted, "total_s": done - t}
        out["insert_cpu_s"], out["flush_cpu_s"] = c_inserted - c, c_done - c_inserted
        out["total_cpu_s"] = c_done - c
        for ef in EFS:
            hits = col.search(queries, limit=K, search_params={"ef": ef})
            out[f"recall_ef{ef}"] = recall(np.array([[h.id for h in r] for r in hits]), truth)
        db.close()
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def worker(system: str, n: int, dim: int) -> dict:
    base, queries = gaussian_mixture(n, dim)
    truth = ground_truth(base, queries, K, "COSINE")
    out = run_hnswlib(base, queries, truth) if system == "hnswlib" else None
    out = out or run_kestrel(system, base, queries, truth)
    out["rows_per_s"] = n / out["total_s"]
    out["insert_rows_per_s"] = n / out["insert_s"]
    return out


def profile(n: int, dim: int) -> None:
    """cProfile of the column insert calls alone (fsync path store), top 25 by own time."""
    import cProfile
    import pstats

    import vectorstore as vs

    base, _ = gaussian_mixture(n, dim)
    folder = tempfile.mkdtemp(prefix="kestrel-ingest-")
    try:
        db = vs.connect(folder)
        col = db.create_collection("b", dimension=dim, metric="COSINE")
        prof = cProfile.Profile()
        prof.enable()
        insert_batches(col, base, "columns")
        prof.disable()
        db.close()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--worker", choices=SYSTEMS)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument(
        "--same-process",
        action="store_true",
        help="run every build in this one process (order rotated per run), not one process each",
    )
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.dim)))
        return
    if args.profile:
        profile(args.n, args.dim)
        return
    systems = args.systems.split(",")
    base, queries = gaussian_mixture(args.n, args.dim)
    ground_truth(base, queries, K, "COSINE")  # cache before timing anything
    results: dict[str, list[dict]] = {s: [] for s in systems}
    for run in range(args.runs):
        order = systems[run % len(systems) :] + systems[: run % len(systems)]
        for system in order if args.same_process else systems:
            if args.same_process:
                res = worker(system, args.n, args.dim)
                gc.collect()
            else:
                cmd = [sys.executable, __file__, "--worker", system]
                cmd += ["--n", str(args.n), "--dim", str(args.dim)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                res = json.loads(out)
            results[system].append(res)
            print(
                f"run {run + 1} {system}: " + ", ".join(f"{k}={v:.4g}" for k, v in res.items()),
                flush=True,
            )
    med = {s: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for s, rs in results.items()}
    ref = med.get("hnswlib")
    print(
        f"\nmedians of {args.runs} runs, n={args.n}, dim={args.dim}, COSINE, M=16, "
        f"ef_construction=200, batches of {BATCH}"
    )
    head = f"{'system':16} {'insert s':>9} {'flush s':>8} {'total s':>8} {'rows/s':>8}"
    head += f" {'ratio':>6} {'ins rows/s':>10} {'cpu s':>7} {'cpu ratio':>9}" + "".join(
        f" {'r@10 ef' + str(e):>10}" for e in EFS
    )
    print(head)
    for s, m in med.items():
        ratio = f"{m['rows_per_s'] / ref['rows_per_s']:6.2f}" if ref else f"{'':6}"
        line = f"{s:16} {m['insert_s']:9.2f} {m['flush_s']:8.2f} {m['total_s']:8.2f}"
        line += f" {m['rows_per_s']:8.0f} {ratio} {m['insert_rows_per_s']:10.0f}"
        cpu_ratio = f"{ref['total_cpu_s'] / m['total_cpu_s']:9.2f}" if ref else f"{'':9}"
        line += f" {m['total_cpu_s']:7.1f} {cpu_ratio}"
        print(line + "".join(f" {m[f'recall_ef{e}']:10.4f}" for e in EFS))


if __name__ == "__main__":
    main()
