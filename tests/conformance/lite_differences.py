"""What Milvus Lite does differently, as named ``milvus_differs`` markers.

Each marker turns the cases it marks into expected failures on the kinds it
names (``kinds=``, by default "milvus-lite" only; see ``tests/conftest.py``); the
embedded kinds run them as before. What a Milvus server lacks by version is not
here: those cases carry ``needs_milvus`` marks. The reasons are the rows of the
README's "Scaling out" table; a strict marker that starts passing (a newer
Milvus Lite) fails the suite, so the table stays true. Import them as
``from lite_differences import ...``.

Each names the exception it expects (``raises=``): a NotSupportedError where the
backend refuses, a DataError where Milvus rejects the data, an AssertionError
where it answers differently; any other exception is a real failure. Every
marker is strict; one that cannot be says why (``not_strict_because=``).
"""

from __future__ import annotations

import pytest

from vectorstore.errors import DataError, NotSupportedError

ANSWERS_DIFFERENTLY = AssertionError  # the call succeeds; the test's check fails

differs = pytest.mark.milvus_differs

# --------------------------------------------------------------- filter syntax
MODULO = differs(reason="Milvus Lite's filter parser has no % operator", raises=NotSupportedError)
CHAINED_RANGE = differs(
    reason="Milvus Lite rejects chained comparisons such as 1 < x <= 5", raises=NotSupportedError
)
JSON_PATH_IN = differs(
    reason="Milvus Lite rejects `in` / `not in` on a JSON path", raises=NotSupportedError
)
ARRAY_LENGTH_JSON = differs(
    reason="Milvus Lite's array_length takes an ARRAY field, not JSON", raises=NotSupportedError
)
# ------------------------------------------------------------ filter semantics
BOOL_IS_INT = differs(
    reason="Milvus Lite compares true == 1 on JSON and dynamic values", raises=ANSWERS_DIFFERENTLY
)
MISSING_KEY_NOT_EQUAL = differs(
    reason="Milvus Lite's `!=`, `not in` and `not` are false on a missing JSON key (Milvus: true)",
    raises=ANSWERS_DIFFERENTLY,
)
NOT_NULL = differs(
    reason="Milvus Lite's `not text_match(...)` matches rows whose text is null",
    raises=ANSWERS_DIFFERENTLY,
)
# ------------------------------------------------------------------ data
JSON_SCALAR = differs(
    reason="Milvus Lite stores only objects and arrays in a JSON field (not a bare string, "
    "number or bool)",
    raises=DataError,
)
DYNAMIC_KEY_ORDER = differs(
    reason="Milvus Lite returns dynamic keys in its own order", raises=ANSWERS_DIFFERENTLY
)
EMPTY_SPARSE = differs(
    reason="Milvus Lite rejects a sparse vector without a nonzero weight", raises=DataError
)
PARTITION_GHOST = differs(
    reason="Milvus Lite: after a flush, a row replaced from another partition (upsert, or "
    "delete and insert) still shows in reads restricted to its old partition",
    raises=ANSWERS_DIFFERENTLY,
)
# ------------------------------------------------------------------ search
HNSW_DELETES = differs(
    reason="Milvus Lite's HNSW search drops deleted rows after the graph search, so it may "
    "return fewer than limit hits",
    raises=ANSWERS_DIFFERENTLY,
)
RANGE = differs(
    reason="Milvus Lite's range search only looks among the ef (or limit) nearest rows, "
    "finds nothing on BM25 fields and ignores radius in hybrid routes",
    raises=ANSWERS_DIFFERENTLY,
)
GROUP_BY = differs(
    reason="Milvus Lite's group-by fills groups from a bounded candidate pool: a group may "
    "hold fewer than group_size hits, and fewer groups may come back",
    raises=ANSWERS_DIFFERENTLY,
)
DROP_RATIO = differs(reason="Milvus Lite has no drop_ratio_search", raises=NotSupportedError)
FLOAT32_SCORES = differs(
    reason="Milvus returns float32 distances and fused scores", raises=ANSWERS_DIFFERENTLY
)
# ------------------------------------------------------------------ text
_BM25_STATS = (
    "Milvus Lite keeps BM25 statistics per partition and segment, so scores drift from the "
    "collection-wide formula"
)
BM25_STATS = differs(reason=_BM25_STATS, raises=ANSWERS_DIFFERENTLY)
BM25_STATS_TIMING = differs(
    reason=_BM25_STATS + " (when its segments seal)",
    raises=ANSWERS_DIFFERENTLY,
    strict=False,
    not_strict_because="the writes race searches in threads, so whether Milvus Lite has "
    "sealed a segment (and its scores drift) when a search runs varies from run to run",
)
ANALYZERS = differs(
    reason="Milvus Lite's only analyzer is the standard tokenizer with lowercasing and stop words",
    raises=NotSupportedError,
)
