"""Columnar inserts into a path store, with and without numpy's huge-page advice.

    python benchmarks/log_writes.py                    # 10 x 50k x 128, 3 runs per setting
    python benchmarks/log_writes.py --runs 5 --batches 4

Each run is a fresh process: it makes a path store (durability "fsync", the default),
inserts ``--batches`` columnar batches of ``--rows`` x 128 seeded Gaussian-mixture
vectors (``insert({"id": ..., "vector": ..., "n": ...})``) and reports the time of
each call: validation, the write-ahead log's append and fsync, the growing segment's
spill file. The HNSW graph is built at the seal, which is not timed (the process
exits without closing the store). The two settings alternate run by run:

- ``default``: numpy's own choice (on Linux it advises arrays of 4 MB and more for
  transparent huge pages);
- ``no-hugepage``: ``NUMPY_MADVISE_HUGEPAGE=0`` in the child's environment.

On a kernel that compacts memory for such pages (THP ``defrag = madvise``), every
file write of a process holding them can slow down; see benchmarks/RESULTS.md.
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

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = {"default": {}, "no-hugepage": {"NUMPY_MADVISE_HUGEPAGE": "0"}}


def child(rows: int, batches: int) -> None:
    """One run: the insert calls' times, as JSON on stdout."""
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.dirname(HERE))
    import numpy as np
    from datasets import gaussian_mixture

    import vectorstore as vs

    base, _ = gaussian_mixture(rows * batches, 128, n_queries=10)
    path = tempfile.mkdtemp(prefix="kestrel-log-writes-")
    db = vs.connect(path)
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=128),
            vs.Field("n", vs.DataType.INT64),
        ]
    )
    col = db.create_collection("c", schema=schema, metric="COSINE")
    times = []
    for s in range(0, rows * batches, rows):
        ids = np.arange(s, s + rows)
        t = time.perf_counter()
        col.insert({"id": ids, "vector": base[s : s + rows], "n": ids % 1000})
        times.append(time.perf_counter() - t)
    shutil.rmtree(path)
    print(json.dumps(times), flush=True)
    os._exit(0)  # no close: it would seal the segment and build its graph


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=50_000, help="rows per insert call")
    ap.add_argument("--batches", type=int, default=10, help="insert calls per run")
    ap.add_argument("--runs", type=int, default=3, help="runs per setting")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.rows, args.batches)
        return
    cmd = [sys.executable, os.path.abspath(__file__), "--child"]
    cmd += ["--rows", str(args.rows), "--batches", str(args.batches)]
    totals: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for run in range(args.runs):
        for name, extra in SETTINGS.items():
            env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
            out = subprocess.run(cmd, env={**env, **extra}, check=True, capture_output=True)
            times = json.loads(out.stdout.decode().strip().splitlines()[-1])
            totals[name].append(sum(times))
            print(
                f"run {run + 1} {name:12} total {sum(times):.2f} s, "
                f"median call {statistics.median(times):.3f} s, slowest {max(times):.3f} s"
            )
    print(f"{args.batches} inserts of {args.rows} x 128 rows, total s per run:")
    for name, values in totals.items():
        shown = " / ".join(f"{v:.2f}" for v in values)
        print(f"  {name:12} {shown} (median {statistics.median(values):.2f})")


if __name__ == "__main__":
    main()
