"""Shared fixtures: one store per backend kind, a reopen helper, a snapshot helper.

``db`` runs a test once per store kind: "memory" and "disk" (the embedded
engine). The conformance suite (``tests/conformance``) overrides ``stores``
with ``backends``, which adds "milvus-lite" (the Milvus backend on a fresh
Milvus Lite file per test), so every behaviour there is proven on each backend
while tests of the engine's internals never run on Milvus. ``reopen(db)``
closes a durable store and opens it again with the same options (a no-op for
the memory store), so one test checks both "works" and "survives a restart".

``@pytest.mark.milvus_differs(reason=...)`` marks a case Milvus Lite does
differently (see the README's "Scaling out"; the markers in use are named in
``tests/conformance/lite_differences.py``): it is an expected failure on
"milvus-lite" only, with the exception it names (``raises=``, required), strict
unless ``strict=False`` with ``not_strict_because=`` (why the outcome varies),
or skipped there with ``run=False``. Never on the embedded kinds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vectorstore as vs

STORE_KINDS = ("memory", "disk")
MILVUS_LITE = "milvus-lite"
MILVUS_SERVER = "milvus-server"
# A real Milvus server joins the backends when KESTREL_MILVUS_URI names one (e.g. the
# `milvus` package's server on loopback: http://127.0.0.1:19530). Every collection on it
# is dropped at the start of each test, so point it at a server of its own.
SERVER_URI = os.environ.get("KESTREL_MILVUS_URI", "")
BACKEND_KINDS = (*STORE_KINDS, MILVUS_LITE, *((MILVUS_SERVER,) if SERVER_URI else ()))
ENGINE_OPTIONS = frozenset({"segment_rows", "durability", "sync_interval_ms", "max_wal_bytes"})


class Stores:
    """Opens clients of one kind and closes them all at teardown."""

    def __init__(self, kind: str, root: Path):
        self.kind = kind
        self.path = root / "store"
        self.options: dict[str, Any] = {}
        self._clients: list[vs.Client] = []

    @property
    def durable(self) -> bool:
        return self.kind != "memory"

    @property
    def milvus(self) -> bool:
        """Whether the store is the Milvus backend (Milvus Lite or a server)."""
        return self.kind in (MILVUS_LITE, MILVUS_SERVER)

    @property
    def uri(self) -> str:
        if self.kind == MILVUS_LITE:
            return "milvus-lite://" + str(self.path.with_suffix(".db"))
        if self.kind == MILVUS_SERVER:
            return SERVER_URI
        return ":memory:" if self.kind == "memory" else str(self.path)

    def connect(self, **options: Any) -> vs.Client:
        """A new client (``segment_rows=`` etc. are remembered for ``reopen``).

        The embedded engine's layout options (``segment_rows``, ``durability``...)
        mean nothing to Milvus and are left out on "milvus-lite".
        """
        self.options = options
        if self.milvus:
            options = {k: v for k, v in options.items() if k not in ENGINE_OPTIONS}
        db = vs.connect(self.uri, **options)
        if self.kind == MILVUS_SERVER and not self._clients:  # a clean server per test
            for name in db.list_collections():
                db.drop_collection(name)
        self._clients.append(db)
        return db

    def reopen(self, db: vs.Client) -> vs.Client:
        """Close and reopen a durable store; the memory store is returned as is."""
        if not self.durable:
            return db
        db.close()
        return self.connect(**self.options)

    def close_all(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(params=STORE_KINDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    s = Stores(request.param, tmp_path)
    yield s
    s.close_all()


@pytest.fixture(params=BACKEND_KINDS)
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """Every backend: the embedded memory and disk stores, and Milvus Lite
    (skipped when pymilvus or milvus-lite is not installed)."""
    if request.param == MILVUS_LITE:
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
    s = Stores(request.param, tmp_path)
    yield s
    s.close_all()


@pytest.fixture
def disk_stores(tmp_path: Path) -> Stores:
    """Only the durable store (persistence tests)."""
    s = Stores("disk", tmp_path)
    yield s
    s.close_all()


@pytest.fixture
def db(stores: Stores) -> vs.Client:
    return stores.connect()


@pytest.fixture
def reopen(stores: Stores) -> Callable[[vs.Client], vs.Client]:
    return stores.reopen


def take_snapshot(col: vs.Collection) -> tuple[list[dict[str, Any]], int, list[str]]:
    """Everything observable: all rows (vectors too) by id, the count, the partitions."""
    rows = col.query(output_fields=["*"])
    rows.sort(key=lambda r: (type(r["id"]).__name__, r["id"]))
    return rows, col.count(), col.list_partitions()


@pytest.fixture
def snapshot() -> Callable[[vs.Collection], Any]:
    return take_snapshot


_executed = [0]  # tests whose body ran this session (passed, failed or xfailed)


def pytest_sessionstart(session: pytest.Session) -> None:
    _executed[0] = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and (not report.skipped or hasattr(report, "wasxfail")):
        _executed[0] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run that executed no test fails (exit 5), even when every test was skipped:
    pytest's own exit 5 only covers collecting or selecting nothing."""
    if session.config.option.collectonly:
        return
    if exitstatus == pytest.ExitCode.OK and _executed[0] == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line("error: no test was executed (every test was skipped)", red=True)


