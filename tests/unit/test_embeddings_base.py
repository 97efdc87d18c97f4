"""The provider contract: validation, the registry, require(), lazy imports, HashEmbedding."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import vectorstore as vs
from vectorstore import ConfigError, DataError, EmbeddingError, MissingDependencyError
from vectorstore.embeddings import (
    EmbeddingProvider,
    HashEmbedding,
    OpenAIEmbedding,
    SentenceTransformerEmbedding,
    available_providers,
    provider_from_config,
    register_provider,
    require,
)
from vectorstore.embeddings import base as embeddings_base

HEAVY = (
    "asyncio",  # (with ssl ~3 MB of RSS: only async callers need it)
    "ssl",
    "openai",
    "torch",
    "sentence_transformers",
    "transformers",
    "langchain_core",
    "llama_index",
    "httpx",
    "huggingface_hub",
)


class Scripted(EmbeddingProvider):
    """A provider whose hook returns whatever the test puts in ``output``."""

    name: ClassVar[str] = "scripted"

    def __init__(self, dim: int = 3, output: Any = None) -> None:
        self._dim = dim
        self.output = output
        self.threads: list[int] = []

    @property
    def dimension(self) -> int:
        return self._dim

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self._dim}

    def _embed_documents(self, texts: list[str]) -> Any:
        self.threads.append(threading.get_ident())
        if self.output is not None:
            return self.output
        return [[float(len(t)), 1.0, 2.0][: self._dim] for t in texts]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test are undone after it."""
    monkeypatch.setattr(embeddings_base, "_registry", dict(embeddings_base._registry))


# -- imports -----------------------------------------------------------------------


