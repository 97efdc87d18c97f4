"""Scalar indexes: first-time (uncached) filtered search with and without one.

    python benchmarks/scalar_index.py                    # 1M rows
    python benchmarks/scalar_index.py --rows 200000 --runs 3

One disk store, one collection: ``user`` (VARCHAR, 10,000 distinct values, 0.01 %
of the rows each), ``ts`` (INT64, distinct), 8-dim vectors (FLAT: the filter is
what is measured). Every query uses a filter value not used before, so no
selection is cached: each pays the whole filter. The same queries run by scan,
then after ``create_index`` (INVERTED on ``user``, STL_SORT on ``ts``), and
after a reopen. Figures are medians over the queries, and of ``--runs`` passes
(the machine is shared and noisy); build and reopen times are single.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np

import vectorstore as vs
from vectorstore import DataType

USERS = 10_000
DIM = 8


def filters(kind: str, rng: np.random.Generator, n: int, rows: int) -> list[str]:
    """``n`` filters of one kind, each with values not used by another."""
    users = rng.permutation(USERS)[: 5 * n].tolist()
    if kind == "user ==":
        return [f'user == "u{u:05d}"' for u in users[:n]]
    if kind == "user in (5)":
        return [
            "user in [" + ", ".join(f'"u{u:05d}"' for u in users[5 * i : 5 * i + 5]) + "]"
            for i in range(n)
        ]
    if kind == "user like prefix":  # "u0123%": 10 users, 0.1 %
        return [f'user like "u{p:04d}%"' for p in rng.permutation(USERS // 10)[:n].tolist()]
    if kind == "ts range 0.1%":
        width = rows // 1000
        return [f"{s} <= ts < {s + width}" for s in rng.integers(0, rows - width, n).tolist()]
    raise ValueError(kind)


KINDS = ("user ==", "user in (5)", "user like prefix", "ts range 0.1%")


def median_ms(col: vs.Collection, texts: list[str], query: list[float]) -> float:
    times = []
    for text in texts:
        t0 = time.perf_counter()
        col.search([query], limit=10, filter=text)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def measure(
    label: str, col: vs.Collection, runs: int, queries: int, rows: int, seed: int
) -> dict[str, float]:
    out = {}
    for kind in KINDS:
        per_run = []
        for r in range(runs):
            rng = np.random.default_rng(seed * 1000 + r)
            per_run.append(median_ms(col, filters(kind, rng, queries, rows), [1.0] * DIM))
        out[kind] = statistics.median(per_run)
        print(f"  {label:<18} {kind:<18} {out[kind]:8.3f} ms", flush=True)
    return out


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--queries", type=int, default=50, help="filters per kind and run")
    args = ap.parse_args()
    n = args.rows
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    users = rng.integers(0, USERS, n)
    ts = rng.permutation(n)
    folder = tempfile.mkdtemp(prefix="kestrel-scalar-")
    try:
        db = vs.connect(folder)
        schema = vs.Schema(
            [
                vs.Field("id", DataType.INT64, is_primary=True),
                vs.Field("vector", DataType.FLOAT_VECTOR, dim=DIM),
                vs.Field("user", DataType.VARCHAR, max_length=8),
                vs.Field("ts", DataType.INT64),
            ]
        )
        col = db.create_collection(
            "events", schema=schema, indexes=[vs.Index("vector", "FLAT", "L2")]
        )
        t0 = time.perf_counter()
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            col.insert(
                [
                    {
                        "id": i,
                        "vector": vectors[i].tolist(),
                        "user": f"u{users[i]:05d}",
                        "ts": ts[i],
                    }
                    for i in range(start, stop)
                ]
            )
        col.flush()
        print(f"{n:,} rows inserted and sealed in {time.perf_counter() - t0:.1f} s")
        scan = measure("scan", col, args.runs, args.queries, n, 1)
        build_user = timed(lambda: col.create_index("user", "INVERTED"))
        build_ts = timed(lambda: col.create_index("ts", "STL_SORT"))
        print(f"  create_index: user (INVERTED) {build_user:.2f} s, ts (STL_SORT) {build_ts:.2f} s")
        indexed = measure("indexed", col, args.runs, args.queries, n, 2)
        col.flush()
        db.close()
        t0 = time.perf_counter()
        db = vs.connect(folder)
        col = db.get_collection("events")
        col.count()
        reopen = time.perf_counter() - t0
        reopened = measure("indexed, reopened", col, args.runs, args.queries, n, 3)
        db.close()
        print(f"  reopen + count: {reopen:.2f} s")
        print("\n| filter (first time) | scan ms | indexed ms | reopened ms | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for kind in KINDS:
            print(
                f"| {kind} | {scan[kind]:.2f} | {indexed[kind]:.3f} | {reopened[kind]:.3f} | "
                f"{scan[kind] / indexed[kind]:.0f}x |"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
