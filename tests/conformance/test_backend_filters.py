"""The filter language on every backend, expression by expression, against a
plain-Python predicate: ``query``, ``count``, a filtered ``search`` and a
filtered ``delete`` must all select exactly the rows the predicate keeps.

Milvus Lite's parser differs from a Milvus server's; the cases it rejects are
marked with the reason (``lite_differences``), never left out. The Milvus
backend rewrites chained comparisons and ``in`` on JSON paths into exact
equivalents for Lite, so those run everywhere. A Milvus server older than 2.5
(no nullable fields, no analyzers) runs every case on ``PLAIN``, the same
schema without them; the cases that need them are marked ``needs_milvus``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from lite_differences import (
    ARRAY_LENGTH_JSON,
    BOOL_IS_INT,
    MISSING_KEY_NOT_EQUAL,
    MODULO,
    NOT_NULL,
)

import vectorstore as vs
from vectorstore.expr import And, Compare, Field, In, ListLiteral, Literal, Param, Path, Range

DT = vs.DataType
SCHEMA = vs.Schema(
    [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=2),
        vs.Field("n", DT.INT64, nullable=True),
        vs.Field("price", DT.DOUBLE),
        vs.Field("tag", DT.VARCHAR, max_length=16),
        vs.Field("text", DT.VARCHAR, analyzer="standard", nullable=True),
        vs.Field("tags", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=4, max_length=8),
        vs.Field("meta", DT.JSON),
    ],
    enable_dynamic_field=True,
)
PLAIN = vs.Schema(
    [dataclasses.replace(f, nullable=False, analyzer=None) for f in SCHEMA.fields],
    enable_dynamic_field=True,
)
WORDS = ["apple pie", "banana split", "apple banana", None, "cherry"]
NULLS = pytest.mark.needs_milvus("2.5", "nullable fields")
TEXT_MATCH = pytest.mark.needs_milvus("2.5", "text_match")


def make_row(i: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": i,
        "vector": [1.0, float(i) / 10],
        "n": None if i % 5 == 0 else i % 9,
        "price": (i % 7) / 4,
        "tag": "abcde"[i % 5] + ("x" if i % 3 == 0 else ""),
        "text": WORDS[i % 5],
        "tags": ["x", "y", "z"][: i % 4],
        "meta": {"k": i % 3, "s": "hi" if i % 2 else "lo", "arr": [i % 4, i % 5][: 1 + i % 2]},
    }
    if i % 4 == 0:
        row["meta"]["opt"] = True
    if i % 2:
        row["color"] = "red" if i % 3 else "blue"
    return row


ROWS = [make_row(i) for i in range(30)]


def plain_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ``PLAIN``: no nulls."""
    out = dict(row)
    out["n"] = -1 if row["n"] is None else row["n"]
    out["text"] = row["text"] or ""
    return out


