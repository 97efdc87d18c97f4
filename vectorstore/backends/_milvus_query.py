"""Reads on Milvus: filters, output fields, search parameters, rankers, hits.

Pure helpers used by ``MilvusCollection``: they turn Kestrel arguments into
pymilvus arguments and pymilvus answers into Kestrel's shapes (dict rows,
``Hit`` lists), so both backends return the same things.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import PrimaryKey
from ..errors import DataError, FilterSyntaxError, NotSupportedError
from ..expr import (
    And,
    Arith,
    Compare,
    Expr,
    Field,
    In,
    ListLiteral,
    Literal,
    Not,
    Or,
    Param,
    Range,
    bind,
    parse,
    to_text,
)
from ..expr.ast import CompareOp, transform_children
from ..functions import BM25
from ..ranking import Ranker, RRFRanker, WeightedRanker
from ..schema import DYNAMIC_FIELD, Schema, output_entity_fields
from ..search import Route, SearchParams
from ..types import DataType, Hit, Hits, Metric
from ._milvus_version import NEWER_FIX, ServerInfo, filter_gaps

MAX_WINDOW = 16384  # Milvus's cap on limit + offset of one query or search


@dataclass(frozen=True)
class Filter:
    """A filter as sent to Milvus: text, and ``filter_params`` when Milvus binds them."""

    text: str
    params: dict[str, Any] | None = None

    @property
    def sent(self) -> tuple[str, Mapping[str, Any] | None]:
        return self.text, self.params

    def kwargs(self) -> dict[str, Any]:
        """``filter`` / ``filter_params`` keyword arguments for pymilvus."""
        out: dict[str, Any] = {"filter": self.text}
        if self.params:
            out["filter_params"] = self.params
        return out


NO_FILTER = Filter("")


def render_filter(
    given: str | Expr | None, params: Mapping[str, object] | None, server: ServerInfo, pk: str
) -> Filter:
    """A Kestrel filter (text or expression tree) as Milvus filter text.

    Where Milvus has templating (2.5+), text passes through unchanged, trees
    are rendered with ``expr.to_text`` and ``filter_params`` go to Milvus
    (checked as the embedded engine checks them). Elsewhere parameters are
    bound on the client, as data, and what the parser lacks is rewritten into
    exact equivalents: on Milvus Lite two forms (``lite_rewrite``), on older
    servers the smallest int64 (``server_rewrite``) and constant conditions
    (``constant_rewrite``, with the primary key ``pk``). Text Kestrel cannot
    parse still goes as it is.

    Raises:
        DataError: the filter is neither text nor a tree.
        FilterSyntaxError, FilterTypeError: a template without a value, a
            parameter of an unsupported type, a tree text cannot express.
        NotSupportedError: the filter uses what this server's version has not.
    """
    if given is None or (isinstance(given, str) and not given):
        return NO_FILTER
    if not isinstance(given, (str, Expr)):
        raise DataError(f"filter must be a string or an expression tree, got {given!r}")
    if server.templating:
        text = given if isinstance(given, str) else to_text(given)
        if params:
            return Filter(text, {k: _param(k, v) for k, v in params.items()})
        return Filter(text)
    if isinstance(given, str):
        try:
            tree = parse(given)
        except FilterSyntaxError:
            return Filter(given)  # Milvus decides
    else:
        tree = given
    bound = bind(tree, params)
    if server.lite:
        rewritten = lite_rewrite(bound)
    else:
        server.require("run this filter", filter_gaps(bound), NEWER_FIX)
        rewritten = server_rewrite(constant_rewrite(bound, pk))
    if isinstance(given, str) and rewritten is tree:
        return Filter(given)  # nothing to bind or rewrite: the text as written
    return Filter(to_text(rewritten))


INT64_MIN = -(2**63)
# Milvus before 2.5 reads "-9223372036854775808" as minus 9223372036854775808, out of range
_INT64_MIN_TEXT = Arith("-", Literal(INT64_MIN + 1), Literal(1))


def constant_rewrite(node: Expr, pk: str) -> Expr:
    """A ``true`` / ``false`` condition (or an empty ``and`` / ``or``) as
    ``pk == pk`` / ``pk != pk`` (never
    null, so the same rows): Milvus before 2.5 plans no constant condition.
    Literals compared with a value (``x == true``) stay."""
    if isinstance(node, Literal) and isinstance(node.value, bool):
        return Compare("==" if node.value else "!=", Field(pk), Field(pk))
    if isinstance(node, (And, Or)) and not node.items:  # an empty and: true; or: false
        return constant_rewrite(Literal(isinstance(node, And)), pk)
    if isinstance(node, (And, Or)):
        items = tuple(constant_rewrite(item, pk) for item in node.items)
        return node if items == node.items else type(node)(items)
    if isinstance(node, Not):
        inner = constant_rewrite(node.expr, pk)
        return node if inner is node.expr else Not(inner)
    return node


def server_rewrite(node: Expr) -> Expr:
    """The smallest int64 as ``(-9223372036854775807 - 1)``, which older Milvus
    parsers fold to the same constant; in an ``in`` list it is split out into
    an ``==`` (``!=`` for ``not in``), the same meaning."""
    node = transform_children(node, server_rewrite)
    if isinstance(node, Literal) and _is_int64_min(node.value):
        return _INT64_MIN_TEXT
    if isinstance(node, In) and isinstance(node.values, ListLiteral):
        values = node.values.values
        rest = tuple(v for v in values if not _is_int64_min(v))
        if len(rest) == len(values):
            return node
        op: CompareOp = "!=" if node.negated else "=="
        single = Compare(op, node.expr, _INT64_MIN_TEXT)
        if not rest:
            return single
        others = In(node.expr, ListLiteral(rest), node.negated)
        return And((others, single)) if node.negated else Or((others, single))
    return node


def _is_int64_min(value: object) -> bool:
    return type(value) is int and value == INT64_MIN


def lite_rewrite(node: Expr) -> Expr:
    """Milvus Lite's equivalents of two forms its parser rejects: a chained
    comparison ``a < x <= b`` becomes ``a < x and x <= b``, and ``in`` / ``not
    in`` on anything but a field (a JSON path, an array element, ``$meta[..]``)
    becomes an ``or`` of ``==`` (an ``and`` of ``!=``). Both keep Kestrel's
    meaning, nulls and missing keys included."""
    node = transform_children(node, lite_rewrite)
    if isinstance(node, Range):
        lo: CompareOp = "<=" if node.lower_inclusive else "<"
        hi: CompareOp = "<=" if node.upper_inclusive else "<"
        return And((Compare(lo, node.lower, node.expr), Compare(hi, node.expr, node.upper)))
    is_field = isinstance(node, In) and isinstance(node.expr, Field) and not node.expr.dynamic
    if (
        isinstance(node, In)
        and not is_field
        and isinstance(node.values, ListLiteral)
        and node.values.values  # `x not in []` keeps its null semantics only as written
    ):
        op: CompareOp = "!=" if node.negated else "=="
        items = tuple(Compare(op, node.expr, _literal(v)) for v in node.values.values)
        return And(items) if node.negated else Or(items)
    return node


def _literal(value: Any) -> Expr:
    return ListLiteral(value) if isinstance(value, tuple) else Literal(value)


def _param(name: str, value: Any) -> Any:
    """A ``filter_params`` value checked and normalised by Kestrel's ``bind``."""
    node = bind(Param(name), {name: value})
    if isinstance(node, Literal):
        return node.value
    assert isinstance(node, ListLiteral)
    return _plain(node.values)


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


