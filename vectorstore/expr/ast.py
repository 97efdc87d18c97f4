"""The typed syntax tree of a filter expression.

Every node is a frozen dataclass, so trees are immutable, hashable and compare
by value. ``pos`` (the 0-based offset where the node's text starts, or None for
nodes built by hand) is keyword-only and ignored by ``==`` and ``hash``, so a
tree parsed from text equals the same tree built directly::

    >>> from vectorstore.expr import parse
    >>> from vectorstore.expr.ast import And, Compare, Field, In, ListLiteral, Literal
    >>> parse('views > 10 and tag in ["a", "b"]') == And((
    ...     Compare(">", Field("views"), Literal(10)),
    ...     In(Field("tag"), ListLiteral(("a", "b"))),
    ... ))
    True

Adapters (LangChain, LlamaIndex) build these nodes instead of splicing text, so
values are always data, never code. Node kinds:

- values: ``Literal``, ``ListLiteral``, ``Param``, ``Field``, ``Path``,
  ``Arith``, ``Neg`` and ``Call("array_length", ...)``;
- conditions: ``Compare``, ``Range``, ``In``, ``Like``, ``IsNull``, ``Exists``,
  ``And``, ``Or``, ``Not`` and the ``Call`` contains-functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeAlias
from typing import Literal as TypingLiteral

from ..errors import FilterSyntaxError, FilterTypeError

__all__ = [
    "ARITH_OPS",
    "COMPARE_OPS",
    "FUNCTIONS",
    "And",
    "Arith",
    "Call",
    "Compare",
    "Exists",
    "Expr",
    "Field",
    "In",
    "IsNull",
    "Like",
    "ListLiteral",
    "Literal",
    "Neg",
    "Not",
    "Or",
    "Param",
    "Path",
    "Range",
    "Scalar",
    "check_depth",
    "children",
    "quote",
    "to_text",
    "transform_children",
    "walk",
]

#: A literal scalar value: ``bool``, ``int`` (int64 range), ``float`` or ``str``.
Scalar: TypeAlias = bool | int | float | str

CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]
ArithOp = TypingLiteral["+", "-", "*", "/", "%", "**"]

#: The comparison operators of ``Compare``.
COMPARE_OPS: frozenset[str] = frozenset({"==", "!=", "<", "<=", ">", ">="})
#: The arithmetic operators of ``Arith``.
ARITH_OPS: frozenset[str] = frozenset({"+", "-", "*", "/", "%", "**"})
#: Function name -> number of arguments, for ``Call`` (names are lower case).
FUNCTIONS: dict[str, int] = {
    "json_contains": 2,
    "json_contains_all": 2,
    "json_contains_any": 2,
    "array_contains": 2,
    "array_contains_all": 2,
    "array_contains_any": 2,
    "array_length": 1,
    "text_match": 2,
}


@dataclass(frozen=True)
class Expr:
    """Base class of every node.

    Attributes:
        pos: 0-based offset in the source text where the node starts; None for
            nodes built by hand. Not part of equality or hashing.
    """

    pos: int | None = field(default=None, compare=False, repr=False, kw_only=True)


# ----------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Literal(Expr):
    """A constant: ``5``, ``-1.5``, ``"text"``, ``true``.

    Attributes:
        value: a bool, an int (within int64), a finite float or a str.
    """

    value: Scalar

    # Python says 1 == 1.0 == True; Milvus does not (``x == true`` on a JSON value
    # is not ``x == 1``), and caches keyed on trees must not confuse them.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Literal):
            return NotImplemented
        return bool(_typed(self.value) == _typed(other.value))

    def __hash__(self) -> int:
        return hash(_typed(self.value))


def _typed(value: Any) -> Any:
    """``value`` with the type of every scalar attached, for type-exact equality."""
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    return (type(value).__name__, value)


@dataclass(frozen=True)
class ListLiteral(Expr):
    """A constant list such as ``[1, 2, "a"]`` (for ``in`` and the contains functions).

    Attributes:
        values: the items as plain Python values (scalars, or tuples for nested lists).
    """

    values: tuple[Any, ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ListLiteral):
            return NotImplemented
        return bool(_typed(self.values) == _typed(other.values))

    def __hash__(self) -> int:
        return hash(_typed(self.values))


@dataclass(frozen=True)
class Param(Expr):
    """A ``{name}`` template placeholder, replaced by ``bind`` with a literal.

    Attributes:
        name: the key looked up in the params mapping.
    """

    name: str


@dataclass(frozen=True)
class Field(Expr):
    """A declared field, or a key of the dynamic field.

    A bare name that is not a declared field is a dynamic key when the schema has
    dynamic fields on. ``$meta["k"]`` is always the dynamic key ``k`` and parses as
    ``Field("k", dynamic=True)``.

    Attributes:
        name: the field name or dynamic key.
        dynamic: True when the name must be read from the dynamic field.
    """

    name: str
    dynamic: bool = False


@dataclass(frozen=True)
class Path(Expr):
    """Keys and indexes into a JSON value or an ARRAY field: ``meta["a"][0]``, ``tags[0]``.

    Attributes:
        base: the field (declared JSON / ARRAY field, or dynamic key) the path starts at.
        keys: object keys (str) and list indexes (int >= 0), outermost first.
    """

    base: Field
    keys: tuple[str | int, ...]


@dataclass(frozen=True)
class Arith(Expr):
    """Binary arithmetic: ``views * 2``, ``x % 3``, ``a + b``.

    Attributes:
        op: one of ``+ - * / % **``. ``/`` divides as floats, ``%`` keeps the sign
            of the dividend (C ``fmod``), ``**`` gives a float.
        left: left operand.
        right: right operand.
    """

    op: ArithOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Neg(Expr):
    """Unary minus of a non-literal (``-x``); ``-5`` parses as ``Literal(-5)``.

    Attributes:
        operand: the negated value.
    """

    operand: Expr


@dataclass(frozen=True)
class Call(Expr):
    """A function call.

    ``json_contains(path, value)``, ``json_contains_all(path, [..])``,
    ``json_contains_any(path, [..])``, the ``array_contains*`` synonyms (all six
    accept ARRAY fields, JSON values and dynamic keys), ``array_length(x)`` (a value)
    and ``text_match(field, "words")`` (rows holding any of the words, by the
    field's analyzer).

    Attributes:
        name: the function name, lower case (a key of ``FUNCTIONS``).
        args: the arguments.
    """

    name: str
    args: tuple[Expr, ...]


# ------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Compare(Expr):
    """A comparison ``left op right``.

    Attributes:
        op: one of ``== != < <= > >=``.
        left: left operand.
        right: right operand.
    """

    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Range(Expr):
    """A chained comparison ``lower < expr <= upper`` (``5 > x >= 1`` is normalised).

    Attributes:
        expr: the value tested.
        lower: lower bound.
        upper: upper bound.
        lower_inclusive: True for ``<=`` on the lower side.
        upper_inclusive: True for ``<=`` on the upper side.
    """

    expr: Expr
    lower: Expr
    upper: Expr
    lower_inclusive: bool = False
    upper_inclusive: bool = False


@dataclass(frozen=True)
class In(Expr):
    """Membership: ``expr in [..]`` or ``expr not in [..]``.

    Attributes:
        expr: the value tested.
        values: a ``ListLiteral``, or a ``Param`` bound to a list.
        negated: True for ``not in``.
    """

    expr: Expr
    values: Expr
    negated: bool = False


@dataclass(frozen=True)
class Like(Expr):
    """Pattern match: ``%`` any run of characters, ``_`` one character, ``\\`` escapes.

    Attributes:
        expr: the string value tested.
        pattern: a ``Literal`` string, or a ``Param`` bound to one.
    """

    expr: Expr
    pattern: Expr


@dataclass(frozen=True)
class IsNull(Expr):
    """``expr is null`` / ``expr is not null``.

    Attributes:
        expr: a ``Field`` or ``Path``.
        negated: True for ``is not null``.
    """

    expr: Expr
    negated: bool = False


@dataclass(frozen=True)
class Exists(Expr):
    """``exists meta["k"]`` / ``exists k``: the key holds a non-empty value.

    Attributes:
        expr: a ``Path``, a dynamic key ``Field``, or a JSON ``Field``.
    """

    expr: Expr


@dataclass(frozen=True)
class And(Expr):
    """Conjunction of two or more conditions.

    Attributes:
        items: the conditions.
    """

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or(Expr):
    """Disjunction of two or more conditions.

    Attributes:
        items: the conditions.
    """

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not(Expr):
    """Negation of a condition (SQL three-valued: ``not unknown`` is unknown).

    Attributes:
        expr: the negated condition.
    """

    expr: Expr


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of ``node``, left to right.

    Args:
        node: any node.

    Returns:
        The child nodes (empty for leaves).
    """
    if isinstance(node, (And, Or)):
        return node.items
    if isinstance(node, (Compare, Arith)):
        return (node.left, node.right)
    if isinstance(node, Range):
        return (node.lower, node.expr, node.upper)
    if isinstance(node, In):
        return (node.expr, node.values)
    if isinstance(node, Like):
        return (node.expr, node.pattern)
    if isinstance(node, (Not, IsNull, Exists)):
        return (node.expr,)
    if isinstance(node, Neg):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Path):
        return (node.base,)
    return ()


