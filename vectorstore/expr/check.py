"""The one filter type-checker: a filter against a schema's fields, before any row.

Both backends check a filter before they read anything, so an unknown field
(without dynamic fields) or an ill-typed comparison is a ``FilterTypeError``
even on an empty collection, with the same message on the embedded engine and
on Milvus. The check is the evaluator itself run over zero rows of the
schema's column types: one set of typing rules, never two that drift apart.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..columns import ColumnBatch, FieldType
from ..errors import DataError, FilterTypeError
from .ast import Expr, to_text
from .evaluate import evaluate
from .templates import bind, compile_filter

CACHE_SIZE = 256  # checked, bound filters kept per schema


class FilterChecker:
    """Filters of one schema: parsed (or bound), type-checked, and remembered.

    Args:
        types: the schema's declared scalar fields (``Schema.field_types()``).
        dynamic: whether the schema keeps undeclared keys (dynamic fields).

    Example:
        >>> checker = FilterChecker(schema.field_types(), schema.enable_dynamic_field)
        >>> tree = checker.compile("views > {v}", {"v": 10})
    """

    def __init__(self, types: Mapping[str, FieldType], dynamic: bool):
        self._empty = ColumnBatch(
            num_rows=0,
            types=dict(types),
            values={name: _empty_column(t) for name, t in types.items()},
            nulls={name: np.empty(0, dtype=bool) for name, t in types.items() if t.nullable},
            dynamic=np.empty(0, dtype=object) if dynamic else None,
        )
        self._cache: OrderedDict[tuple[str | Expr, str], Expr] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, given: str | Expr, params: Mapping[str, object] | None) -> Expr:
        """A filter (text, or a tree built by an adapter) bound and type-checked.

        Args:
            given: a filter expression, or a ``vectorstore.expr`` tree.
            params: values for ``{name}`` placeholders.

        Returns:
            The bound tree, ready to evaluate.

        Raises:
            DataError: ``given`` is neither a string nor a tree.
            FilterSyntaxError: the text does not parse, or a template is unbound.
            FilterTypeError: an unknown field or an ill-typed operation; the
                message names the filter and the position.
        """
        if not isinstance(given, (str, Expr)):
            raise DataError(f"filter must be a string or an expression tree, got {given!r}")
        # repr, not ==, keys the cache: 1 == True, but `x == 1` and `x == true` differ.
        # (Trees compare their literals type-exactly, so they key it as they are.)
        key = (given, repr(sorted(params.items())) if params else "")
        found = self._cache.get(key)
        if found is not None:
            return found
        tree = compile_filter(given, params) if isinstance(given, str) else bind(given, params)
        self.type_check(tree, given)
        with self._lock:
            self._cache[key] = tree
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return tree

    def type_check(self, tree: Expr, given: str | Expr | None = None) -> None:
        """Raise ``FilterTypeError`` if ``tree`` does not type-check.

        Args:
            tree: a bound filter tree.
            given: what the user passed (for the message; default: ``tree``).
        """
        try:
            evaluate(tree, self._empty)
        except FilterTypeError as exc:
            shown = given if isinstance(given, str) else to_text(given or tree)
            raise FilterTypeError(
                f"{exc} in filter {shown!r}", expression=shown, position=exc.position
            ) from None


def _empty_column(t: FieldType) -> np.ndarray:
    return np.empty(0, dtype=t.dtype.numpy_dtype)


__all__ = ["CACHE_SIZE", "FilterChecker"]
