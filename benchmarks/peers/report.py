"""Markdown tables and the recall-vs-QPS plot from a results JSON (medians of runs)."""

from __future__ import annotations

import os
import re
import statistics

TARGET = 0.95
BASELINE = "hnswlib"
SEL_LABELS = {1: "0.1 %", 10: "1 %", 100: "10 %", 500: "50 %"}
PLOT_NAME = "peers_recall_qps.png"
BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def med(values):  # type: ignore[no-untyped-def]
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if "error" not in r]


def first_error(runs: list[dict]) -> str | None:
    for r in runs:
        if "error" in r:
            return r["error"]
    return None


def summarise(runs: list[dict]) -> dict | None:
    good = ok(runs)
    if not good:
        return None
    out: dict = {"runs": len(good)}
    for key in (
        "build_per_s",
        "build_s",
        "peak_rss_mb",
        "rss_data_mb",
        "rss_after_build_mb",
        "disk_bytes",
        "close_s",
    ):
        out[key] = med(r.get(key) for r in good)
    reopen = [r["reopen"] for r in good if "reopen" in r and "error" not in r["reopen"]]
    out["reopen_s"] = med(r["reopen_first_query_s"] for r in reopen)
    out["import_s"] = med(r["import_s"] for r in reopen)
    out["reopen_peak_rss_mb"] = med(r.get("peak_rss_mb") for r in reopen)
    out["reopen_error"] = next(
        (r["reopen"]["error"] for r in good if "error" in r.get("reopen", {})), None
    )
    efs: list = []
    for r in good:
        for p in r["sweep"]:
            if p["ef"] not in efs:
                efs.append(p["ef"])
    sweep = []
    for ef in efs:
        pts = [p for r in good for p in r["sweep"] if p["ef"] == ef]
        sweep.append(
            {
                "ef": ef,
                "recall": med(p["recall"] for p in pts),
                "single_qps": med(p["single_qps"] for p in pts),
                "batched_qps": med(p["batched_qps"] for p in pts),
                "single_ms_p50": med(p.get("single_ms_p50") for p in pts),
            }
        )
    out["sweep"] = sweep
    reached = [p for p in sweep if p["recall"] >= TARGET]
    out["op"] = reached[0] if reached else max(sweep, key=lambda p: p["recall"])
    out["op_reached"] = bool(reached)
    filtered = {}
    for t in good[0]["filtered"]:
        cells = [r["filtered"].get(t, {}) for r in good]
        fine = [c for c in cells if "error" not in c]
        if fine:
            filtered[t] = {
                "qps": med(c["qps"] for c in fine),
                "recall": med(c["recall"] for c in fine),
                "n": med(c["n"] for c in fine),
            }
        else:
            filtered[t] = {"error": cells[0].get("error", "?")}
    out["filtered"] = filtered
    out["described_index"] = good[0].get("described_index")
    return out


def fmt(x: float | None, digits: int = 0) -> str:
    if x is None:
        return "n/a"
    if digits == 0:
        return f"{x:,.0f}"
    return f"{x:,.{digits}f}"


def ratio(x: float | None, base: float | None) -> str:
    if x is None or not base:
        return ""
    return f" ({x / base:.2f}x)"


def short(msg: str, width: int = 140) -> str:
    msg = " ".join(str(msg).split()).replace("|", "/")
    return msg if len(msg) <= width else msg[: width - 3] + "..."


