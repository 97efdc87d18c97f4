"""Analyzers: tokenisation, filters, term ids and their schema options."""

from __future__ import annotations

import re
import threading

import pytest
import snowballstemmer

import vectorstore as vs
from vectorstore.analyzers import ENGLISH_STOP_WORDS, Analyzer, term_id
from vectorstore.errors import SchemaError

DT = vs.DataType


def test_standard_splits_unicode_words_and_lowercases() -> None:
    a = Analyzer("standard")
    assert a.tokens("Hello, World! Café-au-lait x_y 3.14 ÉCOLE") == [
        "hello", "world", "café", "au", "lait", "x_y", "3", "14", "école",
    ]  # fmt: skip
    assert a.tokens("") == [] and a.tokens("  ,;  ") == []


def test_english_drops_stop_words_and_stems_like_snowball() -> None:
    a = Analyzer("english")
    text = "The flows were running over the wings and wing-tips of aircraft"
    stem = snowballstemmer.stemmer("english").stemWord
    stems = [stem(w) for w in re.findall(r"\w+", text.lower())]
    assert a.tokens(text) == [s for s in stems if s not in ENGLISH_STOP_WORDS]
    assert "the" not in a.tokens(text) and "flow" in a.tokens(text)
    # Milvus's order: stems first, then stop words, so words whose stem is one go too
    assert a.tokens("its theirs willing being") == []


def test_whitespace_keeps_case_and_punctuation() -> None:
    assert Analyzer("whitespace").tokens("Hello, World!") == ["Hello,", "World!"]


def test_custom_chains() -> None:
    a = Analyzer(
        {
            "tokenizer": "standard",
            "filter": [
                "lowercase",
                "asciifolding",
                {"type": "stop", "stop_words": ["cafe", "_english_"]},
                {"type": "length", "min": 2, "max": 5},
            ],
        }
    )
    # "the"/"a" are stop words, "cafe" a custom one; "serves"/"brulee" too long, "x" too short
    assert a.tokens("The Café serves a crème brûlée x") == ["creme"]
    assert Analyzer({"type": "english", "stop_words": ["flow"]}).tokens("the flows") == ["the"]
    assert Analyzer({"type": "standard", "stop_words": "_english_"}).tokens("the A") == []
    assert Analyzer({"type": "standard"}).tokens("A B") == ["a", "b"]


@pytest.mark.parametrize(
    "config",
    [
        "klingon",
        {"type": "klingon"},
        {"tokenizer": "klingon"},
        {"tokenizer": {"type": "jieba", "mode": "fast"}},
        {"tokenizer": {"type": "jieba", "dict": ["only", "mine"]}},
        {"tokenizer": {"type": "jieba", "colour": "blue"}},
        {"tokenizer": {"type": "standard", "colour": "blue"}},
        {"type": "chinese", "stop_words": 42},
        {"tokenizer": "standard", "filter": ["shout"]},
        {"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]},
        {"tokenizer": "standard", "filter": [{"type": "length", "max": 0}]},
        {"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": 42}]},
        {"tokenizer": "standard", "filter": "lowercase"},
        {"tokenizer": "standard", "colour": "blue"},
        {"type": "english", "colour": "blue"},
        42,
    ],
)
def test_bad_analyzers_are_schema_errors(config: object) -> None:
    with pytest.raises(SchemaError):
        Analyzer(config)  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        vs.Field("text", DT.VARCHAR, analyzer=config)  # type: ignore[arg-type]


def test_analyzer_only_on_varchar() -> None:
    with pytest.raises(SchemaError, match="VARCHAR"):
        vs.Field("n", DT.INT64, analyzer="standard")


def test_term_counts_and_ids() -> None:
    a = Analyzer("english")
    counts = a.term_counts("flow flows FLOWING the wing")
    assert counts == {term_id("flow"): 3.0, term_id("wing"): 1.0}
    assert a.term_counts(None) == {} and a.term_counts("the of and") == {}
    assert a.term_ids("wing flow wing").tolist() == sorted([term_id("flow"), term_id("wing")])
    assert term_id("") == term_id("") and all(term_id(t) > 0 for t in ("a", "b", ""))


def test_memoised_ids_are_consistent_across_threads() -> None:
    a = Analyzer("english")
    words = [f"word{i} running{i % 7}" for i in range(2000)]
    expected = [Analyzer("english").term_counts(w) for w in words]
    results: list[list[dict[int, float]]] = [[] for _ in range(4)]

    def work(slot: int) -> None:
        results[slot] = [a.term_counts(w) for w in words]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def test_schema_round_trips_analyzer_configs() -> None:
    custom = {"tokenizer": "whitespace", "filter": ["lowercase"]}
    schema = vs.Schema(
        [
            vs.Field("id", DT.INT64, is_primary=True),
            vs.Field("a", DT.VARCHAR, analyzer="english"),
            vs.Field("b", DT.VARCHAR, analyzer=custom),
            vs.Field("v", DT.FLOAT_VECTOR, dim=2),
        ]
    )
    again = vs.Schema.from_dict(schema.to_dict())
    assert again == schema and again["b"].analyzer == custom
    assert again.analyzer("b").tokens("A b") == ["a", "b"]
    assert again.analyzer("a").tokens("The flows") == ["flow"]
    with pytest.raises(SchemaError):
        again.analyzer("id")
