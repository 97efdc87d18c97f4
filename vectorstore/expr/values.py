"""Internal building blocks of the evaluator.

Row-value containers (numpy columns, per-row Python values, constants), SQL
three-valued logic over masks, JSON-typed equality and ordering, LIKE patterns
and scalar arithmetic. ``evaluate.py`` documents the semantics they implement.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Any, TypeAlias

import numpy as np

from ..columns import ScalarLookup
from ..errors import FilterSyntaxError, FilterTypeError
from ..types import DataType
from .ast import Expr, to_text


class _Missing:
    """Marks an absent JSON key, dynamic key or out-of-range index."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
NULL: Any = object()  # a per-row unknown produced by arithmetic (division by zero)

OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
NUM_TYPES = (int, float)


# ---------------------------------------------------------------- value containers


@dataclass
class Num:
    """A numeric or bool numpy column (or arithmetic on one)."""

    values: np.ndarray
    null: np.ndarray | None
    kind: str  # "int", "float" or "bool"
    label: str
    pos: int | None
    dtype: DataType | None = None
    index: ScalarLookup | None = None  # of the declared field itself (not arithmetic)


@dataclass
class Str:
    """A VARCHAR column: object array of str (None where null)."""

    values: np.ndarray
    null: np.ndarray | None
    label: str
    pos: int | None
    index: ScalarLookup | None = None


@dataclass
class Obj:
    """Per-row Python values: JSON values, dynamic keys, ARRAY elements."""

    values: Any  # a sequence of Python values, MISSING where absent
    null: np.ndarray | None
    label: str
    pos: int | None
    elem: DataType | None = None  # declared type of ARRAY elements


@dataclass
class Arr:
    """A whole ARRAY field: object array of lists (None where null)."""

    values: np.ndarray
    null: np.ndarray | None
    elem: DataType | None
    label: str
    pos: int | None
    index: ScalarLookup | None = None


@dataclass
class Const:
    value: Any  # scalar, or tuple for a list
    pos: int | None


Value: TypeAlias = "Num | Str | Obj | Arr | Const"


@dataclass
class Tri:
    """A three-valued result: ``t`` true rows, ``f`` false rows (None: every non-true row)."""

    t: np.ndarray
    f: np.ndarray | None

    def false(self) -> np.ndarray:
        return ~self.t if self.f is None else self.f


def tri(result: np.ndarray, null: np.ndarray | None) -> Tri:
    """A definite result, made unknown where ``null`` is set."""
    if null is None or not null.any():
        return Tri(result, None)
    known = ~null
    return Tri(result & known, ~result & known)


def tri_not(a: Tri) -> Tri:
    return Tri(a.false(), None if a.f is None else a.t)


def tri_and(a: Tri, b: Tri) -> Tri:
    t = a.t & b.t
    if a.f is None and b.f is None:
        return Tri(t, None)
    return Tri(t, a.false() | b.false())


def tri_or(a: Tri, b: Tri) -> Tri:
    t = a.t | b.t
    if a.f is None and b.f is None:
        return Tri(t, None)
    return Tri(t, a.false() & b.false())


