"""Filter templates: ``{name}`` placeholders bound to values as data.

``bind`` replaces each ``Param`` node of a parsed (or hand-built) tree with a
literal node holding the given value; values never become text, so nothing a
caller passes can change the expression's structure. ``compile_filter`` is
``bind(parse(text), params)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import FilterSyntaxError, FilterTypeError
from .ast import (
    INT64_MAX,
    INT64_MIN,
    Expr,
    Like,
    ListLiteral,
    Literal,
    Param,
    check_depth,
    transform_children,
    walk,
)
from .parser import parse
from .values import compile_like


def _param_value(name: str, value: Any, pos: int | None, depth: int = 0) -> Any:
    """A template value as a plain Python literal value (tuples for lists)."""
    where = f" (template at position {pos})" if pos is not None else ""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        if not INT64_MIN <= int(value) <= INT64_MAX:
            raise FilterTypeError(
                f"filter parameter {name!r} is out of int64 range{where}", position=pos
            )
        return int(value)
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            raise FilterTypeError(f"filter parameter {name!r} is NaN{where}", position=pos)
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, np.ndarray)) and depth < 8:
        items = value.tolist() if isinstance(value, np.ndarray) else value
        return tuple(_param_value(name, item, pos, depth + 1) for item in items)
    raise FilterTypeError(
        f"filter parameter {name!r} has unsupported type {type(value).__name__}{where}; "
        "use int, float, str, bool or a list of those",
        position=pos,
    )


def bind(expr: Expr, params: Mapping[str, object] | None) -> Expr:
    """Replace ``{name}`` templates with literal nodes holding the given values.

    Values are bound as data, never spliced into text.

    Args:
        expr: a parsed (or hand-built) expression.
        params: template values: int, float, str, bool, or (nested) lists of those.

    Returns:
        The expression with every ``Param`` replaced (``expr`` itself when it has none).

    Raises:
        FilterSyntaxError: a template has no value in ``params``, a bound LIKE
            pattern is malformed, or the tree is too deeply nested.
        FilterTypeError: a value has an unsupported type (None, dict, object...),
            is NaN or is outside int64.
    """
    check_depth(expr)
    if not any(isinstance(node, Param) for node in walk(expr)):
        return expr
    values = params or {}

    def replace(node: Expr) -> Expr:
        if isinstance(node, Param):
            if node.name not in values:
                where = f" at position {node.pos}" if node.pos is not None else ""
                raise FilterSyntaxError(
                    f"missing filter parameter {node.name!r} for template {{{node.name}}}{where}",
                    position=node.pos,
                )
            value = _param_value(node.name, values[node.name], node.pos)
            if isinstance(value, tuple):
                return ListLiteral(value, pos=node.pos)
            return Literal(value, pos=node.pos)
        new = transform_children(node, replace)
        pattern = new.pattern if isinstance(new, Like) else None
        if isinstance(pattern, Literal) and isinstance(pattern.value, str):
            compile_like(pattern.value)
        return new

    return replace(expr)


def compile_filter(text: str, params: Mapping[str, object] | None = None) -> Expr:
    """Parse ``text`` and bind its templates: ``bind(parse(text), params)``.

    Example::

        >>> compile_filter("views >= {v}", {"v": 10})  # doctest: +ELLIPSIS
        Compare(op='>=', left=Field(name='views', dynamic=False), right=Literal(value=10))

    Args:
        text: the filter expression.
        params: values for its ``{name}`` templates.

    Returns:
        The bound expression, ready for ``evaluate``.

    Raises:
        FilterSyntaxError: bad syntax, or a template without a value.
        FilterTypeError: a parameter value of an unsupported type.
    """
    return bind(parse(text), params)


__all__ = ["bind", "compile_filter"]
