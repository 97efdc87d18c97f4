"""Filter text -> syntax tree (templates are bound in ``templates``).

The text is parsed with lark (LALR, never ``eval``; ``lalr``, loaded with the
first text parsed) into ``vectorstore.expr.ast`` nodes. Every failure is a
``FilterSyntaxError`` naming the 0-based position (``error.position``, and "at
position N" in the message).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..errors import FilterSyntaxError
from .ast import INT64_MAX, INT64_MIN, Expr, Field, ListLiteral, Literal, check_depth, walk
from .syntax import check_nesting, error_at

__all__ = ["field_names", "parse"]


def _validate(expr: Expr, text: str) -> None:
    """Depth limit and int64 range of integer literals."""
    try:
        check_depth(expr)
    except FilterSyntaxError as exc:
        raise error_at(text, exc.position or 0, "expression too deeply nested") from None
    for node in walk(expr):
        if isinstance(node, Literal) and type(node.value) is int:
            if not INT64_MIN <= node.value <= INT64_MAX:
                raise error_at(text, node.pos or 0, "integer literal out of int64 range")
        elif isinstance(node, ListLiteral):
            for value in _flatten(node.values):
                if type(value) is int and not INT64_MIN <= value <= INT64_MAX:
                    raise error_at(text, node.pos or 0, "integer literal out of int64 range")


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
        raise error_at(text, 0, "empty filter expression")
    check_nesting(text)
    from .lalr import build  # lark loads here, at the first text parsed

    expr = build(text)
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
