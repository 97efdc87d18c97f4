"""Filter text -> syntax tree (templates are bound in ``templates``).

The text is parsed with lark (LALR, never ``eval``); lark's parse tree is turned
into ``vectorstore.expr.ast`` nodes without recursion, so no input can exhaust
the Python stack. Every failure is a ``FilterSyntaxError`` naming the 0-based
position (``error.position``, and "at position N" in the message).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import lark
from lark import Lark, Token, Tree

from ..errors import FilterSyntaxError
from .ast import (
    FUNCTIONS,
    INT64_MAX,
    INT64_MIN,
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
    Param,
    Path,
    Range,
    check_depth,
    walk,
)
from .grammar import GRAMMAR, TERMINAL_NAMES, VALUE_START
from .values import compile_like

__all__ = ["field_names", "parse"]

_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True)

#: Deepest bracket nesting accepted, checked before parsing.
MAX_NESTING = 100

_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
    "\\": "\\", "'": "'", '"': '"', "?": "?", "/": "/",
}  # fmt: skip
_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")


# --------------------------------------------------------------------------- errors


def _error(text: str, pos: int, detail: str) -> FilterSyntaxError:
    """A FilterSyntaxError for ``text`` at ``pos`` with a caret under the spot."""
    pos = max(0, min(pos, len(text)))
    start = max(0, pos - 40)
    snippet = text[start : pos + 40]
    snippet = "".join(c if c.isprintable() else " " for c in snippet)
    prefix = "..." if start else ""
    caret = " " * (len(prefix) + pos - start) + "^"
    message = f"invalid filter at position {pos}: {detail}\n  {prefix}{snippet}\n  {caret}"
    return FilterSyntaxError(message, expression=text, position=pos)


def _describe_expected(expected: set[str]) -> str:
    names = set(expected)
    parts: list[str] = []
    if len(names & VALUE_START) >= 5:
        parts.append("an expression" if "NOT" in names else "a value")
        names -= VALUE_START | {"NOT", "MINUS", "PLUS", "EXISTS"}
    if {"CMP", "_AND", "_OR"} <= names:
        parts.append("an operator (and, or, ==, <, in, like, is null, +, ...)")
        names &= {"RPAR", "$END"}
    order = sorted(names, key=lambda n: (n == "$END", TERMINAL_NAMES.get(n, n.lower())))
    parts += [TERMINAL_NAMES.get(n, n.lower().strip("_")) for n in order]
    if not parts:
        return "something else"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def _translate(text: str, exc: lark.exceptions.LarkError) -> FilterSyntaxError:
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        if char in ("'", '"'):
            return _error(text, pos, "unterminated string literal")
        if char == "=":
            return _error(text, pos, "unexpected '='; use '==' to compare")
        return _error(text, pos, f"unexpected character {char!r}")
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        token = exc.token
        expected = _describe_expected(set(exc.expected))
        if token.type == "$END":
            return _error(text, len(text.rstrip()), f"expected {expected}, got end of input")
        got = str(token)
        got = got if len(got) <= 30 else got[:27] + "..."
        hint = ""
        if token.type == "NULL":
            hint = "; use 'is null' or 'is not null'"
        elif token.type in ("IN", "LIKE", "IS", "EXISTS", "TRUE", "FALSE", "_AND", "_OR", "NOT"):
            hint = '; keywords cannot be field names (write $meta["name"] for a dynamic key)'
        pos = token.start_pos if token.start_pos is not None else 0
        return _error(text, pos, f"expected {expected}, got {got!r}{hint}")
    if isinstance(exc, lark.exceptions.UnexpectedEOF):
        expected = _describe_expected(set(exc.expected))
        return _error(text, len(text), f"expected {expected}, got end of input")
    return _error(text, 0, "cannot parse the expression")


def _check_nesting(text: str) -> None:
    """Reject bracket nesting deeper than MAX_NESTING (strings are skipped)."""
    if text.count("(") + text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = 0
    quote = ""
    escaped = False
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise _error(text, i, f"expression too deeply nested (over {MAX_NESTING} levels)")
        elif c in ")]}":
            depth -= 1


# -------------------------------------------------------------------------- literals


def _unescape(token: Token, text: str) -> str:
    """The value of a quoted string token. Unknown escapes such as ``\\%`` stay as is."""
    raw = str(token)[1:-1]
    if "\\" not in raw:
        return raw
    base = (token.start_pos or 0) + 1
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1]  # the grammar guarantees a character after a backslash
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt == "\n":
            i += 2  # line continuation
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = raw[i + 2 : i + 2 + width]
            if len(digits) != width or not set(digits) <= _HEX:
                raise _error(text, base + i, f"bad \\{nxt} escape: needs {width} hex digits")
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise _error(text, base + i, "bad \\U escape: beyond U+10FFFF")
            out.append(chr(code))
            i += 2 + width
        elif nxt in _OCT:
            j = i + 1
            while j < n and j < i + 4 and raw[j] in _OCT:
                j += 1
            out.append(chr(int(raw[i + 1 : j], 8)))
            i = j
        else:
            out.append("\\" + nxt)  # kept for LIKE: \% and \_ are literal % and _
            i += 2
    return "".join(out)


def _int_value(token: Token) -> int:
    try:
        return _int_of(str(token))
    except ValueError:  # past Python's 4,300-digit limit for int()
        pos = getattr(token, "start_pos", None)
        raise FilterSyntaxError(
            f"integer literal of {len(token)} characters is too long"
            + (f" (at position {pos})" if pos is not None else ""),
            position=pos,
        ) from None


def _int_of(s: str) -> int:
    low = s.lower()
    if low.startswith("0x"):
        return int(s[2:], 16)
    if low.startswith("0o"):
        return int(s[2:], 8)
    if low.startswith("0b"):
        return int(s[2:], 2)
    if len(s) > 1 and s[0] == "0":
        return int(s, 8)  # C-style octal, as in Milvus: 017 == 15
    return int(s)


# ---------------------------------------------------------------------- tree -> AST


def _tokens(args: Sequence[Any]) -> list[Token]:
    return [a for a in args if isinstance(a, Token)]


def _nodes(args: Sequence[Any]) -> list[Any]:
    return [a for a in args if not isinstance(a, Token) and a is not None]


def _constant(node: Any, text: str) -> Any:
    """The Python value of a constant list item."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, ListLiteral):
        return node.values
    if isinstance(node, Param):
        raise _error(text, node.pos or 0, "a {template} cannot be a list item; pass the whole list")
    raise _error(text, _pos_of(node), "list items must be constants (numbers, strings, booleans)")


