"""The write-ahead log at file level (vectorstore.storage.wal / .records).

Record framing: ``[b"KWAL"][u32 length][u32 crc32(payload)][payload]``. A damaged record
at the tail is a torn write: dropped, logged ("vectorstore.wal"), cut off the file. A
damaged record with an intact one after it is a committed record: ``StorageError``.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import vectorstore as vs
from vectorstore.rows import prepare_rows
from vectorstore.storage.records import (
    CreateIndex,
    CreatePartition,
    Delete,
    DropIndex,
    DropPartition,
    Insert,
    Upsert,
    decode_record,
    encode_record,
)
from vectorstore.storage.wal import MAGIC, WriteAheadLog, decode, encode, read_records, records

DT = vs.DataType

SCHEMA = vs.Schema(
    [
        vs.Field("pk", DT.VARCHAR, is_primary=True, max_length=64),
        vs.Field("dense", DT.FLOAT_VECTOR, dim=3),
        vs.Field("dense2", DT.FLOAT_VECTOR, dim=2),
        vs.Field("sparse", DT.SPARSE_FLOAT_VECTOR),
        vs.Field("b", DT.BOOL),
        vs.Field("i8", DT.INT8),
        vs.Field("i16", DT.INT16, nullable=True),
        vs.Field("i32", DT.INT32, default_value=7),
        vs.Field("i64", DT.INT64, nullable=True),
        vs.Field("f", DT.FLOAT),
        vs.Field("d", DT.DOUBLE, nullable=True),
        vs.Field("s", DT.VARCHAR, max_length=64, nullable=True),
        vs.Field("j", DT.JSON, nullable=True),
        vs.Field("a", DT.ARRAY, element_type=DT.INT64, max_capacity=5, nullable=True),
        vs.Field("as", DT.ARRAY, element_type=DT.VARCHAR, max_capacity=3, max_length=8),
    ],
    enable_dynamic_field=True,
)


def sample_rows() -> list[dict]:
    return [
        {
            "pk": "\u03b1-0",
            "dense": [0.5, -1.25, 3.0],
            "dense2": [1e-30, 3.4e38],
            "sparse": {0: 1.5, 4_000_000_000: -0.25},
            "b": True,
            "i8": -128,
            "i16": None,
            "i64": 2**63 - 1,
            "f": 1.5,
            "d": 1e300,
            "s": 'KWAL\n"quoted" \u0000 ✓',
            "j": {"nested": [1, {"x": None}], "s": "é"},
            "a": [1, -2, 3],
            "as": ["x", ""],
            "extra": {"k": [1, 2]},
            "n": 5,
        },
        {
            "pk": " ",
            "dense": [0.0, 0.0, 1.0],
            "dense2": [2.0, 3.0],
            "sparse": {},
            "b": False,
            "i8": 127,
            "i16": -32768,
            "i32": -(2**31),
            "i64": None,
            "f": -0.0,
            "d": None,
            "s": None,
            "j": None,
            "a": None,
            "as": [],
        },
        {
            "pk": "x" * 64,
            "dense": [1.0, 2.0, 3.0],
            "dense2": [0.0, -1.0],
            "sparse": {7: 0.5},
            "b": True,
            "i8": 0,
            "i16": 12,
            "i64": -(2**63),
            "f": 3.25,
            "d": 0.1,
            "s": "",
            "j": [1, "two", 3.5, True],
            "a": [],
            "as": ["abcdefgh"],
            "extra": None,
        },
    ]


def assert_batches_equal(a, b) -> None:
    assert a.num_rows == b.num_rows
    assert a.pks == b.pks
    assert sorted(a.scalars) == sorted(b.scalars)
    for name, col in a.scalars.items():
        other = b.scalars[name]
        assert other.dtype == col.dtype, name
        assert other.tolist() == col.tolist(), name
    assert sorted(a.nulls) == sorted(b.nulls)
    for name, mask in a.nulls.items():
        assert b.nulls[name].dtype == mask.dtype and np.array_equal(b.nulls[name], mask), name
    assert sorted(a.vectors) == sorted(b.vectors)
    for name, vecs in a.vectors.items():
        assert b.vectors[name].dtype == vecs.dtype == np.float32
        assert b.vectors[name].shape == vecs.shape
        assert np.array_equal(b.vectors[name], vecs), name
    assert a.sparse == b.sparse
    for rows in b.sparse.values():
        for row in rows:
            assert all(type(k) is int and type(v) is float for k, v in row.items())
    assert a.dynamic == b.dynamic


# ----------------------------------------------------------------- encoding


@pytest.mark.parametrize("op", ["insert", "upsert"])
def test_batch_record_round_trip_every_column_kind(op):
    batch = prepare_rows(SCHEMA, sample_rows())
    kind = Insert if op == "insert" else Upsert
    payload = b"".join(encode_record(kind("part_1", batch)))
    assert decode(payload)[0]["op"] == op  # the log's format names the operation
    back = decode_record(payload, "pk")
    assert type(back) is kind and back.partition == "part_1"
    assert_batches_equal(batch, back.batch)


def test_int_pk_and_single_row_round_trip():
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=1)]
    )
    batch = prepare_rows(schema, [{"id": -5, "v": [1.0]}])
    back = decode_record(b"".join(encode_record(Insert("_default", batch))), "id")
    assert isinstance(back, Insert)
    assert_batches_equal(batch, back.batch)
    assert back.batch.pks == [-5] and type(back.batch.pks[0]) is int


def test_large_batch_round_trip_through_a_file(tmp_path):
    """Vectors travel as raw buffers: a ~4 MB record survives a file round trip."""
    schema = vs.Schema(
        [vs.Field("id", DT.INT64, is_primary=True), vs.Field("v", DT.FLOAT_VECTOR, dim=256)]
    )
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(4000, 256)).astype(np.float32)
    batch = prepare_rows(schema, [{"id": i, "v": vecs[i]} for i in range(4000)])
    parts = encode_record(Insert("_default", batch))
    payload = b"".join(parts)
    assert len(payload) < 4000 * 256 * 4 * 1.2  # not JSON-encoded floats
    assert any(len(part) == vecs.nbytes for part in parts)  # the vectors' bytes, one part
    for name, record in (("parts.log", parts), ("whole.log", payload)):
        log = WriteAheadLog(str(tmp_path / name))
        log.append(record)
        log.close()
    # written from the arrays in parts or whole, the file is the same, byte for byte
    assert (tmp_path / "parts.log").read_bytes() == (tmp_path / "whole.log").read_bytes()
    (got,), end, size = read_records(str(tmp_path / "parts.log"))
    assert got == payload
    assert end == size > len(payload)
    back = decode_record(got, "id")
    assert isinstance(back, Insert)
    assert np.array_equal(back.batch.vectors["v"], vecs)


@pytest.mark.parametrize(
    ("record", "header"),
    [
        (Delete(["\u03b1-0", "", "x" * 64]), {"op": "delete", "ids": ["\u03b1-0", "", "x" * 64]}),
        (Delete([1, -(2**63), 2**63 - 1]), {"op": "delete", "ids": [1, -(2**63), 2**63 - 1]}),
        (CreatePartition("p_1"), {"op": "create_partition", "name": "p_1"}),
        (DropPartition("p_1"), {"op": "drop_partition", "name": "p_1"}),
        (
            CreateIndex(vs.Index("dense", "HNSW", "L2", M=8)),
            {"op": "create_index", "index": vs.Index("dense", "HNSW", "L2", M=8).to_dict()},
        ),
        (DropIndex("dense"), {"op": "drop_index", "field": "dense"}),
    ],
)
def test_other_records_round_trip(record, header):
    payload = b"".join(encode_record(record))
    assert decode(payload)[0] == header  # the on-disk format is unchanged
    back = decode_record(payload, "pk")
    assert back == record and type(back) is type(record)
    if isinstance(record, CreateIndex):
        assert back.index.params == record.index.params


@pytest.mark.parametrize(
    "header",
    [
        {"op": "rename_everything"},
        {"op": "delete"},
        {"op": "create_partition", "name": 7},
        {"op": "create_index", "index": {"field": "v", "index_type": "NOPE"}},
    ],
)
def test_unknown_or_malformed_records_are_storage_errors(header):
    with pytest.raises(vs.StorageError, match=r"unknown logged operation|malformed"):
        decode_record(b"".join(encode(header, [])), "pk")


def test_records_of_a_file_in_order(tmp_path):
    path = str(tmp_path / "w.log")
    log = WriteAheadLog(path)
    batch = prepare_rows(SCHEMA, sample_rows())
    ops = [CreatePartition("p"), Insert("p", batch), Delete([" ", "\u03b1-0"])]
    for op in ops:
        log.append(encode_record(op))
    log.close()
    decoded = [decode_record(p, "pk") for p in read_records(path)[0]]
    assert decoded[0] == ops[0] and decoded[2] == ops[2]
    assert isinstance(decoded[1], Insert) and decoded[1].partition == "p"
    assert_batches_equal(batch, decoded[1].batch)
    assert [h["op"] for h, _ in records(path)] == ["create_partition", "insert", "delete"]


def test_missing_and_empty_files(tmp_path):
    assert read_records(str(tmp_path / "nope.log")) == ([], 0, 0)
    (tmp_path / "empty.log").write_bytes(b"")
    assert read_records(str(tmp_path / "empty.log")) == ([], 0, 0)


def test_framing(tmp_path):
    path = str(tmp_path / "w.log")
    log = WriteAheadLog(path)
    log.append(b"hello")
    log.close()
    data = Path(path).read_bytes()
    assert data[:4] == MAGIC
    assert struct.unpack_from("<I", data, 4) == (5,)  # the length
    assert data.endswith(b"hello")
    assert struct.pack("<I", zlib.crc32(b"hello")) in data[:-5]  # the payload's CRC32


# --------------------------------------------------------------- damage


PAYLOADS = [b"first record " * 3, b"the middle one " * 4, b"last \x00\xff KWAL inside " * 2]


def write_log(path: Path, payloads=PAYLOADS) -> list[int]:
    """A log of ``payloads``; returns each record's start offset (and the end)."""
    log = WriteAheadLog(str(path))
    starts = [0]
    for p in payloads:
        log.append(p)
        starts.append(os.path.getsize(path))
    log.close()
    assert path.stat().st_size == starts[-1]
    return starts


