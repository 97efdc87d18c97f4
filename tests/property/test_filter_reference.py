"""The vectorised filter evaluator against a plain-Python, row-by-row reference.

Random well-typed expressions are built as trees, rendered to text by a renderer
written here (with random keyword spellings), parsed back by ``vectorstore.expr``
(which must give the same tree) and evaluated over random rows with nulls, JSON
values, arrays and dynamic keys. ``reference_mask`` below shares no code with the
engine: it walks the tree once per row with ordinary Python values.

A fuzz test then feeds arbitrary text and token soups through parse / bind /
evaluate: only Kestrel's own errors may come out.
"""

from __future__ import annotations

import dataclasses
import math
import random
import re
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorstore.columns import ColumnBatch, FieldType
from vectorstore.errors import VectorStoreError
from vectorstore.expr import (
    And,
    Arith,
    Call,
    Compare,
    Exists,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    ListLiteral,
    Literal,
    Neg,
    Not,
    Or,
    Path,
    Range,
    bind,
    compile_filter,
    evaluate,
    parse,
)
from vectorstore.index.scalar import ScalarIndex
from vectorstore.types import DataType as D

# ----------------------------------------------------------------------------- schema

TYPES = {
    "id": FieldType(D.INT64),
    "v": FieldType(D.INT64, nullable=True),
    "small": FieldType(D.INT32),
    "f": FieldType(D.DOUBLE, nullable=True),
    "b": FieldType(D.BOOL, nullable=True),
    "name": FieldType(D.VARCHAR, nullable=True),
    "meta": FieldType(D.JSON, nullable=True),
    "tags": FieldType(D.ARRAY, D.VARCHAR, nullable=True),
    "nums": FieldType(D.ARRAY, D.INT64),
}
NUMERIC_FIELDS = ["id", "v", "small", "f"]

# ------------------------------------------------------------------------------ rows

short_text = st.sampled_from(["", "a", "b", "ab", "ba", "a%b", "x_", "\\", "b\\%"])
json_scalar = st.one_of(
    st.none(),
    st.just(None),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.0]),
    short_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
meta_value = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(["a", "b", "c"]), json_value, max_size=3)
)
dynamic_value = st.fixed_dictionaries(
    {},
    optional={
        "k": json_value,
        "m": json_value,
        "color": json_value,
        "v": json_value,
        "num": st.one_of(st.integers(-5, 5), st.sampled_from([-2.5, 0.5]), json_scalar),
    },
)


@st.composite
def rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        out.append(
            {
                "id": i,
                "v": draw(st.one_of(st.none(), st.integers(-5, 5))),
                "small": draw(st.integers(-3, 3)),
                "f": draw(st.one_of(st.none(), st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.0]))),
                "b": draw(st.one_of(st.none(), st.booleans())),
                "name": draw(st.one_of(st.none(), short_text)),
                "meta": draw(meta_value),
                "tags": draw(st.one_of(st.none(), st.lists(st.sampled_from("xyz"), max_size=3))),
                "nums": draw(st.lists(st.integers(0, 3), max_size=3)),
                "$dyn": draw(dynamic_value),
            }
        )
    return out


def to_batch(data: list[dict[str, Any]]) -> ColumnBatch:
    n = len(data)
    values: dict[str, np.ndarray] = {}
    nulls: dict[str, np.ndarray] = {}
    for name, ftype in TYPES.items():
        column = [row[name] for row in data]
        if ftype.dtype.is_numeric or ftype.dtype == D.BOOL:
            values[name] = np.array(
                [0 if x is None else x for x in column], dtype=ftype.dtype.numpy_dtype
            )
        else:
            arr = np.empty(n, dtype=object)
            arr[:] = column if n else []
            values[name] = arr
        if ftype.nullable:
            nulls[name] = np.array([x is None for x in column], dtype=bool)
    dynamic = np.empty(n, dtype=object)
    for i, row in enumerate(data):
        dynamic[i] = row["$dyn"]
    return ColumnBatch(n, TYPES, values, nulls, dynamic)


# ------------------------------------------------------------------------ reference

UNKNOWN = None  # three-valued result
R_NULL = ("<null>",)  # a null value (SQL unknown)
R_MISSING = ("<missing>",)  # an absent key / index


def kind(value: Any) -> str:
    if value is R_MISSING:
        return "missing"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "null"


