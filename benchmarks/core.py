"""Core engine vs raw hnswlib: insert rate, QPS at equal recall, memory.

One command runs both systems, each repetition in a fresh process (so RSS is
its own), on the same seeded 100k x 128 Gaussian mixture (COSINE), with the
same M=16, ef_construction=200, and prints medians and ratios:

    python benchmarks/core.py                # 3 repetitions, writes benchmarks/out/core.json
    python benchmarks/core.py --runs 5 --n 100000

For each system: insert vectors/s; recall@10 over an ef sweep; at the smallest
ef whose recall@10 >= 0.95, single-query QPS (one query per call) and batched
QPS (1000 queries per call); RSS after the inserts. Also, inside Kestrel's process,
single-query time against raw knn_query on the same graph, in alternating blocks
(the engine's own overhead without cross-process noise). Kestrel is measured twice:
right after the inserts (growing segment, what a user sees) and after flush()
(sealed, columns memory-mapped).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import OUT, gaussian_mixture, ground_truth, recall

EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]
K = 10
BATCH = 10_000
TARGET = 0.95


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sweep(search, ids, queries: np.ndarray, truth: np.ndarray) -> tuple[dict[int, float], int]:
    """recall per ef, and the smallest ef reaching TARGET (max ef if none)."""
    recalls = {}
    chosen = EFS[-1]
    for ef in EFS:
        r = recall(ids(search(queries, ef)), truth)
        recalls[ef] = r
        if r >= TARGET:
            chosen = ef
            break
    return recalls, chosen


def qps(search, queries: np.ndarray, ef: int) -> tuple[float, float]:
    n_single = min(len(queries), 1000)
    t = time.perf_counter()
    for i in range(n_single):
        search(queries[i : i + 1], ef)
    single = n_single / (time.perf_counter() - t)
    reps = 3
    t = time.perf_counter()
    for _ in range(reps):
        search(queries, ef)
    batched = reps * len(queries) / (time.perf_counter() - t)
    return single, batched


def same_graph_ratio(col, queries: np.ndarray, ef: int, blocks: int = 20, size: int = 100) -> float:
    """Single-query QPS of col.search over raw knn_query on the very same hnswlib graph,
    timed in alternating blocks in one process: the engine's own cost, free of the
    cross-process noise that separate runs carry. Median of the per-block ratios."""
    index = col._state.partitions["_default"][0].indexes["vector"]._index
    params = {"ef": ef}
    ratios = []
    for b in range(blocks):
        qs = [queries[(b * size + i) % len(queries)][None, :] for i in range(size)]
        index.set_ef(ef)
        t = time.perf_counter()
        for q in qs:
            index.knn_query(q, k=K)
        raw = time.perf_counter() - t
        t = time.perf_counter()
        for q in qs:
            col.search(q, limit=K, search_params=params)
        ours = time.perf_counter() - t
        ratios.append(raw / ours)
    index.set_ef(1)  # where Kestrel keeps it: its searches ask for ef results instead
    return statistics.median(ratios)


def worker(system: str, n: int, dim: int) -> dict:
    base, queries = gaussian_mixture(n, dim)
    truth = ground_truth(base, queries, K, "COSINE")
    baseline = rss_mb()
    out: dict = {"system": system, "rss_baseline_mb": baseline}
    if system == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
        t = time.perf_counter()
        for s in range(0, n, BATCH):
            index.add_items(base[s : s + BATCH], np.arange(s, min(s + BATCH, n)))
        out["insert_per_s"] = n / (time.perf_counter() - t)
        out["rss_after_insert_mb"] = rss_mb()

        def search(q: np.ndarray, ef: int) -> np.ndarray:
            index.set_ef(max(ef, K))
            return index.knn_query(q, k=K)[0]

        out["recalls"], ef = sweep(search, np.asarray, queries, truth)
        out["ef"] = ef
        out["single_qps"], out["batched_qps"] = qps(search, queries, ef)
    else:
        import vectorstore as vs

        path = tempfile.mkdtemp(prefix="kestrel-bench-")
        db = vs.connect(path)
        col = db.create_collection("bench", dimension=dim, metric="COSINE")
        t = time.perf_counter()
        for s in range(0, n, BATCH):  # rows built per batch, as a user streams them
            col.insert([{"id": i, "vector": base[i]} for i in range(s, min(s + BATCH, n))])
        out["insert_per_s"] = n / (time.perf_counter() - t)
        out["rss_after_insert_mb"] = rss_mb()

        def search(q: np.ndarray, ef: int) -> list[list[vs.Hit]]:
            return col.search(q, limit=K, search_params={"ef": ef})

        def ids(hits: list[list[vs.Hit]]) -> np.ndarray:
            return np.array([[h.id for h in row] for row in hits])

        out["recalls"], ef = sweep(search, ids, queries, truth)
        out["ef"] = ef
        out["single_qps"], out["batched_qps"] = qps(search, queries, ef)
        out["same_graph_single_ratio"] = same_graph_ratio(col, queries, ef)
        t = time.perf_counter()
        col.flush()
        out["flush_s"] = time.perf_counter() - t
        out["rss_after_flush_mb"] = rss_mb()
        out["single_qps_flushed"], out["batched_qps_flushed"] = qps(search, queries, ef)
        db.close()
        t = time.perf_counter()
        db = vs.connect(path)
        col = db.get_collection("bench")
        col.search(queries[:1], limit=K)
        out["reopen_first_query_s"] = time.perf_counter() - t
        db.close()
    out["peak_rss_mb"] = peak_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--worker", choices=["kestrel", "hnswlib"])
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.dim)))
        return
    base, queries = gaussian_mixture(args.n, args.dim)
    ground_truth(base, queries, K, "COSINE")  # cache before timing anything
    results: dict[str, list[dict]] = {"kestrel": [], "hnswlib": []}
    for run in range(args.runs):
        for system in ("hnswlib", "kestrel"):  # interleaved: noise hits both alike
            cmd = [
                sys.executable,
                __file__,
                "--worker",
                system,
                "--n",
                str(args.n),
                "--dim",
                str(args.dim),
            ]
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            results[system].append(res)
            print(
                f"run {run + 1} {system}: "
                + ", ".join(f"{k}={v:.4g}" for k, v in res.items() if isinstance(v, float)),
                flush=True,
            )
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "core.json"), "w") as f:
        json.dump(results, f, indent=1)
    med = {
        s: {
            k: statistics.median(r[k] for r in rs)
            for k in rs[0]
            if isinstance(rs[0][k], (int, float))
        }
        for s, rs in results.items()
    }
    k_, h = med["kestrel"], med["hnswlib"]
    print(
        f"\nmedians of {args.runs} runs, n={args.n}, dim={args.dim}, COSINE, "
        "M=16, ef_construction=200"
    )
    print(f"{'figure':34} {'kestrel':>12} {'hnswlib':>12} {'ratio':>7}")
    rows = [
        ("insert vectors/s", "insert_per_s", "insert_per_s"),
        ("ef at recall@10 >= 0.95", "ef", "ef"),
        ("single-query QPS", "single_qps", "single_qps"),
        ("batched QPS (1000/call)", "batched_qps", "batched_qps"),
        ("single-query QPS after flush", "single_qps_flushed", "single_qps"),
        ("batched QPS after flush", "batched_qps_flushed", "batched_qps"),
        ("RSS after inserts (MB)", "rss_after_insert_mb", "rss_after_insert_mb"),
        ("RSS after flush (MB)", "rss_after_flush_mb", "rss_after_insert_mb"),
        ("peak RSS (MB)", "peak_rss_mb", "peak_rss_mb"),
    ]
    for label, a, b in rows:
        print(f"{label:34} {k_[a]:12.1f} {h[b]:12.1f} {k_[a] / h[b]:7.2f}")
    print(
        f"{'single-query, same process + graph':34} {'':12} {'':12} "
        f"{k_['same_graph_single_ratio']:7.2f}"
    )
    print(f"{'reopen + first query (s)':34} {k_['reopen_first_query_s']:12.3f}")
    print(f"{'flush (s)':34} {k_['flush_s']:12.3f}")


if __name__ == "__main__":
    main()