def keys_filter(pk: str, keys: Sequence[PrimaryKey], server: ServerInfo) -> Filter:
    """``pk in [...]`` for a batch of primary keys (bound by Milvus, or written out)."""
    if server.templating:
        return Filter(f"{pk} in {{__keys}}", {"__keys": list(keys)})
    return literal_filter(In(Field(pk), ListLiteral(tuple(keys))), server)


def after_filter(pk: str, last: PrimaryKey, server: ServerInfo) -> Filter:
    """``pk > last``: the next page of a read in primary key order."""
    if server.templating:
        return Filter(f"{pk} > {{__kestrel_after}}", {"__kestrel_after": last})
    return literal_filter(Compare(">", Field(pk), Literal(last)), server)


def literal_filter(tree: Expr, server: ServerInfo) -> Filter:
    """A tree of literals as text this server parses."""
    return Filter(to_text(tree if server.lite else server_rewrite(tree)))


def both(first: Filter, second: Filter) -> Filter:
    """``first and second`` (either may be empty)."""
    if not first.text:
        return second
    if not second.text:
        return first
    params = {**(first.params or {}), **(second.params or {})} or None
    return Filter(f"({first.text}) and ({second.text})", params)


# ------------------------------------------------------------------ output fields


@dataclass(frozen=True)
class Output:
    """What a read returns: declared fields and dynamic keys, and what to ask Milvus."""

    pk: str
    fields: tuple[str, ...]
    dynamic: str | tuple[str, ...]
    request: tuple[str, ...]
    declared: frozenset[str]

    def row(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """One Milvus row (or hit entity) in Kestrel's shape."""
        out = {name: _value(raw.get(name)) for name in self.fields}
        meta = raw.get(DYNAMIC_FIELD)
        extra = dict(meta) if isinstance(meta, Mapping) else {}
        extra.update(
            (k, v) for k, v in raw.items() if k not in self.declared and k != DYNAMIC_FIELD
        )
        if self.dynamic == "*":
            out.update(extra)
        else:
            out.update((k, extra[k]) for k in self.dynamic if k in extra)
        return out

    def entity(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """A hit's entity: the row without its primary key."""
        out = self.row(raw)
        out.pop(self.pk, None)
        return out


def output(schema: Schema, output_fields: Sequence[str] | None, default_all: bool) -> Output:
    """Plan the fields of a read the way the embedded engine picks them.

    BM25 output fields are never returned: Milvus keeps no raw data for them
    (``"*"`` leaves them out; naming one is an error).

    Raises:
        DataError: an unknown field on a collection without dynamic fields.
        NotSupportedError: a BM25 output field named.
    """
    fields, dynamic = output_entity_fields(schema, output_fields, default_all)
    hidden = {fn.output for fn in schema.functions if isinstance(fn, BM25)}
    asked = set(output_fields or ())
    for name in fields:
        if name in hidden and name in asked:
            raise NotSupportedError(
                f"{name!r} is filled by a BM25 function; Milvus does not return its values"
            )
    shown = tuple(f for f in fields if f not in hidden)
    extra: tuple[str, ...] = ()
    if dynamic == "*":
        extra = (DYNAMIC_FIELD,) if schema.enable_dynamic_field else ()
    else:
        extra = tuple(dynamic)
    return Output(
        pk=schema.primary.name,
        fields=shown,
        dynamic=dynamic if dynamic == "*" else tuple(dynamic),
        request=shown + extra,
        declared=frozenset(schema.names),
    )


def _value(value: Any) -> Any:
    """A value from pymilvus as the embedded engine returns it (plain Python)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(k, (int, np.integer)) for k in value)
    ):
        return {int(k): float(v) for k, v in value.items()}  # a sparse vector
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], np.generic):
        return [v.item() for v in value]
    if isinstance(value, bytes):
        return value
    return value


# ------------------------------------------------------------------ search


def search_params(
    checked: SearchParams, metric: Metric, index_type: str, lite: bool
) -> dict[str, Any]:
    """Milvus ``search_params`` from Kestrel's checked ones.

    ``ef`` goes to HNSW indexes (Kestrel's default: at least 128 and ``limit +
    offset``), ``nprobe`` to IVF ones, ``drop_ratio_search`` to sparse ones, ``radius`` /
    ``range_filter`` to any.

    Raises:
        NotSupportedError: ``drop_ratio_search`` on Milvus Lite.
    """
    params: dict[str, Any] = {}
    if index_type == "HNSW":
        params["ef"] = checked.ef
    if index_type.startswith("IVF_"):
        params["nprobe"] = checked.nprobe
        if checked.refine_k is not None:
            raise NotSupportedError(
                "refine_k is Kestrel's (re-ranking by exact vectors); Milvus's IVF indexes "
                "take nprobe only"
            )
    if checked.drop_ratio:
        if lite:
            raise NotSupportedError("Milvus Lite has no drop_ratio_search (a Milvus server has)")
        params["drop_ratio_search"] = checked.drop_ratio
    if checked.radius is not None:
        params["radius"] = checked.radius
    if checked.range_filter is not None:
        params["range_filter"] = checked.range_filter
    return {"metric_type": metric.value, "params": params}


def milvus_ranker(pm: Any, ranker: Ranker) -> Any:
    """pymilvus's ranker for a Kestrel one (same semantics: see ``vectorstore.ranking``)."""
    if isinstance(ranker, RRFRanker):
        k = ranker.k
        return pm.RRFRanker(int(k) if float(k).is_integer() else k)
    if isinstance(ranker, WeightedRanker):
        return pm.WeightedRanker(*ranker.weights, norm_score=ranker.norm_score)
    raise DataError("ranker must be an RRFRanker or a WeightedRanker")


def to_hits(result: Any, out: Output, metric: Metric | None) -> list[Hits]:
    """pymilvus search results as ``Hits`` (lists of ``Hit``).

    Milvus Lite reports BM25 scores negated (smaller is closer); a BM25 score
    is never negative, so one is turned back into Milvus's positive score.
    """
    flip = metric is Metric.BM25
    hits: list[Hits] = []
    for per_query in result:
        row = Hits()
        for raw in per_query:
            distance = float(raw["distance"])
            if flip and distance < 0:
                distance = -distance
            entity = raw.get("entity") or {}
            # pymilvus keys a hit by the primary field's name (not always "id")
            key = raw.id if hasattr(raw, "id") else raw["id"]
            row.append(Hit(_value(key), distance, out.entity(entity)))
        hits.append(row)
    return hits


def query_data(
    schema: Schema, route: Route, data: Any
) -> list[str] | list[Mapping[int, float]] | list[list[float]]:
    """The ``data`` of a search on ``route``: vectors, sparse dicts, or the query
    texts for a BM25 field (Milvus scores them)."""
    if route.bm25 is not None:
        return [data] if isinstance(data, str) else list(data)
    if schema[route.field].dtype is DataType.SPARSE_FLOAT_VECTOR:
        sparse: list[Mapping[int, float]] = list(route.sparse or ())
        return sparse
    vectors: list[list[float]] = np.asarray(route.dense, dtype=np.float32).tolist()
    return vectors


__all__ = [
    "MAX_WINDOW",
    "NO_FILTER",
    "Filter",
    "Output",
    "after_filter",
    "both",
    "keys_filter",
    "milvus_ranker",
    "output",
    "query_data",
    "render_filter",
    "search_params",
    "to_hits",
]