def same(a: Any, b: Any) -> bool:
    if kind(a) != kind(b) or kind(a) == "missing":
        return False
    if kind(a) == "list":
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if kind(a) == "object":
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return all(empty(x) for x in value.values())
    if isinstance(value, list):
        return all(empty(x) for x in value)
    return False


def like_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            out += re.escape(next(chars))
        elif c == "%":
            out += "(.|\\n)*"
        elif c == "_":
            out += "(.|\\n)"
        else:
            out += re.escape(c)
    return re.compile(out)


class Reference:
    """Evaluates a tree on one row at a time, in plain Python."""

    def __init__(self, row: dict[str, Any]):
        self.row = row
        self.dyn = row["$dyn"]

    def value(self, node: Expr) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, ListLiteral):
            return node.values
        if isinstance(node, Field):
            if node.dynamic or node.name not in TYPES:
                return self.dyn.get(node.name, R_MISSING)
            value = self.row[node.name]
            return R_NULL if value is None else value
        if isinstance(node, Path):
            value = self.value(node.base)
            if value is R_NULL:
                return R_NULL
            for key in node.keys:
                in_object = isinstance(key, str) and isinstance(value, dict) and key in value
                in_list = isinstance(key, int) and isinstance(value, list) and key < len(value)
                if not (in_object or in_list):
                    return R_MISSING
                value = value[key]
            return value
        if isinstance(node, Neg):
            value = self.value(node.operand)
            if value is R_NULL:
                return R_NULL
            return -value if kind(value) == "number" else R_MISSING
        if isinstance(node, Arith):
            return self.arith(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Call) and node.name == "array_length":
            value = self.value(node.args[0])
            if value is R_NULL:
                return R_NULL
            return len(value) if isinstance(value, list) else R_MISSING
        raise AssertionError(f"not a value: {node}")

    @staticmethod
    def arith(op: str, a: Any, b: Any) -> Any:
        if a is R_NULL or b is R_NULL:
            return R_NULL
        if kind(a) != "number" or kind(b) != "number":
            return R_MISSING
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return R_NULL if b == 0 else a / b
        if op == "%":
            if b == 0:
                return R_NULL
            if isinstance(a, int) and isinstance(b, int):
                return int(math.copysign(abs(a) % abs(b), a))
            return math.fmod(a, b)
        return float(a) ** float(b)

    def compare(self, op: str, a: Any, b: Any) -> bool | None:
        if a is R_NULL or b is R_NULL:
            return UNKNOWN
        if op == "==":
            return same(a, b)
        if op == "!=":
            return not same(a, b)
        if kind(a) != kind(b) or kind(a) not in ("number", "str"):
            return False
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]

    def exists(self, node: Expr) -> bool:
        value = self.value(node)
        return value is not R_NULL and value is not R_MISSING and not empty(value)

    def cond(self, node: Expr) -> bool | None:
        if isinstance(node, And):
            results = [self.cond(i) for i in node.items]
            if False in results:
                return False
            return UNKNOWN if UNKNOWN in results else True
        if isinstance(node, Or):
            results = [self.cond(i) for i in node.items]
            if True in results:
                return True
            return UNKNOWN if UNKNOWN in results else False
        if isinstance(node, Not):
            result = self.cond(node.expr)
            return UNKNOWN if result is UNKNOWN else not result
        if isinstance(node, Compare):
            return self.compare(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Range):
            x = self.value(node.expr)
            low = self.compare(">=" if node.lower_inclusive else ">", x, self.value(node.lower))
            high = self.compare("<=" if node.upper_inclusive else "<", x, self.value(node.upper))
            if low is False or high is False:
                return False
            return UNKNOWN if UNKNOWN in (low, high) else True
        if isinstance(node, In):
            x = self.value(node.expr)
            if x is R_NULL:
                return UNKNOWN
            found = any(same(x, item) for item in node.values.values)  # type: ignore[attr-defined]
            return not found if node.negated else found
        if isinstance(node, Like):
            x = self.value(node.expr)
            if x is R_NULL:
                return UNKNOWN
            pattern = node.pattern.value  # type: ignore[attr-defined]
            return isinstance(x, str) and like_regex(pattern).fullmatch(x) is not None
        if isinstance(node, IsNull):
            target = node.expr
            if isinstance(target, Field) and not target.dynamic and target.name in TYPES:
                result = self.row[target.name] is None
            else:
                result = not self.exists(target)
            return not result if node.negated else result
        if isinstance(node, Exists):
            return self.exists(node.expr)
        if isinstance(node, Call):
            x = self.value(node.args[0])
            if x is R_NULL:
                return UNKNOWN
            if not isinstance(x, list):
                return False
            arg = node.args[1]
            needle = arg.value if isinstance(arg, Literal) else arg.values  # type: ignore[attr-defined]
            if node.name.endswith("_all"):
                return all(any(same(e, n) for e in x) for n in needle)
            if node.name.endswith("_any"):
                return any(any(same(e, n) for e in x) for n in needle)
            return any(same(e, needle) for e in x)
        value = self.value(node)  # a value used as a condition
        if value is R_NULL:
            return UNKNOWN
        return value is True


