"""How a segment answers a (possibly filtered) vector search.

Strategies:

- ``EXACT``: brute force over the passing rows. Always exact; its cost grows
  with the passing rows, so it wins when few pass (and is the only choice
  without an index).
- ``HNSW``: the graph, unfiltered (no filter, or every row passes).
- ``HNSW_OVERSAMPLE``: the graph without a filter, keeping the results that
  pass. It asks for ``wanted = 2 k / fraction + 10`` results (about 2k of them
  pass) with a beam of ``ef / fraction`` while at least half the rows pass and
  ``2 ef`` below that, but never under ``2 wanted`` (``oversampled``). A beam
  of just ``ef`` left recall at 0.92-0.94 at 20-50 % on GloVe; ``ef / fraction``
  all the way down (the rule until 2026-12-06) oversampled far more than recall
  needs (0.998 at 10 % of 1M rows, at a quarter of the speed). Measured at 200k
  and 1M rows (ef 88 and 256) from 2 % to 90 % passing, this beam keeps the
  recall at or above the unfiltered search's at the same ``ef``; ``2 wanted``
  matters from 3 % to 6 % at 1M, where ``wanted`` nears ``2 ef`` and the results
  it asks for would otherwise sit at the very end of the beam (recall 0.93).
  If fewer than ``k`` pass, which happens by chance (about 2k are expected to:
  at 10 % about 1 query in 500 gets fewer than k), the search looks among
  ``RETRY_WIDENING`` times as many (the same walk's while they fit its beam, else
  one wider walk: ``HnswIndex.search_passing``); if that is short too (a filter correlated
  with the vectors: the query's neighbourhood holds no passing rows), the
  segment searches the passing rows exactly.

Unfiltered, a segment is searched exactly while it is small
(``exact_limit``: ~12 sqrt(rows), at least 2,000 rows), so small collections
get exact answers. Filtered, the planner compares costs. Exact search costs
about ``dim + ROW_OVERHEAD`` per passing row (the dot product, plus the score's
write and the top-k's passes over it, worth ~28 dimensions; ~76 while the top-k
was ``np.argpartition``), when the selection cache keeps the rows' vectors
gathered (one matrix product); gathering and normalising them first (a selection
too big to keep) costs ``GATHER_FACTOR`` times more (7-20x measured). The graph
costs about ``BEAM_SLOT_COST`` per slot of its beam (1.1-1.3 us; the unit is ~0.07
ns). Fitted with ``python benchmarks/filtered.py --calibrate`` (``--data gmm``,
128-d, and ``--data glove``, 50-d; 100k rows, figures in benchmarks/RESULTS.md):
exact and the graph cost the same at ~20 % passing on the first and ~30 % on the
second.
"""

from __future__ import annotations

import enum
import math
from typing import NamedTuple

EXACT_PER_SQRT_ROWS = 12  # unfiltered: exact search up to 12 * sqrt(live rows) ...
EXACT_MIN_ROWS = 2_000  # ... and always up to this many
ROW_OVERHEAD = 28  # filtered: exact costs dim + 28 per passing row (rows cached) ...
GATHER_FACTOR = 12  # ... times 12 when it must gather and normalise them first,
BEAM_SLOT_COST = 16_000  # and the graph ~16,000 per slot of its beam
OVERSAMPLE_FACTOR = 2.0  # ask the graph for OVERSAMPLE_FACTOR * k / fraction (+ margin)
OVERSAMPLE_MARGIN = 10
MAX_BEAM_WIDENING = 2.0  # a filtered search's beam: at most 2 ef ...
BEAM_PER_WANTED = 2.0  # ... but at least twice the results it asks for
RETRY_WIDENING = 4  # fewer than k passed: ask for 4x as many once, then search exactly
# Quantized IVF indexes fetch refine_k * k candidates and re-rank them by exact
# distance (the segment keeps the float32 vectors anyway): see benchmarks/ivf.py.
DEFAULT_NPROBE = 8  # IVF lists searched, as Milvus
DEFAULT_REFINE = {"IVF_FLAT": 1.0, "IVF_SQ8": 2.0, "IVF_PQ": 10.0}


class Strategy(enum.Enum):
    EXACT = "exact"
    HNSW = "hnsw"
    HNSW_OVERSAMPLE = "hnsw_oversample"


class Plan(NamedTuple):
    """A strategy and the graph search it costed: for ``HNSW_OVERSAMPLE`` the
    results to ask for and the beam (``oversampled``), else the caller's."""

    strategy: Strategy
    k: int
    ef: int


def exact_limit(num_rows: int) -> int:
    """The most rows an unfiltered search of a segment scores exactly."""
    return max(EXACT_MIN_ROWS, int(EXACT_PER_SQRT_ROWS * math.sqrt(num_rows)))


# A segment with more live rows than this is past ``exact_limit`` (c sqrt(n) < n
# exactly when n > c**2), so its unfiltered searches walk the graph: a comparison,
# not a call, on the hot path (tests/unit/test_planner.py holds the two together).
WALK_ABOVE = max(EXACT_MIN_ROWS, EXACT_PER_SQRT_ROWS**2)


def choose(
    *,
    has_index: bool,
    num_rows: int,
    num_allowed: int,
    k: int,
    ef: int,
    dim: int,
    cached: bool = False,
) -> Plan:
    """Pick a strategy for one segment.

    Args:
        has_index: the field has an HNSW index in this segment.
        num_rows: live rows in the segment.
        num_allowed: live rows that pass the filter.
        k: results wanted.
        ef: the search's beam width (unfiltered).
        dim: the vectors' dimension.
        cached: the passing rows' vectors are (or will be) kept gathered, so
            exact search is one matrix product with no gather.

    Returns:
        The strategy, with the results to ask the graph for and its beam.
    """
    if not has_index or num_allowed <= k or num_rows <= exact_limit(num_rows):
        return Plan(Strategy.EXACT, k, ef)  # (a segment small enough to scan whole is scanned)
    if num_allowed >= num_rows:
        return Plan(Strategy.HNSW, k, ef)
    exact = num_allowed * (dim + ROW_OVERHEAD) * (1 if cached else GATHER_FACTOR)
    wanted, beam = oversampled(ef, k, num_rows, num_allowed)
    if exact <= BEAM_SLOT_COST * beam:
        return Plan(Strategy.EXACT, k, ef)
    return Plan(Strategy.HNSW_OVERSAMPLE, wanted, beam)


def oversampled_k(k: int, num_rows: int, num_allowed: int) -> int:
    """How many graph results to ask for so that about 2k of them pass."""
    fraction = num_allowed / max(num_rows, 1)
    return min(num_rows, int(OVERSAMPLE_FACTOR * k / fraction) + OVERSAMPLE_MARGIN)


def oversampled(ef: int, k: int, num_rows: int, num_allowed: int) -> tuple[int, int]:
    """An oversampled search: the results to ask for (``oversampled_k``) and
    the beam: ``ef / fraction`` (``ef`` passing candidates) down to half the
    rows passing, ``2 ef`` below that, and never under twice the results it
    asks for (nor more than the segment's rows)."""
    wanted = oversampled_k(k, num_rows, num_allowed)
    widening = min(num_rows / max(num_allowed, 1), MAX_BEAM_WIDENING)
    beam = max(math.ceil(BEAM_PER_WANTED * wanted), math.ceil(ef * widening))
    return wanted, max(wanted, min(beam, num_rows))


def filtered_ef(ef: int, k: int, num_rows: int, num_allowed: int) -> int:
    """The beam of an oversampled search (see ``oversampled``)."""
    return oversampled(ef, k, num_rows, num_allowed)[1]
