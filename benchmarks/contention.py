"""Search latency while other processes keep every core busy.

A library that hands even a one-query search to a pool of threads (OpenBLAS,
faiss's OpenMP) makes that search wait until its helper threads are scheduled;
on a machine with more runnable threads than cores (a shared host, a container's
CPU quota, a server's worker processes) that wait is a scheduler time slice or
more, on every query. This measures each search Kestrel runs on a library's
threads against the same library called as its users call it, with ``--busy``
CPU-bound processes running throughout (by default one per core), so any such
wait shows in the tail:

    python benchmarks/contention.py              # one busy process per core
    python benchmarks/contention.py --busy 0     # the same on an idle machine

Workloads (100k x 128 Gaussian mixture, COSINE, single queries, k 10):
  hnsw     Kestrel's ``col.search`` (ef 64)  | hnswlib's ``knn_query`` on the same graph
  exact    ``col.search`` with a filter passing 10 % of the rows (exact search over
           the cached rows: one matrix product, OpenBLAS on one thread)
           | numpy's product over the same normalised rows (OpenBLAS's own threads)
  ivf      ``col.search`` on IVF_FLAT, nprobe 16  | faiss's ``search`` on the same
           index with its default OpenMP threads, and on one thread

Per system: the median, 99th percentile and largest latency in microseconds over
``--queries`` queries, and the share of queries over 1 ms, run in blocks that
alternate the systems (the machine's drift hits all of them alike). A search that
waits for a pool's threads shows at the median; a query that the scheduler takes
the core from shows in the tail whatever library it runs (each process here gets
a share of the cores, in time slices of a few milliseconds), and the longer a
search, the likelier that is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import gaussian_mixture

import vectorstore as vs

K = 10
BLOCK = 50


def latencies(
    systems: dict[str, Callable[[np.ndarray], object]], queries: np.ndarray
) -> dict[str, np.ndarray]:
    """Each system's per-query latency (us), blocks of ``BLOCK`` queries alternating."""
    found: dict[str, list[float]] = {name: [] for name in systems}
    for fn in systems.values():
        fn(queries[:1])  # warm up
    names = list(systems)
    for b, lo in enumerate(range(0, len(queries), BLOCK)):
        for name in names[b % len(names) :] + names[: b % len(names)]:
            fn, out = systems[name], found[name]
            for i in range(lo, min(lo + BLOCK, len(queries))):
                q = queries[i : i + 1]
                t = time.perf_counter()
                fn(q)
                out.append((time.perf_counter() - t) * 1e6)
    return {name: np.array(v) for name, v in found.items()}


def workloads(n: int, queries: np.ndarray) -> dict[str, dict[str, Callable[[np.ndarray], object]]]:
    import faiss

    base, _ = gaussian_mixture(n, 128)
    tags = np.random.default_rng(7).integers(0, 1000, n)
    ids = np.arange(n)
    db = vs.connect(":memory:")

    hnsw = db.create_collection("hnsw", dimension=128, metric="COSINE")
    hnsw.insert({"id": ids, "vector": base, "n": tags})
    hnsw.flush()
    hnsw.search(queries[:1], limit=K)  # (the graph is built)
    graph = hnsw._state.partitions["_default"][0].indexes["vector"]._index
    graph.set_ef(64)  # (raw hnswlib's ef; Kestrel asks for its own per search)
    ef = {"ef": 64}

    passing = tags < 100  # 10 %
    rows = base[passing] / np.linalg.norm(base[passing], axis=1, keepdims=True)

    ivf = db.create_collection(
        "ivf", dimension=128, indexes=[vs.Index("vector", "IVF_FLAT", "COSINE", nlist=1024)]
    )
    ivf.insert({"id": ids, "vector": base})
    ivf.flush()
    index = ivf._state.partitions["_default"][0].indexes["vector"]._index
    probe = faiss.SearchParametersIVF(nprobe=16)
    threads = faiss.omp_get_max_threads()

    def faiss_threads(count: int) -> Callable[[np.ndarray], object]:
        def run(q: np.ndarray) -> object:
            faiss.omp_set_num_threads(count)
            try:
                return index.search(q / np.linalg.norm(q), K, params=probe)
            finally:
                faiss.omp_set_num_threads(threads)

        return run

    return {
        "hnsw": {
            "kestrel": lambda q: hnsw.search(q, limit=K, search_params=ef),
            "hnswlib": lambda q: graph.knn_query(q, k=K),
        },
        "exact 10%": {
            "kestrel": lambda q: hnsw.search(q, limit=K, filter="n < 100", search_params=ef),
            "numpy": lambda q: np.argpartition(-(rows @ (q[0] / np.linalg.norm(q))), K)[:K],
        },
        "ivf": {
            "kestrel": lambda q: ivf.search(q, limit=K, search_params={"nprobe": 16}),
            f"faiss {threads} threads": faiss_threads(threads),
            "faiss 1 thread": faiss_threads(1),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000, help="at most 1000")
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="busy processes")
    args = ap.parse_args()
    _, queries = gaussian_mixture(args.n, 128)
    loads = workloads(args.n, queries[: args.queries])
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        time.sleep(0.5 if busy else 0)
        print(f"{args.n} x 128, {args.queries} single queries, {args.busy} busy processes")
        print(
            f"{'workload':10s} {'system':16s} {'p50 us':>9s} {'p99 us':>9s} {'max us':>9s}"
            f" {'> 1 ms':>7s}"
        )
        for load, systems in loads.items():
            for name, lat in latencies(systems, queries[: args.queries]).items():
                p50, p99 = np.percentile(lat, [50, 99])
                slow = (lat > 1000).mean()
                print(
                    f"{load:10s} {name:16s} {p50:9.0f} {p99:9.0f} {lat.max():9.0f} {slow:7.1%}",
                    flush=True,
                )
    finally:
        for p in busy:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