def reference_mask(expr: Expr, data: list[dict[str, Any]]) -> list[bool]:
    return [Reference(row).cond(expr) is True for row in data]


# ----------------------------------------------------------------------- expressions

num_const = st.one_of(st.integers(-4, 6), st.sampled_from([-1.5, 0.5, 2.0, 2.5]))
str_const = short_text
any_const = st.one_of(st.booleans(), num_const, str_const)
num_field = st.sampled_from(NUMERIC_FIELDS).map(Field)
json_path = st.one_of(
    st.sampled_from([("a",), ("b",), ("a", 0), ("c", "x"), ("a", "a"), ("b", 1)]).map(
        lambda keys: Path(Field("meta"), keys)
    ),
    st.sampled_from(["k", "m", "color", "num", "num"]).map(Field),
    st.sampled_from(["k", "v"]).map(lambda k: Field(k, dynamic=True)),
    st.sampled_from([("a",), (0,)]).map(lambda keys: Path(Field("k"), keys)),
)
tag_elem = st.integers(0, 2).map(lambda i: Path(Field("tags"), (i,)))
num_elem = st.integers(0, 2).map(lambda i: Path(Field("nums"), (i,)))


@st.composite
def num_value(draw: st.DrawFn) -> Expr:
    base = draw(st.one_of(num_field, num_elem))
    choice = draw(st.integers(0, 6))
    if choice == 0:
        op = draw(st.sampled_from(["+", "-", "*", "%", "/"]))
        c = draw(st.integers(1, 4) if op in "%/" else st.integers(-3, 3))
        return Arith(op, base, Literal(c))
    if choice == 1:
        return Arith(
            draw(st.sampled_from(["/", "%", "+"])), Literal(draw(st.integers(-6, 6))), base
        )
    if choice == 2:
        return Arith("**", base, Literal(draw(st.integers(0, 3))))
    if choice == 3:
        return Neg(base)
    if choice == 4:
        return Call("array_length", (draw(st.sampled_from([Field("tags"), Field("nums")])),))
    if choice == 5:
        return Arith(draw(st.sampled_from(["+", "*", "-"])), base, draw(num_field))
    return base


ORDER = ["<", "<=", ">", ">="]
ALL_OPS = ["==", "!=", *ORDER]