# ---------------------------------------------------------------------- tree helpers

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: Deepest tree accepted by parse, bind and evaluate (they recurse over the tree).
MAX_DEPTH = 100


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children (iterative, any depth).

    Args:
        node: the root.

    Returns:
        An iterator over the nodes.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def check_depth(node: Expr, limit: int = MAX_DEPTH) -> None:
    """Raise if the tree is deeper than ``limit``.

    Args:
        node: the root.
        limit: the deepest level allowed.

    Raises:
        FilterSyntaxError: the tree is deeper than ``limit`` (position of the node
            that crosses it, when known).
    """
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            where = f" at position {current.pos}" if current.pos is not None else ""
            raise FilterSyntaxError(
                f"expression too deeply nested (over {limit} levels){where}",
                position=current.pos,
            )
        stack.extend((child, depth + 1) for child in children(current))


def transform_children(node: Expr, fn: Callable[[Expr], Expr]) -> Expr:
    """A copy of ``node`` with ``fn`` applied to each direct child (``node`` if none change).

    Args:
        node: the node.
        fn: maps a child to its replacement.

    Returns:
        The rebuilt node, keeping ``pos``.
    """
    changes: dict[str, Any] = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Expr) and not isinstance(node, Path):
            new = fn(value)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, tuple) and value and all(isinstance(v, Expr) for v in value):
            items = tuple(fn(v) for v in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[f.name] = items
    return replace(node, **changes) if changes else node


# ------------------------------------------------------------------------- rendering

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "is", "null", "exists", "true", "false"})
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    """``value`` as a double-quoted filter string literal that parses back to itself.

    Args:
        value: any string.

    Returns:
        The literal, e.g. ``"it\\"s"``.
    """
    out = []
    for c in value:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif not c.isprintable():
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\U{code:08x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterTypeError(f"{value} cannot be written in a filter expression")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    raise FilterTypeError(f"a {type(value).__name__} cannot be written in a filter expression")


def _field_text(node: Field) -> str:
    if node.dynamic:
        return f"$meta[{quote(node.name)}]"
    if not _IDENT.match(node.name) or node.name.lower() in _KEYWORDS:
        raise FilterTypeError(f"field name {node.name!r} cannot be written in a filter expression")
    return node.name


def to_text(node: Expr) -> str:
    """Render a tree as Milvus filter text that parses back to an equal tree.

    Conditions and arithmetic are fully parenthesised; strings are escaped. Used
    to send hand-built trees to a Milvus server, and in error messages.

    Args:
        node: the root.

    Returns:
        The expression text.

    Raises:
        FilterTypeError: the tree holds something text cannot express (an
            infinite float, a field name that is not an identifier).
        FilterSyntaxError: the tree is too deeply nested.
    """
    check_depth(node)
    return _text(node)


def _text(node: Expr) -> str:
    if isinstance(node, Literal):
        return _value_text(node.value)
    if isinstance(node, ListLiteral):
        return _value_text(node.values)
    if isinstance(node, Param):
        return "{" + node.name + "}"
    if isinstance(node, Field):
        return _field_text(node)
    if isinstance(node, Path):
        keys = "".join(f"[{quote(k) if isinstance(k, str) else k}]" for k in node.keys)
        return _field_text(node.base) + keys
    if isinstance(node, Arith):
        return f"({_text(node.left)} {node.op} {_text(node.right)})"
    if isinstance(node, Neg):
        return f"-({_text(node.operand)})"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(_text(a) for a in node.args)})"
    if isinstance(node, Compare):
        return f"({_text(node.left)} {node.op} {_text(node.right)})"
    if isinstance(node, Range):
        lo = "<=" if node.lower_inclusive else "<"
        hi = "<=" if node.upper_inclusive else "<"
        return f"({_text(node.lower)} {lo} {_text(node.expr)} {hi} {_text(node.upper)})"
    if isinstance(node, In):
        return f"({_text(node.expr)} {'not in' if node.negated else 'in'} {_text(node.values)})"
    if isinstance(node, Like):
        return f"({_text(node.expr)} like {_text(node.pattern)})"
    if isinstance(node, IsNull):
        return f"({_text(node.expr)} is {'not ' if node.negated else ''}null)"
    if isinstance(node, Exists):
        return f"(exists {_text(node.expr)})"
    if isinstance(node, (And, Or)):
        if not node.items:
            return "true" if isinstance(node, And) else "false"
        joiner = " and " if isinstance(node, And) else " or "
        return "(" + joiner.join(_text(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"(not {_text(node.expr)})"
    raise FilterTypeError(f"unknown node type {type(node).__name__}")
