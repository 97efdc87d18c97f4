"""Resident memory and disk of IVF_SQ8 / IVF_FLAT against HNSW at scale.

    python benchmarks/ivf_memory.py                       # 1M x 128 GMM
    python benchmarks/ivf_memory.py --rows 200000 --types IVF_SQ8,HNSW

For each index type, two fresh processes: one builds a disk store (inserts in
50k-row batches, ``flush``: sealing trains / builds the index) and reports its
build time and peak RSS; one opens the store, runs 300 single queries and
reports its RSS above the interpreter's baseline (what a service holding the
collection keeps resident), split into anonymous memory and pages of memory-mapped
files (which the kernel may drop), with recall@10 against exact search. Disk is the
store's size over the raw float32 vectors (``rows x dim x 4``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import gaussian_mixture, ground_truth, recall

import vectorstore as vs

K = 10
PARAMS = {"HNSW": {}, "IVF_FLAT": {"nlist": 1024}, "IVF_SQ8": {"nlist": 1024}}


def rss_mb(kind: str = "VmRSS") -> float:
    """Resident MB: all (VmRSS), anonymous (RssAnon: heap, indexes) or file-backed
    (RssFile: pages of memory-mapped files, which the kernel can drop and re-read)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(kind + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(folder: str, kind: str, rows: int, dim: int) -> dict:
    base, _ = gaussian_mixture(rows, dim, n_queries=300)
    t = time.perf_counter()
    db = vs.connect(folder)
    col = db.create_collection(
        "c", dimension=dim, indexes=[vs.Index("vector", kind, "COSINE", **PARAMS[kind])]
    )
    for start in range(0, rows, 50_000):
        chunk = base[start : start + 50_000]
        col.insert([{"id": start + i, "vector": v} for i, v in enumerate(chunk.tolist())])
    col.flush()
    db.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"build_s": time.perf_counter() - t, "peak_rss_mb": peak}


def serve(folder: str, kind: str, rows: int, dim: int) -> dict:
    base, queries = gaussian_mixture(rows, dim, n_queries=300)
    truth = ground_truth(base, queries, K, "COSINE")
    del base
    baseline = rss_mb()
    anon, file = rss_mb("RssAnon"), rss_mb("RssFile")
    t = time.perf_counter()
    db = vs.connect(folder, read_only=True)
    col = db.get_collection("c")
    col.search(queries[:1], limit=K)
    opened = time.perf_counter() - t
    sp = {"nprobe": 16} if kind.startswith("IVF") else {"ef": 64}
    found = np.array(
        [[h.id for h in col.search(q[None], limit=K, search_params=sp)[0]] for q in queries]
    )
    return {
        "open_s": opened,
        "steady_rss_mb": rss_mb() - baseline,
        "anon_mb": rss_mb("RssAnon") - anon,
        "file_mb": rss_mb("RssFile") - file,
        "recall": recall(found, truth),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--types", default="IVF_SQ8,IVF_FLAT,HNSW")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "FOLDER"), help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, folder = args.child
        fn = build if mode == "build" else serve
        print(json.dumps(fn(folder, args.kind, args.rows, args.dim)))
        return
    gaussian_mixture(args.rows, args.dim, n_queries=300)  # generated once, cached
    raw_mb = args.rows * args.dim * 4 / 2**20
    print(f"{args.rows:,} x {args.dim} GMM, COSINE; raw vectors {raw_mb:.0f} MB")
    results = {}
    for kind in args.types.split(","):
        folder = tempfile.mkdtemp(prefix="kestrel-ivfmem-")
        try:
            out: dict = {}
            for mode in ("build", "serve"):
                cmd = [sys.executable, __file__, "--child", mode, folder, "--kind", kind]
                cmd += ["--rows", str(args.rows), "--dim", str(args.dim)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                out.update(json.loads(done.stdout.strip().splitlines()[-1]))
            disk = sum(
                os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs
            )
            out["disk_x_raw"] = disk / 2**20 / raw_mb
            results[kind] = out
            print(
                f"{kind:9} build {out['build_s']:6.1f} s, peak RSS {out['peak_rss_mb']:7.0f} MB, "
                f"open {out['open_s']:5.2f} s, steady RSS {out['steady_rss_mb']:7.0f} MB "
                f"(anon {out['anon_mb']:.0f}, mapped files {out['file_mb']:.0f}), "
                f"recall@10 {out['recall']:.3f}, disk {out['disk_x_raw']:.2f}x raw",
                flush=True,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if "HNSW" in results:
        for kind, out in results.items():
            if kind != "HNSW":
                hnsw = results["HNSW"]
                ratio = out["steady_rss_mb"] / hnsw["steady_rss_mb"]
                anon = out["anon_mb"] / hnsw["anon_mb"]
                print(f"{kind} / HNSW: steady RSS {ratio:.2f}x, anonymous {anon:.2f}x")


if __name__ == "__main__":
    main()
