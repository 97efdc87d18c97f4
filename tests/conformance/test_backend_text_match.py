"""``text_match`` on every backend, against a plain-Python reference with its own
tokenizers (and snowballstemmer for "english"): on a BM25 input and a plain
VARCHAR, negated, combined, as a search filter, after writes and reopen, with
filter parameters; and how analyzer options (whitespace, lowercase,
asciifolding, length, english with stop words, Milvus's filter order) drive both
text_match and BM25."""

from __future__ import annotations

import pytest
from helpers.hybrid_data import (
    DIM,
    Data,
    full_indexes,
    full_schema,
)
from helpers.hybrid_reference import (
    _STEM,
    assert_window,
    bm25_scores,
    english_tokens,
    ref_text_match,
    standard_tokens,
)
from lite_differences import (
    ANALYZERS,
    NOT_NULL,
)

import vectorstore as vs

DT = vs.DataType


@NOT_NULL
@pytest.mark.parametrize("field", ["text", "title"])  # BM25 input, plain VARCHAR
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_standard_matches_reference(hybrid_loaded, field):
    _, col, data = hybrid_loaded
    for words in ("alpha", "beta gamma", "ALPHA, Kappa!", "nothing", "", "eta eta iota"):
        want = {k for k, r in data.rows.items() if ref_text_match(r[field], words, standard_tokens)}
        got = col.query(f"text_match({field}, {words!r})".replace("'", '"'), output_fields=["id"])
        assert {r["id"] for r in got} == want, words
        neg = {
            k
            for k, r in data.rows.items()
            if ref_text_match(r[field], words, standard_tokens) is False
        }
        got = col.query(f'not text_match({field}, "{words}")', output_fields=["id"])
        assert {r["id"] for r in got} == neg, f"not {words}"
        # combined with other filters, and as a search filter
        expr = f'text_match({field}, "{words}") and doc > 10 or cat == "w" and flag'
        want2 = {
            k
            for k, r in data.rows.items()
            if (ref_text_match(r[field], words, standard_tokens) and r["doc"] > 10)
            or (r["cat"] == "w" and r["flag"])
        }
        assert {r["id"] for r in col.query(expr, output_fields=["id"])} == want2, expr
        assert col.count(filter=expr) == len(want2)
        hits = col.search([[1.0] * DIM], anns_field="dense", limit=300, filter=expr)[0]
        assert {h.id for h in hits} == want2


@pytest.mark.needs_milvus("2.5", "text_match on a nullable analyzed field")
def test_text_match_after_writes_flush_and_reopen(stores):
    db = stores.connect(segment_rows=5)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("title", DT.VARCHAR, nullable=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    col = db.create_collection("c", schema=schema, indexes=[vs.Index("v", "FLAT", "L2")])
    rows = {i: f"w{i % 4} common" if i % 7 else None for i in range(23)}
    col.insert([{"id": k, "title": t, "v": [0, 0]} for k, t in rows.items()])

    def check(what):
        for words in ("w1", "w2 w3", "common", "W0"):
            want = {k for k, t in rows.items() if ref_text_match(t, words, standard_tokens)}
            got = {r["id"] for r in col.query(f'text_match(title, "{words}")')}
            assert got == want, f"{what}: {words}"

    check("inserted")
    col.flush()
    more = {i: f"w{i % 4} rare" for i in range(23, 31)}
    col.insert([{"id": k, "title": t, "v": [0, 0]} for k, t in more.items()])
    rows.update(more)
    check("grown after a flush")
    col.upsert([{"id": 1, "title": "w3", "v": [0, 0]}])
    rows[1] = "w3"
    col.delete(ids=[2, 3])
    del rows[2], rows[3]
    check("upsert + delete")
    db = stores.reopen(db)
    col = db.get_collection("c")
    check("reopened")


@ANALYZERS
@pytest.mark.needs_milvus("2.5", "text_match on a nullable analyzed field")
def test_text_match_english_analyzer(stores):
    db = stores.connect(segment_rows=4)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer="english", nullable=True),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    col = db.create_collection("c", schema=schema, indexes=[vs.Index("v", "FLAT", "L2")])
    texts = {
        1: "The runner is running",
        2: "runs",
        3: "Flowers and flowing rivers",
        4: None,
        5: "the and of",
        6: "Connected connections",
        7: "generously generous generation",
    }
    col.insert([{"id": k, "body": t, "v": [0, 0]} for k, t in texts.items()])
    for words in ("run", "running ran", "flower", "the", "connect", "generations", "River"):
        want = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens)}
        got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
        assert got == want, words
        neg = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens) is False}
        got = {r["id"] for r in col.query(f'not text_match(body, "{words}")')}
        assert got == neg, f"not {words}"
    db = stores.reopen(db)
    col = db.get_collection("c")
    assert {r["id"] for r in col.query('text_match(body, "running")')} == {1, 2}


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_with_filter_params_and_bad_uses(hybrid_loaded):
    _, col, data = hybrid_loaded
    want = {k for k, r in data.rows.items() if ref_text_match(r["text"], "zeta", standard_tokens)}
    got = col.query("text_match(text, {w})", filter_params={"w": "zeta"}, output_fields=["id"])
    assert {r["id"] for r in got} == want
    with pytest.raises(vs.FilterTypeError):
        col.query('text_match(doc, "alpha")')
    with pytest.raises(vs.FilterTypeError):
        col.query("text_match(text, 3)")
    with pytest.raises((vs.FilterTypeError, vs.FilterSyntaxError)):
        col.query('text_match(nosuch, "alpha")')


