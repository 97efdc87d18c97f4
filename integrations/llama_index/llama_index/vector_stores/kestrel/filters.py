"""LlamaIndex ``MetadataFilters`` -> Kestrel filter trees (``vectorstore.expr`` nodes).

Filters are built as expression trees, never as text, so keys and values are
always data. Each operator keeps LlamaIndex's meaning, as implemented by
``llama_index.core``'s ``SimpleVectorStore`` (``build_metadata_filter_fn``):
``metadata`` below is the node's metadata dict and ``v`` the filter's value.

=========================== ==================================================
operator                    matches when
=========================== ==================================================
``==`` ``!=``               ``metadata[key] == v`` / ``!=`` (``1 == 1.0``)
``> >= < <=``               numbers with numbers, strings with strings
``in`` / ``nin``            ``metadata[key]`` is / is not one of ``v``
``contains``                ``v`` is an element of a list value, or a
                            substring of a string value
``any`` / ``all``           any / all of ``v`` are elements (or substrings)
``text_match``              ``v`` is a substring of the string value
``text_match_insensitive``  the same after ``str.lower()`` on both sides
``is_empty``                the key is missing, or its value is null, ``""``
                            or ``[]``
=========================== ==================================================

A missing key (or a JSON null) matches only ``!=``, ``nin`` and ``is_empty``.
Conditions: ``and`` (all), ``or`` (any), ``not`` (none of the filters match);
groups nest to any depth. An empty filter list matches everything, whatever
its condition.

Differences from ``SimpleVectorStore``, all at the edges:

- Where Python would raise ``TypeError`` (``"a" > 1``, ``text_match`` with a
  number, ``contains`` on a number), the filter simply does not match.
- Booleans are not numbers: a stored ``True`` does not equal ``1``.
- ``is_empty`` also matches an object made only of empty values (``{}``,
  ``{"a": None}``), as Kestrel's ``is null`` does on JSON (``SimpleVectorStore``:
  only null, ``""`` and ``[]``).
- A scalar value for ``in``, ``nin``, ``any`` or ``all`` is a one-element list
  (``SimpleVectorStore`` iterates over it: ``"ab"`` would mean ``["a", "b"]``).
- Nested ``MetadataFilters`` are supported (``SimpleVectorStore`` raises).
"""

from __future__ import annotations

from typing import Any
from typing import Literal as TypingLiteral

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from vectorstore.expr import (
    And,
    Call,
    Compare,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    ListLiteral,
    Literal,
    Not,
    Or,
    Path,
)

__all__ = ["FALSE", "TRUE", "like_escape", "metadata_filters_to_expr"]

#: A condition every row passes (an empty conjunction).
TRUE: Expr = And(())
#: A condition no row passes (an empty disjunction).
FALSE: Expr = Or(())

CompareOp = TypingLiteral["==", "!=", "<", "<=", ">", ">="]

_COMPARE_OPS: dict[FilterOperator, CompareOp] = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}
_ORDER_OPS = frozenset(
    {FilterOperator.GT, FilterOperator.GTE, FilterOperator.LT, FilterOperator.LTE}
)