@st.composite
def leaf(draw: st.DrawFn) -> Expr:
    # weighted: in, like, is null, exists and the contains functions come up more often
    choice = draw(st.sampled_from([*range(16), 6, 7, 8, 9, 10, 11, 11]))
    if choice == 0:
        left, right = draw(num_value()), Literal(draw(num_const))
        if draw(st.booleans()):
            left, right = right, left
        return Compare(draw(st.sampled_from(ALL_OPS)), left, right)
    if choice == 1:
        return Compare(draw(st.sampled_from(ALL_OPS)), draw(num_field), draw(num_field))
    if choice == 2:
        target = draw(st.one_of(st.just(Field("name")), tag_elem))
        return Compare(draw(st.sampled_from(ALL_OPS)), target, Literal(draw(str_const)))
    if choice == 3:
        const = draw(st.one_of(num_const, str_const, st.booleans()))
        ops = ALL_OPS if not isinstance(const, bool) else ["==", "!="]
        left: Expr = draw(json_path)
        if draw(st.integers(0, 2)) == 0:
            op = draw(st.sampled_from(["+", "*", "-", "%", "/"]))
            divisor = draw(st.sampled_from([-2, 2, 3]) if op in "%/" else st.integers(-2, 2))
            left = Arith(op, left, Literal(divisor))
            if draw(st.booleans()):
                left = Arith(op, Literal(draw(st.integers(-5, 5))), draw(json_path))
            const = draw(num_const)
            ops = ALL_OPS
        return Compare(draw(st.sampled_from(ops)), left, Literal(const))
    if choice == 4:
        items = tuple(draw(st.lists(json_scalar.filter(lambda x: x is not None), max_size=2)))
        return Compare(draw(st.sampled_from(["==", "!="])), draw(json_path), ListLiteral(items))
    if choice == 5:
        lo, hi = sorted(draw(st.lists(st.integers(-4, 6), min_size=2, max_size=2)))
        return Range(
            draw(num_value()), Literal(lo), Literal(hi), draw(st.booleans()), draw(st.booleans())
        )
    if choice == 6:
        target, items = draw(
            st.sampled_from(
                [
                    (num_value(), st.lists(num_const, max_size=4)),
                    (st.just(Field("name")), st.lists(str_const, max_size=6)),
                    (tag_elem, st.lists(st.sampled_from("xyzq"), max_size=3)),
                    (json_path, st.lists(any_const, max_size=4)),
                    (st.just(Field("b")), st.lists(st.booleans(), max_size=2)),
                ]
            )
        )
        return In(draw(target), ListLiteral(tuple(draw(items))), draw(st.booleans()))
    if choice == 7:
        target = draw(st.one_of(st.just(Field("name")), json_path, tag_elem))
        return Like(
            target,
            Literal(
                draw(
                    st.text(alphabet="ab%_\\x", max_size=4).filter(
                        lambda p: not re.search(r"(?<!\\)(\\\\)*\\$", p)
                    )
                )
            ),
        )
    if choice == 8:
        target = draw(st.one_of(st.sampled_from([Field(n) for n in TYPES]), json_path, tag_elem))
        return IsNull(target, draw(st.booleans()))
    if choice == 9:
        return Exists(draw(st.one_of(json_path, tag_elem, st.just(Field("meta")))))
    if choice == 10:
        name = draw(st.sampled_from(["json_contains", "array_contains"]))
        target = draw(st.one_of(json_path, st.just(Path(Field("meta"), ("a",)))))
        if draw(st.booleans()):
            return Call(name, (Field("tags"), Literal(draw(st.sampled_from("xyq")))))
        return Call(name, (target, Literal(draw(any_const))))
    if choice == 11:
        name = draw(
            st.sampled_from(
                [
                    "json_contains_all",
                    "json_contains_any",
                    "array_contains_all",
                    "array_contains_any",
                ]
            )
        )
        if draw(st.booleans()):
            needles = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
            return Call(name, (Field("nums"), ListLiteral(needles)))
        needles = tuple(draw(st.lists(any_const, max_size=3)))
        return Call(name, (draw(json_path), ListLiteral(needles)))
    if choice == 12:
        return draw(st.sampled_from([Field("b"), Path(Field("meta"), ("a",)), Field("k")]))
    if choice == 13:
        return Literal(draw(st.booleans()))
    if choice == 14:
        return Compare(
            draw(st.sampled_from(["==", "!="])),
            Field("tags"),
            ListLiteral(tuple(draw(st.lists(st.sampled_from("xy"), max_size=2)))),
        )
    return Compare(draw(st.sampled_from(ALL_OPS)), draw(json_path), draw(json_path))


expressions = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=6,
)

# -------------------------------------------------------------------------- renderer


def quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'


