"""Persistence: write, close (or crash), reopen; compaction; a read-only reader.

Run:  python examples/persistence.py [STORE_DIR]

Every write is in the store's write-ahead log before the call returns, so a
killed process loses nothing it was told was written; `flush()` seals rows into
memory-mapped segment files, `compact()` gives deleted rows' space back, and any
number of read-only processes may read while one process writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

import vectorstore as vs

WRITER = """
import sys, numpy as np, vectorstore as vs
db = vs.connect(sys.argv[1])
col = db.get_collection("events")
col.insert([{"id": 10_000 + i, "vector": np.full(4, i, dtype=np.float32)} for i in range(100)])
print("child: inserted 100 rows, now killing itself without close()", flush=True)
import os, signal; os.kill(os.getpid(), signal.SIGKILL)
"""


def disk_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main(path: str) -> None:
    rng = np.random.default_rng(0)
    with vs.connect(path) as db:
        col = db.create_collection("events", dimension=4)
        col.insert([{"id": i, "vector": rng.normal(size=4)} for i in range(5000)])
        col.flush()  # seal into segment files now (close() would too)
        print("written:", col.count(), "rows")

    # a process that writes and is killed before it closes the store
    subprocess.run([sys.executable, "-c", WRITER, path], check=False)

    with vs.connect(path) as db:  # reopen: the manifest plus a replay of the log
        col = db.get_collection("events")
        print("after the kill, reopened:", col.count(), "rows")
        with vs.connect(path, read_only=True) as reader:  # readers never block the writer
            print("a read-only reader sees", reader.get_collection("events").count(), "rows")
        before = disk_bytes(path)
        col.delete(filter="id < 4000")
        col.compact()
        print(f"deleted 4000 rows and compacted: {before:,} -> {disk_bytes(path):,} bytes on disk")
        print("left:", col.count(), "rows")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        tmp = tempfile.mkdtemp(prefix="kestrel-persistence-")
        try:
            main(tmp)
        finally:
            shutil.rmtree(tmp)
