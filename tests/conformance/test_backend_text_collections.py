"""Text-in / text-out collections: quick setup with a provider, dedup, progress,
reopen, and an OpenAI-compatible server end to end (the key never on disk)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.openai_server import FakeOpenAIServer, Reply, server_vector

import vectorstore as vs
from vectorstore.embeddings import HashEmbedding, OpenAIEmbedding, provider_from_config
from vectorstore.errors import ConfigError, EmbeddingError, SchemaError
from vectorstore.storage.manifest import seal


class Counting(HashEmbedding):
    """HashEmbedding that records every text it embeds."""

    def __init__(self, dimension: int = 32) -> None:
        super().__init__(dimension)
        self.seen: list[str] = []

    def _embed_documents(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super()._embed_documents(texts)


def test_quick_setup_with_a_provider(stores: Any) -> None:
    db = stores.connect()
    col = db.create_collection("notes", embedding=HashEmbedding(32))
    assert [f.name for f in col.schema.fields] == ["id", "text", "vector"]
    assert col.schema["vector"].dim == 32 and col.schema.enable_dynamic_field
    col.insert(
        [
            {"id": 1, "text": "the cat sat on the mat", "topic": "pets"},
            {"id": 2, "text": "stock markets fell sharply", "topic": "money"},
        ]
    )
    [[hit]] = col.search(["a cat on a mat"], limit=1, output_fields=["text", "topic"])
    assert (hit.id, hit["topic"]) == (1, "pets")
    again = db.create_collection("notes", embedding=HashEmbedding(32))  # identical: the same
    assert again.count() == 2
    db = stores.reopen(db)
    col = db.get_collection("notes")
    assert col.search(["markets"], limit=1)[0][0].id == 2  # provider rebuilt from config
    with pytest.raises(SchemaError):
        db.create_collection("other", dimension=8, embedding=HashEmbedding(8), schema=col.schema)


def test_identical_texts_in_a_batch_are_embedded_once(db: vs.Client) -> None:
    provider = Counting()
    col = db.create_collection("notes", embedding=provider)
    rows = [{"id": i, "text": ["alpha", "beta", "alpha"][i % 3]} for i in range(30)]
    rows.append({"id": 99, "text": "gamma", "vector": np.ones(32)})  # brings its own vector
    col.insert(rows)
    assert sorted(provider.seen) == ["alpha", "beta"]
    got = {g["id"]: g["vector"] for g in col.get([0, 2, 99], output_fields=["vector"])}
    assert got[0] == got[2] and got[99] == [1.0] * 32


def test_progress_bar_when_asked(db: vs.Client, capsys: pytest.CaptureFixture[str]) -> None:
    col = db.create_collection("notes", embedding=HashEmbedding(16))
    col.insert([{"id": i, "text": f"note {i}"} for i in range(600)], progress=True)
    assert "embedding 'text'" in capsys.readouterr().err
    col.insert([{"id": 1000 + i, "text": f"more {i}"} for i in range(600)], progress=False)
    assert "embedding" not in capsys.readouterr().err
    assert col.count() == 1200


def test_a_provider_failure_leaves_the_collection_unchanged(db: vs.Client) -> None:
    with FakeOpenAIServer(dim=16).running() as server:
        fast = {"max_retries": 1, "backoff_base": 0.01, "backoff_max": 0.02}
        provider = OpenAIEmbedding(
            "local-model", base_url=server.base_url, api_key="sk-x", dimension=16, **fast
        )
        col = db.create_collection("notes", embedding=provider)
        col.insert([{"id": 1, "text": "kept"}])
        server.then(*[Reply(status=500)] * 5)
        with pytest.raises(EmbeddingError):
            col.insert([{"id": 2, "text": "lost"}, {"id": 3, "text": "lost too"}])
        assert col.count() == 1 and col.get([2, 3]) == []


def test_openai_store_never_holds_the_key_and_reopens_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-kestrel-test-9f8e7d6c5b4a"
    monkeypatch.setenv("KESTREL_TEST_KEY", secret)
    path = tmp_path / "store"
    with FakeOpenAIServer(dim=16).running() as server:
        provider = OpenAIEmbedding(
            "local-model", base_url=server.base_url, api_key_env="KESTREL_TEST_KEY", dimension=16
        )
        with vs.connect(str(path)) as db:
            col = db.create_collection("notes", embedding=provider)
            col.insert([{"id": i, "text": f"fact number {i}"} for i in range(5)])
            col.flush()
            col.insert([{"id": 9, "text": "only in the log"}])
        assert server.requests[-1].headers.get("authorization") == f"Bearer {secret}"
        for root, _, files in os.walk(path):
            for name in files:
                assert secret.encode() not in (Path(root) / name).read_bytes(), name
        with vs.connect(str(path)) as db:
            # a stored config may not pick the host or the key variable: pass the provider
            col = db.get_collection("notes")
            with pytest.raises(ConfigError, match="base_url"):
                col.search(["fact number 3"], limit=1)
            col = db.get_collection("notes", embedding=provider)
            [[hit]] = col.search(["fact number 3"], limit=1)
            assert hit.id == 3
            stored = col.get([3], output_fields=["vector"])[0]["vector"]
            assert np.allclose(stored, server_vector("fact number 3", 16), atol=1e-6)
        monkeypatch.delenv("KESTREL_TEST_KEY")
        with vs.connect(str(path)) as db:
            assert db.get_collection("notes").count() == 6  # the data opens without the key ...
            with pytest.raises(ConfigError, match="KESTREL_TEST_KEY"):  # ... the provider says
                OpenAIEmbedding(
                    "local-model",
                    base_url=server.base_url,
                    api_key_env="KESTREL_TEST_KEY",
                    dimension=16,
                )


def test_an_edited_store_cannot_send_a_secret_to_another_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store is data: a manifest pointing the provider at another server, with
    another variable as its key, must not make a reader send that secret there."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ordinary")
    monkeypatch.setenv("VICTIM_SECRET", "sk-victim-7a6b5c")
    path = tmp_path / "store"
    with vs.connect(str(path)) as db:
        db.create_collection(
            "notes", embedding=OpenAIEmbedding("text-embedding-3-small", dimension=16)
        )
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    with FakeOpenAIServer(dim=16).running() as attacker:
        fn = manifest["collections"]["notes"]["schema"]["functions"][0]
        fn["provider"].update(base_url=attacker.base_url, api_key_env="VICTIM_SECRET")
        manifest_path.write_text(json.dumps(seal(manifest)))  # even with a valid checksum
        for read_only in (True, False):
            with vs.connect(str(path), read_only=read_only) as db:
                col = db.get_collection("notes")
                with pytest.raises(ConfigError, match="may not choose where requests go"):
                    col.search(["where is the secret"], limit=1)
        assert attacker.requests == []
    stored = {"name": "sentence-transformers", "model": "m", "trust_remote_code": True}
    with pytest.raises(ConfigError, match="trust_remote_code"):
        provider_from_config(stored, stored=True)
