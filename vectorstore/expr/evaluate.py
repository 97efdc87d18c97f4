"""Evaluate a filter tree into a boolean mask over a ``ColumnBatch``.

Declared numeric, bool and VARCHAR columns are processed whole with numpy;
Python loops run only where the data are Python objects (JSON values, ARRAY
rows, dynamic keys).

Semantics (Milvus's, checked against its source and documentation):

- **Null** (SQL unknown) comes from a null value of a declared nullable field
  (including a null JSON or ARRAY field) and from a division by zero in a row.
  Every comparison, ``in``, ``like`` and contains-function on it is unknown, and
  logic is SQL three-valued (Kleene): ``not unknown`` is unknown, ``unknown and
  false`` is false, ``unknown or true`` is true. A row is kept only when the whole
  filter is true, so ``not (views > 5)`` drops rows where ``views`` is null, as
  Milvus does (its NOT masks the result with the field's validity).
- **Missing** is different: a JSON key or dynamic key that is absent, an index
  out of range, or a JSON value of another type than the constant is a value that
  equals nothing. ``== < <= > >= in like`` and the contains functions are false
  there, ``!=`` is true and ``not`` negates normally. This is Milvus's rule for
  JSON ("if the types are different the comparison is false; NotEqual is true").
- ``exists p`` is true where the key is present and its value is not "empty":
  not JSON null, and not an object or array made only of empty values (Milvus
  2.6's ``Json::exist``). It is never unknown. ``p is null`` on a JSON path or
  dynamic key is ``not exists p`` and ``p is not null`` is ``exists p`` (Milvus
  rewrites them so); on a declared field they test the field's null mask.
- ``like``: ``%`` matches any run of characters, ``_`` exactly one, and a
  backslash makes the next character literal (``\\%``, ``\\_``, ``\\\\``); a
  pattern ending in a lone backslash is a syntax error.
- Typing: numbers compare with numbers (int with float too), strings with
  strings, booleans with booleans (``==`` / ``!=`` only). A declared field
  compared with a constant of another type is a ``FilterTypeError``; so is
  arithmetic on a VARCHAR, BOOL or ARRAY field. FLOAT (float32) fields compare
  with constants rounded to float32, so ``score == 0.1`` matches a stored 0.1.
- Arithmetic: integer ``+ - * %`` stay int64 (wrapping on overflow, as in
  Milvus's C++), ``/`` divides as floats, ``%`` keeps the sign of the dividend
  (C ``fmod``), ``**`` gives a float; a zero divisor in a row makes that row
  null, a literal zero divisor is a ``FilterTypeError``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..columns import ColumnBatch, FieldType
from ..errors import FilterSyntaxError, FilterTypeError
from ..types import DataType
from .ast import (
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
)
from .predicates import Predicates
from .values import (
    FLIP,
    MISSING,
    NULL,
    NUM_TYPES,
    OPS,
    Arr,
    Const,
    Num,
    Obj,
    Str,
    Tri,
    Value,
    cls_of,
    compile_like,
    declared_kind,
    describe_const,
    fits,
    is_int,
    kind_of,
    label_of,
    mismatch,
    null_of,
    numeric,
    py_arith,
    short,
    tri,
    tri_and,
    tri_not,
    tri_or,
    typed_cmp,
    union,
    walk_keys,
    where,
)

__all__ = ["MISSING", "compile_like", "evaluate"]


# ----------------------------------------------------------------------- evaluator


class _Evaluator(Predicates):
    def __init__(self, batch: ColumnBatch):
        self.batch = batch
        self.n = batch.num_rows

    # -------------------------------------------------------------- conditions

    def cond(self, node: Expr) -> Tri:
        if isinstance(node, And):
            result = Tri(np.ones(self.n, bool), None)
            for item in node.items:
                result = tri_and(result, self.cond(item))
            return result
        if isinstance(node, Or):
            result = Tri(np.zeros(self.n, bool), None)
            for item in node.items:
                result = tri_or(result, self.cond(item))
            return result
        if isinstance(node, Not):
            return tri_not(self.cond(node.expr))
        if isinstance(node, Compare):
            return self.compare(node.op, self.value(node.left), self.value(node.right))
        if isinstance(node, Range):
            x = self.value(node.expr)
            found = self.indexed_range(x, node)
            if found is not None:
                return found
            lo = self.compare(">=" if node.lower_inclusive else ">", x, self.value(node.lower))
            hi = self.compare("<=" if node.upper_inclusive else "<", x, self.value(node.upper))
            return tri_and(lo, hi)
        if isinstance(node, In):
            return self.in_(node)
        if isinstance(node, Like):
            return self.like(node)
        if isinstance(node, IsNull):
            return self.is_null(node)
        if isinstance(node, Exists):
            return Tri(self.exists(node.expr, node.pos), None)
        if isinstance(node, Call) and node.name != "array_length":
            return self.call(node)
        return self.truthy(self.value(node), node)

    def truthy(self, v: Value, node: Expr) -> Tri:
        """A value used as a condition: bool fields, bool literals, JSON ``true``."""
        if isinstance(v, Num) and v.kind == "bool":
            return tri(v.values, v.null)
        if isinstance(v, Const) and type(v.value) is bool:
            return Tri(np.full(self.n, v.value), None)
        if isinstance(v, Obj) and kind_of(v.elem) in (None, "bool"):
            result = np.fromiter((x is True for x in v.values), bool, self.n)
            return tri(result, v.null)
        raise FilterTypeError(
            f"{label_of(v, node)} is not a condition; compare it, e.g. 'x > 0' or 'x == \"a\"'"
            f"{where(node.pos)}",
            position=node.pos,
        )

    # ------------------------------------------------------------------ values

    def value(self, node: Expr) -> Value:
        if isinstance(node, Literal):
            return Const(node.value, node.pos)
        if isinstance(node, ListLiteral):
            return Const(node.values, node.pos)
        if isinstance(node, Field):
            return self.field(node)
        if isinstance(node, Path):
            return self.path(node)
        if isinstance(node, Arith):
            return self.arith(node)
        if isinstance(node, Neg):
            return self.neg(node)
        if isinstance(node, Call) and node.name == "array_length":
            return self.array_length(node)
        if isinstance(node, Param):
            raise FilterSyntaxError(
                f"template {{{node.name}}} has no value; pass it in the filter params"
                f"{where(node.pos)}",
                position=node.pos,
            )
        raise FilterTypeError(
            f"a condition ({short(node)}) cannot be used as a value{where(node.pos)}",
            position=node.pos,
        )

    def field(self, node: Field) -> Value:
        batch = self.batch
        if not node.dynamic and node.name in batch.types:
            return self.column(node.name, batch.types[node.name], node.pos)
        if batch.dynamic is None:
            what = "dynamic key" if node.dynamic else "field"
            raise FilterTypeError(
                f"unknown {what} {node.name!r}{where(node.pos)}: it is not in the schema "
                "and the collection has no dynamic field",
                position=node.pos,
            )
        name = node.name
        values = [d.get(name, MISSING) if type(d) is dict else MISSING for d in batch.dynamic]
        return Obj(values, None, f"dynamic key {name!r}", node.pos)

    def column(self, name: str, ftype: FieldType, pos: int | None) -> Value:
        dtype = ftype.dtype
        col = self.batch.values[name]
        null = self.batch.nulls.get(name)
        label = f"{dtype.name} field {name!r}"
        index = self.batch.indexes.get(name)
        if dtype == DataType.BOOL:
            return Num(col, null, "bool", label, pos, dtype, index)
        if dtype.is_integer:
            return Num(col, null, "int", label, pos, dtype, index)
        if dtype.is_float:
            return Num(col, null, "float", label, pos, dtype, index)
        if dtype == DataType.VARCHAR:
            return Str(col, null, label, pos, index)
        if dtype in (DataType.JSON, DataType.ARRAY):
            if null is None:
                null = np.fromiter((v is None for v in col), bool, self.n)
            if dtype == DataType.JSON:
                return Obj(col, null, label, pos)
            return Arr(col, null, ftype.element_type, label, pos, index)
        raise FilterTypeError(f"{label} cannot be filtered on{where(pos)}", position=pos)

    def path(self, node: Path) -> Value:
        base = self.field(node.base)
        keys = node.keys
        label = short(node)
        if isinstance(base, Arr):
            if len(keys) != 1 or type(keys[0]) is not int:
                raise FilterTypeError(
                    f"{base.label} takes a single integer index, e.g. {node.base.name}[0]"
                    f"{where(node.pos)}",
                    position=node.pos,
                )
            k = keys[0]
            values = [v[k] if type(v) is list and k < len(v) else MISSING for v in base.values]
            return Obj(values, base.null, label, node.pos, base.elem)
        if not isinstance(base, Obj):
            raise FilterTypeError(
                f"{label_of(base, node.base)} has no keys or indexes{where(node.pos)}",
                position=node.pos,
            )
        if len(keys) == 1 and type(keys[0]) is str:
            key = keys[0]
            values = [v.get(key, MISSING) if type(v) is dict else MISSING for v in base.values]
        else:
            values = [walk_keys(v, keys) for v in base.values]
        return Obj(values, base.null, label, node.pos)

    def array_length(self, node: Call) -> Value:
        v = self.value(node.args[0])
        if isinstance(v, Arr):
            lengths = np.fromiter((len(r) if type(r) is list else 0 for r in v.values), np.int64)
            return Num(lengths, v.null, "int", f"array_length({v.label})", node.pos)
        if isinstance(v, Obj) and v.elem is None:
            values = [len(r) if type(r) is list else MISSING for r in v.values]
            return Obj(values, v.null, short(node), node.pos)
        raise FilterTypeError(
            f"array_length needs an ARRAY field, a JSON value or a dynamic key, "
            f"not {label_of(v, node.args[0])}{where(node.pos)}",
            position=node.pos,
        )

    # -------------------------------------------------------------- arithmetic

    def _arith_operand(self, v: Value, node: Expr, op: str) -> None:
        ok = (
            (isinstance(v, Num) and v.kind != "bool")
            or (isinstance(v, Const) and cls_of(v.value) == 2)
            or (isinstance(v, Obj) and kind_of(v.elem) in (None, "int", "float"))
        )
        if not ok:
            raise FilterTypeError(
                f"arithmetic '{op}' needs numbers, not {label_of(v, node)}{where(node.pos)}",
                position=node.pos,
            )

    def arith(self, node: Arith) -> Value:
        op = node.op
        a = self.value(node.left)
        b = self.value(node.right)
        self._arith_operand(a, node.left, op)
        self._arith_operand(b, node.right, op)
        if op in ("/", "%") and isinstance(b, Const) and b.value == 0:
            raise FilterTypeError(f"division by zero{where(b.pos)}", position=b.pos)
        label = "arithmetic expression"
        if isinstance(a, Const) and isinstance(b, Const):
            r = py_arith(op, a.value, b.value)
            if r is NULL:
                raise FilterTypeError(
                    f"the constant expression {short(node)} has no value{where(node.pos)}",
                    position=node.pos,
                )
            if type(r) is int and not INT64_MIN <= r <= INT64_MAX:
                raise FilterTypeError(
                    f"integer overflow in a constant expression{where(node.pos)}",
                    position=node.pos,
                )
            return Const(r, node.pos)
        if isinstance(a, Obj) or isinstance(b, Obj):
            xs = self.rows(a)
            ys = self.rows(b)
            out: list[Any] = []
            extra = np.zeros(self.n, bool)
            for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
                if cls_of(x) != 2 or cls_of(y) != 2:
                    out.append(MISSING)
                    continue
                r = py_arith(op, x, y)
                if r is NULL:
                    extra[i] = True
                    r = MISSING
                out.append(r)
            null = union(union(null_of(a), null_of(b)), extra if extra.any() else None)
            return Obj(out, null, label, node.pos)
        return self._num_arith(op, a, b, node)

    def _num_arith(self, op: str, a: Value, b: Value, node: Arith) -> Num:
        x = numeric(a)
        y = numeric(b)
        both_int = is_int(a) and is_int(b)
        null = union(null_of(a), null_of(b))
        with np.errstate(all="ignore"):
            if op in ("+", "-", "*"):
                fn = {"+": np.add, "-": np.subtract, "*": np.multiply}[op]
                result = fn(x, y, dtype=np.int64 if both_int else np.float64)
            elif op in ("/", "%"):
                zero = np.asarray(y) == 0
                if np.ndim(zero) and zero.any():
                    null = union(null, np.broadcast_to(zero, (self.n,)))
                    y = np.where(zero, 1, y)
                if op == "/":
                    result = np.true_divide(x, y, dtype=np.float64)
                else:
                    result = np.fmod(x, y, dtype=np.int64 if both_int else np.float64)
            else:
                result = np.power(x, y, dtype=np.float64)
                nan = np.isnan(result)
                if nan.any():
                    null = union(null, nan)
        result = np.broadcast_to(result, (self.n,))
        kind = "int" if result.dtype.kind in "iu" else "float"
        return Num(result, null, kind, "arithmetic expression", node.pos)

    def neg(self, node: Neg) -> Value:
        v = self.value(node.operand)
        self._arith_operand(v, node.operand, "-")
        if isinstance(v, Const):
            return Const(-v.value, node.pos)
        if isinstance(v, Obj):
            values = [-x if cls_of(x) == 2 else MISSING for x in v.values]
            return Obj(values, v.null, "arithmetic expression", node.pos)
        assert isinstance(v, Num)
        with np.errstate(all="ignore"):
            values = np.negative(numeric(v))
        return Num(values, v.null, v.kind, "arithmetic expression", node.pos)

    # -------------------------------------------------------------- comparison

    def compare(self, op: str, a: Value, b: Value) -> Tri:
        if isinstance(a, Const) and not isinstance(b, Const):
            a, b, op = b, a, FLIP[op]
        if isinstance(b, Const):
            self.check_const(a, b, op)
            if isinstance(a, Const):
                return Tri(np.full(self.n, typed_cmp(op, a.value, b.value)), None)
            if isinstance(a, Num):
                return self.num_const(op, a, b.value)
            if isinstance(a, Str):
                return self.str_const(op, a, b.value)
            return self.rows_const(op, a, b.value)
        if isinstance(a, Num) and isinstance(b, Num):
            bools = (a.kind == "bool") + (b.kind == "bool")
            if bools == 1 or (bools == 2 and op not in ("==", "!=")):
                raise mismatch(a, b, op)
            with np.errstate(all="ignore"):
                result = OPS[op](a.values, b.values)
            return tri(result, union(a.null, b.null))
        if isinstance(a, Str) and isinstance(b, Str):
            null = union(a.null, b.null)
            x = a.values if null is None else np.where(null, "", a.values)
            y = b.values if null is None else np.where(null, "", b.values)
            try:
                result = np.asarray(OPS[op](x, y), dtype=bool)
            except TypeError:  # a None without a null mask
                fn = OPS[op]
                pairs = zip(x, y, strict=True)
                it = (type(p) is str and type(q) is str and fn(p, q) for p, q in pairs)
                result = np.fromiter(it, bool, self.n)
            return tri(result, union(a.null, b.null))
        both_arrays = isinstance(a, Arr) and isinstance(b, Arr) and op in ("==", "!=")
        if not isinstance(a, Obj) and not isinstance(b, Obj) and not both_arrays:
            raise mismatch(a, b, op)
        xs = self.rows(a)
        ys = self.rows(b)
        result = np.fromiter(
            (typed_cmp(op, x, y) for x, y in zip(xs, ys, strict=True)), bool, self.n
        )
        return tri(result, union(null_of(a), null_of(b)))

    def check_const(self, v: Value, c: Const, op: str) -> None:
        """Static typing of ``v op constant``."""
        cls = cls_of(c.value)
        if op not in ("==", "!=") and cls not in (2, 3):
            raise FilterTypeError(
                f"'{op}' needs a number or a string, not {describe_const(c.value)}{where(c.pos)}",
                position=c.pos,
            )
        kind = declared_kind(v)
        if kind == "array":
            assert isinstance(v, Arr)
            elem = kind_of(v.elem)
            if cls != 4 or not all(fits(elem, x) for x in c.value):
                raise mismatch(v, c, op)
        elif kind is not None and not fits(kind, c.value):
            raise mismatch(v, c, op)

    def indexed(self, v: Num | Str, op: str, value: Any) -> np.ndarray | None:
        """``v op value`` as a mask from the field's scalar index (None: scan)."""
        if v.index is None:
            return None
        rows = v.index.compare("==" if op == "!=" else op, value)
        if rows is None:
            return None
        mask = self.mask_of(rows)
        return ~mask if op == "!=" else mask

    def indexed_range(self, x: Value, node: Range) -> Tri | None:
        """``lo < x < hi`` from the field's scalar index in one lookup (None: no
        index, or bounds it cannot answer: each side is then compared alone)."""
        if not isinstance(x, (Num, Str)) or x.index is None:
            return None
        lo, hi = self.value(node.lower), self.value(node.upper)
        if not isinstance(lo, Const) or not isinstance(hi, Const):
            return None
        self.check_const(x, lo, ">=" if node.lower_inclusive else ">")  # as compare() would
        self.check_const(x, hi, "<=" if node.upper_inclusive else "<")
        lo_value, hi_value = lo.value, hi.value
        if isinstance(x, Num) and x.dtype == DataType.FLOAT:
            lo_value, hi_value = (
                np.float32(v) if type(v) is float else v for v in (lo_value, hi_value)
            )
        rows = x.index.between(lo_value, node.lower_inclusive, hi_value, node.upper_inclusive)
        return None if rows is None else tri(self.mask_of(rows), x.null)

    def num_const(self, op: str, a: Num, value: Any) -> Tri:
        if a.dtype == DataType.FLOAT and type(value) is float:
            value = np.float32(value)
        found = self.indexed(a, op, value)
        if found is not None:
            return tri(found, a.null)
        with np.errstate(all="ignore"):
            result = OPS[op](a.values, value)
        return tri(np.asarray(result, dtype=bool), a.null)

    def str_const(self, op: str, a: Str, value: str) -> Tri:
        found = self.indexed(a, op, value)
        if found is not None:
            return tri(found, a.null)
        col = a.values
        if op in ("==", "!="):
            result = col == value if op == "==" else col != value
        else:
            if a.null is not None:
                col = np.where(a.null, "", col)
            try:
                result = OPS[op](col, value)
            except TypeError:  # a None without a null mask
                fn = OPS[op]
                result = np.fromiter((type(s) is str and fn(s, value) for s in col), bool, self.n)
        return tri(np.asarray(result, dtype=bool), a.null)

    def rows_const(self, op: str, a: Value, value: Any) -> Tri:
        rows = self.rows(a)
        cls = cls_of(value)
        if cls == 3 and op in ("==", "!="):
            # object-array == compares element-wise; only a str can equal a str
            column = rows if isinstance(rows, np.ndarray) else np.fromiter(rows, object, self.n)
            result = np.asarray(column == value, dtype=bool)
            if op == "!=":
                result = ~result
        elif cls in (2, 3):
            types = NUM_TYPES if cls == 2 else (str,)
            fn = OPS[op]
            if op == "!=":
                it = (not (type(x) in types and x == value) for x in rows)
            else:
                it = (type(x) in types and fn(x, value) for x in rows)
            result = np.fromiter(it, bool, self.n)
        elif cls == 1:
            eq = (type(x) is bool and x == value for x in rows)
            result = np.fromiter(eq, bool, self.n)
            if op == "!=":
                result = ~result
        else:
            result = np.fromiter((typed_cmp(op, x, value) for x in rows), bool, self.n)
        return tri(result, null_of(a))

    def rows(self, v: Value) -> Any:
        """Per-row Python values of ``v`` (MISSING where absent)."""
        if isinstance(v, Const):
            return [v.value] * self.n
        if isinstance(v, Num):
            return v.values.tolist()
        if isinstance(v, (Str, Arr)):
            return list(v.values)
        return v.values

    # ------------------------------------------------------------- predicates


def evaluate(expr: Expr, batch: ColumnBatch) -> np.ndarray:
    """Evaluate a filter over a batch of rows.

    Example::

        >>> mask = evaluate(compile_filter("views > 10"), batch)  # doctest: +SKIP
        >>> rows = np.flatnonzero(mask)  # doctest: +SKIP

    Args:
        expr: a bound expression (from ``compile_filter``, or built by hand).
        batch: the rows, column by column.

    Returns:
        A new boolean array of length ``batch.num_rows``: True where the filter
        is true (rows where it is false or unknown are False).

    Raises:
        FilterTypeError: the expression is ill-typed for this schema (arithmetic
            on VARCHAR, an INT64 field compared with a string, an unknown field
            when the schema has no dynamic field...); the message names the field
            and the position.
        FilterSyntaxError: an unbound ``{template}``, a malformed LIKE pattern, or
            a hand-built tree deeper than ``MAX_DEPTH``.
    """
    check_depth(expr)
    result = _Evaluator(batch).cond(expr)
    return np.array(result.t, dtype=bool, copy=True)
