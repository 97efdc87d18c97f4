"""BM25 scores against an independent plain-Python reference.

The reference knows nothing of the engine: a dict ``{id: (partition, text)}``,
a tokenizer (the "standard" analyzer is ``re.findall(r"\\w+", text.lower())``;
"english" adds Lucene's stop set and the Snowball stemmer) and the formula::

    idf  = ln(1 + (N - df + 0.5) / (df + 0.5))
    tf'  = tf (k1 + 1) / (tf + k1 (1 - b + b dl / avgdl))
    score = sum over distinct query terms of qtf * idf * tf'

with N, df and avgdl over every live row of every partition. Hypothesis drives
sequences of inserts, upserts, deletes (by key and by filter), flushes,
compactions, partition drops and (on disk) reopens over small segments, and
after every step the engine's top-k hits and their scores must match the
reference (ties are compared by score, never by id).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable

import pytest
from helpers.hybrid_reference import english_tokens, standard_tokens
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vectorstore as vs

DT = vs.DataType
RTOL = 1e-5
PARTITIONS = ("_default", "p")

# The English stop set Lucene / Milvus use ("_english_").


TOKENIZERS: dict[str, Callable[[str | None], list[str]]] = {
    "standard": standard_tokens,
    "english": english_tokens,
}


class Bm25Reference:
    """BM25 over a dict of live rows, recomputed from scratch on every query."""

    def __init__(self, tokens: Callable[[str | None], list[str]], k1: float, b: float):
        self.tokens = tokens
        self.k1 = k1
        self.b = b
        self.rows: dict[int, tuple[str, str | None]] = {}  # id -> (partition, text)

    def scores(
        self, query: str, partitions: tuple[str, ...] | None = None, keep=None
    ) -> dict[int, float]:
        """``{id: score}`` of the rows sharing a term with ``query`` (and passing)."""
        docs = {key: Counter(self.tokens(text)) for key, (_, text) in self.rows.items()}
        n = len(docs)
        if n == 0:
            return {}
        avgdl = sum(sum(c.values()) for c in docs.values()) / n
        df: Counter[str] = Counter()
        for c in docs.values():
            df.update(c.keys())
        qtf = Counter(self.tokens(query))
        out: dict[int, float] = {}
        for key, counts in docs.items():
            part = self.rows[key][0]
            if partitions is not None and part not in partitions:
                continue
            if keep is not None and not keep(key):
                continue
            shared = [t for t in qtf if t in counts]
            if not shared:
                continue
            dl = sum(counts.values())
            total = 0.0
            for t in shared:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                tf = counts[t]
                norm = self.k1 * (1 - self.b + self.b * dl / avgdl) if avgdl else self.k1
                total += qtf[t] * idf * tf * (self.k1 + 1) / (tf + norm)
            out[key] = total
        return out


def assert_top_k(hits: list[vs.Hit], expected: dict[int, float], k: int, what: str) -> None:
    """``hits`` are a correct top ``k`` of ``expected`` (ties by score, not id)."""
    ranked = sorted(expected.values(), reverse=True)
    assert len(hits) == min(k, len(ranked)), (
        f"{what}: {len(hits)} hits, expected {min(k, len(ranked))}; "
        f"hits={[(h.id, h.distance) for h in hits]} expected={expected}"
    )
    got = [h.distance for h in hits]
    assert got == sorted(got, reverse=True), f"{what}: hits not best first: {got}"
    assert len({h.id for h in hits}) == len(hits), f"{what}: repeated ids"
    for h in hits:
        assert h.id in expected, f"{what}: hit {h.id} shares no query term / fails the filter"
        assert math.isclose(h.distance, expected[h.id], rel_tol=RTOL, abs_tol=1e-9), (
            f"{what}: id {h.id} scored {h.distance!r}, reference {expected[h.id]!r}; "
            f"hits={[(x.id, x.distance) for x in hits]} expected={expected}"
        )
    if not hits:
        return
    # every row strictly better than the k-th reference score must be there
    kth = ranked[len(hits) - 1]
    ids = {h.id for h in hits}
    for key, score in expected.items():
        if score > kth * (1 + 10 * RTOL) + 1e-9:
            assert key in ids, f"{what}: row {key} (score {score}) missing; hits={got}"
    for h, want in zip(hits, ranked, strict=False):
        assert math.isclose(h.distance, want, rel_tol=RTOL, abs_tol=1e-9), (
            f"{what}: ranked scores {got} != reference {ranked[: len(hits)]}"
        )


# ----------------------------------------------------------------- strategies
VOCAB = ["apple", "Banana", "cherry", "date", "elder", "fig", "grape", "honey"]
WORDS = st.sampled_from([*VOCAB, "APPLE", "banana", "Fig"])
SEPARATORS = st.sampled_from([" ", "  ", ", ", ". ", "-", "\t"])


@st.composite
def texts(draw) -> str | None:
    if draw(st.integers(0, 15)) == 0:
        return None
    words = draw(st.lists(WORDS, min_size=0, max_size=7))
    seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip()


KEYS = st.integers(0, 30)
rows_st = st.lists(st.tuples(KEYS, texts()), min_size=1, max_size=8, unique_by=lambda r: r[0])
writes = st.tuples(st.sampled_from(["insert", "upsert"]), rows_st, st.sampled_from(PARTITIONS))
ops = st.one_of(
    writes,
    writes,
    writes,
    st.tuples(st.just("delete"), st.lists(KEYS, min_size=1, max_size=5)),
    st.tuples(st.just("delete_match"), st.sampled_from(VOCAB)),
    st.tuples(st.just("delete_in_p"), KEYS),
    st.tuples(st.just("flush")),
    st.tuples(st.just("compact")),
    st.tuples(st.just("drop_partition")),
    st.tuples(st.just("reopen")),
)
QUERIES = [
    "apple",
    "banana cherry",
    "apple apple fig",
    "Grape, honey! unknownword",
    "date elder fig grape",
    "nothing here",
]
PARAMS = st.sampled_from([(1.2, 0.75), (2.0, 0.0), (0.5, 1.0), (0.0, 0.75)])


def bm25_schema(analyzer: str, k1: float, b: float) -> vs.Schema:
    return vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("text", DT.VARCHAR, analyzer=analyzer, nullable=True),
            vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25(input="text", output="sparse", k1=k1, b=b)],
    )


class Run:
    """One engine collection and its reference, stepped together."""

    def __init__(self, kind: str, analyzer: str, k1: float, b: float, segment_rows: int):
        self.kind = kind
        self.tmp = tempfile.mkdtemp(prefix="kestrel-bm25-") if kind == "disk" else None
        self.segment_rows = segment_rows
        self.db = self._connect()
        self.col = self.db.create_collection("c", schema=bm25_schema(analyzer, k1, b))
        self.col.create_partition("p")
        self.ref = Bm25Reference(TOKENIZERS[analyzer], k1, b)
        self.log: list[tuple] = []

    def _connect(self) -> vs.Client:
        return vs.connect(self.tmp or ":memory:", segment_rows=self.segment_rows)

    def close(self) -> None:
        self.db.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def step(self, op: tuple) -> None:
        self.log.append(op)
        kind = op[0]
        ref = self.ref.rows
        if kind == "insert":
            _, rows, part = op
            rows = [(k, t) for k, t in rows if k not in ref]
            if rows:
                self.col.insert([{"id": k, "text": t} for k, t in rows], partition=part)
                ref.update({k: (part, t) for k, t in rows})
        elif kind == "upsert":
            _, rows, part = op
            self.col.upsert([{"id": k, "text": t} for k, t in rows], partition=part)
            ref.update({k: (part, t) for k, t in rows})
        elif kind == "delete":
            gone = self.col.delete(ids=op[1])
            assert gone == len(set(op[1]) & set(ref))
            for k in op[1]:
                ref.pop(k, None)
        elif kind == "delete_match":
            word = self.ref.tokens(op[1])
            doomed = [k for k, (_, t) in ref.items() if word and word[0] in self.ref.tokens(t)]
            gone = self.col.delete(filter=f'text_match(text, "{op[1]}")')
            assert gone == len(doomed), f"text_match delete removed {gone}, expected {doomed}"
            for k in doomed:
                del ref[k]
        elif kind == "delete_in_p":
            doomed = [k for k, (p, _) in ref.items() if p == "p" and k < op[1]]
            gone = self.col.delete(filter=f"id < {op[1]}", partition="p")
            assert gone == len(doomed)
            for k in doomed:
                del ref[k]
        elif kind == "flush":
            self.col.flush()
        elif kind == "compact":
            self.col.compact()
        elif kind == "drop_partition":
            self.col.drop_partition("p")
            self.col.create_partition("p")
            for k in [k for k, (p, _) in ref.items() if p == "p"]:
                del ref[k]
        elif kind == "reopen":
            if self.kind == "disk":
                self.db.close()
                self.db = self._connect()
                self.col = self.db.get_collection("c")
        else:  # pragma: no cover
            raise AssertionError(op)

    def check(self, extra: list[str]) -> None:
        where = f"after {self.log}"
        assert self.col.count() == len(self.ref.rows), where
        queries = QUERIES + extra
        for k in (1, 3, 30):
            hits = self.col.search(queries, anns_field="sparse", limit=k)
            for query, got in zip(queries, hits, strict=True):
                assert_top_k(got, self.ref.scores(query), k, f"{query!r} k={k} {where}")
        # one partition: scores still use the collection-wide statistics
        for part in PARTITIONS:
            hits = self.col.search(QUERIES[:3], anns_field="sparse", limit=5, partitions=[part])
            for query, got in zip(QUERIES[:3], hits, strict=True):
                want = self.ref.scores(query, partitions=(part,))
                assert_top_k(got, want, 5, f"{query!r} in {part} {where}")
        # a filter: scores unchanged, rows restricted
        hits = self.col.search(QUERIES[:3], anns_field="sparse", limit=4, filter="id % 2 == 0")
        for query, got in zip(QUERIES[:3], hits, strict=True):
            want = self.ref.scores(query, keep=lambda key: key % 2 == 0)
            assert_top_k(got, want, 4, f"{query!r} id%2==0 {where}")
        # paging: the window is the ranked list's window
        full = self.col.search(QUERIES[1], anns_field="sparse", limit=10)[0]
        page = self.col.search(QUERIES[1], anns_field="sparse", limit=3, offset=2)[0]
        assert [h.distance for h in page] == pytest.approx(
            [h.distance for h in full[2:5]], rel=RTOL
        ), where
        # text_match over the same analyzer
        for word in ("apple", "Banana fig", "zzz"):
            want = {
                k
                for k, (_, t) in self.ref.rows.items()
                if set(self.ref.tokens(t)) & set(self.ref.tokens(word))
            }
            got = {r["id"] for r in self.col.query(f'text_match(text, "{word}")')}
            assert got == want, f"text_match {word!r} {where}"


initial_st = st.lists(st.tuples(KEYS, texts()), min_size=4, max_size=25, unique_by=lambda r: r[0])


def run_ops(
    kind: str,
    analyzer: str,
    params,
    segment_rows: int,
    initial: list[tuple[int, str | None]],
    steps: list[tuple],
    extra: list[str],
) -> None:
    k1, b = params
    run = Run(kind, analyzer, k1, b, segment_rows)
    try:
        run.step(("insert", initial[0::2], "_default"))
        run.step(("insert", initial[1::2], "p"))
        run.check(extra)
        for op in steps:
            run.step(op)
            run.check(extra)
    finally:
        run.close()


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("kind", ["memory", "disk"])
@SETTINGS
@given(
    params=PARAMS,
    segment_rows=st.sampled_from([2, 5, 8, 1000]),
    initial=initial_st,
    steps=st.lists(ops, min_size=3, max_size=20),
    extra=st.lists(texts().filter(bool), max_size=2),
)
def test_bm25_matches_reference_through_writes(kind, params, segment_rows, initial, steps, extra):
    run_ops(kind, "standard", params, segment_rows, initial, steps, extra)


@pytest.mark.parametrize("kind", ["memory", "disk"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segment_rows=st.sampled_from([3, 1000]),
    initial=initial_st,
    steps=st.lists(ops, min_size=3, max_size=12),
    extra=st.lists(texts().filter(bool), max_size=2),
)
def test_bm25_english_analyzer_matches_reference(kind, segment_rows, initial, steps, extra):
    run_ops(kind, "english", (1.2, 0.75), segment_rows, initial, steps, extra)


@pytest.mark.parametrize("kind", ["memory", "disk"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bm25_long_random_run(kind, seed):
    """A long seeded op list over a bigger key space (more rows live at once
    than hypothesis's small examples reach)."""
    import random

    rnd = random.Random(seed)

    def text() -> str | None:
        if rnd.random() < 0.05:
            return None
        return " ".join(rnd.choice(VOCAB) for _ in range(rnd.randint(0, 9)))

    def rows(n: int) -> list[tuple[int, str | None]]:
        keys = rnd.sample(range(120), n)
        return [(k, text()) for k in keys]

    steps: list[tuple] = [("insert", rows(60), "_default"), ("insert", rows(40), "p")]
    for _ in range(60):
        r = rnd.random()
        if r < 0.35:
            steps.append(
                (rnd.choice(["insert", "upsert"]), rows(rnd.randint(1, 12)), rnd.choice(PARTITIONS))
            )
        elif r < 0.55:
            steps.append(("delete", rnd.sample(range(120), rnd.randint(1, 8))))
        elif r < 0.6:
            steps.append(("delete_match", rnd.choice(VOCAB)))
        elif r < 0.7:
            steps.append(("flush",))
        elif r < 0.8:
            steps.append(("compact",))
        elif r < 0.85:
            steps.append(("drop_partition",))
        elif r < 0.9:
            steps.append(("delete_in_p", rnd.randint(0, 120)))
        else:
            steps.append(("reopen",))
    run = Run(kind, "standard", 1.2, 0.75, segment_rows=7)
    try:
        for op in steps:
            run.step(op)
            run.check(["apple banana date", "fig fig grape honey cherry"])
    finally:
        run.close()


# ----------------------------------------------------------- fixed examples


def test_bm25_hand_computed_scores(stores):
    """Three rows, numbers worked out by hand (k1=1.2, b=0.75)."""
    db = stores.connect()
    col = db.create_collection("c", schema=bm25_schema("standard", 1.2, 0.75))
    col.insert(
        [
            {"id": 1, "text": "the cat sat"},
            {"id": 2, "text": "the dog"},
            {"id": 3, "text": "cat cat cat dog bird"},
        ]
    )
    n, avgdl = 3, (3 + 2 + 5) / 3

    def part(tf: int, dl: int) -> float:
        return tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl))

    idf_cat = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_bird = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    hits = col.search(["cat bird"], anns_field="sparse", limit=10)[0]
    assert [h.id for h in hits] == [3, 1]
    assert hits[0].distance == pytest.approx(idf_cat * part(3, 5) + idf_bird * part(1, 5), rel=RTOL)
    assert hits[1].distance == pytest.approx(idf_cat * part(1, 3), rel=RTOL)
    # a query term repeated counts twice
    twice = col.search(["bird bird"], anns_field="sparse", limit=10)[0]
    assert [h.id for h in twice] == [3]
    assert twice[0].distance == pytest.approx(2 * idf_bird * part(1, 5), rel=RTOL)
    db = stores.reopen(db)
    col = db.get_collection("c")
    again = col.search(["cat bird"], anns_field="sparse", limit=10)[0]
    assert [(h.id, pytest.approx(h.distance, rel=RTOL)) for h in again] == [
        (h.id, h.distance) for h in hits
    ]


