"""Files are data, never instructions: edited, lost or foreign files.

Each case edits a real store the way a damaged disk, a careless user or a
hostile sender would, then opens it: the result is a clear ``StorageError`` or
exactly the original data, never anything in between, and nothing outside the
store directory is touched.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vectorstore as vs
from vectorstore.storage.manifest import seal

ROWS = [{"id": i, "vector": [1.0, float(i)], "tag": f"t{i}"} for i in range(30)]


def make_store(path: Path) -> None:
    with vs.connect(str(path)) as db:
        col = db.create_collection("docs", dimension=2)
        col.create_partition("p")
        col.insert(ROWS[:20])
        col.delete(ids=[3])
        col.flush()
        col.insert(ROWS[20:], partition="p")  # in the log only


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text())


def write_manifest(path: Path, manifest: dict[str, Any], resign: bool) -> None:
    if resign:  # a consistent checksum: only the structural checks can catch it
        seal(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def original(path: Path) -> list[dict[str, Any]]:
    with vs.connect(str(path), read_only=True) as db:
        return sorted(db.get_collection("docs").query("", output_fields=["tag"]), key=str)


def entry(m: dict[str, Any]) -> dict[str, Any]:
    return m["collections"]["docs"]  # type: ignore[no-any-return]


EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "next_segment_id back to 1": lambda m: entry(m).update(next_segment_id=1),
    "next_segment_id a string": lambda m: entry(m).update(next_segment_id="2"),
    "wal generation moved on": lambda m: entry(m).update(wal=entry(m)["wal"] + 1),
    "wal missing": lambda m: entry(m).pop("wal"),
    "segments missing": lambda m: entry(m).pop("segments"),
    "segment entry missing": lambda m: entry(m)["segments"].clear(),
    "segment listed twice": lambda m: entry(m)["partitions"]["p"].extend(
        entry(m)["partitions"]["_default"]
    ),
    "segment rows negative": lambda m: next(iter(entry(m)["segments"].values())).update(rows=-1),
    "file name escapes": lambda m: next(iter(entry(m)["segments"].values()))["files"].update(
        {"../../outside.npy": 1}
    ),
    "collection name escapes": lambda m: m["collections"].update(
        {"../victim": m["collections"].pop("docs")}
    ),
    "partition name escapes": lambda m: entry(m)["partitions"].update(
        {"../x": entry(m)["partitions"].pop("p")}
    ),
    "folder escapes": lambda m: entry(m).update(folder="../victim"),
    "folder not a string": lambda m: entry(m).update(folder=7),
    "folder of another collection": lambda m: m["collections"].update(
        other={**copy.deepcopy(entry(m)), "folder": "docs"}
    ),
    "collections not an object": lambda m: m.update(collections=[]),
    "entry not an object": lambda m: m["collections"].update(docs="x"),
    "partition lists a string": lambda m: entry(m)["partitions"].update(p="1"),
    "vector dim changed": lambda m: entry(m)["schema"]["fields"][1].update(dim=8),
    "a field's type changed": lambda m: entry(m)["schema"]["fields"][0].update(dtype="INT8"),
}


@pytest.mark.parametrize("resign", [False, True], ids=["edited", "edited-and-resigned"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_manifest_is_refused_or_served_exactly(tmp_path, edit, resign):
    store = tmp_path / "store"
    make_store(store)
    before = original(store)
    outside = sorted(os.listdir(tmp_path))
    m = read_manifest(store)
    EDITS[edit](m)
    write_manifest(store, m, resign)
    for read_only in (True, False):
        try:
            with vs.connect(str(store), read_only=read_only) as db:
                rows = sorted(db.get_collection("docs").query("", output_fields=["tag"]), key=str)
        except vs.StorageError:
            continue
        assert rows == before, f"{edit}: served different data"
    assert sorted(os.listdir(tmp_path)) == outside  # nothing created or removed outside


def test_any_edit_fails_the_checksum(tmp_path):
    store = tmp_path / "store"
    make_store(store)
    m = read_manifest(store)
    entry(m)["schema"]["fields"][1]["dim"] = 3
    write_manifest(store, m, resign=False)
    with pytest.raises(vs.StorageError, match="checksum"):
        vs.connect(str(store), read_only=True)
    with pytest.raises(vs.StorageError, match="checksum"):
        vs.connect(str(store))


def test_a_manifest_without_checksum_still_opens(tmp_path):
    """Stores written before checksums existed."""
    store = tmp_path / "store"
    make_store(store)
    before = original(store)
    m = read_manifest(store)
    del m["checksum"]
    write_manifest(store, m, resign=False)
    assert original(store) == before


def test_a_missing_current_log_is_an_error_not_an_empty_log(tmp_path):
    store = tmp_path / "store"
    make_store(store)
    gen = entry(read_manifest(store))["wal"]
    os.remove(store / "docs" / f"wal.{gen:08d}.log")
    for read_only in (True, False):
        with (
            vs.connect(str(store), read_only=read_only) as db,
            pytest.raises(vs.StorageError, match="missing"),
        ):
            db.get_collection("docs")


def test_a_lost_manifest_is_not_an_empty_store(tmp_path):
    store = tmp_path / "store"
    make_store(store)
    os.remove(store / "manifest.json")
    for read_only in (False, True):
        with pytest.raises(vs.StorageError, match="manifest"):
            vs.connect(str(store), read_only=read_only)
    assert sorted(os.listdir(store / "docs"))  # the data is still there


def test_a_directory_with_unrelated_files_becomes_a_store(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"\xff")
    with vs.connect(str(tmp_path)) as db:
        db.create_collection("docs", dimension=2).insert(ROWS[:2])
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "photos" / "a.jpg").read_bytes() == b"\xff"


def test_create_collection_never_deletes_a_foreign_folder(tmp_path):
    store = tmp_path / "store"
    (store / "docs").mkdir(parents=True)
    (store / "docs" / "thesis.tex").write_text("years of work")
    with vs.connect(str(store)) as db:
        with pytest.raises(vs.StorageError, match=r"thesis\.tex"):
            db.create_collection("docs", dimension=2)
        assert not db.has_collection("docs")
        db.create_collection("other", dimension=2)  # the store still works
    assert (store / "docs" / "thesis.tex").read_text() == "years of work"


def test_leftovers_of_a_crashed_drop_are_cleared(tmp_path):
    store = tmp_path / "store"
    make_store(store)
    leftovers = sorted(os.listdir(store / "docs"))
    with vs.connect(str(store)) as db:
        db.drop_collection("docs")
    (store / "docs").mkdir()
    for name in leftovers:  # as if the drop died after the manifest, before the rmtree
        path = store / "docs" / name
        path.mkdir() if name.startswith("seg_") else path.write_bytes(b"junk")
    with vs.connect(str(store)) as db:
        col = db.create_collection("docs", dimension=2)
        assert col.count() == 0
        col.insert(ROWS[:3])
    with vs.connect(str(store)) as db:
        assert db.get_collection("docs").count() == 3


def test_creating_and_dropping_collections_while_others_checkpoint(tmp_path):
    """The manifest is shared: changing its collections must not race its writing."""
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        _churn_while_flushing(tmp_path)
    finally:
        sys.setswitchinterval(old_interval)


def _churn_while_flushing(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with vs.connect(str(tmp_path / "store")) as db:
        col = db.create_collection("busy", dimension=2)
        stop = threading.Event()

        def churn(worker: int) -> None:
            try:
                for i in range(150):
                    name = f"c{worker}_{i}"
                    db.create_collection(name, dimension=2)
                    db.drop_collection(name)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                stop.set()

        def flush() -> None:
            try:
                n = 0
                while not stop.is_set():
                    col.insert([{"id": n, "vector": [1.0, 0.0]}])
                    col.flush()
                    n += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=churn, args=(w,)) for w in range(2)]
        threads.append(threading.Thread(target=flush))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert db.list_collections() == ["busy"]
    with vs.connect(str(tmp_path / "store")) as db:
        assert db.list_collections() == ["busy"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sync_interval_ms": "x"}, "sync_interval_ms"),
        ({"sync_interval_ms": 0}, "sync_interval_ms"),
        ({"max_wal_bytes": "x"}, "max_wal_bytes"),
        ({"max_wal_bytes": -1}, "max_wal_bytes"),
    ],
)
def test_bad_options_fail_at_connect(tmp_path, options, match):
    with pytest.raises(vs.ConfigError, match=match):
        vs.connect(str(tmp_path / "store"), **options)
    assert not (tmp_path / "store" / "manifest.json").exists()


def test_a_path_that_is_a_file_or_has_a_nul_is_our_error(tmp_path):
    file = tmp_path / "hostname"
    file.write_text("box\n")
    with pytest.raises(vs.StorageError, match="hostname"):
        vs.connect(str(file))
    assert file.read_text() == "box\n"
    with pytest.raises(vs.ConfigError, match="NUL"):
        vs.connect(str(tmp_path / "a\0b"))


def test_a_failed_rename_leaves_one_name(tmp_path, monkeypatch):
    """A rename is one manifest write: when the disk refuses it, the old name
    keeps all its data, in memory and on disk."""
    store = tmp_path / "store"
    make_store(store)
    before = original(store)
    db = vs.connect(str(store))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("vectorstore.storage.store.write_json", refuse)
    with pytest.raises(vs.StorageError, match="No space left"):
        db.rename_collection("docs", "renamed")
    monkeypatch.undo()
    assert db.list_collections() == ["docs"]
    assert db.get_collection("docs").name == "docs"
    db.close()
    assert read_manifest(store)["collections"].keys() == {"docs"}
    assert original(store) == before
