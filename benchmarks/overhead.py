"""The engine's own cost per search: Kestrel against raw hnswlib on the same graph.

One process, one graph: Kestrel builds its collection from the seeded Gaussian
mixture (COSINE, M=16, ef_construction=200), and "raw hnswlib" is ``knn_query``
on the very hnswlib index inside Kestrel's segment, with the same ef and k, so
both return the same neighbours and only the engine's work differs. Timed in
alternating blocks (every block runs each system over the same queries, the
order rotating), so the shared machine's drift hits all of them alike:

    python benchmarks/overhead.py                       # 100k x 128, ef 64
    python benchmarks/overhead.py --n 50000 --dim 64

Systems, single-query (one query per call, ``--block`` different queries per block):
  raw       ``index.knn_query(q, k=10)`` after ``index.set_ef(ef)``, as hnswlib's users do
  fast      ``col.search(q, limit=10, search_params={"ef": ef})``: the fast path
  fast+ids  the same, then reading every hit's id (the ``Hit`` objects are made)
  fast+.ids the same, then each query's ``hits.ids`` (keys only: no ``Hit`` made)
  general   the same call with the fast path switched off (the general path)
and batched (all ``--queries`` in one call) for raw, fast, fast+.ids and general.
Reported, by wall time and by the process's CPU time: medians over the blocks of
the per-query time, the overhead (system - raw) and the QPS ratio (raw time /
system time), on the growing segment right after the inserts and on the sealed
one after ``flush()``. Raw figures go to benchmarks/out/overhead_<n>_<dim>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import OUT, gaussian_mixture, ground_truth, recall

import vectorstore as vs

K = 10
BATCH = 10_000


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def timed_blocks(
    systems: dict[str, Callable[[np.ndarray], object]],
    blocks: list[list[np.ndarray]],
) -> dict[str, dict[str, list[float]]]:
    """Per clock and system, the mean microseconds per query of each block; every
    block runs every system on the same queries, the order rotating block by block.

    Two clocks: wall time (what a caller waits) and the process's CPU time (all
    threads; unlike wall time, blind to other processes taking this shared
    machine's cores between two samples)."""
    times: dict[str, dict[str, list[float]]] = {c: {s: [] for s in systems} for c in CLOCKS}
    names = list(systems)
    for b, block in enumerate(blocks):
        n = sum(len(q) for q in block)
        for name in names[b % len(names) :] + names[: b % len(names)]:
            run = systems[name]
            w, c = time.perf_counter(), time.process_time()
            for q in block:
                run(q)
            times["wall"][name].append((time.perf_counter() - w) / n * 1e6)
            times["cpu"][name].append((time.process_time() - c) / n * 1e6)
    return times


