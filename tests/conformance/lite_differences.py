"""What Milvus Lite does differently, as named ``milvus_differs`` markers.

Each marker turns the cases it marks into expected failures on the
"milvus-lite" backend only (see ``tests/conftest.py``); the embedded kinds run
them as before. The reasons are the rows of the README's "Scaling out" table;
a strict marker that starts passing (a newer Milvus Lite) fails the suite, so
the table stays true. Import them as ``from lite_differences import ...``.
"""

from __future__ import annotations

import pytest

differs = pytest.mark.milvus_differs

# --------------------------------------------------------------- filter syntax
MODULO = differs(reason="Milvus Lite's filter parser has no % operator")
CHAINED_RANGE = differs(reason="Milvus Lite rejects chained comparisons such as 1 < x <= 5")
JSON_PATH_IN = differs(reason="Milvus Lite rejects `in` / `not in` on a JSON path")
ARRAY_LENGTH_JSON = differs(reason="Milvus Lite's array_length takes an ARRAY field, not JSON")
# ------------------------------------------------------------ filter semantics
BOOL_IS_INT = differs(reason="Milvus Lite compares true == 1 on JSON and dynamic values")
MISSING_KEY_NOT_EQUAL = differs(
    reason="Milvus Lite's `!=`, `not in` and `not` are false on a missing JSON key (Milvus: true)"
)
NOT_NULL = differs(reason="Milvus Lite's `not text_match(...)` matches rows whose text is null")
# ------------------------------------------------------------------ data
JSON_SCALAR = differs(
    reason="Milvus Lite stores only objects and arrays in a JSON field (not a bare string, "
    "number or bool)"
)
DYNAMIC_KEY_ORDER = differs(reason="Milvus Lite returns dynamic keys in its own order")
EMPTY_SPARSE = differs(reason="Milvus Lite rejects a sparse vector without a nonzero weight")
PARTITION_GHOST = differs(
    reason="Milvus Lite: after a flush, a row replaced from another partition (upsert, or "
    "delete and insert) still shows in reads restricted to its old partition"
)
# ------------------------------------------------------------------ search
HNSW_DELETES = differs(
    reason="Milvus Lite's HNSW search drops deleted rows after the graph search, so it may "
    "return fewer than limit hits"
)
RANGE = differs(
    reason="Milvus Lite's range search only looks among the ef (or limit) nearest rows, "
    "finds nothing on BM25 fields and ignores radius in hybrid routes",
    strict=False,
)
GROUP_BY = differs(
    reason="Milvus Lite's group-by fills groups from a bounded candidate pool: a group may "
    "hold fewer than group_size hits, and fewer groups may come back",
    strict=False,
)
DROP_RATIO = differs(reason="Milvus Lite has no drop_ratio_search (NotSupportedError)")
FLOAT32_SCORES = differs(reason="Milvus returns float32 distances and fused scores")
# ------------------------------------------------------------------ text
_BM25_STATS = (
    "Milvus Lite keeps BM25 statistics per partition and segment, so scores drift from the "
    "collection-wide formula"
)
BM25_STATS = differs(reason=_BM25_STATS)
BM25_STATS_TIMING = differs(reason=_BM25_STATS + " (when its segments seal)", strict=False)
ANALYZERS = differs(
    reason="Milvus Lite's only analyzer is the standard tokenizer with lowercasing and stop "
    "words (NotSupportedError for the others)",
    strict=False,
)