def render(node: Any, rnd: random.Random) -> str:
    def kw(word: str) -> str:
        return rnd.choice([word, word.upper(), word.capitalize()])

    def r(n: Any) -> str:
        return render(n, rnd)

    if isinstance(node, (bool, int, float, str, tuple)):
        if isinstance(node, bool):
            return kw("true" if node else "false")
        if isinstance(node, int):
            if node >= 0 and rnd.random() < 0.3:
                return rnd.choice([hex(node), oct(node), bin(node)])
            return str(node)
        if isinstance(node, float):
            return repr(node)
        if isinstance(node, str):
            return quote(node)
        trailing = "," if node and rnd.random() < 0.2 else ""
        return "[" + ", ".join(r(x) for x in node) + trailing + "]"
    if isinstance(node, Literal):
        return r(node.value)
    if isinstance(node, ListLiteral):
        return r(node.values)
    if isinstance(node, Field):
        return f"$meta[{quote(node.name)}]" if node.dynamic else node.name
    if isinstance(node, Path):
        return r(node.base) + "".join(
            f"[{quote(k) if isinstance(k, str) else k}]" for k in node.keys
        )
    if isinstance(node, Arith):
        return f"({r(node.left)} {node.op} {r(node.right)})"
    if isinstance(node, Neg):
        return f"-({r(node.operand)})"
    if isinstance(node, Call):
        name = node.name.upper() if rnd.random() < 0.3 else node.name
        return f"{name}({', '.join(r(a) for a in node.args)})"
    if isinstance(node, Compare):
        return f"({r(node.left)} {node.op} {r(node.right)})"
    if isinstance(node, Range):
        lo, hi = ("<=" if node.lower_inclusive else "<"), ("<=" if node.upper_inclusive else "<")
        if rnd.random() < 0.5:
            return f"({r(node.lower)} {lo} {r(node.expr)} {hi} {r(node.upper)})"
        return (
            f"({r(node.upper)} {hi.replace('<', '>')} {r(node.expr)} "
            f"{lo.replace('<', '>')} {r(node.lower)})"
        )
    if isinstance(node, In):
        op = f"{kw('not')} {kw('in')}" if node.negated else kw("in")
        return f"({r(node.expr)} {op} {r(node.values)})"
    if isinstance(node, Like):
        return f"({r(node.expr)} {kw('like')} {r(node.pattern)})"
    if isinstance(node, IsNull):
        middle = f"{kw('not')} " if node.negated else ""
        return f"({r(node.expr)} {kw('is')} {middle}{kw('null')})"
    if isinstance(node, Exists):
        return f"({kw('exists')} {r(node.expr)})"
    if isinstance(node, And):
        return "(" + rnd.choice([" and ", " AND ", " && "]).join(r(i) for i in node.items) + ")"
    if isinstance(node, Or):
        return "(" + rnd.choice([" or ", " OR ", " || "]).join(r(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"({rnd.choice([kw('not') + ' ', '!'])}{r(node.expr)})"
    raise AssertionError(node)


# ----------------------------------------------------------------------------- tests


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expressions, data=rows(), rnd=st.randoms(use_true_random=False))
def test_engine_matches_reference(
    expr: Expr, data: list[dict[str, Any]], rnd: random.Random
) -> None:
    text = render(expr, rnd)
    parsed = parse(text)
    assert parsed == expr, text
    mask = evaluate(parsed, to_batch(data))
    assert mask.tolist() == reference_mask(expr, data), text


@settings(max_examples=100, deadline=None)
@given(expr=expressions, data=rows())
def test_not_never_keeps_a_row_twice(expr: Expr, data: list[dict[str, Any]]) -> None:
    """A row passes at most one of ``e`` and ``not e`` (unknown rows pass neither)."""
    batch = to_batch(data)
    both = evaluate(expr, batch) & evaluate(Not(expr), batch)
    assert not both.any()


# ------------------------------------------------------------------------------ fuzz

# fmt: off
TOKENS = [
    "id", "v", "f", "b", "name", "meta", "tags", "nums", "k", "color", "$meta", "x",
    "and", "OR", "not", "!", "&&", "||", "in", "NOT IN", "like", "is", "null", "IS NOT NULL",
    "exists", "true", "False", "==", "!=", "<", "<=", ">", ">=", "=", "+", "-", "*", "/", "%",
    "**", "(", ")", "[", "]", "{", "}", ",", "0", "1", "-1", "0x1F", "017", "0b1", "1.5",
    "1e999", "9223372036854775808", '"a"', "'b%'", '"\\%"', '"\\"', "'", '"', "\\",
    '["a"]', "[0]", "[99]", "{p}", "{q}", "{missing}", "json_contains", "array_contains_all",
    "json_contains_any", "array_length", "text_match", "foo", "@", "#", "é", "\n",
]
# fmt: on
PARAMS = {"p": 1, "q": [1, "a", [2]]}


def _run(text: str, params: dict[str, Any] | None = None) -> None:
    batch = to_batch(FUZZ_ROWS)
    try:
        expr = compile_filter(text, PARAMS if params is None else params)
        evaluate(expr, batch)
    except VectorStoreError:
        pass


FUZZ_ROWS = [
    {
        "id": 0,
        "v": None,
        "small": 1,
        "f": 0.5,
        "b": True,
        "name": "a%",
        "meta": {"a": [1]},
        "tags": ["x"],
        "nums": [0],
        "$dyn": {"k": "x", "color": None},
    },
    {
        "id": 1,
        "v": 0,
        "small": -2,
        "f": None,
        "b": None,
        "name": None,
        "meta": None,
        "tags": None,
        "nums": [],
        "$dyn": {},
    },
]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_our_errors(text: str) -> None:
    _run(text)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join))