@pytest.fixture
def runslow(pytestconfig: pytest.Config) -> bool:
    """Whether --runslow was given: tests with a long version run a bounded one without it."""
    return bool(pytestconfig.getoption("--runslow"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="also run tests marked slow, and the long versions of the bounded ones",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "milvus_differs(reason, raises, run=True, strict=True, not_strict_because=None): "
        "Milvus Lite does this differently; an expected failure with exception `raises` "
        "on the milvus-lite backend only (strict: it must fail; strict=False needs "
        "not_strict_because=), or skipped there with run=False",
    )


def _backend_kind(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    kind = callspec.params.get("stores", callspec.params.get("backends"))
    return kind if isinstance(kind, str) else None


def _milvus_xfail(item: pytest.Item, marks: list[pytest.Mark]) -> pytest.MarkDecorator:
    """The xfail (or skip) that ``milvus_differs`` marks mean on milvus-lite.

    Each mark needs a reason and, unless ``run=False``, ``raises=``: the exception
    that is the expected difference (any other exception is a real failure). Marks
    are strict (an XPASS fails the suite); ``strict=False`` needs
    ``not_strict_because=``, saying why the outcome varies from run to run."""
    reasons = [m.kwargs.get("reason") or (m.args[0] if m.args else "") for m in marks]
    if not all(reasons):
        raise pytest.UsageError(f"{item.nodeid}: milvus_differs needs a reason")
    reason = "Milvus Lite differs: " + "; ".join(dict.fromkeys(reasons))
    if not all(m.kwargs.get("run", True) for m in marks):
        return pytest.mark.skip(reason=reason)
    raises: list[type[BaseException]] = []
    for m in marks:
        expected = m.kwargs.get("raises")
        if expected is None:
            raise pytest.UsageError(
                f"{item.nodeid}: milvus_differs({m.kwargs.get('reason')!r}) needs raises="
            )
        for exc in expected if isinstance(expected, tuple) else (expected,):
            if exc not in raises:
                raises.append(exc)
        if m.kwargs.get("strict", True) is False and not m.kwargs.get("not_strict_because"):
            raise pytest.UsageError(
                f"{item.nodeid}: milvus_differs(strict=False) needs not_strict_because="
            )
    strict = all(m.kwargs.get("strict", True) for m in marks)
    return pytest.mark.xfail(reason=reason, strict=strict, raises=tuple(raises))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marks = list(item.iter_markers("milvus_differs"))
        if not marks:
            continue
        xfail = _milvus_xfail(item, marks)  # checked on every kind: a bad mark fails early
        if _backend_kind(item) == MILVUS_LITE:
            item.add_marker(xfail)
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