def one_record(tmp_path: Path, payload: bytes) -> bytes:
    """The bytes of one record as the log writes it."""
    path = tmp_path / "one-record.log"
    log = WriteAheadLog(str(path))
    log.append(payload)
    log.close()
    data = path.read_bytes()
    path.unlink()
    return data


def open_and_close(path: Path) -> None:
    WriteAheadLog(str(path)).close()


def torn_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "vectorstore.wal" and r.levelno >= logging.WARNING
    ]


def test_torn_tail_at_every_truncation_point(tmp_path, caplog):
    good = tmp_path / "good.log"
    starts = write_log(good)
    data = good.read_bytes()
    last = starts[-2]
    path = tmp_path / "w.log"
    for cut in range(last + 1, len(data)):
        path.write_bytes(data[:cut])
        assert read_records(str(path)) == (PAYLOADS[:2], last, cut), cut
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vectorstore.wal"):
            log = WriteAheadLog(str(path))
        assert path.stat().st_size == last, f"cut at {cut}: the torn tail was not cut off"
        assert log.size == last
        warnings = torn_warnings(caplog)
        assert len(warnings) == 1, cut
        assert str(path) in warnings[0].getMessage()
        # appending after the cut gives a clean log
        log.append(b"after")
        log.close()
        assert read_records(str(path))[0] == [*PAYLOADS[:2], b"after"]