def test_bm25_stats_span_partitions_and_segments(stores):
    """A partition-restricted search scores with the collection-wide N, df, avgdl."""
    db = stores.connect(segment_rows=2)
    col = db.create_collection("c", schema=bm25_schema("standard", 1.2, 0.75))
    col.create_partition("p")
    ref = Bm25Reference(standard_tokens, 1.2, 0.75)
    docs = {
        1: ("_default", "alpha beta"),
        2: ("_default", "alpha alpha alpha gamma"),
        3: ("p", "beta gamma delta"),
        4: ("p", "alpha"),
        5: ("p", "delta delta epsilon zeta eta"),
    }
    for key, (part, text) in docs.items():
        col.insert({"id": key, "text": text}, partition=part)
        ref.rows[key] = (part, text)
    for part in ("_default", "p"):
        got = col.search(["alpha delta"], anns_field="sparse", limit=10, partitions=[part])[0]
        assert_top_k(got, ref.scores("alpha delta", partitions=(part,)), 10, part)
    col.flush()
    col.delete(ids=[2])
    del ref.rows[2]
    got = col.search(["alpha delta"], anns_field="sparse", limit=10, partitions=["p"])[0]
    assert_top_k(got, ref.scores("alpha delta", partitions=("p",)), 10, "after delete")
    col.compact()
    db = stores.reopen(db)
    col = db.get_collection("c")
    got = col.search(["alpha delta"], anns_field="sparse", limit=10)[0]
    assert_top_k(got, ref.scores("alpha delta"), 10, "after compact + reopen")


