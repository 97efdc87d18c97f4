"""LangChain filters -> Kestrel filter trees.

``filter=`` on every search method takes one of:

- a Milvus expression string over the collection's fields, where metadata keys
  are addressed as ``metadata["key"]`` (``metadata["a"]["b"]`` for nested
  values), e.g. ``'metadata["year"] >= 2020 and metadata["lang"] in ["en", "fr"]'``;
  the primary key is ``id`` and the text ``text`` (``text_match(text, "rust")``).
  A bare name that is not one of the collection's fields is a metadata key, as
  langchain-milvus users write them: ``'year >= 2020'`` is ``'metadata["year"] >=
  2020'``, ``a["b"]`` is ``metadata["a"]["b"]`` and ``$meta["k"]`` is
  ``metadata["k"]``; a metadata key named like a field (``id``, ``text``...)
  needs the ``metadata["id"]`` form;
- a dict in the Mongo / Chroma style over metadata keys, translated here into a
  tree of ``vectorstore.expr`` nodes (values stay data: no string is built):
  ``{"k": v}``, ``{"k": {"$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte": v}}``,
  ``{"k": {"$in" | "$nin": [v, ...]}}``, ``{"k": {"$exists": bool}}``,
  ``{"k": {"$contains": v}}`` (a list value holds ``v``), ``{"k": {"$not": {...}}}``,
  ``{"$and": [...]}``, ``{"$or": [...]}``, ``{"$not": {...}}``; several keys or
  operators in one dict are all required (``$and``);
- a ready ``vectorstore.expr`` tree.

Semantics are the engine's (Milvus's rules for JSON values): values compare by
JSON type (numbers with numbers, ints with floats; strings with strings;
``true`` equals only ``true``), so a missing key or a value of another type
fails ``$eq $gt $gte $lt $lte $in $contains`` and passes ``$ne $nin``; ``$not``
negates. ``$exists: true`` means present and not null / not empty (Milvus's
``exists``). Dict keys are metadata keys taken literally (a ``.`` is not a path
separator); use an expression string for nested paths.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeAlias

import vectorstore as vs
from vectorstore.expr import (
    And,
    Call,
    Compare,
    Exists,
    Expr,
    Field,
    In,
    ListLiteral,
    Literal,
    Not,
    Or,
    Path,
    parse,
)

__all__ = ["FilterDictError", "FilterType", "to_expr"]

#: What ``filter=`` accepts: expression text, a Mongo/Chroma-style dict, or a tree.
FilterType: TypeAlias = str | Mapping[str, Any] | Expr

_INT64 = (-(2**63), 2**63 - 1)
_COMPARE = {"$eq": "==", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_ORDERED = {"$gt", "$gte", "$lt", "$lte"}
_FIELD_OPS = frozenset({*_COMPARE, "$in", "$nin", "$exists", "$contains", "$not"})
_LOGIC_OPS = frozenset({"$and", "$or", "$not"})


class FilterDictError(vs.FilterSyntaxError):
    """A filter dict that cannot be translated (unknown operator, bad value or shape).

    Also a ``vectorstore.FilterSyntaxError`` and so a ``ValueError``. The message
    names the place in the dict, e.g. ``filter["$and"][1]["year"]["$gt"]``.
    """


def to_expr(
    filter: FilterType | None,
    metadata_field: str = "metadata",
    fields: Collection[str] | None = None,
) -> str | Expr | None:
    """Translate a LangChain ``filter=`` value into what the engine takes.

    Args:
        filter: an expression string, a Mongo/Chroma-style dict over metadata keys
            (see the module docstring), a ``vectorstore.expr`` tree (returned
            unchanged), or None.
        metadata_field: the JSON field holding the metadata.
        fields: the collection's field names. When given, bare names in an
            expression string that are none of them are read as metadata keys
            (``year`` as ``metadata["year"]``); None leaves strings as they are.

    Returns:
        The expression string (unchanged when every name is a field), an
        expression tree, or None for no filter (None, ``""`` or ``{}``).

    Raises:
        FilterDictError: a dict that is not a valid filter, or a value of
            another type.
        vectorstore.FilterSyntaxError: an expression string that does not parse.

    Example:
        >>> to_expr({"year": {"$gte": 2020}, "lang": {"$in": ["en", "fr"]}})
        And(items=(Compare(op='>=', ...), In(...)))
    """
    if filter is None:
        return None
    if isinstance(filter, str):
        if not filter or fields is None:
            return filter or None
        tree = parse(filter)
        resolved = _metadata_keys(tree, metadata_field, frozenset(fields))
        return filter if resolved is tree else resolved
    if isinstance(filter, Expr):
        return filter
    if isinstance(filter, Mapping):
        if not filter:
            return None
        return _Translator(metadata_field).condition(filter, "filter")
    raise FilterDictError(
        f"filter must be an expression string, a dict or a vectorstore.expr tree, "
        f"got {type(filter).__name__}"
    )


def _metadata_keys(node: Expr, metadata_field: str, fields: frozenset[str]) -> Expr:
    """``node`` with every name that is not a field read from the metadata JSON field.

    The collection has no dynamic field, so such a name could only fail; LangChain
    users (langchain-milvus's among them) write metadata keys bare. Returns ``node``
    itself when nothing changes.
    """
    if isinstance(node, Path):
        base = node.base
        if base.dynamic or base.name not in fields:
            return Path(Field(metadata_field), (base.name, *node.keys), pos=node.pos)
        return node
    if isinstance(node, Field):
        if node.dynamic or node.name not in fields:
            return Path(Field(metadata_field), (node.name,), pos=node.pos)
        return node
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Expr):
            new = _metadata_keys(value, metadata_field, fields)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, tuple) and value and all(isinstance(v, Expr) for v in value):
            items = tuple(_metadata_keys(v, metadata_field, fields) for v in value)
            if any(a is not b for a, b in zip(items, value, strict=True)):
                changes[f.name] = items
    return dataclasses.replace(node, **changes) if changes else node


class _Translator:
    def __init__(self, metadata_field: str) -> None:
        self._field = Field(metadata_field)

    def condition(self, node: Any, where: str) -> Expr:
        """A dict of conditions (keys and logical operators), all required."""
        if not isinstance(node, Mapping):
            raise FilterDictError(f"{where}: expected a dict of conditions, got {_show(node)}")
        if not node:
            raise FilterDictError(f"{where}: an empty dict is not a condition")
        parts: list[Expr] = []
        for key, value in node.items():
            here = f"{where}[{key!r}]"
            if not isinstance(key, str) or not key:
                raise FilterDictError(f"{where}: keys must be non-empty strings, got {key!r}")
            if key.startswith("$"):
                parts.append(self._logic(key, value, here))
            else:
                parts.append(self._field_condition(key, value, here))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _logic(self, op: str, value: Any, where: str) -> Expr:
        if op == "$not":
            return Not(self.condition(value, where))
        if op not in _LOGIC_OPS:
            hint = " (field operators go inside a key: {key: {op: value}})" * (op in _FIELD_OPS)
            raise FilterDictError(
                f"{where}: unknown logical operator {op!r}; use $and, $or or $not{hint}"
            )
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
            raise FilterDictError(f"{where}: {op} takes a non-empty list of conditions")
        items = tuple(self.condition(v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(items) == 1:
            return items[0]
        return And(items) if op == "$and" else Or(items)

    def _field_condition(self, key: str, value: Any, where: str) -> Expr:
        path = Path(self._field, (key,))
        if not isinstance(value, Mapping):
            return Compare("==", path, Literal(_scalar(value, where)))
        if not value:
            raise FilterDictError(f"{where}: an empty dict is not a condition")
        parts = [self._operator(path, op, arg, f"{where}[{op!r}]") for op, arg in value.items()]
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _operator(self, path: Path, op: Any, arg: Any, where: str) -> Expr:
        if op in _COMPARE:
            value = _scalar(arg, where)
            if op in _ORDERED and isinstance(value, bool):
                raise FilterDictError(f"{where}: {op} needs a number or a string, got {arg!r}")
            return Compare(_COMPARE[op], path, Literal(value))  # type: ignore[arg-type]
        if op in ("$in", "$nin"):
            if not isinstance(arg, Sequence) or isinstance(arg, (str, bytes)):
                raise FilterDictError(f"{where}: {op} takes a list of values, got {_show(arg)}")
            values = tuple(_scalar(v, f"{where}[{i}]") for i, v in enumerate(arg))
            return In(path, ListLiteral(values), negated=op == "$nin")
        if op == "$exists":
            if not isinstance(arg, bool):
                raise FilterDictError(f"{where}: $exists takes true or false, got {arg!r}")
            return Exists(path) if arg else Not(Exists(path))
        if op == "$contains":
            return Call("json_contains", (path, Literal(_scalar(arg, where))))
        if op == "$not":
            if not isinstance(arg, Mapping) or not arg:
                raise FilterDictError(f"{where}: $not takes a dict of operators, got {_show(arg)}")
            parts = [self._operator(path, o, a, f"{where}[{o!r}]") for o, a in arg.items()]
            return Not(parts[0] if len(parts) == 1 else And(tuple(parts)))
        if op in ("$and", "$or"):
            raise FilterDictError(
                f"{where}: {op} combines whole conditions: {{{op!r}: [{{key: ...}}, ...]}}"
            )
        raise FilterDictError(
            f"{where}: unknown operator {op!r}; use one of {', '.join(sorted(_FIELD_OPS))}"
        )


def _scalar(value: Any, where: str) -> bool | int | float | str:
    """A filter constant: a bool, an int64, a finite float or a str."""
    if isinstance(value, bool) or type(value) is str:
        return value
    if type(value) is int:
        if not _INT64[0] <= value <= _INT64[1]:
            raise FilterDictError(f"{where}: {value} is outside the int64 range")
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise FilterDictError(f"{where}: {value} is not a finite number")
        return value
    if value is None:
        raise FilterDictError(
            f"{where}: null is not a filter value; use {{'$exists': false}} for a missing "
            "or null key"
        )
    raise FilterDictError(
        f"{where}: filter values must be str, int, float or bool, got {_show(value)}"
    )


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