def n_cmp(pred: Callable[[int], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda r: r["n"] is not None and pred(r["n"])


def has_word(text: str | None, words: str) -> bool:
    return text is not None and bool(set(text.split()) & set(words.split()))


CASES: list[Any] = [
    pytest.param("n > 3", n_cmp(lambda n: n > 3), id="compare"),
    pytest.param("n >= 3 and n < 7", n_cmp(lambda n: 3 <= n < 7), id="and"),
    pytest.param('n == 2 or tag == "b"', lambda r: r["n"] == 2 or r["tag"] == "b", id="or"),
    pytest.param("n != 2", n_cmp(lambda n: n != 2), id="not-equal"),
    pytest.param("1 < n <= 5", n_cmp(lambda n: 1 < n <= 5), id="chained"),
    pytest.param('tag in ["a", "cx"]', lambda r: r["tag"] in ("a", "cx"), id="in"),
    pytest.param('tag not in ["a", "b"]', lambda r: r["tag"] not in ("a", "b"), id="not-in"),
    pytest.param('tag like "a%"', lambda r: r["tag"].startswith("a"), id="like-prefix"),
    pytest.param(
        'tag like "%x"',
        lambda r: r["tag"].endswith("x"),
        id="like-suffix",
        marks=pytest.mark.needs_milvus("2.5", "like patterns other than a prefix"),
    ),
    pytest.param("price < 0.5", lambda r: r["price"] < 0.5, id="double"),
    pytest.param(
        "n + 1 > 5",
        n_cmp(lambda n: n + 1 > 5),
        id="arith-add",
        marks=pytest.mark.needs_milvus("2.5", "arithmetic compared with >"),
    ),
    pytest.param("n * 2 == 8", n_cmp(lambda n: n * 2 == 8), id="arith-mul"),
    pytest.param("n % 2 == 0", n_cmp(lambda n: n % 2 == 0), id="modulo", marks=MODULO),
    pytest.param("n is null", lambda r: r["n"] is None, id="is-null", marks=NULLS),
    pytest.param("n is not null", lambda r: r["n"] is not None, id="is-not-null", marks=NULLS),
    pytest.param("not (n > 3)", n_cmp(lambda n: not n > 3), id="not-null"),
    pytest.param(
        'not text_match(text, "apple")',
        lambda r: r["text"] is not None and not has_word(r["text"], "apple"),
        id="not-text-match-null",
        marks=[NOT_NULL, TEXT_MATCH],
    ),
    pytest.param('array_contains(tags, "y")', lambda r: "y" in r["tags"], id="array-contains"),
    pytest.param(
        'array_contains_all(tags, ["x", "y"])',
        lambda r: {"x", "y"} <= set(r["tags"]),
        id="array-contains-all",
    ),
    pytest.param(
        'array_contains_any(tags, ["y", "z"])',
        lambda r: bool({"y", "z"} & set(r["tags"])),
        id="array-contains-any",
    ),
    pytest.param("array_length(tags) == 2", lambda r: len(r["tags"]) == 2, id="array-length"),
    pytest.param('tags[0] == "x"', lambda r: r["tags"][:1] == ["x"], id="array-index"),
    pytest.param('meta["k"] == 1', lambda r: r["meta"]["k"] == 1, id="json-key"),
    pytest.param('meta["s"] == "hi"', lambda r: r["meta"]["s"] == "hi", id="json-string"),
    pytest.param(
        'meta["arr"][1] >= 3',
        lambda r: len(r["meta"]["arr"]) > 1 and r["meta"]["arr"][1] >= 3,
        id="json-index",
    ),
    pytest.param('meta["k"] in [0, 2]', lambda r: r["meta"]["k"] in (0, 2), id="json-in"),
    pytest.param(
        'json_contains(meta["arr"], 3)', lambda r: 3 in r["meta"]["arr"], id="json-contains"
    ),
    pytest.param(
        'json_contains_any(meta["arr"], [1, 4])',
        lambda r: bool({1, 4} & set(r["meta"]["arr"])),
        id="json-contains-any",
    ),
    pytest.param(
        'json_contains_all(meta["arr"], [1, 1])',
        lambda r: 1 in r["meta"]["arr"],
        id="json-contains-all",
    ),
    pytest.param(
        'array_length(meta["arr"]) == 2',
        lambda r: len(r["meta"]["arr"]) == 2,
        id="json-array-length",
        marks=ARRAY_LENGTH_JSON,
    ),
    pytest.param('exists meta["opt"]', lambda r: "opt" in r["meta"], id="json-exists"),
    pytest.param('meta["opt"] == true', lambda r: r["meta"].get("opt") is True, id="json-bool"),
    pytest.param('meta["k"] == true', lambda r: False, id="json-bool-vs-int", marks=BOOL_IS_INT),
    pytest.param(
        'meta["opt"] != true',
        lambda r: "opt" not in r["meta"],
        id="json-missing-not-equal",
        marks=MISSING_KEY_NOT_EQUAL,
    ),
    pytest.param('color == "red"', lambda r: r.get("color") == "red", id="dynamic"),
    pytest.param('$meta["color"] == "blue"', lambda r: r.get("color") == "blue", id="meta-key"),
    pytest.param(
        'color in ["red", "blue"] and n > 2',
        lambda r: r.get("color") is not None and r["n"] is not None and r["n"] > 2,
        id="dynamic-in",
    ),
    pytest.param(
        'text_match(text, "apple cherry")',
        lambda r: has_word(r["text"], "apple cherry"),
        id="text-match",
        marks=TEXT_MATCH,
    ),
    pytest.param(
        '!(tag == "a") && n < 5',
        lambda r: r["tag"] != "a" and r["n"] is not None and r["n"] < 5,
        id="symbols",
    ),
]


class Loaded(NamedTuple):
    col: vs.Collection
    rows: list[dict[str, Any]]

    def expect(self, pred: Callable[[dict[str, Any]], bool]) -> list[int]:
        return sorted(r["id"] for r in self.rows if pred(r))


@pytest.fixture
def loaded(db: vs.Client) -> Loaded:
    indexes = [vs.Index("vector", "FLAT", "L2")]
    try:
        c = db.create_collection("f", schema=SCHEMA, indexes=indexes)
        rows = ROWS
    except vs.NotSupportedError:  # a Milvus server before 2.5: no nullable fields
        c = db.create_collection("f", schema=PLAIN, indexes=indexes)
        rows = [plain_row(r) for r in ROWS]
    c.insert(rows)
    return Loaded(c, rows)


def check(col: vs.Collection, want: list[int], **filt: Any) -> None:
    assert sorted(r["id"] for r in col.query(output_fields=["id"], **filt)) == want
    assert col.count(**filt) == len(want)
    hits = col.search([[1.0, 0.0]], limit=len(ROWS), **filt)[0]
    assert sorted(h.id for h in hits) == want
    assert col.delete(**filt) == len(want)
    assert col.count() == len(ROWS) - len(want)


@pytest.mark.parametrize(("expr", "pred"), CASES)
def test_filter_expression(loaded: Loaded, expr: str, pred: Any) -> None:
    designed = [r for r in ROWS if pred(r)]  # every case selects some rows, not all
    assert 0 < len(designed) < len(ROWS) or expr == 'meta["k"] == true'
    check(loaded.col, loaded.expect(pred), filter=expr)


def test_filter_params_bind_as_data(loaded: Loaded) -> None:
    params = {"lo": 2, "tags": ["a", "cx"], "quote": 'it"s'}
    want = loaded.expect(lambda r: r["n"] is not None and r["n"] > 2 and r["tag"] in ("a", "cx"))
    assert loaded.col.count(filter="tag == {quote}", filter_params=params) == 0
    check(loaded.col, want, filter="n > {lo} and tag in {tags}", filter_params=params)


def test_filter_trees_render_on_every_backend(loaded: Loaded) -> None:
    meta_k = Path(Field("meta"), ("k",))
    tree = And(
        (
            Range(Field("n"), Literal(1), Literal(6), upper_inclusive=True),
            In(meta_k, Param("ks")),
            Compare("==", Field("color", dynamic=True), Literal("red")),
        )
    )
    want = loaded.expect(
        lambda r: (
            r["n"] is not None
            and 1 < r["n"] <= 6
            and r["meta"]["k"] in (0, 1)
            and r.get("color") == "red"
        )
    )
    assert want
    check(loaded.col, want, filter=tree, filter_params={"ks": [0, 1]})


@MISSING_KEY_NOT_EQUAL
def test_not_in_on_a_json_path_keeps_missing_keys(loaded: Loaded) -> None:
    # a missing key equals nothing: `not in` is true there (Milvus's JSON rule)
    tree = In(Path(Field("meta"), ("opt",)), ListLiteral((True,)), negated=True)
    check(loaded.col, loaded.expect(lambda r: "opt" not in r["meta"]), filter=tree)
