"""The evaluator's predicates: ``in``, ``like``, ``exists``,
``is [not] null``, ``json_contains*`` / ``array_contains*`` and ``text_match``.

A base class of the evaluator (``evaluate._Evaluator``), kept apart so each
module stays small; the semantics are described in ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..columns import ColumnBatch
from ..errors import FilterSyntaxError, FilterTypeError
from ..types import DataType
from .ast import Call, Expr, Field, In, IsNull, Like, ListLiteral, Literal, Param, Path
from .values import (
    CONTAINS,
    MISSING,
    NUM_TYPES,
    Arr,
    Const,
    Num,
    Obj,
    Str,
    Tri,
    Value,
    compile_like,
    contains,
    declared_kind,
    describe_const,
    fits,
    is_empty,
    key_of,
    kind_of,
    label_of,
    like_column,
    like_plan,
    mismatch,
    null_of,
    short,
    tri,
    tri_not,
    typed_eq,
    where,
)


class Predicates:
    """Predicates over a batch; the evaluator supplies ``value`` and ``rows``."""

    batch: ColumnBatch
    n: int

    def value(self, node: Expr) -> Value:
        raise NotImplementedError

    def rows(self, v: Value) -> Any:
        raise NotImplementedError

    def mask_of(self, rows: np.ndarray) -> np.ndarray:
        """Row offsets (from a scalar index) as a mask."""
        mask = np.zeros(self.n, bool)
        mask[rows] = True
        return mask

    def like(self, node: Like) -> Tri:
        pattern = node.pattern
        if isinstance(pattern, Param):
            self.value(pattern)  # raises: unbound template
        if not isinstance(pattern, Literal) or type(pattern.value) is not str:
            raise FilterTypeError(
                f"'like' needs a string pattern{where(pattern.pos)}", position=pattern.pos
            )
        match = compile_like(pattern.value)
        v = self.value(node.expr)
        kind = declared_kind(v)
        if isinstance(v, Const):
            hit = type(v.value) is str and match(v.value)
            return Tri(np.full(self.n, hit), None)
        if kind not in (None, "str") or isinstance(v, (Num, Arr)):
            raise FilterTypeError(
                f"'like' needs a string, not {label_of(v, node.expr)}{where(node.pos)}",
                position=node.pos,
            )
        if isinstance(v, Str) and v.index is not None:
            kind, text = like_plan(pattern.value)
            rows = None
            if kind == "prefix":
                rows = v.index.prefix(text)
            elif kind == "eq":
                rows = v.index.compare("==", text)
            if rows is not None:
                return tri(self.mask_of(rows), v.null)
        if isinstance(v, Str):
            column = v.values if v.null is None else np.where(v.null, "", v.values)
            try:
                return tri(like_column(pattern.value, column), v.null)
            except TypeError:  # a None without a null mask
                pass
        rows = self.rows(v)
        result = np.fromiter((type(s) is str and match(s) for s in rows), bool, self.n)
        return tri(result, null_of(v))

    def ref_rows(self, node: Expr, what: str, pos: int | None) -> Obj:
        """The per-row values of a JSON path / dynamic key for exists / is null."""
        v = self.value(node) if isinstance(node, (Field, Path)) else None
        if isinstance(v, Arr):
            return Obj(list(v.values), v.null, v.label, v.pos)
        if not isinstance(v, Obj):
            label = label_of(v, node) if v is not None else short(node)
            raise FilterTypeError(
                f"'{what}' needs a JSON path or a dynamic key, not {label}{where(pos)}",
                position=pos,
            )
        return v

    def exists(self, node: Expr, pos: int | None) -> np.ndarray:
        v = self.ref_rows(node, "exists", pos)
        scalars = (str, int, float, bool)
        present = (type(x) in scalars or (x is not MISSING and not is_empty(x)) for x in v.values)
        result = np.fromiter(present, bool, self.n)
        if v.null is not None:
            result &= ~v.null
        return result

    def is_null(self, node: IsNull) -> Tri:
        target = node.expr
        if isinstance(target, Field) and not target.dynamic and target.name in self.batch.types:
            ftype = self.batch.types[target.name]
            null = self.batch.nulls.get(target.name)
            if null is None and ftype.dtype in (DataType.JSON, DataType.ARRAY, DataType.VARCHAR):
                col = self.batch.values[target.name]
                null = np.fromiter((x is None for x in col), bool, self.n)
            result = np.zeros(self.n, bool) if null is None else np.asarray(null, dtype=bool)
        else:
            result = ~self.exists(target, node.pos)
        return Tri(~result if node.negated else result.copy(), None)

    def call(self, node: Call) -> Tri:
        name = node.name
        if name == "text_match":
            return self.text_match(node)
        if name not in CONTAINS:
            raise FilterSyntaxError(
                f"unknown function {name!r}{where(node.pos)}", position=node.pos
            )
        if len(node.args) != 2:
            raise FilterSyntaxError(f"{name} takes 2 arguments{where(node.pos)}", position=node.pos)
        mode = CONTAINS[name]
        target = self.value(node.args[0])
        needle = self.value(node.args[1])
        if not isinstance(target, (Arr, Obj)) or (
            isinstance(target, Obj) and target.elem is not None
        ):
            raise FilterTypeError(
                f"{name} needs an ARRAY field, a JSON value or a dynamic key, not "
                f"{label_of(target, node.args[0])}{where(node.pos)}",
                position=node.pos,
            )
        if not isinstance(needle, Const) or (mode != "one" and type(needle.value) is not tuple):
            want = "a constant list" if mode != "one" else "a constant"
            raise FilterTypeError(
                f"the second argument of {name} must be {want}{where(node.args[1].pos)}",
                position=node.args[1].pos,
            )
        needles = (needle.value,) if mode == "one" else needle.value
        if isinstance(target, Arr):
            elem = kind_of(target.elem)
            for x in needles:
                if not fits(elem, x):
                    raise FilterTypeError(
                        f"{name}: {target.label} holds {target.elem.name if target.elem else '?'}"
                        f" values, not {describe_const(x)}{where(node.pos)}",
                        position=node.pos,
                    )
        if isinstance(target, Arr) and target.index is not None:
            found = target.index.contains(needles, mode)
            if found is not None:
                return tri(self.mask_of(found), target.null)
        rows = self.rows(target)
        typed = isinstance(target, Arr) and target.elem is not None
        if typed or all(type(x) is str for x in needles):
            # typed elements (or str needles): Python's ``in`` is already typed equality
            if mode == "one":
                needle = needles[0]
                hits: Any = (type(r) is list and needle in r for r in rows)
            else:
                test = any if mode == "any" else all
                hits = (type(r) is list and test(x in r for x in needles) for r in rows)
        else:
            hits = (contains(r, needles, mode) for r in rows)
        return tri(np.fromiter(hits, bool, self.n), target.null)

    def text_match(self, node: Call) -> Tri:
        """``text_match(field, "words")``: rows whose text holds any of the words,
        both analysed by the field's analyzer."""
        if len(node.args) != 2:
            raise FilterSyntaxError(
                f"text_match takes 2 arguments{where(node.pos)}", position=node.pos
            )
        target, words = node.args
        if (
            not isinstance(target, Field)
            or target.dynamic
            or target.name not in self.batch.types
            or self.batch.types[target.name].dtype != DataType.VARCHAR
        ):
            raise FilterTypeError(
                f"text_match needs a VARCHAR field as its first argument{where(node.pos)}",
                position=node.pos,
            )
        query = self.value(words)
        if not isinstance(query, Const) or type(query.value) is not str:
            raise FilterTypeError(
                f"the second argument of text_match must be a string{where(words.pos)}",
                position=words.pos,
            )
        if self.batch.text_match is None:  # a batch with no text index: nothing matches
            return Tri(np.zeros(self.n, bool), None)
        null = self.batch.nulls.get(target.name)
        if null is None:
            null = np.fromiter((v is None for v in self.batch.values[target.name]), bool, self.n)
        return tri(self.batch.text_match(target.name, query.value), null)

    def in_(self, node: In) -> Tri:
        values = node.values
        if isinstance(values, Param):
            self.value(values)  # raises: unbound template
        if not isinstance(values, ListLiteral):
            raise FilterTypeError(f"'in' needs a list{where(values.pos)}", position=values.pos)
        items = values.values
        v = self.value(node.expr)
        kind = declared_kind(v)
        if kind is not None:
            bad = [x for x in items if not fits(kind, x)]
            if bad or kind == "array":
                raise mismatch(v, Const(bad[0] if bad else items, values.pos), "in")
        if isinstance(v, Num):
            # the needles in the column's terms (float32 for FLOAT; one numpy type)
            dtype = np.float32 if v.dtype == DataType.FLOAT else None
            needles = np.array(items, dtype=bool if kind == "bool" else dtype)
            rows = v.index.isin(needles.tolist()) if v.index is not None else None
            if rows is not None:
                result = self.mask_of(rows)
            elif not items:
                result = np.zeros(self.n, bool)
            else:
                result = np.isin(v.values, needles)
            res = tri(result, v.null)
        elif isinstance(v, Str):
            rows = v.index.isin(items) if v.index is not None else None
            result = self.mask_of(rows) if rows is not None else self.str_in(v, items)
            res = tri(result, v.null)
        else:
            res = tri(self.rows_in(self.rows(v), items), null_of(v))
        return tri_not(res) if node.negated else res

    def str_in(self, v: Str, items: tuple[Any, ...]) -> np.ndarray:
        if len(items) <= 2:
            result = np.zeros(self.n, bool)
            for x in items:
                result |= v.values == x
            return result
        wanted = frozenset(items)  # all str (type-checked), so hashing is exact
        return np.fromiter(map(wanted.__contains__, v.values), bool, self.n)

    def rows_in(self, rows: Sequence[Any], items: tuple[Any, ...]) -> np.ndarray:
        strs = frozenset(x for x in items if type(x) is str)
        nums = frozenset(x for x in items if type(x) in NUM_TYPES)
        bools = frozenset(x for x in items if type(x) is bool)
        others = [x for x in items if key_of(x) is None]
        if not others and not bools and not nums:
            hits: Any = (type(x) is str and x in strs for x in rows)
        elif not others and not bools and not strs:
            hits = (type(x) in NUM_TYPES and x in nums for x in rows)
        else:

            def hit(x: Any) -> bool:
                t = type(x)
                if t is str:
                    return x in strs
                if t is int or t is float:
                    return x in nums
                if t is bool:
                    return x in bools
                return key_of(x) is None and any(typed_eq(x, o) for o in others)

            hits = map(hit, rows)
        return np.fromiter(hits, bool, self.n)


__all__ = ["Predicates"]
