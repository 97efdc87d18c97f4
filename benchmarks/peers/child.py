"""One (system, data set, phase) in its own process; writes a JSON result file.

    python -m benchmarks.peers.child --system kestrel --data DIR --workdir W \
        --phase build|reopen|hybrid --config '{...}' --out result.json

Phases:
- build: load the data, build (timed), ef sweep (batched + single-query QPS,
  recall@10), filtered search at each threshold, close, disk size, peak RSS;
- reopen: a fresh process times the library's import, then opening what
  ``build`` left in ``workdir`` and answering one query;
- hybrid: build a text + dense collection and time dense, BM25 and hybrid
  (RRF) queries, interleaved query by query.

RSS: a thread samples the RSS of this process and all its descendants (some
systems run helper processes) every 20 ms; peak RSS is the larger of that and
this process's VmHWM.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import threading
import time
import traceback

import numpy as np

from benchmarks.peers.adapters import NotSupportedError, load
from benchmarks.peers.data import K


class RssSampler:
    def __init__(self, every: float = 0.02) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        total = 0
        try:
            total = self.proc.memory_info().rss
            for child in self.proc.children(recursive=True):
                with contextlib.suppress(Exception):  # a child that just exited
                    total += child.memory_info().rss
        except Exception:
            pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())
        return max(self.peak, vm_hwm()) / 2**20


def vm_hwm() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries that over
    from the parent through fork and exec, so a child would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def mb(x: int) -> float:
    return x / 2**20


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean recall@k; truth rows may be -1 padded (fewer rows pass a filter)."""
    hits = total = 0
    for f, t in zip(found, truth, strict=False):
        valid = {int(x) for x in t if x >= 0}
        hits += len(valid & {int(x) for x in f})
        total += len(valid)
    return hits / total if total else 1.0


def single_loop(fn, n: int, budget: float, min_queries: int = 20) -> tuple[float, list, float]:
    """Run fn(i) for i = 0.. until the budget or n; (qps, results, median ms).
    Warm-up first, untimed: the first min_queries queries, or a tenth of the budget."""
    warm = time.perf_counter()
    for i in range(min(n, min_queries)):
        fn(i)
        if time.perf_counter() - warm > budget / 10:
            break
    out, times = [], []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        out.append(fn(i))
        times.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and i + 1 >= min_queries:
            break
    elapsed = time.perf_counter() - start
    return len(out) / elapsed, out, 1000 * statistics.median(times)


def disk_usage(path: str) -> tuple[int, int]:
    apparent = allocated = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def err(e: BaseException) -> str:
    if isinstance(e, NotSupportedError):
        return f"n/a: {e}"
    return f"{type(e).__name__}: {e}"


def phase_build(cls, data: str, workdir: str, cfg: dict, sampler: RssSampler) -> dict:
    base = np.load(os.path.join(data, "base.npy"))
    queries = np.load(os.path.join(data, "queries.npy"))
    attr = np.load(os.path.join(data, "attr.npy"))
    gt = np.load(os.path.join(data, "gt.npy"))
    gtf = np.load(os.path.join(data, "gt_filtered.npy"))
    with open(os.path.join(data, "meta.json")) as f:
        meta = json.load(f)
    out: dict = {"rss_data_mb": mb(sampler.now())}
    a = cls(workdir, base.shape[1])
    t = time.perf_counter()
    a.build(base, attr)
    build_s = time.perf_counter() - t
    out.update(
        build_s=build_s, build_per_s=len(base) / build_s, rss_after_build_mb=mb(sampler.now())
    )
    if getattr(a, "described", None):
        out["described_index"] = {k: str(v) for k, v in a.described.items()}

    # ef sweep
    sweep = []
    for ef in cfg["efs"] if a.efs else [None]:
        point: dict = {"ef": ef}
        a.set_ef(ef)  # untimed (Chroma reloads its index for a new ef_search)
        reps, start, found = 0, time.perf_counter(), None
        while True:
            res = a.search(queries, K, ef)
            found = res if found is None else found
            reps += 1
            if reps >= 3 or time.perf_counter() - start >= cfg["batch_min_s"]:
                break
        point["batched_qps"] = reps * len(queries) / (time.perf_counter() - start)
        point["recall"] = recall([list(r) for r in found], gt)
        qps, single, p50 = single_loop(
            lambda i, ef=ef: a.search_one(queries[i], K, ef), len(queries), cfg["single_budget_s"]
        )
        point.update(
            single_qps=qps,
            single_ms_p50=p50,
            single_n=len(single),
            single_recall=recall(single, gt[: len(single)]),
        )
        sweep.append(point)
        print(
            f"    ef={ef}: recall {point['recall']:.3f} single {qps:.0f}/s "
            f"batched {point['batched_qps']:.0f}/s",
            flush=True,
        )
        if point["recall"] >= 0.999:
            break
    out["sweep"] = sweep

    # filtered
    ef = cfg["filter_ef"] if a.efs else None
    a.set_ef(ef)
    nqf = meta["nq_filtered"]
    filtered: dict = {}
    for ti, threshold in enumerate(meta["thresholds"]):
        mask = attr < threshold
        try:
            a.prepare_filter(threshold, mask)
            qps, found, p50 = single_loop(
                lambda i, th=threshold: a.filtered_one(queries[i], K, ef, th),
                nqf,
                cfg["filter_budget_s"],
                min_queries=10,
            )
            filtered[str(threshold)] = {
                "qps": qps,
                "ms_p50": p50,
                "n": len(found),
                "recall": recall(found, gtf[ti][: len(found)]),
                "passing": int(mask.sum()),
            }
            print(
                f"    filter n < {threshold}: recall {filtered[str(threshold)]['recall']:.3f} "
                f"{qps:.0f}/s",
                flush=True,
            )
        except Exception as e:
            filtered[str(threshold)] = {"error": err(e)}
            print(f"    filter n < {threshold}: {err(e)}", flush=True)
    out["filtered"] = filtered
    out["filter_ef"] = ef

    t = time.perf_counter()
    a.close()
    out["close_s"] = time.perf_counter() - t
    out["disk_bytes"], out["disk_allocated_bytes"] = disk_usage(workdir)
    out["n"] = len(base)
    return out