def _pos_of(node: Any) -> int:
    return int(node.pos) if isinstance(node, Expr) and node.pos is not None else 0


def _is_ref(node: Any) -> bool:
    return isinstance(node, (Field, Path))


class _Builder:
    """Turns one lark tree into AST nodes; one instance per parse (it holds the text)."""

    def __init__(self, text: str):
        self.text = text

    def build(self, tree: Tree[Token]) -> Expr:
        results: list[Any] = []
        stack: list[tuple[Any, bool]] = [(tree, False)]
        while stack:
            item, ready = stack.pop()
            if not isinstance(item, Tree):
                results.append(item)
            elif not ready:
                stack.append((item, True))
                stack.extend((child, False) for child in reversed(item.children))
            else:
                k = len(item.children)
                args = results[len(results) - k :]
                del results[len(results) - k :]
                pos = getattr(item.meta, "start_pos", None)
                handler: Callable[[list[Any], int], Any] = getattr(self, "_" + str(item.data))
                results.append(handler(args, pos if pos is not None else 0))
        node = results[0]
        if not isinstance(node, Expr):  # pragma: no cover - grammar guarantees an expression
            raise _error(self.text, 0, "not an expression")
        return node

    def fail(self, pos: int, detail: str) -> FilterSyntaxError:
        return _error(self.text, pos, detail)

    # logic
    def _or_expr(self, args: list[Any], pos: int) -> Expr:
        return Or(tuple(_nodes(args)), pos=pos)

    def _and_expr(self, args: list[Any], pos: int) -> Expr:
        return And(tuple(_nodes(args)), pos=pos)

    def _not_(self, args: list[Any], pos: int) -> Expr:
        return Not(_nodes(args)[0], pos=pos)

    # predicates
    def _compare(self, args: list[Any], pos: int) -> Expr:
        left, right = _nodes(args)
        return Compare(str(_tokens(args)[0]), left, right, pos=pos)  # type: ignore[arg-type]

    def _chain(self, args: list[Any], pos: int) -> Expr:
        a, x, b = _nodes(args)
        op1, op2 = (str(t) for t in _tokens(args))
        if op1 in ("<", "<=") and op2 in ("<", "<="):
            return Range(x, a, b, op1 == "<=", op2 == "<=", pos=pos)
        if op1 in (">", ">=") and op2 in (">", ">="):
            return Range(x, b, a, op2 == ">=", op1 == ">=", pos=pos)
        raise self.fail(
            _tokens(args)[1].start_pos or pos,
            "comparisons chain only as a range: 'lo < x <= hi' or 'hi > x >= lo'",
        )

    def _in_values(self, node: Any) -> Expr:
        if isinstance(node, (ListLiteral, Param)):
            return node
        raise self.fail(_pos_of(node), "'in' needs a list such as [1, 2] or a {template}")

    def _in_(self, args: list[Any], pos: int) -> Expr:
        x, values = _nodes(args)
        return In(x, self._in_values(values), False, pos=pos)

    def _not_in(self, args: list[Any], pos: int) -> Expr:
        x, values = _nodes(args)
        return In(x, self._in_values(values), True, pos=pos)

    def _like(self, args: list[Any], pos: int) -> Expr:
        x, pattern = _nodes(args)
        if isinstance(pattern, Literal) and isinstance(pattern.value, str):
            _check_like(pattern.value, self.text, _pos_of(pattern))
        elif not isinstance(pattern, Param):
            raise self.fail(_pos_of(pattern), "'like' needs a string pattern such as \"abc%\"")
        return Like(x, pattern, pos=pos)

    def _null_operand(self, node: Any) -> Expr:
        if _is_ref(node):
            return node  # type: ignore[no-any-return]
        raise self.fail(_pos_of(node), "'is null' applies to a field, dynamic key or JSON path")

    def _is_null(self, args: list[Any], pos: int) -> Expr:
        return IsNull(self._null_operand(_nodes(args)[0]), False, pos=pos)

    def _is_not_null(self, args: list[Any], pos: int) -> Expr:
        return IsNull(self._null_operand(_nodes(args)[0]), True, pos=pos)

    def _exists(self, args: list[Any], pos: int) -> Expr:
        node = _nodes(args)[0]
        if not _is_ref(node):
            raise self.fail(_pos_of(node), "'exists' needs a JSON path or a dynamic key")
        return Exists(node, pos=pos)

    # arithmetic
    def _arith(self, args: list[Any], pos: int) -> Expr:
        left, right = _nodes(args)
        return Arith(str(_tokens(args)[0]), left, right, pos=pos)  # type: ignore[arg-type]

    def _neg(self, args: list[Any], pos: int) -> Expr:
        node = _nodes(args)[0]
        value = node.value if isinstance(node, Literal) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return Literal(-value, pos=pos)
        return Neg(node, pos=pos)

    def _plus(self, args: list[Any], pos: int) -> Expr:
        node = _nodes(args)[0]
        if isinstance(node, Literal) and type(node.value) in (int, float):
            return Literal(node.value, pos=pos)
        raise self.fail(pos, "unary '+' applies to a number literal only")

    # references
    def _subscript(self, args: list[Any], pos: int) -> Any:
        token = _tokens(args)[1]
        if token.type == "STRING":
            return _unescape(token, self.text)
        return _int_value(token)

    def _ref(self, args: list[Any], pos: int) -> Expr:
        head = args[0]
        keys = tuple(args[1:])
        if head.type == "META":
            if not keys or not isinstance(keys[0], str):
                raise self.fail(pos, '$meta must be followed by a key, e.g. $meta["color"]')
            base = Field(keys[0], dynamic=True, pos=pos)
            keys = keys[1:]
        else:
            base = Field(str(head), pos=pos)
        return Path(base, keys, pos=pos) if keys else base

    # atoms
    def _int(self, args: list[Any], pos: int) -> Expr:
        return Literal(_int_value(args[0]), pos=pos)

    def _float(self, args: list[Any], pos: int) -> Expr:
        value = float(str(args[0]))
        if not math.isfinite(value):
            raise self.fail(pos, f"number {str(args[0])!r} is out of range")
        return Literal(value, pos=pos)

    def _string(self, args: list[Any], pos: int) -> Expr:
        return Literal(_unescape(args[0], self.text), pos=pos)

    def _true(self, args: list[Any], pos: int) -> Expr:
        return Literal(True, pos=pos)

    def _false(self, args: list[Any], pos: int) -> Expr:
        return Literal(False, pos=pos)

    def _parens(self, args: list[Any], pos: int) -> Expr:
        return _nodes(args)[0]  # type: ignore[no-any-return]

    def _list_items(self, args: list[Any], pos: int) -> tuple[Any, ...]:
        return tuple(_nodes(args))

    def _list(self, args: list[Any], pos: int) -> Expr:
        items = _nodes(args)
        values = tuple(_constant(item, self.text) for item in items[0]) if items else ()
        return ListLiteral(values, pos=pos)

    def _param(self, args: list[Any], pos: int) -> Expr:
        return Param(str(_tokens(args)[1]), pos=pos)

    def _args(self, args: list[Any], pos: int) -> tuple[Any, ...]:
        return tuple(_nodes(args))

    def _call(self, args: list[Any], pos: int) -> Expr:
        name = str(args[0]).lower()
        call_args = tuple(_nodes(args)[0]) if _nodes(args) else ()
        if name not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(pos, f"unknown function {str(args[0])!r} (known: {known})")
        if len(call_args) != FUNCTIONS[name]:
            raise self.fail(
                pos, f"{name} takes {FUNCTIONS[name]} argument(s), got {len(call_args)}"
            )
        return Call(name, call_args, pos=pos)


