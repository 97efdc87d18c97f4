"""A real Milvus standalone server for the tests, from the ``milvus`` package
(2.3.5: the server binary, started on loopback), and what ``needs_milvus``
marks mean on it.

The server is started with shorter internal intervals than Milvus's defaults
(time tick, load checks, segment expiry), which only change how soon a Strong
read, a load or a flush completes: a Strong read waits for a time tick (200 ms
by default, 20 ms here), a flush for its segment's allocations to expire (2 s,
0.1 s here). Semantics are unchanged.
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Milvus config keys the package's template has (set through its config)...
FAST_SETTINGS = {
    "proxy.timeTickInterval": 20,
    "queryCoord.distPullInterval": 50,
    "dataCoord.segment.assignmentExpiration": 100,
}
# ...and the queryCoord ones it lacks, written into the template it renders.
_QUERY_COORD_ANCHOR = "  checkInterval: 1000\n"
_QUERY_COORD_FAST = (
    "  checkInterval: 100\n  checkChannelInterval: 100\n  UpdateNextTargetInterval: 1\n"
)

DATABASE = "kestrel_tests"  # every test's collections live here (one per xdist worker)
OWNER_FILE = "kestrel-owner.pid"  # in a server's folder: the test process that started it


def start_server(base_dir: Path) -> Any:
    """Start a Milvus 2.3 standalone server in ``base_dir`` (a ``milvus.MilvusServer``;
    its gRPC port is ``.listen_port``). Takes from a few seconds to a minute.

    Raises:
        RuntimeError: the server did not start (the message holds its log's tail).
    """
    from milvus import MilvusServer

    stop_orphans()
    (base_dir / OWNER_FILE).write_text(str(os.getpid()))
    server = MilvusServer()
    config = server.config
    config.template_text = config.template_text.replace(_QUERY_COORD_ANCHOR, _QUERY_COORD_FAST, 1)
    server.set_base_dir(str(base_dir))
    for key, value in FAST_SETTINGS.items():
        config.set(key, value)
    try:
        server.start()
    except BaseException as e:
        server.stop()
        raise RuntimeError(f"the Milvus server did not start: {e}\n{log_tail(base_dir)}") from e
    return server


def stop_orphans(proc: Path = Path("/proc")) -> list[int]:
    """Kill the Milvus servers that test runs killed mid-way left running.

    A server outlives a pytest run that is killed (it ignores SIGTERM for a
    while), and the next run's server then waits minutes and fails to start.
    A server is an orphan if it runs ``milvus ... standalone`` in a folder whose
    ``OWNER_FILE`` names a process that no longer exists; servers of live runs,
    and any not started here, are left alone. Linux only (reads ``/proc``).

    Returns:
        The process ids killed.
    """
    killed = []
    for entry in proc.glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            folder = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue  # gone, or not ours to read
        if b"standalone" not in argv or not any(a.endswith(b"milvus") for a in argv):
            continue
        owner = folder / OWNER_FILE
        try:
            owner_pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(owner_pid):
            os.kill(int(entry.name), signal.SIGKILL)
            killed.append(int(entry.name))
    return killed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def log_tail(base_dir: Path, lines: int = 40) -> str:
    """The end of the server's logs (for a failed start)."""
    out = []
    for name in ("milvus-stderr.log", "milvus-stdout.log"):
        path = base_dir / "logs" / name
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(out) or f"(no log in {base_dir / 'logs'})"


def prepare_database(uri: str, database: str) -> str:
    """Create a database for the tests on the server if needed; return the server's version."""
    from pymilvus import MilvusClient

    client = MilvusClient(uri=uri)
    try:
        if database not in client.list_databases():
            client.create_database(database)
        return str(client.get_server_version())
    finally:
        client.close()


# ------------------------------------------------------------- needs_milvus


_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(text: str) -> tuple[int, int, int]:
    """``"v2.3.5-lite"`` -> (2, 3, 5); ``"2.5"`` -> (2, 5, 0)."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not a Milvus version: {text!r}")
    return int(match[1]), int(match[2]), int(match[3] or 0)


@dataclass(frozen=True)
class Needs:
    """What a test's ``needs_milvus`` marks ask of the server it runs on."""

    version: tuple[int, int, int]
    features: tuple[str, ...]

    @classmethod
    def of(cls, marks: list[tuple[str, str]]) -> Needs | None:
        """From ``(version, feature)`` pairs: the highest version, every feature."""
        if not marks:
            return None
        version = max(version_tuple(v) for v, _ in marks)
        return cls(version, tuple(dict.fromkeys(f for _, f in marks)))

    @property
    def text(self) -> str:
        return f"Milvus >= {self.version[0]}.{self.version[1]} ({', '.join(self.features)})"

    def unmet_on(self, server_version: str) -> bool:
        return version_tuple(server_version) < self.version


REFUSAL = re.compile(r"needs Milvus >= \d+\.\d+")


def outcome(needs: Needs, server_version: str, error: BaseException | None) -> tuple[str, str]:
    """What a test with unmet ``needs`` became: ("skipped", why) when Kestrel refused
    the feature by version (a ``NotSupportedError`` saying "needs Milvus >= X"),
    ("failed", why) when it passed (the mark is stale), ("error", "") for any other
    exception (a real failure, reported as is)."""
    from vectorstore.errors import NotSupportedError

    server = f"server is Milvus {server_version}"
    if error is None:
        return "failed", f"needs {needs.text} but passed on the {server}: the mark is stale"
    if isinstance(error, NotSupportedError) and REFUSAL.search(str(error)):
        return "skipped", f"needs {needs.text}; {server}"
    return "error", ""
