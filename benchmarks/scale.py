"""1M rows: Kestrel against raw hnswlib, build to reopen, in one command (issue 19).

    python benchmarks/scale.py                          # 1M x 128, one run, ~20-30 min here
    python benchmarks/scale.py --n 20000 --queries 50   # a quick check of the script

Data: the seeded Gaussian mixture (``datasets.gaussian_mixture``, COSINE) plus an
int64 field ``n`` uniform in 0..999; HNSW M=16, ef_construction=200 on both sides.
Each system runs in its own fresh process (so its RSS is its own), the systems
alternating run by run; the parent computes every ground truth first (cached under
benchmarks/out/, so no worker pays for it in time or memory), collects each worker's
JSON and prints a markdown table, with the raw figures in benchmarks/out/scale.json.

- hnswlib: ``add_items`` in batches of 100,000 (all threads), then ``save_index`` and
  ``np.save`` of the raw vectors (hnswlib keeps COSINE vectors normalised, so a user who
  wants the inserted vectors back must keep them beside the index).
- Kestrel: a path store with the default durability, an explicit schema (id, vector,
  n INT64) and its default HNSW index; ``insert`` of column batches (a dict of numpy
  arrays, 100,000 rows per call), then ``flush()`` (the graph build, the seal and the
  segment files).
- Both then drop the caller's copy of the vectors (as a user would once the store
  holds them), sweep ef over single queries (one vector per call) and one batched call
  with all queries, recall@10 against exact search; filtered single queries
  ``n < 1 / 10 / 100 / 500`` (0.1 / 1 / 10 / 50 %) at the ef each system needed for
  0.95: Kestrel's ``filter=`` against hnswlib's ``filter=`` with a Python callback. The
  callback runs once per visited node, so at 0.1 % and 1 % hnswlib answers only a few
  queries (``CALLBACK_CAP``): it walks most of the graph per query there.
- Reopen, in another fresh process: ``vs.connect`` + ``get_collection`` + the first
  search, against ``load_index`` + the vectors' ``.npy`` (memory-mapped) + the first
  ``knn_query``. Disk: the store directory after close, by file kind, against the
  index file + the ``.npy``.
- Rows of dicts: 1M dicts take minutes of Python alone, so that figure comes from
  a 100,000-row slice (dicts built in the timed loop, 10,000 per call, then flush),
  against hnswlib ``add_items`` on the same slice, each in its own process.

RSS: the process's resident set (/proc/self/status) at each phase, and its peak
(VmHWM) over build + search + filter + close; both processes hold the data
set (n x dim float32) until the build is done.
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
import zlib
from collections import defaultdict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import OUT, gaussian_mixture, ground_truth, recall
from storage import _kind as file_kind

K = 10
BATCH = 100_000
SLICE = 100_000
ROW_BATCH = 10_000
BATCHED_REPS = 3
TARGET = 0.95
THRESHOLDS = (1, 10, 100, 500)  # n < T passes T/1000 of the rows
CALLBACK_CAP = {1: 5, 10: 20}  # hnswlib filter-callback queries at 0.1 % and 1 %
M, EF_CONSTRUCTION = 16, 200


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb(key: str = "VmRSS") -> float:
    """Resident MB: all of it (VmRSS), or its anonymous (RssAnon) or file-backed
    (RssFile: memory-mapped files) part."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Peak RSS of this process image: VmHWM, not ru_maxrss, which Linux carries over
    from the parent across fork + exec (the parent's data preparation would show)."""
    return rss_mb("VmHWM")


class Phases:
    """RSS (all, anonymous) and peak RSS after each named phase, and when it ended."""

    def __init__(self) -> None:
        self.rss: dict[str, float] = {}
        self.anon: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.at: dict[str, float] = {}
        self._t0 = time.perf_counter()
        self.mark("start")

    def mark(self, name: str) -> None:
        self.rss[name], self.anon[name], self.peak[name] = rss_mb(), rss_mb("RssAnon"), peak_mb()
        self.at[name] = time.perf_counter() - self._t0
        rss, anon, peak = self.rss[name], self.anon[name], self.peak[name]
        log(f"{name}: RSS {rss:.0f} MB (anonymous {anon:.0f}), peak {peak:.0f} MB")

    def report(self, out: dict) -> dict:
        out["rss"], out["anon"], out["peak"], out["at"] = self.rss, self.anon, self.peak, self.at
        return out


def field_values(n: int) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 1000, n).astype(np.int64)


