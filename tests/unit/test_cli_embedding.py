"""``kestrel search --embedding``: text queries on a collection whose provider a
store's files may not rebuild (a base_url, a key variable), against a real
OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import fails, ok, run
from helpers.openai_server import FakeOpenAIServer

import vectorstore as vs
from vectorstore.embeddings import OpenAIEmbedding


def provider_spec(server: FakeOpenAIServer) -> dict[str, Any]:
    """The ``--embedding`` JSON config of an OpenAI provider on ``server``, its key in
    the environment variable LOCAL_KEY."""
    return {
        "name": "openai",
        "model": "local",
        "base_url": server.base_url,
        "api_key_env": "LOCAL_KEY",
        "dimension": 8,
    }


def provider(spec: dict[str, Any]) -> OpenAIEmbedding:
    """The provider ``spec`` configures."""
    return OpenAIEmbedding(**{k: v for k, v in spec.items() if k != "name"})


def test_search_passes_the_provider_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    path = tmp_path / "db"
    with FakeOpenAIServer(dim=8).running() as server:
        spec = provider_spec(server)
        with vs.connect(str(path)) as db:
            col = db.create_collection("notes", embedding=provider(spec))
            col.insert([{"id": i, "text": f"note {i}"} for i in range(4)])
        assert "base_url" in fails(run("search", path, "notes", "note 2"))
        before = len(server.requests)
        done = ok(run("search", path, "notes", "note 2", "--json", "--embedding", json.dumps(spec)))
        hits = json.loads(done.stdout)
        assert hits[0]["id"] == 2  # the server's vectors are a function of the text
        assert len(server.requests) == before + 1


def test_import_into_an_existing_collection_embeds_with_the_provider_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    path = tmp_path / "db"
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"id": i, "text": f"note {i}"}) + "\n" for i in (7, 8)))
    with FakeOpenAIServer(dim=8).running() as server:
        spec = provider_spec(server)
        with vs.connect(str(path)) as db:
            db.create_collection("notes", embedding=provider(spec))
        refused = fails(run("import", path, "notes", more))
        assert "base_url" in refused
        assert "pass the provider again with --embedding (its JSON config)" in refused
        before = len(server.requests)
        done = ok(run("import", path, "notes", more, "--embedding", json.dumps(spec)))
        assert "adding to existing collection 'notes' (0 rows)" in done.stderr
        assert len(server.requests) > before
    with vs.connect(str(path), read_only=True) as db:
        assert db.get_collection("notes").count() == 2