def test_clean_log_logs_nothing(tmp_path, caplog):
    path = tmp_path / "w.log"
    write_log(path)
    with caplog.at_level(logging.DEBUG, logger="vectorstore.wal"):
        open_and_close(path)
    assert torn_warnings(caplog) == []
    assert read_records(str(path))[0] == PAYLOADS


def flipped(data: bytes, pos: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return bytes(out)


def test_bit_flip_in_a_middle_record_is_an_error(tmp_path):
    good = tmp_path / "good.log"
    starts = write_log(good)
    data = good.read_bytes()
    path = tmp_path / "w.log"
    for pos in range(starts[1], starts[2]):  # every byte of the middle record, header too
        path.write_bytes(flipped(data, pos, bit=pos % 8))
        with pytest.raises(vs.StorageError) as info:
            read_records(str(path))
        assert str(path) in str(info.value), pos
        with pytest.raises(vs.StorageError):
            open_and_close(path)
        assert path.read_bytes() == flipped(data, pos, bit=pos % 8), "a damaged log was modified"


def test_bit_flip_in_the_first_record_is_an_error(tmp_path):
    good = tmp_path / "good.log"
    starts = write_log(good)
    path = tmp_path / "w.log"
    path.write_bytes(flipped(good.read_bytes(), (starts[0] + starts[1]) // 2))
    with pytest.raises(vs.StorageError, match="damaged"):
        read_records(str(path))


def test_bit_flip_in_the_last_record_is_dropped(tmp_path, caplog):
    good = tmp_path / "good.log"
    starts = write_log(good)
    data = good.read_bytes()
    path = tmp_path / "w.log"
    for pos in range(starts[2], starts[3]):
        path.write_bytes(flipped(data, pos, bit=(pos * 3) % 8))
        assert read_records(str(path))[:2] == (PAYLOADS[:2], starts[2]), pos
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vectorstore.wal"):
            open_and_close(path)
        assert path.stat().st_size == starts[2]
        assert len(torn_warnings(caplog)) == 1


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00",
        b"\x00" * 4096,  # a file extended by zeros (e.g. after a power cut)
        b"KWA",
        MAGIC,
        MAGIC + b"\x05\x00\x00\x00",
        MAGIC + struct.pack("<II", 5, zlib.crc32(b"hello")) + b"hel",
        MAGIC + struct.pack("<II", 0xFFFFFFFF, 0) + b"x" * 10,  # a length past the end
        MAGIC + struct.pack("<II", 3, 0) + b"abc",  # a wrong CRC
        os.urandom(300).replace(MAGIC, b"XXXX"),
    ],
    ids=[
        "one-zero",
        "zeros",
        "part-magic",
        "magic",
        "no-crc",
        "short-payload",
        "huge-length",
        "bad-crc",
        "random",
    ],
)
def test_garbage_after_valid_records_is_dropped(tmp_path, caplog, garbage):
    path = tmp_path / "w.log"
    starts = write_log(path)
    with path.open("ab") as f:
        f.write(garbage)
    assert read_records(str(path))[:2] == (PAYLOADS, starts[-1])
    with caplog.at_level(logging.WARNING, logger="vectorstore.wal"):
        log = WriteAheadLog(str(path))
    assert len(torn_warnings(caplog)) == 1
    log.append(b"next")
    log.close()
    size = os.path.getsize(path)
    assert read_records(str(path)) == ([*PAYLOADS, b"next"], size, size)


def test_a_whole_log_of_garbage_is_dropped(tmp_path):
    path = tmp_path / "w.log"
    path.write_bytes(b"not a log at all")
    assert read_records(str(path)) == ([], 0, 16)


def test_damaged_length_cannot_hide_later_records(tmp_path):
    """A length field that points past the end of the file must not make the intact
    records after it look like part of a torn tail."""
    good = tmp_path / "good.log"
    starts = write_log(good)
    data = bytearray(good.read_bytes())
    data[starts[1] + 4 : starts[1] + 8] = struct.pack("<I", 10**6)
    path = tmp_path / "w.log"
    path.write_bytes(bytes(data))
    with pytest.raises(vs.StorageError):
        read_records(str(path))


def test_torn_record_containing_a_record_frame_is_dropped(tmp_path):
    inner = b"x"
    frame = one_record(tmp_path, inner)  # a complete, valid record
    payloads = [b"first", b"user data: " + frame + b" more user data"]
    path = tmp_path / "w.log"
    starts = write_log(path, payloads)
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # the process died while appending the last record
    assert read_records(str(path))[:2] == ([b"first"], starts[1])


# ------------------------------------------------------------ durability


class FsyncCounter:
    def __init__(self, monkeypatch):
        self.calls: list[str] = []
        self._lock = threading.Lock()
        real = os.fsync

        def fsync(fd):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                target = str(fd)
            with self._lock:
                self.calls.append(target)
            return real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    def of(self, path) -> int:
        with self._lock:
            return sum(c == str(path) for c in self.calls)


@pytest.mark.parametrize("mode", ["fsync", "batch", "none"])
def test_each_mode_appends_and_reads_back(tmp_path, mode):
    path = tmp_path / "w.log"
    log = WriteAheadLog(str(path), durability=mode, sync_interval_ms=5)
    for p in PAYLOADS:
        log.append(p)
    # visible to a reader (another process) before close, in every mode
    assert read_records(str(path))[0] == PAYLOADS
    log.close()
    log.close()  # idempotent
    log = WriteAheadLog(str(path), durability=mode)
    log.append(b"more")
    log.close()
    assert read_records(str(path))[0] == [*PAYLOADS, b"more"]


def test_unknown_mode(tmp_path):
    with pytest.raises(vs.ConfigError, match="durability"):
        WriteAheadLog(str(tmp_path / "w.log"), durability="sometimes")
    for uri in (tmp_path / "store", ":memory:"):
        with pytest.raises(vs.ConfigError, match="durability"):
            vs.connect(uri, durability="sometimes")
    with pytest.raises(vs.ConfigError, match="segment_rows"):
        vs.connect(":memory:", segment_rows=0)
    assert not (tmp_path / "store").exists()  # nothing was created


def test_fsync_mode_syncs_every_append(tmp_path, monkeypatch):
    path = tmp_path / "w.log"
    log = WriteAheadLog(str(path), durability="fsync")
    counter = FsyncCounter(monkeypatch)
    for i, p in enumerate(PAYLOADS, 1):
        log.append(p)
        assert counter.of(path) == i
    log.close()


def test_batch_mode_defers_fsync_to_sync_and_close(tmp_path, monkeypatch):
    path = tmp_path / "w.log"
    counter = FsyncCounter(monkeypatch)
    log = WriteAheadLog(str(path), durability="batch", sync_interval_ms=3_600_000)
    for p in PAYLOADS:
        log.append(p)
    assert counter.of(path) == 0  # appends do not fsync
    log.sync()
    assert counter.of(path) == 1
    log.sync()
    assert counter.of(path) == 1  # nothing new: no fsync
    log.append(b"x")
    log.close()  # close syncs what is pending
    assert counter.of(path) == 2
    assert read_records(str(path))[0] == [*PAYLOADS, b"x"]


def test_batch_mode_background_thread_syncs(tmp_path, monkeypatch):
    path = tmp_path / "w.log"
    counter = FsyncCounter(monkeypatch)
    log = WriteAheadLog(str(path), durability="batch", sync_interval_ms=10)
    try:
        log.append(b"a")
        deadline = time.monotonic() + 10  # a liveness bound, not a timing assertion
        while counter.of(path) == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert counter.of(path) >= 1, "the batch thread never synced"
        synced = counter.of(path)
        time.sleep(0.05)
        assert counter.of(path) == synced  # idle: no fsync without new writes
    finally:
        log.close()


def test_batch_mode_close_stops_the_thread(tmp_path):
    before = set(threading.enumerate())
    log = WriteAheadLog(str(tmp_path / "w.log"), durability="batch", sync_interval_ms=10)
    started = set(threading.enumerate()) - before
    assert len(started) == 1
    log.close()
    assert not any(t.is_alive() for t in started)


def test_none_mode_never_fsyncs_on_append(tmp_path, monkeypatch):
    path = tmp_path / "w.log"
    counter = FsyncCounter(monkeypatch)
    log = WriteAheadLog(str(path), durability="none")
    for p in PAYLOADS:
        log.append(p)
    assert counter.of(path) == 0
    log.close()


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "w.log"
    log = WriteAheadLog(str(path), durability="none")

    def writer(k: int) -> None:
        for i in range(200):
            log.append(f"{k}:{i}:".encode() * 50)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    payloads, end, size = read_records(str(path))
    assert end == size and len(payloads) == 800
    for k in range(4):
        mine = [p for p in payloads if p.startswith(f"{k}:".encode())]
        assert mine == [f"{k}:{i}:".encode() * 50 for i in range(200)]


def test_fsync_mode_makes_a_new_log_file_durable(tmp_path, monkeypatch):
    counter = FsyncCounter(monkeypatch)
    path = tmp_path / "w.log"
    log = WriteAheadLog(str(path), durability="fsync")
    log.append(b"acknowledged")
    try:
        assert counter.of(tmp_path) >= 1, "the directory holding the new log was not fsynced"
    finally:
        log.close()
