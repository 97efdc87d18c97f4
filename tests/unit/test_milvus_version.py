"""What the Milvus backend does by server version, without a server: version
parsing, the refusals' wording, the features a schema or filter needs, and the
int64 rewrite for older parsers checked against Kestrel's own evaluator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.backends._milvus_query import (
    INT64_MIN,
    after_filter,
    keys_filter,
    render_filter,
    server_rewrite,
)
from vectorstore.backends._milvus_version import (
    NEWER_FIX,
    Feature,
    ServerInfo,
    check_index,
    filter_gaps,
    milvus_scalar_type,
    schema_gaps,
)
from vectorstore.columns import ColumnBatch, FieldType
from vectorstore.errors import NotSupportedError
from vectorstore.expr import (
    And,
    Compare,
    Expr,
    Field,
    In,
    ListLiteral,
    Literal,
    Or,
    Path,
    evaluate,
    parse,
)
from vectorstore.expr.ast import CompareOp
from vectorstore.types import DataType as D

URI = "http://127.0.0.1:19530"
OLD = ServerInfo.parse(URI, "v2.3.5-lite", lite=False)
V24 = ServerInfo.parse(URI, "v2.4.13", lite=False)
NEW = ServerInfo.parse(URI, "v2.5.4", lite=False)
LITE = ServerInfo.parse("milvus-lite:///tmp/x.db", "milvus_lite-3.2.2", lite=True)
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    ("reported", "lite", "version", "name"),
    [
        ("v2.3.5-lite", False, (2, 3, 5), "Milvus 2.3.5"),
        ("v2.5.10", False, (2, 5, 10), "Milvus 2.5.10"),
        ("2.4", False, (2, 4, 0), "Milvus 2.4.0"),
        ("milvus_lite-3.2.2", True, None, "Milvus Lite 3.2.2"),
        ("nightly", False, None, "Milvus nightly"),
    ],
)
def test_versions_are_read(
    reported: str, lite: bool, version: tuple[int, int, int] | None, name: str
) -> None:
    info = ServerInfo.parse(URI, reported, lite)
    assert info.version == version
    assert info.name == name


def test_features_by_version() -> None:
    assert not OLD.has(Feature.SPARSE) and not OLD.templating
    assert V24.has(Feature.SPARSE) and V24.has(Feature.HYBRID_SEARCH)
    assert not V24.has(Feature.BM25) and not V24.templating
    assert all(NEW.has(f) for f in Feature)
    assert all(LITE.has(f) for f in Feature if f is not Feature.TEMPLATING)
    assert not LITE.templating
    unknown = ServerInfo.parse(URI, "nightly", lite=False)
    assert all(unknown.has(f) for f in Feature)  # the server decides


def test_a_refusal_names_what_why_and_the_fix() -> None:
    gaps = [(Feature.SPARSE, "field 'sparse' is SPARSE_FLOAT_VECTOR")]
    with pytest.raises(NotSupportedError) as err:
        OLD.require("hold collection 'docs'", gaps, NEWER_FIX)
    assert str(err.value) == (
        "Milvus 2.3.5 at http://127.0.0.1:19530 cannot hold collection 'docs': field "
        f"'sparse' is SPARSE_FLOAT_VECTOR (needs Milvus >= 2.4). {NEWER_FIX}"
    )
    V24.require("hold collection 'docs'", gaps, NEWER_FIX)  # no error


def test_schema_gaps_name_every_field() -> None:
    schema = vs.Schema(
        [
            vs.Field("id", D.INT64, is_primary=True),
            vs.Field("dense", D.FLOAT_VECTOR, dim=2),
            vs.Field("text", D.VARCHAR, max_length=64, analyzer="standard"),
            vs.Field("sparse", D.SPARSE_FLOAT_VECTOR),
            vs.Field("n", D.INT64, nullable=True),
            vs.Field("d", D.INT64, default_value=3),
        ],
        functions=[vs.BM25("text", "sparse")],
    )
    features = [f for f, _ in schema_gaps(schema)]
    assert features == [
        Feature.MULTI_VECTOR,
        Feature.ANALYZER,
        Feature.SPARSE,
        Feature.NULLABLE,
        Feature.DEFAULT_VALUE,
        Feature.BM25,
    ]
    with pytest.raises(NotSupportedError, match=r"field 'n' is nullable \(needs Milvus >= 2.5\)"):
        V24.require("hold collection 'c'", schema_gaps(schema), NEWER_FIX)
    plain = vs.Schema([vs.Field("id", D.INT64, is_primary=True), schema["dense"]])
    assert schema_gaps(plain) == []


def test_filter_gaps_and_refusal_before_sending() -> None:
    assert [f for f, _ in filter_gaps(parse('n is null or text_match(t, "a")'))] == [
        Feature.IS_NULL,
        Feature.TEXT_MATCH,
    ]
    assert filter_gaps(parse("n > 1")) == []
    with pytest.raises(NotSupportedError, match="is null"):
        render_filter("n is not null", None, OLD, "id")
    assert render_filter("n is not null", None, NEW, "id").text == "n is not null"


def test_filter_params_are_inlined_without_templating() -> None:
    assert render_filter("n > {lo}", {"lo": 2}, NEW, "id").params == {"lo": 2}
    old = render_filter("n > {lo} and tag in {tags}", {"lo": 2, "tags": ['a"b']}, OLD, "id")
    assert old.params is None
    assert old.text == '((n > 2) and (tag in ["a\\"b"]))'
    assert (
        render_filter("n > 1", None, OLD, "id").text == "n > 1"
    )  # as written when nothing changes
    assert keys_filter("id", [1, 2], NEW).params == {"__keys": [1, 2]}
    assert keys_filter("id", [1, INT64_MIN], OLD).text == (
        "((id in [1]) or (id == (-9223372036854775807 - 1)))"
    )
    assert after_filter("id", "k'1", OLD).text == '(id > "k\'1")'
    assert after_filter("id", INT64_MIN, OLD).text == "(id > (-9223372036854775807 - 1))"


# ------------------------------------------------ the int64 rewrite, by reference

VALUES = [INT64_MIN, INT64_MIN + 1, -1, 0, 7, INT64_MAX, None]
N = len(VALUES)


def _batch() -> ColumnBatch:
    k = np.array([0 if v is None else v for v in VALUES], dtype=np.int64)
    j = np.empty(N, dtype=object)
    j[:] = [{"x": v} if v is not None else {} for v in VALUES]
    return ColumnBatch(
        N,
        {"id": FieldType(D.INT64), "k": FieldType(D.INT64, nullable=True), "j": FieldType(D.JSON)},
        {"id": np.arange(N, dtype=np.int64), "k": k, "j": j},
        {"k": np.array([v is None for v in VALUES])},
        None,
    )


BATCH = _batch()
OPERANDS = st.sampled_from([Field("k"), Path(Field("j"), ("x",))])
CONSTANTS = st.sampled_from([v for v in VALUES if v is not None])
OPS: list[CompareOp] = ["==", "!=", "<", "<=", ">", ">="]


@st.composite
def int64_filters(draw: Any) -> Expr:
    operand = draw(OPERANDS)
    if draw(st.booleans()):
        values = draw(st.lists(CONSTANTS, max_size=4))
        return In(operand, ListLiteral(tuple(values)), negated=draw(st.booleans()))
    literal = Literal(draw(CONSTANTS))
    op = draw(st.sampled_from(OPS))
    return Compare(op, literal, operand) if draw(st.booleans()) else Compare(op, operand, literal)


@settings(max_examples=300, deadline=None)
@given(int64_filters())
def test_the_int64_rewrite_selects_the_same_rows(tree: Expr) -> None:
    rewritten = server_rewrite(tree)
    text = render_filter(tree, None, OLD, "id").text
    assert "9223372036854775808" not in text
    want = evaluate(tree, BATCH).tolist()
    assert evaluate(rewritten, BATCH).tolist() == want
    assert evaluate(parse(text), BATCH).tolist() == want


def test_row_gaps_find_json_non_objects_and_the_largest_key() -> None:
    from vectorstore.backends._milvus_version import row_gaps
    from vectorstore.rows import prepare_rows

    schema = vs.Schema(
        [
            vs.Field("id", D.INT64, is_primary=True),
            vs.Field("v", D.FLOAT_VECTOR, dim=2),
            vs.Field("j", D.JSON, nullable=True),
        ]
    )
    rows = [{"id": 1, "v": [0.0, 1.0], "j": {"a": 1}}, {"id": 2, "v": [0.0, 1.0], "j": None}]
    assert row_gaps(schema, prepare_rows(schema, rows, False)) == []
    bad = [*rows, {"id": INT64_MAX, "v": [1.0, 0.0], "j": [1, 2]}]
    gaps = row_gaps(schema, prepare_rows(schema, bad, False))
    assert gaps == [
        (Feature.INT64_MAX_KEY, f"row 2 has the key {INT64_MAX}"),
        (Feature.JSON_VALUES, "row 2: field 'j' holds a list"),
    ]


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ('s like "ab%"', None),
        ('s like "ab"', None),
        ('s like "%b"', Feature.LIKE_PATTERN),
        ('s like "a_%"', Feature.LIKE_PATTERN),
        ('s like "a\\\\%%"', Feature.LIKE_PATTERN),
        ("n * 2 == 8", None),
        ("n + 1 > 5", Feature.ARITH_ORDER),
        ("5 <= -n", Feature.ARITH_ORDER),
        ("1 < n + 1 < 5", Feature.ARITH_ORDER),
    ],
)
def test_what_older_parsers_refuse(text: str, feature: Feature | None) -> None:
    assert [f for f, _ in filter_gaps(parse(text))] == ([feature] if feature else [])


@pytest.mark.parametrize(
    "text", ["true", "false", "not true", "k > 0 or false", "true and not (k == 7 or false)"]
)
def test_constant_conditions_select_the_same_rows(text: str) -> None:
    tree = parse(text)
    sent = render_filter(tree, None, OLD, "id").text
    assert "true" not in sent and "false" not in sent
    assert evaluate(parse(sent), BATCH).tolist() == evaluate(tree, BATCH).tolist()
    assert render_filter('j["x"] == true', None, OLD, "id").text == 'j["x"] == true'
    assert render_filter(And(()), None, OLD, "id").text == "(id == id)"
    assert render_filter(Or(()), None, OLD, "id").text == "(id != id)"


def test_ivf_search_parameters_for_milvus() -> None:
    from vectorstore.backends._milvus_query import search_params
    from vectorstore.search import search_params as check
    from vectorstore.types import Metric

    checked = check("v", {"nprobe": 16}, 10, Metric.L2, False, "IVF_SQ8")
    assert search_params(checked, Metric.L2, "IVF_SQ8", False) == {
        "metric_type": "L2",
        "params": {"nprobe": 16},
    }
    refined = check("v", {"refine_k": 4}, 10, Metric.L2, False, "IVF_SQ8")
    with pytest.raises(NotSupportedError, match="refine_k is Kestrel's"):
        search_params(refined, Metric.L2, "IVF_SQ8", False)


SCALAR_SCHEMA = vs.Schema(
    [
        vs.Field("id", D.INT64, is_primary=True),
        vs.Field("vector", D.FLOAT_VECTOR, dim=2),
        vs.Field("tag", D.VARCHAR, max_length=8),
        vs.Field("n", D.INT32),
        vs.Field("x", D.DOUBLE),
        vs.Field("flag", D.BOOL),
        vs.Field("nums", D.ARRAY, element_type=D.INT64, max_capacity=4),
    ]
)


@pytest.mark.parametrize(
    ("server", "field", "kind", "sent"),
    [
        (OLD, "tag", "INVERTED", "Trie"),
        (OLD, "tag", "BITMAP", "Trie"),
        (OLD, "n", "INVERTED", "STL_SORT"),
        (OLD, "x", "STL_SORT", "STL_SORT"),
        (OLD, "flag", "INVERTED", None),
        (OLD, "nums", "BITMAP", None),
        (V24, "tag", "Trie", "Trie"),
        (V24, "flag", "BITMAP", "INVERTED"),
        (V24, "nums", "INVERTED", "INVERTED"),
        (NEW, "flag", "BITMAP", "BITMAP"),
        (LITE, "n", "STL_SORT", "INVERTED"),
        (LITE, "tag", "Trie", "INVERTED"),
        (LITE, "nums", "INVERTED", None),
    ],
)
def test_scalar_indexes_are_sent_as_what_the_server_builds(
    server: ServerInfo, field: str, kind: str, sent: str | None
) -> None:
    """Kestrel's four scalar index names are one index; each Milvus builds some of
    them: the one it has for the field's type is sent, or the call is refused."""
    index = vs.Index(field, kind).fit(SCALAR_SCHEMA)
    if sent is None:
        with pytest.raises(NotSupportedError, match=f"field {field!r}"):
            check_index(server, SCALAR_SCHEMA, index)
    else:
        check_index(server, SCALAR_SCHEMA, index)
        assert milvus_scalar_type(server, SCALAR_SCHEMA, index) == sent
