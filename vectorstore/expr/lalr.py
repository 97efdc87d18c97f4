"""Filter text -> lark's LALR parse tree -> ``vectorstore.expr.ast`` nodes.

Imported by ``parser.parse`` when it first meets text it has not parsed: lark
and its parse tables (~60-75 ms and ~4 MB) are loaded only by a process that
parses filter text. Trees built from the node classes (the adapters' filters)
never need them.

lark's tree is turned into AST nodes without recursion, so no input can exhaust
the Python stack; lark's errors become ``FilterSyntaxError`` saying what was
expected where.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import lark
from lark import Lark, Token, Tree

from ..errors import FilterSyntaxError
from .ast import (
    FUNCTIONS,
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
)
from .grammar import GRAMMAR, TERMINAL_NAMES, VALUE_START
from .syntax import error_at
from .values import compile_like

__all__ = ["build"]

_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", propagate_positions=True)

_SIMPLE_ESCAPES = {
    "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a",
    "\\": "\\", "'": "'", '"': '"', "?": "?", "/": "/",
}  # fmt: skip
_HEX = frozenset("0123456789abcdefABCDEF")
_OCT = frozenset("01234567")


def build(text: str) -> Expr:
    """The syntax tree of ``text`` (not yet validated: ``parser.parse`` does that).

    Raises:
        FilterSyntaxError: the text is not in the grammar, or a literal is malformed.
    """
    try:
        tree = _PARSER.parse(text)
    except lark.exceptions.LarkError as exc:
        raise _translate(text, exc) from None
    return _Builder(text).build(tree)


# --------------------------------------------------------------------------- errors


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
            return error_at(text, pos, "unterminated string literal")
        if char == "=":
            return error_at(text, pos, "unexpected '='; use '==' to compare")
        return error_at(text, pos, f"unexpected character {char!r}")
    if isinstance(exc, lark.exceptions.UnexpectedToken):
        token = exc.token
        expected = _describe_expected(set(exc.expected))
        if token.type == "$END":
            return error_at(text, len(text.rstrip()), f"expected {expected}, got end of input")
        got = str(token)
        got = got if len(got) <= 30 else got[:27] + "..."
        hint = ""
        if token.type == "NULL":
            hint = "; use 'is null' or 'is not null'"
        elif token.type in ("IN", "LIKE", "IS", "EXISTS", "TRUE", "FALSE", "_AND", "_OR", "NOT"):
            hint = '; keywords cannot be field names (write $meta["name"] for a dynamic key)'
        pos = token.start_pos if token.start_pos is not None else 0
        return error_at(text, pos, f"expected {expected}, got {got!r}{hint}")
    if isinstance(exc, lark.exceptions.UnexpectedEOF):
        expected = _describe_expected(set(exc.expected))
        return error_at(text, len(text), f"expected {expected}, got end of input")
    return error_at(text, 0, "cannot parse the expression")


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
                raise error_at(text, base + i, f"bad \\{nxt} escape: needs {width} hex digits")
            code = int(digits, 16)
            if code > 0x10FFFF:
                raise error_at(text, base + i, "bad \\U escape: beyond U+10FFFF")
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
        detail = "a {template} cannot be a list item; pass the whole list"
        raise error_at(text, node.pos or 0, detail)
    raise error_at(text, _pos_of(node), "list items must be constants (numbers, strings, booleans)")


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
            raise error_at(self.text, 0, "not an expression")
        return node

    def fail(self, pos: int, detail: str) -> FilterSyntaxError:
        return error_at(self.text, pos, detail)

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
        raise error_at(text, pos, str(exc)) from None
