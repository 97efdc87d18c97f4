"""A real full disk: the store on a small tmpfs, writes until ENOSPC, space back, crash.

A child process opens a store on a tmpfs of a few hundred KiB, with a filler file
taking all but some headroom (different per round, so the disk fills up during a
log append, a checkpoint, a segment file, a graph file, a manifest...). It loops
inserts, upserts and deletes; a call that raises must be a ``StorageError`` and
must have changed nothing; a call that returns is acknowledged. After a few
failures it deletes the filler (space is back), checks that writes work again,
and dies without closing (``os._exit``), printing its model of the store.

The parent reopens the store (read-only, then as the writer) and compares it with
the model: every acknowledged write is there, no rejected one is.

Needs root and tmpfs mounts (CI has both); elsewhere the test is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vectorstore as vs

REPO = Path(vs.__file__).resolve().parents[1]
FS_BYTES = 32 << 20

CHILD = r"""
import json, os, sys
import numpy as np
import vectorstore as vs

path, filler, headroom, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
db = vs.connect(path, segment_rows=120, max_wal_bytes=24_000)
col = db.get_collection("c") if db.has_collection("c") else db.create_collection("c", dimension=8)
model = {str(r["id"]): r["val"] for r in col.query("", output_fields=["val"])}
st = os.statvfs(path)
free = st.f_bavail * st.f_frsize
with open(filler, "wb") as f:
    f.write(b"\0" * max(free - headroom, 0))
failures = acked = 0
next_id = 1 + max((int(k) for k in model), default=0)

def rows(keys, val):
    return [{"id": k, "vector": rng.normal(size=8).tolist(), "val": val} for k in keys]

step = 0
while acked < 150 and step < 2000:
    step += 1
    op = rng.choice(["insert", "insert", "upsert", "delete"])
    before = col.count()
    try:
        if op == "insert":
            keys = list(range(next_id, next_id + int(rng.integers(1, 40))))
            col.insert(rows(keys, step))
            next_id = keys[-1] + 1
            model.update({str(k): step for k in keys})
        elif op == "upsert" and model:
            keys = [int(k) for k in rng.choice(list(model), size=min(5, len(model)), replace=False)]
            col.upsert(rows(keys, step))
            model.update({str(k): step for k in keys})
        elif op == "delete" and model:
            keys = [int(k) for k in rng.choice(list(model), size=min(3, len(model)), replace=False)]
            col.delete(ids=keys)
            for k in keys:
                model.pop(str(k))
        acked += 1
    except vs.StorageError as exc:
        failures += 1
        assert col.count() == before, ("a failed write changed the count", op, exc)
        if failures >= 3 and os.path.exists(filler):
            os.remove(filler)  # space is back
    except Exception as exc:  # anything else is a bug: report it, do not hide it
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "op": str(op)}), flush=True)
        os._exit(3)
if os.path.exists(filler):
    os.remove(filler)
print(json.dumps({"model": model, "failures": failures, "acked": acked}), flush=True)
os._exit(0)  # a crash: no close, no flush
"""


@pytest.fixture
def small_fs(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def contents(db: vs.Client) -> dict[str, int]:
    col = db.get_collection("c")
    rows = col.query("", output_fields=["val"])
    assert col.count() == len(rows)
    return {str(r["id"]): r["val"] for r in rows}


@pytest.mark.parametrize("seed", [0, 1])
def test_full_disk_loses_nothing_acknowledged_and_applies_nothing_rejected(small_fs, seed):
    path = str(small_fs / "store")
    filler = str(small_fs / f"filler-{uuid.uuid4().hex}")
    total_failures = rounds = 0
    expected: dict[str, Any] = {}
    for headroom_kib in range(4, 100, 12):  # the disk fills at a different place each round
        child = subprocess.run(
            [sys.executable, "-c", CHILD, path, filler, str(headroom_kib << 10), str(seed)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
        assert child.returncode == 0 and lines, (
            f"seed {seed}, headroom {headroom_kib} KiB: child exited {child.returncode}: "
            f"{lines or child.stderr[-3000:]}"
        )
        report = lines[-1]
        rounds += 1
        total_failures += report["failures"]
        expected = report["model"]
        with vs.connect(path, read_only=True) as reader:
            assert contents(reader) == expected, f"seed {seed}, headroom {headroom_kib} KiB"
        with vs.connect(path) as writer:  # recovery as the writer, then a clean close
            assert contents(writer) == expected, f"seed {seed}, headroom {headroom_kib} KiB"
        with vs.connect(path) as writer:
            col = writer.get_collection("c")
            assert contents(writer) == expected
            vectors = col.get(list(map(int, expected))[:5], output_fields=["vector"])
            assert all(np.isfinite(r["vector"]).all() for r in vectors)
    print(f"seed {seed}: {rounds} rounds, {total_failures} writes refused, all reopened intact")
    assert total_failures > 0, "the disk never filled up: the test checked nothing"
