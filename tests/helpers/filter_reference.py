"""A plain-Python, row-by-row reference for the filter language, and random rows
to run it on.

``TYPES`` is the schema of the rows; ``rows()`` draws rows with nulls, JSON values,
arrays and dynamic keys; ``to_batch`` makes them the engine's ``ColumnBatch``.
``reference_mask`` shares no code with the engine: it walks an expression tree
once per row with ordinary Python values, in SQL's three-valued logic. Used by
tests/property/test_filter_reference.py, test_filter_fuzz_evaluator.py and
test_scalar_index_reference.py (the expressions are in filter_expressions.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from hypothesis import strategies as st

from vectorstore.columns import ColumnBatch, FieldType
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
)
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
    return bool(a == b)


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
        return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])

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
            needle: Any = arg.value if isinstance(arg, Literal) else arg.values  # type: ignore[attr-defined]
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