def _check_like(pattern: str, text: str, pos: int) -> None:
    try:
        compile_like(pattern)
    except FilterSyntaxError as exc:
        raise _error(text, pos, str(exc)) from None


def _validate(expr: Expr, text: str) -> None:
    """Depth limit and int64 range of integer literals."""
    try:
        check_depth(expr)
    except FilterSyntaxError as exc:
        raise _error(text, exc.position or 0, "expression too deeply nested") from None
    for node in walk(expr):
        if isinstance(node, Literal) and type(node.value) is int:
            if not INT64_MIN <= node.value <= INT64_MAX:
                raise _error(text, node.pos or 0, "integer literal out of int64 range")
        elif isinstance(node, ListLiteral):
            for value in _flatten(node.values):
                if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
                    raise _error(text, node.pos or 0, "integer literal out of int64 range")


def _flatten(values: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, tuple):
            stack.extend(v)
        else:
            out.append(v)
    return out


# ------------------------------------------------------------------------ public API


@lru_cache(maxsize=2048)
def parse(text: str) -> Expr:
    """Parse a Milvus boolean filter expression into a syntax tree.

    Results are cached by text, and trees are immutable, so repeated filters
    cost a dictionary lookup.

    Example::

        >>> parse('views > 10 and tag == "a"')  # doctest: +ELLIPSIS
        And(items=(Compare(op='>', left=Field(name='views', ...), ...

    Args:
        text: the expression, e.g. ``'views >= {v} and meta["lang"] in ["en", "fr"]'``.

    Returns:
        The root node. ``{name}`` templates stay ``Param`` nodes until ``bind``.

    Raises:
        FilterSyntaxError: the text is not a valid expression; ``position`` is the
            0-based offset of the problem and the message says what was expected.
    """
    if not isinstance(text, str):
        raise FilterSyntaxError(f"a filter must be a string, got {type(text).__name__}")
    if not text.strip():
        raise _error(text, 0, "empty filter expression")
    _check_nesting(text)
    try:
        tree = _PARSER.parse(text)
    except lark.exceptions.LarkError as exc:
        raise _translate(text, exc) from None
    expr = _Builder(text).build(tree)
    _validate(expr, text)
    return expr


def field_names(expr: Expr) -> frozenset[str]:
    """The top-level field names an expression reads, for validation.

    ``meta["a"]["b"]`` contributes ``meta``; ``$meta["k"]`` contributes ``"$meta"``
    (it always reads the dynamic field). A name that is not a declared field is a
    dynamic key, which is an error when the schema has no dynamic field.

    Args:
        expr: an expression.

    Returns:
        The names, as a frozenset.

    Raises:
        FilterSyntaxError: the tree is too deeply nested.
    """
    check_depth(expr)
    names = set()
    for node in walk(expr):
        if isinstance(node, Field):
            names.add("$meta" if node.dynamic else node.name)
    return frozenset(names)
