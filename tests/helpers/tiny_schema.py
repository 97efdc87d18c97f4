"""The small schema the conformance schema modules build on: an INT64 key and a
4-d vector, plus whatever fields a test adds, and 4-d vectors to fill it with.
Shared by tests/conformance/test_backend_collections.py and
tests/conformance/test_backend_fields.py."""

from __future__ import annotations

import vectorstore as vs

DT = vs.DataType

VEC = [0.1, 0.2, 0.3, 0.4]


def vec(i: int) -> list[float]:
    """A 4-d vector that differs for every ``i``."""
    return [float(i), 1.0, -float(i) / 7, 0.5]


def base_fields(*extra: vs.Field) -> list[vs.Field]:
    """The key ``id`` (INT64), ``vector`` (4-d) and ``extra``."""
    return [
        vs.Field("id", DT.INT64, is_primary=True),
        vs.Field("vector", DT.FLOAT_VECTOR, dim=4),
        *extra,
    ]