def phase_reopen(cls, data: str, workdir: str, cfg: dict, sampler: RssSampler) -> dict:
    queries = np.load(os.path.join(data, "queries.npy"))
    gt = np.load(os.path.join(data, "gt.npy"))
    t = time.perf_counter()
    for m in cls.modules:
        importlib.import_module(m)
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    a = cls(workdir, queries.shape[1])
    a.reopen()
    ids = a.search_one(queries[0], K, None)
    reopen_s = time.perf_counter() - t
    return {
        "import_s": import_s,
        "reopen_first_query_s": reopen_s,
        "first_query_recall": recall([ids], gt[:1]),
    }


def phase_hybrid(cls, data: str, workdir: str, cfg: dict, sampler: RssSampler) -> dict:
    base = np.load(os.path.join(data, "base.npy"))
    queries = np.load(os.path.join(data, "queries.npy"))
    with open(os.path.join(data, "texts.json")) as f:
        texts = json.load(f)
    with open(os.path.join(data, "query_texts.json")) as f:
        qtexts = json.load(f)
    a = cls(workdir, base.shape[1])
    t = time.perf_counter()
    a.build_hybrid(base, texts)
    out: dict = {"hybrid_build_s": time.perf_counter() - t}
    routes = {
        "dense": lambda i: a.dense_one(queries[i], K),
        "bm25": lambda i: a.text_one(qtexts[i], K),
        "hybrid": lambda i: a.hybrid_one(queries[i], qtexts[i], K),
    }
    for fn in routes.values():  # warm up (first-query caches, lazy loads)
        fn(0)
    times: dict[str, list[float]] = {r: [] for r in routes}
    found: dict[str, list] = {r: [] for r in routes}
    start = time.perf_counter()
    for i in range(len(queries)):
        for name, fn in routes.items():
            t = time.perf_counter()
            found[name].append(fn(i))
            times[name].append(time.perf_counter() - t)
        if time.perf_counter() - start > cfg["hybrid_budget_s"] and i + 1 >= 20:
            break
    for name in routes:
        out[f"{name}_ms_p50"] = 1000 * statistics.median(times[name])
        out[f"{name}_ms_mean"] = 1000 * statistics.fmean(times[name])
    out["queries"] = len(times["hybrid"])
    out["hybrid_over_sum"] = out["hybrid_ms_p50"] / (out["dense_ms_p50"] + out["bm25_ms_p50"])
    out["mean_hits"] = statistics.fmean(len(f) for f in found["hybrid"])
    a.close()
    return out


PHASES = {"build": phase_build, "reopen": phase_reopen, "hybrid": phase_hybrid}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--phase", choices=list(PHASES), required=True)
    ap.add_argument("--config", default="{}")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    sampler = RssSampler()
    result: dict = {
        "system": args.system,
        "phase": args.phase,
        "pid": os.getpid(),
        "loadavg_start": os.getloadavg(),
    }
    try:
        cls = load(args.system)
        result["index"] = cls.index
        result.update(
            PHASES[args.phase](cls, args.data, args.workdir, json.loads(args.config), sampler)
        )
    except Exception as e:
        result["error"] = err(e)
        result["traceback"] = traceback.format_exc()[-3000:]
    result["peak_rss_mb"] = sampler.stop()
    result["loadavg_end"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1, default=str)


if __name__ == "__main__":
    main()
