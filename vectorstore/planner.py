"""How a segment answers a (possibly filtered) vector search.

Given how many live rows pass the filter, the planner picks the cheapest
strategy that keeps recall@10 >= 0.95:

- ``EXACT``: brute force over the passing rows. Always exact; its cost grows
  with the passing rows, so it wins when few pass (and is the only choice
  without an index).
- ``HNSW``: the graph, unfiltered (no filter, or every row passes).
- ``HNSW_OVERSAMPLE``: the graph without a filter, asking for
  ``2 k / fraction + 10`` rows (``ef`` at least that) and keeping those that
  pass. Its cost grows with ``rows / passing``.
- ``HNSW_FILTER``: hnswlib's label filter, a Python callback per visited node;
  used only when oversampling came back short.

Measured with ``python benchmarks/filtered.py --calibrate`` (100k x 128, 2
cores; figures in benchmarks/RESULTS.md): the callback is 3-10x slower than
oversampling at every selectivity, and exact overtakes oversampling below
~3-4 % of 100k rows. Exact cost ~ passing rows and oversampling cost ~ rows /
passing, so the crossover moves with sqrt(rows): ``EXACT_PER_SQRT_ROWS``. A
filter that repeats (a tenant, a user) keeps its rows' vectors gathered in the
segment's selection cache; exact search over them is one matrix product, about
4x cheaper, so the limit is ``CACHED_FACTOR`` times higher there.
"""

from __future__ import annotations

import enum
import math

EXACT_PER_SQRT_ROWS = 12  # exact search up to 12 * sqrt(live rows) passing rows ...
EXACT_MIN_ROWS = 2_000  # ... and always up to this many ...
CACHED_FACTOR = 4  # ... or 4x that when the rows' vectors are cached (one matmul)
OVERSAMPLE_FACTOR = 2.0  # ask the graph for OVERSAMPLE_FACTOR * k / fraction (+ margin)
OVERSAMPLE_MARGIN = 10
# Quantized IVF indexes fetch refine_k * k candidates and re-rank them by exact
# distance (the segment keeps the float32 vectors anyway): see benchmarks/ivf.py.
DEFAULT_NPROBE = 8  # IVF lists searched, as Milvus
DEFAULT_REFINE = {"IVF_FLAT": 1.0, "IVF_SQ8": 2.0, "IVF_PQ": 10.0}


class Strategy(enum.Enum):
    EXACT = "exact"
    HNSW = "hnsw"
    HNSW_OVERSAMPLE = "hnsw_oversample"
    HNSW_FILTER = "hnsw_filter"


def exact_limit(num_rows: int, cached: bool = False) -> int:
    """The most passing rows for which exact search is the plan."""
    limit = max(EXACT_MIN_ROWS, int(EXACT_PER_SQRT_ROWS * math.sqrt(num_rows)))
    return limit * CACHED_FACTOR if cached else limit


def choose(
    *, has_index: bool, num_rows: int, num_allowed: int, k: int, cached: bool = False
) -> Strategy:
    """Pick a strategy for one segment.

    Args:
        has_index: the field has an HNSW index in this segment.
        num_rows: live rows in the segment.
        num_allowed: live rows that pass the filter.
        k: results wanted.
        cached: the passing rows' vectors are (or will be) kept gathered, so
            exact search is one matrix product with no gather.

    Returns:
        The strategy.
    """
    if not has_index or num_allowed <= max(k, exact_limit(num_rows, cached)):
        return Strategy.EXACT
    if num_allowed >= num_rows:
        return Strategy.HNSW
    return Strategy.HNSW_OVERSAMPLE


def oversampled_k(k: int, num_rows: int, num_allowed: int) -> int:
    """How many graph results to ask for so that about 2k of them pass."""
    fraction = num_allowed / max(num_rows, 1)
    return min(num_rows, int(OVERSAMPLE_FACTOR * k / fraction) + OVERSAMPLE_MARGIN)
