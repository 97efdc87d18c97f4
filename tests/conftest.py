"""Shared fixtures: one store per backend kind, a reopen helper, a snapshot helper.

``db`` runs a test once per store kind: "memory" and "disk" (the embedded
engine). The conformance suite (``tests/conformance``) overrides ``stores``
with ``backends``, which adds "milvus-lite" (the Milvus backend on a fresh
Milvus Lite file per test) and "milvus-server" (a real Milvus server), so every
behaviour there is proven on each backend while tests of the engine's internals
never run on Milvus. ``reopen(db)`` closes a durable store and opens it again
with the same options (a no-op for the memory store), so one test checks both
"works" and "survives a restart".

The Milvus server: the one ``KESTREL_MILVUS_URI`` names, else one the session
starts from the ``milvus`` package (2.3.5; see ``helpers/milvus_server.py``) the
first time a case needs it, and stops at the end. ``KESTREL_MILVUS_SERVER=off``
leaves the kind out. Every test's collections live in the database
``kestrel_tests``, emptied when the test connects.

``@pytest.mark.milvus_differs(reason=...)`` marks a case a Milvus backend does
differently (see the README's "Scaling out"; the markers in use are named in
``tests/conformance/lite_differences.py``): it is an expected failure on the
kinds it names (``kinds=``, default "milvus-lite") only, with the exception it
names (``raises=``, required), strict unless ``strict=False`` with
``not_strict_because=`` (why the outcome varies), or skipped there with
``run=False``. Never on the embedded kinds.

``@pytest.mark.needs_milvus("2.5", "nullable fields")`` marks a case that uses
what older Milvus servers lack. On a server below that version the case still
runs: Kestrel must refuse it before sending anything (``NotSupportedError``
saying "needs Milvus >= X"), and it is then reported skipped with the reason; if
it passes, the mark is stale and it fails; any other error fails it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.milvus_server import (
    DATABASE,
    Needs,
    outcome,
    prepare_database,
    start_server,
)

import vectorstore as vs

STORE_KINDS = ("memory", "disk")
MILVUS_LITE = "milvus-lite"
MILVUS_SERVER = "milvus-server"
SERVER_URI = os.environ.get("KESTREL_MILVUS_URI", "")
SERVER_OFF = os.environ.get("KESTREL_MILVUS_SERVER", "").lower() in ("off", "0", "no")
HAS_SERVER = not SERVER_OFF and bool(SERVER_URI or importlib.util.find_spec("milvus"))
BACKEND_KINDS = (*STORE_KINDS, MILVUS_LITE, *((MILVUS_SERVER,) if HAS_SERVER else ()))
ENGINE_OPTIONS = frozenset(
    {"segment_rows", "durability", "sync_interval_ms", "max_wal_bytes", "lock_timeout"}
)


@dataclass(frozen=True)
class Server:
    """The Milvus server of the session: its URI, the version it reports, and this
    process's database on it."""

    uri: str
    version: str
    database: str


_server: list[Server] = []  # set once the session's server is up


class Stores:
    """Opens clients of one kind and closes them all at teardown."""

    def __init__(self, kind: str, root: Path, server: Server | None = None):
        self.kind = kind
        self.path = root / "store"
        self.server = server
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
            assert self.server is not None
            return self.server.uri
        return ":memory:" if self.kind == "memory" else str(self.path)

    def connect(self, **options: Any) -> vs.Client:
        """A new client (``segment_rows=`` etc. are remembered for ``reopen``).

        The embedded engine's layout options (``segment_rows``, ``durability``...)
        mean nothing to Milvus and are left out on "milvus-lite".
        """
        self.options = options
        if self.milvus:
            options = {k: v for k, v in options.items() if k not in ENGINE_OPTIONS}
        if self.kind == MILVUS_SERVER:
            assert self.server is not None
            options.setdefault("db_name", self.server.database)
        db = vs.connect(self.uri, **options)
        if self.kind == MILVUS_SERVER and not self._clients:  # an empty database per test
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


@pytest.fixture(scope="session")
def milvus_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The session's Milvus server: ``KESTREL_MILVUS_URI``, the one the xdist
    controller started, or one started here (and stopped at the end)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    database = f"{DATABASE}_{worker}" if worker else DATABASE
    uri = SERVER_URI or getattr(request.config, "workerinput", {}).get(_URI_KEY, "")
    process = None
    if not uri:
        process = start_server(tmp_path_factory.mktemp("milvus-server"))
        uri = f"http://127.0.0.1:{process.listen_port}"
    try:
        server = Server(uri, prepare_database(uri, database), database)
        _server.append(server)
        yield server
    finally:
        if process is not None:
            process.stop()


_URI_KEY = "kestrel_milvus_uri"


