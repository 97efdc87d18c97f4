"""What a ``needs_milvus`` mark makes of a case on an older Milvus server
(``helpers.milvus_server.outcome``, used by the hook in ``tests/conftest.py``)."""

from __future__ import annotations

import pytest
from helpers.milvus_server import Needs, outcome, version_tuple

import vectorstore as vs


def test_versions_and_the_highest_need() -> None:
    assert version_tuple("v2.3.5-lite") == (2, 3, 5)
    assert version_tuple("2.5") == (2, 5, 0)
    with pytest.raises(ValueError):
        version_tuple("milvus")
    needs = Needs.of([("2.4", "sparse vectors"), ("2.5", "BM25"), ("2.4", "sparse vectors")])
    assert needs == Needs((2, 5, 0), ("sparse vectors", "BM25"))
    assert needs.unmet_on("v2.4.9") and not needs.unmet_on("v2.5.0")
    assert Needs.of([]) is None


NEEDS = Needs((2, 5, 0), ("nullable fields",))
REFUSED = vs.NotSupportedError(
    "Milvus 2.3.5 at http://x cannot hold collection 'c': field 'n' is nullable "
    "(needs Milvus >= 2.5). Use a newer Milvus"
)


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (REFUSED, "skipped"),  # refused by version, before sending: skipped
        (None, "failed"),  # passed below the version: the mark is stale
        (vs.NotSupportedError("Milvus Lite has no drop_ratio_search"), "error"),
        (vs.DataError("cannot parse expression"), "error"),  # the server's own failure
        (AssertionError("wrong rows"), "error"),
    ],
)
def test_outcome(error: BaseException | None, verdict: str) -> None:
    got, why = outcome(NEEDS, "v2.3.5-lite", error)
    assert got == verdict
    if verdict == "skipped":
        assert why == "needs Milvus >= 2.5 (nullable fields); server is Milvus v2.3.5-lite"
    if verdict == "failed":
        assert "stale" in why