def union(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    result: np.ndarray = np.logical_or(a, b)
    return result


# ------------------------------------------------------------------ typed helpers


def cls_of(v: Any) -> int:
    """Type class: 0 missing, 1 bool, 2 number, 3 str, 4 list, 5 object, 6 JSON null."""
    t = type(v)
    if t is bool:
        return 1
    if t is int or t is float:
        return 2
    if t is str:
        return 3
    if t is list or t is tuple:
        return 4
    if t is dict:
        return 5
    if v is None:
        return 6
    if isinstance(v, (bool, np.bool_)):
        return 1
    if isinstance(v, (int, float, np.integer, np.floating)):
        return 2
    if isinstance(v, str):
        return 3
    return 0


def typed_eq(a: Any, b: Any) -> bool:
    """JSON equality: equal type class and value; lists and objects element-wise."""
    ca = cls_of(a)
    if ca != cls_of(b) or ca == 0:
        return False
    if ca == 4:
        return len(a) == len(b) and all(typed_eq(x, y) for x, y in zip(a, b, strict=True))
    if ca == 5:
        return a.keys() == b.keys() and all(typed_eq(a[k], b[k]) for k in a)
    return bool(a == b)


def typed_cmp(op: str, a: Any, b: Any) -> bool:
    if op == "==":
        return typed_eq(a, b)
    if op == "!=":
        return not typed_eq(a, b)
    ca = cls_of(a)
    if ca != cls_of(b) or ca not in (2, 3):
        return False
    return bool(OPS[op](a, b))


def key_of(v: Any) -> tuple[int, Any] | None:
    """A hashable key equal for typed-equal scalars; None for lists and objects."""
    c = cls_of(v)
    if c in (4, 5, 0):
        return None
    return (c, v)


def is_empty(v: Any) -> bool:
    """Milvus's notion of an absent value: null, or containers of only empty values."""
    stack = [v]
    while stack:
        x = stack.pop()
        if x is None or x is MISSING:
            continue
        if isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        else:
            return False
    return True


def walk_keys(v: Any, keys: tuple[str | int, ...]) -> Any:
    for k in keys:
        if isinstance(k, str):
            if type(v) is not dict:
                return MISSING
            v = v.get(k, MISSING)
        else:
            if type(v) is not list or not 0 <= k < len(v):
                return MISSING
            v = v[k]
    return v


def kind_of(dtype: DataType | None) -> str | None:
    """The comparison class of a declared type: "int", "float", "bool", "str" or None."""
    if dtype is None or dtype == DataType.JSON:
        return None
    if dtype == DataType.BOOL:
        return "bool"
    if dtype.is_integer:
        return "int"
    if dtype.is_float:
        return "float"
    if dtype == DataType.VARCHAR:
        return "str"
    return "array"


def fits(kind: str | None, value: Any) -> bool:
    """Whether a constant may be compared with a value of declared class ``kind``."""
    c = cls_of(value)
    if kind in ("int", "float"):
        return c == 2
    if kind == "bool":
        return c == 1
    if kind == "str":
        return c == 3
    return True


def where(pos: int | None) -> str:
    return f" (at position {pos})" if pos is not None else ""


def describe_const(value: Any) -> str:
    names = {1: "a boolean", 2: "a number", 3: "a string", 4: "a list"}
    return names.get(cls_of(value), type(value).__name__)


# ------------------------------------------------------------------------ LIKE


@lru_cache(maxsize=512)
def like_plan(pattern: str) -> tuple[str, Any]:
    """How to run a LIKE pattern: ``(kind, argument)``.

    ``%`` matches any run of characters (newlines too), ``_`` exactly one, and a
    backslash makes the next character literal. The kind is ``"eq"``,
    ``"prefix"``, ``"suffix"`` or ``"contains"`` (argument: the literal text),
    ``"any"`` (every string matches) or ``"pieces"`` (argument: a ``LikeMatcher``,
    linear in the text whatever the pattern).

    Args:
        pattern: the LIKE pattern.

    Returns:
        The plan.

    Raises:
        FilterSyntaxError: the pattern ends with a lone backslash.
    """
    parts: list[tuple[str, str]] = []  # ("lit", text), ("any", "") for %, ("one", "") for _
    literal: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 == len(pattern):
                raise FilterSyntaxError(
                    "invalid LIKE pattern: a trailing backslash has nothing to escape"
                )
            literal.append(pattern[i + 1])
            i += 2
            continue
        if c in "%_":
            if literal:
                parts.append(("lit", "".join(literal)))
                literal = []
            parts.append(("any" if c == "%" else "one", ""))
        else:
            literal.append(c)
        i += 1
    if literal:
        parts.append(("lit", "".join(literal)))
    kinds = [k for k, _ in parts]
    texts = [t for k, t in parts if k == "lit"]
    if "one" not in kinds and len(texts) <= 1:
        text = texts[0] if texts else ""
        if not parts or kinds == ["lit"]:
            return ("eq", text)
        if not texts:
            return ("any", None)
        lead, trail = kinds[0] == "any", kinds[-1] == "any"
        if lead and trail:
            return ("contains", text)
        return ("suffix", text) if lead else ("prefix", text)
    return ("pieces", LikeMatcher(parts))


class LikeMatcher:
    """A LIKE pattern with ``_`` or several ``%``, matched in linear passes.

    A regex such as ``.*a.*a.*a.*b`` backtracks exponentially on strings that
    almost match; this never does. The pattern is split at ``%`` into pieces of
    fixed length (literal characters and ``_``); the first piece must match at
    the start (unless the pattern starts with ``%``), the last at the end
    (unless it ends with ``%``), and the pieces between are found left to right,
    each at its leftmost place after the previous one, which is optimal when
    ``%`` can absorb anything in between. Each piece is a regex of fixed length
    (no quantifiers), so one search costs at most O(len(text) * len(piece)).
    """

    def __init__(self, parts: list[tuple[str, str]]):
        pieces: list[list[tuple[str, str]]] = [[]]
        for kind, text in parts:
            if kind == "any":
                pieces.append([])
            else:
                pieces[-1].append((kind, text))
        self._percent = len(pieces) > 1
        compiled = [
            (
                re.compile(
                    "".join("." if k == "one" else re.escape(t) for k, t in piece), re.DOTALL
                ),
                sum(1 if k == "one" else len(t) for k, t in piece),
            )
            for piece in pieces
        ]
        self._first, self._last = compiled[0], compiled[-1]
        self._middle = [c for c in compiled[1:-1] if c[1]]

    def __call__(self, text: str) -> bool:
        first, first_len = self._first
        if not self._percent:
            return len(text) == first_len and first.match(text) is not None
        if first_len and first.match(text) is None:
            return False
        pos = first_len
        for piece, _ in self._middle:
            found = piece.search(text, pos)
            if found is None:
                return False
            pos = found.end()
        last, last_len = self._last
        start = len(text) - last_len
        return start >= pos and (not last_len or last.match(text, start) is not None)


@lru_cache(maxsize=512)
def compile_like(pattern: str) -> Callable[[str], bool]:
    """A predicate ``str -> bool`` for a LIKE pattern (see ``like_plan``).

    Args:
        pattern: the LIKE pattern.

    Returns:
        The predicate.

    Raises:
        FilterSyntaxError: the pattern ends with a lone backslash.
    """
    kind, arg = like_plan(pattern)
    if kind == "eq":
        return lambda s: s == arg
    if kind == "prefix":
        return lambda s: s.startswith(arg)
    if kind == "suffix":
        return lambda s: s.endswith(arg)
    if kind == "contains":
        return lambda s: arg in s
    if kind == "any":
        return lambda s: True
    matcher: LikeMatcher = arg
    return matcher


def like_column(pattern: str, column: np.ndarray) -> np.ndarray:
    """LIKE over an object array holding only str (vectorised where possible).

    Args:
        pattern: the LIKE pattern.
        column: object array of str.

    Returns:
        A bool array.
    """
    kind, arg = like_plan(pattern)
    n = len(column)
    if kind == "eq":
        return np.asarray(column == arg, dtype=bool)
    if kind == "any":
        return np.ones(n, bool)
    if kind == "pieces":
        return np.fromiter(map(arg, column), bool, n)
    fns: dict[str, Callable[[str, str], bool]] = {
        "prefix": str.startswith,
        "suffix": str.endswith,
        "contains": operator.contains,
    }
    fn = fns[kind]
    return np.fromiter(map(fn, column, repeat(arg)), bool, n)


# --------------------------------------------------------------------- arithmetic


def py_arith(op: str, x: Any, y: Any) -> Any:
    """Arithmetic on two Python numbers with the engine's rules; NULL for no result."""
    try:
        return _py_arith(op, x, y)
    except (OverflowError, ValueError, ZeroDivisionError):  # e.g. a huge int / float
        return NULL


def _py_arith(op: str, x: Any, y: Any) -> Any:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "/":
        return NULL if y == 0 else x / y
    if y == 0 and op == "%":
        return NULL
    if op == "%" and type(x) is int and type(y) is int:
        rem = abs(x) % abs(y)
        return -rem if x < 0 else rem
    with np.errstate(all="ignore"):
        fn = np.fmod if op == "%" else np.power
        result = float(fn(np.float64(x), np.float64(y)))
    return NULL if math.isnan(result) and op == "**" else result


CONTAINS = {
    "json_contains": "one",
    "array_contains": "one",
    "json_contains_all": "all",
    "array_contains_all": "all",
    "json_contains_any": "any",
    "array_contains_any": "any",
}


def contains(row: Any, needles: tuple[Any, ...], mode: str) -> bool:
    if type(row) is not list:
        return False
    keys = {key_of(x) for x in row}
    found = (
        key_of(n) in keys if key_of(n) is not None else any(typed_eq(x, n) for x in row)
        for n in needles
    )
    return any(found) if mode == "any" else all(found)


# -------------------------------------------------------------------- small helpers


def null_of(v: Value) -> np.ndarray | None:
    return None if isinstance(v, Const) else v.null


def numeric(v: Value) -> Any:
    if isinstance(v, Const):
        return v.value
    assert isinstance(v, Num)
    return v.values.astype(np.int64 if v.kind == "int" else np.float64, copy=False)


def is_int(v: Value) -> bool:
    if isinstance(v, Const):
        return type(v.value) is int
    return isinstance(v, Num) and v.kind == "int"


def declared_kind(v: Value) -> str | None:
    """The comparison class fixed by the schema, or None for JSON / dynamic values."""
    if isinstance(v, Num):
        return v.kind if v.dtype is not None else ("bool" if v.kind == "bool" else "float")
    if isinstance(v, Str):
        return "str"
    if isinstance(v, Arr):
        return "array"
    if isinstance(v, Obj):
        return kind_of(v.elem)
    return None


def short(node: Expr) -> str:
    try:
        text = to_text(node)
    except Exception:  # only for messages
        text = type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def label_of(v: Value | None, node: Expr) -> str:
    if v is None or isinstance(v, Const):
        return f"the constant {short(node)}"
    return v.label


def mismatch(a: Value, b: Value, op: str) -> FilterTypeError:
    pos = getattr(a, "pos", None)
    left = a.label if not isinstance(a, Const) else describe_const(a.value)
    right = describe_const(b.value) if isinstance(b, Const) else b.label
    return FilterTypeError(
        f"cannot compare {left} with {right} using '{op}'{where(pos)}", position=pos
    )
