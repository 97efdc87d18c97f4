"""``kestrel search --embedding``: text queries on a collection whose provider a
store's files may not rebuild (a base_url, a key variable), against a real
OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.openai_server import FakeOpenAIServer

import vectorstore as vs
from vectorstore.cli import cli
from vectorstore.embeddings import OpenAIEmbedding


def test_search_passes_the_provider_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    path = tmp_path / "db"
    with FakeOpenAIServer(dim=8).running() as server:
        spec = {
            "name": "openai",
            "model": "local",
            "base_url": server.base_url,
            "api_key_env": "LOCAL_KEY",
            "dimension": 8,
        }
        with vs.connect(str(path)) as db:
            col = db.create_collection("notes", embedding=OpenAIEmbedding(**spec_args(spec)))
            col.insert([{"id": i, "text": f"note {i}"} for i in range(4)])
        refused = CliRunner().invoke(cli, ["search", str(path), "notes", "note 2"])
        assert refused.exit_code == 1
        assert "base_url" in refused.output and "Traceback" not in refused.output
        before = len(server.requests)
        done = CliRunner().invoke(
            cli, ["search", str(path), "notes", "note 2", "--json", "--embedding", json.dumps(spec)]
        )
        assert done.exit_code == 0, done.output
        hits = json.loads(done.stdout)
        assert hits[0]["id"] == 2  # the server's vectors are a function of the text
        assert len(server.requests) == before + 1


def spec_args(spec: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in spec.items() if k != "name"}


def test_import_into_an_existing_collection_embeds_with_the_provider_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_KEY", "sk-local")
    path = tmp_path / "db"
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps({"id": i, "text": f"note {i}"}) + "\n" for i in (7, 8)))
    with FakeOpenAIServer(dim=8).running() as server:
        spec = {
            "name": "openai",
            "model": "local",
            "base_url": server.base_url,
            "api_key_env": "LOCAL_KEY",
            "dimension": 8,
        }
        with vs.connect(str(path)) as db:
            db.create_collection("notes", embedding=OpenAIEmbedding(**spec_args(spec)))
        refused = CliRunner().invoke(cli, ["import", str(path), "notes", str(more)])
        assert refused.exit_code == 1 and "base_url" in refused.stderr
        assert "pass the provider again with --embedding (its JSON config)" in refused.stderr
        before = len(server.requests)
        done = CliRunner().invoke(
            cli, ["import", str(path), "notes", str(more), "--embedding", json.dumps(spec)]
        )
        assert done.exit_code == 0, done.output
        assert "adding to existing collection 'notes' (0 rows)" in done.stderr
        assert len(server.requests) > before
    with vs.connect(str(path), read_only=True) as db:
        assert db.get_collection("notes").count() == 2