def summarise(times: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Per clock and system: median per-query time, overhead over raw and QPS ratio
    (raw / system), each the median over the blocks of the block's own figure."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for clock, by_system in times.items():
        raw = by_system["raw"]
        out[clock] = {
            name: {
                "us_per_query": statistics.median(ts),
                "overhead_us": statistics.median(t - r for t, r in zip(ts, raw, strict=True)),
                "qps_ratio": statistics.median(r / t for t, r in zip(ts, raw, strict=True)),
            }
            for name, ts in by_system.items()
        }
    return out


def measure(col: vs.Collection, queries: np.ndarray, ef: int, args: argparse.Namespace) -> dict:
    segments = col._state.segments(None)
    assert len(segments) == 1, "one segment: the raw index is the whole collection"
    index = segments[0].indexes["vector"]._index  # the hnswlib graph Kestrel searches
    fast = col._fast
    params = {"ef": ef}
    # hnswlib searches with a beam of max(its ef, k); Kestrel leaves the index's ef at 1
    # and asks for ef results, so setting it to this ef changes none of Kestrel's searches.
    index.set_ef(ef)

    def raw(q: np.ndarray) -> object:
        return index.knn_query(q, k=K)  # at ef (set above)

    def ours(q: np.ndarray) -> object:
        fast.enabled = True
        return col.search(q, limit=K, search_params=params)

    def ours_ids(q: np.ndarray) -> object:
        fast.enabled = True
        return [[h.id for h in row] for row in col.search(q, limit=K, search_params=params)]

    def ours_dot_ids(q: np.ndarray) -> object:
        fast.enabled = True
        return [row.ids for row in col.search(q, limit=K, search_params=params)]

    def general(q: np.ndarray) -> object:
        fast.enabled = False
        try:
            return col.search(q, limit=K, search_params=params)
        finally:
            fast.enabled = True

    # Same graph, same ef: the same neighbours (ids are row numbers here).
    found = ours_ids(queries)
    assert general(queries) == ours(queries) and ours_dot_ids(queries) == found
    labels = raw(queries)[0].astype(np.int64)  # type: ignore[index]
    assert np.array_equal(np.array(found), labels)
    n = len(queries)
    single_blocks = [
        [queries[(b * args.block + i) % n][None, :] for i in range(args.block)]
        for b in range(args.blocks)
    ]
    single = timed_blocks(
        {
            "raw": raw,
            "fast": ours,
            "fast+ids": ours_ids,
            "fast+.ids": ours_dot_ids,
            "general": general,
        },
        single_blocks,
    )
    batched = timed_blocks(
        {"raw": raw, "fast": ours, "fast+.ids": ours_dot_ids, "general": general},
        [[queries]] * args.batched_rounds,
    )
    return {"single": summarise(single), "batched": summarise(batched), "labels": labels}


def report(title: str, res: dict) -> None:
    print(f"\n{title}")
    print(f"{'':18} {'us/query':>18} {'overhead us':>18} {'QPS ratio':>18}")
    print(f"{'':18} {'wall':>9}{'cpu':>9} {'wall':>9}{'cpu':>9} {'wall':>9}{'cpu':>9}")
    for mode in ("single", "batched"):
        for name in res[mode]["wall"]:
            w, c = res[mode]["wall"][name], res[mode]["cpu"][name]
            print(
                f"{mode + ' ' + name:18} {w['us_per_query']:9.1f}{c['us_per_query']:9.1f} "
                f"{w['overhead_us']:9.1f}{c['overhead_us']:9.1f} "
                f"{w['qps_ratio']:9.3f}{c['qps_ratio']:9.3f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ef", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--blocks", type=int, default=15, help="alternating blocks of single queries")
    ap.add_argument("--block", type=int, default=200, help="single queries per block")
    ap.add_argument("--batched-rounds", type=int, default=5, help="batched calls per system")
    args = ap.parse_args()
    base, queries = gaussian_mixture(args.n, args.dim, n_queries=args.queries)
    truth = ground_truth(base, queries, K, "COSINE")
    with tempfile.TemporaryDirectory(prefix="kestrel-overhead-") as path:
        db = vs.connect(path)
        col = db.create_collection("bench", dimension=args.dim, metric="COSINE")
        t = time.perf_counter()
        for s in range(0, args.n, BATCH):
            end = min(s + BATCH, args.n)
            col.insert({"id": np.arange(s, end), "vector": base[s:end]})
        build = time.perf_counter() - t
        growing = measure(col, queries, args.ef, args)
        col.flush()
        sealed = measure(col, queries, args.ef, args)
        db.close()
    rec = recall(sealed.pop("labels"), truth)
    growing.pop("labels")
    print(
        f"n={args.n} dim={args.dim} COSINE M=16 ef_construction=200 ef={args.ef} k={K}: "
        f"recall@10 {rec:.3f} (both systems: same graph, same neighbours); build {build:.1f} s; "
        f"medians of {args.blocks} blocks of {args.block} single queries and "
        f"{args.batched_rounds} batched calls of {args.queries}"
    )
    report("growing segment (right after the inserts)", growing)
    report("sealed segment (after flush)", sealed)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"overhead_{args.n}_{args.dim}.json"), "w") as f:
        json.dump({"args": vars(args), "recall": rec, "growing": growing, "sealed": sealed}, f)


if __name__ == "__main__":
    main()
