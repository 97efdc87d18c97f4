"""Durable storage: insert rate per durability mode, reopen time, disk per vector.

    python benchmarks/storage.py            # 3 runs, 100k x 128, medians
    python benchmarks/storage.py --disk-only --metric L2   # only the disk split (1 run)

Each figure comes from a fresh process on the seeded 100k x 128 Gaussian
mixture (COSINE, HNSW M=16, ef_construction=200):
- insert vectors/s into the in-memory engine and into path stores with
  durability "fsync", "batch" and "none", in calls of 10,000 rows and of 100
  rows (where one fsync per call shows);
- reopen + first query: open the closed store and answer one search (memory-
  mapped columns, the saved hnswlib graph loaded, no rebuild);
- disk bytes per vector after deleting half the rows and compact(), against raw
  float32 (dim * 4 bytes), with the split by file kind.

``--disk-only`` skips the insert rates: one store per run, its reopen time and
its disk split (``--metric`` picks the metric of that store, COSINE by default).
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
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import gaussian_mixture

MODES = ("memory", "fsync", "batch", "none")


def insert_rate(mode: str, n: int, dim: int, batch: int) -> float:
    import vectorstore as vs

    base, _ = gaussian_mixture(n, dim)
    folder = tempfile.mkdtemp(prefix="kestrel-storage-")
    try:
        db = vs.connect(":memory:") if mode == "memory" else vs.connect(folder, durability=mode)
        col = db.create_collection("b", dimension=dim)
        t = time.perf_counter()
        for s in range(0, n, batch):
            col.insert([{"id": i, "vector": base[i]} for i in range(s, min(s + batch, n))])
        rate = n / (time.perf_counter() - t)
        db.close()
        return rate
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build_store(folder: str, n: int, dim: int, metric: str = "COSINE") -> None:
    import vectorstore as vs

    base, _ = gaussian_mixture(n, dim)
    with vs.connect(folder) as db:
        col = db.create_collection("b", dimension=dim, metric=metric)
        for s in range(0, n, 10_000):
            col.insert([{"id": i, "vector": base[i]} for i in range(s, min(s + 10_000, n))])


def reopen_first_query(folder: str, dim: int) -> float:
    import numpy as np

    import vectorstore as vs

    q = np.ones((1, dim), dtype=np.float32)
    t = time.perf_counter()
    db = vs.connect(folder)
    db.get_collection("b").search(q, limit=10)
    elapsed = time.perf_counter() - t
    db.close()
    return elapsed


def disk_after_compaction(folder: str, n: int, dim: int) -> dict[str, float]:
    import vectorstore as vs

    with vs.connect(folder) as db:
        col = db.get_collection("b")
        col.delete(filter=f"id >= {n // 2}")
        col.compact()
        live = col.count()
    sizes: dict[str, int] = defaultdict(int)
    for root, _, files in os.walk(folder):
        for name in files:
            sizes[_kind(name)] += os.path.getsize(os.path.join(root, name))
    raw = live * dim * 4
    out = {f"bytes/raw {k}": v / raw for k, v in sizes.items()}
    out["bytes/raw total"] = sum(sizes.values()) / raw
    return out


def _kind(name: str) -> str:
    """Group files: vectors, index, scalar columns, tombstones, log, manifest."""
    if name.endswith(".vec.npy"):
        return "vectors (.vec.npy)"
    if name.endswith(".hgraph"):
        return "HNSW graph, links only (.hgraph)"
    if name.endswith(".hnsw"):
        return "hnswlib graph + its vector copy (.hnsw)"
    if name.startswith("wal."):
        return "write-ahead log"
    if name.startswith("tombstones-"):
        return "tombstones"
    if name.endswith((".npy", ".jsonl")):
        return "scalar columns"
    return "manifest and lock"


def worker(args: argparse.Namespace) -> dict[str, float]:
    if args.worker == "insert":
        return {"rate": insert_rate(args.mode, args.n, args.dim, args.batch)}
    folder = tempfile.mkdtemp(prefix="kestrel-storage-")
    try:
        build_store(folder, args.n, args.dim, args.metric)
        out = {"reopen_first_query_s": run_fresh(["reopen", folder])["s"]}
        out.update(disk_after_compaction(folder, args.n, args.dim))
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_fresh(argv: list[str]) -> dict[str, float]:
    """reopen timing in its own process (cold Python, warm page cache)."""
    cmd = [sys.executable, __file__, "--worker", argv[0], "--folder", argv[1]]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--worker")
    ap.add_argument("--mode", default="fsync")
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--folder")
    ap.add_argument("--disk-only", action="store_true", help="skip the insert rates")
    ap.add_argument("--metric", default="COSINE", choices=["COSINE", "L2", "IP"])
    args = ap.parse_args()
    if args.worker == "reopen":
        print(json.dumps({"s": reopen_first_query(args.folder, args.dim)}))
        return
    if args.worker:
        print(json.dumps(worker(args)))
        return
    gaussian_mixture(args.n, args.dim)  # cache the data before timing
    results: dict[str, list[float]] = defaultdict(list)
    disk: list[dict[str, float]] = []
    for run in range(args.runs):
        for batch in () if args.disk_only else (10_000, 100):
            for mode in MODES:
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    "insert",
                    "--mode",
                    mode,
                    "--batch",
                    str(batch),
                    "--n",
                    str(args.n),
                    "--dim",
                    str(args.dim),
                ]
                out = json.loads(
                    subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                )
                results[f"{mode}/{batch}"].append(out["rate"])
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "disk",
            "--n",
            str(args.n),
            "--dim",
            str(args.dim),
            "--metric",
            args.metric,
        ]
        disk.append(
            json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        )
        print(f"run {run + 1} done", flush=True)
    print(f"\nmedians of {args.runs} runs; n={args.n}, dim={args.dim}, {args.metric}, HNSW M=16")
    if not args.disk_only:
        print(f"{'insert vectors/s':22} " + " ".join(f"{m:>10}" for m in MODES))
    for batch in () if args.disk_only else (10_000, 100):
        mem = statistics.median(results[f"memory/{batch}"])
        cells = [statistics.median(results[f"{m}/{batch}"]) for m in MODES]
        print(f"{f'{batch} rows per call':22} " + " ".join(f"{c:10.0f}" for c in cells))
        print(f"{'  ratio to memory':22} " + " ".join(f"{c / mem:10.2f}" for c in cells))
    print("\nafter deleting half and compact(): disk bytes / raw float32 bytes of live vectors")
    for key in sorted(disk[0]):
        if key.startswith("bytes/raw"):
            print(f"  {key[10:]:44} {statistics.median(d[key] for d in disk):6.3f}")
    reopen = statistics.median(d["reopen_first_query_s"] for d in disk)
    print(f"reopen + first query (s): {reopen:.3f}")


if __name__ == "__main__":
    main()