def test_token_soup_raises_only_our_errors(text: str) -> None:
    _run(text)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join),
    value=st.recursive(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=3),
            st.binary(max_size=2),
        ),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2), inner, max_size=2)
        ),
        max_leaves=5,
    ),
)
def test_arbitrary_params_raise_only_our_errors(text: str, value: Any) -> None:
    _run(text, {"p": value, "q": value})


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(any_const, st.lists(any_const, max_size=3)))
def test_binding_a_rendered_literal_equals_parsing_it(value: Any) -> None:
    """``x == {p}`` bound to a value gives the same tree as the value written as text."""
    rnd = random.Random(0)
    as_text = parse(f"x == {render(tuple(value) if isinstance(value, list) else value, rnd)}")
    assert bind(parse("x == {p}"), {"p": value}) == as_text


INDEXABLE = ["id", "v", "small", "f", "b", "name", "tags", "nums"]


@st.composite
def indexable_leaf(draw: st.DrawFn) -> Expr:
    """A condition a scalar index answers: a plain field against constants."""
    choice = draw(st.integers(0, 5))
    if choice == 0:
        left, right = draw(num_field), Literal(draw(num_const))
        if draw(st.booleans()):
            left, right = right, left
        return Compare(draw(st.sampled_from(ALL_OPS)), left, right)
    if choice == 1:
        return Compare(draw(st.sampled_from(ALL_OPS)), Field("name"), Literal(draw(str_const)))
    if choice == 2:
        target, items = draw(
            st.sampled_from(
                [
                    (num_field, st.lists(num_const, max_size=4)),
                    (st.just(Field("name")), st.lists(str_const, max_size=4)),
                    (st.just(Field("b")), st.lists(st.booleans(), max_size=2)),
                ]
            )
        )
        return In(draw(target), ListLiteral(tuple(draw(items))), draw(st.booleans()))
    if choice == 3:
        pattern = draw(st.text(alphabet="ab%_x", max_size=3))
        return Like(Field("name"), Literal(draw(st.sampled_from([pattern, pattern + "%"]))))
    if choice == 4:
        lo, hi = sorted(draw(st.lists(num_const, min_size=2, max_size=2)))
        return Range(
            draw(num_field), Literal(lo), Literal(hi), draw(st.booleans()), draw(st.booleans())
        )
    name = draw(st.sampled_from(["array_contains", "array_contains_all", "array_contains_any"]))
    if draw(st.booleans()):
        needles = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        arg: Expr = (
            ListLiteral(needles)
            if name != "array_contains"
            else Literal(needles[0] if needles else 1)
        )
        return Call(name, (Field("nums"), arg))
    words = tuple(draw(st.lists(st.sampled_from("xyq"), max_size=3)))
    arg = ListLiteral(words) if name != "array_contains" else Literal(words[0] if words else "x")
    return Call(name, (Field("tags"), arg))


indexable_expressions = st.recursive(
    st.one_of(indexable_leaf(), indexable_leaf(), leaf()),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=4,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=indexable_expressions,
    data=rows(),
    indexed=st.lists(st.sampled_from(INDEXABLE), unique=True, min_size=1),
)
def test_scalar_indexes_never_change_an_answer(
    expr: Expr, data: list[dict[str, Any]], indexed: list[str]
) -> None:
    """A filter over fields with scalar indexes (which answer ==, in, ranges,
    prefix like and array_contains from sorted entries) keeps exactly the rows
    the reference keeps."""
    batch = to_batch(data)
    indexes = {
        name: ScalarIndex.build(batch.values[name], batch.nulls.get(name), TYPES[name].dtype)
        for name in indexed
    }
    mask = evaluate(expr, dataclasses.replace(batch, indexes=indexes))
    assert mask.tolist() == reference_mask(expr, data), repr(expr)
