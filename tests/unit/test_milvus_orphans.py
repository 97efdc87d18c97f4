"""The test harness kills Milvus servers that killed test runs left behind, and
only those (``helpers.milvus_server.stop_orphans``).

The servers here are stand-ins: a script named ``milvus`` run as
``milvus run standalone`` in a folder, as the ``milvus`` package runs the real
binary, that sleeps until killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.milvus_server import OWNER_FILE, stop_orphans

pytestmark = pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="reads /proc")


def fake_server(folder: Path, owner: int | None) -> subprocess.Popen:
    exe = folder / "bin" / "milvus"
    exe.parent.mkdir(parents=True)
    exe.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    exe.chmod(0o755)
    if owner is not None:
        (folder / OWNER_FILE).write_text(str(owner))
    proc = subprocess.Popen([str(exe), "run", "standalone"], cwd=folder)
    deadline = time.monotonic() + 10
    while b"standalone" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.01)
    return proc


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_kills_a_server_whose_test_run_is_gone_and_spares_the_others(tmp_path):
    orphan = fake_server(tmp_path / "orphan", dead_pid())
    ours = fake_server(tmp_path / "ours", os.getpid())
    foreign = fake_server(tmp_path / "foreign", None)  # not started by the tests
    try:
        killed = stop_orphans()
        assert orphan.pid in killed
        assert orphan.wait(timeout=10) == -9
        assert ours.pid not in killed and foreign.pid not in killed
        assert ours.poll() is None and foreign.poll() is None
    finally:
        for proc in (orphan, ours, foreign):
            proc.kill()
            proc.wait()