def test_bm25_null_and_empty_texts_count_as_documents(stores):
    """Rows with no tokens are live documents (N counts them; dl = 0)."""
    db = stores.connect()
    col = db.create_collection("c", schema=bm25_schema("standard", 1.2, 0.75))
    ref = Bm25Reference(standard_tokens, 1.2, 0.75)
    for key, text in enumerate(["x y", "", None, "x", "!!! ..."]):
        col.insert({"id": key, "text": text})
        ref.rows[key] = ("_default", text)
    got = col.search(["x"], anns_field="sparse", limit=10)[0]
    assert_top_k(got, ref.scores("x"), 10, "null/empty texts")


def test_bm25_english_reference_by_hand(stores):
    db = stores.connect()
    col = db.create_collection("c", schema=bm25_schema("english", 1.2, 0.75))
    ref = Bm25Reference(english_tokens, 1.2, 0.75)
    texts_ = [
        "The runner was running in the races",
        "Runs and a run",
        "Flowers flowing; the flow is not the flower",
        "A connection connected, connecting connections",
    ]
    for key, text in enumerate(texts_):
        col.insert({"id": key, "text": text})
        ref.rows[key] = ("_default", text)
    for query in ("running", "the flows", "connect the runs", "the and a"):
        got = col.search([query], anns_field="sparse", limit=10)[0]
        assert_top_k(got, ref.scores(query), 10, query)
