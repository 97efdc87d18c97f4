"""Small matrix products on one BLAS thread.

OpenBLAS splits even a one-query product (1 x d by d x n rows) across its
threads. On an idle machine that gains little, since the product is bound by
memory. On a busy one, with more runnable threads than cores (a shared host, a
container's CPU quota, a server's worker processes), the call waits for its
helper thread to be scheduled: an exact filtered search that takes ~250 us took
up to 7.4 ms a query (3-4 ms at the median of some runs) while other processes
kept this machine's two cores busy, and 210-250 us steady with one BLAS thread
(benchmarks/RESULTS.md, "Filtered search").

So ``one_thread()`` sets OpenBLAS to one thread around Kestrel's own small
products, and restores the previous count after. The count is process-wide
(OpenBLAS's per-thread setting also limits other threads, checked on the
OpenBLAS numpy ships), so another thread's BLAS call made meanwhile runs on one
thread too; concurrent searches share one setting, and the last to finish
restores it. threadpoolctl finds the OpenBLAS numpy loaded (its file name and
symbol names differ by build and platform); with another BLAS (MKL,
Accelerate) this does nothing.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_depth = 0  # products running under one_thread()
_saved = 0  # the thread count to restore when the last one ends


def _find() -> tuple[Callable[[], int], Callable[[int], Any]] | None:
    """OpenBLAS's get/set thread count functions, or None without OpenBLAS."""
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then finds)
    from threadpoolctl import ThreadpoolController

    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        if getattr(lib, "threading_layer", None) == "openmp":
            continue  # an OpenMP build's count is per thread already
        dynlib = lib.dynlib
        for prefix, suffix in (("", ""), ("scipy_", "64_"), ("", "64_")):
            get = getattr(dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
            set_ = getattr(dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                return get, set_
    return None


try:
    _functions = _find()
except Exception:  # an optimisation: never fail an import over it
    _functions = None


class _OneThread:
    """``with one_thread():`` (a class, not contextlib: this runs per search)."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _depth, _saved
        if _functions is None:
            return
        get, set_ = _functions
        with _lock:
            if _depth == 0:
                _saved = get()
                if _saved > 1:
                    set_(1)
            _depth += 1

    def __exit__(self, *exc: object) -> None:
        global _depth
        if _functions is None:
            return
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved > 1:
                _functions[1](_saved)


_ONE_THREAD = _OneThread()


def one_thread() -> _OneThread:
    """A context in which OpenBLAS runs on one thread."""
    return _ONE_THREAD


def threads() -> int | None:
    """OpenBLAS's current thread count (None without OpenBLAS)."""
    return None if _functions is None else _functions[0]()
