"""Chinese and Japanese text: the standard tokenizer's CJK split, the jieba tokenizer
and Milvus's ``chinese`` analyzer, and BM25 search over Chinese documents."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.analyzers import Analyzer
from vectorstore.backends._milvus_schema import analyzer_params
from vectorstore.errors import MissingDependencyError, NotSupportedError

SENTENCE = "向量数据库很快。我喜欢向量检索"
DOCS = [
    (1, "向量数据库很快。我喜欢向量检索"),
    (2, "今天天气很好，我们去公园散步"),  # noqa: RUF001 - Chinese punctuation
    (3, "机器学习模型需要大量训练数据"),
]


def test_standard_gives_each_han_character_a_token() -> None:
    # before: r"\w+" made two whole-sentence tokens of this
    assert Analyzer("standard").tokens(SENTENCE) == list("向量数据库很快我喜欢向量检索")


def test_standard_splits_scripts_as_unicode_word_segmentation_does() -> None:
    a = Analyzer("standard")
    # Latin runs beside ideographs stay words; Hiragana per character, Katakana runs
    assert a.tokens("Kestrel支持BM25 ひらがなカタカナ 한국어 단어") == [
        "kestrel", "支", "持", "bm25", "ひ", "ら", "が", "な", "カタカナ", "한국어", "단어",
    ]  # fmt: skip
    assert a.tokens("Plain English stays, as before!") == [
        "plain", "english", "stays", "as", "before",
    ]  # fmt: skip


CJK = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]"
)


@given(st.text(max_size=40))
def test_standard_only_subdivides_word_runs(text: str) -> None:
    """The CJK split never moves, adds or drops a character: it cuts ``\\w+`` runs
    further, and text without CJK characters splits exactly as before."""
    words = re.findall(r"\w+", text)
    tokens = Analyzer({"tokenizer": "standard"}).tokens(text)
    assert "".join(tokens) == "".join(words)
    if not CJK.search(text):
        assert tokens == words


def test_chinese_segments_words_with_jieba() -> None:
    tokens = Analyzer("chinese").tokens(SENTENCE)
    # search mode (Milvus's default) adds the shorter words inside a longer one
    assert tokens == ["向量", "数据", "据库", "数据库", "很快", "我", "喜欢", "向量", "检索"]
    assert Analyzer({"type": "chinese"}).tokens(SENTENCE) == tokens
    # cnalphanumonly: punctuation and tokens with other characters go, case stays
    assert Analyzer("chinese").tokens("Milvus 2.5 支持中文！") == ["Milvus", "支持", "中文"]  # noqa: RUF001


def test_jieba_tokenizer_options() -> None:
    exact = Analyzer({"tokenizer": {"type": "jieba", "mode": "exact"}})
    assert exact.tokens(SENTENCE) == ["向量", "数据库", "很快", "。", "我", "喜欢", "向量", "检索"]
    assert Analyzer({"tokenizer": "jieba", "filter": ["cncharonly"]}).tokens("检索 API 2") == [
        "检索"
    ]
    custom = Analyzer(
        {"tokenizer": {"type": "jieba", "mode": "exact", "dict": ["_default_", "向量检索"]}}
    )
    assert "向量检索" in custom.tokens(SENTENCE)
    assert "向量检索" not in exact.tokens(SENTENCE)  # the shared dictionary is untouched


@pytest.mark.parametrize("analyzer", ["standard", "chinese"])
def test_bm25_finds_the_chinese_document(analyzer: str) -> None:
    schema = vs.Schema(
        fields=[
            vs.Field("id", vs.DataType.INT64, is_primary=True),
            vs.Field("text", vs.DataType.VARCHAR, max_length=200, analyzer=analyzer),
            vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
        ],
        functions=[vs.BM25(input="text", output="sparse")],
    )
    db = vs.connect(":memory:")
    col = db.create_collection("docs", schema=schema)
    col.insert([{"id": i, "text": t} for i, t in DOCS])
    for query, expected in (("向量检索", 1), ("公园", 2), ("训练数据", 3)):
        hits = col.search(data=[query], anns_field="sparse", limit=1)
        assert hits[0][0].id == expected, (analyzer, query)
    assert col.query(filter='text_match(text, "天气")', output_fields=["id"]) == [{"id": 2}]
    db.close()


def test_jieba_prints_nothing_on_first_use() -> None:
    code = (
        "from vectorstore.analyzers import Analyzer\n"
        f"assert Analyzer('chinese').tokens({SENTENCE!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_missing_jieba_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jieba", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"kestrel-vectorstore\[chinese\]"):
        vs.Field("text", vs.DataType.VARCHAR, max_length=10, analyzer="chinese")


def test_milvus_gets_the_chinese_analyzer_as_milvus_names_it() -> None:
    assert analyzer_params("chinese", lite=False) == {"type": "chinese"}
    config = {"tokenizer": {"type": "jieba", "mode": "exact"}, "filter": ["cnalphanumonly"]}
    assert analyzer_params(config, lite=False) == config
    with pytest.raises(NotSupportedError, match="Milvus Lite"):
        analyzer_params("chinese", lite=True)