@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_text_match_does_not_confuse_distinct_words(stores):
    """'plumless' and 'buckeroo' are different words (they share a CRC-32)."""
    db = stores.connect()
    col = db.create_collection("c", schema=full_schema(), indexes=full_indexes())
    data = Data(seed=1, n=2)
    rows = list(data.rows.values())
    rows[0]["text"], rows[1]["text"] = "plumless", "buckeroo"
    col.insert(rows)
    assert {r["id"] for r in col.query('text_match(text, "plumless")')} == {rows[0]["id"]}
    hits = col.search(["plumless"], anns_field="bm", limit=10)[0]
    assert [h.id for h in hits] == [rows[0]["id"]]


@ANALYZERS
@pytest.mark.needs_milvus("2.5", "BM25 and analyzers")
def test_english_analyzer_follows_milvus_filter_order(stores):
    """Milvus's "english" stems before it drops stop words: "its" -> "it",
    "theirs" -> "their", "willing" -> "will", "being" -> "be" are then stop
    words and match nothing; a schema moved to Milvus must behave the same."""
    db = stores.connect()
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer="english"),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("body", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    texts = {1: "its tail", 2: "theirs is willing", 3: "being here", 4: "it will be"}
    col.insert([{"id": k, "body": t} for k, t in texts.items()])
    for words in ("its", "willing", "being", "theirs", "tail"):
        want = {k for k, t in texts.items() if ref_text_match(t, words, english_tokens)}
        got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
        assert got == want, words
    got = col.search(["its tail being"], anns_field="bm", limit=10)[0]
    assert_window(got, bm25_scores(texts, "its tail being", tokens=english_tokens), 0, 10)


def _fold(token: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


@ANALYZERS
@pytest.mark.parametrize(
    ("analyzer", "tokens"),
    [
        ("whitespace", lambda t: t.split() if t else []),
        (
            {"tokenizer": "whitespace", "filter": ["lowercase"]},
            lambda t: t.lower().split() if t else [],
        ),
        (
            {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
            lambda t: [_fold(w) for w in standard_tokens(t)],
        ),
        (
            {"tokenizer": "standard", "filter": ["lowercase", {"type": "length", "max": 4}]},
            lambda t: [w for w in standard_tokens(t) if len(w) <= 4],
        ),
        (
            {"type": "english", "stop_words": ["fox"]},
            lambda t: [w for w in (_STEM.stemWord(x) for x in standard_tokens(t)) if w != "fox"],
        ),
    ],
)
@pytest.mark.needs_milvus(
    "2.5", "the shared schema: BM25, analyzers, nullable and several vector fields"
)
def test_analyzer_options_drive_text_match_and_bm25(stores, analyzer, tokens):
    db = stores.connect(segment_rows=3)
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("body", DT.VARCHAR, analyzer=analyzer),
            vs.Field("bm", DT.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25("body", "bm")],
    )
    col = db.create_collection("c", schema=schema)
    texts = {
        1: "Café au lait, the café",
        2: "naïve fox jumps over the lazy dog",
        3: "cafe Dog dogs",
        4: "quick brown fox",
        5: "Über über uber",
        6: "hello, world",
    }
    col.insert([{"id": k, "body": t} for k, t in texts.items()])
    for _ in range(2):
        for words in ("cafe", "Café", "dog fox", "über", "uber", "naive", "the", "hello,"):
            want = {k for k, t in texts.items() if set(tokens(t)) & set(tokens(words))}
            got = {r["id"] for r in col.query(f'text_match(body, "{words}")')}
            assert got == want, f"{analyzer}: {words}"
            hits = col.search([words], anns_field="bm", limit=10)[0]
            assert_window(hits, bm25_scores(texts, words, tokens=tokens), 0, 10, what=words)
        db = stores.reopen(db)
        col = db.get_collection("c")
