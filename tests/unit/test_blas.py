"""Kestrel's small products run on one OpenBLAS thread, and leave the setting as they found it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import vectorstore as vs
from vectorstore.index import blas, flat

pytestmark = pytest.mark.skipif(blas.threads() is None, reason="numpy is not on OpenBLAS here")


@pytest.fixture
def two_threads():  # type: ignore[no-untyped-def]
    """OpenBLAS at two threads (what these machines start with), restored after."""
    with threadpool_limits(limits=2, user_api="blas"):
        assert blas.threads() == 2
        yield


def test_one_thread_inside_and_the_old_count_after(two_threads: None) -> None:
    with blas.one_thread():
        assert blas.threads() == 1
    assert blas.threads() == 2
    with pytest.raises(ZeroDivisionError), blas.one_thread():
        1 / 0  # noqa: B018
    assert blas.threads() == 2


def test_a_count_of_one_set_by_the_caller_stays_one() -> None:
    with threadpool_limits(limits=1, user_api="blas"):
        with blas.one_thread():
            assert blas.threads() == 1
        assert blas.threads() == 1


def test_overlapping_searches_restore_the_count_when_the_last_ends(two_threads: None) -> None:
    """Thread A enters, B enters, A leaves (still one thread: B runs), B leaves (two)."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[str, int | None]] = []

    def a() -> None:
        with blas.one_thread():
            a_in.set()
            b_in.wait(5)
        seen.append(("a left", blas.threads()))
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with blas.one_thread():
            b_in.set()
            a_out.wait(5)
            seen.append(("b still in", blas.threads()))
        seen.append(("b left", blas.threads()))

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [("a left", 1), ("b still in", 1), ("b left", 2)]


def test_single_query_search_runs_its_product_on_one_thread(
    two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exact search of one query takes the one-thread path, batches of many do not,
    and the results are numpy's (the reference, computed outside the guard)."""
    counts: list[int | None] = []
    real = flat._product

    def spy(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        out = real(queries, vectors)
        counts.append(blas.threads())
        return out

    seen_inside: list[int | None] = []
    real_enter = blas._OneThread.__enter__

    def enter(self: blas._OneThread) -> None:
        real_enter(self)
        seen_inside.append(blas.threads())

    monkeypatch.setattr(blas._OneThread, "__enter__", enter)
    monkeypatch.setattr(flat, "_product", spy)
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    col = vs.connect(":memory:").create_collection("c", dimension=16, metric="IP")
    col.insert({"id": np.arange(500), "vector": vectors})
    one = col.search(vectors[:1], limit=5)
    assert seen_inside == [1] and counts == [2]  # one thread inside, two again after
    many = col.search(vectors[:20], limit=5)
    assert seen_inside == [1]  # 20 queries: BLAS keeps its threads
    want = np.argsort(-(vectors[:20] @ vectors.T), axis=1, kind="stable")[:, :5]
    assert [h.id for h in one[0]] == want[0].tolist()
    assert [[h.id for h in hits] for hits in many] == want.tolist()
