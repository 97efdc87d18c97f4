"""Kestrel without POSIX's ``fcntl``: what Windows looks like to an import.

CI runs Linux only, so these tests take ``fcntl`` (and ``msvcrt``) away in a
fresh interpreter before ``vectorstore`` is imported: every import path, memory
stores and read-only opens must work, and a writable path store must refuse with
our own error, not an ``ImportError``. They also pin the lock's own semantics:
the holder's pid in the error, a timeout that waits for the holder to let go.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import vectorstore as vs
from vectorstore.errors import LockedError
from vectorstore.storage.lock import StoreLock

BLOCK = """
import sys
sys.modules["fcntl"] = None  # `import fcntl` now raises ImportError, as on Windows
sys.modules["msvcrt"] = None
"""


def run(code: str) -> dict:
    """Run ``code`` in a fresh interpreter without fcntl; it prints one JSON line."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_memory_store_works_without_fcntl() -> None:
    out = run(
        """
        import json
        import vectorstore as vs
        db = vs.connect(":memory:")
        schema = vs.Schema(
            fields=[
                vs.Field("id", vs.DataType.INT64, is_primary=True),
                vs.Field("text", vs.DataType.VARCHAR, max_length=200, analyzer="standard"),
                vs.Field("vector", vs.DataType.FLOAT_VECTOR, dim=2),
                vs.Field("sparse", vs.DataType.SPARSE_FLOAT_VECTOR),
            ],
            functions=[vs.BM25(input="text", output="sparse")],
        )
        col = db.create_collection("docs", schema=schema)
        col.insert([
            {"id": 1, "text": "red apples", "vector": [1.0, 0.0]},
            {"id": 2, "text": "green pears", "vector": [0.0, 1.0]},
        ])
        dense = col.search(data=[[0.1, 0.9]], anns_field="vector", limit=1)
        sparse = col.search(data=["pears"], anns_field="sparse", limit=1)
        rows = col.query(filter="id == 1", output_fields=["text"])
        db.close()
        print(json.dumps({
            "dense": dense[0][0].id, "sparse": sparse[0][0].id, "text": rows[0]["text"],
        }))
        """
    )
    assert out == {"dense": 2, "sparse": 2, "text": "red apples"}


def test_path_store_without_a_lock_refuses_clearly_and_reads(tmp_path: Path) -> None:
    store = tmp_path / "store"
    db = vs.connect(str(store))  # written here, with fcntl
    db.create_collection("docs", dimension=2).insert([{"id": 7, "vector": [1.0, 0.0]}])
    db.close()
    out = run(
        f"""
        import json
        import vectorstore as vs
        db = vs.connect({str(store)!r})  # opening takes no lock: the first write does
        try:
            db.get_collection("docs").insert({{"id": 8, "vector": [0.0, 1.0]}})
        except vs.StorageError as exc:
            refused = (type(exc).__name__, str(exc), isinstance(exc, ImportError))
        assert db.get_collection("docs").count() == 1  # nothing written, reads work
        db.close()
        reader = vs.connect({str(store)!r}, read_only=True)
        ids = [r["id"] for r in reader.get_collection("docs").query(filter="id > 0")]
        reader.close()
        print(json.dumps({{"refused": refused, "ids": ids}}))
        """
    )
    name, message, is_import_error = out["refused"]
    assert name == "StorageError" and not is_import_error
    assert "no OS file lock" in message and "read_only=True" in message
    assert out["ids"] == [7]


HOLDER = """
import sys, time
sys.path[:0] = {path!r}
from vectorstore.storage.lock import StoreLock
lock = StoreLock({folder!r})
lock.acquire()
print("held", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
time.sleep(60)
"""


def test_lock_names_the_holder_and_waits_for_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(path=sys.path, folder=str(tmp_path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        lock = StoreLock(str(tmp_path))
        try:
            lock.acquire()
        except LockedError as exc:
            assert f"process {holder.pid}" in str(exc)
        else:
            raise AssertionError("a second process took a held lock")
        assert not lock.held
        # a blocking acquire waits while the holder still has it, then takes it
        waiter = threading.Thread(target=lock.acquire, kwargs={"timeout": 60})
        waiter.start()
        holder.stdin.write("\n")
        holder.stdin.flush()
        waiter.join()
        assert lock.held
        assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())
        lock.release()
        lock.release()  # idempotent
        assert not lock.held
    finally:
        holder.kill()
        holder.wait()
