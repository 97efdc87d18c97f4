"""Kestrel's filter language: Milvus boolean expressions, parsed and evaluated.

Parse text once (cached), bind ``{name}`` templates as data, then evaluate the
tree into a boolean numpy mask over a ``ColumnBatch``::

    from vectorstore.expr import compile_filter, evaluate
    expr = compile_filter('views >= {v} and meta["lang"] in ["en", "fr"]', {"v": 10})
    mask = evaluate(expr, batch)      # numpy bool array, one entry per row

Adapters build trees from the node classes instead of writing text, e.g.
``And((Compare(">", Field("views"), Literal(10)), In(Field("tag"), ListLiteral(("a",)))))``;
``to_text`` renders a tree back to Milvus syntax (for the Milvus backend).
The semantics of nulls, missing JSON keys, ``exists`` and ``like`` are described
in ``vectorstore.expr.evaluate``.
"""

from __future__ import annotations

from .ast import (
    ARITH_OPS,
    COMPARE_OPS,
    FUNCTIONS,
    MAX_DEPTH,
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
    Scalar,
    quote,
    to_text,
    walk,
)
from .evaluate import evaluate
from .parser import field_names, parse
from .templates import bind, compile_filter

__all__ = [
    "ARITH_OPS",
    "COMPARE_OPS",
    "FUNCTIONS",
    "MAX_DEPTH",
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
    "bind",
    "compile_filter",
    "evaluate",
    "field_names",
    "parse",
    "quote",
    "to_text",
    "walk",
]
