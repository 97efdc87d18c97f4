"""What the Milvus at the other end can do, read from its version at connect.

Features came to Milvus over releases; a server without one accepts some of
them at create time and fails later with a message about something else
("create index on 104 field is not supported", a num_rows mismatch). So the
backend checks before it sends anything, and names the collection, field or
call, the version the feature needs, the server's version and the fix.

Milvus Lite (3.x) has every feature here but filter templating. A version
string Kestrel cannot read is taken as current: the server then decides.
The minimums are Milvus's release notes' (JSON values other than objects:
milvus-io/milvus#31051, 2.4.0); only 2.3.5 and Milvus Lite are tested.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..errors import NotSupportedError
from ..expr import Arith, Call, Compare, Expr, IsNull, Like, Literal, Neg, Range, walk
from ..functions import BM25
from ..index_spec import Index
from ..rows import RowBatch
from ..schema import Schema
from ..types import DataType

Version = tuple[int, int, int]
INT64_MAX = 2**63 - 1


class Feature(enum.Enum):
    """A Milvus feature and the first version that has it."""

    SPARSE = ("sparse vector fields", (2, 4, 0))
    MULTI_VECTOR = ("several vector fields in one collection", (2, 4, 0))
    HYBRID_SEARCH = ("hybrid_search", (2, 4, 0))
    GROUP_BY = ("search grouped by a field (group_by_field)", (2, 4, 0))
    JSON_VALUES = ("JSON values other than objects", (2, 4, 0))
    # 2.3.5 stores the row, then no filtered query or get finds it (search and count do);
    # Milvus Lite 3.2 (2.5 code) is right; 2.4 is untested, so 2.5 is claimed
    INT64_MAX_KEY = ("the primary key 9223372036854775807 (the largest int64)", (2, 5, 0))
    # 2.3.5 refuses these; Milvus Lite 3.2 (2.5 code) runs them; 2.4 is untested
    LIKE_PATTERN = ("`like` patterns other than a prefix (`ab%`)", (2, 5, 0))
    ARITH_ORDER = ("arithmetic compared with <, <=, > or >=", (2, 5, 0))
    BM25 = ("BM25 functions", (2, 5, 0))
    ANALYZER = ("analyzers", (2, 5, 0))
    TEXT_MATCH = ("text_match", (2, 5, 0))
    NULLABLE = ("nullable fields", (2, 5, 0))
    DEFAULT_VALUE = ("field default values", (2, 5, 0))
    IS_NULL = ("`is null` filters", (2, 5, 0))
    GROUP_SIZE = ("group_size above 1", (2, 5, 0))
    TEMPLATING = ("filter templating", (2, 5, 0))
    # 2.3 builds Trie (VARCHAR) and STL_SORT (numbers) only; INVERTED came in 2.4
    INVERTED_INDEX = ("INVERTED scalar indexes (on BOOL and ARRAY fields)", (2, 4, 0))
    BITMAP_INDEX = ("BITMAP scalar indexes", (2, 5, 0))

    def __init__(self, label: str, needs: Version):
        self.label = label
        self.needs = needs

    @property
    def needs_text(self) -> str:
        return ".".join(map(str, self.needs[:2]))


_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class ServerInfo:
    """The Milvus a client talks to.

    Attributes:
        uri: the URI the client was opened with (for messages).
        reported: the version string Milvus reported (``v2.3.5-lite``,
            ``milvus_lite-3.2.2``...).
        lite: Milvus Lite (every feature here but templating).
        version: the server's (major, minor, patch); None when Lite or unreadable.
    """

    uri: str
    reported: str
    lite: bool
    version: Version | None

    @classmethod
    def parse(cls, uri: str, reported: str, lite: bool) -> ServerInfo:
        match = None if lite else _VERSION.match(reported.strip())
        version = None
        if match:
            version = (int(match[1]), int(match[2]), int(match[3] or 0))
        return cls(uri, reported, lite, version)

    @property
    def name(self) -> str:
        """``Milvus 2.3.5``, ``Milvus Lite 3.2.2``: how messages name it."""
        if self.lite:
            return f"Milvus Lite {self.reported.rsplit('-', 1)[-1]}"
        if self.version is None:
            return f"Milvus {self.reported}"
        return "Milvus " + ".".join(map(str, self.version))

    def has(self, feature: Feature) -> bool:
        if self.lite:
            return feature is not Feature.TEMPLATING
        return self.version is None or self.version >= feature.needs

    @property
    def templating(self) -> bool:
        """Whether Milvus binds ``filter_params`` itself (else they are inlined)."""
        return self.has(Feature.TEMPLATING)

    def require(self, subject: str, gaps: Iterable[tuple[Feature, str]], fix: str) -> None:
        """Raise ``NotSupportedError`` if any of ``gaps`` (a feature and what in
        the call uses it) is missing here.

        Args:
            subject: what cannot be done, e.g. ``hold collection 'docs'``.
            gaps: (feature, detail) pairs, e.g. (SPARSE, "field 'sparse' is
                SPARSE_FLOAT_VECTOR").
            fix: what the caller can do instead.
        """
        missing = [(f, detail) for f, detail in gaps if not self.has(f)]
        if not missing:
            return
        reasons = "; ".join(f"{detail} (needs Milvus >= {f.needs_text})" for f, detail in missing)
        raise NotSupportedError(f"{self.name} at {self.uri} cannot {subject}: {reasons}. {fix}")


NEWER_FIX = "Use a newer Milvus, or the embedded engine (vs.connect(path))."
ROWS_FIX = (
    'Wrap a JSON value in an object (e.g. {"value": ...}), use another key, or a newer Milvus.'
)
LITE_INDEXES = ("FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "SPARSE_INVERTED_INDEX")


def check_lite_index(server: ServerInfo, index_type: str, field: str) -> None:
    """Milvus Lite 3.2 builds fewer index types than a server (IVF_PQ it calls
    "reserved for a future phase"): refuse the others before sending.

    Raises:
        NotSupportedError: on Milvus Lite, an index type it does not build.
    """
    if server.lite and index_type not in LITE_INDEXES:
        raise NotSupportedError(
            f"{server.name} has no {index_type} index (for {field!r}); it builds "
            f"{', '.join(LITE_INDEXES)}: use IVF_SQ8, or a Milvus server"
        )


def milvus_scalar_type(server: ServerInfo, schema: Schema, index: Index) -> str:
    """The Milvus index type to build for a Kestrel scalar index on this Milvus.

    Kestrel's four scalar index names are one sorted index, and an index never
    changes what a filter returns; Milvus versions build different ones (2.3:
    Trie on VARCHAR, STL_SORT on numbers; Milvus Lite 3.2: INVERTED only; 2.4:
    INVERTED and the older two; BITMAP later). So the type asked for is sent
    where the server has it, and the one it has for that field type otherwise.

    Raises:
        NotSupportedError: no scalar index of this Milvus takes the field's type.
    """
    f = schema[index.field]
    subject = f"index {f.dtype.name} field {f.name!r}"
    if server.lite:
        if f.dtype is DataType.ARRAY:
            raise NotSupportedError(
                f"{server.name} at {server.uri} cannot {subject}: its INVERTED index takes "
                "no ARRAY field. Leave the field unindexed (filters on it still work), or "
                "use a Milvus server >= 2.4 or the embedded engine."
            )
        return "INVERTED"
    if server.has(Feature.INVERTED_INDEX):
        if index.index_type == "BITMAP" and not server.has(Feature.BITMAP_INDEX):
            return "INVERTED"
        return index.index_type
    if f.dtype is DataType.VARCHAR:
        return "Trie"
    if f.dtype in (DataType.BOOL, DataType.ARRAY):
        gap = (Feature.INVERTED_INDEX, f"field {f.name!r} is {f.dtype.name}")
        fix = "Leave the field unindexed (filters on it still work), or use a newer Milvus."
        server.require(subject, [gap], fix)
    return "STL_SORT"


def check_index(server: ServerInfo, schema: Schema, index: Index) -> None:
    """Refuse, before anything is sent, an index this Milvus cannot build.

    Raises:
        NotSupportedError: as ``check_lite_index`` and ``milvus_scalar_type``.
    """
    if index.is_scalar:
        milvus_scalar_type(server, schema, index)
    else:
        check_lite_index(server, index.index_type, index.field)


SCHEMA_FIX = (
    "Use a newer Milvus, or keep this collection on the embedded engine "
    "(vs.connect(path)); on this server, use one dense FLOAT_VECTOR field and "
    "fields without nullable, default values or analyzers."
)


def schema_gaps(schema: Schema) -> list[tuple[Feature, str]]:
    """What a schema needs beyond Milvus 2.3, field by field."""
    gaps: list[tuple[Feature, str]] = []
    vectors = [f.name for f in schema.fields if f.is_vector]
    if len(vectors) > 1:
        gaps.append((Feature.MULTI_VECTOR, f"it has {len(vectors)} vector fields {vectors}"))
    for f in schema.fields:
        if f.dtype is DataType.SPARSE_FLOAT_VECTOR:
            gaps.append((Feature.SPARSE, f"field {f.name!r} is SPARSE_FLOAT_VECTOR"))
        if f.nullable:
            gaps.append((Feature.NULLABLE, f"field {f.name!r} is nullable"))
        if f.default_value is not None:
            gaps.append((Feature.DEFAULT_VALUE, f"field {f.name!r} has a default value"))
        if f.analyzer is not None:
            gaps.append((Feature.ANALYZER, f"field {f.name!r} has an analyzer"))
    for fn in schema.functions:
        if isinstance(fn, BM25):
            gaps.append((Feature.BM25, f"BM25 function {fn.name!r}"))
    return gaps


def filter_gaps(tree: Expr) -> list[tuple[Feature, str]]:
    """What a bound filter needs beyond Milvus 2.3."""
    gaps: list[tuple[Feature, str]] = []
    for node in walk(tree):
        if isinstance(node, IsNull):
            gaps.append((Feature.IS_NULL, "it tests `is null`"))
        elif isinstance(node, Call) and node.name == "text_match":
            gaps.append((Feature.TEXT_MATCH, "it calls text_match"))
        elif isinstance(node, Like) and not _prefix_pattern(node.pattern):
            gaps.append((Feature.LIKE_PATTERN, "it matches a `like` pattern that is no prefix"))
        elif _arith_order(node):
            gaps.append((Feature.ARITH_ORDER, "it orders the result of arithmetic"))
    return list(dict.fromkeys(gaps))


def _prefix_pattern(pattern: Expr) -> bool:
    """``ab%`` or ``ab``: what Milvus 2.3's `like` takes (no escapes either)."""
    if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
        return True  # not bound: the checker reports it
    text = pattern.value
    core = text[:-1] if text.endswith("%") else text
    return not any(c in core for c in "%_\\")


def _arith_order(node: Expr) -> bool:
    if isinstance(node, Compare) and node.op in ("<", "<=", ">", ">="):
        return isinstance(node.left, (Arith, Neg)) or isinstance(node.right, (Arith, Neg))
    if isinstance(node, Range):
        return isinstance(node.expr, (Arith, Neg))
    return False


def search_gaps(group: str | None, group_size: int) -> list[tuple[Feature, str]]:
    """What a search needs beyond Milvus 2.3 (grouping)."""
    gaps = []
    if group is not None:
        gaps.append((Feature.GROUP_BY, f"it groups by {group!r}"))
        if group_size > 1:
            gaps.append((Feature.GROUP_SIZE, f"group_size is {group_size}"))
    return gaps


def row_gaps(schema: Schema, batch: RowBatch) -> list[tuple[Feature, str]]:
    """What a batch of rows needs beyond Milvus 2.3: the first JSON value that
    is not an object, the largest int64 as a primary key."""
    gaps: list[tuple[Feature, str]] = []
    if schema.primary.dtype is DataType.INT64 and INT64_MAX in batch.pks:
        row = list(batch.pks).index(INT64_MAX)
        gaps.append((Feature.INT64_MAX_KEY, f"row {row} has the key {INT64_MAX}"))
    for f in schema.scalar_fields:
        if f.dtype is not DataType.JSON:
            continue
        for i, value in enumerate(batch.scalars[f.name].tolist()):
            if value is not None and not isinstance(value, Mapping):
                kind = type(value).__name__
                gaps.append((Feature.JSON_VALUES, f"row {i}: field {f.name!r} holds a {kind}"))
                return gaps
    return gaps


__all__ = [
    "NEWER_FIX",
    "ROWS_FIX",
    "SCHEMA_FIX",
    "Feature",
    "ServerInfo",
    "check_index",
    "check_lite_index",
    "filter_gaps",
    "milvus_scalar_type",
    "row_gaps",
    "schema_gaps",
    "search_gaps",
]