def _xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(config.getoption("numprocesses", None))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker uses the one server the controller started."""
    started = node.config.stash.get(_STARTED, None)
    if started is not None:
        node.workerinput[_URI_KEY] = started[1]


_STARTED = pytest.StashKey[tuple[Any, str, str]]()


def _start_shared_server(config: pytest.Config) -> None:
    """With xdist, the controller starts the server once for all workers."""
    if not (HAS_SERVER and not SERVER_URI and _xdist_controller(config)):
        return
    base = tempfile.mkdtemp(prefix="kestrel-milvus-")
    process = start_server(Path(base))
    config.stash[_STARTED] = (process, f"http://127.0.0.1:{process.listen_port}", base)


def pytest_unconfigure(config: pytest.Config) -> None:
    started = config.stash.get(_STARTED, None)
    if started is not None:
        process, _, base = started
        try:
            process.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=BACKEND_KINDS)
def backends(request: pytest.FixtureRequest, tmp_path: Path) -> Stores:
    """Every backend: the embedded memory and disk stores, Milvus Lite (skipped
    when pymilvus or milvus-lite is not installed) and a Milvus server."""
    server = None
    if request.param == MILVUS_LITE:
        pytest.importorskip("pymilvus")
        pytest.importorskip("milvus_lite")
    if request.param == MILVUS_SERVER:
        server = request.getfixturevalue("milvus_server")
    s = Stores(request.param, tmp_path, server)
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


@pytest.fixture(autouse=True)
def _no_keys_stays_empty() -> Iterator[None]:
    """Every keyless row shares ``rows.NO_KEYS``: no test may leave it changed."""
    yield
    from vectorstore.rows import NO_KEYS

    assert NO_KEYS == {}, f"rows.NO_KEYS was changed in place: {NO_KEYS!r}"


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
        "milvus_differs(reason, raises, kinds=('milvus-lite',), run=True, strict=True, "
        "not_strict_because=None): a Milvus backend does this differently; an expected "
        "failure with exception `raises` on the kinds named only (strict: it must fail; "
        "strict=False needs not_strict_because=), or skipped there with run=False",
    )
    _start_shared_server(config)
    config.addinivalue_line(
        "markers",
        "needs_milvus(version, feature): on a Milvus server below `version`, Kestrel must "
        "refuse the case (NotSupportedError), which is then skipped; passing fails it",
    )


def _backend_kind(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    kind = callspec.params.get("stores", callspec.params.get("backends"))
    return kind if isinstance(kind, str) else None


def _milvus_xfail(item: pytest.Item, marks: list[pytest.Mark]) -> pytest.MarkDecorator:
    """The xfail (or skip) that ``milvus_differs`` marks mean on the kinds they name.

    Each mark needs a reason and, unless ``run=False``, ``raises=``: the exception
    that is the expected difference (any other exception is a real failure). Marks
    are strict (an XPASS fails the suite); ``strict=False`` needs
    ``not_strict_because=``, saying why the outcome varies from run to run."""
    reasons = [m.kwargs.get("reason") or (m.args[0] if m.args else "") for m in marks]
    if not all(reasons):
        raise pytest.UsageError(f"{item.nodeid}: milvus_differs needs a reason")
    reason = "Milvus differs: " + "; ".join(dict.fromkeys(reasons))
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
        for mark in item.iter_markers("needs_milvus"):
            if len(mark.args) != 2:
                raise pytest.UsageError(f"{item.nodeid}: needs_milvus(version, feature)")
        marks = list(item.iter_markers("milvus_differs"))
        if not marks:
            continue
        xfail = _milvus_xfail(item, marks)  # checked on every kind: a bad mark fails early
        kind = _backend_kind(item)
        for mark in marks:
            kinds = mark.kwargs.get("kinds", (MILVUS_LITE,))
            if not set(kinds) <= {MILVUS_LITE, MILVUS_SERVER}:
                raise pytest.UsageError(f"{item.nodeid}: milvus_differs(kinds={kinds!r})")
        if any(kind in m.kwargs.get("kinds", (MILVUS_LITE,)) for m in marks):
            item.add_marker(xfail)
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def _unmet_needs(item: pytest.Item) -> Needs | None:
    """The ``needs_milvus`` marks the session's server does not meet on this case."""
    if _backend_kind(item) != MILVUS_SERVER or not _server:
        return None
    needs = Needs.of([(str(m.args[0]), str(m.args[1])) for m in item.iter_markers("needs_milvus")])
    if needs is None or not needs.unmet_on(_server[0].version):
        return None
    return needs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """``needs_milvus`` on a server below the version: Kestrel's refusal becomes a
    skip naming the feature and versions; a pass fails (the mark is stale)."""
    result = yield
    report: pytest.TestReport = result.get_result()
    needs = _unmet_needs(item)
    if needs is None or call.when not in ("setup", "call") or report.skipped:
        return
    if call.when == "setup" and report.passed:
        return
    error = call.excinfo.value if call.excinfo is not None else None
    verdict, why = outcome(needs, _server[0].version, error)
    if verdict == "skipped":
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"Skipped: {why}")
    elif verdict == "failed":
        report.outcome = "failed"
        report.longrepr = why