def test_importing_the_package_imports_no_optional_dependency() -> None:
    code = textwrap.dedent(
        f"""
        import sys
        import vectorstore
        import vectorstore.embeddings as e
        from vectorstore.embeddings import *
        e.HashEmbedding(8).embed_documents(["works without them"])
        e.available_providers()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_package_is_reachable_from_vectorstore() -> None:
    assert vs.embeddings.HashEmbedding is HashEmbedding


# -- shared validation ---------------------------------------------------------------


def test_outputs_are_float32_c_contiguous() -> None:
    fortran = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    out = Scripted(output=fortran).embed_documents(["a", "b"])
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, fortran)
    query = Scripted().embed_query("abcd")
    assert query.shape == (3,) and query.dtype == np.float32
    assert query.tolist() == [4.0, 1.0, 2.0]


def test_empty_input_gives_an_empty_matrix_without_calling_the_model() -> None:
    p = Scripted(dim=5)
    out = p.embed_documents([])
    assert out.shape == (0, 5) and out.dtype == np.float32
    assert asyncio.run(p.aembed_documents(())).shape == (0, 5)
    assert p.threads == []


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([[1.0, 2.0, 3.0]], "1 vectors for 2 texts"),
        ([[1.0, 2.0], [3.0, 4.0]], "dimension 2, expected 3"),
        ([[1.0, 2.0, 3.0], [1.0, float("nan"), 3.0]], r"NaN or infinity \(text #1\)"),
        ([[1.0, 2.0, 3.0], [1.0, float("inf"), 3.0]], "NaN or infinity"),
        ([[1.0, 2.0, 3.0], [1e300, 0.0, 0.0]], "NaN or infinity"),  # overflows float32
        ([[1.0, 2.0, 3.0], [1.0, 2.0]], "malformed"),
        ([["a", "b", "c"], ["d", "e", "f"]], "non-numeric"),
        ([1.0, 2.0], "shape"),
    ],
)
def test_bad_outputs_are_embedding_errors_naming_the_provider(output: Any, message: str) -> None:
    with pytest.raises(EmbeddingError, match="'scripted'") as info:
        Scripted(output=output).embed_documents(["a", "b"])
    assert info.match(message)


def test_bad_query_output_is_an_embedding_error() -> None:
    with pytest.raises(EmbeddingError, match="dimension 2, expected 3"):
        Scripted(output=[0.5, 0.5]).embed_query("q")
    with pytest.raises(EmbeddingError, match="malformed"):
        Scripted(output=[[0.5, 0.5, 0.5], [1.0]]).embed_query("q")
    with pytest.raises(EmbeddingError, match="2 vectors for 1 texts"):
        Scripted(output=[[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]]).embed_query("q")


def test_bad_inputs_are_data_errors() -> None:
    p = Scripted()
    with pytest.raises(DataError, match="single str"):
        p.embed_documents("abc")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="single bytes"):
        p.embed_documents(b"abc")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="text #2 is a int"):
        p.embed_documents(["a", "b", 3])  # type: ignore[list-item]
    with pytest.raises(DataError, match="NoneType"):
        p.embed_documents([None])  # type: ignore[list-item]
    with pytest.raises(DataError, match="sequence of strings"):
        p.embed_documents(42)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="takes a str"):
        p.embed_query(["a"])  # type: ignore[arg-type]
    with pytest.raises(DataError):
        asyncio.run(p.aembed_query(1))  # type: ignore[arg-type]
    assert p.threads == []
    assert p.embed_documents(iter(["ab", "c"])).shape == (2, 3)  # any iterable of str
    assert p.embed_documents(np.array(["ab", "c"])).shape == (2, 3)  # numpy str_ is a str


def test_default_async_runs_the_sync_path_in_a_worker_thread() -> None:
    p = Scripted()

    async def both() -> tuple[np.ndarray, np.ndarray, int]:
        return await p.aembed_documents(["ab"]), await p.aembed_query("abc"), threading.get_ident()

    documents, query, loop_thread = asyncio.run(both())
    assert documents.tolist() == [[2.0, 1.0, 2.0]] and query.tolist() == [3.0, 1.0, 2.0]
    assert len(p.threads) == 2 and loop_thread not in p.threads


def test_async_outputs_are_validated_too() -> None:
    with pytest.raises(EmbeddingError, match="1 vectors for 2 texts"):
        asyncio.run(Scripted(output=[[1.0, 2.0, 3.0]]).aembed_documents(["a", "b"]))


# -- registry ------------------------------------------------------------------------


def test_built_in_providers_are_registered() -> None:
    assert set(available_providers()) >= {
        "hash",
        "openai",
        "sentence-transformers",
        "langchain",
        "llama-index",
    }


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown embedding provider 'nope'") as info:
        provider_from_config({"name": "nope"})
    for name in available_providers():
        assert name in str(info.value)


@pytest.mark.parametrize("config", [{}, {"name": ""}, {"name": 3}, ["hash"]])
def test_config_without_a_name_is_refused(config: Any) -> None:
    with pytest.raises(ConfigError):
        provider_from_config(config)


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"'hash'.*dimensions"):
        provider_from_config({"name": "hash", "dimensions": 8})
    with pytest.raises(ConfigError, match="dimension must be an int"):
        provider_from_config({"name": "hash", "dimension": "8"})


@pytest.mark.usefixtures("registry")
def test_register_a_provider_class_and_rebuild_it() -> None:
    register_provider("scripted", Scripted)
    assert "scripted" in available_providers()
    p = Scripted(dim=2)
    rebuilt = provider_from_config(json.loads(json.dumps(p.config())))
    assert isinstance(rebuilt, Scripted) and rebuilt.dimension == 2
    with pytest.raises(ConfigError, match="already registered"):
        register_provider("scripted", Scripted)
    register_provider("scripted", lambda dim: HashEmbedding(dim), replace=True)
    assert isinstance(provider_from_config({"name": "scripted", "dim": 4}), HashEmbedding)
    with pytest.raises(ConfigError, match="bad options"):
        provider_from_config({"name": "scripted", "size": 4})


@pytest.mark.usefixtures("registry")
def test_register_checks_its_arguments() -> None:
    with pytest.raises(ConfigError):
        register_provider("", Scripted)
    with pytest.raises(ConfigError, match="not callable"):
        register_provider("x", 3)  # type: ignore[arg-type]
    register_provider("liar", lambda: "not a provider")  # type: ignore[arg-type, return-value]
    with pytest.raises(ConfigError, match="returned a str"):
        provider_from_config({"name": "liar"})


def test_hash_config_round_trips_through_json() -> None:
    p = HashEmbedding(dimension=32)
    config = json.loads(json.dumps(p.config()))
    assert config == {"name": "hash", "dimension": 32}
    rebuilt = provider_from_config(config)
    assert rebuilt.config() == p.config()
    np.testing.assert_array_equal(rebuilt.embed_query("same text"), p.embed_query("same text"))
    assert repr(p) == "HashEmbedding(dimension=32)"


# -- missing optional dependencies -----------------------------------------------------


def test_require_imports_or_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require("json", "openai") is json
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(MissingDependencyError) as info:
        require("openai", "openai")
    assert 'pip install "kestrel-vectorstore[openai]"' in str(info.value)
    assert isinstance(info.value, ImportError)


def test_missing_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)
    with pytest.raises(
        MissingDependencyError, match=r'pip install "kestrel-vectorstore\[openai\]"'
    ):
        OpenAIEmbedding(api_key="sk-x")
    with pytest.raises(MissingDependencyError, match="openai"):
        provider_from_config({"name": "openai", "api_key_env": None})


def test_missing_sentence_transformers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    line = r'pip install "kestrel-vectorstore\[sentence-transformers\]"'
    with pytest.raises(MissingDependencyError, match=line):
        SentenceTransformerEmbedding()
    with pytest.raises(MissingDependencyError, match=line):
        provider_from_config({"name": "sentence-transformers"})


def test_a_broken_dependency_says_what_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kestrel_probe_pkg.py").write_text("import kestrel_no_such_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingDependencyError) as info:
        require("kestrel_probe_pkg", "langchain")
    message = str(info.value)
    assert 'pip install "kestrel-vectorstore[langchain]"' in message
    assert "kestrel_no_such_module" in message


# -- HashEmbedding -------------------------------------------------------------------------


def test_hash_vectors_are_unit_length_and_similar_texts_are_closer() -> None:
    p = HashEmbedding(dimension=256)
    a, b, c = p.embed_documents(
        ["the cat sat on the mat", "a cat sat on a mat", "stock prices fell sharply today"]
    )
    np.testing.assert_allclose(np.linalg.norm([a, b, c], axis=1), 1.0, rtol=1e-6)
    assert float(a @ b) > float(a @ c)
    empty = p.embed_query("")
    assert np.linalg.norm(empty) == pytest.approx(1.0)
    np.testing.assert_array_equal(p.embed_query("Cat!"), p.embed_query("cat"))


def test_hash_vectors_are_the_same_in_another_process() -> None:
    here = HashEmbedding(dimension=16).embed_query("stable across processes").tolist()
    code = (
        "from vectorstore.embeddings import HashEmbedding;"
        "print(HashEmbedding(dimension=16).embed_query('stable across processes').tolist())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == here


@pytest.mark.parametrize("dimension", [0, -1, 2.5, True, "8"])
def test_hash_dimension_is_checked(dimension: Any) -> None:
    with pytest.raises(ConfigError):
        HashEmbedding(dimension=dimension)