def data(n: int, dim: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    base, qs = gaussian_mixture(n, dim, n_queries=max(1000, queries))
    return base, qs[:queries]


def truth_path(n: int, dim: int, queries: int) -> str:
    return os.path.join(OUT, f"scale_truth_{n}_{dim}_{queries}.npz")


def filtered_truth(base: np.ndarray, queries: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Exact COSINE top-K among the rows that pass ``mask``: each block of rows gives
    its own top-K, and the best K of those candidates win."""
    rows = np.flatnonzero(mask)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores, ids = [], []
    for s in range(0, len(rows), 100_000):
        block = rows[s : s + 100_000]
        sim = q @ (base[block] / np.linalg.norm(base[block], axis=1, keepdims=True)).T
        part = np.argpartition(-sim, min(K, len(block)) - 1, axis=1)[:, :K]
        scores.append(np.take_along_axis(sim, part, axis=1))
        ids.append(block[part])
    order = np.argsort(-np.concatenate(scores, axis=1), axis=1)[:, :K]
    return np.take_along_axis(np.concatenate(ids, axis=1), order, axis=1)


def prepare(n: int, dim: int, queries: int) -> None:
    """Data and every ground truth, cached, before any worker is timed."""
    path = truth_path(n, dim, queries)
    base, qs = data(n, dim, queries)
    if os.path.exists(path):
        with np.load(path) as f:
            if zlib.crc32(f["plain"].tobytes()) == int(f["crc"]):
                return
    truths = {"plain": ground_truth(base, qs, K, "COSINE")}
    field = field_values(n)
    for t in THRESHOLDS:
        truths[f"lt{t}"] = filtered_truth(base, qs, field < t)
    np.savez(path, crc=zlib.crc32(truths["plain"].tobytes()), **truths)


def load_truths(n: int, dim: int, queries: int) -> dict[str, np.ndarray]:
    with np.load(truth_path(n, dim, queries)) as f:
        return {k: f[k] for k in f.files}


def padded(found: list[np.ndarray]) -> np.ndarray:
    arr = np.full((len(found), K), -1, dtype=np.int64)
    for i, f in enumerate(found):
        arr[i, : len(f)] = f[:K]
    return arr


def sweep(single, batched, queries: np.ndarray, truth: np.ndarray, efs: list[int]) -> dict:
    """Per ef: recall@10 and QPS of single queries (wall and CPU) and of one batched
    call with every query (best of BATCHED_REPS, wall). ``single`` / ``batched`` return
    ids as numpy; only the search calls themselves are timed."""
    out: dict = {}
    for ef in efs:
        single(queries[:1], ef)  # warm: first-touch costs belong to reopen, not QPS
        raw = []
        t, c = time.perf_counter(), time.process_time()
        for i in range(len(queries)):
            raw.append(single(queries[i : i + 1], ef, timed=True))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        found = padded([single.ids(r)[0] for r in raw])
        best = float("inf")
        for _ in range(BATCHED_REPS):
            t = time.perf_counter()
            res = batched(queries, ef, timed=True)
            best = min(best, time.perf_counter() - t)
        out[str(ef)] = {
            "recall": recall(found, truth),
            "recall_batched": recall(padded(list(batched.ids(res))), truth),
            "single_qps": len(queries) / wall,
            "single_cpu_us": 1e6 * cpu / len(queries),
            "batched_qps": len(queries) / best,
        }
        log(f"ef {ef}: " + ", ".join(f"{k} {v:.4g}" for k, v in out[str(ef)].items()))
    return out


def chosen_ef(sweep_out: dict) -> int:
    """The smallest ef reaching TARGET (the largest swept if none does)."""
    efs = sorted(int(e) for e in sweep_out)
    return next((e for e in efs if sweep_out[str(e)]["recall"] >= TARGET), efs[-1])


def filtered(search_one, queries: np.ndarray, truths: dict, cap: dict[int, int]) -> dict:
    out = {}
    for t in THRESHOLDS:
        count = min(len(queries), cap.get(t, len(queries)))
        search_one(queries[:1], t)
        found = []
        start = time.perf_counter()
        for i in range(count):
            found.append(search_one(queries[i : i + 1], t))
        wall = time.perf_counter() - start
        rec = recall(padded(found), truths[f"lt{t}"][:count])
        out[str(t)] = {"recall": rec, "qps": count / wall, "queries": count}
        log(f"filter n < {t}: recall {rec:.3f}, {count / wall:.0f} qps over {count} queries")
    return out


class Searcher:
    """A search callable with an ``ids`` method turning its result into id rows."""

    def __init__(self, fn, ids) -> None:
        self.fn, self.ids = fn, ids

    def __call__(self, q: np.ndarray, ef: int, timed: bool = False):
        return self.fn(q, ef) if timed else self.ids(self.fn(q, ef))


def dir_bytes(folder: str) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for root, _, files in os.walk(folder):
        for name in files:
            sizes[file_kind(name)] += os.path.getsize(os.path.join(root, name))
    return dict(sizes)


def hnswlib_worker(n: int, dim: int, queries: int, efs: list[int], folder: str) -> dict:
    import hnswlib

    ph = Phases()
    base, qs = data(n, dim, queries)
    truths = load_truths(n, dim, queries)
    ph.mark("data loaded")
    out: dict = {"system": "hnswlib"}
    index = hnswlib.Index(space="cosine", dim=dim)
    index.init_index(max_elements=n, M=M, ef_construction=EF_CONSTRUCTION, random_seed=100)
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, n, BATCH):
        index.add_items(base[s : s + BATCH], np.arange(s, min(s + BATCH, n)), num_threads=-1)
    out["insert_s"], out["insert_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    ph.mark("inserted")
    t = time.perf_counter()
    index.save_index(os.path.join(folder, "index.bin"))
    np.save(os.path.join(folder, "vectors.npy"), base)
    out["save_s"] = time.perf_counter() - t
    out["build_s"] = out["insert_s"] + out["save_s"]
    ph.mark("built")
    del base
    gc.collect()
    ph.mark("steady")

    def knn(q: np.ndarray, ef: int) -> np.ndarray:
        index.set_ef(max(ef, K))
        return index.knn_query(q, k=K)[0]

    out["sweep"] = sweep(
        Searcher(knn, np.asarray), Searcher(knn, np.asarray), qs, truths["plain"], efs
    )
    ph.mark("searched")
    ef = out["ef"] = chosen_ef(out["sweep"])
    field = field_values(n)

    def with_callback(q: np.ndarray, t: int) -> np.ndarray:
        index.set_ef(ef)
        try:
            return index.knn_query(q, k=K, filter=lambda label: bool(field[label] < t))[0][0]
        except RuntimeError:  # fewer than K found
            return np.array([], dtype=np.int64)

    out["filtered"] = filtered(with_callback, qs, truths, CALLBACK_CAP)
    ph.mark("filtered")
    index = None  # the closures above share this name: the graph is freed here
    gc.collect()
    ph.mark("closed")
    files = {"index.bin": "index file (graph + normalised vectors)", "vectors.npy": "raw .npy"}
    out["disk"] = {kind: os.path.getsize(os.path.join(folder, f)) for f, kind in files.items()}
    return ph.report(out)


def kestrel_collection(db, dim: int):
    import vectorstore as vs

    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=dim),
            vs.Field("n", vs.DataType.INT64),
        ]
    )
    return db.create_collection("scale", schema=schema, metric="COSINE")


def kestrel_ids(hits) -> np.ndarray:
    return np.array([[h.id for h in row] for row in hits], dtype=np.int64).reshape(len(hits), -1)


def kestrel_worker(n: int, dim: int, queries: int, efs: list[int], folder: str) -> dict:
    import vectorstore as vs

    ph = Phases()
    base, qs = data(n, dim, queries)
    field = field_values(n)
    truths = load_truths(n, dim, queries)
    ph.mark("data loaded")
    out: dict = {"system": "kestrel"}
    db = vs.connect(folder)
    col = kestrel_collection(db, dim)
    calls = []
    t, c = time.perf_counter(), time.process_time()
    for s in range(0, n, BATCH):
        e = min(s + BATCH, n)
        call = time.perf_counter()
        col.insert({"id": np.arange(s, e), "vector": base[s:e], "n": field[s:e]})
        calls.append(time.perf_counter() - call)
    out["insert_s"], out["insert_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    out["insert_call_max_s"], out["insert_call_median_s"] = max(calls), statistics.median(calls)
    ph.mark("inserted")
    t, c = time.perf_counter(), time.process_time()
    col.flush()
    out["flush_s"], out["flush_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    out["build_s"] = out["insert_s"] + out["flush_s"]
    out["insert_calls_s"] = calls  # a checkpoint (the log past max_wal_bytes) seals inside one
    out["segments"] = [seg.num_rows for seg in col._state.partitions["_default"]]
    ph.mark("built")
    del base
    gc.collect()
    ph.mark("steady")

    def search(q: np.ndarray, ef: int):
        return col.search(q, limit=K, search_params={"ef": ef})

    plain = Searcher(search, kestrel_ids)
    out["sweep"] = sweep(plain, plain, qs, truths["plain"], efs)
    ph.mark("searched")
    ef = out["ef"] = chosen_ef(out["sweep"])

    def with_filter(q: np.ndarray, t: int) -> np.ndarray:
        hits = col.search(q, limit=K, filter=f"n < {t}", search_params={"ef": ef})
        return np.array([h.id for h in hits[0]], dtype=np.int64)

    out["filtered"] = filtered(with_filter, qs, truths, {})
    ph.mark("filtered")
    db.close()
    col = db = None  # the closures above share these names
    gc.collect()
    ph.mark("closed")
    out["disk"] = dir_bytes(folder)
    return ph.report(out)


def reopen_worker(system: str, n: int, dim: int, queries: int, folder: str, ef: int) -> dict:
    """Open what the build left, answer the first query, then all queries (recall check)."""
    _, qs = data(n, dim, queries)
    truth = load_truths(n, dim, queries)["plain"]
    import hnswlib

    import vectorstore as vs

    before = rss_mb()
    t = time.perf_counter()
    if system == "hnswlib":
        index = hnswlib.Index(space="cosine", dim=dim)
        index.load_index(os.path.join(folder, "index.bin"), max_elements=n)
        vectors = np.load(os.path.join(folder, "vectors.npy"), mmap_mode="r")
        index.set_ef(ef)
        index.knn_query(qs[:1], k=K)
        first = time.perf_counter() - t
        found = index.knn_query(qs, k=K)[0]
        assert vectors.shape == (n, dim)
    else:
        db = vs.connect(folder)
        col = db.get_collection("scale")
        col.search(qs[:1], limit=K, search_params={"ef": ef})
        first = time.perf_counter() - t
        found = kestrel_ids(col.search(qs, limit=K, search_params={"ef": ef}))
        db.close()
    return {
        "reopen_first_query_s": first,
        "reopen_recall": recall(found, truth),
        "reopen_rss_mb": rss_mb() - before,
    }


def slice_worker(system: str, n: int, dim: int, queries: int) -> dict:
    """hnswlib add_items of the first SLICE rows, or Kestrel rows of dicts + flush."""
    rows = min(SLICE, n)
    full, _ = data(n, dim, queries)
    base, field = full[:rows].copy(), field_values(n)[:rows]
    del full
    t, c = time.perf_counter(), time.process_time()
    if system == "hnswlib":
        import hnswlib

        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=rows, M=M, ef_construction=EF_CONSTRUCTION, random_seed=100)
        index.add_items(base, np.arange(rows), num_threads=-1)
    else:
        import vectorstore as vs

        folder = tempfile.mkdtemp(prefix="kestrel-scale-rows-")
        try:
            with vs.connect(folder) as db:
                col = kestrel_collection(db, dim)
                for s in range(0, rows, ROW_BATCH):
                    col.insert(
                        [
                            {"id": i, "vector": base[i], "n": int(field[i])}
                            for i in range(s, min(s + ROW_BATCH, rows))
                        ]
                    )
                col.flush()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"rows": rows, "rows_per_s": rows / wall, "cpu_s": cpu}


SYSTEMS = ("hnswlib", "kestrel")
WORKERS = {"hnswlib": hnswlib_worker, "kestrel": kestrel_worker}


def call(args: argparse.Namespace, worker: str, folder: str = "", ef: int = 0) -> dict:
    """Run one worker in a fresh process; its progress goes to our stderr."""
    cmd = [sys.executable, __file__, "--worker", worker, "--folder", folder]
    cmd += ["--ef-chosen", str(ef), "--ef", args.ef_list]
    cmd += ["--n", str(args.n), "--dim", str(args.dim), "--queries", str(args.queries)]
    log(f"start {worker}")
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def med(runs: list[dict], *path: str) -> float:
    """Median over runs of the figure at ``path`` (nested keys)."""
    values = []
    for r in runs:
        for key in path:
            r = r[key]
        values.append(float(r))  # type: ignore[arg-type]
    return statistics.median(values)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def cell(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def table(args: argparse.Namespace, res: dict[str, list[dict]], slices: dict) -> str:
    """Markdown: one line per figure, Kestrel | hnswlib | Kestrel / hnswlib."""
    k, h = res["kestrel"], res["hnswlib"]
    lines = ["| figure | Kestrel | hnswlib | ratio K/h |", "|---|---:|---:|---:|"]

    def row(
        label: str, kv: float | None, hv: float | None, digits: int = 0, ratio: str = ""
    ) -> None:
        if not ratio and kv is not None and hv:
            ratio = f"{kv / hv:.2f}"
        ks = cell(kv, digits) if kv is not None else ""
        hs = cell(hv, digits) if hv is not None else ""
        lines.append(f"| {label} | {ks} | {hs} | {ratio} |")

    def same(label: str, *path: str, digits: int = 0) -> None:
        row(label, med(k, *path), med(h, *path), digits)

    n, kb, hb = args.n, med(k, "build_s"), med(h, "insert_s")
    row("build s: insert + flush / add_items", kb, hb, 1)
    row("  insert calls s / save_index + np.save s", med(k, "insert_s"), med(h, "save_s"), 2)
    row("  flush s (graph, seal, files)", med(k, "flush_s"), None, 1)
    sizes = " + ".join(f"{rows:,}" for rows in k[0]["segments"])
    lines.append(f"| Kestrel segments after flush (rows; first run) | {sizes} | | |")
    row("  slowest insert call s", med(k, "insert_call_max_s"), None, 2)
    row("  median insert call s", med(k, "insert_call_median_s"), None, 2)
    row("build rows/s (wall)", n / kb, n / hb)
    kc, hc = med(k, "insert_cpu_s") + med(k, "flush_cpu_s"), med(h, "insert_cpu_s")
    row("build CPU s, all threads (ratio: h/K)", kc, hc, 1, f"{hc / kc:.2f}")
    ks, hs = slices["kestrel"], slices["hnswlib"]
    label = f"rows of dicts + flush, first {int(ks[0]['rows']):,} rows, rows/s"
    row(label, med(ks, "rows_per_s"), med(hs, "rows_per_s"))
    kc, hc = med(ks, "cpu_s"), med(hs, "cpu_s")
    row("  the same, CPU s (ratio: h/K)", kc, hc, 1, f"{hc / kc:.2f}")
    for ef in args.efs:
        same(f"ef {ef}: recall@10", "sweep", str(ef), "recall", digits=3)
        same(f"ef {ef}: single-query QPS", "sweep", str(ef), "single_qps")
        same(f"ef {ef}: single-query CPU us", "sweep", str(ef), "single_cpu_us", digits=1)
        same(f"ef {ef}: batched QPS ({args.queries}/call)", "sweep", str(ef), "batched_qps")
    kef, hef = int(med(k, "ef")), int(med(h, "ef"))
    row("lowest ef with recall@10 >= 0.95", kef, hef)
    at = str(max(kef, hef))
    same(f"single-query QPS at ef {at}", "sweep", at, "single_qps")
    same(f"batched QPS at ef {at}", "sweep", at, "batched_qps")
    for t in THRESHOLDS:
        sel, e = f"n < {t} ({t / 10:g} %)", str(t)
        same(f"filter {sel}: recall@10", "filtered", e, "recall", digits=3)
        counts = (
            f"K {med(k, 'filtered', e, 'queries'):.0f}, h {med(h, 'filtered', e, 'queries'):.0f}"
        )
        same(f"filter {sel}: QPS (queries: {counts})", "filtered", e, "qps", digits=1)
    same("reopen + first query s", "reopen_first_query_s", digits=3)
    same("recall@10 after reopen", "reopen_recall", digits=3)
    same("RSS added by reopen + all queries MB", "reopen_rss_mb")
    for phase in k[0]["rss"]:
        same(f"RSS after '{phase}' MB", "rss", phase)
    same("  of which anonymous after 'steady' MB", "anon", "steady")
    for phase in k[0]["at"]:
        same(f"seconds from worker start to the end of '{phase}'", "at", phase, digits=1)
    same("peak RSS MB (build + search + filter + close)", "peak", "closed")
    for phase in ("inserted", "built"):
        same(f"  peak RSS by the end of '{phase}' MB", "peak", phase)
    row(
        "peak RSS above the RSS at start MB",
        med(k, "peak", "closed") - med(k, "rss", "start"),
        med(h, "peak", "closed") - med(h, "rss", "start"),
    )
    raw = n * args.dim * 4
    for kind in sorted({kind for r in k + h for kind in r["disk"]}):
        kd = [r["disk"][kind] / 2**20 for r in k if kind in r["disk"]]
        hd = [r["disk"][kind] / 2**20 for r in h if kind in r["disk"]]
        row(f"disk MB: {kind}", _median(kd), _median(hd), 1)
    kt = statistics.median(sum(r["disk"].values()) for r in k)
    ht = statistics.median(sum(r["disk"].values()) for r in h)
    row("disk MB total", kt / 2**20, ht / 2**20)
    row("disk / raw float32 vector bytes", kt / raw, ht / raw, 2)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--ef", dest="ef_list", default="32,64,128,256", help="comma-separated")
    ap.add_argument("--worker")
    ap.add_argument("--folder", default="")
    ap.add_argument("--ef-chosen", type=int, default=0, help="(worker) the ef to reopen at")
    args = ap.parse_args()
    args.efs = sorted(int(e) for e in args.ef_list.split(","))
    if args.worker:
        print(json.dumps(run_worker(args)))
        return
    t0 = time.perf_counter()
    prepare(args.n, args.dim, args.queries)
    log(f"data and ground truth ready ({time.perf_counter() - t0:.0f} s)")
    res: dict[str, list[dict]] = {s: [] for s in SYSTEMS}
    slices: dict[str, list[dict]] = {s: [] for s in SYSTEMS}
    for run in range(args.runs):
        order = SYSTEMS if run % 2 == 0 else SYSTEMS[::-1]  # alternate who goes first
        for system in order:
            folder = tempfile.mkdtemp(prefix=f"scale-{system}-")
            try:
                out = call(args, system, folder)
                out.update(call(args, f"reopen-{system}", folder, out["ef"]))
                res[system].append(out)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        for system in order:
            slices[system].append(call(args, f"slice-{system}"))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "scale.json"), "w") as f:
        json.dump({"args": vars(args), "results": res, "slices": slices}, f, indent=1)
    print(
        f"\n{args.n:,} x {args.dim}, COSINE, M={M}, ef_construction={EF_CONSTRUCTION}, "
        f"{args.queries} queries, medians of {args.runs} run(s), "
        f"{time.perf_counter() - t0:.0f} s in all\n"
    )
    print(table(args, res, slices))


def run_worker(args: argparse.Namespace) -> dict:
    kind, _, system = args.worker.rpartition("-")
    if kind == "reopen":
        return reopen_worker(system, args.n, args.dim, args.queries, args.folder, args.ef_chosen)
    if kind == "slice":
        return slice_worker(system, args.n, args.dim, args.queries)
    return WORKERS[system](args.n, args.dim, args.queries, args.efs, args.folder)


if __name__ == "__main__":
    main()