def tables(saved: dict) -> str:
    meta, results, hybrid = saved["meta"], saved["results"], saved.get("hybrid", {})
    systems = meta["systems"]
    datasets = list(results)
    summ = {d: {s: summarise(results[d][s]) for s in systems} for d in datasets}
    lines: list[str] = []
    w = lines.append

    cfg = meta["config"]
    counts = sorted({len(ok(v)) for d in datasets for v in results[d].values() if ok(v)}) or [0]
    n_runs = str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
    w(
        f"Mode `{meta['mode']}`: `{meta['command']}` "
        f"({meta['date']}, {meta['elapsed_s'] / 60:.0f} min). "
        f"{meta['machine']}. Medians of {n_runs} run(s); each (system, data set) built and "
        f"measured in a fresh process, reopen timed in another. Load average (1/5/15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in meta['loadavg_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in meta['loadavg_end'])}: the machine is shared; other work "
        f"may have run alongside."
    )
    w("")
    w("Data (COSINE everywhere; recall@10 against exact numpy search):")
    w("")
    for d in datasets:
        m = meta["datasets"][d]
        if "error" in m:
            w(f"- `{d}`: unavailable: {m['error']}")
        else:
            w(
                f"- `{d}`: {m['n']:,} x {m['dim']}, {m['nq']:,} queries "
                f"({m['nq_filtered']} for filters); "
                f"{m['source']}"
            )
    w("")
    w(
        "Ratios in parentheses are to raw hnswlib on the same data (x > 1: more of the figure). "
        f'"At recall >= {TARGET}": the smallest swept ef whose recall@10 reaches {TARGET} '
        "(each system its own; exact systems have one point)."
    )
    w("")

    def per_dataset_table(title: str, cell) -> None:  # type: ignore[no-untyped-def]
        w(f"**{title}**")
        w("")
        w("| system | " + " | ".join(datasets) + " |")
        w("|---|" + "---:|" * len(datasets))
        for s in systems:
            row = []
            for d in datasets:
                x = summ[d][s]
                row.append(
                    cell(x, summ[d].get(BASELINE))
                    if x
                    else "failed"
                    if first_error(results[d][s])
                    else ""
                )
            w(f"| {s} | " + " | ".join(row) + " |")
        w("")

    per_dataset_table(
        "Insert / build, vectors/s (until searchable with its index)",
        lambda x, b: fmt(x["build_per_s"]) + ratio(x["build_per_s"], b and b["build_per_s"]),
    )

    def op_cell(key: str):  # type: ignore[no-untyped-def]
        def cell(x, b):  # type: ignore[no-untyped-def]
            p = x["op"]
            ef = "exact" if p["ef"] is None else f"ef {p['ef']}"
            flag = "" if x["op_reached"] else f", **< {TARGET}**"
            return (
                f"{fmt(p[key])}{ratio(p[key], b and b['op'][key])} "
                f"<sub>{ef}, r {p['recall']:.3f}{flag}</sub>"
            )

        return cell

    per_dataset_table(
        f"Single-query QPS at recall >= {TARGET} (one query per call)", op_cell("single_qps")
    )
    per_dataset_table(
        f"Batched QPS at recall >= {TARGET} (all queries in one call)", op_cell("batched_qps")
    )
    per_dataset_table(
        "RSS right after the build, MB (whole process tree, data set included)",
        lambda x, b: (
            fmt(x["rss_after_build_mb"])
            + ratio(x["rss_after_build_mb"], b and b["rss_after_build_mb"])
        ),
    )
    per_dataset_table(
        "Peak RSS over the whole child (build, sweep, filters, close), MB",
        lambda x, b: fmt(x["peak_rss_mb"]) + ratio(x["peak_rss_mb"], b and b["peak_rss_mb"]),
    )
    per_dataset_table(
        "Disk after close, MB (close: time to persist, s)",
        lambda x, b: (
            fmt(x["disk_bytes"] / 2**20, 1)
            + ratio(x["disk_bytes"], b and b["disk_bytes"])
            + f" <sub>close {x['close_s']:.2f}</sub>"
        ),
    )

    def reopen_cell(x, b):  # type: ignore[no-untyped-def]
        if x["reopen_s"] is None:
            return "failed: " + short(x["reopen_error"] or "?", 60)
        return (
            f"{fmt(x['reopen_s'], 3)}{ratio(x['reopen_s'], b and b['reopen_s'])} "
            f"<sub>import {x['import_s']:.2f}, RSS {fmt(x['reopen_peak_rss_mb'])} MB</sub>"
        )

    per_dataset_table(
        "Reopen + first query, s (fresh process; library import timed apart; "
        "peak RSS of that process)",
        reopen_cell,
    )

    w("**Recall@10 and QPS over the ef sweep** (cells: recall / single-query QPS / batched QPS)")
    w("")
    for d in datasets:
        efs: list = []
        for s in systems:
            x = summ[d][s]
            for p in x["sweep"] if x else []:
                if p["ef"] not in efs:
                    efs.append(p["ef"])
        efs = sorted(efs, key=lambda e: -1 if e is None else e)
        w(f"`{d}`")
        w("")
        w(
            "| system | "
            + " | ".join("exact / no ef" if e is None else f"ef {e}" for e in efs)
            + " |"
        )
        w("|---|" + "---:|" * len(efs))
        for s in systems:
            x = summ[d][s]
            if not x:
                continue
            by = {p["ef"]: p for p in x["sweep"]}
            cells = [
                f"{by[e]['recall']:.3f} / {fmt(by[e]['single_qps'])} / {fmt(by[e]['batched_qps'])}"
                if e in by
                else ""
                for e in efs
            ]
            w(f"| {s} | " + " | ".join(cells) + " |")
        w("")

    w(
        f"**Filtered search** (filter `n < T` on an int attribute uniform in 0..999, each system's "
        f"native filter, single queries, ef {cfg['filter_ef']} where there is one; "
        "cells: QPS / recall@10 "
        "against exact filtered search)"
    )
    w("")
    thresholds = (
        [str(t) for t in meta["datasets"][datasets[0]].get("thresholds", [])] if datasets else []
    )
    w("| system | data | " + " | ".join(SEL_LABELS.get(int(t), t) for t in thresholds) + " |")
    w("|---|---|" + "---:|" * len(thresholds))
    for d in datasets:
        for s in systems:
            x = summ[d][s]
            if not x:
                continue
            base = summ[d].get(BASELINE)
            cells = []
            for t in thresholds:
                c = x["filtered"].get(t, {})
                if "error" in c:
                    cells.append(short(c["error"], 50))
                else:
                    b = base["filtered"].get(t, {}).get("qps") if base else None
                    cells.append(f"{fmt(c['qps'])}{ratio(c['qps'], b)} / {c['recall']:.2f}")
            w(f"| {s} | {d} | " + " | ".join(cells) + " |")
    w("")

    for d, per in hybrid.items():
        if not any(per.values()):
            continue
        w(
            f"**Hybrid search (dense + BM25, RRF k=60, top 10) on `{d}`**: "
            "per query, median ms over "
            "the queries, routes interleaved query by query; dense ef 64; query vectors given (no "
            "embedding time). Build: a second collection with the sentences as text."
        )
        w("")
        w(
            "| system | build s | dense ms | BM25 ms | hybrid ms "
            "| hybrid / (dense + BM25) | queries |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|")
        for s in systems:
            runs = per.get(s, [])
            good = ok(runs)
            if not good:
                e = first_error(runs)
                if e:
                    w(f"| {s} | {short(e, 160)} | | | | | |")
                continue
            g = {
                k: med(r[k] for r in good)
                for k in (
                    "hybrid_build_s",
                    "dense_ms_p50",
                    "bm25_ms_p50",
                    "hybrid_ms_p50",
                    "hybrid_over_sum",
                    "queries",
                )
            }
            w(
                f"| {s} | {g['hybrid_build_s']:.1f} | {g['dense_ms_p50']:.3f} | "
                f"{g['bm25_ms_p50']:.3f} | "
                f"{g['hybrid_ms_p50']:.3f} | {g['hybrid_over_sum']:.2f} | {g['queries']:.0f} |"
            )
        w("")

    errors = []
    for d in datasets:
        for s in systems:
            for i, r in enumerate(results[d][s]):
                if "error" in r:
                    errors.append(f"- `{s}` on `{d}` (run {i + 1}): {short(r['error'], 400)}")
                elif "error" in r.get("reopen", {}):
                    errors.append(
                        f"- `{s}` reopen on `{d}` (run {i + 1}): {short(r['reopen']['error'], 400)}"
                    )
    if errors:
        w("**Failures** (exact errors; the run went on)")
        w("")
        lines.extend(errors)
        w("")
    described = {
        s: summ[d][s]["described_index"]
        for d in datasets
        for s in systems
        if summ[d][s] and summ[d][s].get("described_index")
    }
    if described:
        for s, info in described.items():
            w(f"`{s}` `describe_index`: " + ", ".join(f"{k}={v}" for k, v in info.items()))
        w("")
    w("Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".")
    w("")
    return "\n".join(lines)


def plot(saved: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta, results = saved["meta"], saved["results"]
    datasets = list(results)
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.2 * len(datasets), 8.2), squeeze=False)
    markers = "os^vD<>Xph"
    for j, d in enumerate(datasets):
        for row, key, label in (
            (0, "single_qps", "single-query QPS"),
            (1, "batched_qps", "batched QPS"),
        ):
            ax = axes[row][j]
            for i, s in enumerate(meta["systems"]):
                x = summarise(results[d][s])
                if not x:
                    continue
                pts = sorted(x["sweep"], key=lambda p: p["recall"])
                ax.plot(
                    [p["recall"] for p in pts],
                    [p[key] for p in pts],
                    marker=markers[i % len(markers)],
                    linestyle="-" if len(pts) > 1 else "none",
                    label=s,
                    linewidth=1.8 if s == "kestrel" else 1,
                    markersize=6,
                )
            ax.set_yscale("log")
            ax.axvline(TARGET, color="grey", linewidth=0.6, linestyle=":")
            ax.grid(True, which="both", alpha=0.25)
            ax.set_xlabel("recall@10")
            ax.set_ylabel(label)
            m = meta["datasets"][d]
            ax.set_title(f"{d}: {m.get('n', 0):,} x {m.get('dim', '?')}, COSINE", fontsize=10)
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle(
        f"Recall vs QPS (medians of {meta.get('runs_done', meta['config']['runs'])} run(s), "
        f"{meta['mode']} mode, "
        f"{meta['date'][:10]}); up and right is better",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def write(saved: dict, out_dir: str, update_results: bool) -> None:
    mode = saved["meta"]["mode"]
    md = tables(saved)
    os.makedirs(out_dir, exist_ok=True)
    report_path = os.path.join(out_dir, f"report-{mode}.md")
    with open(report_path, "w") as f:
        f.write(md + "\n")
    plot_path = os.path.join(out_dir, f"recall_qps-{mode}.png")
    plot(saved, plot_path)
    print(md)
    print(f"[peers] report: {report_path}; plot: {plot_path}")
    if update_results:
        final_plot = os.path.join(BENCH, PLOT_NAME)
        plot(saved, final_plot)
        block = md + f"\n![recall vs QPS]({PLOT_NAME})\n" if mode == "full" else md
        update_section(os.path.join(BENCH, "RESULTS.md"), mode, block)
        print(f"[peers] updated benchmarks/RESULTS.md ({mode} block) and {final_plot}")


def update_section(path: str, mode: str, block: str) -> None:
    """Replace the text between this mode's markers in RESULTS.md, or append it."""
    begin, end = f"<!-- peers-{mode}:begin -->", f"<!-- peers-{mode}:end -->"
    with open(path) as f:
        text = f.read()
    new = f"{begin}\n{block.rstrip()}\n{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: new, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + new + "\n"
    with open(path, "w") as f:
        f.write(text)