def like_escape(text: str) -> str:
    """Escape ``text`` so that a LIKE pattern matches it literally.

    Args:
        text: any string.

    Returns:
        ``text`` with ``\\``, ``%`` and ``_`` preceded by a backslash.
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def metadata_filters_to_expr(
    filters: MetadataFilters | None,
    metadata_field: str = "metadata",
    lowercase_field: str | None = "metadata_lower",
) -> Expr | None:
    """Translate LlamaIndex metadata filters into a Kestrel filter tree.

    Args:
        filters: the filters (None, or an empty list: no restriction).
        metadata_field: the JSON field holding each node's metadata.
        lowercase_field: the JSON field holding the lower-cased string values of
            the metadata (for ``text_match_insensitive``); None if there is none.

    Returns:
        The tree, or None when the filters restrict nothing.

    Raises:
        ValueError: an unknown operator or condition, a value the operator
            cannot use (None for ``>``, a list for ``text_match``...), or
            ``text_match_insensitive`` without ``lowercase_field``.
        TypeError: a filter that is neither a ``MetadataFilter`` nor a
            ``MetadataFilters``.
    """
    if filters is None or not filters.filters:
        return None
    return _group(filters, metadata_field, lowercase_field)


def _group(filters: MetadataFilters, field: str, lower: str | None) -> Expr:
    if not filters.filters:
        return TRUE
    items: list[Expr] = []
    for item in filters.filters:
        if isinstance(item, MetadataFilters):
            items.append(_group(item, field, lower))
        elif isinstance(item, MetadataFilter):
            items.append(_one(item, field, lower))
        else:
            raise TypeError(
                f"expected MetadataFilter or MetadataFilters, got {type(item).__name__}"
            )
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return items[0] if len(items) == 1 else And(tuple(items))
    if condition == FilterCondition.OR:
        return items[0] if len(items) == 1 else Or(tuple(items))
    if condition == FilterCondition.NOT:
        return Not(items[0] if len(items) == 1 else Or(tuple(items)))
    raise ValueError(f"unsupported filter condition {condition!r}; use 'and', 'or' or 'not'")


def _one(flt: MetadataFilter, field: str, lower: str | None) -> Expr:
    op = flt.operator
    value: Any = flt.value
    path = Path(Field(field), (flt.key,))
    if op == FilterOperator.IS_EMPTY:
        return Or((_absent(path), Compare("==", path, Literal("")), _list_length_is(path, 0)))
    if value is None:
        # SimpleVectorStore: nothing equals None; everything differs from it.
        if op == FilterOperator.EQ:
            return FALSE
        if op == FilterOperator.NE:
            return TRUE
        raise ValueError(f"filter {flt.key!r} {op.value}: the value must not be None")
    if op in _COMPARE_OPS:
        if op in _ORDER_OPS and not _is_scalar(value):
            raise ValueError(
                f"filter {flt.key!r} {op.value} needs a number or a string, got {value!r}"
            )
        operand: Expr = ListLiteral(tuple(value)) if isinstance(value, list) else Literal(value)
        return Compare(_COMPARE_OPS[op], path, operand)
    if op in (FilterOperator.IN, FilterOperator.NIN):
        return In(path, ListLiteral(_as_tuple(value)), negated=op == FilterOperator.NIN)
    if op == FilterOperator.CONTAINS:
        needle: Expr = ListLiteral(tuple(value)) if isinstance(value, list) else Literal(value)
        element = Call("json_contains", (path, needle))
        if isinstance(value, str):
            return Or((element, _substring(path, value)))
        return element
    if op in (FilterOperator.ANY, FilterOperator.ALL):
        return _any_all(op, path, _as_tuple(value))
    if op == FilterOperator.TEXT_MATCH:
        return _substring(path, _text(flt, value))
    if op == FilterOperator.TEXT_MATCH_INSENSITIVE:
        if lower is None:
            raise ValueError(
                "text_match_insensitive needs the collection's lower-cased metadata field, "
                "which this collection does not have"
            )
        return _substring(Path(Field(lower), (flt.key,)), _text(flt, value).lower())
    raise ValueError(
        f"unsupported filter operator {op!r}; supported: "
        + ", ".join(o.value for o in FilterOperator)
    )


def _any_all(op: FilterOperator, path: Path, values: tuple[Any, ...]) -> Expr:
    strings = [v for v in values if isinstance(v, str)]
    if op == FilterOperator.ANY:
        # any element in the list value, or any substring of the string value
        element = Call("json_contains_any", (path, ListLiteral(values)))
        if not strings:
            return element
        return Or((element, *(_substring(path, s) for s in strings)))
    if not values:
        return Not(_absent(path))  # all() of nothing: true for every present value
    element = Call("json_contains_all", (path, ListLiteral(values)))
    if len(strings) != len(values):
        return element  # a number is never a substring (Python: TypeError)
    return Or((element, And(tuple(_substring(path, s) for s in strings))))


def _absent(path: Path) -> Expr:
    """The key is missing or null (``is null`` on JSON is "missing or empty";
    the length test keeps lists such as ``[]`` and ``[None]``, which are values)."""
    return And((IsNull(path), Not(Compare(">=", Call("array_length", (path,)), Literal(0)))))


def _list_length_is(path: Path, n: int) -> Expr:
    return Compare("==", Call("array_length", (path,)), Literal(n))


def _substring(path: Path, text: str) -> Expr:
    return Like(path, Literal("%" + like_escape(text) + "%"))


def _text(flt: MetadataFilter, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(
            f"filter {flt.key!r} {flt.operator.value} needs a string value, got {value!r}"
        )
    return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)
