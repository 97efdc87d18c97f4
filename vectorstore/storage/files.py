"""Crash-safe file primitives: atomic replace, directory fsync, JSON lines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

import numpy as np


def fsync_dir(path: str) -> None:
    """Make a directory's entries (new, renamed or removed files) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str) -> None:
    """fsync a file written by someone else (hnswlib's save_index)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, ``os.replace``, dir fsync."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path) or ".")


def write_json(path: str, value: Any) -> None:
    # Key order is kept: partitions are listed in creation order.
    atomic_write(path, json.dumps(value, indent=1).encode())


def read_json(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def write_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(path: str, values: Iterable[Any]) -> None:
    """One JSON value per line (strings, JSON documents, arrays, dicts)."""
    with open(path, "wb") as f:
        for value in values:
            f.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
            f.write(b"\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str) -> list[Any]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]
